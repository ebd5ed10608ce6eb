//! Identity and state of a process that a runtime started.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use crate::command::CommandLine;

/// Labels attached to a process at spawn, like container labels.
///
/// Ordered so that listings and snapshots are stable.
pub type Labels = BTreeMap<String, String>;

/// The id a runtime gives to a process it started.
///
/// Ids are opaque strings chosen by the runtime. A runtime never gives the
/// same id twice, not even across instances or restarts of the owning
/// program, so an old id can never name a new process: it is simply unknown.
///
/// ```
/// use logist_core::ProcessId;
///
/// let id = ProcessId::new("host-1f2e-7");
/// assert_eq!(id.as_str(), "host-1f2e-7");
/// assert_eq!(id.to_string(), "host-1f2e-7");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProcessId(String);

impl ProcessId {
    /// Wraps a runtime-chosen id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProcessId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for ProcessId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

impl From<&str> for ProcessId {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

/// How a process ended: with an exit code, or killed by a signal.
///
/// ```
/// use logist_core::ExitStatus;
///
/// assert!(ExitStatus::Code(0).success());
/// assert_eq!(ExitStatus::Signal(9).to_string(), "killed by signal 9 (SIGKILL)");
/// // The number a shell would report: 128 + N for signal N.
/// assert_eq!(ExitStatus::Signal(15).shell_code(), 143);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// The process exited by itself with this code.
    Code(i32),
    /// The process was killed by this signal number.
    Signal(i32),
}

impl ExitStatus {
    /// True when the process exited with code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Code(0)
    }

    /// The exit code, if the process exited by itself.
    pub fn code(self) -> Option<i32> {
        match self {
            ExitStatus::Code(code) => Some(code),
            ExitStatus::Signal(_) => None,
        }
    }

    /// The signal number, if the process was killed by a signal.
    pub fn signal(self) -> Option<i32> {
        match self {
            ExitStatus::Code(_) => None,
            ExitStatus::Signal(signal) => Some(signal),
        }
    }

    /// The status as one number the way a shell reports it: the exit code,
    /// or 128 + N for death by signal N.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Code(code) => code,
            ExitStatus::Signal(signal) => 128 + signal,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExitStatus::Code(code) => write!(f, "exit code {code}"),
            ExitStatus::Signal(signal) => match signal_name(signal) {
                Some(name) => write!(f, "killed by signal {signal} ({name})"),
                None => write!(f, "killed by signal {signal}"),
            },
        }
    }
}

/// The conventional Linux name of a signal number, for messages.
pub fn signal_name(signal: i32) -> Option<&'static str> {
    const NAMES: [&str; 31] = [
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    let index = usize::try_from(signal).ok()?.checked_sub(1)?;
    NAMES.get(index).copied()
}

/// Whether a process is still running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProcessState {
    /// The main process has not exited yet.
    Running,
    /// The main process exited with this status.
    Exited(ExitStatus),
    /// The process that supervised the run died without recording how the
    /// run ended (a durable run's monitor was killed, or the machine
    /// rebooted): its exit status is unknown and is never invented.
    /// [`Runtime::wait`](crate::Runtime::wait) answers [`Error::Lost`](crate::Error::Lost).
    Lost,
}

/// What a runtime knows about one of its processes.
///
/// Returned by [`Runtime::info`](crate::Runtime::info) and
/// [`Runtime::list`](crate::Runtime::list).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessInfo {
    /// The runtime's id for the process.
    pub id: ProcessId,
    /// The operating-system pid as seen by the runtime, where there is one.
    pub pid: Option<u32>,
    /// The command line the process was started with.
    pub command: CommandLine,
    /// The labels given at spawn.
    pub labels: Labels,
    /// Running or exited.
    pub state: ProcessState,
    /// When the process was started.
    pub started_at: SystemTime,
}

impl ProcessInfo {
    /// Builds a process description; for runtime implementations.
    pub fn new(
        id: ProcessId,
        pid: Option<u32>,
        command: CommandLine,
        labels: Labels,
        state: ProcessState,
        started_at: SystemTime,
    ) -> Self {
        Self {
            id,
            pid,
            command,
            labels,
            state,
            started_at,
        }
    }

    /// True when every label in `selector` is present with the same value.
    /// An empty selector matches every process.
    ///
    /// ```
    /// # use logist_core::{Labels, ProcessInfo};
    /// fn job_of(info: &ProcessInfo, job: &str) -> bool {
    ///     let selector = Labels::from([("job".to_owned(), job.to_owned())]);
    ///     info.matches(&selector)
    /// }
    /// ```
    pub fn matches(&self, selector: &Labels) -> bool {
        selector
            .iter()
            .all(|(key, value)| self.labels.get(key) == Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_accessors() {
        let ok = ExitStatus::Code(0);
        let failed = ExitStatus::Code(3);
        let killed = ExitStatus::Signal(9);
        assert!(ok.success());
        assert!(!failed.success());
        assert!(!killed.success());
        assert_eq!((failed.code(), failed.signal()), (Some(3), None));
        assert_eq!((killed.code(), killed.signal()), (None, Some(9)));
        assert_eq!(failed.shell_code(), 3);
        assert_eq!(killed.shell_code(), 137);
    }

    #[test]
    fn exit_status_display() {
        let shown: Vec<String> = [
            ExitStatus::Code(0),
            ExitStatus::Code(-1),
            ExitStatus::Signal(15),
            ExitStatus::Signal(64),
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            shown,
            [
                "exit code 0",
                "exit code -1",
                "killed by signal 15 (SIGTERM)",
                "killed by signal 64"
            ]
        );
    }

    #[test]
    fn signal_names_cover_the_standard_range() {
        assert_eq!(signal_name(1), Some("SIGHUP"));
        assert_eq!(signal_name(31), Some("SIGSYS"));
        assert_eq!(signal_name(0), None);
        assert_eq!(signal_name(32), None);
        assert_eq!(signal_name(-9), None);
    }

    #[test]
    fn process_ids_compare_by_text() {
        let a = ProcessId::new("host-1");
        assert_eq!(a, ProcessId::from("host-1"));
        assert_ne!(a, ProcessId::from(String::from("host-2")));
        assert_eq!(format!("{a}"), "host-1");
    }

    #[test]
    fn label_selector_matches_subsets() {
        let info = ProcessInfo::new(
            ProcessId::new("x"),
            Some(1),
            CommandLine::new(["true"]).unwrap(),
            Labels::from([("job".into(), "7".into()), ("agent".into(), "mock".into())]),
            ProcessState::Running,
            SystemTime::UNIX_EPOCH,
        );
        let select = |pairs: &[(&str, &str)]| -> bool {
            let selector: Labels = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            info.matches(&selector)
        };
        assert!(select(&[]));
        assert!(select(&[("job", "7")]));
        assert!(select(&[("job", "7"), ("agent", "mock")]));
        assert!(!select(&[("job", "8")]));
        assert!(!select(&[("owner", "7")]));
    }
}
