//! `logist`: run an AI coding agent, or any command, under supervision.
//!
//! A thin layer over the library crates: `logist-runtime-host` runs the
//! command, `logist-sentinel` watches it, `logist-agents` and `logist-mock`
//! know the agents. See `logist --help` for the interface and exit codes.

mod acp;
mod attach;
mod cli;
mod detach;
mod duration;
mod exit;
mod home;
mod input;
mod interaction;
mod interrupt;
mod list_agents;
mod questions;
mod remote_runs;
mod report;
mod run;
mod runs;
mod serve;
mod signals;
mod state_dir;
mod tailored;
mod terminal;
mod time;
mod view;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

/// The hidden subcommand that runs the embedded mock agent program.
pub(crate) const MOCK_AGENT_COMMAND: &str = "mock-agent";

/// The hidden subcommand that makes this program a run's monitor
/// (`logist_monitor::monitor_main`), so that one binary is all there is
/// to install.
pub(crate) const MONITOR_COMMAND: &str = "__monitor";

/// A failure of `logist` itself: one line for the user and an exit code.
#[derive(Debug)]
pub(crate) struct CliError {
    code: u8,
    message: String,
}

impl CliError {
    /// A mistake in the command line.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            code: exit::USAGE,
            message: message.into(),
        }
    }

    /// A run-management command (`ps`, `logs`, `stop`, `rm`) was refused
    /// or failed: exit code 1.
    pub(crate) fn refused(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }

    /// Something else went wrong before or around the run.
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self {
            code: exit::FAILED_TO_START,
            message: message.into(),
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // The embedded mock agent runs before anything else is set up.
    if args.get(1).is_some_and(|arg| arg == MOCK_AGENT_COMMAND) {
        let mut relaunch = vec![
            std::env::current_exe()
                .map(|exe| exe.into_os_string())
                .unwrap_or_default(),
        ];
        relaunch.push(MOCK_AGENT_COMMAND.into());
        let code = logist_mock::program::run(args.into_iter().skip(2), &relaunch);
        return ExitCode::from(u8::try_from(code & 0xff).unwrap_or(1));
    }

    // The monitor forks first thing, so nothing may run before it: no
    // thread, no blocked signal.
    if args.get(1).is_some_and(|arg| arg == MONITOR_COMMAND) {
        let code = logist_monitor::monitor_main(args.into_iter().skip(2));
        return ExitCode::from(u8::try_from(code & 0xff).unwrap_or(1));
    }

    // Before any thread starts, so that every thread has them blocked.
    let signals = signals::block();
    let cli = cli::Cli::parse();
    if cli.supervisor {
        detach::Supervisor::detach_session();
    }
    init_tracing(cli.verbose);
    let state = cli.state_dir.as_deref();
    let result = match cli.command {
        cli::Command::Run(args) if args.shared.detach && !cli.supervisor => {
            run::check_detach(&args.shared, args.acp.acp).and_then(|()| {
                detach::launch(
                    args.prompt_file.as_deref() == Some(std::path::Path::new("-")),
                    &signals,
                )
            })
        }
        cli::Command::Exec(args) if args.shared.detach && !cli.supervisor => {
            run::check_detach(&args.shared, false).and_then(|()| detach::launch(false, &signals))
        }
        cli::Command::Run(args) => run::run(args, &signals, state),
        cli::Command::Exec(args) => run::exec(args, &signals, state),
        cli::Command::Agents(args) => list_agents::list(&args),
        cli::Command::Serve(args) => serve::serve(&args, &signals, state),
        cli::Command::Ps(args) => match &args.server.remote {
            Some(url) => serve::remote_client(url).and_then(|rt| remote_runs::ps(&args, &rt)),
            None => open_state(state).and_then(|dir| runs::ps(&args, &dir)),
        },
        cli::Command::Logs(args) => match &args.run.server.remote {
            Some(url) => serve::remote_client(url).and_then(|rt| remote_runs::logs(&args, &rt)),
            None => open_state(state).and_then(|dir| runs::logs(&args, &dir)),
        },
        cli::Command::Wait(args) => match &args.server.remote {
            Some(url) => serve::remote_client(url).and_then(|rt| remote_runs::wait(&args, &rt)),
            None => open_state(state).and_then(|dir| runs::wait(&args, &dir)),
        },
        cli::Command::Stop(args) => match &args.run.server.remote {
            Some(url) => serve::remote_client(url).and_then(|rt| remote_runs::stop(&args, &rt)),
            None => open_state(state).and_then(|dir| runs::stop(&args, &dir)),
        },
        cli::Command::Rm(args) => match &args.run.server.remote {
            Some(url) => serve::remote_client(url).and_then(|rt| remote_runs::rm(&args, &rt)),
            None => open_state(state).and_then(|dir| runs::rm(&args, &dir)),
        },
        cli::Command::Attach(args) => match &args.run.server.remote {
            Some(url) => serve::remote_client(url)
                .and_then(|rt| remote_runs::attach(&args, std::sync::Arc::new(rt), &signals)),
            None => open_state(state).and_then(|dir| attach::attach(&args, &dir, &signals)),
        },
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            // A cause that spans lines (a regular expression's error
            // draws a caret) stays indented under the first line.
            eprintln!("logist: error: {}", error.message.replace('\n', "\n    "));
            ExitCode::from(error.code)
        }
    }
}

/// The state directory of durable runs; a problem with it is exit 125.
fn open_state(flag: Option<&std::path::Path>) -> Result<logist_monitor::StateDir, CliError> {
    state_dir::open(flag)
        .map_err(|error| CliError::failed(logist_core::error_chain(&error).to_string()))
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => return,
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .with_writer(std::io::stderr)
        // Colours only for a person: never into a file or a pipe.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}
