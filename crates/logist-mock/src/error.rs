//! The errors of this crate, one enum per concern: scenario names, the
//! program's arguments, finding the program, and building it for tests.

use std::io;
use std::path::PathBuf;

use crate::scenario::{PROGRAM_ENV, PROGRAM_NAME, Scenario};

/// A scenario name that is not one of [`Scenario::NAMES`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseScenarioError {
    /// Not a known name.
    #[error("unknown scenario `{name}` (known: {})", Scenario::NAMES.join(", "))]
    Unknown {
        /// The name as given.
        name: String,
    },
    /// `exit:N` with an `N` that is not a decimal number from 0 to 255.
    #[error("invalid exit code `{value}` in scenario `exit:{value}` (expected 0 to 255)")]
    BadExitCode {
        /// The text after `exit:`.
        value: String,
    },
}

/// A command line the mock agent program does not accept (it exits 2).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgsError {
    /// No prompt was given.
    #[error("missing prompt")]
    MissingPrompt,
    /// An option the program does not know.
    #[error("unknown option `{option}`")]
    UnknownOption {
        /// The option as given.
        option: String,
    },
    /// An option given last, without its value.
    #[error("option `{option}` needs a value")]
    MissingValue {
        /// The option.
        option: String,
    },
    /// An option value that does not parse.
    #[error("invalid value `{value}` for `{option}` (expected {expected})")]
    InvalidValue {
        /// The option.
        option: String,
        /// The value as given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// A second positional argument (the prompt must be one argument), or
    /// a prompt argument with `--prompt-stdin`.
    #[error(
        "unexpected argument `{argument}` (the prompt must be a single argument, or none with `--prompt-stdin`)"
    )]
    UnexpectedArgument {
        /// The extra argument.
        argument: String,
    },
    /// An option or option value that is not UTF-8.
    #[error("argument `{argument}` is not valid UTF-8")]
    NotUnicode {
        /// The argument, decoded lossily.
        argument: String,
    },
    /// A bad `--scenario`.
    #[error(transparent)]
    Scenario(#[from] ParseScenarioError),
}

/// The mock agent program could not be found; says everywhere it looked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocateError {
    /// `LOGIST_MOCK_AGENT` is set, and names something that is not an
    /// executable file. The variable is authoritative: no other place is
    /// searched, so a typo is not hidden by another copy of the program.
    #[error("`{PROGRAM_ENV}` names `{}`, which is not an executable file", path.display())]
    EnvVar {
        /// The variable's value.
        path: PathBuf,
    },
    /// Nowhere.
    #[error(
        "cannot find the `{PROGRAM_NAME}` program: `{PROGRAM_ENV}` is not set, and none of these is an executable file: {}",
        display_paths(tried)
    )]
    NotFound {
        /// Every path checked, in order.
        tried: Vec<PathBuf>,
    },
}

fn display_paths(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths
        .iter()
        .map(|path| format!("`{}`", path.display()))
        .collect();
    if shown.is_empty() {
        "(no candidate: no current executable and an empty `PATH`)".to_owned()
    } else {
        shown.join(", ")
    }
}

/// Building the mock agent program with cargo failed
/// ([`testing::mock_program`](crate::testing::mock_program)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// `LOGIST_MOCK_AGENT` names no executable file (nothing is built then:
    /// the variable is a deliberate choice).
    #[error(transparent)]
    Locate(#[from] LocateError),
    /// Cargo could not be started.
    #[error("cannot run `{cargo}` to build `{PROGRAM_NAME}`")]
    Spawn {
        /// The cargo program that was run.
        cargo: String,
        /// Why it could not be started.
        #[source]
        source: io::Error,
    },
    /// Cargo ran and failed.
    #[error("`{command}` failed ({status}):\n{stderr}")]
    Cargo {
        /// The command line that was run.
        command: String,
        /// How it ended.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// Cargo succeeded but did not report the program's path.
    #[error("`{command}` succeeded but reported no `{PROGRAM_NAME}` executable")]
    NoExecutable {
        /// The command line that was run.
        command: String,
    },
}
