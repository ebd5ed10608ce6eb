//! `logist run` and `logist exec`: build the agent and the runtime, watch
//! the run with the sentinel, report, and choose the exit code.

use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use logist_agents::{AgentConfig, AgentError, Approval, registry};
use logist_core::{
    Agent, CommandLine, CommandProblem, Environment, Error, Pattern, Runtime, StdinMode,
    error_chain,
};
use logist_mock::{MockAgent, Scenario};
use logist_runtime_docker::{DockerHost, DockerRuntime, PROGRAM_DIR};
use logist_runtime_host::HostRuntime;
use logist_sentinel::{Event, OnPrompt, Outcome, Policy, Run, RunOptions, Sentinel};

use crate::cli::{self, ExecArgs, GenericQuestions, OnInput, RunArgs, RuntimeKind, Shared};
use crate::detach::Supervisor;
use crate::home;
use crate::interaction::{Attached, Interaction};
use crate::interrupt::Interrupt;
use crate::questions::Questions;
use crate::report::Reporter;
use crate::signals::Signals;
use crate::tailored::{Exec, Tailored};
use crate::terminal;
use crate::view::{Mode, View};
use crate::{CliError, exit};

/// Variables a `--clean-env` run still gets, so ordinary programs work.
const CLEAN_ENV_KEEPS: [&str; 7] = ["PATH", "HOME", "USER", "LANG", "LC_ALL", "TERM", "TMPDIR"];

/// `--detach` runs on this host, or on a `logist serve` server
/// (`--remote`), which keeps the run durable; not in a container.
pub(crate) fn check_detach(shared: &Shared, acp: bool) -> Result<(), CliError> {
    if !shared.detach {
        return Ok(());
    }
    if shared.runtime != RuntimeKind::Host {
        return Err(CliError::usage(
            "--detach runs on the host runtime (or a `logist serve` server with --remote) only",
        ));
    }
    if acp {
        return Err(CliError::usage("--detach does not apply to --acp"));
    }
    Ok(())
}

/// `logist run`.
pub(crate) fn run(args: RunArgs, signals: &Signals, state: Option<&Path>) -> Result<u8, CliError> {
    check_detach(&args.shared, args.acp.acp)?;
    let prompt = prompt(&args)?;
    // The run's prepared files live until the run is over.
    let (agent, _run_dir) = build_agent(&args, &prompt)?;
    // In a container, `--program` is a host file mounted into it.
    let mount = match args.shared.runtime {
        RuntimeKind::Docker => args.program.as_deref(),
        RuntimeKind::Host => None,
    };
    if args.acp.acp {
        return crate::acp::run(
            agent.as_ref(),
            &prompt,
            &args.shared,
            &args.acp,
            args.resume.as_deref(),
            mount,
            signals,
        );
    }
    check_on_input(&args.shared, !agent.stop_sequences().is_empty())?;
    supervise(
        agent,
        &prompt,
        &args.shared,
        mount,
        signals,
        Interaction {
            prompts_at_once: args.approval == Some(cli::Approval::Ask),
            ..Interaction::default()
        },
        state,
    )
}

/// `--on-input wait` or `answer=` with nothing that tells when the command
/// waits for input would never apply: a mistake.
fn check_on_input(shared: &Shared, can_match: bool) -> Result<(), CliError> {
    match &shared.on_input {
        Some(policy @ (OnInput::Wait | OnInput::Answer(_))) if !can_match => {
            let policy = match policy {
                OnInput::Answer(text) => format!("answer={text}"),
                _ => "wait".to_owned(),
            };
            Err(CliError::usage(format!(
                "--on-input {policy} would never apply: nothing tells when the command waits \
                 for input (give --stop or --stop-regex, or --generic-questions always)"
            )))
        }
        _ => Ok(()),
    }
}

/// The PROMPT argument, or the text of `--prompt-file` (`-`: stdin).
fn prompt(args: &RunArgs) -> Result<String, CliError> {
    let Some(path) = &args.prompt_file else {
        // clap requires one of the two.
        return Ok(args.prompt.clone().unwrap_or_default());
    };
    let (name, read) = if path.as_os_str() == "-" {
        let mut text = Vec::new();
        let read = std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut text);
        ("standard input".to_owned(), read.map(|_| text))
    } else {
        (format!("`{}`", path.display()), std::fs::read(path))
    };
    let bytes = read.map_err(|error| {
        CliError::usage(format!(
            "--prompt-file: cannot read {name}: {}",
            error_chain(&error)
        ))
    })?;
    String::from_utf8(bytes)
        .map_err(|_| CliError::usage(format!("--prompt-file: {name} is not UTF-8 text")))
}

/// `logist exec`.
pub(crate) fn exec(
    args: ExecArgs,
    signals: &Signals,
    state: Option<&Path>,
) -> Result<u8, CliError> {
    check_detach(&args.shared, false)?;
    let command = CommandLine::new(args.command.iter().cloned())
        .map_err(|error| CliError::usage(error_chain(&error).to_string()))?;
    let stops: Vec<Pattern> = args
        .stops
        .iter()
        .map(Pattern::literal)
        .chain(args.stop_regexes.iter().map(Pattern::regex))
        .collect();
    let generic_questions = match args.generic_questions {
        GenericQuestions::Auto => stops.is_empty() && !io::stdin().is_terminal(),
        GenericQuestions::Always => true,
        GenericQuestions::Never => false,
    };
    check_on_input(&args.shared, !stops.is_empty() || generic_questions)?;
    let agent: Box<dyn Agent> = Box::new(Exec::new(command, stops));
    supervise(
        Arc::new(tailor(agent, &args.shared)),
        "",
        &args.shared,
        None,
        signals,
        Interaction {
            relay_stdin: true,
            generic_questions,
            prompts_at_once: false,
        },
        state,
    )
}

/// The program to run: as given on the host, or, in a container, the path
/// where the runtime mounts the given host file.
fn program_path(args: &RunArgs) -> Result<Option<String>, CliError> {
    let Some(program) = &args.program else {
        return Ok(None);
    };
    match args.shared.runtime {
        RuntimeKind::Host => Ok(Some(program.to_string_lossy().into_owned())),
        RuntimeKind::Docker => {
            let name = program.file_name().ok_or_else(|| {
                CliError::usage(format!("--program `{}` is not a file", program.display()))
            })?;
            Ok(Some(format!("{PROGRAM_DIR}/{}", name.to_string_lossy())))
        }
    }
}

fn build_agent(
    args: &RunArgs,
    prompt: &str,
) -> Result<(Arc<dyn Agent>, Option<home::RunDir>), CliError> {
    let program = program_path(args)?;
    let agent: Tailored = match args.agent.as_str() {
        "mock" => {
            for (given, flag) in [
                (args.model.is_some(), "--model"),
                (args.base_url.is_some(), "--base-url"),
                (args.approval.is_some(), "--approval"),
                (args.resume.is_some(), "--resume"),
            ] {
                if given {
                    return Err(CliError::usage(format!(
                        "{flag} does not apply to the mock agent (it talks to no model)"
                    )));
                }
            }
            let scenario: Scenario = args.scenario.parse().map_err(|error| {
                CliError::usage(format!("{}; try --scenario success", error_chain(&error)))
            })?;
            // Like the agents that read a piped prompt, so big prompts work.
            let mock = MockAgent::new(scenario).stdin_prompt();
            match (&program, args.shared.runtime) {
                (Some(program), _) => tailor(Box::new(mock.program(program)), &args.shared),
                (None, RuntimeKind::Host) => {
                    tailor(Box::new(mock), &args.shared).relaunch(embedded_mock()?)
                }
                (None, RuntimeKind::Docker) => {
                    return Err(CliError::usage(
                        "the mock agent in a container needs a static build of logist-mock-agent: \
                         build it with `cargo xtask docker` and pass --program target/docker/logist-mock-agent",
                    ));
                }
            }
        }
        name => {
            let mut config = AgentConfig::new().args(args.agent_args.clone());
            if let Some(program) = &program {
                config = config.program(program);
            }
            if let Some(model) = &args.model {
                config = config.model(model);
            }
            if let Some(url) = &args.base_url {
                config = config.base_url(url);
            }
            // With --acp the session is continued over ACP (`session/load`
            // or `session/resume`), whatever the print mode can resume.
            if let Some(session) = args.resume.as_ref().filter(|_| !args.acp.acp) {
                config = config.resume(session);
            }
            if let Some(approval) = args.approval {
                config = config.approval(match approval {
                    cli::Approval::Ask => Approval::Ask,
                    cli::Approval::AutoEdit => Approval::AutoEdit,
                    cli::Approval::FullAuto => Approval::FullAuto,
                });
            }
            let adapter = registry::get(name, config).map_err(|error| match error {
                AgentError::UnknownAgent { .. } => CliError::usage(format!(
                    "unknown agent `{name}` (known: {}); see `logist agents`",
                    crate::list_agents::names().join(", ")
                )),
                other => CliError::usage(error_chain(&other).to_string()),
            })?;
            let on_host = args.shared.runtime == RuntimeKind::Host;
            let prepared = home::prepare(adapter, prompt, on_host)?;
            return Ok((Arc::new(tailor(prepared.agent, &args.shared)), prepared.dir));
        }
    };
    Ok((Arc::new(agent.extra_args(args.agent_args.clone())), None))
}

/// The command that runs the mock agent embedded in this binary.
fn embedded_mock() -> Result<Vec<String>, CliError> {
    let exe = std::env::current_exe().map_err(|error| {
        CliError::failed(format!(
            "cannot find the logist executable: {}",
            error_chain(&error)
        ))
    })?;
    let exe = exe
        .into_os_string()
        .into_string()
        .map_err(|path| CliError::failed(format!("the path of logist is not UTF-8: {path:?}")))?;
    Ok(vec![exe, crate::MOCK_AGENT_COMMAND.to_owned()])
}

/// Applies `--env` to the agent, so the command line wins over its defaults.
fn tailor(agent: Box<dyn Agent>, shared: &Shared) -> Tailored {
    let overrides = shared
        .env
        .iter()
        .fold(Environment::inherit(), |env, (name, value)| {
            env.set(name, value)
        });
    Tailored::new(agent).env(overrides)
}

pub(crate) fn base_env(shared: &Shared) -> Environment {
    let mut env = if shared.clean_env {
        CLEAN_ENV_KEEPS
            .iter()
            .fold(Environment::clean(), |env, name| env.pass(*name))
    } else {
        Environment::inherit()
    };
    for name in &shared.pass {
        env = env.pass(name);
    }
    env
}

fn policy(shared: &Shared) -> Policy {
    let mut policy = Policy::new().on_prompt(match on_input(shared) {
        OnInput::Fail => OnPrompt::Fail,
        OnInput::Wait => OnPrompt::Wait,
        OnInput::Answer(text) => OnPrompt::Answer(format!("{text}\n")),
    });
    if let Some(timeout) = shared.timeout {
        policy = policy.timeout(timeout);
    }
    if let Some(idle) = shared.idle_timeout {
        policy = policy.idle_timeout(idle);
    }
    policy
}

/// Where `--log-file` is written first (the runtime's log directory: the
/// file's own directory, so that renaming it is atomic).
fn log_dir(path: &Path) -> Result<PathBuf, CliError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(CliError::usage(format!(
            "cannot write --log-file `{}`: `{}` is not a directory",
            path.display(),
            dir.display()
        )));
    }
    Ok(dir)
}

pub(crate) fn build_runtime(
    shared: &Shared,
    program: Option<&Path>,
) -> Result<Arc<dyn Runtime>, CliError> {
    if let Some(url) = &shared.remote {
        return crate::serve::remote_runtime(url, shared);
    }
    if shared.runtime != RuntimeKind::Docker && shared.image.is_some() {
        return Err(CliError::usage("--image needs --runtime docker"));
    }
    match shared.runtime {
        RuntimeKind::Host => {
            // Its keeper (a forked helper, the parent and subreaper of
            // every command) kills the command's whole tree when logist
            // ends, however it ends: escapees that left the process group
            // and cleared their environment included.
            let mut builder = HostRuntime::builder()
                // Every byte is passed through: a slow reader of logist's
                // output slows the command instead of losing bytes.
                .backpressure(true)
                .grace(shared.grace);
            if let Some(path) = &shared.log_file {
                builder = builder.log_dir(log_dir(path)?);
            }
            let runtime = builder.build().map_err(|error| {
                CliError::failed(format!(
                    "cannot start the host runtime: {}",
                    error_chain(&error)
                ))
            })?;
            Ok(Arc::new(runtime))
        }
        RuntimeKind::Docker => {
            let image = shared
                .image
                .as_deref()
                .ok_or_else(|| CliError::usage("--runtime docker needs --image IMAGE"))?;
            let host = DockerHost::from_env()
                .map_err(|error| CliError::usage(error_chain(&error).to_string()))?;
            let mut builder = DockerRuntime::builder(image)
                .host(host)
                .network(&shared.network)
                .grace(shared.grace);
            if let Some(dir) = &shared.cwd {
                let dir = std::fs::canonicalize(dir).map_err(|error| {
                    CliError::usage(format!(
                        "--cwd `{}` cannot be used: {}",
                        dir.display(),
                        error_chain(&error)
                    ))
                })?;
                builder = builder.workspace(&dir, &dir);
            }
            if let Some(program) = program {
                let program = std::fs::canonicalize(program).map_err(|error| {
                    CliError::usage(format!(
                        "--program `{}` cannot be used: {}",
                        program.display(),
                        error_chain(&error)
                    ))
                })?;
                builder = builder.program(program);
            }
            let runtime = builder.build().map_err(|error| {
                CliError::failed(format!(
                    "cannot use the docker runtime: {}",
                    error_chain(&error)
                ))
            })?;
            Ok(Arc::new(runtime))
        }
    }
}

/// Runs `agent` to the end under the shared options and returns the exit
/// code. With `--detach` this process is the run's supervisor
/// ([`crate::detach`]): the run is durable, recorded in `state`.
fn supervise(
    agent: Arc<dyn Agent>,
    prompt: &str,
    shared: &Shared,
    mount: Option<&Path>,
    signals: &Signals,
    interaction: Interaction,
    state: Option<&Path>,
) -> Result<u8, CliError> {
    let mut supervisor = if shared.detach {
        // A run on a server is recorded there; here, only what is local.
        let dir = match &shared.remote {
            Some(_) => None,
            None => Some(
                crate::state_dir::open(state)
                    .map_err(|error| CliError::failed(error_chain(&error).to_string()))?,
            ),
        };
        Some(Supervisor::new(dir))
    } else {
        None
    };
    let runtime = match &supervisor {
        Some(supervisor) => supervisor.runtime(shared)?,
        None => build_runtime(shared, mount)?,
    };
    let keyboard = interaction.keyboard(shared);
    let options = run_options(shared, interaction, keyboard).durable(shared.detach);
    // What the sentinel will spawn, for the `spawned` event.
    let argv = options
        .launch(agent.as_ref(), prompt)
        .map(|launch| launch.request.command.into_argv())
        .unwrap_or_default();
    let sentinel = Sentinel::new(Arc::clone(&runtime), Arc::clone(&agent), options);
    let mut run = sentinel
        .start(prompt)
        .map_err(|error| CliError::usage(error_chain(&error).to_string()))?;
    let interrupt = Interrupt::arm(signals, &run, &runtime, shared.grace);

    let view = View::new(agent.output_format(), view_mode(shared));
    let reporter = Arc::new(Mutex::new(reporter(shared, keyboard, view)));
    let attached = Attached::start(interaction, shared, signals, &runtime, &run, &reporter);
    let watched = watch(
        &mut run,
        shared,
        &runtime,
        &reporter,
        &argv,
        attached.questions(),
        supervisor.as_mut(),
    );
    let stopped_for_question = attached.end();
    let mut outcome = watched?;
    let signal = interrupt.disarm();
    if let (Outcome::Cancelled { status }, Some(matched), None) =
        (&outcome, stopped_for_question, signal)
    {
        // Stopped for a generic question, not by a signal.
        outcome = Outcome::WaitingForInput {
            matched,
            status: *status,
        };
    }
    let code = exit::for_outcome(&outcome, signal);
    let mut reporter = lock(&reporter);
    if let Outcome::FailedToStart { error } = &outcome {
        reporter.note(&format!(
            "error: {}{}",
            error_chain(error.as_ref()),
            hint(error, shared)
        ));
    }
    reporter.finish(&outcome, code);
    drop(reporter);
    if let Some(supervisor) = supervisor {
        supervisor.finish(exit::outcome_name(&outcome), code);
    }
    Ok(code)
}

/// What reports the run.
/// How the program's stdout is shown: events (`--json`), its bytes
/// (`--raw`), or readably.
fn view_mode(shared: &Shared) -> Mode {
    match (shared.json, shared.raw) {
        (true, _) => Mode::Json,
        (false, true) => Mode::Raw,
        (false, false) => Mode::Readable,
    }
}

fn reporter(shared: &Shared, keyboard: bool, view: View) -> Reporter {
    let reporter = Reporter::new(shared.json, on_input(shared) == &OnInput::Fail, view)
        .on_pty(shared.pty)
        .interactive(keyboard);
    match on_input(shared) {
        OnInput::Answer(_) => reporter.answering(Policy::new().max_answers),
        _ => reporter,
    }
}

/// The sentinel's options for this run.
fn run_options(shared: &Shared, interaction: Interaction, keyboard: bool) -> RunOptions {
    let mut policy = policy(shared);
    if interaction.prompts_at_once {
        policy = policy.settle(Duration::ZERO);
    }
    let mut options = RunOptions::new()
        .policy(policy)
        .env(base_env(shared))
        .grace(shared.grace);
    if let Some(dir) = &shared.cwd {
        options = options.cwd(dir);
    }
    if shared.pty {
        let size = keyboard
            .then(|| terminal::size(io::stdin()))
            .flatten()
            .unwrap_or(terminal::DEFAULT_SIZE);
        options = options.terminal(size);
    }
    if interaction.relay_stdin {
        options = options.stdin(StdinMode::Piped);
    }
    options
}

/// Passes the run's events to the reporter until it ends; stops what the
/// command left running.
fn watch(
    run: &mut Run,
    shared: &Shared,
    runtime: &Arc<dyn Runtime>,
    reporter: &Mutex<Reporter>,
    argv: &[String],
    questions: Option<&Questions>,
    mut supervisor: Option<&mut Supervisor>,
) -> Result<Outcome, CliError> {
    for event in run.by_ref() {
        if let (Event::Started { id }, Some(supervisor)) = (&event, supervisor.as_deref_mut())
            && let Err(error) = supervisor.ready(id.as_str())
        {
            // Unsupervised and unannounced, the run would be a stray.
            let _ = runtime.terminate(id, true);
            return Err(error);
        }
        match (&event, &shared.log_file) {
            (Event::Started { id }, Some(path)) => {
                let written = log_dir(path)?.join(format!("{id}.log"));
                std::fs::rename(&written, path).map_err(|error| {
                    CliError::failed(format!(
                        "cannot write --log-file `{}`: {}",
                        path.display(),
                        error_chain(&error)
                    ))
                })?;
            }
            (Event::Output(chunk), _) => {
                if let Some(questions) = questions {
                    questions.output(chunk);
                }
            }
            (Event::WaitingForInput { .. }, _) => {
                if let Some(questions) = questions {
                    questions.handled();
                }
            }
            _ => {}
        }
        lock(reporter).event(&event, runtime.as_ref(), argv);
    }
    let id = run.id().cloned();
    let outcome = run.outcome().cloned();
    // Like a container's processes end with its main process: whatever the
    // command left running goes too.
    if let Some(id) = &id
        && !matches!(outcome, Some(Outcome::FailedToStart { .. }))
        && matches!(runtime.terminate(id, false), Ok(true))
    {
        lock(reporter).leftovers();
    }
    Ok(outcome.unwrap_or_else(|| Outcome::RuntimeFailed {
        error: Arc::new(Error::io(
            "watching the command",
            io::Error::other("the run ended without an outcome"),
        )),
    }))
}

/// `--on-input`, `fail` when not given.
pub(crate) fn on_input(shared: &Shared) -> &OnInput {
    shared.on_input.as_ref().unwrap_or(&OnInput::Fail)
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What to do about a start failure.
fn hint(error: &Error, shared: &Shared) -> String {
    match error {
        Error::ProgramNotFound { .. } => " (install it, check PATH, or give its path)".into(),
        Error::NotExecutable { .. } => {
            " (check that it is a program and executable: chmod +x)".into()
        }
        Error::WorkingDirectory { .. } => format!(
            " (check --cwd{})",
            shared
                .cwd
                .as_ref()
                .map(|dir| format!(" `{}`", dir.display()))
                .unwrap_or_default()
        ),
        Error::InvalidCommand {
            problem: CommandProblem::AnswersOnlyOnTerminal { .. },
        } => " (add --pty to answer it on a terminal, or leave --on-input at fail)".into(),
        _ => String::new(),
    }
}
