//! The reactor: one thread per runtime that reads every child's output and
//! notices every exit.
//!
//! It waits in `epoll` on three kinds of descriptors: the read ends of the
//! children's stdout/stderr pipes (or a pseudo-terminal master), one exit
//! watch per child (its pidfd, or the pipe on which the keeper reports the
//! exit status of a child it started), and an eventfd that wakes it
//! for shutdown. A spawning thread adds a new child's descriptors to the
//! epoll set itself and queues what the reactor needs to know about them;
//! the reactor picks that up when it next wakes, which is at the latest
//! when one of them becomes ready. So a spawn does not wake the reactor.
//! Output is read as soon as it arrives, in chunks of up to 64 KiB,
//! appended to the process's bounded buffer (and its log file), and waiters
//! are woken. A read of half a chunk or more is handed to the buffer whole,
//! so a fast producer's bytes are copied once. With backpressure, a stream
//! whose unread output reached the cap is taken out of the epoll set until
//! readers catch up. When an exit watch fires, the child is
//! reaped (or its reported status taken) under the process's lock, so a signal sent under that lock can
//! never reach a recycled pid. If the child exited but a descendant still
//! holds the output open, a timer gives the output a short leak window to
//! end; after it, the output counts as over for `wait`, but the reactor
//! keeps draining the pipe so the descendant never blocks on a full pipe.
//!
//! One thread serves any number of children, so a thousand children cost
//! one thread, not three thousand; a silent child costs nothing.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::Rc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use logist_core::{ExitStatus, Stream};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};

use crate::process::Process;
use crate::sys;
use logist_output::{CHUNK_LEN, HANDOVER_LEN};

const WAKE_TOKEN: u64 = u64::MAX;
/// Reads per readiness event before moving on to other descriptors.
const READS_PER_EVENT: usize = 16;
/// One read's worth: a whole buffer chunk, so a full read is handed over.
const READ_SIZE: usize = CHUNK_LEN;
/// Pipe size for a stream whose reads come back full (the default is 64 KiB;
/// 1 MiB is the kernel's default ceiling for unprivileged users).
const FAST_PIPE_SIZE: usize = 1024 * 1024;
/// Most pipes grown at once per runtime: 16 MiB of kernel memory at worst.
/// (The kernel's per-user quota does not bind privileged users.)
const MAX_GROWN_PIPES: usize = 16;

/// What the reactor needs to watch a new child.
pub(crate) struct Registration {
    pub(crate) process: Arc<Process>,
    /// Read ends of the output, non-blocking.
    pub(crate) outputs: Vec<(Stream, OwnedFd)>,
    pub(crate) exit: ExitWatch,
    pub(crate) log: Option<File>,
}

/// How the reactor learns that a child exited, and its status.
pub(crate) enum ExitWatch {
    /// Our own child: its pidfd fires, then we reap it.
    Child(OwnedFd),
    /// Started by the keeper: the status arrives on this pipe.
    Keeper(OwnedFd),
}

impl ExitWatch {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Self::Child(fd) | Self::Keeper(fd) => fd.as_fd(),
        }
    }

    /// The status, once the child has exited.
    fn status(&self, pid: i32) -> io::Result<Option<ExitStatus>> {
        match self {
            Self::Child(_) => sys::waitpid_nohang(pid),
            Self::Keeper(pipe) => crate::keeper::read_status(pipe),
        }
    }
}

enum Message {
    Register(Box<Watched>),
    /// Watch these paused output streams again (readers caught up).
    Resume(Vec<u64>),
    Shutdown,
}

/// A registration whose descriptors were added to the epoll set by the
/// spawning thread: outputs under tokens `first..`, the exit watch after them.
struct Watched {
    registration: Registration,
    first: u64,
    /// Per descriptor, in that order: whether `epoll_ctl` accepted it.
    added: Vec<bool>,
}

/// How long the reactor waits for a registration whose descriptor already
/// fired: the spawning thread is between `epoll_ctl` and the queue.
const REGISTRATION_WAIT: Duration = Duration::from_secs(5);

/// The runtime's handle on its reactor thread.
pub(crate) struct ReactorHandle {
    epoll: Arc<Epoll>,
    sender: Sender<Message>,
    wake: Arc<EventFd>,
    thread: Option<JoinHandle<()>>,
    /// The next token to hand out: tokens are never reused.
    next_token: u64,
}

impl ReactorHandle {
    /// Starts the reactor thread. With `backpressure`, a process's output
    /// stream stops being read while its unread output would exceed that
    /// many bytes.
    pub(crate) fn start(leak_window: Duration, backpressure: Option<usize>) -> io::Result<Self> {
        let epoll = Arc::new(Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?);
        let wake = Arc::new(EventFd::from_flags(
            EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK,
        )?);
        epoll.add(
            wake.as_fd(),
            EpollEvent::new(EpollFlags::EPOLLIN, WAKE_TOKEN),
        )?;
        let (sender, receiver) = crossbeam_channel::unbounded();
        let reactor_wake = Arc::clone(&wake);
        let reactor_epoll = Arc::clone(&epoll);
        let thread = std::thread::Builder::new()
            .name("logist-host-reactor".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                // Built here: its slots share log files through `Rc`.
                let reactor = Reactor {
                    epoll: reactor_epoll,
                    wake: reactor_wake,
                    receiver,
                    slots: HashMap::new(),
                    registered: 0,
                    stopping: false,
                    timers: Vec::new(),
                    leak_window,
                    grown_pipes: 0,
                    backpressure,
                    buf: vec![0; READ_SIZE],
                };
                reactor.run();
            })?;
        Ok(Self {
            epoll,
            sender,
            wake,
            thread: Some(thread),
            next_token: 0,
        })
    }

    /// Hands a new child to the reactor: adds its descriptors to the epoll
    /// set and queues the rest, without waking the reactor.
    pub(crate) fn register(&mut self, registration: Registration) {
        let first = self.next_token;
        let fds = registration
            .outputs
            .iter()
            .map(|(_, fd)| fd.as_fd())
            .chain(std::iter::once(registration.exit.as_fd()));
        let added = (first..)
            .zip(fds)
            .map(|(token, fd)| {
                let added = self
                    .epoll
                    .add(fd, EpollEvent::new(EpollFlags::EPOLLIN, token));
                if let Err(error) = &added {
                    // Cannot happen for a fresh pipe or pidfd short of
                    // running out of kernel memory.
                    tracing::error!(id = %registration.process.record.id, %error, "cannot watch a descriptor");
                }
                added.is_ok()
            })
            .collect::<Vec<bool>>();
        self.next_token += added.len() as u64;
        // Sending fails only after shutdown, when the runtime is being
        // dropped and no spawn can be in flight.
        let _ = self.sender.send(Message::Register(Box::new(Watched {
            registration,
            first,
            added,
        })));
    }

    /// Watches paused output streams again (readers caught up).
    pub(crate) fn resume(&self, tokens: Vec<u64>) {
        let _ = self.sender.send(Message::Resume(tokens));
        self.wake();
    }

    fn wake(&self) {
        let _ = self.wake.write(1);
    }

    /// Stops the thread and waits for it.
    pub(crate) fn shutdown(&mut self) {
        let _ = self.sender.send(Message::Shutdown);
        self.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Where a process's combined output is copied on disk. Writing stops, with
/// one warning, at the first failure (a full disk must not stop the run).
struct LogSink {
    file: Option<File>,
    process: Arc<Process>,
}

impl LogSink {
    fn write(&mut self, bytes: &[u8]) {
        let Some(file) = &mut self.file else { return };
        if let Err(error) = file.write_all(bytes) {
            tracing::warn!(
                id = %self.process.record.id,
                %error,
                "cannot write the log file; output is still kept in memory"
            );
            self.file = None;
        }
    }
}

enum SlotKind {
    Output {
        stream: Stream,
        file: File,
        log: Option<Rc<RefCell<LogSink>>>,
        pipe: PipeSize,
        /// The token of the process's other output pipe.
        sibling: Option<u64>,
    },
    Exit {
        watch: ExitWatch,
    },
}

/// The size of an output pipe, grown for a lone fast stream.
///
/// A full read means the producer outruns the reactor. With the default
/// 64 KiB pipe, producer and reactor then take turns, each waking the other
/// for every 64 KiB; a 1 MiB pipe lets both run further between wakeups.
/// But bytes waiting in one pipe are read after bytes written later to the
/// other, so the combined log's interleaving is only as fine as the pipes
/// are small. Hence a pipe grows only while the other stream is silent; it
/// is shrunk back (as soon as what it holds fits) once the other speaks,
/// and until then its backlog is read before anything the other stream
/// brings (see `Reactor::read_output`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PipeSize {
    /// As created; may grow.
    Default,
    /// Grown from this many bytes.
    Grown(usize),
    /// Left alone from now on: shrunk back, or the kernel refused (a
    /// terminal, or the user's pipe quota).
    Settled,
}

impl PipeSize {
    /// Called after each read; `full` when the read filled the buffer.
    /// `grown` counts the runtime's grown pipes.
    fn adjust(&mut self, fd: BorrowedFd<'_>, full: bool, other_spoke: bool, grown: &mut usize) {
        match *self {
            PipeSize::Default if full && !other_spoke && *grown < MAX_GROWN_PIPES => {
                *self = match sys::pipe_size(fd)
                    .and_then(|size| sys::set_pipe_size(fd, FAST_PIPE_SIZE).map(|()| size))
                {
                    Ok(size) => {
                        *grown += 1;
                        PipeSize::Grown(size)
                    }
                    Err(error) => {
                        tracing::debug!(%error, "cannot grow an output pipe");
                        PipeSize::Settled
                    }
                };
            }
            PipeSize::Default if other_spoke => *self = PipeSize::Settled,
            // EBUSY until what the pipe holds fits the old size; retried
            // after the next read.
            PipeSize::Grown(size) if other_spoke && sys::set_pipe_size(fd, size).is_ok() => {
                self.release(grown);
            }
            _ => {}
        }
    }

    /// Gives a grown pipe's place back (it was shrunk, or it ended).
    fn release(&mut self, grown: &mut usize) {
        if let PipeSize::Grown(_) = *self {
            *grown -= 1;
        }
        *self = PipeSize::Settled;
    }
}

fn other(stream: Stream) -> Stream {
    match stream {
        Stream::Stdout => Stream::Stderr,
        Stream::Stderr => Stream::Stdout,
    }
}

struct Slot {
    process: Arc<Process>,
    kind: SlotKind,
}

struct Reactor {
    epoll: Arc<Epoll>,
    wake: Arc<EventFd>,
    receiver: Receiver<Message>,
    slots: HashMap<u64, Slot>,
    /// Tokens below this were registered (and may since have been removed);
    /// tokens from it on are still on their way through the queue.
    registered: u64,
    /// A shutdown message arrived.
    stopping: bool,
    /// Leak windows: when the output of an exited child stops counting.
    timers: Vec<(Instant, Arc<Process>)>,
    leak_window: Duration,
    /// Output pipes grown now (at most `MAX_GROWN_PIPES`).
    grown_pipes: usize,
    /// The output cap, when readers hold the child back instead of the
    /// buffer dropping unread bytes.
    backpressure: Option<usize>,
    /// Where reads land: always `READ_SIZE` initialised bytes. Handed to a
    /// buffer after a large read and replaced by the chunk it evicted.
    buf: Vec<u8>,
}

impl Reactor {
    fn run(mut self) {
        let mut events = vec![EpollEvent::empty(); 256];
        loop {
            let timeout = self.next_timeout();
            let ready = match self.epoll.wait(&mut events, timeout) {
                Ok(ready) => ready,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(error) => {
                    tracing::error!(%error, "epoll_wait failed; the reactor stops");
                    return;
                }
            };
            // Registrations come without a wakeup: take them first.
            self.handle_messages();
            for event in &events[..ready] {
                if self.stopping {
                    break;
                }
                let token = event.data();
                if token == WAKE_TOKEN {
                    let _ = self.wake.read();
                    self.handle_messages();
                } else {
                    self.handle_ready(token);
                }
            }
            if self.stopping {
                self.shutdown();
                return;
            }
            self.fire_timers();
        }
    }

    fn next_timeout(&self) -> EpollTimeout {
        let Some(next) = self.timers.iter().map(|(at, _)| *at).min() else {
            return EpollTimeout::NONE;
        };
        let left = next.saturating_duration_since(Instant::now());
        // Round up so the timer has passed when epoll returns.
        let millis = left.as_micros().div_ceil(1000);
        EpollTimeout::from(u16::try_from(millis).unwrap_or(u16::MAX))
    }

    /// Takes every queued message.
    fn handle_messages(&mut self) {
        while let Ok(message) = self.receiver.try_recv() {
            self.handle_message(message);
        }
    }

    fn handle_message(&mut self, message: Message) {
        match message {
            Message::Register(watched) => self.add(*watched),
            Message::Resume(tokens) => self.resume(&tokens),
            Message::Shutdown => self.stopping = true,
        }
    }

    /// Waits for the registration of `token`, whose descriptor fired before
    /// its registration was queued. Returns false if it does not come.
    fn await_registration(&mut self, token: u64) -> bool {
        let deadline = Instant::now() + REGISTRATION_WAIT;
        while self.registered <= token && !self.stopping {
            match self.receiver.recv_deadline(deadline) {
                Ok(message) => self.handle_message(message),
                Err(_) => {
                    tracing::error!(token, "a descriptor fired but its registration never came");
                    return false;
                }
            }
        }
        !self.stopping
    }

    fn add(&mut self, watched: Watched) {
        let Watched {
            registration:
                Registration {
                    process,
                    outputs,
                    exit,
                    log,
                },
            first,
            added,
        } = watched;
        self.registered = first + added.len() as u64;
        let log = log.map(|file| {
            Rc::new(RefCell::new(LogSink {
                file: Some(file),
                process: Arc::clone(&process),
            }))
        });
        let pair = outputs.len() == 2;
        let mut added = added.into_iter();
        for (index, (stream, fd)) in (0u64..).zip(outputs) {
            if !added.next().unwrap_or(false) {
                // An output that cannot be watched counts as ended, rather
                // than hanging its waiters.
                process.record.lock().stream_ended();
                continue;
            }
            let kind = SlotKind::Output {
                stream,
                file: File::from(fd),
                log: log.clone(),
                pipe: PipeSize::Default,
                sibling: pair.then_some(first + 1 - index),
            };
            let slot = Slot {
                process: Arc::clone(&process),
                kind,
            };
            self.slots.insert(first + index, slot);
        }
        if added.next().unwrap_or(false) {
            let token = self.registered - 1;
            let kind = SlotKind::Exit { watch: exit };
            self.slots.insert(token, Slot { process, kind });
        }
    }

    fn resume(&mut self, tokens: &[u64]) {
        for &token in tokens {
            if let Some(Slot {
                kind: SlotKind::Output { file, .. },
                ..
            }) = self.slots.get(&token)
            {
                let event = EpollEvent::new(EpollFlags::EPOLLIN, token);
                let _ = self.epoll.add(file.as_fd(), event);
            }
        }
    }

    fn handle_ready(&mut self, token: u64) {
        if token >= self.registered && !self.await_registration(token) {
            return;
        }
        // Gone already: removed after an earlier event of this batch.
        let Some(slot) = self.slots.get(&token) else {
            return;
        };
        match slot.kind {
            SlotKind::Output { .. } => self.read_output(token),
            SlotKind::Exit { .. } => self.reap(token),
        }
    }

    /// Reads what `token`'s stream has, after draining the backlog of its
    /// sibling if that one's pipe was grown: bytes waiting there were
    /// (mostly) written before the bytes that just arrived, and would have
    /// been read before them had the pipe kept its size.
    fn read_output(&mut self, token: u64) {
        let grown_sibling = match self.slots.get(&token).map(|slot| &slot.kind) {
            Some(SlotKind::Output {
                sibling: Some(sibling),
                ..
            }) => self.slots.get(sibling).and_then(|slot| match slot.kind {
                SlotKind::Output {
                    pipe: PipeSize::Grown(_),
                    ..
                } => Some(*sibling),
                _ => None,
            }),
            _ => None,
        };
        if let Some(sibling) = grown_sibling {
            self.read_stream(sibling, FAST_PIPE_SIZE / READ_SIZE + 1);
        }
        self.read_stream(token, READS_PER_EVENT);
    }

    /// Reads `token`'s stream until it would block, ends, or `max_reads`
    /// reads were made.
    fn read_stream(&mut self, token: u64, max_reads: usize) {
        let Some(slot) = self.slots.get_mut(&token) else {
            return;
        };
        let SlotKind::Output {
            stream,
            file,
            log,
            pipe,
            ..
        } = &mut slot.kind
        else {
            return;
        };
        let mut ended = false;
        // Readers blocked in `read_output` are woken once per event, and
        // only when there are some: `wait` does not care about bytes.
        let mut wake_readers = false;
        for _ in 0..max_reads {
            let mut limit = READ_SIZE;
            if let Some(cap) = self.backpressure {
                let mut state = slot.process.record.lock();
                // Read only what fits without pushing unread bytes out of
                // the buffer; with no room, pause: the child then waits on
                // its full pipe (and after an exit, the rest stays in the
                // pipe until read).
                let unread = usize::try_from(state.unread()).unwrap_or(usize::MAX);
                let room = cap.saturating_sub(unread);
                if room == 0 {
                    let _ = self.epoll.delete(file.as_fd());
                    state.extra.push(token);
                    break;
                }
                limit = limit.min(room);
            }
            match (&*file).read(&mut self.buf[..limit]) {
                Ok(0) => {
                    ended = true;
                    break;
                }
                Ok(n) => {
                    if let Some(log) = log {
                        log.borrow_mut().write(&self.buf[..n]);
                    }
                    let mut state = slot.process.record.lock();
                    wake_readers |= state.readers_waiting();
                    let other_spoke = state.buffer.produced(other(*stream)) > 0;
                    let full = n == READ_SIZE;
                    pipe.adjust(file.as_fd(), full, other_spoke, &mut self.grown_pipes);
                    if n < HANDOVER_LEN {
                        state.buffer.push(*stream, &self.buf[..n]);
                        continue;
                    }
                    let mut data = std::mem::take(&mut self.buf);
                    data.truncate(n);
                    let recycled = state.buffer.push_owned(*stream, data);
                    drop(state);
                    // An evicted chunk is full of old bytes to overwrite;
                    // only a shortened one needs zeroes at the end. A new
                    // one (until the cap is reached) is faulted in at once.
                    self.buf = recycled.unwrap_or_else(|| {
                        let mut fresh = Vec::with_capacity(READ_SIZE);
                        let _ = logist_output::prefault_spare(&mut fresh);
                        fresh
                    });
                    self.buf.resize(READ_SIZE, 0);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                // A pseudo-terminal master reads EIO once every slave is closed.
                Err(error) if error.raw_os_error() == Some(libc::EIO) => {
                    ended = true;
                    break;
                }
                Err(error) => {
                    tracing::warn!(id = %slot.process.record.id, %error, "reading output failed");
                    ended = true;
                    break;
                }
            }
        }
        if wake_readers {
            slot.process.record.wake_readers();
        }
        if ended {
            self.end_output(token);
        }
    }

    fn end_output(&mut self, token: u64) {
        let Some(mut slot) = self.slots.remove(&token) else {
            return;
        };
        if let SlotKind::Output { file, pipe, .. } = &mut slot.kind {
            let _ = self.epoll.delete(file.as_fd());
            pipe.release(&mut self.grown_pipes);
        }
        slot.process.record.lock().stream_ended();
        slot.process.record.notify_all();
    }

    fn reap(&mut self, token: u64) {
        let Some(mut slot) = self.slots.remove(&token) else {
            return;
        };
        let SlotKind::Exit { watch } = &mut slot.kind else {
            return;
        };
        let _ = self.epoll.delete(watch.as_fd());
        let process = &slot.process;
        let mut state = process.record.lock();
        let status = match watch.status(process.pid) {
            Ok(Some(status)) => status,
            Ok(None) => {
                // A watch is readable only once the process has exited;
                // watch again rather than guess.
                drop(state);
                self.slots.insert(token, slot);
                if let Some(Slot {
                    kind: SlotKind::Exit { watch, .. },
                    ..
                }) = self.slots.get(&token)
                {
                    let _ = self
                        .epoll
                        .add(watch.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, token));
                }
                return;
            }
            Err(error) => {
                // Someone else reaped our child (SIGCHLD ignored, or a
                // waitpid(-1) elsewhere in the program), or the keeper died
                // without reporting it: the status is lost.
                tracing::warn!(id = %process.record.id, %error, "exit status lost");
                if let ExitWatch::Keeper(_) = watch {
                    // Nothing supervises the child any more: stop what
                    // carries its cookie rather than leave it running.
                    stop_unsupervised(process);
                }
                ExitStatus::Code(-1)
            }
        };
        state.exited(status);
        if !state.output_done {
            self.timers
                .push((Instant::now() + self.leak_window, Arc::clone(process)));
        }
        drop(state);
        process.record.notify_all();
        // Nothing will read stdin any more. A writer blocked on it keeps the
        // lock; it fails by itself once the pipe's last reader is gone.
        if let Ok(mut stdin) = process.stdin.try_lock() {
            *stdin = None;
        }
        tracing::debug!(id = %process.record.id, pid = process.pid, %status, "process exited");
    }

    fn fire_timers(&mut self) {
        if self.timers.is_empty() {
            return;
        }
        let now = Instant::now();
        let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.timers)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.timers = waiting;
        for (_, process) in due {
            let mut state = process.record.lock();
            if !state.extra.is_empty() {
                // A backlog waiting for readers is not a leak: look again
                // one window after it is read.
                self.timers
                    .push((now + self.leak_window, Arc::clone(&process)));
                continue;
            }
            if state.give_up_output() {
                tracing::warn!(
                    id = %process.record.id,
                    pid = process.pid,
                    "process exited but descendants still hold its output open; not waiting for them"
                );
            }
            drop(state);
            process.record.notify_all();
        }
    }

    /// Last chance to reap children that died during shutdown.
    fn shutdown(&mut self) {
        for slot in self.slots.values_mut() {
            if let SlotKind::Exit { watch } = &slot.kind
                && let Ok(Some(status)) = watch.status(slot.process.pid)
            {
                let mut state = slot.process.record.lock();
                state.exited(status);
                state.output_done = true;
                drop(state);
                slot.process.record.notify_all();
            }
        }
    }
}

/// SIGKILL to every process carrying `process`'s cookie (its keeper died,
/// so its tree has no parent that would stop it).
fn stop_unsupervised(process: &Process) {
    let found = crate::tree::scan(&crate::tree::Query {
        cookie: &process.cookie,
        cookie_is_prefix: false,
        root: None,
        not_before: process.spawn_ticks,
    });
    let pinned = crate::tree::pin(&found);
    let _ = crate::tree::signal_all(
        pinned.iter().map(|(_, fd)| fd),
        nix::sys::signal::Signal::SIGKILL,
    );
    tracing::warn!(id = %process.record.id, count = pinned.len(), "the keeper died: stopped the processes it left");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_fast_pipe_grows_and_shrinks_back_once_the_other_speaks() {
        let (read, write) = nix::unistd::pipe().unwrap();
        let fd = read.as_fd();
        let default = sys::pipe_size(fd).unwrap();
        let mut grown = 0;

        // Not full, or the other stream spoke: nothing changes.
        let mut pipe = PipeSize::Default;
        pipe.adjust(fd, false, false, &mut grown);
        assert_eq!(pipe, PipeSize::Default);
        let mut limited = MAX_GROWN_PIPES;
        pipe.adjust(fd, true, false, &mut limited);
        assert_eq!(pipe, PipeSize::Default, "no more than the budget");

        pipe.adjust(fd, true, false, &mut grown);
        assert_eq!((pipe, grown), (PipeSize::Grown(default), 1));
        assert_eq!(sys::pipe_size(fd).unwrap(), FAST_PIPE_SIZE);

        // More than the old size waits in the pipe: it cannot shrink yet.
        let backlog = vec![b'x'; default + 1];
        File::from(write).write_all(&backlog).unwrap();
        pipe.adjust(fd, false, true, &mut grown);
        assert_eq!((pipe, grown), (PipeSize::Grown(default), 1));
        let mut drained = vec![0; default + 1];
        File::from(read.try_clone().unwrap())
            .read_exact(&mut drained)
            .unwrap();
        pipe.adjust(fd, false, true, &mut grown);
        assert_eq!((pipe, grown), (PipeSize::Settled, 0));
        assert_eq!(sys::pipe_size(fd).unwrap(), default);

        // Settled stays settled.
        pipe.adjust(fd, true, false, &mut grown);
        pipe.release(&mut grown);
        assert_eq!((pipe, grown), (PipeSize::Settled, 0));
        let mut quiet_sibling = PipeSize::Default;
        quiet_sibling.adjust(fd, true, true, &mut grown);
        assert_eq!(quiet_sibling, PipeSize::Settled);
    }
}
