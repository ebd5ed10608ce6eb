//! The run's process tree, as seen from the monitor.
//!
//! The monitor is a child subreaper, so every orphaned descendant of the
//! run is re-parented to it, whatever it did with sessions, groups and its
//! environment. The tree is therefore exactly the monitor's descendants by
//! parent links in `/proc`; nothing can leave it but by dying.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::os::fd::AsFd;

use nix::sys::signal::Signal;

/// One process's `/proc/<pid>/stat` fields we use.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stat {
    pub(crate) ppid: i32,
    pub(crate) pgid: i32,
    pub(crate) start_ticks: u64,
}

/// Reads `/proc/<pid>/stat`.
pub(crate) fn stat(pid: i32) -> io::Result<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name is in parentheses and may hold anything, so split
    // after the last ')'.
    let rest = text
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| io::Error::other("malformed stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let number = |i: usize| -> io::Result<i64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other("malformed stat"))
    };
    Ok(Stat {
        ppid: i32::try_from(number(1)?).map_err(io::Error::other)?,
        pgid: i32::try_from(number(2)?).map_err(io::Error::other)?,
        start_ticks: u64::try_from(number(19)?).map_err(io::Error::other)?,
    })
}

/// A process's start time in clock ticks since boot.
pub(crate) fn start_ticks(pid: i32) -> io::Result<u64> {
    Ok(stat(pid)?.start_ticks)
}

fn all_processes() -> Vec<(i32, Stat)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, stat(pid).ok()?)))
        .collect()
}

/// Members of process group `pgid`: (pid, start ticks).
pub(crate) fn group_members(pgid: i32) -> Vec<(i32, u64)> {
    all_processes()
        .into_iter()
        .filter(|(_, stat)| stat.pgid == pgid)
        .map(|(pid, stat)| (pid, stat.start_ticks))
        .collect()
}

/// Every descendant of `root`, with its parent, by one `/proc` scan.
pub(crate) fn descendants(root: i32) -> Vec<(i32, i32)> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for (pid, stat) in all_processes() {
        children.entry(stat.ppid).or_default().push(pid);
    }
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    let mut queue = vec![root];
    while let Some(parent) = queue.pop() {
        for &child in children.get(&parent).map(Vec::as_slice).unwrap_or_default() {
            if seen.insert(child) {
                found.push((child, parent));
                queue.push(child);
            }
        }
    }
    found
}

/// Sends `signal` to every descendant of `root` (one scan). Each target is
/// opened as a pidfd and its parent re-checked before the signal, so a pid
/// that was reused by a process outside the tree is never signalled.
/// Returns how many processes were signalled.
pub(crate) fn signal_tree(root: i32, signal: Signal) -> usize {
    let mut count = 0;
    for (pid, parent) in descendants(root) {
        let Ok(pidfd) = crate::pidfd::open(pid) else {
            continue;
        };
        // Still the process the scan saw: same parent (re-parenting only
        // ever moves it to the monitor, which is in the tree too).
        let Ok(now) = stat(pid) else { continue };
        if now.ppid != parent && now.ppid != root {
            continue;
        }
        if crate::pidfd::send_signal(pidfd.as_fd(), signal).unwrap_or(false) {
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_reads_our_own_process() {
        let me = std::process::id() as i32;
        let stat = stat(me).unwrap();
        assert_eq!(stat.ppid, nix::unistd::getppid().as_raw());
        assert_eq!(stat.pgid, nix::unistd::getpgrp().as_raw());
        assert!(stat.start_ticks > 0);
    }
}
