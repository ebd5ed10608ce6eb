//! `MockRuntime` against the `Runtime` contract, and the mock agent's
//! scenarios played without a process (compared with the real program).

use std::sync::Arc;
use std::time::{Duration, Instant};

use logist_core::{
    Agent, CommandLine, Environment, Error, ExitStatus, Labels, OutputRead, ProcessId,
    ProcessState, Runtime, SpawnRequest, StdinMode, Stream, TerminalSize,
};
use logist_mock::{
    APPLIED, CANCELLED, Checksum, FloodStream, INTERACTIVE_PROMPT, LineBranch, MOCK_TREE_PIDS,
    MockAgent, MockConfig, MockRuntime, STUBBORN_READY, Scenario, Script, flood_bytes,
    flood_checksum, parse_tree_pids,
};

use crate::{DEADLINE, PROGRAM, core_status, run};

fn cmd(argv: &[&str]) -> CommandLine {
    CommandLine::new(argv.iter().copied()).unwrap()
}

fn spawn(runtime: &MockRuntime, request: SpawnRequest) -> ProcessId {
    runtime.spawn(&request).unwrap()
}

fn mock(scenario: Scenario) -> SpawnRequest {
    SpawnRequest::new(MockAgent::new(scenario).cmd("p").unwrap())
}

fn script_request(runtime: &MockRuntime, name: &str, script: Script) -> SpawnRequest {
    runtime.register(name, script);
    SpawnRequest::new(cmd(&[name]))
}

fn done(runtime: &MockRuntime, id: &ProcessId) -> logist_core::Completion {
    runtime.wait(id, Some(DEADLINE)).unwrap()
}

/// Reads from `from` until `enough(all bytes read)` or the output ends.
fn read_until(
    runtime: &MockRuntime,
    id: &ProcessId,
    enough: impl Fn(&[u8]) -> bool,
) -> (Vec<u8>, u64) {
    let mut seen = Vec::new();
    let mut from = 0;
    let deadline = Instant::now() + DEADLINE;
    while !enough(&seen) {
        assert!(
            Instant::now() < deadline,
            "output so far: {:?}",
            String::from_utf8_lossy(&seen)
        );
        let read = runtime.read_output(id, from, Some(DEADLINE)).unwrap();
        assert_eq!(read.missed, 0);
        for chunk in &read.chunks {
            assert_eq!(chunk.offset, seen.len() as u64, "contiguous offsets");
            seen.extend_from_slice(&chunk.data);
        }
        from = read.next;
        if read.finished {
            break;
        }
    }
    (seen, from)
}

#[test]
fn unknown_and_removed_ids_are_unknown_everywhere() {
    let runtime = MockRuntime::new();
    let id = spawn(&runtime, mock(Scenario::Exit(0)));
    done(&runtime, &id);
    runtime.remove(&id).unwrap();
    for id in [id, ProcessId::new("mock-never")] {
        let unknown = |result: Result<(), Error>| {
            assert!(
                matches!(result, Err(Error::UnknownProcess { .. })),
                "{result:?}"
            );
        };
        unknown(runtime.is_alive(&id).map(drop));
        unknown(runtime.get_logs(&id, None).map(drop));
        unknown(
            runtime
                .get_stream_logs(&id, Stream::Stderr, Some(1))
                .map(drop),
        );
        unknown(runtime.read_output(&id, 0, Some(Duration::ZERO)).map(drop));
        unknown(runtime.terminate(&id, false).map(drop));
        unknown(runtime.wait(&id, Some(Duration::ZERO)).map(drop));
        unknown(runtime.write_stdin(&id, b"x"));
        unknown(runtime.close_stdin(&id));
        unknown(runtime.info(&id).map(drop));
        unknown(runtime.remove(&id));
        unknown(runtime.stdin_received(&id).map(drop));
    }
    assert_eq!(runtime.name(), "mock");
}

#[test]
fn ids_are_unique_across_runtimes() {
    let mut ids = std::collections::BTreeSet::new();
    for _ in 0..3 {
        let runtime = MockRuntime::new();
        for _ in 0..3 {
            assert!(ids.insert(spawn(&runtime, mock(Scenario::Exit(0)))));
        }
    }
}

#[test]
fn spawn_errors_are_typed_and_leave_nothing() {
    let runtime = MockRuntime::new();
    let not_found = runtime.spawn(&SpawnRequest::new(cmd(&["claude", "-p", "x"])));
    assert!(
        matches!(not_found, Err(Error::ProgramNotFound { ref program }) if program == "claude")
    );
    let bad_env = SpawnRequest::new(cmd(&["logist-mock-agent", "p"]))
        .env(Environment::clean().set("A=B", "1"));
    assert!(matches!(
        runtime.spawn(&bad_env),
        Err(Error::InvalidCommand { .. })
    ));
    let bad_dir = mock(Scenario::Success).cwd("/nonexistent/dir");
    assert!(matches!(
        runtime.spawn(&bad_dir),
        Err(Error::WorkingDirectory { .. })
    ));
    let a_file = mock(Scenario::Success).cwd(PROGRAM);
    assert!(matches!(
        runtime.spawn(&a_file),
        Err(Error::WorkingDirectory { .. })
    ));
    assert!(runtime.list(&Labels::new()).unwrap().is_empty());
    // A good directory is fine.
    let id = spawn(&runtime, mock(Scenario::Exit(0)).cwd("/"));
    assert!(done(&runtime, &id).status.success());
}

#[test]
fn registered_scripts_match_by_name_or_file_name() {
    let runtime = MockRuntime::new();
    runtime.register("fake-agent", Script::new().stdout("fake\n").exit(4));
    for program in ["fake-agent", "/usr/local/bin/fake-agent", "./fake-agent"] {
        let id = spawn(&runtime, SpawnRequest::new(cmd(&[program, "x"])));
        let completion = done(&runtime, &id);
        assert_eq!(completion.status, ExitStatus::Code(4));
        assert_eq!(completion.logs.bytes(), b"fake\n");
    }
    // A registered name wins over the mock agent program.
    runtime.register("logist-mock-agent", Script::new().exit(9));
    let id = spawn(&runtime, mock(Scenario::Success));
    assert_eq!(done(&runtime, &id).status, ExitStatus::Code(9));
}

#[test]
fn logs_and_tails_per_stream() {
    let runtime = MockRuntime::new();
    let id = spawn(&runtime, mock(Scenario::Success));
    let completion = done(&runtime, &id);
    let all = completion.logs.text().into_owned();
    assert_eq!(runtime.get_logs(&id, None).unwrap().text(), all);
    assert_eq!(
        runtime.get_logs(&id, Some(2)).unwrap().text(),
        "Running tests... ok\nDone: 1 file changed, 3 tests passed.\n"
    );
    assert_eq!(runtime.get_logs(&id, Some(0)).unwrap().len(), 0);
    assert_eq!(runtime.get_logs(&id, Some(100)).unwrap().text(), all);
    assert_eq!(
        runtime
            .get_stream_logs(&id, Stream::Stderr, None)
            .unwrap()
            .text(),
        logist_mock::SUCCESS_WARNING
    );
    assert_eq!(
        runtime
            .get_stream_logs(&id, Stream::Stdout, Some(1))
            .unwrap()
            .text(),
        logist_mock::SUCCESS_SUMMARY
    );
    assert_eq!(runtime.get_logs(&id, None).unwrap().dropped(), 0);

    // A final line without a newline counts as a line.
    let partial = spawn(
        &runtime,
        script_request(&runtime, "partial", Script::new().stdout("a\nb\nc")),
    );
    done(&runtime, &partial);
    assert_eq!(runtime.get_logs(&partial, Some(1)).unwrap().bytes(), b"c");
    assert_eq!(
        runtime.get_logs(&partial, Some(2)).unwrap().bytes(),
        b"b\nc"
    );
}

#[test]
fn incremental_reads_from_any_offset_across_chunks() {
    let runtime = MockRuntime::new();
    let script = Script::new()
        .stdout("one\n")
        .stderr("two\n")
        .stdout("three")
        .stdout("\n");
    let id = spawn(&runtime, script_request(&runtime, "chunks", script));
    let completion = done(&runtime, &id);
    let all = completion.logs.bytes().to_vec();
    assert_eq!(all, b"one\ntwo\nthree\n");
    for from in 0..=all.len() as u64 {
        let read = runtime
            .read_output(&id, from, Some(Duration::ZERO))
            .unwrap();
        let bytes: Vec<u8> = read
            .chunks
            .iter()
            .flat_map(|chunk| chunk.data.clone())
            .collect();
        assert_eq!(bytes, &all[from as usize..], "from {from}");
        assert_eq!(read.next, all.len() as u64);
        assert!(read.finished);
        assert_eq!(read.missed, 0);
        if let Some(first) = read.chunks.first() {
            assert_eq!(first.offset, from);
        }
    }
    // Chunk by chunk, streams kept apart.
    let read = runtime.read_output(&id, 2, None).unwrap();
    let parts: Vec<(Stream, u64, &[u8])> = read
        .chunks
        .iter()
        .map(|chunk| (chunk.stream, chunk.offset, chunk.data.as_slice()))
        .collect();
    // Consecutive writes to one stream may share a chunk, as in every
    // runtime (the buffer is logist-output's).
    assert_eq!(
        parts,
        [
            (Stream::Stdout, 2, &b"e\n"[..]),
            (Stream::Stderr, 4, b"two\n"),
            (Stream::Stdout, 8, b"three\n"),
        ]
    );
}

#[test]
fn a_blocking_read_is_woken_by_new_output() {
    let runtime = Arc::new(MockRuntime::new());
    runtime.register(
        "slow",
        Script::new()
            .stdout("first\n")
            .pause(Duration::from_millis(150))
            .stdout("second\n")
            .hang(),
    );
    let id = spawn(&runtime, SpawnRequest::new(cmd(&["slow"])));
    let (first, next) = read_until(&runtime, &id, |seen| seen.ends_with(b"first\n"));
    assert_eq!(first, b"first\n");
    // Nothing new yet: this read blocks until "second" is written.
    let started = Instant::now();
    let read = runtime.read_output(&id, next, Some(DEADLINE)).unwrap();
    assert!(started.elapsed() < DEADLINE);
    assert_eq!(read.chunks[0].data, b"second\n");
    assert!(!read.finished);

    // A reader blocked on a silent process is woken by its termination.
    let reader = {
        let runtime = Arc::clone(&runtime);
        let id = id.clone();
        let from = read.next;
        logist_testing::spawn_blocked(move || runtime.read_output(&id, from, None).unwrap())
    };
    assert!(!reader.is_finished(), "the read blocks on a silent process");
    assert!(runtime.terminate(&id, false).unwrap());
    let last = reader.join().unwrap();
    assert!(last.chunks.is_empty());
    assert!(last.finished);
    assert_eq!(last.next, read.next);
}

#[test]
fn timeouts_return_empty_reads_and_wait_errors_without_stopping_anything() {
    let runtime = MockRuntime::new();
    let id = spawn(&runtime, mock(Scenario::Hang));
    let (_, next) = read_until(&runtime, &id, |seen| {
        seen.ends_with(b"Planning changes...\n")
    });
    let timed_out = runtime
        .read_output(&id, next, Some(Duration::from_millis(30)))
        .unwrap();
    assert_eq!(timed_out, OutputRead::new(Vec::new(), next, 0, false));
    let instant = runtime
        .read_output(&id, next, Some(Duration::ZERO))
        .unwrap();
    assert!(instant.is_empty() && !instant.finished);

    let waited = runtime.wait(&id, Some(Duration::from_millis(30)));
    assert!(
        matches!(&waited, Err(Error::WaitTimeout { id: timed, timeout }) if *timed == id && *timeout == Duration::from_millis(30)),
        "{waited:?}"
    );
    assert!(matches!(
        runtime.wait(&id, Some(Duration::ZERO)),
        Err(Error::WaitTimeout { .. })
    ));
    assert!(runtime.is_alive(&id).unwrap());
    assert_eq!(runtime.info(&id).unwrap().state, ProcessState::Running);
    runtime.terminate(&id, true).unwrap();
}

#[test]
fn polite_termination_and_after_exit() {
    let runtime = MockRuntime::new();
    let id = spawn(&runtime, mock(Scenario::Hang));
    assert!(runtime.terminate(&id, false).unwrap());
    assert_eq!(done(&runtime, &id).status, ExitStatus::Signal(15));
    assert!(!runtime.is_alive(&id).unwrap());
    // Twice, and after exit: nothing left to signal.
    assert!(!runtime.terminate(&id, false).unwrap());
    assert!(!runtime.terminate(&id, true).unwrap());
    let exited = spawn(&runtime, mock(Scenario::Exit(0)));
    done(&runtime, &exited);
    assert!(!runtime.terminate(&exited, false).unwrap());
    assert_eq!(done(&runtime, &exited).status, ExitStatus::Code(0));
}

#[test]
fn stubborn_needs_the_kill_after_the_grace_period() {
    let runtime = MockRuntime::with_config(MockConfig::default().grace(Duration::from_secs(60)));
    let request = mock(Scenario::Stubborn).grace(Duration::from_millis(100));
    let id = spawn(&runtime, request);
    read_until(&runtime, &id, |seen| seen == STUBBORN_READY.as_bytes());
    let started = Instant::now();
    assert!(runtime.terminate(&id, false).unwrap());
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "the request's grace was honoured"
    );
    assert_eq!(done(&runtime, &id).status, ExitStatus::Signal(9));

    // Forced: at once, whatever the grace.
    let id = spawn(&runtime, mock(Scenario::Stubborn));
    read_until(&runtime, &id, |seen| seen == STUBBORN_READY.as_bytes());
    let started = Instant::now();
    assert!(runtime.terminate(&id, true).unwrap());
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "no 60 s grace for a kill"
    );
    assert_eq!(done(&runtime, &id).status, ExitStatus::Signal(9));
}

#[test]
fn concurrent_terminations_and_waits_agree() {
    let runtime = Arc::new(MockRuntime::with_config(
        MockConfig::default().grace(Duration::from_millis(50)),
    ));
    let id = spawn(&runtime, mock(Scenario::Stubborn));
    read_until(&runtime, &id, |seen| seen == STUBBORN_READY.as_bytes());
    let threads: Vec<_> = (0..6)
        .map(|index| {
            let runtime = Arc::clone(&runtime);
            let id = id.clone();
            std::thread::spawn(move || {
                if index % 2 == 0 {
                    format!("{:?}", runtime.terminate(&id, false).map(|_| ()))
                } else {
                    format!("{:?}", runtime.wait(&id, None).unwrap().status)
                }
            })
        })
        .collect();
    let results: Vec<String> = threads
        .into_iter()
        .map(|thread| thread.join().unwrap())
        .collect();
    assert_eq!(
        results,
        [
            "Ok(())",
            "Signal(9)",
            "Ok(())",
            "Signal(9)",
            "Ok(())",
            "Signal(9)"
        ]
    );
}

#[test]
fn a_script_that_ends_during_the_grace_period_keeps_its_status() {
    let runtime = MockRuntime::with_config(MockConfig::default().grace(Duration::from_secs(30)));
    let script = Script::new()
        .ignore_term()
        .stdout("ready\n")
        .pause(Duration::from_millis(100))
        .exit(5);
    let id = spawn(&runtime, script_request(&runtime, "slow-exit", script));
    read_until(&runtime, &id, |seen| seen == b"ready\n");
    assert!(runtime.terminate(&id, false).unwrap());
    assert_eq!(done(&runtime, &id).status, ExitStatus::Code(5));
}

#[test]
fn several_threads_wait_for_the_same_exit() {
    let runtime = Arc::new(MockRuntime::new());
    let script = Script::new()
        .pause(Duration::from_millis(50))
        .stdout("bye\n")
        .exit(3);
    let id = spawn(&runtime, script_request(&runtime, "late", script));
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let runtime = Arc::clone(&runtime);
            let id = id.clone();
            std::thread::spawn(move || runtime.wait(&id, Some(DEADLINE)).unwrap())
        })
        .collect();
    for waiter in waiters {
        let completion = waiter.join().unwrap();
        assert_eq!(completion.status, ExitStatus::Code(3));
        assert_eq!(completion.logs.bytes(), b"bye\n");
        assert!(!completion.output_leaked);
    }
}

#[test]
fn stdin_drives_the_interactive_scenario() {
    let runtime = MockRuntime::new();
    for (answer, close, status, last) in [
        (Some(&b"y\n"[..]), false, 0, APPLIED),
        (Some(b"yes"), true, 0, APPLIED),
        (Some(b"no\n"), false, 1, CANCELLED),
        (None, true, 1, CANCELLED),
    ] {
        let id = spawn(
            &runtime,
            mock(Scenario::Interactive).stdin(StdinMode::Piped),
        );
        read_until(&runtime, &id, |seen| {
            seen.ends_with(INTERACTIVE_PROMPT.as_bytes())
        });
        assert!(runtime.is_alive(&id).unwrap(), "waits for an answer");
        if let Some(answer) = answer {
            runtime.write_stdin(&id, answer).unwrap();
        }
        if close {
            runtime.close_stdin(&id).unwrap();
            runtime.close_stdin(&id).unwrap();
        }
        let completion = done(&runtime, &id);
        assert_eq!(completion.status, ExitStatus::Code(status), "{answer:?}");
        assert!(
            completion
                .logs
                .text()
                .ends_with(&format!("{INTERACTIVE_PROMPT}{last}"))
        );
        assert_eq!(
            runtime.stdin_received(&id).unwrap(),
            answer.unwrap_or_default()
        );
        assert!(matches!(
            runtime.write_stdin(&id, b"late"),
            Err(Error::StdinClosed { .. })
        ));
    }
    // Stdin from /dev/null: end-of-file at once, and nothing to write to.
    let id = spawn(&runtime, mock(Scenario::Interactive));
    assert!(matches!(
        runtime.write_stdin(&id, b"y\n"),
        Err(Error::StdinClosed { .. })
    ));
    assert_eq!(done(&runtime, &id).status, ExitStatus::Code(1));
}

#[test]
fn scripts_branch_on_stdin_lines() {
    let runtime = MockRuntime::new();
    let script = Script::new()
        .stdout("name? ")
        .read_line(
            LineBranch::new()
                .on(["alice", "bob"], Script::new().stdout("hello friend\n"))
                .on(["mallory"], Script::new().stderr("go away\n").exit(3))
                .otherwise(Script::new().stdout("who?\n")),
        )
        .stdout("done\n");
    runtime.register("greeter", script);
    for (input, status, text) in [
        (&b"bob\nextra\n"[..], 0, "name? hello friend\ndone\n"),
        (b"mallory\n", 3, "name? go away\n"),
        (b"eve\n", 0, "name? who?\ndone\n"),
    ] {
        let id = spawn(
            &runtime,
            SpawnRequest::new(cmd(&["greeter"])).stdin(StdinMode::Piped),
        );
        // Written in two pieces: a line may arrive in parts.
        let (head, tail) = input.split_at(2);
        runtime.write_stdin(&id, head).unwrap();
        runtime.write_stdin(&id, tail).unwrap();
        let completion = done(&runtime, &id);
        assert_eq!(
            (completion.status, completion.logs.text().into_owned()),
            (ExitStatus::Code(status), text.to_owned())
        );
        assert_eq!(runtime.stdin_received(&id).unwrap(), input);
    }
}

#[test]
fn remove_only_after_exit() {
    let runtime = MockRuntime::new();
    let id = spawn(&runtime, mock(Scenario::Hang));
    assert!(matches!(
        runtime.remove(&id),
        Err(Error::StillRunning { .. })
    ));
    assert!(runtime.is_alive(&id).unwrap());
    runtime.terminate(&id, true).unwrap();
    runtime.remove(&id).unwrap();
    assert!(matches!(
        runtime.remove(&id),
        Err(Error::UnknownProcess { .. })
    ));
}

#[test]
fn list_by_labels_oldest_first() {
    let runtime = MockRuntime::new();
    let a = spawn(
        &runtime,
        mock(Scenario::Exit(0)).label("job", "1").label("kind", "x"),
    );
    let b = spawn(
        &runtime,
        mock(Scenario::Hang).label("job", "2").label("kind", "x"),
    );
    let c = spawn(&runtime, mock(Scenario::Exit(0)).label("job", "1"));
    let ids = |selector: &[(&str, &str)]| -> Vec<ProcessId> {
        let selector: Labels = selector
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        runtime
            .list(&selector)
            .unwrap()
            .into_iter()
            .map(|info| info.id)
            .collect()
    };
    assert_eq!(ids(&[]), [a.clone(), b.clone(), c.clone()]);
    assert_eq!(ids(&[("job", "1")]), [a.clone(), c.clone()]);
    assert_eq!(ids(&[("kind", "x")]), [a.clone(), b.clone()]);
    assert_eq!(ids(&[("job", "1"), ("kind", "x")]), [a]);
    assert!(ids(&[("job", "3")]).is_empty());
    let info = runtime.info(&b).unwrap();
    assert_eq!(info.pid, None);
    assert_eq!(info.labels["job"], "2");
    assert_eq!(
        info.command,
        MockAgent::new(Scenario::Hang).cmd("p").unwrap()
    );
    runtime.terminate(&b, true).unwrap();
    assert_eq!(
        runtime.info(&b).unwrap().state,
        ProcessState::Exited(ExitStatus::Signal(9))
    );
}

#[test]
fn the_memory_bound_drops_the_oldest_bytes_and_counts_them() {
    let limit = 64 * 1024;
    let total = 1 << 20;
    let runtime = MockRuntime::with_config(MockConfig::default().output_cap(limit));
    let id = spawn(&runtime, mock(Scenario::Flood));
    let completion = done(&runtime, &id);
    assert_eq!(completion.logs.len(), limit);
    assert_eq!(completion.logs.dropped(), (total - limit) as u64);
    let expected: Vec<u8> = flood_bytes(total as u64).skip(total - limit).collect();
    assert_eq!(completion.logs.bytes(), expected);
    assert!(
        completion
            .logs
            .to_string()
            .starts_with("[logist: 983040 earlier bytes dropped]\n")
    );

    let read = runtime.read_output(&id, 0, None).unwrap();
    assert_eq!(read.missed, (total - limit) as u64);
    assert_eq!(read.chunks[0].offset, (total - limit) as u64);
    assert_eq!(read.len(), limit);
    assert_eq!(read.next, total as u64);
    assert!(read.finished);
    // A read inside the retained window misses nothing.
    let late = runtime.read_output(&id, (total - 10) as u64, None).unwrap();
    assert_eq!((late.missed, late.len()), (0, 10));
    // A short tail lies inside the window; a long one runs into the drop.
    assert_eq!(runtime.get_logs(&id, Some(1)).unwrap().dropped(), 0);
    assert_eq!(
        runtime.get_logs(&id, Some(100_000)).unwrap().dropped(),
        (total - limit) as u64
    );
    assert_eq!(
        runtime
            .get_stream_logs(&id, Stream::Stderr, None)
            .unwrap()
            .dropped(),
        0
    );
}

#[test]
fn flood_to_both_streams_in_memory() {
    let runtime = MockRuntime::new();
    let agent = MockAgent::new(Scenario::Flood)
        .bytes(200_000)
        .stream(FloodStream::Both);
    let id = spawn(&runtime, SpawnRequest::new(agent.cmd("p").unwrap()));
    assert_eq!(done(&runtime, &id).logs.len(), 400_000);
    for stream in [Stream::Stdout, Stream::Stderr] {
        let logs = runtime.get_stream_logs(&id, stream, None).unwrap();
        let mut checksum = Checksum::new();
        checksum.update(logs.bytes());
        assert_eq!(checksum.value(), flood_checksum(200_000), "{stream}");
    }
    // Writes alternate, 64 KiB each.
    let read = runtime.read_output(&id, 0, None).unwrap();
    let shape: Vec<(Stream, usize)> = read
        .chunks
        .iter()
        .map(|c| (c.stream, c.data.len()))
        .take(3)
        .collect();
    assert_eq!(
        shape,
        [
            (Stream::Stdout, 65536),
            (Stream::Stderr, 65536),
            (Stream::Stdout, 65536)
        ]
    );
}

/// Stdout, stderr and status of the mock agent played by the runtime.
fn played(scenario_args: &[&str]) -> (Vec<u8>, Vec<u8>, ExitStatus) {
    let runtime = MockRuntime::new();
    let mut argv = vec!["logist-mock-agent"];
    argv.extend_from_slice(scenario_args);
    let id = spawn(&runtime, SpawnRequest::new(cmd(&argv)));
    let status = done(&runtime, &id).status;
    let stream = |stream| {
        runtime
            .get_stream_logs(&id, stream, None)
            .unwrap()
            .into_bytes()
    };
    (stream(Stream::Stdout), stream(Stream::Stderr), status)
}

#[test]
fn played_scenarios_match_the_real_program() {
    let cases: &[&[&str]] = &[
        &["--", "-x 'y' $(z)"],
        &["--scenario", "api_error", "p"],
        &["--scenario", "context_full", "p"],
        &["--scenario", "auth_error", "p"],
        &["--scenario", "interactive", "p"],
        &["--scenario", "drip", "--delay-ms", "0", "p"],
        &["--scenario", "crash", "p"],
        &["--scenario", "binary", "p"],
        &["--scenario", "exit:42", "p"],
        &[
            "--scenario",
            "flood",
            "--bytes",
            "100K",
            "--stream",
            "both",
            "p",
        ],
        &["--help"],
        &[],
        &["--scenario", "bogus", "p"],
        &["--delay-ms", "-1", "p"],
    ];
    for args in cases {
        let real = run(args);
        let (stdout, stderr, status) = played(args);
        assert_eq!(status, core_status(real.status), "{args:?}");
        assert!(stdout == real.stdout, "{args:?}: stdout differs");
        assert!(
            stderr == real.stderr,
            "{args:?}: stderr differs: {}",
            String::from_utf8_lossy(&stderr)
        );
    }
}

#[test]
fn played_tree_stubborn_and_env() {
    let runtime = MockRuntime::new();
    let tree = spawn(&runtime, mock(Scenario::Tree));
    let (seen, _) = read_until(&runtime, &tree, |seen| {
        parse_tree_pids(seen).len() == 2 && seen.ends_with(b"\n")
    });
    assert_eq!(parse_tree_pids(&seen), MOCK_TREE_PIDS);
    assert!(runtime.is_alive(&tree).unwrap());
    assert!(runtime.terminate(&tree, false).unwrap());

    let env = Environment::clean().set("B", "2").set("A", "x=y");
    let id = spawn(&runtime, mock(Scenario::Env).env(env));
    assert_eq!(done(&runtime, &id).logs.text(), "A=x=y\nB=2\n");
    // Inheriting: this process's environment is the base.
    let id = spawn(
        &runtime,
        mock(Scenario::Env).env(Environment::inherit().set("ZZ_MOCK", "1")),
    );
    let text = done(&runtime, &id).logs.text().into_owned();
    assert!(text.lines().any(|line| line == "ZZ_MOCK=1"));
    assert!(text.lines().any(|line| line.starts_with("PATH=")), "{text}");

    let stubborn = spawn(&runtime, mock(Scenario::Stubborn));
    read_until(&runtime, &stubborn, |seen| {
        seen == STUBBORN_READY.as_bytes()
    });
    assert!(runtime.terminate(&stubborn, false).unwrap());
    assert_eq!(done(&runtime, &stubborn).status, ExitStatus::Signal(9));
}

#[test]
fn drip_arrives_a_byte_at_a_time() {
    let runtime = MockRuntime::new();
    let id = spawn(&runtime, mock(Scenario::Drip));
    // A reader following the output sees the prompt grow: each byte is a
    // write of its own after a pause, so some read ends inside the prompt.
    let prompt = INTERACTIVE_PROMPT.as_bytes();
    let inside_the_prompt = |seen: &[u8]| (1..prompt.len()).any(|k| seen.ends_with(&prompt[..k]));
    let has_prompt = |seen: &[u8]| seen.windows(prompt.len()).any(|part| part == prompt);
    let mut seen = Vec::new();
    let mut partial_reads = 0;
    while !has_prompt(&seen) {
        let read = runtime
            .read_output(&id, seen.len() as u64, Some(DEADLINE))
            .unwrap();
        seen.extend(
            read.chunks
                .iter()
                .flat_map(|chunk| chunk.data.iter().copied()),
        );
        // The prompt, what follows it and the end may come in one read.
        assert!(
            !read.finished || has_prompt(&seen),
            "output ended early: {seen:?}"
        );
        partial_reads += usize::from(inside_the_prompt(&seen));
    }
    assert!(partial_reads > 0, "the prompt came in one read");
    done(&runtime, &id);
}

#[test]
fn durable_runs_are_refused_and_nothing_is_started() {
    let runtime = MockRuntime::new();
    match runtime.spawn(&mock(Scenario::Success).durable(true)) {
        Err(Error::Unsupported { runtime, feature }) => {
            assert_eq!(runtime, "mock");
            assert!(feature.contains("durable"), "{feature}");
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
    assert!(runtime.list(&Labels::new()).unwrap().is_empty());
    let id = spawn(&runtime, mock(Scenario::Success).durable(false));
    assert!(done(&runtime, &id).status.success());
}

#[test]
fn terminal_mode_merges_streams_and_translates_newlines() {
    let runtime = MockRuntime::new();
    let id = spawn(
        &runtime,
        mock(Scenario::Interactive).terminal(TerminalSize::default()),
    );
    read_until(&runtime, &id, |seen| {
        seen.ends_with(INTERACTIVE_PROMPT.as_bytes())
    });
    runtime.write_stdin(&id, b"y\n").unwrap();
    let completion = done(&runtime, &id);
    assert_eq!(completion.status, ExitStatus::Code(0));
    assert_eq!(
        completion.logs.text(),
        format!(
            "Reading prompt: p\r\nPlanning changes...\r\n{INTERACTIVE_PROMPT}y\r\nApplied changes.\r\n"
        )
    );
    assert!(
        runtime
            .get_stream_logs(&id, Stream::Stderr, None)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn dropping_the_runtime_stops_everything_in_bounded_time() {
    let runtime = MockRuntime::with_config(MockConfig::default().grace(Duration::from_millis(100)));
    for scenario in [
        Scenario::Hang,
        Scenario::Stubborn,
        Scenario::Interactive,
        Scenario::Tree,
    ] {
        spawn(&runtime, mock(scenario).stdin(StdinMode::Piped));
    }
    let stubborn = spawn(&runtime, mock(Scenario::Stubborn));
    read_until(&runtime, &stubborn, |seen| {
        seen == STUBBORN_READY.as_bytes()
    });
    let started = Instant::now();
    drop(runtime);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(100),
        "the stubborn one got its grace: {took:?}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn the_agent_and_runtime_as_trait_objects() {
    let agent: Box<dyn Agent> = Box::new(MockAgent::new(Scenario::Success));
    let runtime: Box<dyn Runtime> = Box::new(MockRuntime::new());
    let request = SpawnRequest::new(agent.cmd("do it").unwrap())
        .env(Environment::clean().merge(&agent.env()));
    let id = runtime.spawn(&request).unwrap();
    let completion = runtime.wait(&id, Some(DEADLINE)).unwrap();
    assert!(completion.status.success());
    assert!(
        completion
            .logs
            .text()
            .starts_with("Reading prompt: do it\n")
    );
}
