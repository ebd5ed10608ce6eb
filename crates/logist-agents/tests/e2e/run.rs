//! Running one agent program for a test, through `HostRuntime` — the
//! runtime orchestrators use — with exactly the given environment, and the
//! whole process tree stopped when the run ends, pass or fail (the runtime
//! is dropped at the end of each run).
//!
//! Two ways: [`run_agent`] waits for a plain argv to exit (for `--version`),
//! and [`watch`] runs a [`Fixed`] agent under the `Sentinel`, so that the
//! adapter's own stop sequences and failure patterns watch the live output,
//! on pipes or on a pseudo-terminal.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use logist_agents::AgentProgram;
use logist_core::{
    Agent, CommandLine, Environment, Error, ExitStatus, FailureCause, FailurePattern,
    PromptOnStdin, Runtime, SpawnRequest, StopSequence, Stream, TerminalSize, Verdict,
};
use logist_runtime_host::HostRuntime;
use logist_sentinel::{DEFAULT_SETTLE, Event, Match, Outcome, Policy, RunOptions, Sentinel};
use logist_testing::{NoSurvivors, Survivor};

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

/// A fresh host runtime with room for a whole run's output.
fn runtime() -> HostRuntime {
    HostRuntime::builder()
        .output_cap(64 * 1024 * 1024)
        .grace(Duration::from_secs(2))
        .build()
        .expect("a host runtime")
}

/// Exactly `env`, as an environment on a clean base.
fn environment(env: &BTreeMap<String, String>) -> Environment {
    env.iter()
        .fold(Environment::clean(), |environment, (name, value)| {
            environment.set(name, value)
        })
}

/// Runs `argv` with exactly `env`, in `cwd`, and returns its status, stdout
/// and stderr. Kills its whole tree after `timeout`.
pub(crate) fn run_agent(
    argv: &[String],
    env: &BTreeMap<String, String>,
    cwd: &Path,
    timeout: Duration,
) -> (Status, String, String) {
    let runtime = runtime();
    let request = SpawnRequest::new(CommandLine::new(argv.iter().cloned()).expect("a valid argv"))
        .env(environment(env))
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

/// A test-only [`Agent`]: a fixed argv and environment (resolved by the
/// test, so that passed keys come from its fake caller environment), with
/// everything else — stop sequences, failure patterns, verdict, name,
/// version — the adapter's own.
pub(crate) struct Fixed {
    /// The adapter whose patterns and verdict are used.
    pub(crate) adapter: Box<dyn AgentProgram>,
    command: CommandLine,
    env: BTreeMap<String, String>,
    /// The prompt for standard input, when the adapter gives it there.
    input: Option<Vec<u8>>,
}

impl Fixed {
    /// Runs `command` with exactly `env`, judged by `adapter`.
    pub(crate) fn new(
        adapter: Box<dyn AgentProgram>,
        command: CommandLine,
        env: BTreeMap<String, String>,
    ) -> Self {
        Self {
            adapter,
            command,
            env,
            input: None,
        }
    }

    /// Runs `piped.command` fed `piped.input` on stdin, with exactly `env`,
    /// judged by `adapter`.
    pub(crate) fn piped(
        adapter: Box<dyn AgentProgram>,
        piped: PromptOnStdin,
        env: BTreeMap<String, String>,
    ) -> Self {
        Self {
            input: Some(piped.input),
            ..Self::new(adapter, piped.command, env)
        }
    }
}

impl Agent for Fixed {
    /// The fixed argv; the prompt is already in it (or, for an interactive
    /// run, there is none, or it is given on stdin).
    fn cmd(&self, _prompt: &str) -> Result<CommandLine, Error> {
        Ok(self.command.clone())
    }

    fn prompt_on_stdin(&self, _prompt: &str) -> Result<Option<PromptOnStdin>, Error> {
        Ok(self
            .input
            .as_ref()
            .map(|input| PromptOnStdin::new(self.command.clone(), input.clone())))
    }

    fn env(&self) -> Environment {
        environment(&self.env)
    }

    fn stop_sequences(&self) -> Vec<StopSequence> {
        self.adapter.stop_sequences()
    }

    fn name(&self) -> &str {
        self.adapter.name()
    }

    fn version(&self) -> &str {
        self.adapter.version()
    }

    fn failure_patterns(&self) -> Vec<FailurePattern> {
        self.adapter.failure_patterns()
    }

    fn verdict(&self, stdout_tail: &[u8]) -> Option<Verdict> {
        self.adapter.verdict(stdout_tail)
    }
}

/// What a watched run produced.
pub(crate) struct Watched {
    /// The sentinel's outcome.
    pub(crate) outcome: Outcome,
    /// Every failure pattern the sentinel recognised.
    pub(crate) failures: Vec<(FailureCause, Match)>,
    /// Processes of the run still running when the sentinel was done
    /// (before the runtime was dropped), after a grace of a few seconds
    /// for ones being killed.
    pub(crate) survivors: Vec<Survivor>,
    /// Standard output (everything, on a terminal).
    pub(crate) stdout: String,
    /// Standard error (empty on a terminal).
    pub(crate) stderr: String,
    /// The combined output, as the program wrote it.
    pub(crate) raw: Vec<u8>,
    /// How long the run took, from start to the sentinel's outcome.
    pub(crate) took: Duration,
}

/// How long killed processes get to disappear before they count as
/// survivors.
const SURVIVOR_DEADLINE: Duration = Duration::from_secs(10);

/// Runs `agent` in `cwd` under the sentinel (stop sequences: fail, and a
/// `timeout`), on pipes or on a pseudo-terminal of `terminal`'s size, and
/// returns what happened. Every process of the run is tagged, so what
/// outlives the sentinel is found; the runtime is dropped before this
/// returns, which kills anything left.
pub(crate) fn watch(
    agent: &Arc<Fixed>,
    cwd: &Path,
    terminal: Option<TerminalSize>,
    timeout: Duration,
) -> Watched {
    let guard = NoSurvivors::new();
    let runtime = Arc::new(runtime());
    let mut options = RunOptions::new()
        .env(guard.tag_env(Environment::clean()))
        .cwd(cwd)
        .policy(
            Policy::new()
                .timeout(timeout)
                // A prompt counts only when the program stays at it (Aider
                // answers some questions itself); on a terminal, when the
                // screen shows it once the program is quiet.
                .settle(DEFAULT_SETTLE),
        )
        .grace(Duration::from_secs(2));
    if let Some(size) = terminal {
        options = options.terminal(size);
    }
    let started = Instant::now();
    let sentinel = Sentinel::new(
        Arc::clone(&runtime) as Arc<dyn Runtime>,
        Arc::clone(agent) as Arc<dyn Agent>,
        options,
    );
    let mut run = sentinel
        .start("")
        .unwrap_or_else(|error| panic!("{}: unusable patterns: {error}", agent.name()));
    let mut failures = Vec::new();
    for event in run.by_ref() {
        if let Event::FailureRecognised { cause, matched } = event {
            failures.push((cause, matched));
        }
    }
    let id = run.id().cloned();
    let outcome = run.finish();
    let took = started.elapsed();

    // The sentinel terminated the tree (or the program exited by itself):
    // nothing tagged may still run. Killed processes get a moment to go.
    let deadline = Instant::now() + SURVIVOR_DEADLINE;
    let mut survivors = guard.survivors();
    while !survivors.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        survivors = guard.survivors();
    }

    let text = |stream| match &id {
        Some(id) => runtime
            .get_stream_logs(id, stream, None)
            .expect("the process is known")
            .text()
            .into_owned(),
        None => String::new(),
    };
    let (stdout, stderr) = (text(Stream::Stdout), text(Stream::Stderr));
    let raw = match &id {
        Some(id) => runtime
            .get_logs(id, None)
            .expect("the process is known")
            .into_bytes(),
        None => Vec::new(),
    };
    // Dropping the runtime stops whatever is left; the guard then checks
    // that it did (its own drop panics otherwise).
    drop(sentinel);
    drop(runtime);
    drop(guard);
    Watched {
        outcome,
        failures,
        survivors,
        stdout,
        stderr,
        raw,
        took,
    }
}
