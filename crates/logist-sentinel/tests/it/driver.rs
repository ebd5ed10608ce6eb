//! The parts of the driver that need no runtime: the spawn request, the
//! observer built from an agent, and the thread-safety of the public types.
//! The driver's loop against real runtimes is tested in phase 2, with
//! `logist-mock` and `logist-runtime-host`.

use std::path::PathBuf;
use std::time::Duration;

use logist_core::{
    Agent, CommandLine, Environment, Error, FailureCause, FailurePattern, Pattern, PromptOnStdin,
    StdinMode, StopSequence, TerminalSize,
};
use logist_sentinel::{
    CancelHandle, Event, Observer, OnPrompt, Outcome, PatternError, PatternList, Policy, Run,
    RunOptions, Sentinel,
};

/// An agent described by data.
struct TestAgent {
    stops: Vec<StopSequence>,
    failures: Vec<FailurePattern>,
    reads_stdin: bool,
    answers_on_pipe: bool,
}

impl TestAgent {
    fn new() -> Self {
        Self {
            stops: vec![StopSequence::literal("[y/N]")],
            failures: vec![FailurePattern::new(
                FailureCause::RateLimited,
                Pattern::regex(r"\b429\b"),
            )],
            reads_stdin: false,
            answers_on_pipe: true,
        }
    }

    /// The agent also offers its prompt on stdin.
    fn reading_stdin() -> Self {
        Self {
            reads_stdin: true,
            ..Self::new()
        }
    }
}

impl Agent for TestAgent {
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        CommandLine::new(["agent", "--print", "--", prompt])
    }
    fn prompt_on_stdin(&self, prompt: &str) -> Result<Option<PromptOnStdin>, Error> {
        if !self.reads_stdin {
            return Ok(None);
        }
        let command = CommandLine::new(["agent", "--print", "-"])?;
        Ok(Some(PromptOnStdin::new(command, prompt)))
    }
    fn answers_on_pipe(&self) -> bool {
        self.answers_on_pipe
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
fn launch_merges_the_agent_into_the_options() {
    let options = RunOptions::new()
        .env(Environment::clean().pass("PATH").set("NO_COLOR", "0"))
        .cwd("/work/project")
        .label("job", "7")
        .terminal(TerminalSize {
            rows: 40,
            cols: 120,
        })
        .grace(Duration::from_millis(300));
    let launch = options.launch(&TestAgent::new(), "-rf $(x)").unwrap();
    assert_eq!(launch.input, None);
    let request = launch.request;
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
fn an_agent_answerable_only_on_a_terminal_is_refused_a_pipe_for_answers() {
    let agent = TestAgent {
        answers_on_pipe: false,
        ..TestAgent::reading_stdin()
    };
    let options = |on_prompt| RunOptions::new().policy(Policy::new().on_prompt(on_prompt));
    for on_prompt in [OnPrompt::Wait, OnPrompt::Answer("y\n".into())] {
        let error = options(on_prompt.clone())
            .launch(&agent, "fix it")
            .expect_err("nobody could answer over the pipe");
        assert!(
            matches!(
                &error,
                Error::InvalidCommand {
                    problem: logist_core::CommandProblem::AnswersOnlyOnTerminal { program },
                } if program == "test"
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("terminal"), "{error}");
        // On a terminal the answers go to the program's screen.
        let launch = options(on_prompt)
            .terminal(TerminalSize { rows: 24, cols: 80 })
            .launch(&agent, "fix it")
            .unwrap();
        assert_eq!(
            launch.request.command.argv(),
            ["agent", "--print", "--", "fix it"]
        );
    }
    // When nobody answers, the prompt goes on stdin and the pipe closes.
    let launch = options(OnPrompt::Fail).launch(&agent, "fix it").unwrap();
    assert_eq!(launch.input.as_deref(), Some(&b"fix it"[..]));
}

#[test]
fn stdin_is_piped_when_someone_may_answer() {
    let stdin = |on_prompt, chosen: Option<StdinMode>| {
        let mut options = RunOptions::new().policy(Policy::new().on_prompt(on_prompt));
        if let Some(mode) = chosen {
            options = options.stdin(mode);
        }
        options
            .launch(&TestAgent::new(), "p")
            .unwrap()
            .request
            .stdin
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
        .launch(&TestAgent::new(), "a\0b")
        .unwrap_err();
    assert!(matches!(error, Error::InvalidCommand { .. }), "{error}");
}

#[test]
fn the_prompt_goes_on_stdin_only_when_nothing_else_needs_stdin() {
    let prompt = "-rf \"$(x)\"\nsecond line";
    let piped = RunOptions::new()
        .launch(&TestAgent::reading_stdin(), prompt)
        .unwrap();
    assert_eq!(piped.request.command.argv(), ["agent", "--print", "-"]);
    assert_eq!(piped.request.stdin, StdinMode::Piped);
    assert_eq!(piped.input.as_deref(), Some(prompt.as_bytes()));
    // A prompt with a NUL byte cannot be an argument but can be input.
    let nul = RunOptions::new()
        .launch(&TestAgent::reading_stdin(), "a\0b")
        .unwrap();
    assert_eq!(nul.input.as_deref(), Some(b"a\0b".as_slice()));

    // Whoever answers prompts, a terminal and a stdin chosen by the caller
    // all need stdin: the prompt goes in argv then.
    let in_argv = |options: RunOptions, stdin: StdinMode| {
        let launch = options.launch(&TestAgent::reading_stdin(), prompt).unwrap();
        assert_eq!(launch.input, None);
        assert_eq!(
            launch.request.command.argv(),
            ["agent", "--print", "--", prompt]
        );
        assert_eq!(launch.request.stdin, stdin);
    };
    let policy = |on_prompt| RunOptions::new().policy(Policy::new().on_prompt(on_prompt));
    in_argv(policy(OnPrompt::Wait), StdinMode::Piped);
    in_argv(policy(OnPrompt::Answer("y\n".into())), StdinMode::Piped);
    in_argv(
        RunOptions::new().terminal(TerminalSize::default()),
        StdinMode::Null,
    );
    in_argv(RunOptions::new().stdin(StdinMode::Null), StdinMode::Null);
    in_argv(RunOptions::new().stdin(StdinMode::Piped), StdinMode::Piped);
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
