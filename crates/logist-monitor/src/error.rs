//! The errors of this crate: one enum per concern (the log, the state
//! directory, talking to a monitor, starting a run).

use std::io;
use std::path::PathBuf;

/// An error reading or writing a run's log segments.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A segment could not be read, written or listed.
    #[error("log i/o on `{}`", path.display())]
    Io {
        /// The segment or directory.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A segment holds bytes that are not a record where one must start.
    #[error("log segment `{}` is damaged at byte {position}: {reason}", path.display())]
    Corrupt {
        /// The segment.
        path: PathBuf,
        /// The byte position in the segment file.
        position: u64,
        /// What is wrong there.
        reason: &'static str,
    },
    /// The offset asked for was removed by retention.
    #[error("offset {offset} is before the earliest kept offset {earliest}")]
    Expired {
        /// The offset asked for.
        offset: u64,
        /// The first offset still on disk.
        earliest: u64,
    },
}

/// An error of the state directory or one run's files in it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// A file or directory could not be read or written.
    #[error("state i/o on `{}`", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A state file exists but cannot be understood (truncated, corrupted,
    /// or written by an incompatible layout version).
    #[error("state file `{}` is damaged: {reason}", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Another process owns the state directory (or, for a run, its
    /// monitor still lives).
    #[error("`{}` is in use by another process", path.display())]
    Busy {
        /// The state directory or run directory.
        path: PathBuf,
    },
    /// No run with this id is recorded.
    #[error("no run with id `{id}` in `{}`", dir.display())]
    UnknownRun {
        /// The id asked for.
        id: String,
        /// The state directory searched.
        dir: PathBuf,
    },
    /// A run id that cannot name a directory.
    #[error("invalid run id `{0}`: use 1 to 64 of A-Z a-z 0-9 . _ - and do not start with a dot")]
    InvalidId(String),
    /// A run with this id already exists.
    #[error("a run with id `{0}` already exists")]
    Exists(String),
}

/// An error talking to a run's monitor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The control socket could not be reached or the connection broke.
    #[error("control socket of run `{run}`")]
    Io {
        /// The run.
        run: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The monitor speaks another protocol version.
    #[error("monitor of run `{run}` speaks protocol {theirs}, this library speaks {ours}")]
    Version {
        /// The run.
        run: String,
        /// The monitor's version.
        theirs: u32,
        /// Ours.
        ours: u32,
    },
    /// The monitor sent something this library does not understand.
    #[error("monitor of run `{run}` sent a malformed reply: {reason}")]
    Protocol {
        /// The run.
        run: String,
        /// What was wrong.
        reason: String,
    },
    /// The monitor refused the request.
    #[error("monitor of run `{run}` refused: {message}")]
    Refused {
        /// The run.
        run: String,
        /// The monitor's reason.
        message: String,
    },
    /// The run's monitor is gone without an exit record.
    #[error("run `{run}` is lost: its monitor ended without recording an exit status")]
    Lost {
        /// The run.
        run: String,
    },
    /// The deadline passed first.
    #[error("timed out waiting for run `{run}`")]
    Timeout {
        /// The run.
        run: String,
    },
    /// Reading the run's state files failed.
    #[error(transparent)]
    State(#[from] StateError),
}

/// An error starting a run through a new monitor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The run's files could not be prepared.
    #[error(transparent)]
    State(#[from] StateError),
    /// The monitor program could not be started.
    #[error("failed to start the monitor `{}`", program.display())]
    Monitor {
        /// The monitor program.
        program: PathBuf,
        /// Why the operating system refused.
        #[source]
        source: io::Error,
    },
    /// The monitor started but could not set the run up.
    #[error("the monitor of run `{run}` failed: {message}")]
    Setup {
        /// The run.
        run: String,
        /// What the monitor reported.
        message: String,
    },
    /// The run's program could not be started.
    #[error("failed to spawn `{program}`")]
    Spawn {
        /// The program.
        program: String,
        /// Why the operating system refused.
        #[source]
        source: io::Error,
    },
}
