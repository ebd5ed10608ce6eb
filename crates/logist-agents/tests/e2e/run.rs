//! Running one agent program for a test: `run_agent(argv, env, cwd,
//! timeout)`.
//!
//! For now this uses `std::process::Command` directly, in its own process
//! group, killed on timeout and, through a guard, whenever the test ends;
//! once `logist-runtime-host` lands, its body becomes a `HostRuntime`
//! spawn/wait.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
    /// Still running at the deadline; it was killed.
    TimedOut,
}

impl Status {
    pub(crate) fn success(self) -> bool {
        self == Status::Code(0)
    }
}

/// Kills the whole process group when dropped: nothing a test started
/// outlives it, pass or fail.
struct GroupGuard(Pid);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        // ESRCH (nothing left) is the normal case.
        let _ = killpg(self.0, Signal::SIGKILL);
    }
}

/// Runs `argv` with exactly `env`, in `cwd`, stdin from `/dev/null`, and
/// returns its status, stdout and stderr. Kills it (and its process group)
/// after `timeout`.
pub(crate) fn run_agent(
    argv: &[String],
    env: &BTreeMap<String, String>,
    cwd: &Path,
    timeout: Duration,
) -> (Status, String, String) {
    #[expect(
        clippy::disallowed_methods,
        reason = "test helper until logist-runtime-host lands; the lead swaps in HostRuntime"
    )]
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .env_clear()
        .envs(env)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", argv[0]));
    let pid = i32::try_from(child.id()).expect("pid fits in i32");
    let guard = GroupGuard(Pid::from_raw(pid));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_reader = thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err_reader = thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let (sender, receiver) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let status = child.wait();
        let _ = sender.send(());
        status
    });
    let status = match receiver.recv_timeout(timeout) {
        Ok(()) => {
            use std::os::unix::process::ExitStatusExt;
            let status = waiter.join().expect("waiter").expect("wait");
            match (status.code(), status.signal()) {
                (Some(code), _) => Status::Code(code),
                (None, Some(signal)) => Status::Signal(signal),
                (None, None) => Status::Signal(0),
            }
        }
        Err(_) => {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = waiter.join();
            Status::TimedOut
        }
    };
    // Descendants still holding the pipes would keep the readers waiting:
    // the group goes now, not only when the guard drops.
    drop(guard);
    let stdout = String::from_utf8_lossy(&out_reader.join().expect("stdout reader")).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().expect("stderr reader")).into_owned();
    (status, stdout, stderr)
}
