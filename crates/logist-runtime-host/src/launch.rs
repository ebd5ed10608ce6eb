//! Starting one child: its final environment, program lookup, pipes or a
//! pseudo-terminal, and the start itself.
//!
//! The fast path is `posix_spawn` (a `vfork`-like clone in glibc), which
//! costs the same however large the owning program is. Through its
//! attributes the child starts with an empty signal mask and default
//! signal dispositions (std's own spawn passes on the spawning thread's
//! blocked signals, so a child spawned from a thread that blocks SIGTERM
//! would ignore `terminate`), in a new process group or session, with
//! every descriptor above 2 closed (descriptors the owning program leaked
//! without close-on-exec would otherwise keep pipes open in the child).
//!
//! By default the start happens in the runtime's keeper process
//! ([`crate::keeper`]): the pipes or terminal are made here, the child's
//! ends are sent to the keeper with a [`SpawnPlan`], and the keeper calls
//! `posix_spawn` with them.
//!
//! The slow path forks through std with a `pre_exec` hook that does the
//! same resets, and is used only when the child must die with the owner
//! (`PR_SET_PDEATHSIG` must be armed by the child itself) or where glibc's
//! `posix_spawn` extensions are missing.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use logist_core::{Error, SpawnRequest, StdinMode, Stream};
use nix::fcntl::OFlag;
use nix::unistd::{AccessFlags, access, pipe2};

use crate::keeper::Keeper;
use crate::spawner::Spawner;
use crate::sys::{self, ChildSetup};

/// The parent's side of a started child.
pub(crate) struct Launched {
    pub(crate) pid: i32,
    /// Read ends of the output (one terminal master, or stdout and stderr).
    pub(crate) outputs: Vec<(Stream, OwnedFd)>,
    /// Where to write the child's input, if it can be written.
    pub(crate) stdin: Option<File>,
    /// Started by the keeper: the read end (non-blocking) of the pipe that
    /// receives its exit status. Otherwise the child is ours to reap.
    pub(crate) status_pipe: Option<OwnedFd>,
}

/// How to start it.
pub(crate) struct Launch<'a> {
    pub(crate) request: &'a SpawnRequest,
    /// The tree cookie, `(name, value)`.
    pub(crate) cookie: (&'a str, String),
    /// Spawn through the keeper (which then is the child's parent).
    pub(crate) keeper: Option<&'a Keeper>,
    /// Else spawn through this thread, with a parent-death signal.
    pub(crate) spawner: Option<&'a Spawner>,
}

/// Starts the child.
pub(crate) fn launch(plan: &Launch<'_>) -> Result<Launched, Error> {
    let request = plan.request;
    let program = request.command.program();
    let env = environment(plan.request, &plan.cookie);
    let resolved = resolve(
        program,
        env.get(OsStr::new("PATH")).map(OsString::as_os_str),
    )
    .map_err(|error| spawn_error(program, error))?;
    let io_error =
        |what: &str, error: io::Error| Error::io(format!("{what} for `{program}`"), error);

    // The child's ends, kept open until the start is over.
    let mut child_ends: Vec<OwnedFd> = Vec::new();
    let mut outputs = Vec::new();
    let stdin;
    let terminal;
    if let Some(size) = request.terminal {
        let (master, slave_path, slave) = sys::open_pty(size.rows, size.cols)
            .map_err(|e| io_error("opening a pseudo-terminal", e))?;
        let reader = master
            .try_clone()
            .map_err(|e| io_error("duplicating the terminal", e))?;
        outputs.push((Stream::Stdout, reader));
        stdin = Some(File::from(master));
        terminal = Some((slave_path, slave));
    } else {
        let (out_read, out_write) = pipe().map_err(|e| io_error("creating pipes", e))?;
        let (err_read, err_write) = pipe().map_err(|e| io_error("creating pipes", e))?;
        outputs.push((Stream::Stdout, out_read));
        outputs.push((Stream::Stderr, err_read));
        child_ends.push(out_write);
        child_ends.push(err_write);
        stdin = match request.stdin {
            StdinMode::Null => None,
            StdinMode::Piped => {
                let (read, write) = pipe().map_err(|e| io_error("creating pipes", e))?;
                child_ends.push(read);
                Some(File::from(write))
            }
        };
        terminal = None;
    }
    for (_, fd) in &outputs {
        sys::set_nonblocking(fd.as_fd()).map_err(|e| io_error("setting up the output", e))?;
    }

    let ends: Vec<BorrowedFd<'_>> = child_ends.iter().map(AsFd::as_fd).collect();
    let slave_path = terminal.as_ref().map(|(path, _)| path.clone());
    let spawn_plan = || SpawnPlan::new(request, &resolved, &env, slave_path.as_ref());
    let mut status_pipe = None;
    let pid = if let Some(keeper) = plan.keeper {
        let (read, write) = pipe().map_err(|e| io_error("creating pipes", e))?;
        sys::set_nonblocking(read.as_fd()).map_err(|e| io_error("creating pipes", e))?;
        status_pipe = Some(read);
        spawn_plan().and_then(|spawn| keeper.spawn(&spawn, write.as_fd(), &ends))
    } else if plan.spawner.is_some() || !cfg!(target_env = "gnu") {
        fork_path(plan, &resolved, &env, &child_ends, terminal)
    } else {
        spawn_plan().and_then(|spawn| spawn.spawn(&ends))
    }
    .map_err(|error| spawn_error(program, error))?;
    Ok(Launched {
        pid,
        outputs,
        stdin,
        status_pipe,
    })
}

/// The final environment: the base (ours, or nothing), then unset, pass,
/// set, and the tree cookie.
pub(crate) fn environment(
    request: &SpawnRequest,
    cookie: &(&str, String),
) -> BTreeMap<OsString, OsString> {
    let env = &request.env;
    let mut vars: BTreeMap<OsString, OsString> = if env.inherits() {
        std::env::vars_os().collect()
    } else {
        BTreeMap::new()
    };
    for name in env.unset_names() {
        vars.remove(OsStr::new(name));
    }
    for name in env.passed() {
        if let Some(value) = std::env::var_os(name) {
            vars.insert(name.into(), value);
        }
    }
    for (name, value) in env.vars() {
        vars.insert(name.into(), value.into());
    }
    vars.insert(cookie.0.into(), cookie.1.clone().into());
    vars
}

/// Finds `program` the way `execvp` would, but in the child's `PATH`.
fn resolve(program: &str, path: Option<&OsStr>) -> io::Result<PathBuf> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    let search = path.unwrap_or(OsStr::new("/usr/local/bin:/usr/bin:/bin"));
    let mut denied = None;
    for dir in search.as_bytes().split(|&b| b == b':') {
        let dir = if dir.is_empty() {
            Path::new(".")
        } else {
            Path::new(OsStr::from_bytes(dir))
        };
        let candidate = dir.join(program);
        if fs::metadata(&candidate).is_ok_and(|meta| meta.is_file()) {
            match access(&candidate, AccessFlags::X_OK) {
                Ok(()) => return Ok(candidate),
                Err(errno) => denied = Some(io::Error::from(errno)),
            }
        }
    }
    Err(denied.unwrap_or_else(|| io::ErrorKind::NotFound.into()))
}

/// A close-on-exec pipe whose ends are never 0, 1 or 2 (which they would
/// be if the owning program had closed its own standard streams).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (read, write) = pipe2(OFlag::O_CLOEXEC)?;
    Ok((above_stdio(read)?, above_stdio(write)?))
}

/// `fd`, or a duplicate of it at 3 or above when it is a standard stream's
/// number: `try_clone` duplicates with `F_DUPFD_CLOEXEC` from 3.
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    fd.try_clone()
}

fn c_string(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte"))
}

/// A start through `posix_spawn`, as plain data: what the keeper receives.
pub(crate) struct SpawnPlan {
    /// The resolved program.
    pub(crate) path: CString,
    pub(crate) argv: Vec<CString>,
    pub(crate) envp: Vec<CString>,
    pub(crate) cwd: Option<CString>,
    /// The pseudo-terminal slave's path, which the child opens as its
    /// standard descriptors (and controlling terminal); else pipes.
    pub(crate) terminal: Option<CString>,
}

impl SpawnPlan {
    fn new(
        request: &SpawnRequest,
        resolved: &Path,
        env: &BTreeMap<OsString, OsString>,
        terminal: Option<&CString>,
    ) -> io::Result<Self> {
        let argv = request
            .command
            .argv()
            .iter()
            .map(|arg| c_string(arg.as_bytes()))
            .collect::<io::Result<Vec<_>>>()?;
        let envp = env
            .iter()
            .map(|(name, value)| {
                let mut entry = name.as_bytes().to_vec();
                entry.push(b'=');
                entry.extend_from_slice(value.as_bytes());
                c_string(&entry)
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Self {
            path: c_string(resolved.as_os_str().as_bytes())?,
            argv,
            envp,
            cwd: request
                .cwd
                .as_ref()
                .map(|dir| c_string(dir.as_os_str().as_bytes()))
                .transpose()?,
            terminal: terminal.cloned(),
        })
    }

    /// Starts it with `posix_spawn`; `ends` are the child's stdout, stderr
    /// and (if piped) stdin, none on a terminal.
    #[cfg(target_env = "gnu")]
    pub(crate) fn spawn(&self, ends: &[BorrowedFd<'_>]) -> io::Result<i32> {
        use sys::FileAction;
        let dev_null = c"/dev/null";
        let mut actions = Vec::new();
        if let Some(slave_path) = &self.terminal {
            // Opened by the new session leader without O_NOCTTY, the slave
            // becomes its controlling terminal.
            actions.push(FileAction::Open {
                target: 0,
                path: slave_path,
                flags: libc::O_RDWR,
            });
            actions.push(FileAction::Copy { from: 0, target: 1 });
            actions.push(FileAction::Copy { from: 0, target: 2 });
        } else {
            let [out, err, rest @ ..] = ends else {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            };
            match rest.first() {
                Some(input) => actions.push(FileAction::Dup2 {
                    fd: *input,
                    target: 0,
                }),
                None => actions.push(FileAction::Open {
                    target: 0,
                    path: dev_null,
                    flags: libc::O_RDONLY,
                }),
            }
            actions.push(FileAction::Dup2 {
                fd: *out,
                target: 1,
            });
            actions.push(FileAction::Dup2 {
                fd: *err,
                target: 2,
            });
        }
        if let Some(dir) = &self.cwd {
            actions.push(FileAction::Chdir(dir));
        }
        actions.push(FileAction::CloseFrom(3));
        sys::posix_spawn(
            &self.path,
            &self.argv,
            &self.envp,
            &actions,
            self.terminal.is_some(),
        )
    }

    #[cfg(not(target_env = "gnu"))]
    pub(crate) fn spawn(&self, _: &[BorrowedFd<'_>]) -> io::Result<i32> {
        unreachable!("the fork path is used where glibc's posix_spawn is missing")
    }
}

fn fork_path(
    plan: &Launch<'_>,
    resolved: &Path,
    env: &BTreeMap<OsString, OsString>,
    child_ends: &[OwnedFd],
    terminal: Option<(CString, File)>,
) -> io::Result<i32> {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let request = plan.request;
    #[expect(
        clippy::disallowed_methods,
        reason = "this is the runtime that starts processes"
    )]
    let mut command = Command::new(resolved);
    command
        .arg0(request.command.program())
        .args(request.command.args())
        .env_clear()
        .envs(env);
    if let Some(dir) = &request.cwd {
        command.current_dir(dir);
    }
    let mut setup = ChildSetup {
        controlling_terminal: false,
        parent_death: plan.spawner.is_some().then(|| std::process::id() as i32),
    };
    if let Some((_, slave)) = terminal {
        command.stdin(Stdio::from(slave.try_clone()?));
        command.stdout(Stdio::from(slave.try_clone()?));
        command.stderr(Stdio::from(slave));
        setup.controlling_terminal = true;
    } else {
        let mut ends = child_ends.iter();
        let dup = |fd: &OwnedFd| fd.try_clone().map(Stdio::from);
        command.stdout(dup(ends.next().expect("stdout pipe"))?);
        command.stderr(dup(ends.next().expect("stderr pipe"))?);
        command.stdin(match ends.next() {
            Some(input) => dup(input)?,
            None => Stdio::null(),
        });
        command.process_group(0);
    }
    setup.install(&mut command);
    let child = match plan.spawner {
        Some(spawner) => spawner.spawn(command)?,
        None => command.spawn()?,
    };
    // The reactor reaps by pid; std's handle is not needed (dropping it
    // neither kills nor waits).
    Ok(child.id() as i32)
}

/// Maps an OS error from starting `program` to the contract's error.
pub(crate) fn spawn_error(program: &str, error: io::Error) -> Error {
    let program = program.to_owned();
    match error.kind() {
        io::ErrorKind::NotFound => Error::ProgramNotFound { program },
        io::ErrorKind::PermissionDenied => Error::NotExecutable {
            program,
            source: error,
        },
        _ if error.raw_os_error() == Some(libc::ENOEXEC) => Error::NotExecutable {
            program,
            source: error,
        },
        _ => Error::Spawn {
            program,
            source: error,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_uses_the_given_path_and_reports_denied() {
        let dir = std::env::temp_dir().join(format!("logist-resolve-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("not-executable");
        fs::write(&plain, "x").unwrap();
        let path = OsString::from(format!("/nonexistent:{}", dir.display()));
        let denied = resolve("not-executable", Some(&path)).unwrap_err();
        assert_eq!(denied.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(
            resolve("no-such-program", Some(&path)).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            resolve("sh", Some(OsStr::new("/bin"))).unwrap(),
            Path::new("/bin/sh")
        );
        assert_eq!(resolve("./x", None).unwrap(), Path::new("./x"));
        fs::remove_dir_all(dir).unwrap();
    }
}
