//! The reactor: one thread per runtime that reads every child's output and
//! notices every exit.
//!
//! It waits in `epoll` on three kinds of descriptors: the read ends of the
//! children's stdout/stderr pipes (or a pseudo-terminal master), one pidfd
//! per child (readable when the child exits), and an eventfd that callers
//! use to hand it new registrations. Output is read as soon as it arrives,
//! in chunks of up to 64 KiB, appended to the process's bounded buffer (and
//! its log file), and waiters are woken. A read of half a chunk or more is
//! handed to the buffer whole, so a fast producer's bytes are copied once. When a pidfd fires, the child is
//! reaped under the process's lock, so a signal sent under that lock can
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
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use logist_core::{ExitStatus, Stream};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};

use crate::buffer::{CHUNK_LEN, HANDOVER_LEN};
use crate::process::Process;
use crate::sys;

const WAKE_TOKEN: u64 = u64::MAX;
/// Reads per readiness event before moving on to other descriptors.
const READS_PER_EVENT: usize = 16;
/// One read's worth: a whole buffer chunk, so a full read is handed over.
const READ_SIZE: usize = CHUNK_LEN;

/// What the reactor needs to watch a new child.
pub(crate) struct Registration {
    pub(crate) process: Arc<Process>,
    /// Read ends of the output, non-blocking.
    pub(crate) outputs: Vec<(Stream, OwnedFd)>,
    pub(crate) pidfd: OwnedFd,
    pub(crate) log: Option<File>,
}

enum Message {
    Register(Box<Registration>),
    Shutdown,
}

/// The runtime's handle on its reactor thread.
pub(crate) struct ReactorHandle {
    sender: Sender<Message>,
    wake: Arc<EventFd>,
    thread: Option<JoinHandle<()>>,
}

impl ReactorHandle {
    /// Starts the reactor thread.
    pub(crate) fn start(leak_window: Duration) -> io::Result<Self> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        let wake = Arc::new(EventFd::from_flags(
            EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK,
        )?);
        epoll.add(
            wake.as_fd(),
            EpollEvent::new(EpollFlags::EPOLLIN, WAKE_TOKEN),
        )?;
        let (sender, receiver) = crossbeam_channel::unbounded();
        let reactor_wake = Arc::clone(&wake);
        let thread = std::thread::Builder::new()
            .name("logist-host-reactor".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                // Built here: its slots share log files through `Rc`.
                let reactor = Reactor {
                    epoll,
                    wake: reactor_wake,
                    receiver,
                    slots: HashMap::new(),
                    next_token: 0,
                    timers: Vec::new(),
                    leak_window,
                    buf: vec![0; READ_SIZE],
                };
                reactor.run();
            })?;
        Ok(Self {
            sender,
            wake,
            thread: Some(thread),
        })
    }

    /// Hands a new child to the reactor.
    pub(crate) fn register(&self, registration: Registration) {
        // Sending fails only after shutdown, when the runtime is being
        // dropped and no spawn can be in flight.
        let _ = self.sender.send(Message::Register(Box::new(registration)));
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
                id = %self.process.id,
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
    },
    Exit {
        pidfd: OwnedFd,
    },
}

struct Slot {
    process: Arc<Process>,
    kind: SlotKind,
}

struct Reactor {
    epoll: Epoll,
    wake: Arc<EventFd>,
    receiver: Receiver<Message>,
    slots: HashMap<u64, Slot>,
    next_token: u64,
    /// Leak windows: when the output of an exited child stops counting.
    timers: Vec<(Instant, Arc<Process>)>,
    leak_window: Duration,
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
            for event in &events[..ready] {
                let token = event.data();
                if token == WAKE_TOKEN {
                    let _ = self.wake.read();
                    if !self.handle_messages() {
                        self.shutdown();
                        return;
                    }
                } else {
                    self.handle_ready(token);
                }
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

    /// Returns false on shutdown.
    fn handle_messages(&mut self) -> bool {
        while let Ok(message) = self.receiver.try_recv() {
            match message {
                Message::Register(registration) => self.add(*registration),
                Message::Shutdown => return false,
            }
        }
        true
    }

    fn add(&mut self, registration: Registration) {
        let Registration {
            process,
            outputs,
            pidfd,
            log,
        } = registration;
        let log = log.map(|file| {
            Rc::new(RefCell::new(LogSink {
                file: Some(file),
                process: Arc::clone(&process),
            }))
        });
        for (stream, fd) in outputs {
            let kind = SlotKind::Output {
                stream,
                file: File::from(fd),
                log: log.clone(),
            };
            self.watch(Arc::clone(&process), kind);
        }
        self.watch(process, SlotKind::Exit { pidfd });
    }

    fn watch(&mut self, process: Arc<Process>, kind: SlotKind) {
        let token = self.next_token;
        self.next_token += 1;
        let fd = match &kind {
            SlotKind::Output { file, .. } => file.as_fd(),
            SlotKind::Exit { pidfd, .. } => pidfd.as_fd(),
        };
        if let Err(error) = self
            .epoll
            .add(fd, EpollEvent::new(EpollFlags::EPOLLIN, token))
        {
            // Cannot happen for a fresh pipe or pidfd short of running out
            // of kernel memory; the process is then reported as having
            // ended its output, rather than hanging its waiters.
            tracing::error!(id = %process.id, %error, "cannot watch a descriptor");
            return;
        }
        self.slots.insert(token, Slot { process, kind });
    }

    fn handle_ready(&mut self, token: u64) {
        let Some(slot) = self.slots.get(&token) else {
            return;
        };
        match slot.kind {
            SlotKind::Output { .. } => self.read_output(token),
            SlotKind::Exit { .. } => self.reap(token),
        }
    }

    fn read_output(&mut self, token: u64) {
        let Some(slot) = self.slots.get(&token) else {
            return;
        };
        let SlotKind::Output { stream, file, log } = &slot.kind else {
            return;
        };
        let mut ended = false;
        // Readers blocked in `read_output` are woken once per event, and
        // only when there are some: `wait` does not care about bytes.
        let mut wake_readers = false;
        for _ in 0..READS_PER_EVENT {
            match (&*file).read(&mut self.buf) {
                Ok(0) => {
                    ended = true;
                    break;
                }
                Ok(n) => {
                    if let Some(log) = log {
                        log.borrow_mut().write(&self.buf[..n]);
                    }
                    let mut state = slot.process.lock();
                    wake_readers |= state.output_waiters > 0;
                    if n < HANDOVER_LEN {
                        state.buffer.push(*stream, &self.buf[..n]);
                        continue;
                    }
                    let mut data = std::mem::take(&mut self.buf);
                    data.truncate(n);
                    let recycled = state.buffer.push_owned(*stream, data);
                    drop(state);
                    // An evicted chunk is full of old bytes to overwrite;
                    // only a shortened one needs zeroes at the end.
                    self.buf = recycled.unwrap_or_else(|| vec![0; READ_SIZE]);
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
                    tracing::warn!(id = %slot.process.id, %error, "reading output failed");
                    ended = true;
                    break;
                }
            }
        }
        if wake_readers {
            slot.process.output.notify_all();
        }
        if ended {
            self.end_output(token);
        }
    }

    fn end_output(&mut self, token: u64) {
        let Some(slot) = self.slots.remove(&token) else {
            return;
        };
        if let SlotKind::Output { file, .. } = &slot.kind {
            let _ = self.epoll.delete(file.as_fd());
        }
        let mut state = slot.process.lock();
        state.open_streams = state.open_streams.saturating_sub(1);
        if state.open_streams == 0 && state.status.is_some() && !state.output_done {
            state.output_done = true;
        }
        drop(state);
        slot.process.notify_all();
    }

    fn reap(&mut self, token: u64) {
        let Some(mut slot) = self.slots.remove(&token) else {
            return;
        };
        let SlotKind::Exit { pidfd } = &mut slot.kind else {
            return;
        };
        let _ = self.epoll.delete(pidfd.as_fd());
        let process = &slot.process;
        let mut state = process.lock();
        let status = match sys::waitpid_nohang(process.pid) {
            Ok(Some(status)) => status,
            Ok(None) => {
                // A pidfd is readable only once the process has exited;
                // watch again rather than guess.
                drop(state);
                self.slots.insert(token, slot);
                if let Some(Slot {
                    kind: SlotKind::Exit { pidfd, .. },
                    ..
                }) = self.slots.get(&token)
                {
                    let _ = self
                        .epoll
                        .add(pidfd.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, token));
                }
                return;
            }
            Err(error) => {
                // Someone else reaped our child (SIGCHLD ignored, or a
                // waitpid(-1) elsewhere in the program): the status is lost.
                tracing::warn!(id = %process.id, %error, "exit status lost: the child was reaped elsewhere");
                ExitStatus::Code(-1)
            }
        };
        state.status = Some(status);
        state.exited_at = Some(Instant::now());
        if state.open_streams == 0 {
            state.output_done = true;
        } else {
            self.timers
                .push((Instant::now() + self.leak_window, Arc::clone(process)));
        }
        drop(state);
        process.notify_all();
        // Nothing will read stdin any more. A writer blocked on it keeps the
        // lock; it fails by itself once the pipe's last reader is gone.
        if let Ok(mut stdin) = process.stdin.try_lock() {
            *stdin = None;
        }
        tracing::debug!(id = %process.id, pid = process.pid, %status, "process exited");
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
            let mut state = process.lock();
            if !state.output_done {
                state.output_done = true;
                state.leaked = true;
                tracing::warn!(
                    id = %process.id,
                    pid = process.pid,
                    "process exited but descendants still hold its output open; not waiting for them"
                );
            }
            drop(state);
            process.notify_all();
        }
    }

    /// Last chance to reap children that died during shutdown.
    fn shutdown(&mut self) {
        for slot in self.slots.values_mut() {
            if let SlotKind::Exit { .. } = &slot.kind
                && let Ok(Some(status)) = sys::waitpid_nohang(slot.process.pid)
            {
                let mut state = slot.process.lock();
                state.status.get_or_insert(status);
                state.output_done = true;
                drop(state);
                slot.process.notify_all();
            }
        }
    }
}
