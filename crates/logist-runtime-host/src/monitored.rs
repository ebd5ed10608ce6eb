//! Runs that go through a per-run `logist-monitor` (a `HostRuntime` built
//! with a state directory): starting them, following their output into a
//! [`Record`], the `Runtime` methods on them, and adopting the runs a
//! state directory holds.
//!
//! Each live run has one subscriber thread: it holds a `Subscribe`
//! connection to the run's monitor and feeds every logged byte into the
//! run's [`Record`] (the same in-memory buffer, waits and wake-ups as a
//! run started in-process), then records the exit when the monitor
//! reports it. Reads from before what the record still holds (its cap
//! dropped them, or they were printed before this process adopted the
//! run) go to the log on disk, so `read_output` works from any offset.
//! Control (resize, terminate, closing stdin) goes through a second
//! connection and stdin writes through a third (a blocked write must not
//! hold up `terminate`), each opened on first use and kept.

use std::os::fd::OwnedFd;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use logist_core::{
    CommandLine, Completion, Error, Logs, OutputChunk, OutputRead, ProcessId, ProcessInfo,
    ProcessState, SpawnRequest, Stream,
};
use logist_monitor::log::{Channel, Chunk};
use logist_monitor::{
    Client, ClientError, ExitRecord, LentEvent, LostReason, MonitorProgram, Ownership, RunDir,
    RunSpec, RunState, StateDir, StateError, Subscription,
};
use logist_output::{MAX_READ, Record, RecordSettings, Tracked};

/// The runtime name used in errors.
const RUNTIME: &str = "host";
/// How long to wait for a monitor to end once its run is stopped (its
/// whole tree is gone when it ends).
const MONITOR_END_WAIT: Duration = Duration::from_secs(5);
/// How long a monitor may take to end after its run's exit when nothing
/// of the run is left.
const EXITING_MONITOR_WAIT: Duration = Duration::from_millis(250);
/// How long a live monitor may take to answer its first connection.
const CONNECT_WAIT: Duration = Duration::from_secs(5);
/// Log segments rotate past this size.
pub(crate) const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Subscriber threads do little: a small stack keeps a thousand of them
/// cheap.
const SUBSCRIBER_STACK: usize = 128 * 1024;

/// One run behind a monitor, shared by the runtime's table and its
/// subscriber thread.
#[derive(Debug)]
pub(crate) struct Monitored {
    pub(crate) record: Record<Extra>,
    pub(crate) run: RunDir,
    pub(crate) pid: Option<i32>,
    pub(crate) ownership: Ownership,
    /// The owner's end of an attached run's pipe: dropping it stops the
    /// run's whole tree.
    owner: Mutex<Option<OwnedFd>>,
    /// The control connection, opened on first use.
    control: Mutex<Option<Client>>,
    /// The connection stdin is written through, opened on first use.
    stdin: Mutex<Option<Client>>,
    /// The subscriber thread.
    subscriber: Mutex<Option<JoinHandle<()>>>,
    /// A duplicate of the current subscription's socket, to shut it down.
    socket: Mutex<Option<OwnedFd>>,
    /// Bytes of output the record keeps.
    output_cap: usize,
    /// Set when the runtime lets go of the run: a subscription that ends
    /// then is not followed up.
    stopping: AtomicBool,
}

/// What changes under the record's lock beside the shared state.
#[derive(Debug, Default)]
pub(crate) struct Extra {
    /// Why the run is lost (its monitor ended without an exit record).
    pub(crate) lost: Option<String>,
}

impl Tracked for Monitored {
    type Extra = Extra;

    fn record(&self) -> &Record<Extra> {
        &self.record
    }
}

/// The default monitor program: `logist-monitor` next to the current
/// executable (or next to the directory above it, for cargo's `deps/`),
/// else found on `PATH`.
pub(crate) fn default_monitor_program() -> MonitorProgram {
    const NAME: &str = "logist-monitor";
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        for dir in [Some(dir), dir.parent()].into_iter().flatten() {
            let candidate = dir.join(NAME);
            if candidate.is_file() {
                return MonitorProgram::new(candidate);
            }
        }
    }
    MonitorProgram::new(NAME)
}

fn backend(context: String, source: impl Into<logist_core::BoxError>) -> Error {
    Error::backend(RUNTIME, context, source)
}

fn unix_ms_to_time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn lost_reason(reason: LostReason) -> String {
    match reason {
        LostReason::MonitorDied => "its monitor died without recording the exit".to_owned(),
        LostReason::Rebooted => "the machine rebooted while it ran".to_owned(),
    }
}

/// What a new [`Monitored`] is made from.
pub(crate) struct Parts {
    pub(crate) run: RunDir,
    pub(crate) spec: RunSpec,
    pub(crate) pid: Option<i32>,
    pub(crate) owner: Option<OwnedFd>,
    pub(crate) seq: u64,
    pub(crate) settings: RecordSettings,
}

impl Monitored {
    /// A run's entry, before anything of its output is known.
    pub(crate) fn new(parts: Parts) -> Result<Self, Error> {
        let Parts {
            run,
            spec,
            pid,
            owner,
            seq,
            settings,
        } = parts;
        let mut request = SpawnRequest::new(CommandLine::new(spec.argv.clone())?);
        request.labels = spec.labels.clone();
        request.grace = Some(spec.grace);
        let mut record = Record::new(
            ProcessId::new(run.id()),
            seq,
            &request,
            settings,
            0,
            Extra::default(),
        );
        record.started_at = unix_ms_to_time(spec.created_unix_ms);
        Ok(Self {
            record,
            run,
            pid,
            ownership: spec.ownership,
            owner: Mutex::new(owner),
            control: Mutex::new(None),
            stdin: Mutex::new(None),
            subscriber: Mutex::new(None),
            socket: Mutex::new(None),
            output_cap: settings.output_cap,
            stopping: AtomicBool::new(false),
        })
    }

    /// Starts the record at most its cap before `end` (an adopted run's
    /// log end): older bytes stay on disk, where `read_output` finds them,
    /// and count as dropped from the in-memory logs.
    fn start_at_tail(&self, end: u64) -> u64 {
        let from = end.saturating_sub(self.output_cap as u64);
        let mut state = self.record.lock();
        let at = state.buffer.end();
        if at < from {
            state.buffer.skip(Stream::Stdout, from - at);
        }
        state.buffer.end()
    }

    fn id(&self) -> &ProcessId {
        &self.record.id
    }

    /// Follows the run from `from`: a subscriber thread while its monitor
    /// lives; else what its files say (exited or lost) is recorded now.
    pub(crate) fn follow(self: &Arc<Self>, from: u64) -> Result<(), Error> {
        let deadline = Instant::now() + CONNECT_WAIT;
        loop {
            let error = match Client::connect(&self.run).and_then(|c| c.subscribe(from)) {
                Ok(subscription) => return self.start_subscriber(subscription),
                Err(error) => error,
            };
            match self.run.state() {
                // Its monitor lives but did not answer (yet): try again,
                // for a while.
                Ok(RunState::Running(_) | RunState::Starting) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Ok(RunState::Running(_) | RunState::Starting) => {
                    return Err(backend(format!("following run `{}`", self.id()), error));
                }
                // The monitor has ended already (a short run with nobody
                // subscribed yet): its files tell the rest.
                _ => {
                    self.settle();
                    return Ok(());
                }
            }
        }
    }

    fn start_subscriber(self: &Arc<Self>, subscription: Subscription) -> Result<(), Error> {
        if !self.keep_socket(&subscription) {
            return Ok(());
        }
        let this = Arc::clone(self);
        let thread = std::thread::Builder::new()
            .name(format!("logist-run-{}", self.run.id()))
            .stack_size(SUBSCRIBER_STACK)
            .spawn(move || this.subscribed(subscription))
            .map_err(|error| Error::io("starting a subscriber thread", error))?;
        *self
            .subscriber
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(thread);
        Ok(())
    }

    /// Keeps a duplicate of `subscription`'s socket so that
    /// [`stop_following`](Self::stop_following) can shut it down; false
    /// when the runtime is letting go of the run already.
    fn keep_socket(&self, subscription: &Subscription) -> bool {
        let mut socket = self.socket.lock().unwrap_or_else(PoisonError::into_inner);
        if self.stopping.load(Ordering::Acquire) {
            return false;
        }
        match subscription.as_fd().try_clone_to_owned() {
            Ok(fd) => {
                *socket = Some(fd);
                true
            }
            Err(error) => {
                tracing::warn!(id = %self.id(), %error, "cannot follow the run");
                false
            }
        }
    }

    /// The subscriber thread: output into the record until the exit.
    fn subscribed(self: Arc<Self>, mut subscription: Subscription) {
        loop {
            match subscription.next_lent(None) {
                Ok(Some(LentEvent::Output {
                    channel,
                    offset,
                    bytes,
                })) => self.push(channel, offset, bytes, 0),
                Ok(Some(LentEvent::Gap { offset, len })) => {
                    self.push(Channel::Gap, offset, &[], len);
                }
                Ok(Some(LentEvent::Exited { .. })) => {
                    // The record is on disk before the event is sent, with
                    // what the event does not carry (the leak).
                    self.settle();
                    return;
                }
                Ok(None) | Err(_) => {
                    if self.stopping.load(Ordering::Acquire) {
                        return;
                    }
                    // The monitor ended, or the connection broke while it
                    // lives: then subscribe again from where we are.
                    match self.run.state() {
                        Ok(RunState::Running(_) | RunState::Starting) => {
                            let from = self.record.lock().buffer.end();
                            std::thread::sleep(Duration::from_millis(5));
                            if let Ok(again) =
                                Client::connect(&self.run).and_then(|c| c.subscribe(from))
                                && self.keep_socket(&again)
                            {
                                subscription = again;
                            } else if self.stopping.load(Ordering::Acquire) {
                                return;
                            }
                        }
                        _ => {
                            self.settle();
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Appends one logged chunk to the record (skipping what it has, in
    /// case a subscription resumed with an overlap).
    fn push_chunk(&self, chunk: &Chunk) {
        self.push(chunk.channel, chunk.offset, &chunk.bytes, chunk.gap);
    }

    /// [`push_chunk`](Self::push_chunk) of its parts: `bytes` from
    /// `channel` at `offset`, or for a [`Channel::Gap`] `gap` missing bytes.
    fn push(&self, channel: Channel, offset: u64, bytes: &[u8], gap: u64) {
        let len = if channel == Channel::Gap {
            gap
        } else {
            bytes.len() as u64
        };
        let mut state = self.record.lock();
        let end = state.buffer.end();
        if offset + len <= end {
            return;
        }
        if offset > end {
            // Missing from the log (expired segments): keep offsets true.
            state.buffer.skip(Stream::Stdout, offset - end);
        }
        let skip = end.saturating_sub(offset);
        match channel.stream() {
            Some(stream) => {
                let skip = usize::try_from(skip).unwrap_or(usize::MAX);
                state.buffer.push(stream, &bytes[skip.min(bytes.len())..]);
            }
            None => state.buffer.skip(Stream::Stdout, gap - skip),
        }
        self.record.release_after_output(state);
    }

    /// Reads the log on disk from the record's end to `to` (or the end)
    /// into the record.
    fn catch_up(&self, to: Option<u64>) {
        let mut reader = self.run.log();
        loop {
            let from = self.record.lock().buffer.end();
            if to.is_some_and(|to| from >= to) {
                return;
            }
            match reader.read(from, MAX_READ) {
                Ok(chunks) if !chunks.is_empty() => {
                    for chunk in &chunks {
                        self.push_chunk(chunk);
                    }
                }
                Ok(_) => return,
                Err(error) => {
                    tracing::warn!(id = %self.id(), error = %logist_core::error_chain(&error), "cannot read the run's log");
                    return;
                }
            }
        }
    }

    /// Records what the run's files say once its monitor is gone (or has
    /// recorded the exit): the rest of the log, then the exit or the loss.
    pub(crate) fn settle(&self) {
        match self.run.state() {
            Ok(RunState::Exited(record)) => {
                self.catch_up(Some(record.log_end));
                self.finish(&record);
            }
            Ok(RunState::Lost { reason, .. }) => {
                // Its monitor died under us: what is left of its group
                // goes too (escapees that left it cannot be found).
                if let Err(error) = self.run.kill_lost() {
                    tracing::warn!(id = %self.id(), error = %logist_core::error_chain(&error), "cannot kill what is left of a lost run");
                }
                self.catch_up(None);
                self.mark_lost(lost_reason(reason));
            }
            Ok(_) => {
                // Still running: nobody follows it any more (the runtime
                // is letting go of it).
            }
            Err(error) => {
                self.catch_up(None);
                self.mark_lost(format!(
                    "its files are damaged: {}",
                    logist_core::error_chain(&error)
                ));
            }
        }
    }

    fn finish(&self, record: &ExitRecord) {
        let mut state = self.record.lock();
        if record.output_leaked {
            state.leaked = true;
        }
        state.exited(record.status);
        drop(state);
        self.record.notify_all();
    }

    pub(crate) fn mark_lost(&self, reason: String) {
        let mut state = self.record.lock();
        if state.status.is_none() && state.extra.lost.is_none() {
            state.extra.lost = Some(reason);
            state.output_done = true;
        }
        drop(state);
        self.record.notify_all();
    }

    fn lost(&self) -> Option<String> {
        self.record.lock().extra.lost.clone()
    }

    /// Running: neither exited nor lost.
    pub(crate) fn is_alive(&self) -> bool {
        let state = self.record.lock();
        state.status.is_none() && state.extra.lost.is_none()
    }

    fn monitor_alive(&self) -> bool {
        self.run.monitor_alive().unwrap_or(false)
    }

    /// After a failed request: whether the monitor is ending (it closes
    /// its socket shortly before it exits).
    fn monitor_ending(&self) -> bool {
        self.wait_monitor_gone(Instant::now() + EXITING_MONITOR_WAIT * 4)
    }

    /// Waits until the monitor has ended (its whole tree is gone).
    fn wait_monitor_gone(&self, deadline: Instant) -> bool {
        loop {
            if !self.monitor_alive() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn control<T>(
        &self,
        call: impl FnOnce(&mut Client) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        Self::call_on(&self.run, &self.control, call)
    }

    /// A call on the connection in `slot`, opened if needed, dropped when
    /// it broke.
    fn call_on<T>(
        run: &RunDir,
        slot: &Mutex<Option<Client>>,
        call: impl FnOnce(&mut Client) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let mut control = slot.lock().unwrap_or_else(PoisonError::into_inner);
        let client = match control.as_mut() {
            Some(client) => client,
            None => control.insert(Client::connect(run)?),
        };
        let result = call(client);
        if matches!(
            result,
            Err(ClientError::Io { .. } | ClientError::Protocol { .. })
        ) {
            // A broken connection is not used again.
            *control = None;
        }
        result
    }

    pub(crate) fn get_logs(&self, tail: Option<usize>) -> Logs {
        self.record.logs(tail)
    }

    pub(crate) fn get_stream_logs(&self, stream: Stream, tail: Option<usize>) -> Logs {
        self.record.stream_logs(stream, tail)
    }

    pub(crate) fn read_output(&self, from: u64, timeout: Option<Duration>) -> OutputRead {
        let start = self.record.lock().buffer.start();
        if from < start
            && let Some(read) = self.read_log(from)
        {
            return read;
        }
        self.record.read_output(from, timeout)
    }

    /// Output from `from` as the log on disk has it, when the record no
    /// longer (or never) held it.
    fn read_log(&self, from: u64) -> Option<OutputRead> {
        let chunks = self.run.log().read(from, MAX_READ).ok()?;
        let mut out = Vec::new();
        let mut missed = 0;
        let mut next = from;
        for chunk in chunks {
            match chunk.channel.stream() {
                Some(stream) => out.push(OutputChunk {
                    stream,
                    offset: chunk.offset,
                    data: chunk.bytes,
                }),
                // A gap at the start counts as missed; one after data
                // ends this read there.
                None if out.is_empty() => missed += chunk.gap,
                None => break,
            }
            next = chunk.offset + out.last().map_or(chunk.gap, |c| c.data.len() as u64);
        }
        if out.is_empty() && missed == 0 {
            return None;
        }
        let mut state = self.record.lock();
        state.read_position = state.read_position.max(next);
        Some(OutputRead::new(out, next, missed, false))
    }

    pub(crate) fn wait(&self, timeout: Option<Duration>) -> Result<Completion, Error> {
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        let state = self.record.lock();
        let (state, done) = self.record.wait_until(state, deadline, |s| {
            (s.status.is_some() && s.output_done) || s.extra.lost.is_some()
        });
        if let Some(reason) = &state.extra.lost {
            return Err(Error::Lost {
                id: self.id().clone(),
                reason: reason.clone(),
            });
        }
        match (done, state.status) {
            (true, Some(status)) => Ok(Completion::new(
                status,
                state.buffer.logs(None),
                state.leaked,
            )),
            _ => Err(Error::WaitTimeout {
                id: self.id().clone(),
                timeout: timeout.unwrap_or_default(),
            }),
        }
    }

    pub(crate) fn terminate(&self, force: bool) -> Result<bool, Error> {
        // After the exit a monitor ends within moments unless descendants
        // are left (it stays for them): only then is there anything to stop.
        let exited = self.record.lock().status.is_some();
        if exited && self.wait_monitor_gone(Instant::now() + EXITING_MONITOR_WAIT) {
            return Ok(false);
        }
        if !self.monitor_alive() {
            return Ok(false);
        }
        let grace = if force {
            Duration::ZERO
        } else {
            self.record.grace
        };
        let started = Instant::now();
        if let Err(error) = self.control(|client| client.terminate(Some(grace))) {
            // A monitor that is ending (its tree is gone, terminated by
            // someone else) closes its socket before it exits.
            if self.monitor_ending() {
                return Ok(false);
            }
            // A broken cached connection: once more on a fresh one.
            if let Err(again) = self.control(|client| client.terminate(Some(grace))) {
                if !self.monitor_alive() {
                    return Ok(false);
                }
                tracing::debug!(id = %self.id(), %error, "first terminate request failed");
                return Err(backend(format!("terminating `{}`", self.id()), again));
            }
        }
        tracing::info!(id = %self.id(), ?grace, "terminating through its monitor");
        // The monitor kills what is left after the grace period and ends
        // once no descendant is left: its end is the tree's end.
        let deadline = started + grace + MONITOR_END_WAIT;
        self.record.wait_exit(deadline);
        if !self.wait_monitor_gone(deadline) {
            return Err(backend(
                format!("terminating `{}`", self.id()),
                format!(
                    "its monitor still runs {} s after the grace period",
                    MONITOR_END_WAIT.as_secs()
                ),
            ));
        }
        // Its subscriber records the exit; a lost run has none.
        self.record
            .wait_exit(Instant::now() + Duration::from_secs(1));
        Ok(true)
    }

    fn stdin_error(&self, error: ClientError) -> Error {
        match error {
            ClientError::Refused { .. } => Error::StdinClosed {
                id: self.id().clone(),
            },
            // The run ended: its monitor closes the socket, then exits.
            _ if !self.is_alive() || self.monitor_ending() => Error::StdinClosed {
                id: self.id().clone(),
            },
            error => backend(format!("writing to the stdin of `{}`", self.id()), error),
        }
    }

    pub(crate) fn write_stdin(&self, data: &[u8]) -> Result<(), Error> {
        if !self.is_alive() {
            return Err(Error::StdinClosed {
                id: self.id().clone(),
            });
        }
        // Its own connection: a run that stops reading blocks this write
        // until it reads again, and must not block `terminate` meanwhile.
        Self::call_on(&self.run, &self.stdin, |client| client.write_stdin(data))
            .map_err(|error| self.stdin_error(error))
    }

    pub(crate) fn close_stdin(&self) -> Result<(), Error> {
        if !self.monitor_alive() {
            return Ok(());
        }
        match self.control(Client::close_stdin) {
            Ok(()) | Err(ClientError::Refused { .. }) => Ok(()),
            Err(_) if self.monitor_ending() => Ok(()),
            Err(error) => Err(backend(
                format!("closing the stdin of `{}`", self.id()),
                error,
            )),
        }
    }

    pub(crate) fn resize(&self, rows: u16, cols: u16) -> Result<(), Error> {
        if !self.is_alive() {
            return Err(Error::StdinClosed {
                id: self.id().clone(),
            });
        }
        self.control(|client| client.resize(rows, cols))
            .map_err(|error| self.stdin_error(error))
    }

    pub(crate) fn info(&self) -> ProcessInfo {
        let mut info = self
            .record
            .info(self.pid.and_then(|pid| u32::try_from(pid).ok()));
        if self.lost().is_some() {
            info.state = ProcessState::Lost;
        }
        info
    }

    /// Stops following the run (the runtime lets go of it): the
    /// subscriber thread ends.
    pub(crate) fn stop_following(&self) {
        self.stopping.store(true, Ordering::Release);
        if let Some(socket) = self
            .socket
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = nix::sys::socket::shutdown(
                std::os::fd::AsRawFd::as_raw_fd(&socket),
                nix::sys::socket::Shutdown::Both,
            );
        }
        let thread = self
            .subscriber
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
        *self.control.lock().unwrap_or_else(PoisonError::into_inner) = None;
        // A writer may still be blocked on its connection: leave it be.
        if let Ok(mut stdin) = self.stdin.try_lock() {
            *stdin = None;
        }
    }

    /// `Runtime::remove`: stops what is left of its tree, then deletes its
    /// directory.
    pub(crate) fn remove(&self) -> Result<(), Error> {
        if self.is_alive() {
            return Err(Error::StillRunning {
                id: self.id().clone(),
            });
        }
        if self.monitor_alive() {
            // Descendants outlived the main process, or the monitor is
            // finishing: stop them and let it end.
            let _ = self.control(|client| client.terminate(Some(Duration::ZERO)));
            self.wait_monitor_gone(Instant::now() + MONITOR_END_WAIT);
        }
        self.stop_following();
        drop(
            self.owner
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        self.run
            .clone()
            .remove()
            .map_err(|error| backend(format!("removing the state of `{}`", self.id()), error))?;
        self.record.discard();
        Ok(())
    }

    /// Asks an attached, running run to stop with its grace period (part
    /// of dropping the runtime); returns whether it was asked.
    pub(crate) fn ask_to_stop(&self) -> bool {
        self.ownership == Ownership::Attached
            && self.is_alive()
            && self.control(|client| client.terminate(None)).is_ok()
    }

    /// Lets go of the run as the runtime is dropped: an attached run's
    /// tree is killed (its owner pipe closes) and its monitor's end is
    /// awaited until `deadline`; a durable run goes on.
    pub(crate) fn release(&self) {
        self.stop_following();
        drop(
            self.owner
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }

    /// After [`release`](Self::release): waits until an attached run's
    /// monitor (and so its tree) is gone.
    /// An attached run ends with its owner, and so does its record: its
    /// directory is removed (only an owner that crashed leaves one, which
    /// the next adopter reports as exited, killed).
    pub(crate) fn await_release(&self, deadline: Instant) {
        if self.ownership != Ownership::Attached {
            return;
        }
        if !self.wait_monitor_gone(deadline) {
            tracing::warn!(id = %self.id(), "the monitor of an attached run outlived the runtime's drop");
            return;
        }
        if let Err(error) = self.run.clone().remove() {
            tracing::warn!(id = %self.id(), error = %logist_core::error_chain(&error), "cannot remove the state of an attached run");
        }
    }
}

/// What adopting a state directory found, run by run.
#[derive(Debug, Default)]
pub(crate) struct Adopted {
    pub(crate) runs: Vec<Arc<Monitored>>,
}

/// Adopts every run of `state`: see `HostRuntimeBuilder::adopt`.
pub(crate) fn adopt(
    state: &StateDir,
    mut next_seq: impl FnMut() -> u64,
    settings: RecordSettings,
) -> Result<Adopted, Error> {
    let entries = state.list().map_err(|error| {
        backend(
            format!("listing the runs of `{}`", state.path().display()),
            error,
        )
    })?;
    let mut adopted = Adopted::default();
    for entry in entries {
        let id = entry.id.clone();
        match adopt_one(state, entry, &mut next_seq, settings) {
            Ok(Some(run)) => adopted.runs.push(run),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(id, error = %logist_core::error_chain(&error), "skipping a damaged run");
            }
        }
    }
    Ok(adopted)
}

fn adopt_one(
    state: &StateDir,
    entry: logist_monitor::RunEntry,
    next_seq: &mut impl FnMut() -> u64,
    settings: RecordSettings,
) -> Result<Option<Arc<Monitored>>, Error> {
    let damaged = |error: StateError| backend(format!("reading run `{}`", entry.id), error);
    let run = state.run(&entry.id).map_err(damaged)?;
    let mut run_state = entry.state.map_err(damaged)?;
    let spec = match entry.spec {
        Some(spec) => spec,
        None => run.spec().map_err(damaged)?,
    };
    // A run being started (by an owner that may have died meanwhile)
    // becomes running or ends within moments.
    let deadline = Instant::now() + Duration::from_secs(2);
    while matches!(run_state, RunState::Starting) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
        run_state = run.state().map_err(damaged)?;
    }
    let monitor = run.monitor().ok().flatten();
    let mut parts = |pid| Parts {
        run: run.clone(),
        spec: spec.clone(),
        pid,
        owner: None,
        seq: next_seq(),
        settings,
    };
    let pid = monitor.as_ref().map(|m| m.run_pid);
    match run_state {
        RunState::Running(_) | RunState::Starting if spec.ownership == Ownership::Attached => {
            // Its owner lives and will stop it: not ours.
            Ok(None)
        }
        RunState::Starting => Err(backend(
            format!("adopting run `{}`", entry.id),
            "its monitor holds its lock but never recorded the run",
        )),
        RunState::Running(record) => {
            let process = Arc::new(Monitored::new(parts(Some(record.run_pid)))?);
            let from = process.start_at_tail(run.log().end().unwrap_or(0));
            process.follow(from)?;
            Ok(Some(process))
        }
        RunState::Exited(record) => {
            let process = Arc::new(Monitored::new(parts(pid))?);
            process.start_at_tail(record.log_end);
            process.settle();
            Ok(Some(process))
        }
        RunState::Lost { reason, .. } => {
            match run.kill_lost() {
                Ok(true) => {
                    tracing::info!(id = entry.id, "killed what was left of a lost run's group");
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(id = entry.id, error = %logist_core::error_chain(&error), "cannot kill what is left of a lost run");
                }
            }
            let process = Arc::new(Monitored::new(parts(pid))?);
            process.start_at_tail(run.log().end().unwrap_or(0));
            process.catch_up(None);
            process.mark_lost(lost_reason(reason));
            Ok(Some(process))
        }
        _ => Ok(None),
    }
}
