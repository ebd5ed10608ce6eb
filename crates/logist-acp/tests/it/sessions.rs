//! Sessions and turns on the mock: streaming, permissions, tools, memory,
//! cancel, load and resume, authentication.

use std::time::Duration;

use logist_acp::{
    AcpError, AcpEvent, Answer, Limit, PermissionPolicy, StopReason, Stopped, ToolKind,
};
use logist_core::{ExitStatus, Runtime};
use logist_mock::{
    ACP_AUTH_METHOD, ACP_MEMORY_PREFIX, ACP_MODE_ASK, ACP_MODE_AUTO, ACP_REPLY_PREFIX,
};

use crate::{assert_gone, config, policy, runtime, session, start, turn};

#[test]
fn a_reply_streams_in_chunks_and_ends_the_turn() {
    let runtime = runtime();
    let mut client = start(&runtime, &[], policy(Answer::Reject), config());
    assert_eq!(client.agent().name.as_deref(), Some("logist-mock-agent"));
    let dir = tempfile::tempdir().unwrap();
    let id = session(&mut client, dir.path());
    let turn = turn(&mut client, &id, "hello there");
    assert_eq!(turn.result.as_ref().unwrap(), &StopReason::EndTurn);
    assert_eq!(turn.text(), format!("{ACP_REPLY_PREFIX}hello there"));
    assert_eq!(turn.kinds().len(), 3, "three chunks");
    assert_eq!(client.shutdown().unwrap(), ExitStatus::Code(0));
}

#[test]
fn several_turns_in_one_process_remember_earlier_ones() {
    let runtime = runtime();
    let mut client = start(&runtime, &[], policy(Answer::Reject), config());
    let dir = tempfile::tempdir().unwrap();
    let id = session(&mut client, dir.path());
    turn(&mut client, &id, "first").result.unwrap();
    turn(&mut client, &id, "second").result.unwrap();
    let third = turn(&mut client, &id, "third");
    assert_eq!(third.result.as_ref().unwrap(), &StopReason::EndTurn);
    assert!(
        third
            .text()
            .ends_with(&format!("{ACP_MEMORY_PREFIX}first | second")),
        "{}",
        third.text()
    );
}

#[test]
fn an_allowed_write_writes_the_file() {
    let runtime = runtime();
    let mut client = start(&runtime, &[], policy(Answer::AllowOnce), config());
    let dir = tempfile::tempdir().unwrap();
    let id = session(&mut client, dir.path());
    let turn = turn(&mut client, &id, "write a.txt hello file");
    assert_eq!(turn.result.as_ref().unwrap(), &StopReason::EndTurn);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "hello file"
    );
    let permission = turn.events.iter().find_map(|event| match event {
        AcpEvent::Permission {
            request,
            answer,
            chosen,
        } => Some((request, answer, chosen)),
        _ => None,
    });
    let (request, answer, chosen) = permission.expect("a permission event");
    assert_eq!(request.kind, ToolKind::Edit);
    assert_eq!(*answer, Answer::AllowOnce);
    assert_eq!(chosen.as_ref().map(|o| o.kind.as_str()), Some("allow_once"));
    assert_eq!(
        turn.kinds(),
        ["tool_call", "tool_call_update", "agent_message_chunk"]
    );
    let kinds: Vec<&str> = turn
        .events
        .iter()
        .flat_map(AcpEvent::to_events)
        .map(|event| event.kind())
        .collect();
    assert_eq!(
        kinds,
        [
            "tool_call",
            "permission",
            "permission_decision",
            "tool_call",
            "tool_result",
            "message"
        ]
    );
}

#[test]
fn a_denied_write_writes_nothing_and_the_turn_ends_cleanly() {
    let runtime = runtime();
    let denied = PermissionPolicy::new(Answer::AllowOnce).kind(ToolKind::Edit, Answer::Reject);
    let mut client = start(&runtime, &[], denied, config());
    let dir = tempfile::tempdir().unwrap();
    let id = session(&mut client, dir.path());
    let turn = turn(&mut client, &id, "write a.txt hello file");
    assert_eq!(turn.result.as_ref().unwrap(), &StopReason::EndTurn);
    assert!(!dir.path().join("a.txt").exists());
    assert!(turn.text().contains("permission denied"), "{}", turn.text());
    assert_eq!(client.shutdown().unwrap(), ExitStatus::Code(0));
}

#[test]
fn a_callback_decides_and_wait_stops_the_turn() {
    let runtime = runtime();
    let asked = PermissionPolicy::new(Answer::AllowOnce).callback(|_| Answer::Wait);
    let mut client = start(&runtime, &[], asked, config());
    let dir = tempfile::tempdir().unwrap();
    let id = session(&mut client, dir.path());
    let turn = turn(&mut client, &id, "write b.txt x");
    let Err(AcpError::PermissionPending { request }) = turn.result else {
        panic!("expected a pending permission, got {:?}", turn.result);
    };
    assert_eq!(request.title.as_deref(), Some("Write b.txt"));
    drop(client);
    assert!(!dir.path().join("b.txt").exists());
}

#[test]
fn a_failing_tool_call_is_reported_as_failed() {
    let runtime = runtime();
    let mut client = start(&runtime, &[], policy(Answer::Reject), config());
    let id = session(&mut client, std::path::Path::new("/"));
    let turn = turn(&mut client, &id, "fail");
    assert_eq!(turn.result.as_ref().unwrap(), &StopReason::EndTurn);
    let failed = turn.events.iter().any(|event| {
        matches!(event,
        AcpEvent::Update { update, .. }
            if update.kind == "tool_call_update" && update.update["status"] == "failed")
    });
    assert!(failed);
}

#[test]
fn cancelling_mid_turn_ends_it_as_cancelled_and_the_session_goes_on() {
    let runtime = runtime();
    let mut client = start(&runtime, &[], policy(Answer::Reject), config());
    let id = session(&mut client, std::path::Path::new("/"));
    let canceller = client.canceller(&id);
    let mut events = Vec::new();
    let result = client.prompt(&id, "wait", |event| {
        if matches!(event, AcpEvent::Update { .. }) {
            assert!(canceller.cancel());
        }
        events.push(event);
    });
    assert_eq!(result.unwrap(), StopReason::Cancelled);
    assert!(events.contains(&AcpEvent::Cancelling { limit: None }));
    assert_eq!(
        turn(&mut client, &id, "again").result.unwrap(),
        StopReason::EndTurn
    );
}

#[test]
fn inactivity_cancels_an_agent_that_honours_cancel() {
    let runtime = runtime();
    let quick = config().inactivity(Duration::from_millis(300));
    let mut client = start(&runtime, &[], policy(Answer::Reject), quick);
    let id = session(&mut client, std::path::Path::new("/"));
    let turn = turn(&mut client, &id, "wait");
    match turn.result {
        Err(AcpError::Timeout {
            limit: Limit::Inactivity(_),
            stopped: Stopped::Cancelled,
            ..
        }) => {}
        other => panic!("expected an inactivity timeout, got {other:?}"),
    }
    assert!(
        runtime.is_alive(client.process_id()).unwrap(),
        "cancelled, not killed"
    );
}

#[test]
fn a_prompt_that_never_answers_is_cancelled_then_terminated() {
    let runtime = runtime();
    let quick = config()
        .inactivity(Duration::from_millis(300))
        .cancel_grace(Duration::from_millis(300));
    let mut client = start(&runtime, &[], policy(Answer::Reject), quick);
    let id = session(&mut client, std::path::Path::new("/"));
    let turn = turn(&mut client, &id, "silent");
    match turn.result {
        Err(AcpError::Timeout {
            stopped: Stopped::Terminated,
            ..
        }) => {}
        other => panic!("expected termination, got {other:?}"),
    }
    assert_gone(&runtime, &client);
}

#[test]
fn the_hard_cap_stops_a_busy_turn() {
    let runtime = runtime();
    let capped = config()
        .turn_cap(Some(Duration::from_millis(400)))
        .cancel_grace(Duration::from_millis(300));
    let mut client = start(&runtime, &[], policy(Answer::Reject), capped);
    let id = session(&mut client, std::path::Path::new("/"));
    let turn = turn(&mut client, &id, "stamp 100000 5");
    match turn.result {
        Err(AcpError::Timeout {
            limit: Limit::Total(_),
            stopped: Stopped::Terminated,
            ..
        }) => {}
        other => panic!("expected the cap, got {other:?}"),
    }
    assert!(turn.events.len() > 2, "updates flowed before the cap");
    assert_gone(&runtime, &client);
}

#[test]
fn authentication_required_is_its_own_error_and_authenticate_clears_it() {
    let runtime = runtime();
    let mut client = start(&runtime, &["--auth"], policy(Answer::Reject), config());
    assert_eq!(client.agent().auth_methods, [ACP_AUTH_METHOD]);
    let err = client.new_session(std::path::Path::new("/")).unwrap_err();
    assert!(matches!(err, AcpError::AuthRequired { .. }), "{err:?}");
    client.authenticate(ACP_AUTH_METHOD).unwrap();
    client.new_session(std::path::Path::new("/")).unwrap();
}

#[test]
fn a_session_is_loaded_with_its_history_in_a_new_process() {
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_str().unwrap();
    let runtime = runtime();
    let mut first = start(
        &runtime,
        &["--state", state_arg],
        policy(Answer::Reject),
        config(),
    );
    let id = session(&mut first, std::path::Path::new("/"));
    turn(&mut first, &id, "remember the blue door")
        .result
        .unwrap();
    first.shutdown().unwrap();

    let mut second = start(
        &runtime,
        &["--state", state_arg],
        policy(Answer::Reject),
        config(),
    );
    assert!(second.agent().load_session);
    let mut history = Vec::new();
    second
        .load_session(&id, std::path::Path::new("/"), |event| history.push(event))
        .unwrap();
    assert!(
        history
            .iter()
            .all(|e| matches!(e, AcpEvent::Update { history: true, .. }))
    );
    assert_eq!(history.len(), 2, "the prompt and the reply");
    let next = turn(&mut second, &id, "what did I say?");
    assert!(
        next.text().contains("remember the blue door"),
        "{}",
        next.text()
    );

    let mut third = start(
        &runtime,
        &["--state", state_arg],
        policy(Answer::Reject),
        config(),
    );
    third
        .continue_session(&id, std::path::Path::new("/"), |_| {})
        .unwrap();
    let next = turn(&mut third, &id, "and now?");
    assert!(next.text().contains("what did I say?"), "{}", next.text());
}

#[test]
fn an_unknown_session_is_refused() {
    let runtime = runtime();
    let mut client = start(&runtime, &[], policy(Answer::Reject), config());
    let err = client
        .load_session("mock-nope", std::path::Path::new("/"), |_| {})
        .unwrap_err();
    assert!(
        matches!(err, AcpError::Refused { ref source, .. } if source.code == logist_acp::RESOURCE_NOT_FOUND),
        "{err:?}"
    );
}

#[test]
fn the_cancel_answer_cancels_the_turn_at_a_permission_request() {
    let runtime = runtime();
    let mut client = start(&runtime, &[], policy(Answer::Cancel), config());
    let dir = tempfile::tempdir().unwrap();
    let id = session(&mut client, dir.path());
    let cancelled = turn(&mut client, &id, "write c.txt x");
    assert_eq!(cancelled.result.as_ref().unwrap(), &StopReason::Cancelled);
    assert!(!dir.path().join("c.txt").exists());
    assert!(
        cancelled
            .events
            .contains(&AcpEvent::Cancelling { limit: None })
    );
    let chosen = cancelled.events.iter().find_map(|event| match event {
        AcpEvent::Permission { answer, chosen, .. } => Some((*answer, chosen.clone())),
        _ => None,
    });
    assert_eq!(chosen, Some((Answer::Cancel, None)), "answered cancelled");
    assert_eq!(
        turn(&mut client, &id, "again").result.unwrap(),
        StopReason::EndTurn
    );
}

#[test]
fn without_a_session_mode_no_mode_is_set_and_the_write_asks() {
    let runtime = runtime();
    let mut client = start(&runtime, &[], policy(Answer::Reject), config());
    let dir = tempfile::tempdir().unwrap();
    let id = session(&mut client, dir.path());
    let modes = client.session_modes().expect("the mock lists its modes");
    assert_eq!(modes.current, ACP_MODE_ASK);
    assert_eq!(modes.available, [ACP_MODE_ASK, ACP_MODE_AUTO]);
    let turn = turn(&mut client, &id, "write a.txt refused");
    assert_eq!(turn.result.as_ref().unwrap(), &StopReason::EndTurn);
    assert!(
        turn.events
            .iter()
            .any(|e| matches!(e, AcpEvent::Permission { .. }))
    );
    assert!(!dir.path().join("a.txt").exists());
}

#[test]
fn a_configured_session_mode_is_set_on_each_session_opened() {
    let runtime = runtime();
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_str().unwrap();
    let mut client = start(
        &runtime,
        &["--state", state_arg],
        policy(Answer::Reject),
        config().session_mode(ACP_MODE_AUTO),
    );
    let dir = tempfile::tempdir().unwrap();
    let id = session(&mut client, dir.path());
    assert_eq!(client.session_modes().unwrap().current, ACP_MODE_AUTO);
    // In the mock's auto mode the write needs no permission: the policy,
    // which rejects everything, is never asked.
    let first = turn(&mut client, &id, "write a.txt no question");
    assert_eq!(first.result.as_ref().unwrap(), &StopReason::EndTurn);
    assert!(
        !first
            .events
            .iter()
            .any(|e| matches!(e, AcpEvent::Permission { .. }))
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "no question"
    );
    client.shutdown().unwrap();

    // A session continued in a new process starts in the agent's default
    // mode again; the client switches it too.
    let mut second = start(
        &runtime,
        &["--state", state_arg],
        policy(Answer::Reject),
        config().session_mode(ACP_MODE_AUTO),
    );
    second.continue_session(&id, dir.path(), |_| {}).unwrap();
    assert_eq!(second.session_modes().unwrap().current, ACP_MODE_AUTO);
    let next = turn(&mut second, &id, "write b.txt again");
    assert_eq!(next.result.as_ref().unwrap(), &StopReason::EndTurn);
    assert!(dir.path().join("b.txt").exists());
}

#[test]
fn an_unknown_session_mode_names_the_modes_offered() {
    let runtime = runtime();
    let mut client = start(
        &runtime,
        &[],
        policy(Answer::Reject),
        config().session_mode("yolo"),
    );
    let err = client.new_session(std::path::Path::new("/")).unwrap_err();
    match &err {
        AcpError::UnknownMode { mode, available } => {
            assert_eq!(mode, "yolo");
            assert_eq!(available, &[ACP_MODE_ASK, ACP_MODE_AUTO]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "the agent offers no session mode `yolo` (it offers ask, auto)"
    );
}

#[test]
fn set_session_mode_switches_and_checks_the_mode() {
    let runtime = runtime();
    let mut client = start(&runtime, &[], policy(Answer::Reject), config());
    let dir = tempfile::tempdir().unwrap();
    let id = session(&mut client, dir.path());
    let err = client.set_session_mode(&id, "plan").unwrap_err();
    assert!(matches!(err, AcpError::UnknownMode { .. }), "{err:?}");
    // Nothing was sent for the unknown mode: the session still asks.
    assert_eq!(client.session_modes().unwrap().current, ACP_MODE_ASK);
    client.set_session_mode(&id, ACP_MODE_AUTO).unwrap();
    assert_eq!(client.session_modes().unwrap().current, ACP_MODE_AUTO);
    turn(&mut client, &id, "write c.txt switched")
        .result
        .unwrap();
    assert!(dir.path().join("c.txt").exists());
}

#[test]
fn updates_sent_outside_a_turn_reach_the_next_turn_first() {
    // The mock tells the new mode (`current_mode_update`) while it answers
    // `session/set_mode`, which the client sends as the session opens: no
    // turn is running, so the update is held for the first one.
    let runtime = runtime();
    let mut client = start(
        &runtime,
        &[],
        policy(Answer::Reject),
        config().session_mode(ACP_MODE_AUTO),
    );
    let dir = tempfile::tempdir().unwrap();
    let id = session(&mut client, dir.path());
    let first = turn(&mut client, &id, "hello");
    assert_eq!(first.result.as_ref().unwrap(), &StopReason::EndTurn);
    match first.events.first() {
        Some(AcpEvent::Update { update, history }) => {
            assert_eq!(update.kind, "current_mode_update");
            assert_eq!(update.update["currentModeId"], ACP_MODE_AUTO);
            assert!(!history);
        }
        other => panic!("the held update comes first: {other:?}"),
    }
    // Given once: the next turn starts with its own events.
    let second = turn(&mut client, &id, "again");
    assert!(!second.events.iter().any(
        |e| matches!(e, AcpEvent::Update { update, .. } if update.kind == "current_mode_update")
    ));
    // Without a turn, a caller takes them itself.
    client.set_session_mode(&id, ACP_MODE_ASK).unwrap();
    let held = client.take_events();
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(client.take_events().is_empty());
}
