//! The keeper: one small helper process per runtime that starts every child
//! and is their subreaper, so that no descendant outlives the runtime,
//! however the runtime ends.
//!
//! The runtime forks the keeper once, when it is built (a fork without
//! exec: the keeper runs this module's code in a copy of the owner). The
//! owner still makes each child's pipes or pseudo-terminal and reads them
//! with its reactor; the keeper receives the child's ends over a socket
//! (`SCM_RIGHTS`), starts the program with `posix_spawn`, and reports its
//! exit status through a pipe that the owner watches where it would watch
//! a pidfd. Being a child subreaper, the keeper inherits every orphaned
//! descendant of its children (a daemon that double-forked under
//! `setsid env -i` included). When the owner's end of the socket closes
//! (the runtime dropped, or the owner killed by any signal, SIGKILL
//! included) it SIGKILLs all of them, round after round, until it has no
//! child left, and exits. Signals to a child's process group go through the
//! keeper as well: only it knows whether the child has been reaped, that
//! is, whether the group's id could have been recycled.

use std::collections::HashMap;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use logist_core::ExitStatus;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal, kill, killpg};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, send, sendmsg};
use nix::unistd::{Pid, setpgid};

use crate::launch::SpawnPlan;
use crate::sys;

const SPAWN: u8 = 1;
const SIGNAL: u8 = 2;
/// Spawn flags.
const HAS_CWD: u8 = 1;
const HAS_TERMINAL: u8 = 2;
/// Descriptors one request carries at most: the exit pipe and three ends.
const MAX_FDS: usize = 4;
/// Largest request the keeper reads: far above what `execve` accepts.
const MAX_REQUEST: usize = 256 << 20;
/// How long the runtime waits for the keeper to stop everything and exit.
const EXIT_WAIT: Duration = Duration::from_secs(30);

/// The owner's handle on its keeper. Dropping it closes the socket: the
/// keeper then kills every process it still has and exits, and the drop
/// waits for that.
#[derive(Debug)]
pub(crate) struct Keeper {
    control: Mutex<UnixStream>,
    pid: i32,
}

impl Keeper {
    /// Forks the keeper and waits until it is ready.
    pub(crate) fn start() -> io::Result<Self> {
        let (ours, theirs) = UnixStream::pair()?;
        let keep = theirs.as_raw_fd();
        let pid = sys::fork_helper(keep, move || serve(theirs))?;
        let mut keeper = Self {
            control: Mutex::new(ours),
            pid,
        };
        let mut ready = [0u8; 1];
        let control = keeper
            .control
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        match control.read(&mut ready) {
            Ok(1) => Ok(keeper),
            Ok(_) => Err(io::Error::other(
                "the keeper process exited while setting up",
            )),
            Err(error) => Err(error),
        }
    }

    /// Starts `plan` with `ends` as its standard descriptors (stdout,
    /// stderr, then stdin if piped; none on a terminal). `exit` is the
    /// write end of the pipe that receives the exit status. Returns the pid
    /// once the program is executing.
    pub(crate) fn spawn(
        &self,
        plan: &SpawnPlan,
        exit: BorrowedFd<'_>,
        ends: &[BorrowedFd<'_>],
    ) -> io::Result<i32> {
        let mut frame = Frame::new(SPAWN);
        let mut flags = 0;
        if plan.cwd.is_some() {
            flags |= HAS_CWD;
        }
        if plan.terminal.is_some() {
            flags |= HAS_TERMINAL;
        }
        frame.u8(flags);
        frame.bytes(plan.path.as_bytes());
        for text in [&plan.cwd, &plan.terminal].into_iter().flatten() {
            frame.bytes(text.as_bytes());
        }
        for list in [&plan.argv, &plan.envp] {
            frame.u32(list.len() as u32);
            for item in list {
                frame.bytes(item.as_bytes());
            }
        }
        let fds: Vec<RawFd> = std::iter::once(exit)
            .chain(ends.iter().copied())
            .map(|fd| fd.as_raw_fd())
            .collect();
        let pid = self.request(frame, &fds)?;
        Ok(pid)
    }

    /// Sends `signal` to the process group of the child `pid`, unless the
    /// child has been reaped (or the keeper is gone: the group id is no
    /// longer pinned by anyone we know). Returns whether it was sent.
    pub(crate) fn signal_group(&self, pid: i32, signal: Signal) -> io::Result<bool> {
        let mut frame = Frame::new(SIGNAL);
        frame.u32(pid as u32);
        frame.u32(signal as i32 as u32);
        match self.request(frame, &[]) {
            Ok(sent) => Ok(sent == 1),
            Err(error) if error.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// The keeper's pid.
    pub(crate) fn pid(&self) -> u32 {
        self.pid as u32
    }

    fn request(&self, frame: Frame, fds: &[RawFd]) -> io::Result<i32> {
        let gone = |error: io::Error| {
            if matches!(
                error.kind(),
                io::ErrorKind::BrokenPipe
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::UnexpectedEof
            ) {
                io::Error::new(io::ErrorKind::NotConnected, "the keeper process has exited")
            } else {
                error
            }
        };
        let mut control = self.control.lock().unwrap_or_else(PoisonError::into_inner);
        send_frame(&control, &frame.finish(), fds).map_err(gone)?;
        let mut reply = [0u8; 8];
        control.read_exact(&mut reply).map_err(gone)?;
        let value = i32::from_le_bytes(reply[..4].try_into().expect("4 bytes"));
        let errno = i32::from_le_bytes(reply[4..].try_into().expect("4 bytes"));
        if value < 0 {
            return Err(io::Error::from_raw_os_error(errno));
        }
        Ok(value)
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        let control = self
            .control
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let _ = control.shutdown(std::net::Shutdown::Both);
        // The keeper is our child: wait for it to finish its kill rounds
        // (bounded, in case it is stuck), and reap it.
        let deadline = Instant::now() + EXIT_WAIT;
        let pidfd = logist_monitor::pidfd::open(self.pid).ok();
        loop {
            match sys::waitpid_nohang(self.pid) {
                Ok(None) => {}
                // Exited, or reaped elsewhere (SIGCHLD ignored).
                Ok(Some(_)) | Err(_) => return,
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::warn!(
                    pid = self.pid,
                    "the keeper process did not exit; killing it"
                );
                let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
                let _ = nix::sys::wait::waitpid(Pid::from_raw(self.pid), None);
                return;
            }
            match &pidfd {
                Some(fd) => {
                    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                    let wait = PollTimeout::try_from(left.min(Duration::from_secs(1)))
                        .unwrap_or(PollTimeout::MAX);
                    let _ = poll(&mut fds, wait);
                }
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }
}

/// The bytes of an exit status on the status pipe.
fn encode_status(status: ExitStatus) -> [u8; 8] {
    let (kind, value) = match status {
        ExitStatus::Code(code) => (0i32, code),
        ExitStatus::Signal(signal) => (1, signal),
    };
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&kind.to_le_bytes());
    bytes[4..].copy_from_slice(&value.to_le_bytes());
    bytes
}

/// Reads the exit status from the read end of a status pipe (non-blocking):
/// `None` while the child runs, an error if the keeper ended without
/// reporting it.
pub(crate) fn read_status(pipe: &OwnedFd) -> io::Result<Option<ExitStatus>> {
    let mut bytes = [0u8; 8];
    loop {
        return match nix::unistd::read(pipe, &mut bytes) {
            Ok(8) => {
                let kind = i32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
                let value = i32::from_le_bytes(bytes[4..].try_into().expect("4 bytes"));
                Ok(Some(if kind == 1 {
                    ExitStatus::Signal(value)
                } else {
                    ExitStatus::Code(value)
                }))
            }
            Ok(0) => Err(io::Error::other(
                "the keeper process ended without reporting it",
            )),
            Ok(_) => Err(io::Error::other("a short exit status from the keeper")),
            Err(Errno::EAGAIN) => Ok(None),
            Err(Errno::EINTR) => continue,
            Err(errno) => Err(errno.into()),
        };
    }
}

/// A request being written: kind byte first, the length put in front at
/// the end.
struct Frame(Vec<u8>);

impl Frame {
    fn new(kind: u8) -> Self {
        Self(vec![0, 0, 0, 0, kind])
    }

    fn u8(&mut self, value: u8) {
        self.0.push(value);
    }

    fn u32(&mut self, value: u32) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.u32(bytes.len() as u32);
        self.0.extend_from_slice(bytes);
    }

    fn finish(mut self) -> Vec<u8> {
        let len = (self.0.len() - 5) as u32;
        self.0[..4].copy_from_slice(&len.to_le_bytes());
        self.0
    }
}

/// A request being read.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a truncated request",
            ));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn c_string(&mut self) -> io::Result<std::ffi::CString> {
        let len = self.u32()? as usize;
        std::ffi::CString::new(self.take(len)?)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a NUL byte in a string"))
    }

    fn list(&mut self) -> io::Result<Vec<std::ffi::CString>> {
        let count = self.u32()? as usize;
        (0..count).map(|_| self.c_string()).collect()
    }
}

fn send_frame(socket: &UnixStream, frame: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let rights = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage<'_>] = if fds.is_empty() { &[] } else { &rights };
    let sent = loop {
        match sendmsg::<()>(
            socket.as_raw_fd(),
            &[IoSlice::new(frame)],
            cmsgs,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(sent) => break sent,
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(errno.into()),
        }
    };
    let mut rest = &frame[sent..];
    while !rest.is_empty() {
        match send(socket.as_raw_fd(), rest, MsgFlags::MSG_NOSIGNAL) {
            Ok(sent) => rest = &rest[sent..],
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(errno.into()),
        }
    }
    Ok(())
}

/// Reads exactly `buf` from `socket`, taking the descriptors that came with
/// its first bytes. Returns false at end of stream before any byte.
fn recv_with_fds(socket: &UnixStream, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> io::Result<bool> {
    let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
    let got = loop {
        let mut iov = [IoSliceMut::new(buf)];
        match recvmsg::<()>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(message) => {
                for cmsg in message.cmsgs()? {
                    if let ControlMessageOwned::ScmRights(raws) = cmsg {
                        fds.extend(raws.into_iter().map(sys::own_received_fd));
                    }
                }
                break message.bytes;
            }
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(errno.into()),
        }
    };
    if got == 0 {
        return Ok(false);
    }
    let mut reader = socket;
    reader.read_exact(&mut buf[got..])?;
    Ok(true)
}

/// The keeper process's main: set up, say ready, serve until the owner is
/// gone, stop everything. Runs in the forked child (see
/// [`sys::fork_helper`] for what it may do).
fn serve(control: UnixStream) -> i32 {
    // Terminal signals go to the owner's process group, not to us. Other
    // polite signals are ignored too: the owner stops its children with a
    // grace period, and `pkill <owner's name>` reaching us as well must
    // not cut that short. We act when the owner is gone.
    let _ = setpgid(Pid::from_raw(0), Pid::from_raw(0));
    let _ = nix::sys::prctl::set_name(c"logist-keeper");
    sys::ignore_signals(&[
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGHUP,
        libc::SIGTERM,
        libc::SIGPIPE,
        libc::SIGTSTP,
        libc::SIGTTIN,
        libc::SIGTTOU,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ]);
    // An owner that ignores SIGCHLD would have the kernel reap our
    // children before we read their status.
    sys::default_signals(&[libc::SIGCHLD]);
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    if mask.thread_block().is_err() {
        return 1;
    }
    let Ok(signals) = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
    else {
        return 1;
    };
    if nix::sys::prctl::set_child_subreaper(true).is_err() {
        return 1;
    }
    let mut keeper = Serving {
        control,
        signals,
        runs: HashMap::new(),
    };
    if keeper.control.write_all(&[1]).is_err() {
        return 1;
    }
    keeper.serve();
    keeper.kill_all();
    0
}

/// The keeper's state.
struct Serving {
    control: UnixStream,
    signals: SignalFd,
    /// Children not yet reaped, with the write end of their status pipe.
    runs: HashMap<i32, OwnedFd>,
}

impl Serving {
    fn serve(&mut self) {
        loop {
            let mut fds = [
                PollFd::new(self.control.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.signals.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(_) => return,
            }
            let ready = |fd: &PollFd<'_>| fd.revents().is_some_and(|events| !events.is_empty());
            let (control, signals) = (ready(&fds[0]), ready(&fds[1]));
            if signals {
                self.take_signals();
                self.reap();
            }
            if control && !self.request().unwrap_or(false) {
                return;
            }
        }
    }

    /// Drains the signalfd (SIGCHLD only: the reaping follows).
    fn take_signals(&mut self) {
        while let Ok(Some(_)) = self.signals.read_signal() {}
    }

    /// Reaps every exited child, reporting the runtime's; returns true once
    /// no child is left at all.
    fn reap(&mut self) -> bool {
        loop {
            match sys::reap_any() {
                Ok(Some((pid, status))) => {
                    if let Some(pipe) = self.runs.remove(&pid) {
                        // Eight bytes into an empty pipe: never blocks.
                        let _ = nix::unistd::write(&pipe, &encode_status(status));
                    }
                }
                Ok(None) => return false,
                Err(error) if error.raw_os_error() == Some(libc::ECHILD) => return true,
                Err(_) => return false,
            }
        }
    }

    /// Serves one request; false once the owner is gone.
    fn request(&mut self) -> io::Result<bool> {
        let mut header = [0u8; 5];
        let mut fds = Vec::new();
        if !recv_with_fds(&self.control, &mut header, &mut fds)? {
            return Ok(false);
        }
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        if len > MAX_REQUEST {
            return Ok(false);
        }
        let mut body = vec![0; len];
        self.control.read_exact(&mut body)?;
        let mut fields = Fields(&body);
        let result = match header[4] {
            SPAWN => self.spawn(&mut fields, fds),
            SIGNAL => self.signal(&mut fields),
            _ => Err(io::Error::from_raw_os_error(libc::EINVAL)),
        };
        let (value, errno) = match result {
            Ok(value) => (value, 0),
            Err(error) => (-1, error.raw_os_error().unwrap_or(libc::EINVAL)),
        };
        let mut reply = [0u8; 8];
        reply[..4].copy_from_slice(&value.to_le_bytes());
        reply[4..].copy_from_slice(&errno.to_le_bytes());
        self.control.write_all(&reply)?;
        Ok(true)
    }

    fn spawn(&mut self, fields: &mut Fields<'_>, fds: Vec<OwnedFd>) -> io::Result<i32> {
        let flags = fields.u8()?;
        let path = fields.c_string()?;
        let cwd = (flags & HAS_CWD != 0)
            .then(|| fields.c_string())
            .transpose()?;
        let terminal = (flags & HAS_TERMINAL != 0)
            .then(|| fields.c_string())
            .transpose()?;
        let argv = fields.list()?;
        let envp = fields.list()?;
        let mut fds = fds.into_iter();
        let exit = fds
            .next()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        let ends: Vec<OwnedFd> = fds.collect();
        let expected = if terminal.is_some() { 0..=0 } else { 2..=3 };
        if !expected.contains(&ends.len()) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let plan = SpawnPlan {
            path,
            argv,
            envp,
            cwd,
            terminal,
        };
        let borrowed: Vec<BorrowedFd<'_>> = ends.iter().map(AsFd::as_fd).collect();
        let pid = plan.spawn(&borrowed)?;
        self.runs.insert(pid, exit);
        Ok(pid)
    }

    fn signal(&mut self, fields: &mut Fields<'_>) -> io::Result<i32> {
        let pid = fields.u32()? as i32;
        let signal = Signal::try_from(fields.u32()? as i32)?;
        if !self.runs.contains_key(&pid) {
            return Ok(0);
        }
        match killpg(Pid::from_raw(pid), signal) {
            Ok(()) | Err(Errno::ESRCH) => Ok(1),
            Err(errno) => Err(errno.into()),
        }
    }

    /// SIGKILL to every child's group, then to every child left, round
    /// after round (each round's deaths re-parent their orphans to us),
    /// until no child is left.
    fn kill_all(&mut self) {
        for &pid in self.runs.keys() {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let deadline = Instant::now() + EXIT_WAIT;
        while Instant::now() < deadline {
            if self.reap() {
                return;
            }
            // Our own unreaped children: their pids cannot be recycled.
            for pid in children() {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let mut fds = [PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, PollTimeout::from(10u8));
            self.take_signals();
        }
    }
}

/// This (single-threaded) process's children.
fn children() -> Vec<i32> {
    std::fs::read_to_string("/proc/thread-self/children")
        .map(|list| {
            list.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_reads_back_and_a_damaged_one_is_an_error() {
        let mut frame = Frame::new(SPAWN);
        frame.u8(HAS_CWD);
        frame.bytes(b"/bin/true");
        frame.u32(2);
        frame.bytes(b"true");
        frame.bytes(b"");
        let bytes = frame.finish();
        let len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        assert_eq!((len, bytes[4]), (bytes.len() - 5, SPAWN));

        let mut fields = Fields(&bytes[5..]);
        assert_eq!(fields.u8().unwrap(), HAS_CWD);
        assert_eq!(fields.c_string().unwrap().as_bytes(), b"/bin/true");
        let argv = fields.list().unwrap();
        assert_eq!(argv.len(), 2);
        assert_eq!(
            (argv[0].as_bytes(), argv[1].as_bytes()),
            (&b"true"[..], &b""[..])
        );
        assert!(fields.0.is_empty());

        let mut short = Fields(&bytes[5..bytes.len() - 1]);
        short.u8().unwrap();
        short.c_string().unwrap();
        assert_eq!(short.list().unwrap_err().kind(), io::ErrorKind::InvalidData);

        let mut nul = Frame::new(SPAWN);
        nul.bytes(b"a\0b");
        let nul = nul.finish();
        assert_eq!(
            Fields(&nul[5..]).c_string().unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn an_exit_status_crosses_the_pipe_and_a_closed_pipe_is_an_error() {
        for status in [
            ExitStatus::Code(0),
            ExitStatus::Code(3),
            ExitStatus::Signal(9),
        ] {
            let (read, write) = nix::unistd::pipe().unwrap();
            sys::set_nonblocking(read.as_fd()).unwrap();
            assert_eq!(read_status(&read).unwrap(), None, "nothing written yet");
            nix::unistd::write(&write, &encode_status(status)).unwrap();
            assert_eq!(read_status(&read).unwrap(), Some(status));
        }
        let (read, write) = nix::unistd::pipe().unwrap();
        sys::set_nonblocking(read.as_fd()).unwrap();
        drop(write);
        let error = read_status(&read).unwrap_err();
        assert!(error.to_string().contains("keeper"), "{error}");
    }
}
