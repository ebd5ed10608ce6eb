//! Host-specific hazards from `docs/hazards.md` that the conformance
//! suite does not already cover, one test each, named after the hazard's
//! number. (Covered by the suite: 1–4, 6, 7, 13, 16, 18, 19, 23, 26, 29,
//! 39, 40.)

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use logist_conformance::{Fixture, LONG};
use logist_core::{
    CommandLine, Environment, Error, ExitStatus, ProcessId, Runtime, SpawnRequest, StdinMode,
    TerminalSize,
};
use logist_runtime_host::HostRuntime;

use logist_testing::{alone, eventually, rss_kb, test_name};

use crate::fixture::{HostFixture, pid_alive};
use logist_testing::processes_with_env;

fn sh(script: &str) -> SpawnRequest {
    SpawnRequest::new(CommandLine::new(["sh", "-c", script]).unwrap())
}

fn cmd(argv: &[&str]) -> SpawnRequest {
    SpawnRequest::new(CommandLine::new(argv.iter().copied()).unwrap())
}

#[track_caller]
fn read_until(rt: &dyn Runtime, id: &ProcessId, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + LONG;
    loop {
        let text = rt.get_logs(id, None).unwrap().text().into_owned();
        if done(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "timed out; output so far: {text:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn pids(text: &str) -> Vec<u32> {
    text.split_whitespace()
        .filter_map(|word| word.strip_prefix("pid="))
        .filter_map(|pid| pid.parse().ok())
        .collect()
}

/// Checks at the end of a test that the runtime's drop left nothing.
struct Scope {
    fixture: HostFixture,
}

impl Scope {
    fn new() -> Self {
        Self {
            fixture: HostFixture::new(),
        }
    }
    fn with(builder: logist_runtime_host::HostRuntimeBuilder) -> Self {
        Self {
            fixture: HostFixture::with(builder),
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut left = self.fixture.leftovers();
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            left = self.fixture.leftovers();
        }
        if !std::thread::panicking() {
            assert!(left.is_empty(), "left running: {left:?}");
        }
    }
}

/// Starts a run whose child double-forks into a new session with a
/// cleared environment (no cookie), waits for that escapee, lets the run
/// end, drops the runtime and says whether the escapee is still alive (and
/// kills it if so).
fn escapee_survives_drop(builder: logist_runtime_host::HostRuntimeBuilder) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("escapee.pid");
    let rt = builder.build().unwrap();
    let script = format!(
        "setsid env -i sh -c 'trap \"\" TERM; echo $$ > {0}.tmp; mv {0}.tmp {0}; exec sleep 300' >/dev/null 2>&1 & echo forked",
        file.display()
    );
    let id = rt.spawn(&sh(&script)).unwrap();
    eventually("the escapee wrote its pid", || file.exists());
    let pid: u32 = std::fs::read_to_string(&file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pid_alive(pid));
    assert_eq!(
        rt.wait(&id, Some(LONG)).unwrap().status,
        ExitStatus::Code(0)
    );
    drop(rt);
    let survived = pid_alive(pid);
    if survived {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    survived
}

/// Hazard 4's hard case, closed by the keeper: a descendant that clears
/// its environment and double-forks into a new session carries no cookie,
/// but it is re-parented to the keeper, which stops it when the runtime is
/// dropped. Without the keeper it survives (the limit the keeper removes).
#[test]
fn h04_an_escapee_without_the_cookie_dies_with_the_runtime() {
    assert!(
        !escapee_survives_drop(HostRuntime::builder()),
        "the escapee outlived the runtime"
    );
    assert!(
        escapee_survives_drop(HostRuntime::builder().keeper(false)),
        "without the keeper the escapee cannot be found (or this test proves nothing)"
    );
}

/// Starts a long sleep; returns its id, its pid and the keeper's pid.
fn sleeper_and_keeper(rt: &HostRuntime) -> (ProcessId, u32, nix::unistd::Pid) {
    let id = rt.spawn(&sh("echo pid=$$; exec sleep 300")).unwrap();
    let pid = pids(&read_until(rt, &id, |text| text.contains("pid=")))[0];
    let keeper = rt.keeper_pid().expect("the default runtime has a keeper");
    (id, pid, nix::unistd::Pid::from_raw(keeper as i32))
}

/// A polite signal to the keeper (`pkill` of the owner's name reaches it
/// too) changes nothing: the owner stops its children, with their grace.
#[test]
fn the_keeper_ignores_polite_signals() {
    let scope = Scope::new();
    let rt = scope.fixture.host();
    let (id, pid, keeper) = sleeper_and_keeper(&rt);
    for signal in [
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGHUP,
    ] {
        nix::sys::signal::kill(keeper, signal).unwrap();
    }
    // An ignored signal is discarded when sent; a start through the keeper
    // then proves it is still there.
    let next = rt.spawn(&cmd(&["true"])).unwrap();
    assert!(rt.wait(&next, Some(LONG)).unwrap().status.success());
    assert!(pid_alive(pid) && rt.is_alive(&id).unwrap());
    let comm = std::fs::read_to_string(format!("/proc/{keeper}/comm")).unwrap();
    assert_eq!(comm.trim(), "logist-keeper");
    rt.terminate(&id, true).unwrap();
}

/// The keeper killed on its own: the child it started is stopped (nothing
/// runs unsupervised), its status is reported lost (-1), a new spawn is a
/// clear error, and dropping the runtime neither hangs nor leaves anything.
#[test]
fn a_killed_keeper_leaves_nothing_running_and_nothing_hanging() {
    let scope = Scope::new();
    let rt = scope.fixture.host();
    let (id, pid, keeper) = sleeper_and_keeper(&rt);
    nix::sys::signal::kill(keeper, nix::sys::signal::Signal::SIGKILL).unwrap();
    let done = rt.wait(&id, Some(LONG)).unwrap();
    assert_eq!(done.status, ExitStatus::Code(-1));
    eventually("the unsupervised child is stopped", || !pid_alive(pid));
    let error = rt.spawn(&cmd(&["true"])).unwrap_err();
    let chain = logist_core::error_chain(&error).to_string();
    assert!(
        matches!(error, Error::Spawn { .. }) && chain.contains("keeper process has exited"),
        "{chain}"
    );
}

#[test]
fn h05_fork_loop_is_killed_completely() {
    let scope = Scope::new();
    let rt = scope.fixture.host();
    let id = rt.spawn(&sh("while :; do sleep 300 & done")).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(rt.terminate(&id, true).unwrap());
    let cookie = format!("{}=", rt.cookie_name());
    eventually("nothing of the loop is left", || {
        processes_with_env(std::slice::from_ref(&cookie)).is_empty()
    });
}

#[test]
fn h08_blocked_term_in_the_spawning_thread_is_not_inherited() {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
    let scope = Scope::new();
    let rt = scope.fixture.host();
    let id = std::thread::scope(|s| {
        s.spawn(|| {
            let mut blocked = SigSet::empty();
            blocked.add(Signal::SIGTERM);
            pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&blocked), None).unwrap();
            rt.spawn(&cmd(&["sleep", "300"]).grace(LONG)).unwrap()
        })
        .join()
        .unwrap()
    });
    rt.terminate(&id, false).unwrap();
    // SIGTERM, not the SIGKILL that would follow a masked SIGTERM.
    assert_eq!(
        rt.wait(&id, Some(LONG)).unwrap().status,
        ExitStatus::Signal(15)
    );
}

#[test]
fn h11_terminate_right_after_spawn_never_hits_us() {
    let scope = Scope::new();
    let rt = scope.fixture.host();
    for _ in 0..200 {
        let id = rt.spawn(&cmd(&["sleep", "10"])).unwrap();
        rt.terminate(&id, true).unwrap();
        assert_eq!(
            rt.wait(&id, Some(LONG)).unwrap().status,
            ExitStatus::Signal(9)
        );
        rt.remove(&id).unwrap();
    }
}

#[test]
fn h12_exited_children_leave_no_zombies() {
    let scope = Scope::new();
    let rt = scope.fixture.host();
    let ids: Vec<ProcessId> = (0..200)
        .map(|_| rt.spawn(&cmd(&["true"])).unwrap())
        .collect();
    eventually("all exited", || {
        ids.iter().all(|id| !rt.is_alive(id).unwrap())
    });
    // Only this runtime's children count: other tests running beside this
    // one in the same process (under `cargo test`) have children of their
    // own, which may be zombies for an instant before their runtime reaps
    // them.
    let me = std::process::id();
    let zombies: Vec<u32> = ids
        .iter()
        .map(|id| rt.info(id).unwrap().pid.expect("a host process has a pid"))
        .filter(|&pid| {
            logist_testing::Stat::of(pid).is_some_and(|stat| stat.state == 'Z' && stat.ppid == me)
        })
        .collect();
    assert!(zombies.is_empty(), "zombie children: {zombies:?}");
}

#[test]
fn h15_is_alive_never_consumes_the_status() {
    let scope = Scope::new();
    let rt = scope.fixture.host();
    let id = rt.spawn(&sh("exit 7")).unwrap();
    eventually("exited", || !rt.is_alive(&id).unwrap());
    assert_eq!(
        rt.wait(&id, Some(LONG)).unwrap().status,
        ExitStatus::Code(7)
    );
    assert_eq!(
        rt.wait(&id, Some(LONG)).unwrap().status,
        ExitStatus::Code(7)
    );
}

#[test]
fn h17_is_alive_agrees_with_a_returned_wait() {
    let scope = Scope::new();
    let rt = scope.fixture.host();
    for _ in 0..200 {
        let id = rt.spawn(&cmd(&["true"])).unwrap();
        std::thread::scope(|s| {
            let poller = s.spawn(|| while rt.is_alive(&id).unwrap() {});
            rt.wait(&id, Some(LONG)).unwrap();
            assert!(!rt.is_alive(&id).unwrap(), "alive after wait returned");
            poller.join().unwrap();
        });
        rt.remove(&id).unwrap();
    }
}

#[test]
fn h20_short_lived_children_are_not_reported_as_leaky() {
    let scope = Scope::new();
    let rt = scope.fixture.host();
    let ids: Vec<ProcessId> = (0..64)
        .map(|_| rt.spawn(&cmd(&["true"])).unwrap())
        .collect();
    for id in &ids {
        assert!(
            !rt.wait(id, Some(LONG)).unwrap().output_leaked,
            "{id} flagged leaky"
        );
    }
}

#[test]
fn h19_output_of_a_leaked_descendant_is_still_collected() {
    let scope = Scope::with(HostRuntime::builder().leak_window(Duration::from_millis(100)));
    let rt = scope.fixture.host();
    let id = rt
        .spawn(&sh("(sleep 0.5; echo late) & echo early"))
        .unwrap();
    let done = rt.wait(&id, Some(LONG)).unwrap();
    assert!(done.output_leaked);
    assert_eq!(done.logs.text(), "early\n");
    read_until(&rt, &id, |text| text == "early\nlate\n");
}

#[test]
fn h21_children_die_with_the_owning_program() {
    let example = crate::fixture::example("run");
    let _scope = Scope::new();
    #[expect(
        clippy::disallowed_methods,
        reason = "runs the example program that owns the runtime"
    )]
    let mut owner = std::process::Command::new(example)
        .args(["sh", "-c", "echo pid=$$; exec sleep 300"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(owner.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let pid = pids(&line)[0];
    assert!(pid_alive(pid));
    owner.kill().unwrap();
    owner.wait().unwrap();
    eventually("the child of the killed owner is gone", || !pid_alive(pid));
}

#[test]
fn h22_children_outlive_the_thread_that_spawned_them() {
    let scope = Scope::with(
        HostRuntime::builder()
            .keeper(false)
            .kill_on_parent_death(true),
    );
    let rt = scope.fixture.host();
    let id = std::thread::scope(|s| {
        s.spawn(|| rt.spawn(&cmd(&["sleep", "300"])).unwrap())
            .join()
            .unwrap()
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        rt.is_alive(&id).unwrap(),
        "killed when its spawning thread ended"
    );
    rt.terminate(&id, true).unwrap();
}

#[test]
fn h24_reader_survives_invalid_bytes_and_floods() {
    let scope = Scope::with(HostRuntime::builder().output_cap(64 * 1024));
    let rt = scope.fixture.host();
    let id = rt
        .spawn(&sh(
            "printf '\\377\\376'; head -c 1048576 /dev/zero; echo end",
        ))
        .unwrap();
    let done = rt.wait(&id, Some(LONG)).unwrap();
    assert!(done.status.success());
    assert_eq!(
        done.logs.len() as u64 + done.logs.dropped(),
        2 + 1_048_576 + 4
    );
    assert!(done.logs.bytes().ends_with(b"\0end\n"));
}

/// New output wakes blocked readers (not only their timeout), while a
/// thread in `wait` sleeps on until the exit.
#[test]
fn output_wakes_readers_and_the_exit_wakes_waiters() {
    let scope = Scope::new();
    let rt = scope.fixture.host();
    let id = rt
        .spawn(&sh("read x; echo \"$x\"; read y; exit 0").stdin(StdinMode::Piped))
        .unwrap();
    std::thread::scope(|threads| {
        let waiter = threads.spawn(|| rt.wait(&id, Some(LONG)).unwrap());
        let readers: Vec<_> = (0..2)
            .map(|_| {
                threads.spawn(|| {
                    let started = Instant::now();
                    let read = rt.read_output(&id, 0, Some(LONG)).unwrap();
                    (read, started.elapsed())
                })
            })
            .collect();
        rt.write_stdin(&id, b"hi\n").unwrap();
        for reader in readers {
            let (read, took) = reader.join().unwrap();
            assert_eq!(read.chunks[0].data, b"hi\n");
            assert!(took < LONG / 2, "woken by the output, not the timeout");
        }
        assert!(!waiter.is_finished() && rt.is_alive(&id).unwrap());
        rt.close_stdin(&id).unwrap();
        let done = waiter.join().unwrap();
        assert!(done.status.success());
    });
}

#[test]
fn h28_endless_output_keeps_memory_bounded_and_the_child_running() {
    // Resident memory is the whole process's: measured alone, so that
    // tests running beside it do not count.
    let name = test_name(
        module_path!(),
        "h28_endless_output_keeps_memory_bounded_and_the_child_running",
    );
    if !alone(&name) {
        return;
    }
    let scope = Scope::with(HostRuntime::builder().output_cap(1024 * 1024));
    let rt = scope.fixture.host();
    let before = rss_kb();
    let id = rt.spawn(&cmd(&["yes", "logist endless output"])).unwrap();
    eventually("200 MB went through", || {
        // A complete tail misses nothing; the whole log counts the drops.
        rt.get_logs(&id, None).unwrap().dropped() > 200_000_000
    });
    assert!(
        rt.is_alive(&id).unwrap(),
        "the child keeps running: its pipe is drained"
    );
    let grown_mib = rss_kb().saturating_sub(before) / 1024;
    assert!(grown_mib < 32, "memory grew by {grown_mib} MiB");
    let tail = rt.get_logs(&id, Some(3)).unwrap();
    assert!(
        tail.text()
            .lines()
            .all(|line| line.is_empty() || line == "logist endless output")
    );
    rt.terminate(&id, false).unwrap();
}

#[test]
fn h30_children_inherit_no_descriptor_of_other_children() {
    let scope = Scope::new();
    let rt = scope.fixture.host();
    let cat = rt.spawn(&cmd(&["cat"]).stdin(StdinMode::Piped)).unwrap();
    let sleeper = rt.spawn(&cmd(&["sleep", "300"])).unwrap();
    let pid = rt.info(&sleeper).unwrap().pid.unwrap();
    rt.close_stdin(&cat).unwrap();
    assert!(
        rt.wait(&cat, Some(LONG)).unwrap().status.success(),
        "cat saw end-of-file"
    );
    // Right after exec starts, the kernel has not yet closed the child's
    // close-on-exec descriptors; a leaked descriptor would stay forever.
    eventually("the sleeper holds only stdin, stdout and stderr", || {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count()
            == 3
    });
    rt.terminate(&sleeper, true).unwrap();
}

#[test]
fn h31_writing_to_a_child_that_stopped_reading_is_an_error_not_a_crash() {
    let scope = Scope::new();
    let rt = scope.fixture.host();
    let id = rt
        .spawn(&cmd(&["head", "-c1"]).stdin(StdinMode::Piped))
        .unwrap();
    let result = rt.write_stdin(&id, &vec![b'x'; 1024 * 1024]);
    assert!(
        matches!(result, Err(Error::StdinClosed { .. })),
        "{result:?}"
    );
    let done = rt.wait(&id, Some(LONG)).unwrap();
    assert!(done.status.success());
    assert_eq!(done.logs.text(), "x");
}

fn pty(rt: &dyn Runtime, script: &str) -> ProcessId {
    let request = sh(script).terminal(TerminalSize {
        rows: 33,
        cols: 101,
    });
    rt.spawn(&request).unwrap()
}

#[test]
fn h32_pseudo_terminal_output_ends_cleanly() {
    let scope = Scope::new();
    let rt = scope.fixture.host();
    let id = pty(&rt, "echo hi");
    let done = rt.wait(&id, Some(LONG)).unwrap();
    assert!(done.status.success());
    assert_eq!(done.logs.text(), "hi\r\n");
}

#[test]
fn h33_pseudo_terminal_is_a_real_terminal() {
    let scope = Scope::new();
    let rt = scope.fixture.host();
    let id = pty(
        &rt,
        "stty size; tty >/dev/null && echo is-a-tty; printf 'Proceed? [y/N]: '; read x; echo \"got $x\"",
    );
    read_until(&rt, &id, |text| text.ends_with("[y/N]: "));
    rt.write_stdin(&id, b"yes\n").unwrap();
    let done = rt.wait(&id, Some(LONG)).unwrap();
    let text = done.logs.text();
    assert!(text.starts_with("33 101\r\nis-a-tty\r\n"), "{text:?}");
    // The terminal echoes what was typed, then the program answers.
    assert!(text.ends_with("yes\r\ngot yes\r\n"), "{text:?}");
}

#[test]
fn h33_resizing_a_terminal_signals_the_program() {
    let scope = Scope::new();
    let rt = scope.fixture.host();
    let id = pty(
        &rt,
        "trap 'stty size; exit' WINCH; printf 'ready\\n'; while :; do sleep 0.01; done",
    );
    read_until(&rt, &id, |text| text.contains("ready"));
    rt.resize_terminal(
        &id,
        TerminalSize {
            rows: 40,
            cols: 120,
        },
    )
    .unwrap();
    let done = rt.wait(&id, Some(LONG)).unwrap();
    assert!(
        done.logs.text().ends_with("40 120\r\n"),
        "{:?}",
        done.logs.text()
    );
    let gone = rt.resize_terminal(&id, TerminalSize::default());
    assert!(gone.is_err(), "{gone:?}");
}

#[test]
fn h33_closing_a_terminal_sends_end_of_file() {
    let scope = Scope::new();
    let rt = scope.fixture.host();
    let id = pty(&rt, "cat >/dev/null; echo eof");
    std::thread::sleep(Duration::from_millis(50));
    rt.close_stdin(&id).unwrap();
    let done = rt.wait(&id, Some(LONG)).unwrap();
    assert!(
        done.logs.text().ends_with("eof\r\n"),
        "{:?}",
        done.logs.text()
    );
}

#[test]
fn h34_pseudo_terminal_flood_without_readers_does_not_hang() {
    let scope = Scope::new();
    let rt = scope.fixture.host();
    let id = pty(&rt, "seq 1 200000");
    let done = rt.wait(&id, Some(LONG)).unwrap();
    assert!(done.status.success());
    assert!(done.logs.text().ends_with("199999\r\n200000\r\n"));
}

#[test]
fn h37_a_clean_environment_keeps_our_variables_out() {
    let scope = Scope::new();
    let rt = scope.fixture.host();
    // nextest and cargo set CARGO_* variables in this test process.
    let ours = std::env::vars()
        .map(|(k, _)| k)
        .find(|k| k.starts_with("CARGO"))
        .expect("a CARGO variable");
    let run = |env: Environment| {
        let id = rt.spawn(&cmd(&["env"]).env(env)).unwrap();
        rt.wait(&id, Some(LONG)).unwrap().logs.text().into_owned()
    };
    assert!(run(Environment::inherit()).contains(&format!("{ours}=")));
    let clean = run(Environment::clean());
    assert!(!clean.contains(&format!("{ours}=")), "{clean}");
    // Only the tree cookie is added by the runtime.
    let lines: Vec<&str> = clean.lines().collect();
    assert_eq!(lines.len(), 1, "{clean}");
    assert!(lines[0].starts_with(&format!("{}=", rt.cookie_name())));
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn h38_secrets_never_reach_our_logs_or_the_argv() {
    let scope = Scope::new();
    let rt = scope.fixture.host();
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let env = Environment::clean().set("TOKEN", "s3cr3t-value");
        let id = rt.spawn(&cmd(&["sleep", "300"]).env(env)).unwrap();
        let pid = rt.info(&id).unwrap().pid.unwrap();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        assert!(!String::from_utf8_lossy(&cmdline).contains("s3cr3t"));
        rt.terminate(&id, false).unwrap();
        rt.remove(&id).unwrap();
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("spawned"), "tracing was captured: {logs}");
    assert!(!logs.contains("s3cr3t"), "{logs}");
}

#[test]
fn h41_wait_timeouts_count_wall_clock_time_while_stopped() {
    let scope = Scope::new();
    let rt = scope.fixture.host();
    let id = rt.spawn(&cmd(&["sleep", "300"])).unwrap();
    let pid = rt.info(&id).unwrap().pid.unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .unwrap();
    let started = Instant::now();
    assert!(matches!(
        rt.wait(&id, Some(Duration::from_millis(200))),
        Err(Error::WaitTimeout { .. })
    ));
    assert!(
        started.elapsed() < LONG / 2,
        "the documented policy is wall-clock time"
    );
    rt.terminate(&id, false).unwrap();
    assert!(!rt.is_alive(&id).unwrap());
}

#[test]
fn h44_drop_while_panicking_stops_a_stubborn_child_in_bounded_time() {
    let scope = Scope::new();
    let grace = Duration::from_millis(300);
    let pid = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&pid);
    let rt = scope.fixture.host();
    let started = Arc::new(Mutex::new(None));
    let drop_started = Arc::clone(&started);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let id = rt
            .spawn(&sh("trap '' TERM; echo pid=$$; while :; do sleep 1; done").grace(grace))
            .unwrap();
        let text = read_until(&rt, &id, |text| !pids(text).is_empty());
        *seen.lock().unwrap() = Some(pids(&text)[0]);
        *drop_started.lock().unwrap() = Some(Instant::now());
        panic!("the owner panics with a child running");
    }));
    assert!(result.is_err());
    let took = started.lock().unwrap().unwrap().elapsed();
    assert!(took < LONG / 2, "drop during unwinding took {took:?}");
    assert!(!pid_alive(pid.lock().unwrap().unwrap()));
}

#[test]
fn h45_concurrent_spawns_from_many_threads_all_complete() {
    let scope = Scope::new();
    let rt = scope.fixture.host();
    std::thread::scope(|s| {
        // Threads that allocate heavily while others fork.
        for _ in 0..2 {
            s.spawn(|| {
                let mut blocks = Vec::new();
                for i in 0..20_000 {
                    blocks.push(vec![i as u8; 4096]);
                    if blocks.len() > 64 {
                        blocks.clear();
                    }
                }
            });
        }
        for _ in 0..16 {
            s.spawn(|| {
                for _ in 0..20 {
                    let id = rt.spawn(&cmd(&["true"])).unwrap();
                    assert!(rt.wait(&id, Some(LONG)).unwrap().status.success());
                    rt.remove(&id).unwrap();
                }
            });
        }
    });
}

#[test]
fn h46_log_directory_keeps_every_byte_beyond_the_memory_cap() {
    let scope = Scope::new();
    let dir = scope.fixture.scratch_dir();
    let fixture = HostFixture::with(HostRuntime::builder().output_cap(256 * 1024).log_dir(&dir));
    let rt = fixture.host();
    let total = 20 * 1024 * 1024;
    let id = rt
        .spawn(&sh(&format!("yes 0123456789abcdef | head -c {total}")))
        .unwrap();
    let done = rt.wait(&id, Some(LONG)).unwrap();
    assert!(done.status.success());
    assert!(done.logs.dropped() > 0, "the memory cap was exceeded");
    let file = dir.join(format!("{id}.log"));
    assert_eq!(std::fs::metadata(&file).unwrap().size(), total);
    let bytes = std::fs::read(&file).unwrap();
    assert!(
        bytes
            .chunks(17)
            .all(|line| line == b"0123456789abcdef\n"[..line.len()].as_ref())
    );
}

#[test]
fn ids_are_unique_across_threads_and_runtimes() {
    let scope = Scope::new();
    let first = scope.fixture.host();
    let second = scope.fixture.host();
    let ids = Mutex::new(std::collections::HashSet::new());
    std::thread::scope(|s| {
        for rt in [&first, &second, &first, &second] {
            let ids = &ids;
            s.spawn(move || {
                for _ in 0..25 {
                    let id = rt.spawn(&cmd(&["true"])).unwrap();
                    assert!(ids.lock().unwrap().insert(id));
                }
            });
        }
    });
    assert_eq!(ids.lock().unwrap().len(), 100);
}

#[test]
fn retention_limit_removes_the_oldest_exited_processes() {
    let scope = Scope::with(HostRuntime::builder().retain_exited(2));
    let rt = scope.fixture.host();
    let running = rt.spawn(&cmd(&["sleep", "300"])).unwrap();
    let exited: Vec<ProcessId> = (0..4)
        .map(|_| {
            let id = rt.spawn(&cmd(&["true"])).unwrap();
            rt.wait(&id, Some(LONG)).unwrap();
            id
        })
        .collect();
    // The limit is applied at the next spawn (a long runner here, so that
    // it is not itself counted among the exited).
    let last = rt.spawn(&cmd(&["sleep", "300"])).unwrap();
    let listed: Vec<ProcessId> = rt
        .list(&Default::default())
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(
        listed,
        [
            running.clone(),
            exited[2].clone(),
            exited[3].clone(),
            last.clone()
        ]
    );
    rt.terminate(&running, true).unwrap();
    rt.terminate(&last, true).unwrap();
}

#[test]
fn backpressure_never_drops_output_for_a_slow_reader() {
    let scope = Scope::with(
        HostRuntime::builder()
            .output_cap(64 * 1024)
            .backpressure(true),
    );
    let rt = scope.fixture.host();
    let total: u64 = 8 * 1024 * 1024;
    let id = rt
        .spawn(&sh(&format!("yes 0123456789abcdef | head -c {total}")))
        .unwrap();
    let mut next = 0;
    let mut received = 0u64;
    let mut reads = 0;
    loop {
        let read = rt.read_output(&id, next, Some(LONG)).unwrap();
        assert_eq!(read.missed, 0, "bytes were dropped");
        for chunk in &read.chunks {
            for (i, &byte) in chunk.data.iter().enumerate() {
                assert_eq!(
                    byte,
                    b"0123456789abcdef\n"[(chunk.offset as usize + i) % 17]
                );
            }
            received += chunk.data.len() as u64;
        }
        next = read.next;
        reads += 1;
        if reads % 16 == 0 {
            // A slow reader: the child must wait for it.
            std::thread::sleep(Duration::from_millis(2));
        }
        if read.finished {
            break;
        }
    }
    assert_eq!(received, total);
    assert!(rt.wait(&id, Some(LONG)).unwrap().status.success());
}

#[test]
fn backpressure_holds_a_child_nobody_reads_then_releases_it() {
    let cap = 256 * 1024;
    let scope = Scope::with(HostRuntime::builder().output_cap(cap).backpressure(true));
    let rt = scope.fixture.host();
    let id = rt.spawn(&cmd(&["yes", "held back"])).unwrap();
    // Nobody reads: the buffer fills to the cap and stays there.
    eventually("the buffer is full", || {
        rt.get_logs(&id, None).unwrap().len() == cap
    });
    std::thread::sleep(Duration::from_millis(100));
    let logs = rt.get_logs(&id, None).unwrap();
    assert_eq!(
        (logs.len(), logs.dropped()),
        (cap, 0),
        "nothing dropped, nothing more read"
    );
    assert!(rt.is_alive(&id).unwrap(), "the child waits on its pipe");
    // Reading releases it.
    let mut next = 0;
    while next < 4 * cap as u64 {
        next = rt.read_output(&id, next, Some(LONG)).unwrap().next;
    }
    rt.terminate(&id, false).unwrap();
}
