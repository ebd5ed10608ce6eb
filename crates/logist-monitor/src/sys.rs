//! The operating-system calls without a safe wrapper: forking the monitor
//! into the background, the run's pre-exec setup, terminal resize
//! and adopting descriptors. Every `unsafe` block of the crate is here.
#![expect(
    unsafe_code,
    reason = "fork, pre-exec hooks and ioctls have no safe wrapper in std or nix"
)]

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Forks; the parent exits at once with status 0 and the child returns.
///
/// The monitor calls this first thing, while it has one thread, so that it
/// is orphaned (re-parented to init or the nearest subreaper) the same way
/// whoever started it.
pub(crate) fn fork_and_orphan() -> io::Result<()> {
    // SAFETY: the monitor has a single thread when it calls this (it is
    // the first thing `main` does after parsing its arguments), so the child
    // may run any code after fork.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Parent { .. } => {
            // SAFETY: _exit ends the process without running destructors
            // or atexit handlers, which belong to the child now.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Child => Ok(()),
    }
}

/// Takes ownership of a descriptor number received from the parent.
///
/// The caller names descriptors it was told about on its command line and
/// that nothing else in the process owns.
pub(crate) fn adopt_fd(raw: RawFd) -> io::Result<OwnedFd> {
    nix::fcntl::fcntl(
        // SAFETY: only used for this one F_GETFD check, while `raw` is open.
        unsafe { BorrowedFd::borrow_raw(raw) },
        nix::fcntl::FcntlArg::F_GETFD,
    )?;
    // SAFETY: the descriptor is open (checked above) and was handed to this
    // process for it alone to own.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Sets the window size of the terminal behind `master`.
pub(crate) fn set_window_size(master: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one `winsize` from a pointer valid for the call.
    let result = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// How the run's child is set up between fork and exec.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunSetup {
    /// New session with fd 0 (a terminal) as controlling terminal; else a
    /// new process group.
    pub(crate) terminal: bool,
    /// The monitor's pid: the child dies with it (`PR_SET_PDEATHSIG`).
    pub(crate) monitor: i32,
}

impl RunSetup {
    /// Installs the setup as `command`'s pre-exec hook.
    pub(crate) fn install(self, command: &mut Command) {
        // SAFETY: the hook makes only async-signal-safe calls (sigprocmask,
        // signal, setsid, setpgid, ioctl, prctl, getppid) and touches no
        // memory but its copied arguments; the monitor is single-threaded.
        unsafe {
            command.pre_exec(move || self.in_child());
        }
    }

    fn in_child(self) -> io::Result<()> {
        let fail = |result: libc::c_int| {
            if result < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        // SAFETY: all calls below are async-signal-safe and take only plain
        // values or pointers to locals valid for the call.
        unsafe {
            let mut empty = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
            libc::sigemptyset(empty.as_mut_ptr());
            fail(libc::sigprocmask(
                libc::SIG_SETMASK,
                empty.as_ptr(),
                std::ptr::null_mut(),
            ))?;
            for signal in [libc::SIGPIPE, libc::SIGHUP, libc::SIGINT, libc::SIGTERM] {
                libc::signal(signal, libc::SIG_DFL);
            }
            if self.terminal {
                fail(libc::setsid())?;
                fail(libc::ioctl(0, libc::TIOCSCTTY, 0))?;
            } else {
                fail(libc::setpgid(0, 0))?;
            }
            fail(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL))?;
            if libc::getppid() != self.monitor {
                return Err(io::Error::other("the monitor exited during the start"));
            }
        }
        Ok(())
    }
}

/// Closes every descriptor of this process from 3 up except `keep`
/// (descriptors an embedding program leaked would otherwise pin its
/// resources for as long as the run lives).
pub(crate) fn close_other_fds(keep: &[RawFd]) -> io::Result<()> {
    let mut open = Vec::new();
    for entry in fs::read_dir("/proc/self/fd")? {
        if let Some(fd) = entry?
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<RawFd>().ok())
        {
            open.push(fd);
        }
    }
    for fd in open {
        if fd > 2 && !keep.contains(&fd) {
            // The directory's own descriptor is among these and fails with
            // EBADF once closed, which is harmless.
            // SAFETY: `fd` is not owned by any Rust object: the monitor
            // has opened nothing yet but the descriptors in `keep`.
            unsafe { libc::close(fd) };
        }
    }
    Ok(())
}

/// Takes an exclusive `flock` on `fd` without waiting. Unlike nix's
/// `Flock`, nothing unlocks it on drop: the lock belongs to the open file
/// description, which the monitor shares, and lives until its last
/// descriptor is closed.
pub(crate) fn flock_exclusive(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: flock reads only its integer arguments.
    let result = unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
