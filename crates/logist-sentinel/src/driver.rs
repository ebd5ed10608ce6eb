//! The driver: spawns one agent on a [`Runtime`], blocks on its output with
//! a timeout taken from the observer's next deadline, feeds the
//! [`Observer`], performs its actions and hands out its events, either as an
//! iterator ([`Run`]) or to a callback ([`Sentinel::run`]).

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use logist_core::{
    Agent, CommandProblem, Environment, Error, Labels, ProcessId, Runtime, SpawnRequest, StdinMode,
    Stream, TerminalSize,
};

use crate::error::PatternError;
use crate::observer::{Action, Event, Observer, OnPrompt, Outcome, Policy};

/// How to start and watch an agent: the policy and the spawn options.
///
/// Pure configuration: [`launch`](Self::launch) and
/// [`observer`](Self::observer) build what a [`Sentinel`] spawns and
/// watches with, without a runtime.
///
/// ```
/// use std::time::Duration;
/// use logist_core::Environment;
/// use logist_sentinel::{Policy, RunOptions};
///
/// let options = RunOptions::new()
///     .policy(Policy::new().timeout(Duration::from_secs(900)))
///     .env(Environment::clean().pass("PATH").pass("HOME"))
///     .cwd("/src/project")
///     .label("job", "review-42")
///     .grace(Duration::from_secs(2));
/// assert_eq!(options.labels["job"], "review-42");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunOptions {
    /// Timeouts and the prompt policy.
    pub policy: Policy,
    /// The base environment the agent's [`env`](Agent::env) is merged into.
    pub env: Environment,
    /// The working directory; `None` for the runtime's default.
    pub cwd: Option<PathBuf>,
    /// Labels for the spawned process.
    pub labels: Labels,
    /// Run on a pseudo-terminal of this size instead of pipes.
    pub terminal: Option<TerminalSize>,
    /// Grace period between SIGTERM and SIGKILL; `None` for the runtime's.
    pub grace: Option<Duration>,
    /// Where the agent's standard input comes from; `None` to choose from
    /// the policy: piped when someone may answer ([`OnPrompt::Answer`],
    /// [`OnPrompt::Wait`]), `/dev/null` otherwise. Ignored on a terminal.
    pub stdin: Option<StdinMode>,
    /// Ask for a durable run ([`SpawnRequest`'s `durable`](SpawnRequest#structfield.durable)): it outlives the
    /// runtime that spawned it, on a runtime that offers that.
    pub durable: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            policy: Policy::default(),
            env: Environment::inherit(),
            cwd: None,
            labels: Labels::new(),
            terminal: None,
            grace: None,
            stdin: None,
            durable: false,
        }
    }
}

impl RunOptions {
    /// The default policy, the inherited environment, the runtime's working
    /// directory, no labels, pipes and the runtime's grace period.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the timeouts and the prompt policy.
    #[must_use]
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the base environment.
    #[must_use]
    pub fn env(mut self, base: Environment) -> Self {
        self.env = base;
        self
    }

    /// Sets the working directory.
    #[must_use]
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Adds a label.
    #[must_use]
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Runs the agent on a pseudo-terminal of this size.
    #[must_use]
    pub fn terminal(mut self, size: TerminalSize) -> Self {
        self.terminal = Some(size);
        self
    }

    /// Sets the grace period.
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = Some(grace);
        self
    }

    /// Sets where standard input comes from, whatever the policy: for
    /// example `/dev/null` for an agent that would read a piped stdin to
    /// its end before starting, even under [`OnPrompt::Wait`].
    #[must_use]
    pub fn stdin(mut self, mode: StdinMode) -> Self {
        self.stdin = Some(mode);
        self
    }

    /// Asks for a durable run (see [`RunOptions`'s `durable`](Self#structfield.durable)).
    #[must_use]
    pub fn durable(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }

    /// What spawns `agent` for `prompt`: the request (the agent's command
    /// line, its environment merged into the base one, these labels,
    /// working directory, terminal and grace period) and the input to feed
    /// its standard input, if any.
    ///
    /// The prompt goes on standard input when the agent offers that
    /// ([`Agent::prompt_on_stdin`]) and nothing else needs stdin: no
    /// terminal, no [`stdin`](Self::stdin) set, and a policy under which
    /// nobody answers ([`OnPrompt::Fail`]). Otherwise it goes in argv
    /// ([`Agent::cmd`]), and stdin is the one set with
    /// [`stdin`](Self::stdin), or else a pipe when the policy lets someone
    /// answer prompts (`Answer`, `Wait`) and `/dev/null` otherwise.
    ///
    /// # Errors
    ///
    /// What the agent returns for a prompt it cannot pass, and
    /// [`CommandProblem::AnswersOnlyOnTerminal`] when the policy lets
    /// someone answer (`Answer`, `Wait`) without a terminal an agent that
    /// reads its stdin pipe to the end first
    /// ([`Agent::answers_on_pipe`]).
    pub fn launch(&self, agent: &dyn Agent, prompt: &str) -> Result<Launch, Error> {
        let answering = matches!(self.policy.on_prompt, OnPrompt::Answer(_) | OnPrompt::Wait);
        if answering && self.terminal.is_none() && !agent.answers_on_pipe() {
            return Err(Error::InvalidCommand {
                problem: CommandProblem::AnswersOnlyOnTerminal {
                    program: agent.name().to_owned(),
                },
            });
        }
        let stdin_is_free = self.terminal.is_none()
            && self.stdin.is_none()
            && matches!(self.policy.on_prompt, OnPrompt::Fail);
        let piped = if stdin_is_free {
            agent.prompt_on_stdin(prompt)?
        } else {
            None
        };
        let (command, input, stdin) = match piped {
            Some(piped) => (piped.command, Some(piped.input), StdinMode::Piped),
            None => (
                agent.cmd(prompt)?,
                None,
                self.stdin.unwrap_or(match self.policy.on_prompt {
                    // Under `Wait` the caller answers with
                    // `Runtime::write_stdin`: from `/dev/null` the agent
                    // would read end-of-file at once.
                    OnPrompt::Answer(_) | OnPrompt::Wait => StdinMode::Piped,
                    OnPrompt::Fail => StdinMode::Null,
                }),
            ),
        };
        let mut request = SpawnRequest::new(command)
            .env(self.env.clone().merge(&agent.env()))
            .stdin(stdin)
            .durable(self.durable);
        request.labels.extend(self.labels.clone());
        request.cwd.clone_from(&self.cwd);
        request.terminal = self.terminal;
        request.grace = self.grace;
        Ok(Launch { request, input })
    }

    /// An observer for `agent`'s stop sequences and failure patterns under
    /// this policy.
    ///
    /// # Errors
    ///
    /// A [`PatternError`] naming the first pattern that cannot be used.
    pub fn observer(&self, agent: &dyn Agent) -> Result<Observer, PatternError> {
        let observer = Observer::new(
            &agent.stop_sequences(),
            &agent.failure_patterns(),
            self.policy.clone(),
        )?;
        match self.terminal {
            Some(size) => observer.terminal(size),
            None => Ok(observer),
        }
    }
}

/// What [`RunOptions::launch`] builds: the request to spawn, and the
/// prompt to write to the process's standard input (then closed) when the
/// prompt goes there rather than in argv.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Launch {
    /// The spawn request.
    pub request: SpawnRequest,
    /// Bytes for standard input, followed by end-of-file; `None` when the
    /// prompt is in the command line.
    pub input: Option<Vec<u8>>,
}

/// Runs an agent on a runtime and watches it.
///
/// A `Sentinel` holds the runtime, the agent and the [`RunOptions`]; each
/// [`start`](Self::start) spawns the agent once, for one prompt, and returns
/// the [`Run`] that watches it.
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
/// use logist_core::{Agent, Environment, Runtime};
/// use logist_sentinel::{Event, OnPrompt, Policy, RunOptions, Sentinel};
///
/// fn review(runtime: Arc<dyn Runtime>, agent: Arc<dyn Agent>) -> Result<(), Box<dyn std::error::Error>> {
///     let options = RunOptions::new()
///         .env(Environment::clean().pass("PATH").pass("HOME"))
///         .cwd("/src/project")
///         .policy(
///             Policy::new()
///                 .timeout(Duration::from_secs(15 * 60))
///                 .idle_timeout(Duration::from_secs(120))
///                 .on_prompt(OnPrompt::Fail),
///         );
///     let sentinel = Sentinel::new(runtime, agent, options);
///     let mut run = sentinel.start("Review the last commit")?;
///     let cancel = run.cancel_handle(); // usable from another thread
///     for event in &mut run {
///         match event {
///             Event::Output(chunk) => print!("{}", String::from_utf8_lossy(&chunk.data)),
///             Event::WaitingForInput { matched, .. } => eprintln!("agent asks: {}", matched.text),
///             Event::Finished(outcome) => eprintln!("{outcome}"),
///             _ => {}
///         }
///     }
///     # drop(cancel);
///     Ok(())
/// }
/// ```
pub struct Sentinel {
    runtime: Arc<dyn Runtime>,
    agent: Arc<dyn Agent>,
    options: RunOptions,
}

impl fmt::Debug for Sentinel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sentinel")
            .field("runtime", &self.runtime.name())
            .field("agent", &self.agent.name())
            .field("options", &self.options)
            .finish()
    }
}

impl Sentinel {
    /// Runs `agent` on `runtime` with `options`.
    pub fn new(runtime: Arc<dyn Runtime>, agent: Arc<dyn Agent>, options: RunOptions) -> Self {
        Self {
            runtime,
            agent,
            options,
        }
    }

    /// The options.
    pub fn options(&self) -> &RunOptions {
        &self.options
    }

    /// Checks the agent's patterns, spawns it for `prompt` and returns the
    /// run watching it. A spawn failure (or a prompt the agent cannot pass)
    /// is not an error here: the run's outcome is [`Outcome::FailedToStart`].
    ///
    /// # Errors
    ///
    /// A [`PatternError`] when a stop sequence or failure pattern cannot be
    /// used; nothing is spawned then.
    pub fn start(&self, prompt: &str) -> Result<Run, PatternError> {
        let mut observer = self.options.observer(self.agent.as_ref())?;
        let spawned = self
            .options
            .launch(self.agent.as_ref(), prompt)
            .and_then(|launch| {
                let id = self.runtime.spawn(&launch.request)?;
                if let Some(input) = launch.input {
                    feed_stdin(&self.runtime, &id, input)?;
                }
                Ok(id)
            });
        let id = match spawned {
            Ok(id) => {
                tracing::debug!(%id, agent = self.agent.name(), "sentinel: spawned");
                observer.spawned(id.clone(), Instant::now());
                Some(id)
            }
            Err(error) => {
                tracing::debug!(%error, agent = self.agent.name(), "sentinel: spawn failed");
                observer.failed_to_start(error);
                None
            }
        };
        let cancel = Arc::new(CancelState {
            runtime: Arc::clone(&self.runtime),
            inner: Mutex::new(CancelInner {
                requested: false,
                stopping: false,
                finished: id.is_none(),
                id: id.clone(),
            }),
        });
        Ok(Run {
            runtime: Arc::clone(&self.runtime),
            agent: Arc::clone(&self.agent),
            observer,
            id,
            next: 0,
            output_done: false,
            cancel,
            cancel_seen: false,
            outcome: None,
        })
    }

    /// Starts the agent and watches it to the end in this thread, calling
    /// `on_event` for each event as it happens (the last one is
    /// [`Event::Finished`]), and returns the outcome.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub fn run(
        &self,
        prompt: &str,
        mut on_event: impl FnMut(&Event),
    ) -> Result<Outcome, PatternError> {
        let mut run = self.start(prompt)?;
        for event in run.by_ref() {
            on_event(&event);
        }
        Ok(run.finish())
    }
}

/// Writes the prompt to the process's standard input and closes it, on a
/// thread of its own: a prompt larger than the pipe's buffer blocks until
/// the agent reads it, and the run must not wait for that. The write ends
/// when the agent has read everything, exits, or is terminated.
fn feed_stdin(runtime: &Arc<dyn Runtime>, id: &ProcessId, input: Vec<u8>) -> Result<(), Error> {
    let writer = {
        let (runtime, id) = (Arc::clone(runtime), id.clone());
        move || {
            let fed = runtime
                .write_stdin(&id, &input)
                .and_then(|()| runtime.close_stdin(&id));
            // The agent stopped reading (it exited or was stopped): its
            // outcome says what happened, not this write.
            if let Err(error) = fed {
                tracing::debug!(%id, %error, "sentinel: prompt not fully written to stdin");
            }
        }
    };
    match std::thread::Builder::new()
        .name("logist-sentinel-stdin".to_owned())
        .spawn(writer)
    {
        Ok(_) => Ok(()),
        Err(error) => {
            // Nothing would ever give the agent its prompt.
            let _ = runtime.terminate(id, true);
            Err(Error::io(
                "starting the thread that writes the prompt",
                error,
            ))
        }
    }
}

/// One agent being watched: an iterator over its [`Event`]s.
///
/// Iterating drives everything in the caller's thread: each call blocks in
/// [`Runtime::read_output`] until output arrives or the observer's next
/// deadline passes (no polling: a silent agent costs no CPU), and returns
/// the events in order. Actions (terminating, answering) are performed on
/// the call after the event that caused them was returned, so a prompt is
/// reported before the termination's grace period is spent. The last event
/// is [`Event::Finished`]; the iterator ends after it.
///
/// When the agent exits but processes it started keep its output open,
/// the runtime ends the output after a short leak window; the run then
/// stops those processes and reports [`Event::OutputLeaked`], so that
/// nothing of the agent outlives its run.
///
/// Dropping an unfinished run terminates the agent (politely, waiting for
/// the grace period at most). The process stays known to the runtime after
/// the run, so its logs can still be read; remove it with
/// [`Runtime::remove`] when done.
pub struct Run {
    runtime: Arc<dyn Runtime>,
    agent: Arc<dyn Agent>,
    observer: Observer,
    id: Option<ProcessId>,
    next: u64,
    output_done: bool,
    cancel: Arc<CancelState>,
    cancel_seen: bool,
    outcome: Option<Outcome>,
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run")
            .field("runtime", &self.runtime.name())
            .field("agent", &self.agent.name())
            .field("id", &self.id)
            .field("next", &self.next)
            .field("observer", &self.observer)
            .finish_non_exhaustive()
    }
}

impl Run {
    /// The runtime's id for the agent, unless it failed to start.
    pub fn id(&self) -> Option<&ProcessId> {
        self.id.as_ref()
    }

    /// The outcome, once [`Event::Finished`] was returned.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// A handle that cancels the run from any thread.
    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle {
            state: Arc::clone(&self.cancel),
        }
    }

    /// Watches the agent to the end, discarding the remaining events, and
    /// returns the outcome.
    pub fn finish(mut self) -> Outcome {
        for _ in self.by_ref() {}
        match self
            .outcome
            .take()
            .or_else(|| self.observer.outcome().cloned())
        {
            Some(outcome) => outcome,
            // Not reachable: the iterator ends only after `Finished`.
            None => Outcome::RuntimeFailed {
                error: Arc::new(Error::io(
                    "watching the agent",
                    std::io::Error::other("the run ended without an outcome"),
                )),
            },
        }
    }

    /// One blocking step: a read, or the final wait.
    fn step(&mut self) {
        let Some(id) = self.id.clone() else {
            // Not reachable: without a process the observer is finished.
            self.observer.failed_to_start(Error::io(
                "starting the agent",
                std::io::Error::other("no process to watch"),
            ));
            return;
        };
        if !self.cancel_seen && self.cancel.stopping() {
            self.cancel_seen = true;
            self.observer.cancelled();
            return;
        }
        if self.output_done {
            match self.runtime.wait(&id, None) {
                Ok(completion) => {
                    if completion.output_leaked {
                        // The agent is gone but processes it started still
                        // hold its output: a run leaves nothing running.
                        if let Err(error) = self.runtime.terminate(&id, false) {
                            self.observer.runtime_failed(error);
                            return;
                        }
                        self.observer.output_leaked();
                    }
                    self.observer.exited(completion.status, Instant::now());
                }
                Err(error) => self.fail(&id, error),
            }
            return;
        }
        let timeout = self
            .observer
            .deadline()
            .map(|at| at.saturating_duration_since(Instant::now()));
        match self.runtime.read_output(&id, self.next, timeout) {
            Ok(read) => {
                let now = Instant::now();
                self.observer.missed(read.missed, now);
                for chunk in &read.chunks {
                    self.observer.output(chunk, now);
                }
                self.next = self.next.max(read.next);
                if read.finished {
                    self.output_done = true;
                    self.observer.output_ended(now);
                }
                self.observer.tick(now);
            }
            Err(error) => self.fail(&id, error),
        }
    }

    fn perform(&mut self, action: Action) {
        let Some(id) = self.id.clone() else {
            return;
        };
        match action {
            Action::Write(bytes) => match self.runtime.write_stdin(&id, &bytes) {
                Ok(()) => self.observer.written(Instant::now()),
                Err(error) => self.observer.write_failed(error),
            },
            Action::Terminate => {
                if let Err(error) = self.runtime.terminate(&id, false) {
                    if let Err(again) = self.runtime.terminate(&id, true) {
                        tracing::warn!(%id, error = %again, "sentinel: forced termination failed");
                    }
                    self.observer.runtime_failed(error);
                }
            }
            Action::FetchVerdict { lines } => {
                let verdict = match self
                    .runtime
                    .get_stream_logs(&id, Stream::Stdout, Some(lines))
                {
                    Ok(logs) => self.agent.verdict(logs.bytes()),
                    Err(error) => {
                        tracing::warn!(%id, %error, "sentinel: cannot read the output tail for the verdict");
                        None
                    }
                };
                self.observer.verdict(verdict);
            }
        }
    }

    /// The runtime failed: stop whatever may still run, and end the run.
    fn fail(&mut self, id: &ProcessId, error: Error) {
        if let Err(again) = self.runtime.terminate(id, false) {
            tracing::debug!(%id, error = %again, "sentinel: termination after a runtime error failed");
        }
        self.observer.runtime_failed(error);
    }
}

impl Iterator for Run {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.observer.poll_event() {
                if let Event::Finished(outcome) = &event {
                    self.outcome = Some(outcome.clone());
                    self.cancel.finished();
                }
                return Some(event);
            }
            if let Some(action) = self.observer.poll_action() {
                self.perform(action);
                continue;
            }
            if self.observer.is_finished() {
                return None;
            }
            self.step();
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.cancel.finished();
        if self.observer.is_finished() {
            return;
        }
        if let Some(id) = &self.id
            && let Err(error) = self.runtime.terminate(id, false)
        {
            tracing::warn!(%id, %error, "sentinel: cannot terminate the agent of a dropped run");
        }
    }
}

/// Cancels a [`Run`] from another thread.
///
/// [`cancel`](Self::cancel) terminates the agent through the runtime, which
/// ends the run's blocking read; the run's outcome is then
/// [`Outcome::Cancelled`], unless the run had already decided to stop the
/// agent for another reason. A cancel that comes after the agent exited
/// by itself (even if the run has not read its exit yet) stops nothing and
/// changes nothing: the run ends as the agent did.
#[derive(Clone)]
pub struct CancelHandle {
    state: Arc<CancelState>,
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.state.lock();
        f.debug_struct("CancelHandle")
            .field("id", &inner.id)
            .field("requested", &inner.requested)
            .field("stopping", &inner.stopping)
            .field("finished", &inner.finished)
            .finish()
    }
}

impl CancelHandle {
    /// Stops the run: when the agent is still running, terminates it
    /// (SIGTERM to its tree, SIGKILL after the grace period) and blocks
    /// until it has exited, as [`Runtime::terminate`] does. Returns true
    /// when it found the agent running (the outcome will be
    /// [`Outcome::Cancelled`] unless the run was already stopping it for
    /// another reason), false when there was nothing to stop: the run had
    /// finished, or the agent had exited by itself. Calling it twice is
    /// fine.
    ///
    /// # Errors
    ///
    /// What [`Runtime::is_alive`] and [`Runtime::terminate`] return.
    pub fn cancel(&self) -> Result<bool, Error> {
        let id = {
            let mut inner = self.state.lock();
            inner.requested = true;
            let Some(id) = inner.id.clone().filter(|_| !inner.finished) else {
                return Ok(false);
            };
            // Decided under the lock, so that the run never sees a
            // cancellation before it is known whether it stops anything.
            if !inner.stopping && !self.state.runtime.is_alive(&id)? {
                return Ok(false);
            }
            inner.stopping = true;
            id
        };
        self.state.runtime.terminate(&id, false)?;
        Ok(true)
    }

    /// True once [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.state.requested()
    }
}

struct CancelState {
    runtime: Arc<dyn Runtime>,
    inner: Mutex<CancelInner>,
}

struct CancelInner {
    /// `cancel` was called.
    requested: bool,
    /// `cancel` found the agent running and is stopping it.
    stopping: bool,
    /// The run is over: nothing to stop any more.
    finished: bool,
    id: Option<ProcessId>,
}

impl CancelState {
    fn lock(&self) -> MutexGuard<'_, CancelInner> {
        // The guarded data is plain fields, valid even if a holder
        // panicked.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn requested(&self) -> bool {
        self.lock().requested
    }

    fn stopping(&self) -> bool {
        self.lock().stopping
    }

    fn finished(&self) {
        self.lock().finished = true;
    }
}
