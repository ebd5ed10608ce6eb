//! A guard that proves no process a test started outlives it.
//!
//! ```no_run
//! use logist_core::{Agent, Runtime};
//! use logist_mock::Scenario;
//! use logist_testing::{NoSurvivors, mock_agent};
//!
//! # fn runtime() -> Box<dyn Runtime> { Box::new(logist_mock::MockRuntime::new()) }
//! let guard = NoSurvivors::new();
//! let agent = mock_agent(Scenario::Tree)?;
//! let runtime = runtime();
//! let request = guard.request(agent.cmd("prompt")?); // adds the tag
//! let id = runtime.spawn(&request)?;
//! runtime.terminate(&id, false)?;
//! drop(runtime);
//! // Dropping the guard checks that nothing tagged is still running.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use logist_core::{CommandLine, Environment, SpawnRequest};

use crate::proc::Stat;

/// The environment variable that carries a [`NoSurvivors`] guard's tag into
/// every process a test starts (and, by inheritance, their descendants).
pub const TEST_TAG_ENV: &str = "LOGIST_TEST_TAG";

/// How long [`NoSurvivors`] waits for killed processes to disappear.
const KILL_DEADLINE: Duration = Duration::from_secs(5);

/// A guard that fails a test when a process it started is still running at
/// the end.
///
/// Each guard has a unique tag. Requests built with
/// [`request`](Self::request) (or tagged with [`tag_request`](Self::tag_request),
/// [`tag_env`](Self::tag_env), [`command`](Self::command)) carry
/// `LOGIST_TEST_TAG=<tag>` in their environment, and descendants inherit
/// it. When the guard is dropped it scans `/proc/*/environ` for the tag;
/// every process found is killed with SIGKILL and the guard panics naming
/// their pids and command lines (when the thread is already panicking, it
/// only kills them and prints the list, so the first failure stays the
/// reported one).
///
/// # What counts as a survivor
///
/// A running (or stopped) process whose initial environment holds the
/// tag, other than the test process itself. A **zombie** (a process that
/// has exited and waits for its parent to collect its status) is not a
/// survivor: it runs nothing and holds nothing but its pid, and the kernel
/// no longer shows its environment, so it cannot be recognised anyway.
/// Collecting it is its parent's job (the runtime's, or the test's own
/// [`Child`](std::process::Child)). After SIGKILL the guard waits up to 5
/// seconds for each killed process to become a zombie or disappear; one
/// that does neither (stuck in the kernel) is reported as such.
///
/// # Limits
///
/// The scan sees processes of the same user in this host's `/proc` (a
/// container's processes too, when their environment is readable). A
/// process that rewrites its own environment, or that a runtime starts
/// with an environment of its own choosing (not merging the request's), is
/// invisible to it. Between the scan and the kill a pid could in theory be
/// reused; the tag is checked again just before each kill to make that
/// window tiny.
#[derive(Debug)]
pub struct NoSurvivors {
    tag: String,
}

/// A tagged process found by a [`NoSurvivors`] scan.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Survivor {
    /// Its pid.
    pub pid: u32,
    /// Its parent's pid.
    pub ppid: u32,
    /// Its state letter from `/proc/<pid>/stat` (`S` sleeping, `R`
    /// running, `T` stopped, …).
    pub state: char,
    /// Its command line, arguments separated by spaces.
    pub command: String,
    /// True when it was killed but still had not exited at the deadline.
    pub unkillable: bool,
}

impl fmt::Display for Survivor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {} (parent {}, state {}): {}",
            self.pid, self.ppid, self.state, self.command
        )?;
        if self.unkillable {
            f.write_str(" [still running after SIGKILL]")?;
        }
        Ok(())
    }
}

impl Default for NoSurvivors {
    fn default() -> Self {
        Self::new()
    }
}

impl NoSurvivors {
    /// A guard with a tag no other guard (in any process) has.
    pub fn new() -> Self {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        let tag = format!(
            "{}-{}-{nanos:x}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        Self { tag }
    }

    /// The tag: the value of [`TEST_TAG_ENV`] in tagged processes.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// A request for `command` with the default environment (inherit) plus
    /// the tag.
    pub fn request(&self, command: CommandLine) -> SpawnRequest {
        self.tag_request(SpawnRequest::new(command))
    }

    /// Adds the tag to a request's environment. Use this (or
    /// [`tag_env`](Self::tag_env)) again after replacing a request's
    /// environment.
    pub fn tag_request(&self, mut request: SpawnRequest) -> SpawnRequest {
        request.env = self.tag_env(request.env);
        request
    }

    /// Adds the tag to an environment.
    pub fn tag_env(&self, env: Environment) -> Environment {
        env.set(TEST_TAG_ENV, &self.tag)
    }

    /// A tagged [`std::process::Command`], for tests that start a program
    /// without a runtime.
    #[expect(
        clippy::disallowed_methods,
        reason = "a test helper for tests that run a program directly"
    )]
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        command.env(TEST_TAG_ENV, &self.tag);
        command
    }

    /// The tagged processes running now, without touching them.
    pub fn survivors(&self) -> Vec<Survivor> {
        find_tagged(&self.tag)
    }

    /// Kills every tagged process with SIGKILL, waits for them to exit,
    /// and returns what it found (empty when nothing was running).
    pub fn kill_survivors(&self) -> Vec<Survivor> {
        let entry = tag_entry(&self.tag);
        let mut found = self.survivors();
        for survivor in &found {
            // Checked again right before the kill, so a pid reused since the
            // scan is left alone.
            if has_entry(survivor.pid, &entry) {
                let _ = kill(pid(survivor.pid), Signal::SIGKILL);
            }
        }
        let deadline = Instant::now() + KILL_DEADLINE;
        for survivor in &mut found {
            while Stat::of(survivor.pid).is_some_and(|stat| !stat.has_exited()) {
                if Instant::now() >= deadline {
                    survivor.unkillable = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        found
    }
}

impl Drop for NoSurvivors {
    fn drop(&mut self) {
        let survivors = self.kill_survivors();
        if survivors.is_empty() {
            return;
        }
        let list: Vec<String> = survivors.iter().map(|s| format!("  {s}")).collect();
        let report = format!(
            "{} process(es) tagged {TEST_TAG_ENV}={} outlived the test and were killed:\n{}",
            survivors.len(),
            self.tag,
            list.join("\n")
        );
        if std::thread::panicking() {
            eprintln!("{report}");
        } else {
            panic!("{report}");
        }
    }
}

/// Every process (except this one) whose environment holds
/// `LOGIST_TEST_TAG=<tag>`, in pid order.
pub fn find_tagged(tag: &str) -> Vec<Survivor> {
    let entry = tag_entry(tag);
    let me = std::process::id();
    let Ok(proc_dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found: Vec<Survivor> = proc_dir
        .filter_map(Result::ok)
        .filter_map(|dir| dir.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && has_entry(pid, &entry))
        .filter_map(read_survivor)
        .filter(|survivor| !matches!(survivor.state, 'Z' | 'X' | 'x'))
        .collect();
    found.sort_by_key(|survivor| survivor.pid);
    found
}

fn tag_entry(tag: &str) -> Vec<u8> {
    format!("{TEST_TAG_ENV}={tag}").into_bytes()
}

/// True when the process's environment holds exactly `entry`.
fn has_entry(pid: u32, entry: &[u8]) -> bool {
    fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|environ| environ.split(|&byte| byte == 0).any(|var| var == entry))
}

/// The process's parent, state and command line, if it still exists.
fn read_survivor(pid: u32) -> Option<Survivor> {
    let Stat { state, ppid, .. } = Stat::of(pid)?;
    let command = fs::read(format!("/proc/{pid}/cmdline"))
        .map(|cmdline| {
            let args: Vec<String> = cmdline
                .split(|&byte| byte == 0)
                .filter(|arg| !arg.is_empty())
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect();
            args.join(" ")
        })
        .unwrap_or_default();
    Some(Survivor {
        pid,
        ppid,
        state,
        command,
        unkillable: false,
    })
}

fn pid(pid: u32) -> Pid {
    Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_unique_and_reach_the_request() {
        let (a, b) = (NoSurvivors::new(), NoSurvivors::new());
        assert_ne!(a.tag(), b.tag());
        let request = a.request(CommandLine::new(["true"]).unwrap());
        assert_eq!(request.env.vars()[TEST_TAG_ENV], a.tag());
        assert!(request.env.inherits());
        let clean = a.tag_request(
            SpawnRequest::new(CommandLine::new(["true"]).unwrap()).env(Environment::clean()),
        );
        assert!(!clean.env.inherits());
        assert_eq!(clean.env.vars()[TEST_TAG_ENV], a.tag());
        assert!(a.survivors().is_empty());
    }
}
