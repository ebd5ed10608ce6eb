//! Checks that need real operating-system processes: process trees,
//! spawn errors, environment, working directory, resources and memory.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use logist_core::{
    CommandLine, Environment, Error, ExitStatus, ProcessId, SpawnRequest, StdinMode,
};

use crate::Fixture;
use crate::harness::{Harness, LONG, open_fds, pids, self_status};
use logist_mock::parse_tree_pids;

#[track_caller]
fn assert_all_dead(h: &Harness<'_>, pids: &[u32]) {
    for &pid in pids {
        h.eventually(&format!("pid {pid} is gone"), || {
            !h.fixture().pid_alive(pid)
        });
    }
}

/// Spawns `script`, which prints `pid=N` words, and returns the pids once
/// `count` of them were printed.
fn spawn_printing_pids(
    h: &Harness<'_>,
    script: &str,
    count: usize,
    grace: Duration,
) -> (ProcessId, Vec<u32>) {
    let id = h.spawn(&SpawnRequest::new(h.sh(script)).grace(grace));
    let out = h.read_until(&id, |out| pids(out).len() >= count);
    let found = pids(&out);
    for &pid in &found {
        assert!(h.fixture().pid_alive(pid), "pid {pid} should be running");
    }
    (id, found)
}

/// Terminating a shell stops its children too (not only the direct child),
/// including a command behind `sh -c '...; true'` that the shell did not
/// `exec`.
pub fn terminate_kills_the_whole_tree(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let (id, tree) = spawn_printing_pids(
        &h,
        "sleep 300 & echo pid=$!; sleep 300 & echo pid=$!; echo pid=$$; sleep 300; true",
        3,
        LONG,
    );
    assert!(h.rt().terminate(&id, false).unwrap());
    assert_all_dead(&h, &tree);
    assert!(h.wait(&id).status.signal().is_some());
}

/// The mock agent's `tree` scenario (a grandchild in the group and one in
/// its own session): terminate stops both.
pub fn scenario_tree_is_terminated(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let id = h.spawn(&SpawnRequest::new(fixture.mock_agent(&[
        "--scenario",
        "tree",
        "--",
        "p",
    ])));
    let out = h.read_until(&id, |out| parse_tree_pids(out).len() == 2);
    let grandchildren = parse_tree_pids(&out);
    for &pid in &grandchildren {
        assert!(
            h.fixture().pid_alive(pid),
            "grandchild {pid} should be running"
        );
    }
    assert!(h.rt().terminate(&id, false).unwrap());
    assert_all_dead(&h, &grandchildren);
    assert!(h.wait(&id).status.signal().is_some());
}

/// Descendants that started their own session are found and stopped.
pub fn terminate_reaches_descendants_outside_the_group(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let (id, escaped) = spawn_printing_pids(&h, "setsid sleep 300 & echo pid=$!; wait", 1, LONG);
    h.eventually("the escaped process has its own session", || {
        // The session id equals the pid after setsid.
        h.fixture().session_of(escaped[0]) == Some(escaped[0]) || !h.fixture().pid_alive(escaped[0])
    });
    assert!(h.rt().terminate(&id, true).unwrap());
    assert_all_dead(&h, &escaped);
}

/// When the main process dies on SIGTERM but a group member ignores it,
/// the member is killed after the grace period; escalation does not stop
/// because the leader is gone.
pub fn group_members_ignoring_term_are_killed_after_grace(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let grace = Duration::from_millis(300);
    let (id, stubborn) = spawn_printing_pids(
        &h,
        "(trap '' TERM; echo pid=$(exec sh -c 'echo $PPID'); while :; do sleep 1; done) & wait",
        1,
        grace,
    );
    let started = Instant::now();
    assert!(h.rt().terminate(&id, false).unwrap());
    assert_all_dead(&h, &stubborn);
    assert!(
        started.elapsed() >= grace,
        "the member was killed before the grace period ended"
    );
}

/// A stopped process (SIGSTOP) cannot act on SIGTERM; terminate still ends
/// it, politely (SIGCONT is sent with SIGTERM) or after the grace period.
pub fn stopped_processes_are_terminated(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let id = h.spawn(&SpawnRequest::new(h.sh("echo pid=$$; exec sleep 300")).grace(LONG));
    let pid = pids(&h.read_until(&id, |out| !pids(out).is_empty()))[0];
    h.fixture().send_signal(h.rt(), pid, "STOP");
    let started = Instant::now();
    h.rt().terminate(&id, false).unwrap();
    assert!(
        started.elapsed() < LONG / 2,
        "the stopped process needed the whole grace period"
    );
    assert_eq!(h.wait(&id).status, ExitStatus::Signal(15));
}

/// A grandchild that keeps the output pipe open does not make `wait` hang:
/// the exit is reported with the leak; removing the process stops the
/// grandchild.
pub fn grandchild_holding_the_pipe_does_not_hang_wait(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let id = h.spawn_sh("sleep 300 & echo pid=$!");
    let done = h.wait(&id);
    assert_eq!(done.status, ExitStatus::Code(0));
    assert!(done.output_leaked, "the leak is reported");
    let grandchild = pids(done.logs.bytes());
    assert_eq!(grandchild.len(), 1);
    assert!(
        h.fixture().pid_alive(grandchild[0]),
        "the runtime does not kill it by itself"
    );
    let read = h.rt().read_output(&id, 0, Some(LONG)).unwrap();
    assert!(
        read.finished,
        "the output counts as over once the leak window passed"
    );
    h.rt().remove(&id).unwrap();
    assert_all_dead(&h, &grandchild);
}

/// Spawn failures are typed, name the program or directory, and leave
/// nothing running.
pub fn spawn_errors_are_typed(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let scratch = h.fixture().scratch_dir();
    let spawn = |argv: &[&str], cwd: Option<&std::path::Path>| {
        let mut request = SpawnRequest::new(CommandLine::new(argv.iter().copied()).unwrap());
        request.cwd = cwd.map(ToOwned::to_owned);
        h.rt().spawn(&request)
    };

    match spawn(&["logist-no-such-program-xyz"], None) {
        Err(Error::ProgramNotFound { program }) => {
            assert_eq!(program, "logist-no-such-program-xyz")
        }
        other => panic!("missing program: {other:?}"),
    }
    let missing_path = scratch.join("missing");
    match spawn(&[missing_path.to_str().unwrap()], None) {
        Err(Error::ProgramNotFound { .. }) => {}
        other => panic!("missing path: {other:?}"),
    }

    let not_executable = scratch.join("notes.txt");
    fs::write(&not_executable, "not a program\n").unwrap();
    fs::set_permissions(&not_executable, fs::Permissions::from_mode(0o644)).unwrap();
    match spawn(&[not_executable.to_str().unwrap()], None) {
        Err(Error::NotExecutable { program, .. }) => assert!(program.ends_with("notes.txt")),
        other => panic!("non-executable file: {other:?}"),
    }
    match spawn(&[scratch.to_str().unwrap()], None) {
        Err(Error::NotExecutable { .. }) => {}
        other => panic!("a directory as program: {other:?}"),
    }

    let no_dir = scratch.join("no-such-dir");
    match spawn(&["pwd"], Some(&no_dir)) {
        Err(Error::WorkingDirectory { path, .. }) => assert_eq!(path, no_dir),
        other => panic!("missing working directory: {other:?}"),
    }
    match spawn(&["pwd"], Some(&not_executable)) {
        Err(Error::WorkingDirectory { .. }) => {}
        other => panic!("a file as working directory: {other:?}"),
    }

    let bad_env = SpawnRequest::new(h.sh("true")).env(Environment::inherit().set("A=B", "1"));
    assert!(matches!(
        h.rt().spawn(&bad_env),
        Err(Error::InvalidCommand { .. })
    ));
    let nul_value = SpawnRequest::new(h.sh("true")).env(Environment::inherit().set("A", "x\0y"));
    assert!(matches!(
        h.rt().spawn(&nul_value),
        Err(Error::InvalidCommand { .. })
    ));
    assert!(
        h.rt().list(&Default::default()).unwrap().is_empty(),
        "nothing was started"
    );
}

fn env_lines(h: &Harness<'_>, env: Environment) -> Vec<String> {
    let id = h.spawn(&SpawnRequest::new(CommandLine::new(["env"]).unwrap()).env(env));
    let done = h.wait(&id);
    assert!(done.status.success());
    done.logs.text().lines().map(str::to_owned).collect()
}

/// The default environment is inherited and overridable; a clean one
/// holds only what is set or passed by name; unset removes.
pub fn environment_inherit_clean_and_pass(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let has = |lines: &[String], prefix: &str| lines.iter().any(|line| line.starts_with(prefix));

    let inherited = env_lines(&h, Environment::inherit().set("LOGIST_CHECK", "one two"));
    assert!(
        has(&inherited, "PATH="),
        "inherited environment has PATH: {inherited:?}"
    );
    assert!(inherited.contains(&"LOGIST_CHECK=one two".to_owned()));

    let unset = env_lines(&h, Environment::inherit().unset("PATH"));
    assert!(!has(&unset, "PATH="), "PATH was unset: {unset:?}");

    let clean = env_lines(&h, Environment::clean().pass("PATH").set("ONLY", "this"));
    assert!(clean.contains(&"ONLY=this".to_owned()));
    assert!(has(&clean, "PATH="), "PATH passed by name");
    assert!(
        !has(&clean, "HOME="),
        "clean environment leaked HOME: {clean:?}"
    );
    assert!(!has(&clean, "LOGIST_CHECK="));

    // Values are data, never shell code.
    let scratch = h.fixture().scratch_dir();
    let marker = scratch.join("pwned");
    let hostile = format!("$(touch {0}) `touch {0}`", marker.display());
    let lines = env_lines(&h, Environment::clean().set("HOSTILE", hostile.clone()));
    assert!(lines.contains(&format!("HOSTILE={hostile}")));
    assert!(!marker.exists(), "an environment value was executed");
}

/// The working directory is the one asked for.
pub fn working_directory_is_used(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let scratch = h.fixture().scratch_dir();
    let id = h.spawn(&SpawnRequest::new(h.sh("pwd -P; touch made-here")).cwd(&scratch));
    let done = h.wait(&id);
    let real = fs::canonicalize(&scratch).unwrap();
    assert_eq!(done.logs.text().trim_end(), real.to_str().unwrap());
    assert!(scratch.join("made-here").exists());
}

/// Arguments reach the program one by one, literally: no splitting, no
/// expansion, a leading dash is not an option of ours.
pub fn arguments_are_passed_literally(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let args = [
        "--help",
        "a b",
        "it's",
        "$(id)",
        "`id`",
        "*",
        "line\nbreak",
        "",
    ];
    let mut argv = vec!["printf", "[%s]\\n"];
    argv.extend(args);
    let id = h.spawn(&SpawnRequest::new(CommandLine::new(argv).unwrap()));
    let done = h.wait(&id);
    let expected: String = args.iter().map(|arg| format!("[{arg}]\n")).collect();
    assert_eq!(done.logs.text(), expected);
}

/// FNV-1a, to compare large outputs without keeping them.
fn fnv(hash: &mut u64, bytes: &[u8]) {
    for &byte in bytes {
        *hash ^= u64::from(byte);
        *hash = hash.wrapping_mul(0x100_0000_01b3);
    }
}

/// A large output (100 MiB by default) read incrementally arrives exactly:
/// every byte returned is the right byte at the right offset, and bytes
/// received plus bytes reported missed add up to everything written (a
/// reader slower than the child may miss bytes the bound dropped, but never
/// silently). The runtime's memory stays bounded meanwhile.
pub fn large_output_is_exact_or_counted_with_bounded_memory(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let total = h.fixture().large_output_bytes();
    // 64-byte lines: 63 characters and a newline, written by `yes`.
    let line = b"logist conformance flood 0123456789abcdefghijklmnopqrstuvwxyzAB\n";
    let script = format!(
        "yes '{}' | head -c {total}",
        std::str::from_utf8(&line[..63]).unwrap()
    );
    let before_kb = self_status("VmRSS");
    let id = h.spawn_sh(&script);
    let mut next = 0;
    let mut received = 0u64;
    let mut missed = 0u64;
    let mut peak_kb = before_kb;
    loop {
        let read = h.rt().read_output(&id, next, Some(LONG)).unwrap();
        missed += read.missed;
        for chunk in &read.chunks {
            for (i, &byte) in chunk.data.iter().enumerate() {
                let offset = chunk.offset as usize + i;
                assert_eq!(byte, line[offset % 64], "wrong byte at offset {offset}");
            }
            received += chunk.data.len() as u64;
        }
        next = read.next;
        peak_kb = peak_kb.max(self_status("VmRSS"));
        if read.finished {
            break;
        }
    }
    let done = h.wait(&id);
    assert!(done.status.success());
    assert_eq!(
        received + missed,
        total,
        "received {received} + missed {missed}"
    );
    assert_eq!(next, total);
    let grown_mib = peak_kb.saturating_sub(before_kb) / 1024;
    assert!(
        grown_mib < 64,
        "memory grew by {grown_mib} MiB while {total} bytes went through"
    );
    let mut expected_tail = 0xcbf2_9ce4_8422_2325u64;
    let mut actual_tail = expected_tail;
    let tail = h.rt().get_logs(&id, Some(10)).unwrap();
    assert_eq!(tail.len(), 640);
    fnv(&mut expected_tail, &line.repeat(10));
    fnv(&mut actual_tail, tail.bytes());
    assert_eq!(actual_tail, expected_tail, "the last lines are intact");
}

/// Thousands of spawn/wait/remove cycles give back every descriptor,
/// thread and (nearly) every byte of memory.
pub fn resources_return_after_many_spawns(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let cycle = || {
        let id = h.spawn(&SpawnRequest::new(CommandLine::new(["true"]).unwrap()));
        assert!(h.wait(&id).status.success());
        h.rt().remove(&id).unwrap();
    };
    // Warm up allocator pools and lazily started threads.
    for _ in 0..h.fixture().churn_warmup() {
        cycle();
    }
    let fds = open_fds();
    let threads = self_status("Threads");
    let rss_kb = self_status("VmRSS");
    for _ in 0..h.fixture().churn_count() {
        cycle();
    }
    h.eventually("descriptors are back", || open_fds() <= fds);
    assert_eq!(self_status("Threads"), threads, "threads after the cycles");
    let grown_kb = self_status("VmRSS").saturating_sub(rss_kb);
    assert!(grown_kb < 16 * 1024, "memory grew by {grown_kb} kB");
    assert!(h.rt().list(&Default::default()).unwrap().is_empty());
}

/// Dropping the runtime stops every process it owns: polite ones, stubborn
/// ones (after their grace period), whole trees, and exited processes'
/// leftover descendants.
pub fn drop_stops_every_process(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let rt = h.fixture().runtime();
    let grace = Duration::from_millis(300);
    let mut all = Vec::new();
    for script in [
        "echo pid=$$; exec sleep 300",
        "trap '' TERM; echo pid=$$; while :; do sleep 1; done",
        "sleep 300 & echo pid=$!; setsid sleep 300 & echo pid=$!; wait",
    ] {
        let id = rt
            .spawn(&SpawnRequest::new(h.sh(script)).grace(grace))
            .unwrap();
        let expected = script.matches("pid=").count();
        let deadline = Instant::now() + LONG;
        loop {
            let found = pids(rt.get_logs(&id, None).unwrap().bytes());
            if found.len() >= expected {
                all.extend(found);
                break;
            }
            assert!(Instant::now() < deadline, "`{script}` did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let leftover = rt
        .spawn(&SpawnRequest::new(h.sh("sleep 300 & echo pid=$!")))
        .unwrap();
    rt.wait(&leftover, Some(LONG)).unwrap();
    all.extend(pids(rt.get_logs(&leftover, None).unwrap().bytes()));
    let stdin_open = rt
        .spawn(&SpawnRequest::new(h.sh("cat")).stdin(StdinMode::Piped))
        .unwrap();
    assert!(rt.is_alive(&stdin_open).unwrap());

    let started = Instant::now();
    drop(rt);
    assert!(
        started.elapsed() < LONG / 2,
        "drop took {:?}",
        started.elapsed()
    );
    assert_all_dead(&h, &all);
}
