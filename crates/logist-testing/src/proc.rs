//! Reading `/proc`: a process's (or thread's) `stat` line, whether a pid
//! is alive, and this process's `status` figures (threads, resident
//! memory) and open descriptors.
//!
//! These read the host's `/proc`, so they see processes in this process's
//! pid namespace only.

use std::fs;
use std::time::Duration;

/// The fields of a `/proc/<pid>/stat` line the tests use (see `proc(5)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stat {
    /// The state letter: `R` running, `S` sleeping, `T` stopped, `Z`
    /// zombie, …
    pub state: char,
    /// The parent's pid.
    pub ppid: u32,
    /// The process group.
    pub pgrp: u32,
    /// The session.
    pub session: u32,
    /// CPU time in user mode, in clock ticks.
    pub utime: u64,
    /// CPU time in kernel mode, in clock ticks.
    pub stime: u64,
    /// The number of threads.
    pub threads: u64,
}

impl Stat {
    /// Parses one `stat` line. The command name is in parentheses and may
    /// hold anything, `)` and spaces too: the fields that follow start
    /// after the last `)`. `None` when the line is malformed.
    pub fn parse(line: &str) -> Option<Self> {
        let rest = &line[line.rfind(')')? + 1..];
        // Fields 3 (state) onwards, numbered from 0 here.
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let number = |index: usize| fields.get(index)?.parse::<u64>().ok();
        let pid = |index: usize| fields.get(index)?.parse::<u32>().ok();
        Some(Self {
            state: fields.first()?.chars().next()?,
            ppid: pid(1)?,
            pgrp: pid(2)?,
            session: pid(3)?,
            utime: number(11)?,
            stime: number(12)?,
            threads: number(17)?,
        })
    }

    /// The process `pid`'s stat, or `None` when it does not exist (any
    /// more).
    pub fn of(pid: u32) -> Option<Self> {
        Self::read(&format!("/proc/{pid}/stat"))
    }

    /// This process's stat.
    ///
    /// # Panics
    ///
    /// When `/proc/self/stat` cannot be read or parsed.
    pub fn of_self() -> Self {
        Self::read("/proc/self/stat").expect("/proc/self/stat")
    }

    /// The stat of one thread of this process (`tid` as in
    /// `/proc/self/task`), or `None` when it has ended.
    pub fn of_thread(tid: u32) -> Option<Self> {
        Self::read(&format!("/proc/self/task/{tid}/stat"))
    }

    fn read(path: &str) -> Option<Self> {
        Self::parse(&fs::read_to_string(path).ok()?)
    }

    /// True for a zombie or a dead process: it runs nothing any more.
    pub fn has_exited(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }

    /// User plus kernel CPU time. `USER_HZ` is 100 on every Linux
    /// architecture the project targets, so a tick is 10 ms.
    pub fn cpu(&self) -> Duration {
        Duration::from_millis((self.utime + self.stime) * 10)
    }
}

/// True while `pid` exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    Stat::of(pid).is_some_and(|stat| !stat.has_exited())
}

/// A number from `/proc/self/status` (`VmHWM`, `VmRSS`, `Threads`, …), in
/// the unit it is written in (kB for memory).
///
/// # Panics
///
/// When the file cannot be read or has no such field.
pub fn self_status(field: &str) -> u64 {
    let status = fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status_field(&status, field).unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// The number of `field` in the text of a `status` file.
fn status_field(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// This process's resident memory (`VmRSS`) in kB.
///
/// # Panics
///
/// As [`self_status`].
pub fn rss_kb() -> u64 {
    self_status("VmRSS")
}

/// The number of descriptors this process has open.
///
/// # Panics
///
/// When `/proc/self/fd` cannot be read.
pub fn open_fds() -> usize {
    fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// The calling thread's id, as in `/proc/self/task`.
///
/// # Panics
///
/// When `/proc/thread-self` cannot be read.
pub fn thread_id() -> u32 {
    let link = fs::read_link("/proc/thread-self").expect("/proc/thread-self");
    link.file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.parse().ok())
        .expect("a thread id")
}

/// How many times a thread of this process was switched out, by its own
/// choice (it blocked) or not; `None` when it has ended.
pub fn thread_switches(tid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/self/task/{tid}/status")).ok()?;
    Some(
        status
            .lines()
            .filter(|line| line.contains("ctxt_switches:"))
            .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum(),
    )
}

/// True when the thread `tid` of this process is asleep now and still 20
/// ms later, without having been switched in between: it is blocked (a
/// thread that polls, or is still on its way to the call that blocks, is
/// seen running or with more switches).
pub fn stays_asleep(tid: u32) -> bool {
    let asleep = || {
        let stat = Stat::of_thread(tid)?;
        (stat.state == 'S').then(|| thread_switches(tid)).flatten()
    };
    let Some(before) = asleep() else {
        return false;
    };
    std::thread::sleep(Duration::from_millis(20));
    asleep().is_some_and(|after| after == before)
}

/// Live processes whose environment has an entry starting with one of
/// `prefixes` (a runtime's cookie `NAME=`, a test tag), as `pid: cmdline`
/// for messages.
pub fn processes_with_env(prefixes: &[String]) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid_alive(pid))
        .filter(|pid| {
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            environ.split(|&b| b == 0).any(|entry| {
                prefixes
                    .iter()
                    .any(|prefix| entry.starts_with(prefix.as_bytes()))
            })
        })
        .map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            format!("{pid}: {}", cmdline.trim_end())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_parentheses_and_spaces_are_skipped() {
        let line = "42 (a) b (c) S 1 42 42 0 -1 4194560 0 0 0 0 7 3 0 0 20 0 5 0 1 2 3";
        let stat = Stat::parse(line).unwrap();
        assert_eq!(stat.state, 'S');
        assert_eq!((stat.ppid, stat.pgrp, stat.session), (1, 42, 42));
        assert_eq!((stat.utime, stat.stime, stat.threads), (7, 3, 5));
        assert_eq!(stat.cpu(), Duration::from_millis(100));
        assert!(Stat::parse("42 (no closing paren S 1").is_none());
        assert!(Stat::parse("42 (short) S 1 2").is_none());
    }

    #[test]
    fn this_process_is_alive_and_a_missing_one_is_not() {
        let me = Stat::of(std::process::id()).unwrap();
        assert!(matches!(me.state, 'R' | 'S'), "{}", me.state);
        assert!(me.ppid > 0 && me.threads >= 1);
        assert!(pid_alive(std::process::id()));
        assert!(!pid_alive(u32::MAX / 2));
        assert!(Stat::of(u32::MAX / 2).is_none());
    }

    #[test]
    fn a_blocked_thread_stays_asleep_and_a_busy_one_does_not() {
        let (ids, id) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let blocked = std::thread::spawn(move || {
            ids.send(thread_id()).unwrap();
            released.recv().unwrap();
        });
        let tid = id.recv().unwrap();
        crate::eventually("the thread blocks", || stays_asleep(tid));
        release.send(()).unwrap();
        blocked.join().unwrap();
        assert!(!stays_asleep(tid), "an ended thread is not asleep");
        assert!(!stays_asleep(thread_id()), "this thread is running");
    }

    #[test]
    fn status_fields_are_numbers() {
        let status = "Name:\tx\nThreads:\t3\nVmRSS:\t  1234 kB\n";
        assert_eq!(status_field(status, "VmRSS"), Some(1234));
        assert_eq!(status_field(status, "Threads"), Some(3));
        assert_eq!(status_field(status, "VmHWM"), None);
        assert!(rss_kb() > 0);
        assert!(open_fds() >= 3);
    }
}
