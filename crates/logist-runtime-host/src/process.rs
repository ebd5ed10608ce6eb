//! What the host runtime keeps of one spawned process beside the shared
//! [`Record`]: its pid, its tree's cookie, its stdin, and the output streams
//! paused for backpressure.

use std::fs::File;
use std::sync::Mutex;

use logist_output::{Record, Tracked};

/// One process the runtime started. Shared (`Arc`) by the runtime's table,
/// the reactor, and callers blocked on it.
#[derive(Debug)]
pub(crate) struct Process {
    /// Identity, output, exit status and the waits on them. The reactor
    /// records the exit under its lock when it reaps the child: while the
    /// status is `None`, the pid (and its process group) cannot be recycled.
    pub(crate) record: Record<Paused>,
    pub(crate) pid: i32,
    /// No later than the child's start time (clock ticks after boot: the
    /// boot clock just before the spawn). `/proc` scans skip processes that
    /// started earlier: they cannot be descendants.
    pub(crate) spawn_ticks: u64,
    /// `NAME=VALUE` as it appears in the environment of every descendant.
    pub(crate) cookie: Vec<u8>,
    /// On a pseudo-terminal: closing stdin means sending end-of-file.
    pub(crate) on_terminal: bool,
    /// The writable end of the child's stdin (or the terminal), apart from
    /// the record's lock so that a blocked writer never blocks readers.
    pub(crate) stdin: Mutex<Option<File>>,
}

/// Reactor tokens of output streams paused until readers catch up
/// (backpressure); kept under the record's lock.
pub(crate) type Paused = Vec<u64>;

impl Tracked for Process {
    type Extra = Paused;

    fn record(&self) -> &Record<Paused> {
        &self.record
    }
}
