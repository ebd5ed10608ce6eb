//! Output, input and exit status of single runs.

use std::fs;
use std::time::Duration;

use logist_core::ExitStatus;
use logist_monitor::{Client, ClientError, Event, Ownership, RunState, StartError, StateError};

use crate::{DEADLINE, Fixture, checksum, log_by_channel, spec};

#[test]
fn every_byte_of_both_streams_reaches_the_log_in_order() {
    let mut fx = Fixture::new();
    // 3 MiB of varied bytes (every value, no newline structure).
    let data: Vec<u8> = (0..3u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let file = fx.path("data");
    fs::write(&file, &data).unwrap();
    let script = format!(
        "cat '{0}' & cat '{0}' >&2; wait; printf 'end> '",
        file.display()
    );
    let run = fx.start(&spec(&["sh", "-c", &script], Ownership::Durable));
    let exit = logist_monitor::wait(&run, Some(DEADLINE)).unwrap();
    assert_eq!(exit.status, ExitStatus::Code(0));
    assert!(!exit.output_leaked);
    assert_eq!(exit.log_lost_bytes, 0);
    let (out, err, pty) = log_by_channel(&run);
    assert!(pty.is_empty());
    let mut expected_out = data.clone();
    expected_out.extend_from_slice(b"end> ");
    assert_eq!(checksum(&err), checksum(&data), "stderr checksum");
    assert_eq!(checksum(&out), checksum(&expected_out), "stdout checksum");
    assert_eq!(exit.log_end, (2 * data.len() + 5) as u64);
    // Rotated into several segments, and readable from any offset.
    assert!(run.log().segments().unwrap().len() > 10);
    // (The two pipes are read in whatever order they fill, so the log's
    // last bytes may be either stream's.)
    let mut whole = Vec::new();
    let mut reader = run.log();
    for chunk in reader.read(0, usize::MAX).unwrap() {
        whole.extend_from_slice(&chunk.bytes);
    }
    let mut reader = run.log();
    let from = exit.log_end - 2;
    let tail = reader.read(from, 100).unwrap();
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0].offset, from);
    assert_eq!(tail[0].bytes, whole[whole.len() - 2..]);
}

#[test]
fn a_prompt_without_newline_is_seen_live_and_answered() {
    let mut fx = Fixture::new();
    let mut spec = spec(
        &[
            "sh",
            "-c",
            "printf 'Password: '; read x; echo \"got $x\"; exit 3",
        ],
        Ownership::Durable,
    );
    spec.stdin_piped = true;
    let run = fx.start(&spec);
    let mut subscription = Client::connect(&run).unwrap().subscribe(0).unwrap();
    let mut seen = Vec::new();
    while seen != b"Password: " {
        match subscription.next(Some(DEADLINE)).unwrap() {
            Some(Event::Output(chunk)) => seen.extend_from_slice(&chunk.bytes),
            other => panic!("unexpected {other:?}"),
        }
    }
    let mut client = Client::connect(&run).unwrap();
    client.write_stdin(b"s3cret\n").unwrap();
    let mut exited = None;
    while exited.is_none() {
        match subscription.next(Some(DEADLINE)).unwrap() {
            Some(Event::Output(chunk)) => seen.extend_from_slice(&chunk.bytes),
            Some(Event::Exited { status, log_end }) => exited = Some((status, log_end)),
            None => panic!("connection closed before the exit"),
        }
    }
    assert_eq!(seen, b"Password: got s3cret\n");
    assert_eq!(exited, Some((ExitStatus::Code(3), seen.len() as u64)));
    assert!(
        matches!(run.state().unwrap(), RunState::Exited(record) if record.status == ExitStatus::Code(3))
    );
}

#[test]
fn exit_codes_and_signals_are_kept_apart() {
    let mut fx = Fixture::new();
    let cases: [(&str, ExitStatus); 5] = [
        ("exit 0", ExitStatus::Code(0)),
        ("exit 137", ExitStatus::Code(137)),
        ("exit 255", ExitStatus::Code(255)),
        ("kill -KILL $$", ExitStatus::Signal(9)),
        ("kill -TERM $$", ExitStatus::Signal(15)),
    ];
    let runs: Vec<_> = cases
        .iter()
        .map(|(script, _)| fx.start(&spec(&["sh", "-c", script], Ownership::Durable)))
        .collect();
    for (run, (script, expected)) in runs.iter().zip(cases) {
        let exit = logist_monitor::wait(run, Some(DEADLINE)).unwrap();
        assert_eq!(exit.status, expected, "{script}");
        let raw_expected = match expected {
            ExitStatus::Code(code) => code << 8,
            ExitStatus::Signal(signal) => signal,
        };
        assert_eq!(exit.raw, raw_expected, "{script}");
    }
}

#[test]
fn a_missing_program_is_a_spawn_error_and_leaves_nothing() {
    let fx = Fixture::new();
    let error = logist_monitor::start(
        &fx.state,
        &crate::program(),
        "missing",
        &spec(&["/nonexistent/program"], Ownership::Durable),
        &crate::env(),
    )
    .unwrap_err();
    match error {
        StartError::Spawn { program, source } => {
            assert_eq!(program, "/nonexistent/program");
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        fx.state.run("missing"),
        Err(StateError::UnknownRun { .. })
    ));
}

#[test]
fn the_environment_is_passed_but_never_written_down() {
    let mut fx = Fixture::new();
    let run = {
        let started = logist_monitor::start(
            &fx.state,
            &crate::program(),
            "env",
            &spec(
                &["sh", "-c", "printf %s \"$SECRET_TOKEN\""],
                Ownership::Durable,
            ),
            &[("SECRET_TOKEN".into(), "hunter2".into())],
        )
        .unwrap();
        started.run
    };
    fx.adopt(run.clone());
    logist_monitor::wait(&run, Some(DEADLINE)).unwrap();
    assert_eq!(log_by_channel(&run).0, b"hunter2");
    for entry in fs::read_dir(run.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && path.extension().is_some_and(|e| e == "json") {
            let text = fs::read_to_string(&path).unwrap();
            assert!(
                !text.contains("hunter2"),
                "{} holds the secret",
                path.display()
            );
        }
    }
}

#[test]
fn a_terminal_run_gets_its_size_input_and_resize() {
    let mut fx = Fixture::new();
    let mut spec = spec(
        &["sh", "-c", "stty size; read x; stty size; echo \"[$x]\""],
        Ownership::Durable,
    );
    spec.terminal = Some((24, 80));
    let run = fx.start(&spec);
    let mut client = Client::connect(&run).unwrap();
    crate::wait_for("the first size", DEADLINE, || {
        String::from_utf8_lossy(&log_by_channel(&run).2).contains("24 80")
    });
    client.resize(40, 120).unwrap();
    client.write_stdin(b"typed\n").unwrap();
    let exit = logist_monitor::wait(&run, Some(DEADLINE)).unwrap();
    assert_eq!(exit.status, ExitStatus::Code(0));
    let (out, err, pty) = log_by_channel(&run);
    assert!(out.is_empty() && err.is_empty());
    let text = String::from_utf8_lossy(&pty);
    assert!(text.contains("40 120"), "{text:?}");
    assert!(text.contains("[typed]"), "{text:?}");
}

#[test]
fn reading_through_the_monitor_matches_the_disk() {
    let mut fx = Fixture::new();
    let mut spec = spec(
        &["sh", "-c", "echo one; echo two >&2; cat"],
        Ownership::Durable,
    );
    spec.stdin_piped = true;
    let run = fx.start(&spec);
    let mut client = Client::connect(&run).unwrap();
    crate::wait_for("both lines", DEADLINE, || {
        client.status().unwrap().log_end == 8
    });
    let (chunks, next) = client.read(2, 100).unwrap();
    assert_eq!(next, 8);
    let text: Vec<u8> = chunks.iter().flat_map(|c| c.bytes.clone()).collect();
    assert_eq!(text, b"e\ntwo\n");
    client.close_stdin().unwrap();
    let exit = logist_monitor::wait(&run, Some(DEADLINE)).unwrap();
    assert_eq!(exit.status, ExitStatus::Code(0));
    // Once the monitor is gone, only the files answer.
    crate::wait_for("the monitor to end", DEADLINE, || {
        !run.monitor_alive().unwrap()
    });
    assert!(matches!(Client::connect(&run), Err(ClientError::Io { .. })));
    assert_eq!(log_by_channel(&run).0, b"one\n");
}

#[test]
fn writing_to_a_closed_stdin_is_refused() {
    let mut fx = Fixture::new();
    let run = fx.start(&spec(&["sleep", "30"], Ownership::Durable));
    let mut client = Client::connect(&run).unwrap();
    let error = client.write_stdin(b"x").unwrap_err();
    assert!(matches!(error, ClientError::Refused { .. }), "{error}");
    client.terminate(Some(Duration::from_millis(100))).unwrap();
    let exit = logist_monitor::wait(&run, Some(DEADLINE)).unwrap();
    assert_eq!(exit.status, ExitStatus::Signal(15));
}

#[test]
fn a_subscriber_gets_every_byte_live_across_rotations_then_the_exit() {
    let mut fx = Fixture::new();
    let mut spec = spec(
        &[
            "sh",
            "-c",
            "head -c 2000000 /dev/urandom; head -c 100000 /dev/urandom >&2; exit 7",
        ],
        Ownership::Durable,
    );
    spec.segment_bytes = 64 * 1024;
    let run = fx.start(&spec);
    let mut subscription = Client::connect(&run).unwrap().subscribe(0).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut next = 0;
    let exit = loop {
        let event = subscription.next(Some(DEADLINE)).unwrap_or_else(|e| {
            panic!(
                "at {next}: {}; {:?}",
                logist_core::error_chain(&e),
                run.state()
            )
        });
        match event {
            Some(Event::Output(chunk)) => {
                assert_eq!(chunk.offset, next, "contiguous");
                next += chunk.len();
                match chunk.channel {
                    logist_monitor::log::Channel::Stdout => out.extend_from_slice(&chunk.bytes),
                    logist_monitor::log::Channel::Stderr => err.extend_from_slice(&chunk.bytes),
                    other => panic!("unexpected {other:?}"),
                }
            }
            Some(Event::Exited { status, log_end }) => break (status, log_end),
            None => panic!("closed before the exit"),
        }
    };
    assert_eq!(exit, (ExitStatus::Code(7), 2_100_000));
    assert_eq!(next, 2_100_000);
    let (disk_out, disk_err, _) = log_by_channel(&run);
    assert_eq!(checksum(&out), checksum(&disk_out));
    assert_eq!(checksum(&err), checksum(&disk_err));
    assert_eq!((out.len(), err.len()), (2_000_000, 100_000));
}

/// Reads `subscription` until it has `until` bytes in all (or the exit,
/// when `until` is `None`), checking the offsets are contiguous.
fn follow(
    subscription: &mut logist_monitor::Subscription,
    seen: &mut Vec<u8>,
    until: Option<usize>,
) -> Option<(ExitStatus, u64)> {
    loop {
        if until.is_some_and(|until| seen.len() >= until) {
            return None;
        }
        match subscription.next(Some(DEADLINE)).unwrap() {
            Some(Event::Output(chunk)) => {
                assert_eq!(chunk.offset, seen.len() as u64, "contiguous");
                seen.extend_from_slice(&chunk.bytes);
            }
            Some(Event::Exited { status, log_end }) => return Some((status, log_end)),
            None => panic!("closed before the exit"),
        }
    }
}

#[test]
fn a_subscriber_that_falls_behind_catches_up_from_the_disk_then_goes_live() {
    let mut fx = Fixture::new();
    let mut spec = spec(
        &[
            "sh",
            "-c",
            "head -c 3000000 /dev/urandom; read x; head -c 1000000 /dev/urandom",
        ],
        Ownership::Durable,
    );
    spec.stdin_piped = true;
    spec.segment_bytes = 256 * 1024;
    let run = fx.start(&spec);
    let mut fast = Client::connect(&run).unwrap().subscribe(0).unwrap();
    // Not read until the first 3 MB are out: its buffer fills, and the rest
    // comes from the log on disk once it reads.
    let mut slow = Client::connect(&run).unwrap().subscribe(0).unwrap();
    let (mut fast_seen, mut slow_seen) = (Vec::new(), Vec::new());
    assert_eq!(follow(&mut fast, &mut fast_seen, Some(3_000_000)), None);
    assert_eq!(follow(&mut slow, &mut slow_seen, Some(3_000_000)), None);
    // Both caught up: the rest is served as it is read.
    Client::connect(&run).unwrap().write_stdin(b"go\n").unwrap();
    let fast_exit = follow(&mut fast, &mut fast_seen, None);
    let slow_exit = follow(&mut slow, &mut slow_seen, None);
    assert_eq!(fast_exit, Some((ExitStatus::Code(0), 4_000_000)));
    assert_eq!(slow_exit, fast_exit);
    let (disk, _, _) = log_by_channel(&run);
    assert_eq!(disk.len(), 4_000_000);
    assert_eq!(checksum(&fast_seen), checksum(&disk));
    assert_eq!(checksum(&slow_seen), checksum(&disk));
}
