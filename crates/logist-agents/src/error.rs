//! The errors of this crate: preparing an isolated home, looking up an
//! adapter, asking an installed program for its version.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use logist_core::ExitStatus;

/// An error from an adapter or the registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// No adapter has this name.
    #[error("no agent named `{name}` (known: {known})")]
    UnknownAgent {
        /// The name asked for.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },

    /// The program has no way to take a setting of the configuration.
    #[error("{agent} does not support the {setting} setting: {reason}")]
    Unsupported {
        /// The adapter's name.
        agent: String,
        /// The setting: `base URL`, `model`, ….
        setting: &'static str,
        /// Why, and what to do instead.
        reason: &'static str,
    },

    /// The home directory path cannot be passed in the environment.
    #[error("home directory `{}` is not valid UTF-8", path.display())]
    NonUtf8Home {
        /// The path.
        path: PathBuf,
    },

    /// Writing the isolated home directory failed.
    #[error("cannot prepare `{}` for {agent}", path.display())]
    PrepareHome {
        /// The adapter's name.
        agent: String,
        /// The file or directory that could not be written.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// A file already in the home directory is not the JSON object the
    /// adapter wanted to add its settings to.
    #[error("cannot add settings to `{}`: it is not a JSON object", path.display())]
    NotASettingsFile {
        /// The file.
        path: PathBuf,
    },
}

/// Why asking an installed program for its version failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VersionError {
    /// The runtime could not start or wait for the program.
    #[error("cannot run `{program} --version`")]
    Run {
        /// The program.
        program: String,
        /// The runtime's error.
        #[source]
        source: logist_core::Error,
    },

    /// The program did not answer in time; it was stopped.
    #[error("`{program} --version` did not finish within {}s", timeout.as_secs_f64())]
    Timeout {
        /// The program.
        program: String,
        /// How long it was given.
        timeout: Duration,
    },

    /// The program exited unsuccessfully.
    #[error("`{program} --version` failed ({status}): {output}")]
    Failed {
        /// The program.
        program: String,
        /// How it ended.
        status: ExitStatus,
        /// The start of its output.
        output: String,
    },

    /// The program's output holds no version number.
    #[error("no version number in the output of `{program} --version`: {output:?}")]
    NoVersion {
        /// The program.
        program: String,
        /// The start of its output.
        output: String,
    },
}
