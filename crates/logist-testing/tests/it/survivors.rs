//! The no-survivor guard finds, kills and reports tagged processes, and
//! only those.

use std::os::unix::process::ExitStatusExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::Stdio;

use logist_testing::{KillOnDrop, NoSurvivors, Stat, Survivor, TEST_TAG_ENV, find_tagged};

use crate::{DEADLINE, program};

/// Starts a tagged `hang` (no output pipes: nothing to drain).
fn hang(guard: &NoSurvivors) -> KillOnDrop {
    let mut command = guard.command(program());
    command
        .args(["--scenario", "hang", "--", "survivor"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    KillOnDrop::new(command.spawn().unwrap())
}

/// The guard's scan once it finds `count` processes. A child can be seen
/// without its environment for an instant after `spawn` returns: the
/// kernel lets the parent go before it publishes the new program's
/// environment, so a first scan may miss it.
fn scan_until(guard: &NoSurvivors, count: usize) -> Vec<Survivor> {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let found = guard.survivors();
        if found.len() == count || std::time::Instant::now() > deadline {
            return found;
        }
        std::thread::yield_now();
    }
}

#[test]
fn the_scan_finds_a_tagged_process_and_kill_survivors_kills_it() {
    let guard = NoSurvivors::new();
    let mut child = hang(&guard);
    let pid = child.id();

    let found = scan_until(&guard, 1);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].pid, pid);
    assert_eq!(found[0].ppid, std::process::id());
    assert!(
        found[0].command.ends_with("--scenario hang -- survivor"),
        "{}",
        found[0]
    );
    // The same scan as a free function (the state letter may change
    // between two scans: compare pids).
    let again: Vec<u32> = find_tagged(guard.tag()).iter().map(|s| s.pid).collect();
    assert_eq!(again, [pid]);
    // Untouched by the scan.
    assert!(child.try_wait().unwrap().is_none());

    let killed = guard.kill_survivors();
    assert_eq!(killed.iter().map(|s| s.pid).collect::<Vec<_>>(), [pid]);
    assert!(!killed[0].unkillable);
    let status = child.wait_timeout(DEADLINE).unwrap().expect("killed");
    assert_eq!(status.signal(), Some(9));
    // A zombie (exited, not yet reaped) would not count either; now reaped,
    // nothing is left.
    assert!(guard.survivors().is_empty());
}

#[test]
fn a_zombie_is_not_a_survivor() {
    let guard = NoSurvivors::new();
    let mut child = hang(&guard);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    // Not reaped yet: a zombie until `wait`. Give the kernel time to make
    // it one, by polling its state.
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let stat = Stat::of(child.id()).expect("unreaped, so still listed");
        if stat.state == 'Z' {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{stat:?}");
        std::thread::yield_now();
    }
    assert!(guard.survivors().is_empty());
    assert!(child.try_wait().unwrap().is_some());
}

#[test]
fn other_processes_are_not_touched() {
    let guard = NoSurvivors::new();
    let other_guard = NoSurvivors::new();
    let mut untagged = {
        let mut command = guard.command(program());
        command
            .env_remove(TEST_TAG_ENV)
            .args(["--scenario", "hang", "p"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        KillOnDrop::new(command.spawn().unwrap())
    };
    let mut other = hang(&other_guard);
    // Once the other guard sees its process, this one must still see none.
    assert_eq!(scan_until(&other_guard, 1).len(), 1);
    assert!(guard.survivors().is_empty());
    assert!(guard.kill_survivors().is_empty());
    assert!(untagged.try_wait().unwrap().is_none());
    assert!(other.try_wait().unwrap().is_none());
    drop(other);
    drop(untagged);
}

#[test]
fn dropping_the_guard_with_a_survivor_kills_it_and_panics() {
    let mut child = None;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let guard = NoSurvivors::new();
        let started = hang(&guard);
        let pid = started.id();
        child = Some(started);
        drop(guard);
        pid
    }));
    let mut child = child.expect("the child was started");
    let message = match outcome {
        Ok(pid) => panic!("the guard did not panic for survivor {pid}"),
        Err(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .expect("a formatted panic message"),
    };
    let pid = child.id();
    assert!(message.contains(&format!("pid {pid} ")), "{message}");
    assert!(message.contains("--scenario hang -- survivor"), "{message}");
    assert!(
        message.contains("outlived the test and were killed"),
        "{message}"
    );
    let status = child
        .wait_timeout(DEADLINE)
        .unwrap()
        .expect("killed by the guard");
    assert_eq!(status.signal(), Some(9));
}

#[test]
fn a_clean_guard_drops_quietly() {
    let guard = NoSurvivors::new();
    let mut child = hang(&guard);
    child.kill().unwrap();
    child.wait().unwrap();
    drop(guard);
}
