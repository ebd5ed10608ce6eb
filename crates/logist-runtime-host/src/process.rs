//! The shared record of one spawned process: identity, output buffer, exit
//! status, and the condition variable that wakes its waiters.

use std::fs::File;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use logist_core::{CommandLine, ExitStatus, Labels, ProcessId, ProcessInfo, ProcessState};

use logist_output::OutputBuffer;

/// One process the runtime started. Shared (`Arc`) by the runtime's table,
/// the reactor, and callers blocked on it.
#[derive(Debug)]
pub(crate) struct Process {
    pub(crate) id: ProcessId,
    /// Spawn order within the runtime; also the cookie's value.
    pub(crate) seq: u64,
    pub(crate) pid: i32,
    /// No later than the child's start time (clock ticks after boot: the
    /// boot clock just before the spawn). `/proc` scans skip processes that
    /// started earlier: they cannot be descendants.
    pub(crate) spawn_ticks: u64,
    pub(crate) command: CommandLine,
    pub(crate) labels: Labels,
    pub(crate) started_at: SystemTime,
    pub(crate) grace: Duration,
    /// `NAME=VALUE` as it appears in the environment of every descendant.
    pub(crate) cookie: Vec<u8>,
    /// On a pseudo-terminal: closing stdin means sending end-of-file.
    pub(crate) on_terminal: bool,
    pub(crate) state: Mutex<State>,
    /// Notified on exit, end of output and removal: what `wait` and
    /// `terminate` wait for.
    pub(crate) changed: Condvar,
    /// Notified on the same, and on new output while a reader waits for it
    /// (`State::output_waiters`), so that a flood of output does not wake
    /// threads that wait for the exit.
    pub(crate) output: Condvar,
    /// The writable end of the child's stdin (or the terminal), apart from
    /// `state` so that a blocked writer never blocks readers.
    pub(crate) stdin: Mutex<Option<File>>,
}

/// What changes while the process runs. Guarded by `Process::state`.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) buffer: OutputBuffer,
    /// Set by the reactor when it reaps the child, under this lock: while
    /// it is `None`, the pid (and its process group) cannot be recycled.
    pub(crate) status: Option<ExitStatus>,
    /// Output descriptors not yet at end-of-file.
    pub(crate) open_streams: usize,
    /// Output is over: every stream ended, or the child exited and the leak
    /// window passed.
    pub(crate) output_done: bool,
    /// Descendants held the output open past the leak window.
    pub(crate) leaked: bool,
    /// When the child exited.
    pub(crate) exited_at: Option<Instant>,
    /// The furthest position any `read_output` returned (backpressure).
    pub(crate) read_position: u64,
    /// Reactor tokens of output streams paused until readers catch up.
    pub(crate) paused: Vec<u64>,
    /// Readers blocked in `read_output`, waiting on `Process::output`.
    pub(crate) output_waiters: usize,
}

impl Process {
    /// Locks the state, recovering from a poisoned lock: the data is plain
    /// and a panicking holder cannot leave it half-updated in a way that
    /// matters more than losing the process would.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes every waiter: on exit, end of output and removal.
    pub(crate) fn notify_all(&self) {
        self.changed.notify_all();
        self.output.notify_all();
    }

    /// Blocks until `done` holds or `deadline` passes; returns the guard and
    /// whether `done` holds. Not woken by new output: see
    /// [`wait_for_output`](Self::wait_for_output).
    pub(crate) fn wait_until<'a>(
        &'a self,
        state: MutexGuard<'a, State>,
        deadline: Option<Instant>,
        done: impl Fn(&State) -> bool,
    ) -> (MutexGuard<'a, State>, bool) {
        logist_output::wait_until(&self.changed, state, deadline, done)
    }

    /// Like [`wait_until`](Self::wait_until), also woken by new output.
    pub(crate) fn wait_for_output<'a>(
        &'a self,
        state: MutexGuard<'a, State>,
        deadline: Option<Instant>,
        done: impl Fn(&State) -> bool,
    ) -> (MutexGuard<'a, State>, bool) {
        if done(&state) {
            return (state, true);
        }
        let mut state = state;
        state.output_waiters += 1;
        let (mut state, done) = logist_output::wait_until(&self.output, state, deadline, done);
        state.output_waiters -= 1;
        (state, done)
    }

    pub(crate) fn info(&self, state: &State) -> ProcessInfo {
        ProcessInfo::new(
            self.id.clone(),
            u32::try_from(self.pid).ok(),
            self.command.clone(),
            self.labels.clone(),
            match state.status {
                None => ProcessState::Running,
                Some(status) => ProcessState::Exited(status),
            },
            self.started_at,
        )
    }
}
