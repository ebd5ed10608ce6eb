//! Helpers for the driver tests: agents described by data (a shell script,
//! a registered mock script, the mock agent with a verdict), runtimes with
//! short grace periods, and [`Record`], everything a run reported.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use logist_core::{
    Agent, CommandLine, Environment, Error, FailurePattern, ProcessId, PromptOnStdin, Runtime,
    StopSequence, Stream, Verdict,
};
use logist_mock::{INTERACTIVE_STOP, MockAgent, Scenario};
use logist_runtime_host::HostRuntime;
use logist_sentinel::{Event, Match, Outcome, Policy, Run, RunOptions, Sentinel};
pub(crate) use logist_testing::pid_alive;
use logist_testing::{NoSurvivors, mock_agent, mock_program};

/// The grace period of every test runtime: long enough for a shell to act
/// on SIGTERM, short enough to keep the tests fast.
pub(crate) const GRACE: Duration = Duration::from_millis(300);

/// How long a test waits for something that should take milliseconds.
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

/// A host runtime with a short grace period and leak window.
pub(crate) fn host() -> Arc<dyn Runtime> {
    Arc::new(
        HostRuntime::builder()
            .grace(GRACE)
            .leak_window(Duration::from_millis(200))
            .build()
            .expect("build a HostRuntime"),
    )
}

/// The mock agent playing `scenario`, its program found or built.
pub(crate) fn mock(scenario: Scenario) -> MockAgent {
    mock_agent(scenario).expect("the mock agent program")
}

/// Options whose environment carries the guard's tag, so that anything the
/// run leaves behind is found.
pub(crate) fn tagged(guard: &NoSurvivors, policy: Policy) -> RunOptions {
    RunOptions::new()
        .env(guard.tag_env(Environment::inherit()))
        .policy(policy)
}

/// An agent that runs `sh -c SCRIPT sh PROMPT`, with the mock agent's stop
/// sequence (`[y/N]`) and failure patterns. The script finds the mock agent
/// program in `$MOCK`. [`stdin_prompt`](Self::stdin_prompt) offers the
/// prompt on stdin too (`sh -c SCRIPT sh`, no `$1`).
pub(crate) struct ShellAgent {
    script: String,
    stops: Vec<StopSequence>,
    stdin_prompt: bool,
}

impl ShellAgent {
    pub(crate) fn new(script: &str) -> Self {
        Self {
            script: script.to_owned(),
            stops: vec![StopSequence::literal(INTERACTIVE_STOP)],
            stdin_prompt: false,
        }
    }

    pub(crate) fn stdin_prompt(mut self) -> Self {
        self.stdin_prompt = true;
        self
    }
}

impl Agent for ShellAgent {
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        CommandLine::new(["sh", "-c", &self.script, "sh", prompt])
    }
    fn prompt_on_stdin(&self, prompt: &str) -> Result<Option<PromptOnStdin>, Error> {
        if !self.stdin_prompt {
            return Ok(None);
        }
        let command = CommandLine::new(["sh", "-c", &self.script, "sh"])?;
        Ok(Some(PromptOnStdin::new(command, prompt)))
    }
    fn env(&self) -> Environment {
        let mock = mock_program().expect("the mock agent program");
        Environment::inherit().set("MOCK", mock.to_string_lossy())
    }
    fn stop_sequences(&self) -> Vec<StopSequence> {
        self.stops.clone()
    }
    fn name(&self) -> &str {
        "sh"
    }
    fn version(&self) -> &str {
        "1"
    }
    fn failure_patterns(&self) -> Vec<FailurePattern> {
        MockAgent::new(Scenario::Success).failure_patterns()
    }
}

/// An agent whose program is a name registered on a `MockRuntime`, with
/// stop sequences and failure patterns given as data.
pub(crate) struct ScriptAgent {
    pub(crate) program: &'static str,
    pub(crate) stops: Vec<StopSequence>,
    pub(crate) failures: Vec<FailurePattern>,
}

impl ScriptAgent {
    pub(crate) fn new(program: &'static str, stops: Vec<StopSequence>) -> Self {
        Self {
            program,
            stops,
            failures: Vec::new(),
        }
    }
}

impl Agent for ScriptAgent {
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        CommandLine::new([self.program, prompt])
    }
    fn env(&self) -> Environment {
        Environment::inherit()
    }
    fn stop_sequences(&self) -> Vec<StopSequence> {
        self.stops.clone()
    }
    fn name(&self) -> &str {
        self.program
    }
    fn version(&self) -> &str {
        "1"
    }
    fn failure_patterns(&self) -> Vec<FailurePattern> {
        self.failures.clone()
    }
}

/// The mock agent with a verdict of the test's choosing, remembering the
/// stdout tail it was given.
pub(crate) struct VerdictAgent {
    inner: MockAgent,
    verdict: Option<Verdict>,
    pub(crate) tails: Mutex<Vec<Vec<u8>>>,
}

impl VerdictAgent {
    pub(crate) fn new(inner: MockAgent, verdict: Option<Verdict>) -> Self {
        Self {
            inner,
            verdict,
            tails: Mutex::new(Vec::new()),
        }
    }
}

impl Agent for VerdictAgent {
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        self.inner.cmd(prompt)
    }
    fn env(&self) -> Environment {
        self.inner.env()
    }
    fn stop_sequences(&self) -> Vec<StopSequence> {
        self.inner.stop_sequences()
    }
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn version(&self) -> &str {
        self.inner.version()
    }
    fn failure_patterns(&self) -> Vec<FailurePattern> {
        self.inner.failure_patterns()
    }
    fn verdict(&self, stdout_tail: &[u8]) -> Option<Verdict> {
        self.tails.lock().unwrap().push(stdout_tail.to_vec());
        self.verdict.clone()
    }
}

/// Everything a run reported, in order.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) id: Option<ProcessId>,
    pub(crate) events: Vec<Event>,
    pub(crate) outcome: Outcome,
}

impl Record {
    /// Drains `run` to its end.
    pub(crate) fn of(mut run: Run) -> Self {
        let id = run.id().cloned();
        let events: Vec<Event> = run.by_ref().collect();
        let outcome = run.finish();
        Self {
            id,
            events,
            outcome,
        }
    }

    /// Starts `agent` on `runtime` and watches it to the end.
    pub(crate) fn run(
        runtime: &Arc<dyn Runtime>,
        agent: Arc<dyn Agent>,
        options: RunOptions,
        prompt: &str,
    ) -> Self {
        Self::of(start(runtime, agent, options, prompt))
    }

    pub(crate) fn id(&self) -> &ProcessId {
        self.id.as_ref().expect("the agent was started")
    }

    /// The bytes of every output event, of one stream or (`None`) all.
    pub(crate) fn output(&self, stream: Option<Stream>) -> Vec<u8> {
        self.events
            .iter()
            .filter_map(|event| match event {
                Event::Output(chunk) if stream.is_none_or(|s| s == chunk.stream) => {
                    Some(chunk.data.as_slice())
                }
                _ => None,
            })
            .flatten()
            .copied()
            .collect()
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.output(None)).into_owned()
    }

    pub(crate) fn prompts(&self) -> Vec<&Match> {
        self.events
            .iter()
            .filter_map(|event| match event {
                Event::WaitingForInput { matched, .. } => Some(matched),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn answers(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|event| match event {
                Event::Answered { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The kind of each event, runs of output (and missed output) shown
    /// once: `started output waiting answered output exited finished`.
    pub(crate) fn kinds(&self) -> String {
        let mut kinds: Vec<&str> = Vec::new();
        for event in &self.events {
            let kind = kind(event);
            if kind == "output" && kinds.last() == Some(&"output") {
                continue;
            }
            kinds.push(kind);
        }
        kinds.join(" ")
    }

    /// Like [`kinds`](Self::kinds) without output, for runs whose output
    /// may or may not go on after a decision (a termination takes time).
    pub(crate) fn milestones(&self) -> String {
        self.kinds()
            .split(' ')
            .filter(|kind| *kind != "output")
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Starts `agent` on `runtime`, for tests that drive the run by hand.
pub(crate) fn start(
    runtime: &Arc<dyn Runtime>,
    agent: Arc<dyn Agent>,
    options: RunOptions,
    prompt: &str,
) -> Run {
    let sentinel = Sentinel::new(Arc::clone(runtime), agent, options);
    sentinel.start(prompt).expect("valid patterns")
}

/// Pulls events from `run` until one satisfies `wanted`, and returns the
/// events pulled, that one last.
#[track_caller]
pub(crate) fn until(run: &mut Run, mut wanted: impl FnMut(&Event) -> bool) -> Vec<Event> {
    let mut seen = Vec::new();
    for event in run.by_ref() {
        let found = wanted(&event);
        seen.push(event);
        if found {
            return seen;
        }
    }
    panic!("the run ended without the event: {seen:#?}");
}

/// Waits, polling, until `condition` holds; fails after [`PATIENCE`].
#[track_caller]
pub(crate) fn eventually(what: &str, condition: impl Fn() -> bool) {
    logist_testing::eventually_within(PATIENCE, what, condition);
}

/// A short name for an event's variant.
pub(crate) fn kind(event: &Event) -> &'static str {
    match event {
        Event::Started { .. } => "started",
        Event::Output(_) => "output",
        Event::Missed { .. } => "missed",
        Event::WaitingForInput { .. } => "waiting",
        Event::FailureRecognised { .. } => "failure",
        Event::Answered { .. } => "answered",
        Event::AnswerFailed { .. } => "answer-failed",
        Event::Idle { .. } => "idle",
        Event::TimedOut { .. } => "timed-out",
        Event::OutputLeaked => "leaked",
        Event::Exited { .. } => "exited",
        Event::Finished(_) => "finished",
        _ => "other",
    }
}

/// The numbers following `name=` in `text`, in order.
pub(crate) fn numbers_after(text: &str, name: &str) -> Vec<u32> {
    let key = format!("{name}=");
    text.match_indices(&key)
        .filter_map(|(at, _)| {
            let digits: String = text[at + key.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .collect()
}
