//! `logist`: run an AI coding agent, or any command, under supervision.
//!
//! A thin layer over the library crates: `logist-runtime-host` runs the
//! command, `logist-sentinel` watches it, `logist-agents` and `logist-mock`
//! know the agents. See `logist --help` for the interface and exit codes.

mod acp;
mod cli;
mod duration;
mod exit;
mod home;
mod input;
mod interaction;
mod interrupt;
mod list_agents;
mod questions;
mod report;
mod run;
mod serve;
mod signals;
mod tailored;
mod terminal;
mod time;
mod view;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

/// The hidden subcommand that runs the embedded mock agent program.
pub(crate) const MOCK_AGENT_COMMAND: &str = "mock-agent";

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

    // Before any thread starts, so that every thread has them blocked.
    let signals = signals::block();
    let cli = cli::Cli::parse();
    init_tracing(cli.verbose);
    let result = match cli.command {
        cli::Command::Run(args) => run::run(args, &signals),
        cli::Command::Exec(args) => run::exec(args, &signals),
        cli::Command::Agents(args) => list_agents::list(&args),
        cli::Command::Serve(args) => serve::serve(&args, &signals),
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
