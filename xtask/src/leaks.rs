//! `cargo xtask ci`'s leak check: after the tests, no process that a test
//! started may still be running.
//!
//! Processes started through a Logist runtime carry an environment cookie
//! (`LOGIST_TREE_<tag>=`), test processes guarded by `logist-mock` carry
//! `LOGIST_TEST_TAG=`, and the mock agent program is recognisable by name.
//! `cargo xtask e2e` also counts any process running a program from its
//! cache of agent programs (a daemon an agent started in a new session with
//! a cleared environment carries no cookie). Only processes that started
//! after the test step began are counted, so unrelated programs on a
//! developer's machine are not blamed.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

/// Clock ticks since boot, as in `/proc/<pid>/stat` field 22.
fn now_ticks() -> u64 {
    let uptime = fs::read_to_string("/proc/uptime").unwrap_or_default();
    let seconds: f64 = uptime
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    // The kernel's USER_HZ is 100 on every Linux architecture we run on.
    (seconds * 100.0) as u64
}

/// Runs `tests`, then fails, listing them (and killing them), if processes
/// started meanwhile look like test leftovers, whether the tests passed or
/// not. `programs` also counts processes whose program or arguments lie
/// under that directory.
pub(crate) fn around(programs: Option<&Path>, tests: impl FnOnce() -> Result<()>) -> Result<()> {
    let since = now_ticks();
    let tests = tests();
    match (tests, check_with(since, programs)) {
        (Ok(()), leaks) => leaks,
        (Err(tests), Ok(())) => Err(tests),
        (Err(tests), Err(leaks)) => Err(tests.context(format!("{leaks:#}"))),
    }
}

/// Fails if processes started since `since` (clock ticks after boot) look
/// like test leftovers. They get a few seconds to go first: a run's monitor
/// stops its tree after the test that owned it has ended.
fn check_with(since: u64, programs: Option<&Path>) -> Result<()> {
    let settle = Instant::now() + Duration::from_secs(5);
    let mut leaked = find(since, programs);
    while !leaked.is_empty() && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(100));
        leaked = find(since, programs);
    }
    if leaked.is_empty() {
        return Ok(());
    }
    for (pid, _) in &leaked {
        // Best effort: leave the machine clean for the next run.
        let _ = crate::shell::cmd("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    let list: Vec<String> = leaked
        .iter()
        .map(|(pid, cmd)| format!("  {pid}: {cmd}"))
        .collect();
    bail!(
        "{} process(es) started by the tests were still running:\n{}",
        leaked.len(),
        list.join("\n")
    )
}

fn find(since: u64, programs: Option<&Path>) -> Vec<(u32, String)> {
    let me = std::process::id();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter_map(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
            let state = *fields.first()?;
            let start: u64 = fields.get(19)?.parse().ok()?;
            if state == "Z" || start < since {
                return None;
            }
            let environ = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let marked = environ.split(|&b| b == 0).any(|entry| {
                entry.starts_with(b"LOGIST_TREE_") || entry.starts_with(b"LOGIST_TEST_TAG=")
            });
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            let mock = cmdline
                .split_whitespace()
                .next()
                .is_some_and(|program| program.ends_with("logist-mock-agent"));
            let program = programs.is_some_and(|dir| {
                let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
                exe.starts_with(dir) || cmdline.contains(dir.to_string_lossy().as_ref())
            });
            (marked || mock || program).then(|| (pid, cmdline.trim_end().to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marked_process_started_after_the_mark_is_found() {
        let since = now_ticks().saturating_sub(1);
        let mut child = crate::shell::cmd("sleep")
            .arg("30")
            .env("LOGIST_TREE_xtasktest", "1")
            .spawn()
            .unwrap();
        // A process in the middle of exec briefly shows an empty
        // environment: look again until the deadline.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut found = find(since, None);
        while !found.iter().any(|(pid, _)| *pid == child.id())
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
            found = find(since, None);
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            found.iter().any(|(pid, _)| *pid == child.id()),
            "the scan missed a marked child: {found:?}"
        );
        assert!(
            find(since, None).iter().all(|(pid, _)| *pid != child.id()),
            "a reaped child is not a leak"
        );
    }

    #[test]
    fn processes_started_before_the_mark_are_ignored() {
        let mut child = crate::shell::cmd("sleep")
            .arg("30")
            .env("LOGIST_TREE_xtasktest", "1")
            .spawn()
            .unwrap();
        // Start times have a resolution of 10 ms; move the mark past it.
        std::thread::sleep(std::time::Duration::from_millis(30));
        let found = find(now_ticks() + 1, None);
        let _ = child.kill();
        let _ = child.wait();
        assert!(found.iter().all(|(pid, _)| *pid != child.id()));
    }

    #[test]
    fn a_program_from_the_given_directory_is_found_without_a_cookie() {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("agent-daemon");
        fs::copy("/bin/sleep", &program).unwrap();
        let since = now_ticks().saturating_sub(1);
        let mut child = crate::shell::cmd(program.to_str().unwrap())
            .arg("30")
            .env_clear()
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut found = find(since, Some(dir.path()));
        while !found.iter().any(|(pid, _)| *pid == child.id()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            found = find(since, Some(dir.path()));
        }
        let unmarked = find(since, None);
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            found.iter().any(|(pid, _)| *pid == child.id()),
            "the scan missed a program from the directory: {found:?}"
        );
        assert!(
            unmarked.iter().all(|(pid, _)| *pid != child.id()),
            "without the directory an unmarked process is not counted"
        );
    }
}
