//! The errors of this crate's helpers.

use std::io;

use logist_mock::LocateError;

/// Building a test program with cargo failed
/// ([`mock_program`](crate::mock_program), [`monitor_program`](crate::monitor_program)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// `LOGIST_MOCK_AGENT` names no executable file (nothing is built then:
    /// the variable is a deliberate choice).
    #[error(transparent)]
    Locate(#[from] LocateError),
    /// Cargo could not be started.
    #[error("cannot run `{cargo}` to build `{program}`")]
    Spawn {
        /// The cargo program that was run.
        cargo: String,
        /// The program that was being built.
        program: String,
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
    #[error("`{command}` succeeded but reported no `{program}` executable")]
    NoExecutable {
        /// The command line that was run.
        command: String,
        /// The program that was being built.
        program: String,
    },
}
