//! The record a runtime keeps of each process it started, and the table of
//! them: identity, output buffer, exit status, end of output, the two
//! condition variables that wake blocked callers, and the bodies of the
//! `Runtime` methods that only read the record (`is_alive`, `get_logs`,
//! `get_stream_logs`, `read_output`, `wait`, `info`, `list`).
//!
//! A runtime keeps what is specific to it beside the record: in its own
//! per-process type (descriptors, a container id, a player thread), and,
//! for what changes under the record's lock, in the record's `extra` state.
//!
//! The lifecycle is the same for every runtime: output arrives on one or
//! more streams ([`State::open_streams`]); the process exits
//! ([`State::exited`]); the output is over once every stream ended and the
//! exit is known, or when the runtime gives up waiting for streams that
//! descendants hold open ([`State::give_up_output`]). `wait` returns then.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use logist_core::{
    CommandLine, Completion, Error, ExitStatus, Labels, Logs, OutputRead, ProcessId, ProcessInfo,
    ProcessState, SpawnRequest, Stream,
};

use crate::{OutputBuffer, wait_until};

/// Most bytes one [`Record::read_output`] returns.
pub const MAX_READ: usize = 1024 * 1024;

/// One process a runtime started. Shared (`Arc`, inside the runtime's own
/// per-process type) by the runtime's table, whatever feeds it output, and
/// callers blocked on it.
#[derive(Debug)]
pub struct Record<X = ()> {
    /// The process's id.
    pub id: ProcessId,
    /// Spawn order within the runtime: [`Table::list`] sorts by it.
    pub seq: u64,
    /// What was started.
    pub command: CommandLine,
    /// The request's labels.
    pub labels: Labels,
    /// When the runtime started it.
    pub started_at: SystemTime,
    /// Time between a polite termination and the kill.
    pub grace: Duration,
    state: Mutex<State<X>>,
    /// Notified on exit, end of output and removal, and by the runtime when
    /// its `extra` state changes: what `wait` and `terminate` wait for.
    changed: Condvar,
    /// Notified on the same, and on new output while a reader waits for it,
    /// so that a flood of output does not wake threads that wait for the
    /// exit.
    output: Condvar,
}

/// What changes while the process runs, guarded by the record's lock.
#[derive(Debug)]
#[non_exhaustive]
pub struct State<X = ()> {
    /// The retained output.
    pub buffer: OutputBuffer,
    /// How the process exited, once known. A runtime that signals by pid
    /// sets it under the lock while it reaps the child, so that while it is
    /// `None` the pid cannot have been recycled.
    pub status: Option<ExitStatus>,
    /// Output streams not yet at their end.
    pub open_streams: usize,
    /// The output is over: every stream ended and the exit is known, or the
    /// runtime stopped waiting for streams that descendants hold open.
    pub output_done: bool,
    /// Descendants held the output open after the exit
    /// ([`Completion::output_leaked`]).
    pub leaked: bool,
    /// The out-of-memory killer struck ([`Completion::oom_killed`]).
    pub oom_killed: bool,
    /// The furthest position any `read_output` returned, for runtimes that
    /// hold a process back until its output is read.
    pub read_position: u64,
    /// Readers blocked in `read_output`, waiting on the output condvar.
    output_waiters: usize,
    /// What the runtime keeps of its own under this lock.
    pub extra: X,
}

impl<X> State<X> {
    /// Whether a reader waits for new output: then whoever appended output
    /// must wake it with [`Record::wake_readers`].
    pub fn readers_waiting(&self) -> bool {
        self.output_waiters > 0
    }

    /// Bytes produced that no `read_output` has returned yet.
    pub fn unread(&self) -> u64 {
        self.buffer.end().saturating_sub(self.read_position)
    }

    /// Records the exit, unless one is recorded already; the output is then
    /// over if no stream is open. Returns whether this was news. Callers
    /// then wake the waiters with [`notify_all`](Record::notify_all).
    pub fn exited(&mut self, status: ExitStatus) -> bool {
        if self.status.is_some() {
            return false;
        }
        self.status = Some(status);
        if self.open_streams == 0 {
            self.output_done = true;
        }
        true
    }

    /// One output stream reached its end; the output is over when it was
    /// the last and the exit is known. Callers then wake the waiters with
    /// [`notify_all`](Record::notify_all).
    pub fn stream_ended(&mut self) {
        self.open_streams = self.open_streams.saturating_sub(1);
        if self.open_streams == 0 && self.status.is_some() {
            self.output_done = true;
        }
    }

    /// Declares the output over although streams are still open (held by
    /// descendants after the exit); returns whether it was not over yet, in
    /// which case the completion reports the leak.
    pub fn give_up_output(&mut self) -> bool {
        if self.output_done {
            return false;
        }
        self.output_done = true;
        self.leaked = true;
        true
    }

    fn process_state(&self) -> ProcessState {
        match self.status {
            None => ProcessState::Running,
            Some(status) => ProcessState::Exited(status),
        }
    }
}

/// The runtime-wide settings a new [`Record`] takes.
#[derive(Clone, Copy, Debug)]
pub struct RecordSettings {
    /// Grace period for requests that do not set one.
    pub grace: Duration,
    /// Bytes of output kept in memory.
    pub output_cap: usize,
}

impl<X> Record<X> {
    /// The record of process `id`, started by `request` as the runtime's
    /// `seq`-th, with `streams` output streams open and the runtime's
    /// `extra` state.
    pub fn new(
        id: ProcessId,
        seq: u64,
        request: &SpawnRequest,
        settings: RecordSettings,
        streams: usize,
        extra: X,
    ) -> Self {
        Self {
            id,
            seq,
            command: request.command.clone(),
            labels: request.labels.clone(),
            started_at: SystemTime::now(),
            grace: request.grace.unwrap_or(settings.grace),
            state: Mutex::new(State {
                buffer: OutputBuffer::new(settings.output_cap),
                status: None,
                open_streams: streams,
                output_done: false,
                leaked: false,
                oom_killed: false,
                read_position: 0,
                output_waiters: 0,
                extra,
            }),
            changed: Condvar::new(),
            output: Condvar::new(),
        }
    }

    /// Locks the state, recovering from a poisoned lock: the state is
    /// updated in single steps, so a panicking holder cannot leave it half
    /// changed in a way that matters more than losing the process would.
    pub fn lock(&self) -> MutexGuard<'_, State<X>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes every waiter: on exit, end of output, removal, and changes of
    /// the runtime's own state.
    pub fn notify_all(&self) {
        self.changed.notify_all();
        self.output.notify_all();
    }

    /// Wakes readers blocked in `read_output` (new output arrived).
    pub fn wake_readers(&self) {
        self.output.notify_all();
    }

    /// Appends output that arrived on `stream` and wakes readers waiting
    /// for it.
    pub fn push(&self, stream: Stream, bytes: &[u8]) {
        let mut state = self.lock();
        state.buffer.push(stream, bytes);
        self.release_after_output(state);
    }

    /// Releases the lock after output was appended under it, waking the
    /// readers that wait for output, if any.
    pub fn release_after_output(&self, state: MutexGuard<'_, State<X>>) {
        let wake = state.readers_waiting();
        drop(state);
        if wake {
            self.wake_readers();
        }
    }

    /// Blocks until `done` holds or `deadline` passes (never, for `None`);
    /// returns the guard and whether `done` holds. Not woken by new output:
    /// see [`wait_for_output`](Self::wait_for_output).
    pub fn wait_until<'a>(
        &'a self,
        state: MutexGuard<'a, State<X>>,
        deadline: Option<Instant>,
        done: impl Fn(&State<X>) -> bool,
    ) -> (MutexGuard<'a, State<X>>, bool) {
        wait_until(&self.changed, state, deadline, done)
    }

    /// Like [`wait_until`](Self::wait_until), also woken by new output.
    pub fn wait_for_output<'a>(
        &'a self,
        state: MutexGuard<'a, State<X>>,
        deadline: Option<Instant>,
        done: impl Fn(&State<X>) -> bool,
    ) -> (MutexGuard<'a, State<X>>, bool) {
        if done(&state) {
            return (state, true);
        }
        let mut state = state;
        state.output_waiters += 1;
        let (mut state, done) = wait_until(&self.output, state, deadline, done);
        state.output_waiters -= 1;
        (state, done)
    }

    /// Waits until the exit is known, up to `deadline`; returns whether it
    /// is.
    pub fn wait_exit(&self, deadline: Instant) -> bool {
        let state = self.lock();
        self.wait_until(state, Some(deadline), |s| s.status.is_some())
            .1
    }

    /// `Runtime::is_alive`: no exit recorded yet.
    pub fn is_alive(&self) -> bool {
        self.lock().status.is_none()
    }

    /// `Runtime::get_logs`.
    pub fn logs(&self, tail: Option<usize>) -> Logs {
        self.lock().buffer.logs(tail)
    }

    /// `Runtime::get_stream_logs`.
    pub fn stream_logs(&self, stream: Stream, tail: Option<usize>) -> Logs {
        self.lock().buffer.stream_logs(stream, tail)
    }

    /// `Runtime::read_output`: waits up to `timeout` for output at or after
    /// `from` (or the end of the output), then returns at most
    /// [`MAX_READ`] bytes and advances the read position.
    pub fn read_output(&self, from: u64, timeout: Option<Duration>) -> OutputRead {
        self.read_output_then(from, timeout, |_| ()).0
    }

    /// [`read_output`](Self::read_output), then `then` on the state under
    /// the same lock (to resume a process held back by its unread output).
    pub fn read_output_then<R>(
        &self,
        from: u64,
        timeout: Option<Duration>,
        then: impl FnOnce(&mut State<X>) -> R,
    ) -> (OutputRead, R) {
        let state = self.lock();
        let (mut state, _) = self.wait_for_output(state, deadline(timeout), |s| {
            s.buffer.end() > from || s.output_done
        });
        let (chunks, next, missed) = state.buffer.read_from(from, MAX_READ);
        let finished = state.output_done && next >= state.buffer.end();
        state.read_position = state.read_position.max(next);
        let after = then(&mut state);
        (OutputRead::new(chunks, next, missed, finished), after)
    }

    /// `Runtime::wait`: waits up to `timeout` for the exit and the end of
    /// the output.
    ///
    /// # Errors
    ///
    /// [`Error::WaitTimeout`] when the timeout passed first.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<Completion, Error> {
        let state = self.lock();
        let (state, done) = self.wait_until(state, deadline(timeout), |s| {
            s.status.is_some() && s.output_done
        });
        match (done, state.status) {
            (true, Some(status)) => {
                Ok(
                    Completion::new(status, state.buffer.logs(None), state.leaked)
                        .with_oom_killed(state.oom_killed),
                )
            }
            _ => Err(Error::WaitTimeout {
                id: self.id.clone(),
                timeout: timeout.unwrap_or_default(),
            }),
        }
    }

    /// `Runtime::info`, with the pid the runtime knows (if any).
    pub fn info(&self, pid: Option<u32>) -> ProcessInfo {
        let state = self.lock().process_state();
        ProcessInfo::new(
            self.id.clone(),
            pid,
            self.command.clone(),
            self.labels.clone(),
            state,
            self.started_at,
        )
    }

    /// For `Runtime::remove`: frees the retained output (its count stays),
    /// ends the output and wakes every waiter.
    pub fn discard(&self) {
        let mut state = self.lock();
        state.buffer.clear();
        state.output_done = true;
        drop(state);
        self.notify_all();
    }
}

/// The deadline of a blocking call: `None` waits as long as it takes (also
/// for a timeout too large to represent).
fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|timeout| Instant::now().checked_add(timeout))
}

/// A runtime's per-process type, which holds a [`Record`] beside what is
/// specific to the runtime.
pub trait Tracked {
    /// The runtime's own state under the record's lock.
    type Extra;

    /// The shared record.
    fn record(&self) -> &Record<Self::Extra>;
}

impl<X> Tracked for Record<X> {
    type Extra = X;

    fn record(&self) -> &Record<X> {
        self
    }
}

/// A runtime's processes by id.
#[derive(Debug)]
pub struct Table<P> {
    processes: RwLock<HashMap<ProcessId, Arc<P>>>,
}

impl<P> Default for Table<P> {
    fn default() -> Self {
        Self {
            processes: RwLock::new(HashMap::new()),
        }
    }
}

impl<P: Tracked> Table<P> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The process `id`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProcess`] when the table has none.
    pub fn get(&self, id: &ProcessId) -> Result<Arc<P>, Error> {
        self.processes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
            .ok_or_else(|| Error::unknown(id))
    }

    /// Adds a process under its record's id.
    pub fn insert(&self, process: Arc<P>) {
        let id = process.record().id.clone();
        self.processes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, process);
    }

    /// Takes process `id` out of the table, if it is there.
    pub fn remove(&self, id: &ProcessId) -> Option<Arc<P>> {
        self.processes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)
    }

    /// Every process, in spawn order.
    pub fn all(&self) -> Vec<Arc<P>> {
        let processes = self
            .processes
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        sorted(processes.values().cloned().collect())
    }

    /// Takes every process out of the table (the runtime is dropped), in
    /// spawn order.
    pub fn drain(&self) -> Vec<Arc<P>> {
        let mut processes = self
            .processes
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        sorted(processes.drain().map(|(_, process)| process).collect())
    }

    /// `Runtime::list`: the processes whose labels match `selector`, in
    /// spawn order, each with the pid `pid` gives.
    pub fn list(&self, selector: &Labels, pid: impl Fn(&P) -> Option<u32>) -> Vec<ProcessInfo> {
        self.all()
            .iter()
            .filter(|process| {
                let labels = &process.record().labels;
                selector
                    .iter()
                    .all(|(key, value)| labels.get(key) == Some(value))
            })
            .map(|process| process.record().info(pid(process)))
            .collect()
    }
}

fn sorted<P: Tracked>(mut processes: Vec<Arc<P>>) -> Vec<Arc<P>> {
    processes.sort_by_key(|process| process.record().seq);
    processes
}

#[cfg(test)]
mod tests {
    use std::thread;

    use super::*;

    fn record(streams: usize) -> Arc<Record> {
        let request = SpawnRequest::new(CommandLine::new(["agent", "-p", "hi"]).unwrap())
            .label("job", "7")
            .grace(Duration::from_millis(30));
        let settings = RecordSettings {
            grace: Duration::from_secs(5),
            output_cap: 8,
        };
        Arc::new(Record::new(
            ProcessId::new("p-1"),
            1,
            &request,
            settings,
            streams,
            (),
        ))
    }

    const LONG: Option<Duration> = Some(Duration::from_secs(30));
    const SHORT: Option<Duration> = Some(Duration::from_millis(20));

    #[test]
    fn the_output_is_over_once_every_stream_ended_and_the_exit_is_known() {
        let record = record(2);
        record.lock().stream_ended();
        assert!(!record.lock().output_done, "one stream is still open");
        assert!(record.lock().exited(ExitStatus::Code(0)));
        assert!(!record.lock().output_done, "one stream is still open");
        assert!(
            !record.lock().exited(ExitStatus::Code(1)),
            "the first exit counts"
        );
        record.lock().stream_ended();
        assert!(record.lock().output_done);
        assert_eq!(record.lock().status, Some(ExitStatus::Code(0)));
        assert!(!record.is_alive());
    }

    #[test]
    fn streams_ending_before_the_exit_leave_the_output_open_until_it() {
        let record = record(1);
        record.lock().stream_ended();
        assert!(!record.lock().output_done);
        record.lock().exited(ExitStatus::Signal(9));
        assert!(record.lock().output_done);
    }

    #[test]
    fn giving_up_on_held_streams_reports_the_leak_once() {
        let record = record(1);
        record.lock().exited(ExitStatus::Code(0));
        assert!(record.lock().give_up_output());
        assert!(!record.lock().give_up_output());
        let done = record.wait(SHORT).unwrap();
        assert!(done.output_leaked);
    }

    #[test]
    fn wait_times_out_naming_the_process_then_returns_the_completion() {
        let record = record(0);
        record.push(Stream::Stdout, b"partial");
        match record.wait(SHORT) {
            Err(Error::WaitTimeout { id, timeout }) => {
                assert_eq!((id.as_str(), timeout), ("p-1", SHORT.unwrap()));
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        let waiter = {
            let record = Arc::clone(&record);
            thread::spawn(move || record.wait(LONG))
        };
        {
            let mut state = record.lock();
            state.oom_killed = true;
            state.exited(ExitStatus::Signal(9));
        }
        record.notify_all();
        let done = waiter.join().unwrap().unwrap();
        assert_eq!(done.status, ExitStatus::Signal(9));
        assert_eq!(done.logs.text(), "partial");
        assert!(done.oom_killed && !done.output_leaked);
    }

    #[test]
    fn a_huge_timeout_waits_like_none() {
        let record = record(0);
        record.lock().exited(ExitStatus::Code(3));
        assert!(record.wait(Some(Duration::MAX)).is_ok());
        let read = record.read_output(0, Some(Duration::MAX));
        assert!(read.finished);
    }

    #[test]
    fn a_blocked_reader_wakes_on_output_and_advances_the_read_position() {
        let record = record(1);
        let reader = {
            let record = Arc::clone(&record);
            thread::spawn(move || record.read_output(0, LONG))
        };
        // The reader is counted before it blocks: wait for that, so the push
        // below must wake it rather than be seen before it waits.
        while !record.lock().readers_waiting() {
            thread::yield_now();
        }
        record.push(Stream::Stderr, b"hello");
        let read = reader.join().unwrap();
        assert_eq!(read.chunks.len(), 1);
        assert_eq!(read.chunks[0].data, b"hello");
        assert_eq!((read.next, read.missed, read.finished), (5, 0, false));
        let state = record.lock();
        assert_eq!((state.read_position, state.unread()), (5, 0));
        assert!(!state.readers_waiting());
    }

    #[test]
    fn reads_time_out_empty_report_drops_and_finish_at_the_end() {
        let record = record(1);
        let read = record.read_output(0, SHORT);
        assert!(read.chunks.is_empty() && !read.finished && read.next == 0);
        record.push(Stream::Stdout, b"0123456789ab");
        let read = record.read_output(0, SHORT);
        assert_eq!((read.missed, read.next), (4, 12), "the cap is 8 bytes");
        assert!(!read.finished);
        {
            let mut state = record.lock();
            state.stream_ended();
            state.exited(ExitStatus::Code(0));
        }
        record.notify_all();
        let read = record.read_output(12, None);
        assert!(read.finished && read.chunks.is_empty());
        let (read, unread) = record.read_output_then(4, None, |state| state.unread());
        assert!(read.finished);
        assert_eq!(unread, 0);
    }

    #[test]
    fn logs_info_and_discard() {
        let record = record(0);
        record.push(Stream::Stdout, b"a\nb\n");
        record.push(Stream::Stderr, b"e\n");
        assert_eq!(record.logs(Some(1)).text(), "e\n");
        assert_eq!(record.stream_logs(Stream::Stdout, Some(1)).text(), "b\n");
        let info = record.info(Some(42));
        assert_eq!(info.pid, Some(42));
        assert_eq!(info.state, ProcessState::Running);
        assert_eq!(record.grace, Duration::from_millis(30), "the request's");
        record.lock().exited(ExitStatus::Code(0));
        assert_eq!(
            record.info(None).state,
            ProcessState::Exited(ExitStatus::Code(0))
        );
        record.discard();
        let logs = record.logs(None);
        assert!(logs.is_empty());
        assert_eq!(logs.dropped(), 6);
    }

    #[test]
    fn the_table_finds_lists_in_spawn_order_and_drains() {
        let table: Table<Record> = Table::new();
        let request =
            |job: &str| SpawnRequest::new(CommandLine::new(["x"]).unwrap()).label("job", job);
        let settings = RecordSettings {
            grace: Duration::from_secs(1),
            output_cap: 64,
        };
        for (seq, job) in [(3, "a"), (1, "b"), (2, "a")] {
            let id = ProcessId::new(format!("p-{seq}"));
            let record = Record::new(id, seq, &request(job), settings, 0, ());
            table.insert(Arc::new(record));
        }
        let ids = |infos: Vec<ProcessInfo>| -> Vec<String> {
            infos.iter().map(|info| info.id.to_string()).collect()
        };
        assert_eq!(
            ids(table.list(&Labels::new(), |_| None)),
            ["p-1", "p-2", "p-3"]
        );
        let mut selector = Labels::new();
        selector.insert("job".to_owned(), "a".to_owned());
        assert_eq!(ids(table.list(&selector, |_| None)), ["p-2", "p-3"]);
        assert_eq!(table.get(&ProcessId::new("p-2")).unwrap().seq, 2);
        assert!(matches!(
            table.get(&ProcessId::new("p-9")),
            Err(Error::UnknownProcess { .. })
        ));
        assert!(table.remove(&ProcessId::new("p-2")).is_some());
        assert!(table.remove(&ProcessId::new("p-2")).is_none());
        let drained: Vec<u64> = table.drain().iter().map(|record| record.seq).collect();
        assert_eq!(drained, [1, 3]);
        assert!(table.all().is_empty());
    }
}
