//! Running one agent program for a test: `run_agent(argv, env, cwd,
//! timeout)`, through `HostRuntime` — the runtime orchestrators use — with
//! exactly the given environment, stdin from `/dev/null`, and the whole
//! process tree stopped when the run ends, pass or fail (the runtime is
//! dropped at the end of each run).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use logist_core::{CommandLine, Environment, Error, ExitStatus, Runtime, SpawnRequest, Stream};
use logist_runtime_host::HostRuntime;

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

/// Runs `argv` with exactly `env`, in `cwd`, and returns its status, stdout
/// and stderr. Kills its whole tree after `timeout`.
pub(crate) fn run_agent(
    argv: &[String],
    env: &BTreeMap<String, String>,
    cwd: &Path,
    timeout: Duration,
) -> (Status, String, String) {
    let runtime = HostRuntime::builder()
        .output_cap(64 * 1024 * 1024)
        .grace(Duration::from_secs(2))
        .build()
        .expect("a host runtime");
    let environment = env
        .iter()
        .fold(Environment::clean(), |environment, (name, value)| {
            environment.set(name, value)
        });
    let request = SpawnRequest::new(CommandLine::new(argv.iter().cloned()).expect("a valid argv"))
        .env(environment)
        .cwd(cwd);
    let id = runtime
        .spawn(&request)
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", argv[0]));
    let status = match runtime.wait(&id, Some(timeout)) {
        Ok(done) => match done.status {
            ExitStatus::Code(code) => Status::Code(code),
            ExitStatus::Signal(signal) => Status::Signal(signal),
        },
        Err(Error::WaitTimeout { .. }) => {
            let _ = runtime.terminate(&id, true);
            Status::TimedOut
        }
        Err(error) => panic!("waiting for {}: {error}", argv[0]),
    };
    // Whatever the program left running goes with it.
    let _ = runtime.terminate(&id, true);
    let text = |stream| {
        runtime
            .get_stream_logs(&id, stream, None)
            .expect("the process is known")
            .text()
            .into_owned()
    };
    (status, text(Stream::Stdout), text(Stream::Stderr))
}
