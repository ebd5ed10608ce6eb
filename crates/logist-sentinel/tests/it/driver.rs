//! The parts of the driver that need no runtime: the spawn request, the
//! observer built from an agent, and the thread-safety of the public types.
//! The driver's loop against real runtimes is tested in phase 2, with
//! `logist-mock` and `logist-runtime-host`.

use std::path::PathBuf;
use std::time::Duration;

use logist_core::{
    Agent, CommandLine, Environment, Error, FailureCause, FailurePattern, Pattern, StdinMode,
    StopSequence, TerminalSize,
};
use logist_sentinel::{
    CancelHandle, Event, Observer, OnPrompt, Outcome, PatternError, PatternList, Policy, Run,
    RunOptions, Sentinel,
};

/// An agent described by data.
struct TestAgent {
    stops: Vec<StopSequence>,
    failures: Vec<FailurePattern>,
}

impl TestAgent {
    fn new() -> Self {
        Self {
            stops: vec![StopSequence::literal("[y/N]")],
            failures: vec![FailurePattern::new(
                FailureCause::RateLimited,
                Pattern::regex(r"\b429\b"),
            )],
        }
    }
}

impl Agent for TestAgent {
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        CommandLine::new(["agent", "--print", "--", prompt])
    }
    fn env(&self) -> Environment {
        Environment::inherit()
            .set("NO_COLOR", "1")
            .pass("AGENT_API_KEY")
            .unset("DEBUG")
    }
    fn stop_sequences(&self) -> Vec<StopSequence> {
        self.stops.clone()
    }
    fn name(&self) -> &str {
        "test"
    }
    fn version(&self) -> &str {
        "1"
    }
    fn failure_patterns(&self) -> Vec<FailurePattern> {
        self.failures.clone()
    }
}

#[test]
fn spawn_request_merges_the_agent_into_the_options() {
    let options = RunOptions::new()
        .env(Environment::clean().pass("PATH").set("NO_COLOR", "0"))
        .cwd("/work/project")
        .label("job", "7")
        .terminal(TerminalSize {
            rows: 40,
            cols: 120,
        })
        .grace(Duration::from_millis(300));
    let request = options
        .spawn_request(&TestAgent::new(), "-rf $(x)")
        .unwrap();
    assert_eq!(
        request.command.argv(),
        ["agent", "--print", "--", "-rf $(x)"]
    );
    assert!(!request.env.inherits(), "the caller's base is kept");
    assert_eq!(request.env.vars()["NO_COLOR"], "1", "the agent wins");
    assert!(request.env.passed().contains("PATH"));
    assert!(request.env.passed().contains("AGENT_API_KEY"));
    assert!(request.env.unset_names().contains("DEBUG"));
    assert_eq!(request.labels["job"], "7");
    assert_eq!(request.cwd, Some(PathBuf::from("/work/project")));
    assert_eq!(
        request.terminal,
        Some(TerminalSize {
            rows: 40,
            cols: 120
        })
    );
    assert_eq!(request.grace, Some(Duration::from_millis(300)));
    assert_eq!(request.stdin, StdinMode::Null);
}

#[test]
fn stdin_is_piped_when_someone_may_answer() {
    let stdin = |on_prompt, chosen: Option<StdinMode>| {
        let mut options = RunOptions::new().policy(Policy::new().on_prompt(on_prompt));
        if let Some(mode) = chosen {
            options = options.stdin(mode);
        }
        options.spawn_request(&TestAgent::new(), "p").unwrap().stdin
    };
    assert_eq!(stdin(OnPrompt::Fail, None), StdinMode::Null);
    assert_eq!(stdin(OnPrompt::Wait, None), StdinMode::Piped);
    assert_eq!(
        stdin(OnPrompt::Answer("y\n".into()), None),
        StdinMode::Piped
    );
    assert_eq!(
        stdin(OnPrompt::Wait, Some(StdinMode::Null)),
        StdinMode::Null
    );
    assert_eq!(
        stdin(OnPrompt::Fail, Some(StdinMode::Piped)),
        StdinMode::Piped
    );
}

#[test]
fn a_prompt_the_agent_cannot_pass_is_an_error() {
    let error = RunOptions::new()
        .spawn_request(&TestAgent::new(), "a\0b")
        .unwrap_err();
    assert!(matches!(error, Error::InvalidCommand { .. }), "{error}");
}

#[test]
fn the_observer_checks_the_agents_patterns() {
    let mut agent = TestAgent::new();
    assert!(RunOptions::new().observer(&agent).is_ok());
    agent.failures.push(FailurePattern::new(
        FailureCause::AuthFailed,
        Pattern::regex("(unclosed"),
    ));
    let error = RunOptions::new().observer(&agent).unwrap_err();
    assert!(
        matches!(
            &error,
            PatternError::InvalidRegex { list: PatternList::FailurePatterns, index: 1, pattern, .. }
                if pattern.pattern() == "(unclosed"
        ),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "failure pattern 1: invalid regular expression /(unclosed/"
    );
}

#[test]
fn public_types_cross_threads() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<Observer>();
    send::<Run>();
    send_sync::<Sentinel>();
    send_sync::<CancelHandle>();
    send_sync::<Event>();
    send_sync::<Outcome>();
    send_sync::<RunOptions>();
}
