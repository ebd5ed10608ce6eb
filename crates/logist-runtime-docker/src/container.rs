//! What the runtime keeps of one container beside the shared [`Record`],
//! and the thread that feeds the record: it reads the attach stream into
//! the output buffer as bytes arrive, and when the stream ends asks the
//! engine, once, how the container exited.

use std::io::{BufReader, Read};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use logist_core::{ExitStatus, Stream};
use logist_output::{Record, Tracked};

use crate::engine::Engine;
use crate::live::Tails;
use crate::mux::Demux;
use crate::transport::{Breaker, Reader, Writer};

/// Size of one read from the attach stream.
const READ_SIZE: usize = 64 * 1024;
/// Stack of a reader thread: it holds one read buffer on the heap and
/// little else.
const READER_STACK: usize = 256 * 1024;

/// How long an adopted container's attach connection must have been quiet
/// before the line being written is shown ahead of the engine's log.
const QUIET: Duration = Duration::from_millis(150);
/// How often the attach connection's reader looks whether it is quiet.
const QUIET_POLL: Duration = Duration::from_millis(50);

/// How long a memory-limited container's unexplained SIGKILL waits for the
/// engine's out-of-memory flag. The flag arrives through the kernel's
/// cgroup event, which the engine may record after the exit.
const OOM_FLAG_WAIT: Duration = Duration::from_secs(5);

/// One container. Shared (`Arc`) by the runtime's table, its reader thread
/// and callers blocked on it.
#[derive(Debug)]
pub(crate) struct Container {
    /// Identity, output, exit status and the waits on them; the extra
    /// state says whether the reader thread has finished.
    pub(crate) record: Record<ReaderDone>,
    /// The engine's id of the container.
    pub(crate) container_id: String,
    /// A durable container outlives the runtime (see `SpawnRequest::durable`):
    /// dropping the runtime leaves it running, for a later runtime to adopt.
    pub(crate) durable: bool,
    /// On a terminal: closing stdin means sending end-of-file (Ctrl-D).
    pub(crate) on_terminal: bool,
    /// The write half of the attach connection, when stdin is open, apart
    /// from the record's lock so that a blocked writer never blocks readers.
    pub(crate) stdin: Mutex<Option<Writer>>,
    /// The write half when it must not be used but must stay open: the
    /// engine reads the end of an attach connection's input as "detach"
    /// on a terminal, and an ssh transport closes on it.
    pub(crate) parked: Mutex<Option<Writer>>,
    /// The read half of an adopted container's stdin-only attach
    /// connection, kept open with its write half (in `stdin`).
    pub(crate) stdin_reader: Mutex<Option<BufReader<Reader>>>,
    /// Breaks the connection the output comes from (the attach connection,
    /// or the engine's log for an adopted container), to unblock the
    /// reader at shutdown.
    pub(crate) breaker: Mutex<Option<Breaker>>,
    pub(crate) reader: Mutex<Option<JoinHandle<()>>>,
    /// Set when the container is being discarded (a failed start, removal,
    /// shutdown): the reader stops asking the engine about it.
    pub(crate) abandoned: AtomicBool,
    /// A memory limit was set: only then can the out-of-memory killer strike
    /// within the container, and only then is its flag waited for.
    pub(crate) memory_limited: bool,
    /// Logist itself sent SIGKILL: a SIGKILL exit is then no reason to wait
    /// for the engine's out-of-memory flag.
    pub(crate) kill_sent: AtomicBool,
    /// The host pid of the container's first process (its init), asked of
    /// the engine once, the first time someone wants it.
    pub(crate) host_pid: OnceLock<Option<u32>>,
    /// For an adopted running container: the line being written, seen
    /// through an attach connection ahead of the log (`live.rs`).
    pub(crate) live: Option<Live>,
}

/// An adopted container's attach connection for output, and what it saw.
#[derive(Debug, Default)]
pub(crate) struct Live {
    tails: Mutex<Tails>,
    breaker: Mutex<Option<Breaker>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Whether the reader thread has finished; kept under the record's lock.
pub(crate) type ReaderDone = bool;

impl Tracked for Container {
    type Extra = ReaderDone;

    fn record(&self) -> &Record<ReaderDone> {
        &self.record
    }
}

impl Container {
    /// The pid of the container's init on the engine's machine, while it
    /// runs (the engine reports 0 once it has stopped). Asked once.
    pub(crate) fn host_pid(&self, engine: &Engine) -> Option<u32> {
        *self.host_pid.get_or_init(|| {
            let reply = engine
                .call(
                    "GET",
                    &format!("/containers/{}/json", self.container_id),
                    None,
                )
                .ok()?;
            let pid = reply.json()["State"]["Pid"].as_u64()?;
            u32::try_from(pid).ok().filter(|&pid| pid > 0)
        })
    }

    /// Starts the thread that reads the output (the attach stream, or the
    /// engine's log from its start for an adopted container) into the
    /// buffer and then learns the exit status. `breaker` breaks the
    /// connection `reader` reads from.
    pub(crate) fn start_reader(
        self: &Arc<Self>,
        engine: Arc<Engine>,
        reader: Box<dyn Read + Send>,
        breaker: Option<Breaker>,
        raw: bool,
    ) -> std::io::Result<()> {
        if let Some(breaker) = breaker {
            *self.breaker.lock().unwrap_or_else(PoisonError::into_inner) = Some(breaker);
        }
        let container = Arc::clone(self);
        let handle = std::thread::Builder::new()
            .name(format!("logist-docker-{}", self.record.seq))
            .stack_size(READER_STACK)
            .spawn(move || container.run_reader(&engine, reader, raw))?;
        *self.reader.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle);
        Ok(())
    }

    fn run_reader(&self, engine: &Engine, mut reader: Box<dyn Read + Send>, raw: bool) {
        let mut demux = Demux::new(raw);
        let mut buf = vec![0; READ_SIZE];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    // Lock order: the live tails, then the record.
                    let mut tails = self
                        .live
                        .as_ref()
                        .map(|live| live.tails.lock().unwrap_or_else(PoisonError::into_inner));
                    let mut state = self.record.lock();
                    demux.feed(&buf[..n], |stream: Stream, bytes: &[u8]| {
                        let shown = tails.as_mut().map_or(0, |t| t.logged(stream, bytes));
                        if shown < bytes.len() {
                            state.buffer.push(stream, &bytes[shown..]);
                        }
                    });
                    self.record.release_after_output(state);
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => {
                    if !self.abandoned.load(Ordering::Relaxed) {
                        tracing::warn!(id = %self.record.id, %error, "the attach stream broke; later output is lost");
                    }
                    break;
                }
            }
        }
        drop(reader);
        self.record.lock().stream_ended();
        self.record.notify_all();

        // An adopted container that had exited is registered with the
        // status the engine reported then.
        let known = self.record.lock().status.is_some();
        if !known && !self.abandoned.load(Ordering::Relaxed) {
            let (status, oom_killed) = exit_status(engine, self);
            let mut state = self.record.lock();
            if state.exited(status) {
                tracing::info!(id = %self.record.id, %status, "exited");
                state.oom_killed = oom_killed;
            }
        }
        self.record.lock().extra = true;
        self.record.notify_all();
    }

    /// Starts the thread that reads an adopted container's attach
    /// connection (output only) for the line being written. `reader` must
    /// honour read timeouts (not an ssh transport).
    pub(crate) fn start_live(
        self: &Arc<Self>,
        reader: BufReader<Reader>,
        raw: bool,
    ) -> std::io::Result<()> {
        let Some(live) = &self.live else {
            return Ok(());
        };
        reader.get_ref().set_timeout(Some(QUIET_POLL))?;
        *live.breaker.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(reader.get_ref().breaker()?);
        let container = Arc::clone(self);
        let handle = std::thread::Builder::new()
            .name(format!("logist-docker-live-{}", self.record.seq))
            .stack_size(READER_STACK)
            .spawn(move || container.run_live(reader, raw))?;
        *live.thread.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle);
        Ok(())
    }

    fn run_live(&self, mut reader: BufReader<Reader>, raw: bool) {
        let Some(live) = &self.live else {
            return;
        };
        let mut demux = Demux::new(raw);
        let mut buf = vec![0; READ_SIZE];
        let mut last = Instant::now();
        let mut pending = false;
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let mut tails = live.tails.lock().unwrap_or_else(PoisonError::into_inner);
                    demux.feed(&buf[..n], |stream: Stream, bytes: &[u8]| {
                        tails.attached(stream, bytes);
                    });
                    last = Instant::now();
                    pending = true;
                }
                Err(error)
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => break,
            }
            if pending && last.elapsed() >= QUIET {
                pending = false;
                let mut tails = live.tails.lock().unwrap_or_else(PoisonError::into_inner);
                let ready = tails.ready();
                if !ready.is_empty() {
                    let mut state = self.record.lock();
                    for (stream, bytes) in &ready {
                        state.buffer.push(*stream, bytes);
                    }
                    self.record.release_after_output(state);
                }
            }
        }
    }

    /// Joins the reader thread if it has finished, or once it finishes
    /// before `deadline`; otherwise leaves it to end by itself.
    pub(crate) fn join_reader(&self, deadline: Instant) {
        let state = self.record.lock();
        let (state, done) = self.record.wait_until(state, Some(deadline), |s| s.extra);
        drop(state);
        if !done {
            tracing::warn!(id = %self.record.id, "the reader thread did not finish in time; leaving it");
            return;
        }
        let handle = self
            .reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
        let live = self.live.as_ref().and_then(|live| {
            live.thread
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
        });
        if let Some(handle) = live {
            // It reads with a short timeout and ends with the connection.
            while !handle.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if handle.is_finished() {
                let _ = handle.join();
            } else {
                tracing::warn!(id = %self.record.id, "the live reader thread did not finish in time; leaving it");
            }
        }
    }

    /// Stops the reader: no more questions to the engine, and the attach
    /// connection is broken.
    pub(crate) fn abandon(&self) {
        self.abandoned.store(true, Ordering::Relaxed);
        if let Some(breaker) = self
            .breaker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            breaker.break_now();
        }
        if let Some(breaker) = self.live.as_ref().and_then(|live| {
            live.breaker
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
        }) {
            breaker.break_now();
        }
    }
}

/// Asks the engine how the container exited: `wait` (which answers at
/// once for an exited container, or when it exits: a process may close its
/// output and keep running), then `inspect` for the out-of-memory flag.
/// Retries while the engine cannot be reached.
fn exit_status(engine: &Engine, container: &Container) -> (ExitStatus, bool) {
    let id = &container.container_id;
    let mut backoff = Duration::from_millis(100);
    let code = loop {
        let call = format!("/containers/{id}/wait?condition=not-running");
        match engine.call_unbounded("POST", &call, None) {
            Ok(reply) => {
                let json = reply.json();
                match json["StatusCode"].as_i64() {
                    Some(code) => break code,
                    None => {
                        tracing::warn!(id = %container.record.id, answer = %json, "the engine's wait answer has no status code; reporting SIGKILL");
                        break 128 + 9;
                    }
                }
            }
            Err(error) if error.status() == Some(404) => {
                tracing::warn!(id = %container.record.id, "the container was removed outside Logist; reporting SIGKILL");
                return (ExitStatus::Signal(9), false);
            }
            Err(error) => {
                if container.abandoned.load(Ordering::Relaxed) {
                    return (ExitStatus::Signal(9), false);
                }
                tracing::warn!(id = %container.record.id, %error, "cannot learn the exit status yet; retrying");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    };
    let status = status_from_engine(code);
    // The engine's flag says the out-of-memory killer struck somewhere in
    // the container, not that it killed the main process.
    let inspect_oom = || {
        engine
            .call("GET", &format!("/containers/{id}/json"), None)
            .map(|reply| reply.json()["State"]["OOMKilled"].as_bool() == Some(true))
            .unwrap_or(false)
    };
    let mut oom_killed = inspect_oom();
    // The kernel's event can reach the engine well after it recorded the
    // exit (over a second on a loaded machine): when a memory-limited
    // container died of a SIGKILL that Logist did not send, look again for
    // a while. Forced stops are not delayed: their SIGKILL is known.
    let oom_suspected = container.memory_limited
        && status == ExitStatus::Signal(9)
        && !container.kill_sent.load(Ordering::Relaxed);
    let flag_deadline = Instant::now() + OOM_FLAG_WAIT;
    while !oom_killed && oom_suspected && Instant::now() < flag_deadline {
        std::thread::sleep(Duration::from_millis(100));
        oom_killed = inspect_oom();
    }
    if oom_killed && status == ExitStatus::Signal(9) {
        tracing::warn!(id = %container.record.id, "the kernel's out-of-memory killer stopped the container (reported as SIGKILL)");
    } else if oom_killed {
        tracing::warn!(id = %container.record.id, %status, "the kernel's out-of-memory killer killed a process of the container");
    }
    (status, oom_killed)
}

/// The engine reports one number: the exit code, or 128 + N when the
/// container's init (and so the main process, whose status the init
/// passes on) died of signal N; a container stopped by the out-of-memory
/// killer is 137, SIGKILL. As in a shell, `exit 130` by choice looks the
/// same as death by SIGINT.
pub(crate) fn status_from_engine(code: i64) -> ExitStatus {
    match i32::try_from(code) {
        Ok(code @ 129..=192) => ExitStatus::Signal(code - 128),
        Ok(code) => ExitStatus::Code(code),
        Err(_) => ExitStatus::Code(-1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_codes_become_exit_statuses() {
        let cases = [
            (0, ExitStatus::Code(0)),
            (1, ExitStatus::Code(1)),
            (127, ExitStatus::Code(127)),
            (128, ExitStatus::Code(128)),
            (137, ExitStatus::Signal(9)),
            (143, ExitStatus::Signal(15)),
            (139, ExitStatus::Signal(11)),
            (192, ExitStatus::Signal(64)),
            (193, ExitStatus::Code(193)),
            (255, ExitStatus::Code(255)),
            (-1, ExitStatus::Code(-1)),
            (i64::MAX, ExitStatus::Code(-1)),
        ];
        for (code, expected) in cases {
            assert_eq!(status_from_engine(code), expected, "{code}");
        }
    }
}
