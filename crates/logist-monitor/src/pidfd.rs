//! Process handles that cannot name a recycled pid: opening a pidfd and
//! signalling through it, with rustix's safe wrappers of the two system
//! calls. The monitor uses them to stop a tree; `logist-runtime-host`
//! uses them for its own children.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};

use nix::sys::signal::Signal;
use rustix::process::{Pid, PidfdFlags};

/// Opens a pidfd for `pid`: a handle that names this process and no other,
/// even after its pid is recycled, and becomes readable when it exits.
/// pidfds are always close-on-exec.
///
/// # Errors
///
/// `ESRCH` when no such process exists, `EINVAL` for a pid below 1.
pub fn open(pid: i32) -> io::Result<OwnedFd> {
    let pid = Pid::from_raw(pid).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    Ok(rustix::process::pidfd_open(pid, PidfdFlags::empty())?)
}

/// Sends `signal` to the process behind `pidfd`, as `kill` would. Returns
/// `Ok(false)` when the process has already exited, so a recycled pid can
/// never receive it.
///
/// # Errors
///
/// What the system call reports other than "no such process".
pub fn send_signal(pidfd: BorrowedFd<'_>, signal: Signal) -> io::Result<bool> {
    let signal = rustix::process::Signal::from_named_raw(signal as i32)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    match rustix::process::pidfd_send_signal(pidfd, signal) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::SRCH) => Ok(false),
        Err(error) => Err(error.into()),
    }
}
