//! Ctrl-C and friends: the first signal stops the command politely, the
//! second by force; a killed `logist` takes its command with it.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use logist_testing::NoSurvivors;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use crate::{alive, eventually, logist, wait};

/// Starts `logist ... --json`, returns it and the command's pid once its
/// first output line arrived.
fn start(
    guard: &NoSurvivors,
    args: &[&str],
) -> (
    std::process::Child,
    u32,
    BufReader<std::process::ChildStdout>,
) {
    let mut child = logist(guard, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut events = BufReader::new(child.stdout.take().unwrap());
    let mut pid = None;
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            events.read_line(&mut line).unwrap() > 0,
            "logist ended early"
        );
        let event: Value = serde_json::from_str(&line).unwrap();
        if event["event"] == "spawned" {
            pid = Some(event["pid"].as_u64().unwrap() as u32);
        }
        if event["event"] == "output" {
            break;
        }
    }
    let pid = pid.expect("a spawned event before the output");
    (child, pid, events)
}

fn signal(child: &std::process::Child, signal: Signal) {
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
}

#[test]
fn ctrl_c_stops_the_command_and_exits_130() {
    let guard = NoSurvivors::new();
    let (mut child, pid, _events) = start(
        &guard,
        &[
            "run",
            "--agent",
            "mock",
            "--scenario",
            "hang",
            "--json",
            "x",
        ],
    );
    signal(&child, Signal::SIGINT);
    assert_eq!(wait(&mut child).code(), Some(130));
    assert!(!alive(pid), "the command was stopped");
}

#[test]
fn a_second_ctrl_c_does_not_wait_for_the_grace_period() {
    let guard = NoSurvivors::new();
    let (mut child, pid, _events) = start(
        &guard,
        &[
            "run",
            "--agent",
            "mock",
            "--scenario",
            "stubborn",
            "--grace",
            "60",
            "--json",
            "x",
        ],
    );
    signal(&child, Signal::SIGINT);
    // A person's second Ctrl-C comes later than logist's window for one
    // request (250 ms); a sub-second pause is what is being tested.
    std::thread::sleep(Duration::from_millis(600));
    assert!(alive(pid), "the stubborn command ignores SIGTERM");
    let started = Instant::now();
    signal(&child, Signal::SIGINT);
    assert_eq!(wait(&mut child).code(), Some(130));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "forced, not the 60 s grace period"
    );
    eventually("the command is gone", || !alive(pid));
}

#[test]
fn two_signals_at_once_are_one_request_and_keep_the_grace_period() {
    // GNU `timeout -s INT` signals logist and then its process group: two
    // signals microseconds apart, which must not skip the grace period.
    let guard = NoSurvivors::new();
    let (mut child, pid, _events) = start(
        &guard,
        &[
            "run",
            "--agent",
            "mock",
            "--scenario",
            "stubborn",
            "--grace",
            "1",
            "--json",
            "x",
        ],
    );
    let started = Instant::now();
    signal(&child, Signal::SIGINT);
    signal(&child, Signal::SIGTERM);
    signal(&child, Signal::SIGINT);
    assert_eq!(wait(&mut child).code(), Some(130));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the 1 s grace period was kept: {:?}",
        started.elapsed()
    );
    eventually("the command is gone", || !alive(pid));
}

#[test]
fn sigterm_to_logist_is_128_plus_15() {
    let guard = NoSurvivors::new();
    let (mut child, pid, _events) = start(
        &guard,
        &[
            "exec",
            "--json",
            "--",
            "sh",
            "-c",
            "echo up; exec sleep 300",
        ],
    );
    signal(&child, Signal::SIGTERM);
    assert_eq!(wait(&mut child).code(), Some(143));
    assert!(!alive(pid));
}

#[test]
fn killing_logist_kills_the_command() {
    let guard = NoSurvivors::new();
    let (mut child, pid, _events) = start(
        &guard,
        &[
            "exec",
            "--json",
            "--",
            "sh",
            "-c",
            "echo up; exec sleep 300",
        ],
    );
    signal(&child, Signal::SIGKILL);
    let _ = wait(&mut child);
    eventually("the orphaned command died with logist", || !alive(pid));
    // Its monitor records the end, then goes too.
    eventually("nothing of the run is left", || {
        guard.survivors().is_empty()
    });
}

#[test]
fn on_a_terminal_ctrl_c_says_it_is_stopping_and_how_to_force_it() {
    let guard = NoSurvivors::new();
    let mut terminal = crate::input::Terminal::new(24, 80);
    let mut child = terminal.start(
        &guard,
        &[
            "run",
            "--agent",
            "mock",
            "--scenario",
            "stubborn",
            "--grace",
            "60",
            "x",
        ],
    );
    terminal.expect(logist_mock::STUBBORN_READY.trim());
    // The terminal turns Ctrl-C into SIGINT for logist.
    terminal.type_keys(b"\x03");
    terminal.expect("stopping the command");
    terminal.expect("press Ctrl-C again to kill it now");
    // A person presses again later than logist's window for one request.
    std::thread::sleep(Duration::from_millis(600));
    let started = Instant::now();
    terminal.type_keys(b"\x03");
    assert_eq!(wait(&mut child).code(), Some(130));
    assert!(started.elapsed() < Duration::from_secs(30), "forced");
}

/// Issue 17's first finding: `logist exec -- sh -c 'sleep 300 & sleep
/// 300'` SIGKILLed left both `sleep`s running. Now the run's monitor sees
/// `logist` go and kills the whole tree: children, and a grandchild that
/// left the process group and cleared its environment (`setsid env -i`).
/// (With `--log-file`, which keeps the in-process path, the escapee
/// survives and this test fails.)
#[test]
fn killing_logist_kills_every_descendant_escapees_included() {
    let guard = NoSurvivors::new();
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let script = format!(
        "sleep 300 & echo $! >> '{pids}'; \
         setsid env -i sh -c 'echo $$ >> \"$0\"; sleep 300 & echo $! >> \"$0\"; wait' '{pids}' & \
         wait",
        pids = pids.display()
    );
    let mut child = logist(&guard, &["exec", "--", "sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let read = || -> Vec<u32> {
        std::fs::read_to_string(&pids)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.trim().parse().ok())
            .collect()
    };
    eventually("three descendants started", || read().len() == 3);
    let started = read();
    // Whatever happens below, nothing it started may outlive the test
    // (the escapee carries no tag the guard could find).
    let _cleanup = KillPids(started.clone());
    assert!(started.iter().all(|&pid| alive(pid)));
    signal(&child, Signal::SIGKILL);
    let _ = wait(&mut child);
    eventually("every descendant died with logist", || {
        started.iter().all(|&pid| !alive(pid))
    });
    eventually("nothing of the run is left", || {
        guard.survivors().is_empty()
    });
}

/// SIGKILLs these pids when dropped (a failing test's escapees).
struct KillPids(Vec<u32>);

impl Drop for KillPids {
    fn drop(&mut self) {
        for &pid in &self.0 {
            if alive(pid) {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
    }
}
