//! The `Runtime` trait: starting, watching and stopping processes.

use std::time::Duration;

use crate::command::{SpawnRequest, TerminalSize};
use crate::error::Error;
use crate::output::{Completion, Logs, OutputRead, Stream};
use crate::process::{Labels, ProcessId, ProcessInfo};

/// Starts, watches and stops processes: on this host, in a container, on
/// another machine.
///
/// # The contract
///
/// Every runtime crate is held to these rules, and the conformance suite
/// (`logist-conformance`) checks them.
///
/// - **Ownership.** A runtime owns what it spawns. Whatever
///   [`spawn`](Self::spawn) starts, [`terminate`](Self::terminate) can stop,
///   including descendants. Dropping the runtime stops every process it still
///   owns (SIGTERM, then SIGKILL after the grace period), in bounded time,
///   without panicking.
/// - **Ids.** Ids are never reused, so an id names one process forever. An id
///   the runtime does not know (never spawned here, or removed) gives
///   [`Error::UnknownProcess`] from every method.
/// - **Threads.** Every method takes `&self` and may be called from many
///   threads at once, on the same or different processes. A call that blocks
///   on one process (`wait`, `terminate`, `read_output`) never blocks calls
///   on other processes.
/// - **After exit.** A process that has exited keeps its exit status and its
///   retained output until the caller [`remove`](Self::remove)s it (or a
///   runtime's documented retention limit does). `is_alive` is then `false`,
///   `wait` returns at once with the same status every time, and
///   `terminate` returns `Ok(false)`.
/// - **Output.** Output is read as bytes as it arrives, not as lines: text
///   printed without a newline is visible at once. Bytes are never altered;
///   retained output is bounded, and what a bound discards is counted
///   ([`Logs::dropped`], [`OutputRead::missed`]), never silently lost.
///
/// The trait is object safe: callers hold `Box<dyn Runtime>` or
/// `Arc<dyn Runtime>` and swap runtimes at run time.
pub trait Runtime: Send + Sync {
    /// A short name for messages: `host`, `docker`, `mock`.
    fn name(&self) -> &str;

    /// Starts a process and returns its id once it is running.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCommand`] for an environment the OS cannot accept,
    /// [`Error::ProgramNotFound`], [`Error::NotExecutable`],
    /// [`Error::WorkingDirectory`], [`Error::Unsupported`] for an option the
    /// runtime lacks (a pseudo-terminal, say), [`Error::Spawn`] otherwise.
    /// Nothing is left running when this returns an error.
    fn spawn(&self, request: &SpawnRequest) -> Result<ProcessId, Error>;

    /// True while the main process has not exited. Never blocks, never
    /// consumes the exit status.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProcess`].
    fn is_alive(&self, id: &ProcessId) -> Result<bool, Error>;

    /// The retained combined output (stdout and stderr interleaved in
    /// arrival order), or with `tail = Some(n)` only its last `n` lines (a
    /// final line without a newline counts as a line). A tail costs time in
    /// proportion to what it returns, not to what the process wrote.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProcess`].
    fn get_logs(&self, id: &ProcessId, tail: Option<usize>) -> Result<Logs, Error>;

    /// Like [`get_logs`](Self::get_logs), for one stream only.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProcess`].
    fn get_stream_logs(
        &self,
        id: &ProcessId,
        stream: Stream,
        tail: Option<usize>,
    ) -> Result<Logs, Error>;

    /// Reads the combined output from position `from` (a byte offset, as
    /// returned in [`OutputRead::next`]; start with 0).
    ///
    /// Returns at once when output at or after `from` is available (possibly
    /// less than all of it: call again from `next`). Otherwise blocks, without
    /// polling, until output arrives, the output ends, or `timeout` passes;
    /// `None` waits as long as it takes, `Some(Duration::ZERO)` never blocks.
    /// A timeout is not an error: it returns no chunks and `finished: false`.
    /// A position past the end waits for output beyond it.
    /// Bytes at `from` that the memory bound already discarded are counted
    /// in [`OutputRead::missed`] and skipped.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProcess`].
    fn read_output(
        &self,
        id: &ProcessId,
        from: u64,
        timeout: Option<Duration>,
    ) -> Result<OutputRead, Error>;

    /// Stops the process and its descendants.
    ///
    /// Politely (`force = false`): SIGTERM to the whole tree, then SIGKILL to
    /// whatever is left after the grace period (the request's, or the
    /// runtime's default), even if the main process exited earlier. With
    /// `force = true`, SIGKILL at once.
    ///
    /// Blocks until the main process has exited: at most the grace period
    /// plus the short time SIGKILL takes. Returns `Ok(true)` when something
    /// was running and was signalled, `Ok(false)` when the process had
    /// already exited and nothing of it was left. Calling it twice, from two
    /// threads, or after exit is fine.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProcess`]; [`Error::Io`] when a signal could not be
    /// sent for a reason other than the target being gone.
    fn terminate(&self, id: &ProcessId, force: bool) -> Result<bool, Error>;

    /// Waits for the main process to exit and returns its status and logs.
    ///
    /// After the main process exits, waits for the output to end, but only
    /// for a short window: a descendant that holds the output open does not
    /// make `wait` hang (see [`Completion::output_leaked`]). The process is
    /// reaped; its status is kept, so `wait` can be called again, from many
    /// threads at once.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProcess`]; [`Error::WaitTimeout`] when `timeout`
    /// passes first. A timeout does not stop the process.
    fn wait(&self, id: &ProcessId, timeout: Option<Duration>) -> Result<Completion, Error>;

    /// Writes bytes to the process's standard input. Blocks while the pipe is
    /// full; terminating the process from another thread unblocks it.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProcess`]; [`Error::StdinClosed`] when stdin was not
    /// requested, was closed, or the process stopped reading;
    /// [`Error::Unsupported`] by default.
    fn write_stdin(&self, id: &ProcessId, data: &[u8]) -> Result<(), Error> {
        let _ = (id, data);
        Err(Error::unsupported(self.name(), "writing to standard input"))
    }

    /// Closes the process's standard input, so it reads end-of-file. Closing
    /// twice is fine.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProcess`]; [`Error::Unsupported`] by default.
    fn close_stdin(&self, id: &ProcessId) -> Result<(), Error> {
        let _ = id;
        Err(Error::unsupported(self.name(), "closing standard input"))
    }

    /// Changes the size of the process's pseudo-terminal (for a process
    /// spawned with [`SpawnRequest::terminal`]); the program gets SIGWINCH,
    /// as when a person resizes a terminal window.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProcess`]; [`Error::StdinClosed`] when the process
    /// has no terminal (or no more); [`Error::Unsupported`] by default.
    fn resize_terminal(&self, id: &ProcessId, size: TerminalSize) -> Result<(), Error> {
        let _ = (id, size);
        Err(Error::unsupported(self.name(), "resizing the terminal"))
    }

    /// What the runtime knows about the process.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProcess`].
    fn info(&self, id: &ProcessId) -> Result<ProcessInfo, Error>;

    /// Every process whose labels include all of `selector`'s (all of them
    /// for an empty selector), oldest first, like
    /// `docker ps --filter label=…`.
    ///
    /// # Errors
    ///
    /// Only backend failures; an empty result is `Ok`.
    fn list(&self, selector: &Labels) -> Result<Vec<ProcessInfo>, Error>;

    /// Forgets an exited process and frees its output. The id is unknown
    /// afterwards.
    ///
    /// Descendants it left running where the runtime sees them cheaply (a
    /// host runtime: in the process group, or holding the output open) are
    /// killed first. To stop every descendant, including daemons that left
    /// both, call [`terminate`](Self::terminate) before removing; dropping
    /// the runtime also stops them.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProcess`]; [`Error::StillRunning`] when the process
    /// has not exited (terminate it first).
    fn remove(&self, id: &ProcessId) -> Result<(), Error>;
}
