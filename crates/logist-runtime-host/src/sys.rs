//! The operating-system calls the runtime needs that have no safe wrapper:
//! the parent-death signal, `posix_spawn`, making a pseudo-terminal the
//! controlling terminal of a new session, forking the keeper, reaping, and
//! taking descriptors received over a socket. Every
//! `unsafe` block of this crate is in this file. (The reactor also calls
//! `logist_output::prefault_spare`, whose `madvise` block lives in that
//! crate.)
#![expect(
    unsafe_code,
    reason = "child-side setup, posix_spawn, fork and waitpid have no safe wrapper in std or nix"
)]

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::pty::{Winsize, grantpt, posix_openpt, unlockpt};
use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Puts a descriptor in non-blocking mode (for the reactor's reads).
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// How many bytes the pipe behind `fd` holds.
pub(crate) fn pipe_size(fd: BorrowedFd<'_>) -> io::Result<usize> {
    let size = fcntl(fd, FcntlArg::F_GETPIPE_SZ)?;
    usize::try_from(size).map_err(io::Error::other)
}

/// Asks the kernel to make the pipe behind `fd` hold `size` bytes (it
/// refuses, with `EBUSY`, to shrink below what the pipe holds now).
pub(crate) fn set_pipe_size(fd: BorrowedFd<'_>, size: usize) -> io::Result<()> {
    let size = libc::c_int::try_from(size).map_err(io::Error::other)?;
    fcntl(fd, FcntlArg::F_SETPIPE_SZ(size))?;
    Ok(())
}

/// The boot clock now, in the clock ticks `/proc/<pid>/stat` counts a
/// process's start time in. The kernel takes that start time from the same
/// clock at fork and rounds it down to ticks, so a reading taken before a
/// spawn is never later than the child's start time.
pub(crate) fn boot_ticks() -> io::Result<u64> {
    use nix::time::{ClockId, clock_gettime};
    use nix::unistd::{SysconfVar, sysconf};
    let now = clock_gettime(ClockId::CLOCK_BOOTTIME)?;
    let per_second = sysconf(SysconfVar::CLK_TCK)?
        .and_then(|ticks| u64::try_from(ticks).ok())
        .filter(|&ticks| ticks > 0)
        .ok_or_else(|| io::Error::other("no clock tick rate"))?;
    let nanos = u128::try_from(now.tv_sec()).map_err(io::Error::other)? * 1_000_000_000
        + u128::try_from(now.tv_nsec()).map_err(io::Error::other)?;
    u64::try_from(nanos * u128::from(per_second) / 1_000_000_000).map_err(io::Error::other)
}

/// Raises the soft limit on open files to the hard limit (at most 1 Mi), so
/// that a thousand children with three pipes each fit. Returns the new soft
/// limit.
pub(crate) fn raise_nofile_limit() -> io::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    let wanted = hard.min(1 << 20);
    if soft < wanted {
        setrlimit(Resource::RLIMIT_NOFILE, wanted, hard)?;
        return Ok(wanted);
    }
    Ok(soft)
}

/// A new pseudo-terminal of the given size: the master (close-on-exec,
/// for the runtime), the slave's path, and the slave opened close-on-exec
/// (children get copies as fds 0, 1 and 2).
pub(crate) fn open_pty(rows: u16, cols: u16) -> io::Result<(OwnedFd, CString, File)> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
    grantpt(&master)?;
    unlockpt(&master)?;
    let mut name = [0u8; 128];
    // SAFETY: `name` is a writable buffer of the length given; ptsname_r
    // writes a NUL-terminated path into it or returns an error.
    let result =
        unsafe { libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr().cast(), name.len()) };
    if result != 0 {
        return Err(io::Error::from_raw_os_error(result));
    }
    let name = CStr::from_bytes_until_nul(&name)
        .map_err(|_| io::Error::other("pseudo-terminal name is not terminated"))?
        .to_owned();
    let path = std::path::Path::new(std::ffi::OsStr::from_bytes(name.to_bytes()));
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags_noctty()
        .open(path)?;
    set_window_size(master.as_raw_fd(), rows, cols)?;
    Ok((master.into(), name, slave))
}

/// Sets the size of the pseudo-terminal whose master (or slave) is `fd`;
/// the kernel sends SIGWINCH to its foreground process group.
pub(crate) fn set_window_size(fd: std::os::fd::RawFd, rows: u16, cols: u16) -> io::Result<()> {
    let size = Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one `Winsize` from the pointer, which is valid
    // for the duration of the call; a descriptor that is not a terminal
    // makes it fail with ENOTTY.
    let result = unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &size) };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `OpenOptions` for a terminal that must not become our controlling one.
trait NoCtty {
    fn custom_flags_noctty(&mut self) -> &mut Self;
}

impl NoCtty for std::fs::OpenOptions {
    fn custom_flags_noctty(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        // std adds O_CLOEXEC itself.
        self.custom_flags(libc::O_NOCTTY)
    }
}

/// Reaps `pid` if it has exited, without blocking.
pub(crate) fn waitpid_nohang(pid: i32) -> io::Result<Option<logist_core::ExitStatus>> {
    Ok(reap(pid)?.map(|(_, status)| status))
}

/// Reaps any child that has exited, without blocking: its pid and status.
pub(crate) fn reap_any() -> io::Result<Option<(i32, logist_core::ExitStatus)>> {
    reap(-1)
}

fn reap(pid: i32) -> io::Result<Option<(i32, logist_core::ExitStatus)>> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: `status` is a valid place for waitpid to store the status.
        let result = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if result == 0 {
            return Ok(None);
        }
        if result < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        let status = if libc::WIFEXITED(status) {
            logist_core::ExitStatus::Code(libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            logist_core::ExitStatus::Signal(libc::WTERMSIG(status))
        } else {
            logist_core::ExitStatus::Code(-1)
        };
        return Ok(Some((result, status)));
    }
}

/// Takes ownership of a descriptor just received with `SCM_RIGHTS`.
pub(crate) fn own_received_fd(raw: std::os::fd::RawFd) -> OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: the kernel installed `raw` in this process for this message
    // alone; nothing else knows or owns it.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// A step `posix_spawn` performs in the child before exec, in order.
#[derive(Debug)]
pub(crate) enum FileAction<'a> {
    /// Duplicate `fd` onto `target` (which loses close-on-exec).
    Dup2 { fd: BorrowedFd<'a>, target: i32 },
    /// Duplicate one child descriptor onto another.
    Copy { from: i32, target: i32 },
    /// Open `path` as `target`.
    Open {
        target: i32,
        path: &'a CStr,
        flags: libc::c_int,
    },
    /// Change directory.
    Chdir(&'a CStr),
    /// Close every descriptor from this one up.
    CloseFrom(i32),
}

/// Starts `path` with `posix_spawn`, which glibc implements with a
/// `vfork`-like clone: cheap even for a large parent, unlike `fork`.
/// The child gets an empty signal mask, default dispositions for every
/// signal, and either a new process group or a new session; `actions`
/// set up its descriptors. Returns the pid once the program is executing
/// (glibc reports exec failures as the error).
#[cfg(target_env = "gnu")]
pub(crate) fn posix_spawn(
    path: &CStr,
    argv: &[CString],
    envp: &[CString],
    actions: &[FileAction<'_>],
    new_session: bool,
) -> io::Result<i32> {
    let check = |code: libc::c_int| -> io::Result<()> {
        if code == 0 {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(code))
        }
    };
    let argv_ptrs: Vec<*mut libc::c_char> = argv
        .iter()
        .map(|arg| arg.as_ptr().cast_mut())
        .chain(std::iter::once(std::ptr::null_mut()))
        .collect();
    let envp_ptrs: Vec<*mut libc::c_char> = envp
        .iter()
        .map(|var| var.as_ptr().cast_mut())
        .chain(std::iter::once(std::ptr::null_mut()))
        .collect();

    // SAFETY: the attribute and action objects are initialised before use
    // and destroyed exactly once (by the guards below); every pointer passed
    // (paths, argv, envp) points to NUL-terminated data that outlives the
    // posix_spawn call, and the argv/envp arrays end with a null pointer.
    unsafe {
        let mut attr = std::mem::MaybeUninit::<libc::posix_spawnattr_t>::uninit();
        check(libc::posix_spawnattr_init(attr.as_mut_ptr()))?;
        let mut attr = AttrGuard(attr.assume_init());
        let mut file_actions = std::mem::MaybeUninit::<libc::posix_spawn_file_actions_t>::uninit();
        check(libc::posix_spawn_file_actions_init(
            file_actions.as_mut_ptr(),
        ))?;
        let mut file_actions = ActionsGuard(file_actions.assume_init());

        let mut mask = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(mask.as_mut_ptr());
        check(libc::posix_spawnattr_setsigmask(&mut attr.0, mask.as_ptr()))?;
        let mut defaults = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigfillset(defaults.as_mut_ptr());
        libc::sigdelset(defaults.as_mut_ptr(), libc::SIGKILL);
        libc::sigdelset(defaults.as_mut_ptr(), libc::SIGSTOP);
        check(libc::posix_spawnattr_setsigdefault(
            &mut attr.0,
            defaults.as_ptr(),
        ))?;
        let mut flags =
            (libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF) as libc::c_short;
        if new_session {
            flags |= libc::POSIX_SPAWN_SETSID;
        } else {
            flags |= libc::POSIX_SPAWN_SETPGROUP as libc::c_short;
            check(libc::posix_spawnattr_setpgroup(&mut attr.0, 0))?;
        }
        check(libc::posix_spawnattr_setflags(&mut attr.0, flags))?;

        for action in actions {
            let fa = &mut file_actions.0;
            match action {
                FileAction::Dup2 { fd, target } => check(libc::posix_spawn_file_actions_adddup2(
                    fa,
                    fd.as_raw_fd(),
                    *target,
                ))?,
                FileAction::Copy { from, target } => {
                    check(libc::posix_spawn_file_actions_adddup2(fa, *from, *target))?
                }
                FileAction::Open {
                    target,
                    path,
                    flags,
                } => check(libc::posix_spawn_file_actions_addopen(
                    fa,
                    *target,
                    path.as_ptr(),
                    *flags,
                    0,
                ))?,
                FileAction::Chdir(dir) => {
                    check(libc::posix_spawn_file_actions_addchdir_np(fa, dir.as_ptr()))?
                }
                FileAction::CloseFrom(from) => {
                    check(libc::posix_spawn_file_actions_addclosefrom_np(fa, *from))?
                }
            }
        }

        let mut pid: libc::pid_t = 0;
        check(libc::posix_spawn(
            &mut pid,
            path.as_ptr(),
            &file_actions.0,
            &attr.0,
            argv_ptrs.as_ptr(),
            envp_ptrs.as_ptr(),
        ))?;
        Ok(pid)
    }
}

#[cfg(target_env = "gnu")]
struct AttrGuard(libc::posix_spawnattr_t);

#[cfg(target_env = "gnu")]
impl Drop for AttrGuard {
    fn drop(&mut self) {
        // SAFETY: initialised by posix_spawnattr_init, destroyed once.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

#[cfg(target_env = "gnu")]
struct ActionsGuard(libc::posix_spawn_file_actions_t);

#[cfg(target_env = "gnu")]
impl Drop for ActionsGuard {
    fn drop(&mut self) {
        // SAFETY: initialised by posix_spawn_file_actions_init, destroyed once.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

/// What the child does between `fork` and `exec` on the slow path (used
/// when the child must die with its spawning thread, which `posix_spawn`
/// cannot arrange). The same reset as the fast path, plus the extras. Only
/// async-signal-safe calls: the parent may have threads holding locks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChildSetup {
    /// Start a new session and take fd 0 (a pseudo-terminal slave) as the
    /// controlling terminal.
    pub(crate) controlling_terminal: bool,
    /// Ask for SIGKILL when the spawning thread dies; `parent` is our pid,
    /// to catch a parent that died before the request was armed.
    pub(crate) parent_death: Option<i32>,
}

impl ChildSetup {
    /// Installs the setup on a command (which makes std fork).
    pub(crate) fn install(self, command: &mut std::process::Command) {
        use std::os::unix::process::CommandExt;
        let setup = self;
        // SAFETY: the closure runs in the forked child before exec and only
        // makes async-signal-safe system calls (sigprocmask, sigaction,
        // close_range, setsid, ioctl, prctl, getppid); it allocates nothing
        // and takes no lock.
        unsafe {
            command.pre_exec(move || setup.run_in_child());
        }
    }

    fn run_in_child(self) -> io::Result<()> {
        let fail = |result: libc::c_int| {
            if result < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        // SAFETY: plain system calls on integers and on stack values owned
        // by this frame; all async-signal-safe.
        unsafe {
            let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
            libc::sigemptyset(set.as_mut_ptr());
            fail(libc::sigprocmask(
                libc::SIG_SETMASK,
                set.as_ptr(),
                std::ptr::null_mut(),
            ))?;
            for signal in 1..libc::SIGRTMIN() {
                if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                    libc::signal(signal, libc::SIG_DFL);
                }
            }
            // std has already placed stdio on 0, 1 and 2. Mark everything
            // else close-on-exec rather than closing it: std reports a
            // failed exec through one of these descriptors.
            libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            if self.controlling_terminal {
                fail(libc::setsid())?;
                fail(libc::ioctl(0, libc::TIOCSCTTY, 0))?;
            }
            if let Some(parent) = self.parent_death {
                fail(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL))?;
                // The parent may have died before the request took effect;
                // then the spawn fails instead of leaving an orphan.
                if libc::getppid() != parent {
                    return Err(io::Error::other("the spawning process exited"));
                }
            }
        }
        Ok(())
    }
}

/// Forks a helper process that runs `body` and ends with its return value
/// (101 if it panics), never returning here. Before `body`, the child
/// closes every descriptor above 2 except `keep`: it must not hold the
/// owner's pipes open. Returns the child's pid.
///
/// The owner may have other threads, which the child does not have. So
/// `body` must use only the allocator (glibc's `fork` makes it usable in
/// the child, as do jemalloc's fork handlers) and system calls: no lock
/// another thread of the owner could have held (stdio, `tracing`, the
/// environment).
pub(crate) fn fork_helper(keep: std::os::fd::RawFd, body: impl FnOnce() -> i32) -> io::Result<i32> {
    // SAFETY: in the child, only `body` runs (under the rule above) and
    // then `_exit`, which runs no destructor or atexit handler of the
    // owner's copied state; the parent just gets the pid.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            let keep = keep as libc::c_uint;
            // SAFETY: close_range takes plain integers; closing descriptors
            // the child's copy of the owner's objects still name is harmless
            // because none of those objects is used or dropped again.
            unsafe {
                if keep > 3 {
                    libc::syscall(libc::SYS_close_range, 3 as libc::c_uint, keep - 1, 0);
                }
                libc::syscall(libc::SYS_close_range, keep + 1, libc::c_uint::MAX, 0);
            }
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(101);
            // SAFETY: ends the child without unwinding into the owner's frames.
            unsafe { libc::_exit(code) }
        }
        pid => Ok(pid),
    }
}

/// Sets these signals to be ignored in this process.
pub(crate) fn ignore_signals(signals: &[libc::c_int]) {
    for &signal in signals {
        // SAFETY: SIG_IGN installs no handler code; `signal` is a plain
        // signal number.
        unsafe { libc::signal(signal, libc::SIG_IGN) };
    }
}

/// Gives these signals their default action in this process.
pub(crate) fn default_signals(signals: &[libc::c_int]) {
    for &signal in signals {
        // SAFETY: SIG_DFL installs no handler code; `signal` is a plain
        // signal number.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
    }
}
