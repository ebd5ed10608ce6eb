//! Hostile streams: noise, garbage, huge lines, floods, crashes. Each gives
//! events or typed errors, bounded memory, no panic and no hang, and the
//! runtime still holds the output.

use logist_acp::{AcpError, AcpEvent, Answer, StopReason};
use logist_core::{ExitStatus, Runtime};
use logist_mock::ACP_NOISE;

use crate::{config, policy, runtime, session, start, turn};

#[test]
fn noise_on_stdout_is_reported_not_fatal() {
    let runtime = runtime();
    let mut client = start(&runtime, &[], policy(Answer::Reject), config());
    let id = session(&mut client, std::path::Path::new("/"));
    let turn = turn(&mut client, &id, "noise");
    assert_eq!(turn.result.as_ref().unwrap(), &StopReason::EndTurn);
    assert!(turn.events.contains(&AcpEvent::Noise {
        line: ACP_NOISE.as_bytes().to_vec(),
        reason: "not JSON",
    }));
    assert_eq!(turn.text(), "before noiseafter noise");
}

#[test]
fn garbage_ids_truncated_json_and_invalid_utf8_are_events() {
    let runtime = runtime();
    let mut client = start(&runtime, &[], policy(Answer::Reject), config());
    let id = session(&mut client, std::path::Path::new("/"));
    let turn = turn(&mut client, &id, "garbage");
    assert_eq!(turn.result.as_ref().unwrap(), &StopReason::EndTurn);
    let unexpected = turn
        .events
        .iter()
        .filter(|e| matches!(e, AcpEvent::UnexpectedResponse { .. }))
        .count();
    assert_eq!(unexpected, 2, "a response never asked for, twice");
    let noise: Vec<&str> = turn
        .events
        .iter()
        .filter_map(|e| match e {
            AcpEvent::Noise { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(noise, ["not JSON", "not JSON", "not a JSON object"]);
    assert_eq!(turn.text(), "after garbage");
}

#[test]
fn an_unknown_request_gets_method_not_found() {
    let runtime = runtime();
    let mut client = start(&runtime, &[], policy(Answer::Reject), config());
    let id = session(&mut client, std::path::Path::new("/"));
    let turn = turn(&mut client, &id, "ask");
    assert_eq!(turn.result.as_ref().unwrap(), &StopReason::EndTurn);
    assert_eq!(turn.text(), "client answered -32601");
    assert!(turn.events.contains(&AcpEvent::UnknownRequest {
        method: "fs/read_text_file".into()
    }));
}

#[test]
fn a_100_mib_line_is_discarded_after_its_head_and_the_session_goes_on() {
    let runtime = runtime();
    let mut client = start(
        &runtime,
        &[],
        policy(Answer::Reject),
        config().line_limit(64 << 10),
    );
    let id = session(&mut client, std::path::Path::new("/"));
    let big = turn(&mut client, &id, "big 100M");
    assert_eq!(big.result.as_ref().unwrap(), &StopReason::EndTurn);
    let oversized = big.events.iter().find_map(|e| match e {
        AcpEvent::Oversized { head, len } => Some((head.len(), *len)),
        _ => None,
    });
    let (head_len, len) = oversized.expect("an oversized event");
    assert_eq!(head_len, 64 << 10);
    assert!(len > 100 << 20, "{len}");
    assert_eq!(
        turn(&mut client, &id, "after").result.unwrap(),
        StopReason::EndTurn
    );
}

#[test]
fn a_flood_of_updates_arrives_whole_and_in_order() {
    let runtime = runtime();
    let mut client = start(&runtime, &[], policy(Answer::Reject), config());
    let id = session(&mut client, std::path::Path::new("/"));
    let flood = turn(&mut client, &id, "flood 50000");
    assert_eq!(flood.result.as_ref().unwrap(), &StopReason::EndTurn);
    let expected: String = (0..50000).map(|n| format!("{n} ")).collect();
    assert!(
        flood.text() == expected,
        "the flood arrived incomplete or out of order"
    );
}

#[test]
fn an_agent_that_exits_mid_message_is_a_typed_error_and_its_bytes_stay_readable() {
    let runtime = runtime();
    let mut client = start(&runtime, &[], policy(Answer::Reject), config());
    let id = session(&mut client, std::path::Path::new("/"));
    let crash = turn(&mut client, &id, "crash");
    match crash.result {
        Err(AcpError::AgentExited {
            status: Some(ExitStatus::Code(3)),
            ..
        }) => {}
        other => panic!("expected the exit, got {other:?}"),
    }
    assert!(crash.events.iter().any(|e| matches!(
        e,
        AcpEvent::Noise {
            reason: "unterminated line at the end of the output",
            ..
        }
    )));
    let logs = runtime.get_logs(client.process_id(), None).unwrap();
    assert!(
        logs.text()
            .ends_with(r#"{"jsonrpc":"2.0","method":"session/upd"#)
    );
    let again = client.prompt(&id, "hello", |_| {});
    assert!(
        matches!(again, Err(AcpError::AgentExited { .. })),
        "{again:?}"
    );
}

#[test]
fn a_program_that_is_no_acp_agent_times_out_at_initialize() {
    let runtime = runtime();
    let cmd = logist_core::CommandLine::new(["sleep", "60"]).unwrap();
    let quick = config().request_timeout(std::time::Duration::from_millis(300));
    let dyn_runtime: std::sync::Arc<dyn Runtime> = runtime.clone();
    let err = logist_acp::AcpClient::start(
        dyn_runtime,
        logist_core::SpawnRequest::new(cmd),
        policy(Answer::Reject),
        quick,
    )
    .unwrap_err();
    assert!(matches!(err, AcpError::Timeout { .. }), "{err:?}");
}

#[test]
fn a_program_that_exits_at_once_is_a_typed_error() {
    let runtime = runtime();
    let cmd = logist_core::CommandLine::new(["sh", "-c", "echo not acp; exit 7"]).unwrap();
    let dyn_runtime: std::sync::Arc<dyn Runtime> = runtime.clone();
    let err = logist_acp::AcpClient::start(
        dyn_runtime,
        logist_core::SpawnRequest::new(cmd),
        policy(Answer::Reject),
        config(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            AcpError::AgentExited {
                status: Some(ExitStatus::Code(7)),
                ..
            }
        ),
        "{err:?}"
    );
}
