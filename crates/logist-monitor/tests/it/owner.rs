//! Attached runs die with their owner, however it dies.
//!
//! The owner is a real process: this test binary, re-executed to run
//! [`owner_process`] only, which starts an attached run through the
//! library and then waits to be killed.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use logist_core::ExitStatus;
use logist_monitor::{Ownership, RunState, StateDir};

use crate::tree::stubborn_tree;
use crate::{DEADLINE, Fixture, alive, read_pid, spec};

const HELPER: &str = "LOGIST_MONITOR_TEST_OWNER";

/// The owner process of `sigkill_of_the_owner_stops_the_whole_tree`: does
/// its work only when re-executed with `LOGIST_MONITOR_TEST_OWNER` set to a
/// state directory; otherwise it only checks that it is not in that mode.
#[test]
fn owner_process() {
    let Some(state) = std::env::var_os(HELPER) else {
        return;
    };
    let state = StateDir::open(state).unwrap();
    let script = stubborn_tree(state.path());
    let started = logist_monitor::start(
        &state,
        &crate::program(),
        "attached",
        &spec(&["sh", "-c", &script], Ownership::Attached),
        &crate::env(),
    )
    .unwrap();
    println!("started {}", started.pid);
    loop {
        std::thread::park();
    }
}

#[test]
fn sigkill_of_the_owner_stops_the_whole_tree_within_a_second() {
    let mut fx = Fixture::new();
    #[expect(
        clippy::disallowed_methods,
        reason = "the test re-executes itself as a real owner process"
    )]
    let mut owner = Command::new(std::env::current_exe().unwrap())
        .args([
            "owner::owner_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER, fx.state.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let owner_pid = owner.id() as i32;
    fx.track(owner_pid);
    // Reading the owner's output blocks; a watchdog kills the owner (and
    // so ends the read) if it never reports.
    let (reported, watchdog) = std::sync::mpsc::channel::<()>();
    let guard = std::thread::spawn(move || {
        if watchdog.recv_timeout(DEADLINE).is_err() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(owner_pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    });
    let mut lines = BufReader::new(owner.stdout.take().unwrap()).lines();
    // libtest prints `test owner::owner_process ... ` before the line.
    let started = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|line| line.contains("started "));
    let _ = reported.send(());
    guard.join().unwrap();
    assert!(started.is_some(), "the owner did not start its run");
    let run = fx.state.run("attached").unwrap();
    fx.adopt(run.clone());
    let pids: Vec<i32> = ["p0", "p1", "p2"]
        .iter()
        .map(|p| read_pid(&fx.state.path().join(p)))
        .collect();
    for &pid in &pids {
        fx.track(pid);
    }
    // The escapee must be out of the group and re-parented first.
    let monitor = run.monitor().unwrap().unwrap();
    crate::wait_for("the escapee to be re-parented", DEADLINE, || {
        crate::parent_of(pids[2]) == Some(monitor.monitor_pid)
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(owner_pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    owner.wait().unwrap();
    for pid in pids {
        crate::wait_for(&format!("pid {pid} to die"), Duration::from_secs(1), || {
            !alive(pid)
        });
    }
    let exit = logist_monitor::wait(&run, Some(DEADLINE)).unwrap();
    assert_eq!(exit.status, ExitStatus::Signal(9));
    assert!(matches!(run.state().unwrap(), RunState::Exited(_)));
}
