//! Checks that hold for any runtime, whatever runs the processes — even a
//! process-free one. They use only [`Fixture::exits_with`],
//! [`Fixture::runs_until_killed`] and the mock agent program's scenarios
//! ([`Fixture::mock_agent`]), whose output is known byte for byte.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use logist_core::{
    CommandLine, Environment, Error, ExitStatus, Labels, ProcessId, ProcessState, SpawnRequest,
    StdinMode, Stream,
};
use logist_mock::{
    APPLIED, BINARY_OUTPUT, CANCELLED, CRASH_LINE, CRASH_SIGNAL, Checksum, INTERACTIVE_PROMPT,
    STUBBORN_READY, SUCCESS_SUMMARY, SUCCESS_WARNING, flood_checksum,
};

use crate::Fixture;
use crate::harness::{Harness, LONG, spawn_blocked};

#[track_caller]
pub(crate) fn assert_unknown<T: std::fmt::Debug>(what: &str, result: Result<T, Error>) {
    match result {
        Err(Error::UnknownProcess { .. }) => {}
        other => panic!("{what}: expected UnknownProcess, got {other:?}"),
    }
}

fn mock(h: &Harness<'_>, args: &[&str]) -> SpawnRequest {
    SpawnRequest::new(h.fixture().mock_agent(args))
}

/// Every method answers `UnknownProcess` for an id never spawned here and
/// for an id that was removed.
pub fn unknown_ids_are_errors_everywhere(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let removed = h.spawn(&SpawnRequest::new(fixture.exits_with(0)));
    h.wait(&removed);
    h.rt().remove(&removed).expect("remove an exited process");
    for id in [ProcessId::new("never-spawned-here"), removed] {
        let rt = h.rt();
        assert_unknown("is_alive", rt.is_alive(&id));
        assert_unknown("get_logs", rt.get_logs(&id, None));
        assert_unknown(
            "get_stream_logs",
            rt.get_stream_logs(&id, Stream::Stderr, Some(1)),
        );
        assert_unknown("read_output", rt.read_output(&id, 0, Some(Duration::ZERO)));
        assert_unknown("terminate", rt.terminate(&id, false));
        assert_unknown("terminate force", rt.terminate(&id, true));
        assert_unknown("wait", rt.wait(&id, Some(Duration::ZERO)));
        assert_unknown("write_stdin", rt.write_stdin(&id, b"x"));
        assert_unknown("close_stdin", rt.close_stdin(&id));
        assert_unknown("info", rt.info(&id));
        assert_unknown("remove", rt.remove(&id));
    }
}

/// Exit codes come back as codes, the same on every `wait`.
pub fn exit_codes_are_reported(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    for code in [0, 1, 42, 255] {
        let id = h.spawn(&SpawnRequest::new(fixture.exits_with(code)));
        assert_eq!(h.wait(&id).status, ExitStatus::Code(code));
        assert_eq!(h.wait(&id).status, ExitStatus::Code(code), "second wait");
        assert!(!h.rt().is_alive(&id).unwrap());
        let state = h.rt().info(&id).unwrap().state;
        assert_eq!(state, ProcessState::Exited(ExitStatus::Code(code)));
    }
}

/// A process that honours SIGTERM stops with it, well before its grace
/// period would end.
pub fn terminate_polite(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let id = h.spawn(&SpawnRequest::new(fixture.runs_until_killed()).grace(LONG));
    let started = Instant::now();
    assert!(
        h.rt().terminate(&id, false).unwrap(),
        "something was signalled"
    );
    assert!(
        started.elapsed() < LONG / 2,
        "did not wait out the grace period"
    );
    assert!(
        !h.rt().is_alive(&id).unwrap(),
        "terminate returns after the exit"
    );
    assert_eq!(h.wait(&id).status, ExitStatus::Signal(15));
}

/// Terminating an exited process, or terminating twice, is fine and says
/// nothing was left to stop.
pub fn terminate_after_exit_and_twice(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let exited = h.spawn(&SpawnRequest::new(fixture.exits_with(3)));
    h.wait(&exited);
    assert!(!h.rt().terminate(&exited, false).unwrap());
    assert!(!h.rt().terminate(&exited, true).unwrap());
    assert_eq!(
        h.wait(&exited).status,
        ExitStatus::Code(3),
        "status unchanged"
    );

    let running = h.spawn(&SpawnRequest::new(fixture.runs_until_killed()));
    assert!(h.rt().terminate(&running, true).unwrap());
    assert!(!h.rt().terminate(&running, true).unwrap());
    assert!(!h.rt().terminate(&running, false).unwrap());
    assert_eq!(h.wait(&running).status, ExitStatus::Signal(9));
}

/// A `wait` that times out is a typed error, leaves the process running,
/// and does not spoil later waits.
pub fn wait_timeout_leaves_process_running(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let id = h.spawn(&SpawnRequest::new(fixture.runs_until_killed()));
    match h.rt().wait(&id, Some(Duration::from_millis(100))) {
        Err(Error::WaitTimeout { id: reported, .. }) => assert_eq!(reported, id),
        other => panic!("expected WaitTimeout, got {other:?}"),
    }
    assert!(h.rt().is_alive(&id).unwrap());
    h.rt().terminate(&id, true).unwrap();
    assert_eq!(h.wait(&id).status, ExitStatus::Signal(9));
}

/// Many threads waiting on one process all get the same status.
pub fn wait_from_many_threads(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let id = h.spawn(&SpawnRequest::new(fixture.runs_until_killed()));
    std::thread::scope(|scope| {
        // Every waiter is blocked in `wait` before the process ends.
        let waiters: Vec<_> = (0..10)
            .map(|_| spawn_blocked(scope, || h.wait(&id).status))
            .collect();
        assert!(
            waiters.iter().all(|waiter| !waiter.is_finished()),
            "wait returned while the process runs"
        );
        h.rt().terminate(&id, true).unwrap();
        for waiter in waiters {
            assert_eq!(waiter.join().unwrap(), ExitStatus::Signal(9));
        }
    });
}

/// 16 threads call `wait`, `terminate`, `get_logs`, `is_alive` and
/// `read_output` on 64 processes at once; every process ends with a
/// consistent status and nothing deadlocks.
pub fn concurrent_calls_on_many_processes(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let ids: Vec<ProcessId> = (0..64)
        .map(|i| {
            if i % 4 == 0 {
                h.spawn(&SpawnRequest::new(fixture.runs_until_killed()))
            } else {
                h.spawn(&mock(&h, &["--scenario", "success", "--", "concurrency"]))
            }
        })
        .collect();
    std::thread::scope(|scope| {
        for thread in 0..16 {
            let ids = &ids;
            let h = &h;
            scope.spawn(move || {
                for (i, id) in ids.iter().enumerate() {
                    let rt = h.rt();
                    rt.get_logs(id, Some(1)).unwrap();
                    rt.is_alive(id).unwrap();
                    rt.read_output(id, 0, Some(Duration::ZERO)).unwrap();
                    // Each thread terminates one long runner, half by force.
                    if i % 4 == 0 && i / 4 == thread {
                        rt.terminate(id, thread % 2 == 0).unwrap();
                    }
                }
                for (i, id) in ids.iter().enumerate() {
                    if i % 4 == 0 {
                        h.rt().terminate(id, true).unwrap();
                    }
                    let status = h.wait(id).status;
                    if i % 4 == 0 {
                        assert!(status.signal().is_some(), "process {i}: {status}");
                    } else {
                        assert_eq!(status, ExitStatus::Code(0), "process {i}");
                        let logs = h.rt().get_stream_logs(id, Stream::Stdout, Some(1)).unwrap();
                        assert_eq!(logs.text(), SUCCESS_SUMMARY, "process {i}");
                    }
                }
            });
        }
    });
}

/// Labels are stored and selectable; `info` describes a process; `remove`
/// refuses a running process and forgets an exited one.
pub fn labels_info_list_and_remove(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let labelled = |job: &str, command: CommandLine| {
        h.spawn(
            &SpawnRequest::new(command)
                .label("job", job)
                .label("suite", "conformance"),
        )
    };
    let long = fixture.runs_until_killed();
    let a = labelled("a", long.clone());
    let b = labelled("b", fixture.exits_with(0));
    let c = labelled("a", fixture.exits_with(0));
    let selector = |pairs: &[(&str, &str)]| -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let ids = |pairs: &[(&str, &str)]| -> Vec<ProcessId> {
        h.rt()
            .list(&selector(pairs))
            .unwrap()
            .into_iter()
            .map(|info| info.id)
            .collect()
    };
    assert_eq!(ids(&[("job", "a")]), [a.clone(), c.clone()], "oldest first");
    assert_eq!(
        ids(&[("job", "b"), ("suite", "conformance")]),
        std::slice::from_ref(&b)
    );
    assert!(ids(&[("job", "z")]).is_empty());
    assert_eq!(ids(&[]).len(), 3);

    let info = h.rt().info(&a).unwrap();
    assert_eq!(info.id, a);
    assert_eq!(info.labels["job"], "a");
    assert_eq!(info.command, long);
    assert_eq!(info.state, ProcessState::Running);

    match h.rt().remove(&a) {
        Err(Error::StillRunning { id }) => assert_eq!(id, a),
        other => panic!("remove of a running process: {other:?}"),
    }
    h.wait(&b);
    h.rt().remove(&b).unwrap();
    assert_unknown("removed", h.rt().info(&b));
    let left: BTreeSet<ProcessId> = ids(&[]).into_iter().collect();
    assert_eq!(left, BTreeSet::from([a.clone(), c.clone()]));
    h.rt().terminate(&a, true).unwrap();
    h.rt().remove(&a).unwrap();
}

/// The `success` scenario: progress on stdout, a warning on stderr, the
/// summary last, exit 0; the prompt reaches the program unchanged.
pub fn scenario_success_streams(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let prompt = "-rf \"quoted\" $(id) `id`\nsecond line";
    let id = h.spawn(&mock(&h, &["--scenario", "success", "--", prompt]));
    let done = h.wait(&id);
    assert_eq!(done.status, ExitStatus::Code(0));
    let stdout = h.rt().get_stream_logs(&id, Stream::Stdout, None).unwrap();
    let stderr = h.rt().get_stream_logs(&id, Stream::Stderr, None).unwrap();
    assert!(
        stdout.text().contains(prompt),
        "the prompt arrived unchanged: {}",
        stdout.text()
    );
    assert!(stdout.text().ends_with(SUCCESS_SUMMARY));
    assert_eq!(stderr.text(), SUCCESS_WARNING);
    assert_eq!(done.logs.len(), stdout.len() + stderr.len());
}

/// The `exit:N` and `crash` scenarios: codes and death by signal.
pub fn scenario_exit_and_crash(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let id = h.spawn(&mock(&h, &["--scenario", "exit:7", "--", "p"]));
    assert_eq!(h.wait(&id).status, ExitStatus::Code(7));
    let id = h.spawn(&mock(&h, &["--scenario", "crash", "--", "p"]));
    let done = h.wait(&id);
    assert_eq!(done.status, ExitStatus::Signal(CRASH_SIGNAL));
    assert!(
        done.logs.text().contains(CRASH_LINE.trim_end()),
        "{}",
        done.logs.text()
    );
}

/// The `interactive` scenario: the question is readable at once, without a
/// newline; `y` on stdin applies, end-of-file cancels.
pub fn scenario_interactive_prompt_and_answers(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    for (answer, applied) in [(Some(&b"y\n"[..]), true), (None, false)] {
        let request = mock(&h, &["--scenario", "interactive", "--", "p"]).stdin(StdinMode::Piped);
        let id = h.spawn(&request);
        h.read_until(&id, |out| out.ends_with(INTERACTIVE_PROMPT.as_bytes()));
        assert!(h.rt().is_alive(&id).unwrap(), "waiting for the answer");
        if let Some(answer) = answer {
            h.rt().write_stdin(&id, answer).unwrap();
        }
        h.rt().close_stdin(&id).unwrap();
        let done = h.wait(&id);
        if applied {
            assert_eq!(done.status, ExitStatus::Code(0));
            assert!(done.logs.text().ends_with(APPLIED));
        } else {
            assert_eq!(done.status, ExitStatus::Code(1));
            assert!(done.logs.text().ends_with(CANCELLED));
        }
    }
}

/// The `drip` scenario writes the question one byte at a time: it arrives
/// in several reads, whole, in order.
pub fn scenario_drip_arrives_in_pieces(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let request =
        mock(&h, &["--scenario", "drip", "--delay-ms", "10", "--", "p"]).stdin(StdinMode::Piped);
    let id = h.spawn(&request);
    let mut next = 0;
    let mut data = Vec::new();
    let mut reads_with_prompt_bytes = 0;
    while !data.ends_with(INTERACTIVE_PROMPT.as_bytes()) {
        let read = h.rt().read_output(&id, next, Some(LONG)).unwrap();
        assert!(
            !read.finished,
            "output ended before the question was complete"
        );
        let before = data.len();
        for chunk in &read.chunks {
            assert_eq!(chunk.offset, data.len() as u64, "chunks are contiguous");
            data.extend_from_slice(&chunk.data);
        }
        let start_of_prompt = data.len().saturating_sub(INTERACTIVE_PROMPT.len());
        if data.len() > before && data.len() > start_of_prompt {
            reads_with_prompt_bytes += 1;
        }
        next = read.next;
    }
    assert!(
        reads_with_prompt_bytes >= 4,
        "the question came in {reads_with_prompt_bytes} reads"
    );
    h.rt().close_stdin(&id).unwrap();
    assert_eq!(h.wait(&id).status, ExitStatus::Code(1));
}

/// The `binary` scenario's bytes (invalid UTF-8, NUL, a character split
/// across writes) come back exactly.
pub fn scenario_binary_bytes_are_exact(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let id = h.spawn(&mock(&h, &["--scenario", "binary", "--", "p"]));
    let done = h.wait(&id);
    assert!(done.status.success());
    assert_eq!(
        h.rt()
            .get_stream_logs(&id, Stream::Stdout, None)
            .unwrap()
            .bytes(),
        BINARY_OUTPUT
    );
}

/// The `flood` scenario read incrementally (a size under the default memory
/// bound of every runtime, so nothing may be missed): every byte exact.
pub fn scenario_flood_is_exact(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let bytes: u64 = 4 * 1024 * 1024;
    let id = h.spawn(&mock(
        &h,
        &[
            "--scenario",
            "flood",
            "--bytes",
            &bytes.to_string(),
            "--",
            "p",
        ],
    ));
    let mut next = 0;
    let mut checksum = Checksum::new();
    loop {
        let read = h.rt().read_output(&id, next, Some(LONG)).unwrap();
        assert_eq!(read.missed, 0, "bytes were dropped below the memory bound");
        for chunk in &read.chunks {
            assert_eq!(chunk.stream, Stream::Stdout);
            checksum.update(&chunk.data);
        }
        next = read.next;
        if read.finished {
            break;
        }
    }
    assert!(h.wait(&id).status.success());
    assert_eq!(next, bytes);
    assert_eq!(
        (checksum.len(), checksum.value()),
        (bytes, flood_checksum(bytes))
    );
}

/// `flood --stream both` fills stdout and stderr at once; both are drained
/// completely (no deadlock) and kept apart.
pub fn scenario_flood_both_streams(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let bytes: u64 = 2 * 1024 * 1024;
    let args = [
        "--scenario",
        "flood",
        "--stream",
        "both",
        "--bytes",
        &bytes.to_string(),
        "--",
        "p",
    ];
    let id = h.spawn(&mock(&h, &args));
    assert!(h.wait(&id).status.success());
    for stream in [Stream::Stdout, Stream::Stderr] {
        let logs = h.rt().get_stream_logs(&id, stream, None).unwrap();
        assert_eq!(logs.dropped(), 0);
        let mut checksum = Checksum::new();
        checksum.update(logs.bytes());
        assert_eq!(
            (checksum.len(), checksum.value()),
            (bytes, flood_checksum(bytes)),
            "{stream}"
        );
    }
}

/// The `stubborn` scenario ignores SIGTERM: a polite terminate waits the
/// grace period, then kills.
pub fn scenario_stubborn_needs_the_kill(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let grace = Duration::from_millis(300);
    let id = h.spawn(&mock(&h, &["--scenario", "stubborn", "--", "p"]).grace(grace));
    h.read_until(&id, |out| out.ends_with(STUBBORN_READY.as_bytes()));
    let started = Instant::now();
    assert!(h.rt().terminate(&id, false).unwrap());
    assert!(
        started.elapsed() >= grace,
        "killed before the grace period ended"
    );
    assert_eq!(h.wait(&id).status, ExitStatus::Signal(9));
}

/// The `env` scenario prints what it received: a clean environment holds
/// what was set and nothing of ours.
pub fn scenario_env_is_what_was_asked(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let env = Environment::clean()
        .set("LOGIST_ONE", "1")
        .set("LOGIST_SPACE", "a b");
    let id = h.spawn(&mock(&h, &["--scenario", "env", "--", "p"]).env(env));
    let done = h.wait(&id);
    assert!(done.status.success());
    let text = done.logs.text();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.contains(&"LOGIST_ONE=1") && lines.contains(&"LOGIST_SPACE=a b"),
        "{text}"
    );
    assert!(
        !lines.iter().any(|line| line.starts_with("HOME=")),
        "{text}"
    );
}
