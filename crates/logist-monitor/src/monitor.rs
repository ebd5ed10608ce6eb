//! The monitor process: one per run, the run's parent and subreaper.
//!
//! Started by [`crate::start`] as `logist-monitor --run-dir D --ready-fd R
//! --lock-fd L [--owner-fd O]`, it forks once so that it is orphaned,
//! starts a new session, becomes a child subreaper, spawns the run and
//! then serves a single-threaded `poll` loop: output to the log, stdin
//! from clients, signals, the control socket, the owner's pipe. It exits
//! once the run's exit is recorded and no descendant is left.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use logist_core::ExitStatus;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::log::{Channel, LogReader, LogWriter};
use crate::proto::{self, PROTOCOL_VERSION, Reply, Request, SignalTarget, StatusReply};
use crate::state::{self, ExitRecord, MonitorRecord, Ownership, RunDir, RunSpec};
use crate::{sys, tree};

/// The name of the control socket in the run's directory.
pub(crate) const SOCKET_NAME: &str = "ctl.sock";
const READ_LEN: usize = 128 * 1024;
/// The size asked of the output pipes (fewer wake-ups per byte).
const PIPE_LEN: usize = 1 << 20;
const READS_PER_WAKE: usize = 16;
const SUBSCRIBER_BUFFER: usize = 256 * 1024;
/// The send buffer asked for on a subscriber's socket.
const SUBSCRIBER_SOCKET_BUFFER: usize = 1 << 20;
const KILL_ROUND: Duration = Duration::from_millis(20);
const LINGER: Duration = Duration::from_secs(1);
const MAX_CLIENTS: usize = 128;

/// The monitor's entry point: parses its arguments, becomes the monitor,
/// and returns the process's exit code. Call it from a `main` with
/// `std::env::args_os().skip(1)` (the `logist-monitor` binary does).
///
/// The starter passes three descriptors as the standard ones, so that it
/// can start the monitor with `posix_spawn` (no `fork` of a large owner):
/// 0 is the owner pipe (attached runs, `--attached`) or `/dev/null`, 1 is
/// the locked `monitor.lock`, 2 is the ready pipe.
pub fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args = match Args::parse(args) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("error {message}");
            return 2;
        }
    };
    // First, while this process has one thread: orphan ourselves.
    if let Err(error) = sys::fork_and_orphan() {
        eprintln!("error fork: {error}");
        return 1;
    }
    let setup = (|| -> io::Result<(File, OwnedFd, Option<OwnedFd>)> {
        nix::unistd::setsid()?;
        nix::sys::prctl::set_child_subreaper(true)?;
        // Move the three handed-over descriptors out of the standard slots
        // (close-on-exec, so the run inherits none of them).
        let high = |fd: BorrowedFd<'_>| -> io::Result<OwnedFd> {
            sys::adopt_fd(nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3),
            )?)
        };
        let owner = high(io::stdin().as_fd())?;
        let lock = high(io::stdout().as_fd())?;
        let ready = File::from(high(io::stderr().as_fd())?);
        let null = File::options().read(true).write(true).open("/dev/null")?;
        let diagnostics = File::options()
            .create(true)
            .append(true)
            .open(args.run_dir.join("monitor.err"))?;
        nix::unistd::dup2_stdin(&null)?;
        nix::unistd::dup2_stdout(&null)?;
        nix::unistd::dup2_stderr(&diagnostics)?;
        drop((null, diagnostics));
        let owner = args.attached.then_some(owner);
        let mut keep = vec![ready.as_raw_fd(), lock.as_raw_fd()];
        keep.extend(owner.as_ref().map(AsRawFd::as_raw_fd));
        sys::close_other_fds(&keep)?;
        Ok((ready, lock, owner))
    })();
    let (mut ready, _lock, owner) = match setup {
        Ok(parts) => parts,
        Err(error) => {
            // Standard error is still the ready pipe, or already the
            // diagnostics file; either way the starter learns of it.
            eprintln!("error setting up: {error}");
            return 1;
        }
    };
    let mut monitor = match Monitor::start(&args.run_dir, owner) {
        Ok(monitor) => monitor,
        Err(Failure::Setup(message)) => {
            let _ = writeln!(ready, "error {message}");
            eprintln!("logist-monitor: {message}");
            return 1;
        }
        Err(Failure::Spawn(error)) => {
            let _ = writeln!(ready, "spawn {} {error}", error.raw_os_error().unwrap_or(0));
            return 1;
        }
    };
    // One write, so the starter gets the whole answer in one read.
    let _ = ready.write_all(format!("ok {}\n", monitor.pid).as_bytes());
    drop(ready);
    monitor.serve();
    0
}

struct Args {
    run_dir: PathBuf,
    attached: bool,
}

impl Args {
    fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Self, String> {
        let mut run_dir = None;
        let mut attached = false;
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            match flag.to_str() {
                Some("--run-dir") => {
                    run_dir = Some(PathBuf::from(args.next().ok_or("--run-dir needs a value")?));
                }
                Some("--attached") => attached = true,
                _ => return Err(format!("unknown argument {flag:?}")),
            }
        }
        Ok(Self {
            run_dir: run_dir.ok_or("--run-dir is required")?,
            attached,
        })
    }
}

/// Serves bytes just appended to the log at `offset` from memory to each
/// subscriber that is caught up (its next offset is `offset`) and has room
/// in its buffer; one that is behind (or full) reads them from the log on
/// disk later, in order, as before. A subscriber with nothing buffered
/// gets them straight on its socket, and only what the socket does not
/// take is buffered. True when any has bytes buffered to send.
fn serve_live(conns: &mut [Option<Conn>], channel: Channel, offset: u64, bytes: &[u8]) -> bool {
    let mut served = false;
    for conn in conns.iter_mut().flatten() {
        if conn.exited_sent || conn.outbuf.len() >= SUBSCRIBER_BUFFER {
            continue;
        }
        let Some((next, _)) = conn.subscribed.as_mut() else {
            continue;
        };
        if *next != offset {
            continue;
        }
        *next = offset + bytes.len() as u64;
        if conn.outbuf.is_empty() {
            let header = proto::data_header(channel, offset, bytes.len());
            let frame = [io::IoSlice::new(&header), io::IoSlice::new(bytes)];
            let taken = (&conn.stream).write_vectored(&frame).unwrap_or(0);
            if taken == header.len() + bytes.len() {
                continue;
            }
            // The rest waits (a failed socket shows itself at the flush).
            if taken < header.len() {
                conn.outbuf.extend_from_slice(&header[taken..]);
                conn.outbuf.extend_from_slice(bytes);
            } else {
                conn.outbuf
                    .extend_from_slice(&bytes[taken - header.len()..]);
            }
        } else {
            conn.outbuf.put_data(channel, offset, bytes);
        }
        served = true;
    }
    served
}

fn set_cloexec(fd: BorrowedFd<'_>) -> io::Result<()> {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    Ok(())
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// Binds (or connects to) `ctl.sock` in `dir`, going through
/// `/proc/self/fd/<dir>` when the plain path is too long for `sun_path`.
pub(crate) fn socket_path<T>(
    dir: &Path,
    with: impl FnOnce(&Path) -> io::Result<T>,
) -> io::Result<T> {
    let plain = dir.join(SOCKET_NAME);
    if plain.as_os_str().len() < 100 {
        return with(&plain);
    }
    let handle = File::open(dir)?;
    let short = PathBuf::from(format!(
        "/proc/self/fd/{}/{SOCKET_NAME}",
        handle.as_raw_fd()
    ));
    with(&short)
}

enum Failure {
    Setup(String),
    Spawn(io::Error),
}

/// One control connection.
struct Conn {
    stream: UnixStream,
    inbuf: Vec<u8>,
    outbuf: OutBuf,
    hello: bool,
    subscribed: Option<(u64, LogReader)>,
    exited_sent: bool,
    waiting_stdin: bool,
    closing: bool,
}

/// What is waiting to go out on a connection. What the socket took is
/// skipped, not moved out (a subscriber's socket often takes part of the
/// buffer), and the buffer is compacted only once that part is most of it.
#[derive(Default)]
struct OutBuf {
    bytes: Vec<u8>,
    sent: usize,
}

impl OutBuf {
    /// The bytes still to send.
    fn len(&self) -> usize {
        self.bytes.len() - self.sent
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn unsent(&self) -> &[u8] {
        &self.bytes[self.sent..]
    }

    fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.compact();
        self.bytes.extend_from_slice(bytes);
    }

    fn put_data(&mut self, channel: Channel, offset: u64, bytes: &[u8]) {
        self.compact();
        proto::put_data(&mut self.bytes, channel, offset, bytes);
    }

    /// The socket took `n` more bytes.
    fn consume(&mut self, n: usize) {
        self.sent += n;
        if self.sent == self.bytes.len() {
            self.bytes.clear();
            self.sent = 0;
        }
    }

    fn compact(&mut self) {
        if self.sent > 0 && self.sent >= self.bytes.len() / 2 {
            self.bytes.drain(..self.sent);
            self.sent = 0;
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Tag {
    Signals,
    Listener,
    Owner,
    Output(usize),
    Stdin,
    Conn(usize),
}

struct Monitor {
    run: RunDir,
    spec: RunSpec,
    log: LogWriter,
    log_failing: bool,
    listener: UnixListener,
    signals: SignalFd,
    owner: Option<OwnedFd>,
    outputs: Vec<(Channel, OwnedFd)>,
    stdin: Option<OwnedFd>,
    stdin_close_pending: bool,
    pty: Option<OwnedFd>,
    stdin_queue: VecDeque<(usize, Vec<u8>, usize)>,
    conns: Vec<Option<Conn>>,
    me: i32,
    pid: i32,
    main_reaped: bool,
    main_status: Option<(ExitStatus, bool, i32, u64)>,
    drain_deadline: Option<Instant>,
    exit: Option<ExitRecord>,
    finished_at: Option<Instant>,
    kill_at: Option<Instant>,
    killing: bool,
    next_kill_round: Option<Instant>,
    no_children: bool,
    buf: Vec<u8>,
}

impl Monitor {
    fn start(dir: &Path, owner: Option<OwnedFd>) -> Result<Self, Failure> {
        let setup =
            |what: &str, error: &dyn std::fmt::Display| Failure::Setup(format!("{what}: {error}"));
        let id = dir
            .file_name()
            .and_then(|name| name.to_str())
            .ok_or_else(|| Failure::Setup("the run directory has no name".to_owned()))?;
        let state_root = dir.parent().and_then(Path::parent).ok_or_else(|| {
            Failure::Setup("the run directory is not in a state directory".to_owned())
        })?;
        let run = state::StateDir::open(state_root)
            .and_then(|state| state.run(id))
            .map_err(|e| setup("opening the run", &logist_core::error_chain(&e)))?;
        let spec = run
            .spec()
            .map_err(|e| setup("reading the spec", &logist_core::error_chain(&e)))?;
        // As with the exit record: only a durable run's log must survive
        // power loss, and a flush at every segment stalls the output.
        let log = LogWriter::open(&run.log_dir(), spec.segment_bytes)
            .map_err(|e| setup("opening the log", &logist_core::error_chain(&e)))?
            .sync_segments(spec.ownership == Ownership::Durable);
        let listener = socket_path(run.path(), |path| UnixListener::bind(path))
            .map_err(|e| setup("binding the control socket", &e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| setup("binding the control socket", &e))?;

        let mut mask = SigSet::empty();
        for signal in [
            Signal::SIGCHLD,
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGHUP,
            Signal::SIGQUIT,
        ] {
            mask.add(signal);
        }
        mask.thread_block()
            .map_err(|e| setup("blocking signals", &e))?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| setup("opening a signalfd", &e))?;

        let me = std::process::id() as i32;
        #[expect(
            clippy::disallowed_methods,
            reason = "the monitor is the host runtime's machinery for starting a run"
        )]
        let mut command = Command::new(&spec.argv[0]);
        command.args(&spec.argv[1..]);
        if let Some(cwd) = &spec.cwd {
            command.current_dir(cwd);
        }
        let mut outputs = Vec::new();
        let mut stdin = None;
        let mut pty = None;
        let pty_slave;
        if let Some((rows, cols)) = spec.terminal {
            let pair = nix::pty::openpty(None, None)
                .map_err(|e| setup("opening a pseudo-terminal", &e))?;
            for fd in [pair.master.as_fd(), pair.slave.as_fd()] {
                set_cloexec(fd).map_err(|e| setup("opening a pseudo-terminal", &e))?;
            }
            sys::set_window_size(pair.master.as_fd(), rows, cols)
                .map_err(|e| setup("sizing the pseudo-terminal", &e))?;
            let dup = |fd: &OwnedFd| {
                fd.try_clone()
                    .map_err(|e| setup("duplicating the terminal", &e))
            };
            command.stdin(Stdio::from(dup(&pair.slave)?));
            command.stdout(Stdio::from(dup(&pair.slave)?));
            command.stderr(Stdio::from(dup(&pair.slave)?));
            outputs.push((Channel::Pty, dup(&pair.master)?));
            stdin = Some(dup(&pair.master)?);
            pty = Some(pair.master);
            pty_slave = Some(pair.slave);
        } else {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
            command.stdin(if spec.stdin_piped {
                Stdio::piped()
            } else {
                Stdio::null()
            });
            pty_slave = None;
        }
        sys::RunSetup {
            terminal: spec.terminal.is_some(),
            monitor: me,
        }
        .install(&mut command);
        let mut child = command.spawn().map_err(Failure::Spawn)?;
        drop(pty_slave);
        drop(command);
        let pid = child.id() as i32;
        if let Some(out) = child.stdout.take() {
            outputs.push((Channel::Stdout, OwnedFd::from(out)));
        }
        if let Some(err) = child.stderr.take() {
            outputs.push((Channel::Stderr, OwnedFd::from(err)));
        }
        if let Some(input) = child.stdin.take() {
            stdin = Some(OwnedFd::from(input));
        }
        // The monitor reaps by pid; std's handle is not needed.
        drop(child);
        for (channel, fd) in &outputs {
            set_nonblocking(fd.as_fd()).map_err(|e| setup("setting up the output", &e))?;
            if *channel != Channel::Pty {
                // Best effort: the system limit may be lower.
                let _ = nix::fcntl::fcntl(
                    fd.as_fd(),
                    nix::fcntl::FcntlArg::F_SETPIPE_SZ(PIPE_LEN as i32),
                );
            }
        }
        if let Some(fd) = &stdin {
            set_nonblocking(fd.as_fd()).map_err(|e| setup("setting up stdin", &e))?;
        }
        let record = MonitorRecord {
            protocol: PROTOCOL_VERSION,
            monitor_pid: me,
            monitor_start_ticks: tree::start_ticks(me).unwrap_or(0),
            boot_id: state::boot_id().unwrap_or_default(),
            run_pid: pid,
            run_pgid: pid,
            run_start_ticks: tree::start_ticks(pid).unwrap_or(0),
            started_unix_ms: state::unix_ms(),
        };
        let mut monitor = Self {
            run,
            spec,
            log,
            log_failing: false,
            listener,
            signals,
            owner,
            outputs,
            stdin,
            stdin_close_pending: false,
            pty,
            stdin_queue: VecDeque::new(),
            conns: Vec::new(),
            me,
            pid,
            main_reaped: false,
            main_status: None,
            drain_deadline: None,
            exit: None,
            finished_at: None,
            kill_at: None,
            killing: false,
            next_kill_round: None,
            no_children: false,
            buf: vec![0; READ_LEN],
        };
        if let Err(error) = monitor.run.write_monitor(&record) {
            // Without its record the run could not be adopted: stop it.
            monitor.kill_now();
            monitor.wait_tree_gone();
            return Err(setup(
                "writing monitor.json",
                &logist_core::error_chain(&error),
            ));
        }
        Ok(monitor)
    }

    fn serve(&mut self) {
        loop {
            self.advance();
            // Once everything is done, one more look without waiting: a
            // request that is already on its way (a `Subscribe` sent just as
            // the run ended) is answered rather than cut off.
            let last_look = self.done();
            let events = self.poll_once(last_look);
            let lingered = self.finished_at.is_some_and(|at| at.elapsed() >= LINGER);
            if last_look && (events.is_empty() || lingered) {
                break;
            }
            let mut closed = Vec::new();
            for (tag, revents) in events {
                if let Tag::Output(i) = tag {
                    if self.read_output(i) {
                        closed.push(i);
                    }
                } else {
                    self.handle(tag, revents);
                }
            }
            // Indices stay valid while the batch is handled; remove after.
            for i in closed.into_iter().rev() {
                self.outputs.remove(i);
            }
        }
        let _ = socket_path(self.run.path(), |path| std::fs::remove_file(path));
    }

    /// Timers and state transitions that do not wait for an event.
    fn advance(&mut self) {
        let now = Instant::now();
        if self.kill_at.is_some_and(|at| at <= now) {
            self.kill_at = None;
            self.kill_now();
        }
        if self.killing && self.next_kill_round.is_some_and(|at| at <= now) {
            self.kill_round();
        }
        self.reap();
        if self.exit.is_none()
            && let Some(status) = self.main_status
        {
            let drained = self.outputs.is_empty();
            let leak_over = self.drain_deadline.is_some_and(|at| at <= now);
            if drained || leak_over {
                self.record_exit(status, !drained);
            }
        }
        if self.exit.is_some()
            && self.no_children
            && self.outputs.is_empty()
            && self.finished_at.is_none()
        {
            self.finished_at = Some(now);
        }
    }

    fn done(&self) -> bool {
        let Some(finished) = self.finished_at else {
            return false;
        };
        let flushed = self.conns.iter().flatten().all(|conn| {
            conn.outbuf.is_empty() && conn.subscribed.as_ref().is_none_or(|_| conn.exited_sent)
        });
        flushed || finished.elapsed() >= LINGER
    }

    fn poll_once(&mut self, no_wait: bool) -> Vec<(Tag, PollFlags)> {
        let mut tags = Vec::new();
        let mut fds = Vec::new();
        let input = PollFlags::POLLIN;
        fds.push(PollFd::new(self.signals.as_fd(), input));
        tags.push(Tag::Signals);
        fds.push(PollFd::new(self.listener.as_fd(), input));
        tags.push(Tag::Listener);
        if let Some(owner) = &self.owner {
            fds.push(PollFd::new(owner.as_fd(), input));
            tags.push(Tag::Owner);
        }
        for (i, (_, fd)) in self.outputs.iter().enumerate() {
            fds.push(PollFd::new(fd.as_fd(), input));
            tags.push(Tag::Output(i));
        }
        if let Some(stdin) = &self.stdin
            && !self.stdin_queue.is_empty()
        {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLOUT));
            tags.push(Tag::Stdin);
        }
        let log_end = self.log.end();
        let exit_known = self.exit.is_some();
        for (i, conn) in self.conns.iter().enumerate() {
            let Some(conn) = conn else { continue };
            let mut flags = PollFlags::empty();
            if !conn.waiting_stdin && !conn.closing && conn.subscribed.is_none() {
                flags |= PollFlags::POLLIN;
            }
            let behind = conn.subscribed.as_ref().is_some_and(|(next, _)| {
                (*next < log_end || (exit_known && !conn.exited_sent))
                    && conn.outbuf.len() < SUBSCRIBER_BUFFER
            });
            if !conn.outbuf.is_empty() || behind {
                flags |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(conn.stream.as_fd(), flags));
            tags.push(Tag::Conn(i));
        }
        let now = Instant::now();
        let deadline = [
            self.kill_at,
            self.next_kill_round.filter(|_| self.killing),
            self.drain_deadline.filter(|_| self.exit.is_none()),
            self.finished_at.map(|at| at + LINGER),
        ]
        .into_iter()
        .flatten()
        .min();
        let timeout = match deadline.filter(|_| !no_wait) {
            None if no_wait => PollTimeout::ZERO,
            None => PollTimeout::NONE,
            Some(at) => {
                let ms = at.saturating_duration_since(now).as_millis().min(60_000) as i32 + 1;
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
            }
        };
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(Errno::EINTR) => return Vec::new(),
            Err(error) => {
                eprintln!("logist-monitor: poll: {error}");
                std::thread::sleep(Duration::from_millis(10));
                return Vec::new();
            }
        }
        fds.iter()
            .zip(tags)
            .filter_map(|(fd, tag)| {
                let revents = fd.revents().unwrap_or(PollFlags::empty());
                (!revents.is_empty()).then_some((tag, revents))
            })
            .collect()
    }

    fn handle(&mut self, tag: Tag, revents: PollFlags) {
        match tag {
            Tag::Signals => self.on_signals(),
            Tag::Listener => self.accept(),
            Tag::Owner => {
                let mut byte = [0u8; 64];
                let gone = match self
                    .owner
                    .as_ref()
                    .map(|fd| nix::unistd::read(fd, &mut byte))
                {
                    Some(Ok(0)) | Some(Err(_)) => true,
                    Some(Ok(_)) => revents.contains(PollFlags::POLLHUP),
                    None => false,
                };
                if gone {
                    // The owner died: an attached run dies with it, at once.
                    self.owner = None;
                    self.kill_now();
                }
            }
            Tag::Output(_) => {}
            Tag::Stdin => self.write_stdin(),
            Tag::Conn(i) => self.on_conn(i, revents),
        }
    }

    fn on_signals(&mut self) {
        while let Ok(Some(info)) = self.signals.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGCHLD) => {}
                Ok(Signal::SIGTERM | Signal::SIGINT) => self.begin_terminate(self.spec.grace),
                Ok(Signal::SIGQUIT) => self.kill_now(),
                _ => {}
            }
        }
        self.reap();
    }

    fn reap(&mut self) {
        if self.no_children {
            return;
        }
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => return,
                Ok(WaitStatus::Exited(pid, code)) => {
                    if pid.as_raw() == self.pid {
                        self.main_exited(ExitStatus::Code(code), false, (code & 0xff) << 8);
                    }
                }
                Ok(WaitStatus::Signaled(pid, signal, core)) => {
                    if pid.as_raw() == self.pid {
                        let raw = signal as i32 | if core { 0x80 } else { 0 };
                        self.main_exited(ExitStatus::Signal(signal as i32), core, raw);
                    }
                }
                Ok(_) => {}
                Err(Errno::EINTR) => {}
                Err(Errno::ECHILD) => {
                    self.no_children = true;
                    self.next_kill_round = None;
                    return;
                }
                Err(error) => {
                    eprintln!("logist-monitor: waitpid: {error}");
                    return;
                }
            }
        }
    }

    fn main_exited(&mut self, status: ExitStatus, core: bool, raw: i32) {
        self.main_reaped = true;
        self.main_status = Some((status, core, raw, state::unix_ms()));
        self.drain_deadline = Some(Instant::now() + self.spec.leak_window);
    }

    fn record_exit(
        &mut self,
        (status, core, raw, ended): (ExitStatus, bool, i32, u64),
        leaked: bool,
    ) {
        // A durable run's record must survive power loss, and everything
        // read so far reaches the disk before it. An attached run dies with
        // its owner, so nothing of it survives a power loss anyway: its
        // record is atomic for readers but not flushed (fsync is the
        // largest part of a short run's cost).
        let sync = match self.spec.ownership {
            Ownership::Attached => state::Sync::Rename,
            Ownership::Durable => state::Sync::Disk,
        };
        if sync == state::Sync::Disk {
            let _ = self.log.sync();
        }
        let record = ExitRecord {
            status,
            core_dumped: core,
            raw,
            ended_unix_ms: ended,
            output_leaked: leaked,
            log_end: self.log.end(),
            log_lost_bytes: self.log.lost_bytes(),
        };
        if let Err(error) = self.run.write_exit(&record, sync) {
            eprintln!(
                "logist-monitor: writing exit.json: {}",
                logist_core::error_chain(&error)
            );
        }
        self.exit = Some(record);
    }

    fn begin_terminate(&mut self, grace: Duration) {
        if self.killing {
            return;
        }
        let at = Instant::now() + grace;
        if self.kill_at.is_some_and(|old| old <= at) {
            return;
        }
        if self.kill_at.is_none() {
            if !self.main_reaped {
                let _ = nix::sys::signal::killpg(Pid::from_raw(self.pid), Signal::SIGTERM);
                let _ = nix::sys::signal::killpg(Pid::from_raw(self.pid), Signal::SIGCONT);
            }
            tree::signal_tree(self.me, Signal::SIGTERM);
            tree::signal_tree(self.me, Signal::SIGCONT);
        }
        self.kill_at = Some(at);
    }

    fn kill_now(&mut self) {
        self.killing = true;
        self.kill_at = None;
        self.kill_round();
    }

    fn kill_round(&mut self) {
        if !self.main_reaped {
            let _ = nix::sys::signal::killpg(Pid::from_raw(self.pid), Signal::SIGKILL);
        }
        tree::signal_tree(self.me, Signal::SIGKILL);
        self.reap();
        self.next_kill_round = (!self.no_children).then(|| Instant::now() + KILL_ROUND);
    }

    /// Used only when setting up failed after the spawn.
    fn wait_tree_gone(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.no_children && Instant::now() < deadline {
            self.kill_round();
            std::thread::sleep(KILL_ROUND);
        }
    }

    /// Reads what output `index` holds; true when it reached its end.
    fn read_output(&mut self, index: usize) -> bool {
        let channel = self.outputs[index].0;
        let mut closed = false;
        let mut served = false;
        for _ in 0..READS_PER_WAKE {
            match nix::unistd::read(&self.outputs[index].1, &mut self.buf) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => {
                    if let Err(error) = self.log.append(channel, &self.buf[..n]) {
                        if !self.log_failing {
                            eprintln!(
                                "logist-monitor: writing the log: {error}; counting lost bytes"
                            );
                            self.log_failing = true;
                        }
                    } else {
                        self.log_failing = false;
                        let offset = self.log.end() - n as u64;
                        served |= serve_live(&mut self.conns, channel, offset, &self.buf[..n]);
                        // Small pieces go out together after this wake; a
                        // subscriber's buffer filling up goes out at once,
                        // so the next piece finds it caught up.
                        if served && self.subscriber_filling() {
                            self.flush_subscribers();
                            served = false;
                        }
                    }
                    if n < self.buf.len() {
                        break;
                    }
                }
                Err(Errno::EAGAIN) => break,
                Err(Errno::EINTR) => {}
                // A terminal whose every slave is closed reads EIO.
                Err(_) => {
                    closed = true;
                    break;
                }
            }
        }
        if served {
            self.flush_subscribers();
        }
        closed
    }

    /// True when a subscriber's buffer is half full.
    fn subscriber_filling(&self) -> bool {
        self.conns
            .iter()
            .flatten()
            .any(|conn| conn.subscribed.is_some() && conn.outbuf.len() >= SUBSCRIBER_BUFFER / 2)
    }

    /// Sends what subscribers have buffered now, rather than after another
    /// poll, so the next piece read finds them caught up.
    fn flush_subscribers(&mut self) {
        for index in 0..self.conns.len() {
            if self.conns[index]
                .as_ref()
                .is_some_and(|conn| conn.subscribed.is_some() && !conn.outbuf.is_empty())
            {
                self.flush(index);
            }
        }
    }

    fn write_stdin(&mut self) {
        loop {
            let Some(stdin) = &self.stdin else { return };
            let Some((conn, bytes, written)) = self.stdin_queue.front_mut() else {
                break;
            };
            match nix::unistd::write(stdin, &bytes[*written..]) {
                Ok(n) => {
                    *written += n;
                    if *written == bytes.len() {
                        let conn = *conn;
                        self.stdin_queue.pop_front();
                        self.stdin_done(conn, Reply::Ok);
                    }
                }
                Err(Errno::EAGAIN) => return,
                Err(Errno::EINTR) => {}
                Err(error) => {
                    let message = format!("writing stdin: {error}");
                    self.stdin = None;
                    while let Some((conn, ..)) = self.stdin_queue.pop_front() {
                        self.stdin_done(conn, Reply::Error(message.clone()));
                    }
                    return;
                }
            }
        }
        if self.stdin_close_pending {
            self.stdin = None;
        }
    }

    fn stdin_done(&mut self, index: usize, reply: Reply) {
        if let Some(Some(conn)) = self.conns.get_mut(index) {
            conn.outbuf.extend_from_slice(&reply.encode());
            conn.waiting_stdin = false;
        }
        self.process_frames(index);
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let conn = Conn {
                        stream,
                        inbuf: Vec::new(),
                        outbuf: OutBuf::default(),
                        hello: false,
                        subscribed: None,
                        exited_sent: false,
                        waiting_stdin: false,
                        closing: false,
                    };
                    match self.conns.iter().position(Option::is_none) {
                        Some(slot) => self.conns[slot] = Some(conn),
                        None if self.conns.len() < MAX_CLIENTS => self.conns.push(Some(conn)),
                        None => {
                            let mut conn = conn;
                            let _ = conn
                                .stream
                                .write_all(&Reply::Error("too many clients".into()).encode());
                        }
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    fn on_conn(&mut self, index: usize, revents: PollFlags) {
        let Some(conn) = self.conns[index].as_mut() else {
            return;
        };
        let mut drop_conn = false;
        if revents.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
            && conn.subscribed.is_none()
        {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match conn.stream.read(&mut buf) {
                    Ok(0) => {
                        drop_conn = !conn.waiting_stdin;
                        conn.closing = true;
                        break;
                    }
                    Ok(n) => {
                        conn.inbuf.extend_from_slice(&buf[..n]);
                        if conn.inbuf.len() > proto::MAX_FRAME + 4 {
                            break;
                        }
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        drop_conn = true;
                        break;
                    }
                }
            }
        } else if revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR)
            && conn.outbuf.is_empty()
        {
            // A subscriber that hung up.
            if !revents.contains(PollFlags::POLLOUT) {
                drop_conn = true;
            }
        }
        if drop_conn {
            self.conns[index] = None;
            return;
        }
        self.process_frames(index);
        self.fill_subscription(index);
        self.flush(index);
    }

    fn flush(&mut self, index: usize) {
        let Some(conn) = self.conns[index].as_mut() else {
            return;
        };
        while !conn.outbuf.is_empty() {
            match conn.stream.write(conn.outbuf.unsent()) {
                Ok(n) => {
                    conn.outbuf.consume(n);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.conns[index] = None;
                    return;
                }
            }
        }
        let finished =
            conn.closing && !conn.waiting_stdin || conn.subscribed.is_some() && conn.exited_sent;
        if finished {
            self.conns[index] = None;
        }
    }

    fn fill_subscription(&mut self, index: usize) {
        let log_end = self.log.end();
        let exit = self.exit.as_ref().map(|e| (e.status, e.log_end));
        let Some(conn) = self.conns[index].as_mut() else {
            return;
        };
        let Some((next, reader)) = conn.subscribed.as_mut() else {
            return;
        };
        while *next < log_end && conn.outbuf.len() < SUBSCRIBER_BUFFER {
            match reader.read(*next, READ_LEN) {
                Ok(chunks) if chunks.is_empty() => break,
                Ok(chunks) => {
                    for chunk in chunks {
                        *next = chunk.offset + chunk.len();
                        let reply = if chunk.channel == Channel::Gap {
                            Reply::Gap {
                                offset: chunk.offset,
                                len: chunk.gap,
                            }
                        } else {
                            Reply::Data {
                                channel: chunk.channel,
                                offset: chunk.offset,
                                bytes: chunk.bytes,
                            }
                        };
                        conn.outbuf.extend_from_slice(&reply.encode());
                    }
                }
                Err(error) => {
                    conn.outbuf.extend_from_slice(
                        &Reply::Error(logist_core::error_chain(&error).to_string()).encode(),
                    );
                    conn.exited_sent = true;
                    return;
                }
            }
        }
        if let Some((status, end)) = exit
            && *next >= end
            && !conn.exited_sent
        {
            conn.outbuf.extend_from_slice(
                &Reply::Exited {
                    status,
                    log_end: end,
                }
                .encode(),
            );
            conn.exited_sent = true;
        }
    }

    fn process_frames(&mut self, index: usize) {
        loop {
            let Some(Some(conn)) = self.conns.get_mut(index) else {
                return;
            };
            if conn.waiting_stdin || conn.subscribed.is_some() {
                return;
            }
            let body = match proto::take_frame(&mut conn.inbuf) {
                Ok(Some(body)) => body,
                Ok(None) => return,
                Err(malformed) => {
                    conn.outbuf
                        .extend_from_slice(&Reply::Error(malformed.0.to_owned()).encode());
                    conn.inbuf.clear();
                    conn.closing = true;
                    return;
                }
            };
            let request = match Request::decode(&body) {
                Ok(request) => request,
                Err(malformed) => {
                    conn.outbuf
                        .extend_from_slice(&Reply::Error(malformed.0.to_owned()).encode());
                    continue;
                }
            };
            if !conn.hello {
                let reply = match request {
                    Request::Hello {
                        version: PROTOCOL_VERSION,
                    } => {
                        conn.hello = true;
                        Reply::Hello {
                            version: PROTOCOL_VERSION,
                            pid: self.pid,
                        }
                    }
                    Request::Hello { version } => {
                        conn.closing = true;
                        Reply::Error(format!(
                            "unsupported protocol version {version}; this monitor speaks {PROTOCOL_VERSION}"
                        ))
                    }
                    _ => {
                        conn.closing = true;
                        Reply::Error("the first request must be Hello".to_owned())
                    }
                };
                conn.outbuf.extend_from_slice(&reply.encode());
                continue;
            }
            if let Some(reply) = self.request(index, request)
                && let Some(Some(conn)) = self.conns.get_mut(index)
            {
                conn.outbuf.extend_from_slice(&reply);
            }
        }
    }

    /// Answers one request (`None` when the answer comes later).
    fn request(&mut self, index: usize, request: Request) -> Option<Vec<u8>> {
        let reply = match request {
            Request::Hello { .. } => Reply::Error("Hello was already sent".to_owned()),
            Request::Status => Reply::Status(StatusReply {
                pid: self.pid,
                exit: self.exit.as_ref().map(|e| e.status),
                log_end: self.log.end(),
            }),
            Request::Read { from, max } => {
                let mut reader = self.run.log();
                return Some(match reader.read(from, max as usize) {
                    Ok(chunks) => {
                        let mut out = Vec::new();
                        let mut next = from;
                        for chunk in chunks {
                            next = chunk.offset + chunk.len();
                            let reply = if chunk.channel == Channel::Gap {
                                Reply::Gap {
                                    offset: chunk.offset,
                                    len: chunk.gap,
                                }
                            } else {
                                Reply::Data {
                                    channel: chunk.channel,
                                    offset: chunk.offset,
                                    bytes: chunk.bytes,
                                }
                            };
                            out.extend_from_slice(&reply.encode());
                        }
                        out.extend_from_slice(&Reply::ReadEnd { next }.encode());
                        out
                    }
                    Err(error) => {
                        Reply::Error(logist_core::error_chain(&error).to_string()).encode()
                    }
                });
            }
            Request::Subscribe { from } => {
                let reader = self.run.log();
                if let Some(conn) = self.conns[index].as_mut() {
                    // Room for several pieces in flight, so a subscriber
                    // that reads a little late stays on the live path. The
                    // kernel caps it at `net.core.wmem_max`; best effort.
                    let _ = nix::sys::socket::setsockopt(
                        &conn.stream,
                        nix::sys::socket::sockopt::SndBuf,
                        &SUBSCRIBER_SOCKET_BUFFER,
                    );
                    conn.subscribed = Some((from, reader));
                }
                return None;
            }
            Request::WriteStdin(bytes) => {
                if self.stdin.is_none() || self.stdin_close_pending {
                    Reply::Error("the run's stdin is closed".to_owned())
                } else if bytes.is_empty() {
                    Reply::Ok
                } else {
                    self.stdin_queue.push_back((index, bytes, 0));
                    if let Some(conn) = self.conns[index].as_mut() {
                        conn.waiting_stdin = true;
                    }
                    self.write_stdin();
                    return None;
                }
            }
            Request::CloseStdin => {
                if self.pty.is_some() {
                    // A terminal has no end of input: send its EOF character.
                    if self.stdin.is_some() {
                        self.stdin_queue.push_back((usize::MAX, vec![4], 0));
                        self.write_stdin();
                    }
                } else if self.stdin_queue.is_empty() {
                    self.stdin = None;
                } else {
                    self.stdin_close_pending = true;
                }
                Reply::Ok
            }
            Request::Resize { rows, cols } => match &self.pty {
                Some(master) => match sys::set_window_size(master.as_fd(), rows, cols) {
                    Ok(()) => Reply::Ok,
                    Err(error) => Reply::Error(format!("resizing the terminal: {error}")),
                },
                None => Reply::Error("the run has no terminal".to_owned()),
            },
            Request::Signal { signal, target } => match Signal::try_from(signal) {
                Err(_) => Reply::Error(format!("no signal {signal}")),
                Ok(signal) => self.signal(signal, target),
            },
            Request::Terminate { grace_ms } => {
                let grace = grace_ms.map_or(self.spec.grace, Duration::from_millis);
                if grace.is_zero() {
                    self.kill_now();
                } else {
                    self.begin_terminate(grace);
                }
                Reply::Ok
            }
        };
        Some(reply.encode())
    }

    fn signal(&mut self, signal: Signal, target: SignalTarget) -> Reply {
        // While the main process is unreaped its pid and group id cannot be
        // reused, so signalling them by number is safe.
        let result = match target {
            SignalTarget::Leader | SignalTarget::Group if self.main_reaped => {
                return Reply::Error("the run's main process has exited".to_owned());
            }
            SignalTarget::Leader => nix::sys::signal::kill(Pid::from_raw(self.pid), signal),
            SignalTarget::Group => nix::sys::signal::killpg(Pid::from_raw(self.pid), signal),
            SignalTarget::Tree => {
                tree::signal_tree(self.me, signal);
                Ok(())
            }
        };
        match result {
            Ok(()) => Reply::Ok,
            Err(error) => Reply::Error(format!("signalling: {error}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_out_buffer_sends_in_order_whatever_the_socket_takes() {
        let mut out = OutBuf::default();
        let mut sent = Vec::new();
        let mut expected = Vec::new();
        for round in 0..50u8 {
            let piece: Vec<u8> = (0..(round as usize * 37 % 301 + 1))
                .map(|i| round ^ i as u8)
                .collect();
            if round % 3 == 0 {
                out.put_data(Channel::Stdout, u64::from(round), &piece);
                expected.extend_from_slice(&proto::data_header(
                    Channel::Stdout,
                    u64::from(round),
                    piece.len(),
                ));
            } else {
                out.extend_from_slice(&piece);
            }
            expected.extend_from_slice(&piece);
            // The socket takes an odd part of what is waiting.
            let take = out.len() * 2 / 3 + usize::from(round % 2);
            let take = take.min(out.len());
            sent.extend_from_slice(&out.unsent()[..take]);
            out.consume(take);
        }
        sent.extend_from_slice(out.unsent());
        let rest = out.len();
        out.consume(rest);
        assert!(out.is_empty());
        assert_eq!(sent, expected);
        // Once everything is sent, nothing of it is kept.
        assert!(out.bytes.is_empty());
    }
}
