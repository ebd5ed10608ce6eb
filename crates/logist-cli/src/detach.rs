//! `logist run|exec --detach`: a durable run whose policies (timeouts, idle
//! limit, `--on-input`, stop sequences, failure causes) go on being
//! enforced with nobody attached.
//!
//! Enforcing them needs a process, so the `logist` the person started (the
//! foreground) re-executes itself with the hidden `--internal-supervisor`
//! flag and the same arguments: the supervisor. It starts a session of its
//! own, runs the ordinary run loop on a `HostRuntime` with the state
//! directory and a durable spawn request, and reports on its stdout, a
//! pipe, the run's id once the run's program executes. Then it points its
//! standard descriptors at `/dev/null`, which ends the foreground's pipes:
//! the foreground prints the id and exits 0, and the supervisor goes on
//! alone. A start that fails is reported through its stderr pipe and exit
//! code, as an attached run would report it.
//!
//! The supervisor holds `supervisor.lock` in the run's directory while it
//! lives and records its verdict in `outcome.json` before it exits (see
//! [`crate::runs`]). If it dies, the run goes on (its monitor holds it)
//! without policies, and `logist wait` reports the run's own status.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, OnceLock};

use logist_core::{Runtime, error_chain};
use logist_monitor::StateDir;
use nix::sys::signal::{Signal as NixSignal, kill};
use nix::unistd::Pid;

use crate::cli::Shared;
use crate::runs::{OUTCOME_FILE, SUPERVISOR_LOCK, write_outcome};
use crate::signals::Signals;
use crate::{CliError, exit};

/// The hidden flag that makes `logist` the supervisor of a detached run.
pub(crate) const SUPERVISOR_FLAG: &str = "--internal-supervisor";

/// This program's path, to re-execute it as supervisor and monitor.
fn current_exe() -> Result<PathBuf, CliError> {
    std::env::current_exe().map_err(|error| {
        CliError::failed(format!(
            "cannot find the logist executable: {}",
            error_chain(&error)
        ))
    })
}

/// The foreground's part: starts the supervisor with this process's
/// arguments, relays what it says until the run is running, prints the
/// run's id and returns 0 (or the supervisor's exit code if the run could
/// not start). `prompt_on_stdin`: `--prompt-file -`, whose text this
/// process reads first and hands to the supervisor through a pipe.
///
/// A stop signal before the supervisor exists ends `logist` at once; after,
/// it is passed on as SIGTERM (the supervisor then stops the run, if it
/// started, as Ctrl-C would) and a second one as SIGKILL.
pub(crate) fn launch(prompt_on_stdin: bool, signals: &Signals) -> Result<u8, CliError> {
    let supervisor = Arc::new(AtomicI32::new(0));
    {
        let first = Arc::clone(&supervisor);
        let again = Arc::clone(&supervisor);
        signals.watch(
            move |signal| match first.load(Ordering::SeqCst) {
                0 => std::process::exit(i32::from(exit::interrupted(signal))),
                pid => {
                    let _ = kill(Pid::from_raw(pid), NixSignal::SIGTERM);
                }
            },
            move || {
                let pid = again.load(Ordering::SeqCst);
                if pid != 0 {
                    let _ = kill(Pid::from_raw(pid), NixSignal::SIGKILL);
                }
            },
        );
    }
    let prompt = if prompt_on_stdin {
        let mut bytes = Vec::new();
        io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(|error| {
                CliError::usage(format!(
                    "--prompt-file: cannot read standard input: {}",
                    error_chain(&error)
                ))
            })?;
        Some(bytes)
    } else {
        None
    };
    let exe = current_exe()?;
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    #[expect(
        clippy::disallowed_methods,
        reason = "the supervisor is logist itself (it starts the run through a runtime), not an agent"
    )]
    let mut command = Command::new(&exe);
    command
        .arg(SUPERVISOR_FLAG)
        .args(&args)
        .stdin(if prompt.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|error| {
        CliError::failed(format!(
            "cannot start the supervisor `{}`: {}",
            exe.display(),
            error_chain(&error)
        ))
    })?;
    supervisor.store(i32::try_from(child.id()).unwrap_or(0), Ordering::SeqCst);
    // The supervisor reads the prompt before anything else; a supervisor
    // that fails before reading it says why on stderr.
    if let (Some(prompt), Some(mut stdin)) = (prompt, child.stdin.take()) {
        std::thread::spawn(move || {
            let _ = stdin.write_all(&prompt);
        });
    }
    // Its stderr is relayed as it comes: a start that fails explains why.
    let relay = child.stderr.take().map(|mut err| {
        std::thread::spawn(move || {
            let _ = io::copy(&mut err, &mut io::stderr());
        })
    });
    let mut said = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut said);
    }
    if let Some(relay) = relay {
        let _ = relay.join();
    }
    if let Some(id) = said.lines().next().filter(|id| !id.is_empty()) {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{id}");
        let _ = out.flush();
        // The supervisor goes on alone; it is not waited for.
        return Ok(0);
    }
    let status = child.wait().map_err(|error| {
        CliError::failed(format!(
            "cannot wait for the supervisor: {}",
            error_chain(&error)
        ))
    })?;
    match status.code() {
        Some(code) if code != 0 => Ok(u8::try_from(code & 0xff).unwrap_or(1)),
        _ => Err(CliError::failed(format!(
            "the supervisor ended ({status}) before the run started"
        ))),
    }
}

/// The supervisor's side: what it needs of the run loop.
pub(crate) struct Supervisor {
    /// This machine's state directory; `None` for a run on a server
    /// (`--remote`), which records it there.
    state: Option<StateDir>,
    /// The run's directory once it runs, and the lock held on it.
    run: Option<(PathBuf, File)>,
}

impl Supervisor {
    /// Becomes the supervisor: a session of its own (no hang-up from the
    /// terminal the foreground ran on). Call before any thread starts.
    pub(crate) fn detach_session() {
        if let Err(error) = rustix::process::setsid() {
            tracing::debug!(%error, "setsid");
        }
    }

    /// The state directory this supervisor records its run in (none for
    /// a run on a server).
    pub(crate) fn new(state: Option<StateDir>) -> Self {
        Self { state, run: None }
    }

    /// The runtime for a durable run: the host, through a monitor that is
    /// this program (`logist __monitor`), recording in the state directory;
    /// or the server of `--remote`, which keeps the run durable itself.
    pub(crate) fn runtime(&self, shared: &Shared) -> Result<Arc<dyn Runtime>, CliError> {
        let Some(state) = &self.state else {
            let url = shared.remote.as_deref().unwrap_or_default();
            return crate::serve::remote_runtime(url, shared);
        };
        crate::state_dir::monitored_host(state, shared.grace, false)
    }

    /// The run `id` is running: takes its supervisor lock, tells the
    /// foreground the id, and lets go of the foreground's pipes.
    pub(crate) fn ready(&mut self, id: &str) -> Result<(), CliError> {
        if let Some(state) = &self.state {
            self.run = Some(Self::lock(state, id)?);
        }
        let mut out = io::stdout().lock();
        // The foreground may be gone (killed): the run goes on regardless.
        let _ = writeln!(out, "{id}").and_then(|()| out.flush());
        drop(out);
        let null = File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(|error| {
                CliError::failed(format!("cannot open /dev/null: {}", error_chain(&error)))
            })?;
        for result in [
            rustix::stdio::dup2_stdin(&null),
            rustix::stdio::dup2_stdout(&null),
            rustix::stdio::dup2_stderr(&null),
        ] {
            if let Err(error) = result {
                tracing::warn!(%error, "cannot let go of the foreground's pipes");
            }
        }
        Ok(())
    }

    /// Takes run `id`'s supervisor lock in `state`.
    fn lock(state: &StateDir, id: &str) -> Result<(PathBuf, File), CliError> {
        let dir = state.path().join("runs").join(id);
        let path = dir.join(SUPERVISOR_LOCK);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .and_then(|file| {
                rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
                Ok(file)
            })
            .map_err(|error| {
                CliError::failed(format!(
                    "cannot lock `{}`: {}",
                    path.display(),
                    error_chain(&error)
                ))
            })?;
        Ok((dir, lock))
    }

    /// The run is over: records the verdict (`outcome.json`). The lock
    /// stays held until this process exits, so that whoever waits for it
    /// finds the verdict and no supervisor left.
    pub(crate) fn finish(self, outcome: &str, code: u8) {
        static HELD: OnceLock<File> = OnceLock::new();
        if let Some((dir, lock)) = self.run {
            if let Err(error) = write_outcome(&dir, outcome, code) {
                tracing::warn!(%error, file = OUTCOME_FILE, "cannot record the outcome");
            }
            let _ = HELD.set(lock);
        }
    }
}
