//! Durable runs from the command line: `ps`, `logs`, `wait`, `stop`, `rm`,
//! `attach`, and `run|exec --detach`. Each test has its own state
//! directory (`LOGIST_STATE_DIR`). Runs are started either with
//! `exec --detach` or, to test the commands on their own, straight through
//! `logist-monitor` with this `logist` as the monitor (`logist __monitor`).

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use logist_monitor::{Client, MonitorProgram, Ownership, RunSpec, StateDir};
use logist_testing::{NoSurvivors, TEST_TAG_ENV};
use serde_json::Value;
use tempfile::TempDir;

use crate::{LOGIST, LONG, alive, code, eventually, logist, text, wait};

/// A test's state directory and its guard.
struct Fixture {
    guard: NoSurvivors,
    dir: TempDir,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // A supervisor or monitor that just let go of its lock may take a
        // moment to exit; one that stays is caught by the guard.
        if !std::thread::panicking() {
            logist_testing::eventually_within(
                Duration::from_secs(10),
                "the runs' processes exit",
                || self.guard.survivors().is_empty(),
            );
        }
    }
}

impl Fixture {
    fn new() -> Self {
        Self {
            guard: NoSurvivors::new(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn state(&self) -> &Path {
        self.dir.path()
    }

    /// A `logist` command on this state directory.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = logist(&self.guard, args);
        command.env("LOGIST_STATE_DIR", self.state());
        command
    }

    /// Runs `logist ARGS` to the end, output captured.
    fn run(&self, args: &[&str]) -> Output {
        crate::run_to_end(&mut self.command(args), None)
    }

    /// Starts `argv` as a durable run through the monitor library, with
    /// `logist __monitor` as the monitor; returns its id.
    fn start(&self, argv: &[&str], stdin_piped: bool) -> String {
        self.start_on(argv, stdin_piped, None)
    }

    /// As [`start`](Self::start), on a pseudo-terminal of this size.
    fn start_on(&self, argv: &[&str], stdin_piped: bool, terminal: Option<(u16, u16)>) -> String {
        let state = StateDir::open(self.state()).unwrap();
        let id = logist_monitor::new_run_id();
        let spec = RunSpec {
            argv: argv.iter().map(|a| (*a).to_owned()).collect(),
            cwd: None,
            terminal,
            stdin_piped,
            ownership: Ownership::Durable,
            grace: Duration::from_secs(5),
            leak_window: Duration::from_millis(200),
            segment_bytes: 1 << 20,
            created_unix_ms: 1_796_660_401_123,
            labels: Default::default(),
        };
        let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
            .filter(|(name, _)| name != TEST_TAG_ENV)
            .collect();
        env.push((TEST_TAG_ENV.into(), self.guard.tag().into()));
        let program = MonitorProgram::new(LOGIST).arg("__monitor");
        logist_monitor::start(&state, &program, &id, &spec, &env).unwrap();
        id
    }

    /// Starts `logist exec --detach ARGS`; returns the id it printed.
    fn detach(&self, args: &[&str]) -> String {
        let mut all = vec!["exec", "--detach"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert_eq!(code(&out), 0, "{}", text(&out.stderr));
        let id = text(&out.stdout);
        assert_eq!(id.lines().count(), 1, "one line: {id:?}");
        id.trim().to_owned()
    }

    fn ps(&self, all: bool) -> Vec<Value> {
        let mut args = vec!["ps", "--json"];
        if all {
            args.push("--all");
        }
        let out = self.run(&args);
        assert_eq!(code(&out), 0, "{}", text(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    fn entry(&self, id: &str) -> Value {
        self.ps(true)
            .into_iter()
            .find(|run| run["id"] == id)
            .unwrap_or_else(|| panic!("{id} is not listed"))
    }

    /// `logist wait ID`'s exit code.
    fn wait(&self, id: &str) -> i32 {
        let out = self.run(&["wait", id]);
        code(&out)
    }

    /// Writes to the run's stdin through its monitor.
    fn write_stdin(&self, id: &str, bytes: &[u8]) {
        let run = StateDir::open(self.state()).unwrap().run(id).unwrap();
        Client::connect(&run).unwrap().write_stdin(bytes).unwrap();
    }
}

#[test]
fn ps_shows_running_exited_lost_and_damaged_runs() {
    let fx = Fixture::new();
    let running = fx.start(&["sleep", "1000"], false);
    let exited = fx.start(&["sh", "-c", "exit 3"], false);
    let signalled = fx.start(&["sh", "-c", "kill -TERM $$"], false);
    let lost = fx.start(&["sleep", "1000"], false);
    std::fs::create_dir_all(fx.state().join("runs/broken")).unwrap();
    std::fs::write(
        fx.state().join("runs/broken/spec.json"),
        "{\"layout\": 1, \"ar",
    )
    .unwrap();
    assert_eq!(fx.wait(&exited), 3);
    assert_eq!(fx.wait(&signalled), 143);
    // A monitor killed without recording the exit: the run is lost.
    let monitor: Value = serde_json::from_slice(
        &std::fs::read(fx.state().join("runs").join(&lost).join("monitor.json")).unwrap(),
    )
    .unwrap();
    let monitor_pid = monitor["monitor_pid"].as_i64().unwrap() as i32;
    let run_pid = monitor["run_pid"].as_u64().unwrap() as u32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor_pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    eventually("the lost run's program dies with its monitor", || {
        !alive(run_pid)
    });

    let listed: Vec<Value> = fx.ps(false);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], running.as_str());
    assert_eq!(listed[0]["state"], "running");
    assert_eq!(listed[0]["command"], serde_json::json!(["sleep", "1000"]));
    assert_eq!(listed[0]["started"], "2026-12-07T16:20:01.123Z");
    assert!(listed[0]["pid"].as_u64().is_some());
    assert_eq!(listed[0]["exit"], Value::Null);

    let all = fx.ps(true);
    assert_eq!(all.len(), 5, "{all:?}");
    let by_id = |id: &str| all.iter().find(|run| run["id"] == id).unwrap().clone();
    assert_eq!(by_id(&exited)["state"], "exited");
    assert_eq!(by_id(&exited)["exit"], serde_json::json!({"code": 3}));
    assert_eq!(by_id(&signalled)["exit"], serde_json::json!({"signal": 15}));
    assert_eq!(by_id(&lost)["state"], "lost");
    assert_eq!(by_id(&lost)["exit"], Value::Null);
    assert_eq!(by_id("broken")["state"], "damaged");
    assert!(
        by_id("broken")["error"]
            .as_str()
            .unwrap()
            .contains("spec.json"),
        "{all:?}"
    );
    // A lost run has its own exit code, never an invented one.
    let out = fx.run(&["wait", &lost]);
    assert_eq!(code(&out), 121);
    assert!(
        text(&out.stderr).contains("is lost"),
        "{}",
        text(&out.stderr)
    );

    // The table: a header and a line per run.
    let out = fx.run(&["ps", "--all"]);
    assert_eq!(code(&out), 0);
    let table = text(&out.stdout);
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains("sh -c 'exit 3'"), "{table}");
    assert!(table.contains("SIGTERM"), "{table}");
    assert_eq!(table.lines().count(), 6, "{table}");

    assert_eq!(code(&fx.run(&["stop", "--force", &running])), 0);
    assert_eq!(fx.entry(&running)["exit"], serde_json::json!({"signal": 9}));
}

#[test]
fn logs_are_the_exact_bytes_on_their_own_streams() {
    let fx = Fixture::new();
    let id = fx.start(
        &[
            "sh",
            "-c",
            r"printf 'a\000\377b\n'; printf 'oops\n' >&2; seq 1 10",
        ],
        false,
    );
    assert_eq!(fx.wait(&id), 0);
    let out = fx.run(&["logs", &id]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let mut expected = b"a\0\xffb\n".to_vec();
    for n in 1..=10 {
        expected.extend_from_slice(format!("{n}\n").as_bytes());
    }
    assert_eq!(out.stdout, expected);
    assert_eq!(out.stderr, b"oops\n");

    // The last lines of both streams together (which of two pipes the
    // monitor reads first is not fixed, so this run writes to one).
    let id = fx.start(&["sh", "-c", "seq 1 10; printf eleven"], false);
    assert_eq!(fx.wait(&id), 0);
    let out = fx.run(&["logs", "--tail", "2", &id]);
    assert_eq!(text(&out.stdout), "10\neleven");
    let out = fx.run(&["logs", "--tail", "0", &id]);
    assert_eq!(out.stdout, b"");
    let out = fx.run(&["logs", "--tail", "100", &id]);
    assert_eq!(out.stdout.len(), 27);
    let id = fx.start(&["seq", "1", "10"], false);
    assert_eq!(fx.wait(&id), 0);
    let out = fx.run(&["logs", "--tail", "2", &id]);
    assert_eq!(text(&out.stdout), "9\n10\n");
}

#[test]
fn logs_follow_prints_as_it_comes_and_ends_with_the_run() {
    let fx = Fixture::new();
    let id = fx.start(&["sh", "-c", "echo one; read x; echo two; exit 4"], true);
    let mut child = fx
        .command(&["logs", "--follow", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (send, seen) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0; 64];
        while let Ok(n @ 1..) = stdout.read(&mut buf) {
            let _ = send.send(buf[..n].to_vec());
        }
    });
    let mut got = Vec::new();
    while !got.ends_with(b"one\n") {
        got.extend(seen.recv_timeout(LONG).expect("`one` in time"));
    }
    // Still following: the run waits for its input.
    assert!(child.try_wait().unwrap().is_none());
    fx.write_stdin(&id, b"go\n");
    let status = wait(&mut child);
    assert_eq!(status.code(), Some(0), "--follow exits 0 when the run ends");
    while let Ok(more) = seen.recv_timeout(Duration::from_secs(5)) {
        got.extend(more);
    }
    assert_eq!(text(&got), "one\ntwo\n");
    assert_eq!(fx.wait(&id), 4);
}

#[test]
fn stop_kills_a_tree_that_ignores_sigterm() {
    let fx = Fixture::new();
    let script = "trap '' TERM; sh -c \"trap '' TERM; sleep 1000\" & echo $!; wait";
    for (flags, signal) in [(&["--grace", "0.2"][..], 9), (&["--force"][..], 9)] {
        let id = fx.start(&["sh", "-c", script], false);
        // The child's pid, printed by the run.
        let mut child_pid = String::new();
        eventually("the run printed its child's pid", || {
            child_pid = text(&fx.run(&["logs", &id]).stdout).trim().to_owned();
            !child_pid.is_empty()
        });
        let child_pid: u32 = child_pid.parse().unwrap();
        let mut args = vec!["stop"];
        args.extend_from_slice(flags);
        args.push(&id);
        let out = fx.run(&args);
        assert_eq!(code(&out), 0, "{}", text(&out.stderr));
        // `stop` returns once the whole tree is gone.
        assert!(!alive(child_pid), "{flags:?}");
        assert_eq!(fx.entry(&id)["exit"], serde_json::json!({"signal": signal}));
        assert_eq!(fx.wait(&id), 128 + signal);
        // Stopping a run that ended is not an error.
        let out = fx.run(&["stop", &id]);
        assert_eq!(code(&out), 0);
        assert!(text(&out.stderr).contains("is not running"));
    }
}

#[test]
fn rm_is_refused_while_the_run_runs() {
    let fx = Fixture::new();
    let id = fx.start(&["sleep", "1000"], false);
    let out = fx.run(&["rm", &id]);
    assert_eq!(code(&out), 1);
    assert!(
        text(&out.stderr).contains(&format!("run `{id}` is running")),
        "{}",
        text(&out.stderr)
    );
    assert!(fx.state().join("runs").join(&id).exists());
    // --force stops it, then removes it.
    let out = fx.run(&["rm", "--force", &id]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(!fx.state().join("runs").join(&id).exists());

    let done = fx.start(&["true"], false);
    assert_eq!(fx.wait(&done), 0);
    assert_eq!(code(&fx.run(&["rm", &done])), 0);
    assert!(fx.ps(true).is_empty());
}

#[test]
fn an_unknown_id_is_named_with_the_state_directory() {
    let fx = Fixture::new();
    for command in ["logs", "wait", "stop", "rm", "attach"] {
        let out = fx.run(&[command, "nosuchrun"]);
        assert_eq!(code(&out), 2, "{command}");
        let expected = format!(
            "logist: error: no run with id `nosuchrun` in `{}`\n",
            fx.state().display()
        );
        assert_eq!(text(&out.stderr), expected, "{command}");
    }
    let out = fx.run(&["logs", "../x"]);
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).contains("invalid run id `../x`"));
}

#[test]
fn the_state_directory_comes_from_the_flag_the_variable_or_xdg() {
    let fx = Fixture::new();
    let other = tempfile::tempdir().unwrap();
    // --state-dir wins over LOGIST_STATE_DIR.
    let out = fx.run(&["--state-dir", other.path().to_str().unwrap(), "ps"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(other.path().join("layout").exists());
    assert!(!fx.state().join("layout").exists());
    // A relative directory is the same for the monitors, which run in `/`.
    let cwd = tempfile::tempdir().unwrap();
    let out = fx
        .command(&["--state-dir", "relative", "exec", "--detach", "--", "true"])
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_owned();
    let out = fx
        .command(&["--state-dir", "relative", "wait", &id])
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        cwd.path()
            .join("relative/runs")
            .join(&id)
            .join("exit.json")
            .exists()
    );
    // XDG_STATE_HOME/logist without either.
    let xdg = tempfile::tempdir().unwrap();
    let out = logist(&fx.guard, &["ps"])
        .env_remove("LOGIST_STATE_DIR")
        .env("XDG_STATE_HOME", xdg.path())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(xdg.path().join("logist/layout").exists());
    // Nowhere to put it.
    let out = logist(&fx.guard, &["ps"])
        .env_remove("LOGIST_STATE_DIR")
        .env_remove("XDG_STATE_HOME")
        .env_remove("HOME")
        .output()
        .unwrap();
    assert_eq!(code(&out), 125);
    assert!(
        text(&out.stderr).contains("HOME is not set"),
        "{}",
        text(&out.stderr)
    );
    // Not a directory that can be made.
    let out = fx.run(&["--state-dir", "/dev/null/logist", "ps"]);
    assert_eq!(code(&out), 125);
    assert!(
        text(&out.stderr).contains("cannot use the state directory `/dev/null/logist`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn attach_relays_stdin_and_output_and_ends_with_the_run() {
    let fx = Fixture::new();
    let id = fx.start(&["sh", "-c", "echo before; cat; exit 5"], true);
    eventually("the run printed", || {
        text(&fx.run(&["logs", &id]).stdout) == "before\n"
    });
    // The end of its input closes the run's stdin, and cat ends.
    let out = crate::run_to_end(&mut fx.command(&["attach", &id]), Some(b"hello\x00\xff\n"));
    assert_eq!(code(&out), 5, "{}", text(&out.stderr));
    // From the log's end when attached: not what came before.
    assert_eq!(out.stdout, b"hello\x00\xff\n");
    // --replay: the whole log.
    let out = fx.run(&["attach", "--replay", &id]);
    assert_eq!(code(&out), 5);
    assert_eq!(out.stdout, b"before\nhello\x00\xff\n");
}

#[test]
fn detach_prints_the_id_and_the_run_goes_on() {
    let fx = Fixture::new();
    let id = fx.detach(&[
        "--",
        "sh",
        "-c",
        "echo started; read x; echo \"got $x\" >&2; exit 6",
    ]);
    // The foreground has returned; the run goes on, waiting for input.
    let listed = fx.ps(false);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["state"], "running");
    eventually("the run printed", || {
        text(&fx.run(&["logs", &id]).stdout) == "started\n"
    });
    fx.write_stdin(&id, b"it\n");
    assert_eq!(fx.wait(&id), 6);
    let out = fx.run(&["logs", &id]);
    assert_eq!(text(&out.stdout), "started\n");
    assert_eq!(text(&out.stderr), "got it\n");
    let entry = fx.entry(&id);
    assert_eq!(entry["state"], "exited");
    assert_eq!(entry["exit"], serde_json::json!({"code": 6}));
    assert_eq!(entry["outcome"], "failed");
    assert_eq!(entry["exit_code"], 6);
}

#[test]
fn a_timeout_is_enforced_while_detached() {
    let fx = Fixture::new();
    let id = fx.detach(&["--timeout", "1s", "--grace", "0.2", "--", "sleep", "100"]);
    assert_eq!(fx.wait(&id), 124);
    let entry = fx.entry(&id);
    assert_eq!(entry["outcome"], "timed_out");
    assert_eq!(entry["exit_code"], 124);
    assert_eq!(entry["exit"], serde_json::json!({"signal": 15}));
}

#[test]
fn a_stop_sequence_is_enforced_while_detached() {
    let fx = Fixture::new();
    let id = fx.detach(&[
        "--stop",
        "Proceed?",
        "--",
        "sh",
        "-c",
        "printf 'Proceed? '; sleep 100",
    ]);
    assert_eq!(fx.wait(&id), 122);
    assert_eq!(fx.entry(&id)["outcome"], "waiting_for_input");
}

#[test]
fn a_detached_start_that_fails_says_why_and_exits_as_run_would() {
    let fx = Fixture::new();
    let out = fx.run(&["exec", "--detach", "--", "/nonexistent/program"]);
    assert_eq!(code(&out), 127, "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("/nonexistent/program"),
        "{}",
        text(&out.stderr)
    );
    let out = fx.run(&[
        "exec",
        "--detach",
        "--runtime",
        "docker",
        "--image",
        "x",
        "--",
        "true",
    ]);
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).contains("--detach runs on the host runtime"));
}

#[test]
fn run_detach_runs_an_agent() {
    let fx = Fixture::new();
    let out = fx.run(&[
        "run",
        "--agent",
        "mock",
        "--detach",
        "--scenario",
        "exit:3",
        "--",
        "x",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_owned();
    assert_eq!(fx.wait(&id), 3);
    assert!(!fx.run(&["logs", &id]).stdout.is_empty());

    // A prompt on stdin reaches the supervisor, and so the agent.
    let out = crate::run_to_end(
        &mut fx.command(&["run", "--agent", "mock", "--detach", "--prompt-file", "-"]),
        Some(b"a prompt from stdin"),
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_owned();
    assert_eq!(fx.wait(&id), 0);
    let logs = text(&fx.run(&["logs", &id]).stdout);
    assert!(logs.contains("a prompt from stdin"), "{logs}");
}

#[test]
fn attach_on_a_terminal_relays_keys_and_size_and_detaches_on_ctrl_backslash() {
    let fx = Fixture::new();
    let id = fx.start_on(
        &[
            "sh",
            "-c",
            "echo ready; read a; stty size; echo \"got [$a]\"; while :; do sleep 0.01; done",
        ],
        false,
        Some((24, 80)),
    );
    eventually("the run is ready", || {
        text(&fx.run(&["logs", &id]).stdout).contains("ready")
    });
    let mut terminal = crate::input::Terminal::new(30, 90);
    let mut child = terminal.start_with(
        &fx.guard,
        &[("LOGIST_STATE_DIR", fx.state())],
        &["attach", &id],
    );
    // Keys typed before attach reads them wait in the terminal. The run's
    // terminal takes this one's size before any key is passed on.
    terminal.type_keys(b"hello\r");
    terminal.expect("30 90");
    terminal.expect("got [hello]");
    terminal.type_keys(b"\x1c");
    terminal.expect("detached from run");
    assert_eq!(wait(&mut child).code(), Some(0));
    // The run goes on; then it is stopped.
    assert_eq!(fx.entry(&id)["state"], "running");
    assert_eq!(code(&fx.run(&["stop", "--force", &id])), 0);
}

#[test]
fn attach_detaches_on_ctrl_c_and_the_run_goes_on() {
    let fx = Fixture::new();
    let id = fx.detach(&["--", "sh", "-c", "echo ready; cat"]);
    eventually("the run is ready", || {
        text(&fx.run(&["logs", &id]).stdout) == "ready\n"
    });
    let mut child = fx
        .command(&["attach", &id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"ping\n").unwrap();
    // Once the echo is in the log, attach has passed stdin on.
    eventually("the run echoed", || {
        text(&fx.run(&["logs", &id]).stdout) == "ready\nping\n"
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = wait(&mut child);
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(out, "ping\n");
    assert!(err.contains(&format!("detached from run `{id}`")), "{err}");
    drop(stdin);
    // Detaching left the run's stdin open and the run running.
    assert_eq!(fx.entry(&id)["state"], "running");
    fx.write_stdin(&id, b"more\n");
    eventually("the run is still served", || {
        text(&fx.run(&["logs", &id]).stdout) == "ready\nping\nmore\n"
    });
    assert_eq!(code(&fx.run(&["stop", &id])), 0);
    assert_eq!(fx.wait(&id), 143);
}

#[test]
fn without_its_supervisor_a_detached_run_goes_on_unsupervised() {
    let fx = Fixture::new();
    let id = fx.detach(&["--timeout", "1h", "--", "sh", "-c", "read x; exit 9"]);
    let supervisors: Vec<_> = fx
        .guard
        .survivors()
        .into_iter()
        .filter(|process| process.command.contains("--internal-supervisor"))
        .collect();
    assert_eq!(supervisors.len(), 1, "{supervisors:?}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(supervisors[0].pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    eventually("the supervisor is gone", || !alive(supervisors[0].pid));
    assert_eq!(fx.entry(&id)["state"], "running");
    fx.write_stdin(&id, b"done\n");
    // `wait` reports the run's own status; no verdict was recorded.
    assert_eq!(fx.wait(&id), 9);
    let entry = fx.entry(&id);
    assert_eq!(entry["exit"], serde_json::json!({"code": 9}));
    assert_eq!(entry.get("outcome"), None);
}

#[test]
fn the_idle_limit_answers_and_generic_questions_work_while_detached() {
    let fx = Fixture::new();
    let idle = fx.detach(&[
        "--idle-timeout",
        "0.5",
        "--grace",
        "0.2",
        "--",
        "sleep",
        "100",
    ]);
    let answered = fx.detach(&[
        "--stop",
        "Name?",
        "--on-input",
        "answer=bob",
        "--",
        "sh",
        "-c",
        "printf 'Name? '; read n; echo \"hi $n\"",
    ]);
    // Nobody is at a terminal: a generic question is noticed (auto).
    let asked = fx.detach(&["--", "sh", "-c", "printf 'Continue? [y/N] '; read x"]);
    assert_eq!(fx.wait(&idle), 123);
    assert_eq!(fx.wait(&answered), 0);
    assert_eq!(text(&fx.run(&["logs", &answered]).stdout), "Name? hi bob\n");
    assert_eq!(fx.wait(&asked), 122);
    assert_eq!(fx.entry(&asked)["outcome"], "waiting_for_input");
}
