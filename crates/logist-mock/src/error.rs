//! The errors of this crate, one enum per concern: scenario names, the
//! program's arguments, finding the program, and building it for tests.

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
