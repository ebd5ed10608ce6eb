//! Finding and signalling a process's descendants, including those that
//! left its process group.
//!
//! A child runs in its own process group, and a signal to the group reaches
//! every member at once. Descendants can leave the group (`setsid`, a
//! daemonising double fork) and can outlive the child. To find them, every
//! child gets an environment *cookie* (`LOGIST_TREE_<runtime tag>=<seq>`),
//! inherited by all its descendants; a scan of `/proc` finds processes that
//! carry it, that are in the group, or that descend from the child by parent
//! links. Each process found is signalled through a pidfd opened *after* the
//! scan and checked against the scan's start time, so a recycled pid can
//! never receive a signal meant for someone else.
//!
//! Limits: a descendant that clears its environment *and* is re-parented
//! (double fork with `env -i`) is invisible; so are processes of other users
//! (setuid programs), whose environment we cannot read and cannot signal
//! anyway.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;

/// One process seen in `/proc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Proc {
    pub(crate) pid: i32,
    pub(crate) ppid: i32,
    pub(crate) pgid: i32,
    /// Start time in clock ticks after boot: with the pid, it names one
    /// process for ever.
    pub(crate) start: u64,
}

/// Reads `/proc/<pid>/stat`. `None` for a process that is gone or a zombie.
pub(crate) fn read_stat(pid: i32) -> Option<Proc> {
    let mut buf = [0u8; 1024];
    let text = read_small(&format!("/proc/{pid}/stat"), &mut buf)?;
    parse_stat(pid, text)
}

/// Reads a small `/proc` file into `buf` with one open and one read (no
/// metadata call, no allocation). Files longer than `buf` are truncated,
/// which the callers allow for.
fn read_small<'b>(path: &str, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    use std::io::Read;
    let mut file = fs::File::open(path).ok()?;
    let mut len = 0;
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(&buf[..len])
}

fn parse_stat(pid: i32, text: &[u8]) -> Option<Proc> {
    // The command name is in parentheses and may contain anything, so the
    // fields start after the *last* ')'.
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(text.get(close + 2..)?).ok()?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // fields[0] is the state (field 3 of stat(5)); start time is field 22.
    let state = fields.first()?;
    if *state == "Z" || *state == "X" {
        return None;
    }
    Some(Proc {
        pid,
        ppid: fields.get(1)?.parse().ok()?,
        pgid: fields.get(2)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// Every live, non-zombie process.
fn all_processes() -> Vec<Proc> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut path = String::with_capacity(32);
    let mut buf = [0u8; 1024];
    let mut found = Vec::with_capacity(256);
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|name| name.parse::<i32>().ok()) else {
            continue;
        };
        path.clear();
        let _ = write!(path, "/proc/{pid}/stat");
        if let Some(proc) = read_small(&path, &mut buf).and_then(|text| parse_stat(pid, text)) {
            found.push(proc);
        }
    }
    found
}

/// True when `/proc/<pid>/environ` contains `needle` as a whole entry
/// (`exact`) or as the start of an entry.
fn environ_has(pid: i32, needle: &[u8], exact: bool) -> bool {
    let Ok(environ) = fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    environ.split(|&b| b == 0).any(|entry| {
        if exact {
            entry == needle
        } else {
            entry.starts_with(needle)
        }
    })
}

/// What to look for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Query<'a> {
    /// The cookie: `NAME=VALUE` matched exactly, or `NAME=` as a prefix
    /// (every process of a runtime).
    pub(crate) cookie: &'a [u8],
    pub(crate) cookie_is_prefix: bool,
    /// The child's pid while it is alive: its group and parent-link
    /// descendants count too.
    pub(crate) root: Option<i32>,
    /// Processes that started before this (clock ticks after boot) cannot
    /// be descendants; their environment is not read.
    pub(crate) not_before: u64,
}

/// Scans `/proc` for the processes matching `query`, excluding ourselves.
pub(crate) fn scan(query: &Query<'_>) -> Vec<Proc> {
    let me = std::process::id() as i32;
    let processes = all_processes();
    let mut found: HashSet<i32> = HashSet::new();
    if let Some(root) = query.root {
        let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
        for proc in &processes {
            children.entry(proc.ppid).or_default().push(proc.pid);
            if proc.pgid == root {
                found.insert(proc.pid);
            }
        }
        let mut visited = HashSet::new();
        let mut stack = vec![root];
        while let Some(pid) = stack.pop() {
            if visited.insert(pid) {
                found.insert(pid);
                stack.extend(children.get(&pid).into_iter().flatten());
            }
        }
    }
    processes
        .into_iter()
        .filter(|proc| proc.pid != me)
        .filter(|proc| {
            found.contains(&proc.pid)
                || (proc.start >= query.not_before
                    && environ_has(proc.pid, query.cookie, !query.cookie_is_prefix))
        })
        .collect()
}

/// Opens a pidfd for each process and keeps it only if the process is still
/// the one the scan saw (same start time), so that signals through it cannot
/// reach a recycled pid.
pub(crate) fn pin(procs: &[Proc]) -> Vec<(Proc, OwnedFd)> {
    procs
        .iter()
        .filter_map(|proc| {
            let pidfd = logist_monitor::pidfd::open(proc.pid).ok()?;
            let now = read_stat(proc.pid)?;
            (now.start == proc.start).then_some((*proc, pidfd))
        })
        .collect()
}

/// Sends `signal` to every pinned process; returns how many received it.
pub(crate) fn signal_all<'a>(
    pidfds: impl IntoIterator<Item = &'a OwnedFd>,
    signal: Signal,
) -> io::Result<usize> {
    let mut sent = 0;
    for pidfd in pidfds {
        if logist_monitor::pidfd::send_signal(pidfd.as_fd(), signal)? {
            sent += 1;
        }
    }
    Ok(sent)
}

/// Waits until every pinned process has exited or `deadline` passes; returns
/// true when all are gone. Blocks in `poll`, without spinning.
pub(crate) fn wait_all(pinned: &[(Proc, OwnedFd)], deadline: Instant) -> bool {
    let mut pending: Vec<&OwnedFd> = pinned.iter().map(|(_, fd)| fd).collect();
    loop {
        let mut polls: Vec<PollFd<'_>> = pending
            .iter()
            .map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
            .collect();
        let left = deadline.saturating_duration_since(Instant::now());
        if polls.is_empty() {
            return true;
        }
        if left.is_zero() {
            return false;
        }
        let timeout =
            PollTimeout::try_from(left.max(Duration::from_millis(1))).unwrap_or(PollTimeout::MAX);
        match poll(&mut polls, timeout) {
            Ok(0) => return false,
            Ok(_) => {
                let done: Vec<bool> = polls
                    .iter()
                    .map(|p| p.revents().is_some_and(|r| !r.is_empty()))
                    .collect();
                let mut index = 0;
                pending.retain(|_| {
                    let keep = !done[index];
                    index += 1;
                    keep
                });
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys;

    #[test]
    fn stat_parsing_survives_hostile_command_names() {
        let line = b"4242 (a) b (c) R 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10 18446744073709551615";
        let proc = parse_stat(4242, line).unwrap();
        assert_eq!(
            proc,
            Proc {
                pid: 4242,
                ppid: 1,
                pgid: 4242,
                start: 98765
            }
        );
    }

    #[test]
    fn zombies_are_not_alive() {
        let line = b"7 (sh) Z 1 7 7 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 555 0 0 0";
        assert_eq!(parse_stat(7, line), None);
    }

    #[test]
    fn the_boot_clock_bounds_start_times_from_below() {
        let before = sys::boot_ticks().unwrap();
        let thread = std::thread::spawn(|| {
            let tid = nix::unistd::gettid().as_raw();
            let mut buf = [0u8; 1024];
            let text = read_small(&format!("/proc/self/task/{tid}/stat"), &mut buf).unwrap();
            parse_stat(tid, text).unwrap().start
        });
        let started = thread.join().unwrap();
        let after = sys::boot_ticks().unwrap();
        assert!(
            before <= started && started <= after,
            "{before} <= {started} <= {after}"
        );
    }

    #[test]
    fn our_own_process_is_readable() {
        let me = read_stat(std::process::id() as i32).expect("our own stat");
        assert_eq!(me.pid, std::process::id() as i32);
        assert!(me.start > 0);
    }
}
