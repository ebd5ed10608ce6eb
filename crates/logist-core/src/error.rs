//! The one error type of the Logist contract.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::process::ProcessId;

/// A boxed error from a runtime's backend (an engine client, a transport).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error reported by an [`Agent`](crate::Agent) or a
/// [`Runtime`](crate::Runtime).
///
/// Each variant is something a caller can act on; messages name the process
/// id or program concerned, and the operating system's error, when there is
/// one, is the [`source`](std::error::Error::source) rather than part of the
/// message, so a printed chain says each thing once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The runtime has no process with this id: it was never spawned here,
    /// or it was removed.
    #[error("no process with id `{id}`")]
    UnknownProcess {
        /// The id that was asked about.
        id: ProcessId,
    },

    /// The command or its environment cannot be executed as given.
    #[error("invalid command: {problem}")]
    InvalidCommand {
        /// What is wrong.
        problem: CommandProblem,
    },

    /// The program does not exist (not on `PATH`, or no such file).
    #[error("program `{program}` not found")]
    ProgramNotFound {
        /// The program as given in the argv.
        program: String,
    },

    /// The program exists but cannot be executed (no permission, not an
    /// executable format).
    #[error("program `{program}` is not executable")]
    NotExecutable {
        /// The program as given in the argv.
        program: String,
        /// Why the operating system refused.
        #[source]
        source: io::Error,
    },

    /// The working directory does not exist or cannot be entered.
    #[error("working directory `{}` cannot be used", path.display())]
    WorkingDirectory {
        /// The directory that was asked for.
        path: PathBuf,
        /// Why it cannot be used.
        #[source]
        source: io::Error,
    },

    /// Starting the program failed for another reason.
    #[error("failed to spawn `{program}`")]
    Spawn {
        /// The program as given in the argv.
        program: String,
        /// Why the operating system refused.
        #[source]
        source: io::Error,
    },

    /// [`Runtime::wait`](crate::Runtime::wait) gave up; the process keeps
    /// running.
    #[error("process `{id}` still running after {}", DisplayDuration(*timeout))]
    WaitTimeout {
        /// The process waited for.
        id: ProcessId,
        /// How long `wait` waited.
        timeout: Duration,
    },

    /// The process must have exited for this operation (removing it).
    #[error("process `{id}` is still running")]
    StillRunning {
        /// The running process.
        id: ProcessId,
    },

    /// The process's standard input is not open for writing: it was not
    /// spawned with a writable stdin, the caller closed it, or the process
    /// stopped reading (closed its end or exited).
    #[error("standard input of process `{id}` is not open for writing")]
    StdinClosed {
        /// The process concerned.
        id: ProcessId,
    },

    /// The run's supervisor died without recording how the run ended, so
    /// its exit status is unknown (see [`ProcessState::Lost`](crate::ProcessState::Lost)).
    #[error("process `{id}` was lost: {reason}; its exit status is unknown")]
    Lost {
        /// The process concerned.
        id: ProcessId,
        /// Why, for example "its monitor died" or "the machine rebooted".
        reason: String,
    },

    /// The runtime cannot do this at all (for example a pseudo-terminal in
    /// a runtime that has none).
    #[error("the {runtime} runtime does not support {feature}")]
    Unsupported {
        /// The runtime's name.
        runtime: String,
        /// What was asked for.
        feature: String,
    },

    /// The runtime's backend cannot be reached or used; `fix` says what to
    /// do about it.
    #[error("the {runtime} runtime is unavailable: {reason} ({fix})")]
    Unavailable {
        /// The runtime's name.
        runtime: String,
        /// What is wrong.
        reason: String,
        /// What the user can do about it.
        fix: String,
        /// The underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },

    /// The runtime's backend refused or failed an operation (an engine's
    /// HTTP refusal, a remote server's error); the backend's own error is
    /// the source, so its status and message reach the person unchanged.
    #[error("the {runtime} runtime failed while {context}")]
    Backend {
        /// The runtime's name.
        runtime: String,
        /// What was being done, naming the process or program.
        context: String,
        /// The backend's own error.
        #[source]
        source: BoxError,
    },

    /// An input/output error while operating on a process.
    #[error("i/o error while {context}")]
    Io {
        /// What was being done, naming the process or program.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// An [`Error::UnknownProcess`] for `id`.
    pub fn unknown(id: &ProcessId) -> Self {
        Error::UnknownProcess { id: id.clone() }
    }

    /// An [`Error::Io`] with the given context.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// An [`Error::Backend`]: `runtime`'s backend failed while doing
    /// `context`, for the reason `source` gives.
    pub fn backend(
        runtime: impl Into<String>,
        context: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::Backend {
            runtime: runtime.into(),
            context: context.into(),
            source: source.into(),
        }
    }

    /// An [`Error::Unsupported`].
    pub fn unsupported(runtime: impl Into<String>, feature: impl Into<String>) -> Self {
        Error::Unsupported {
            runtime: runtime.into(),
            feature: feature.into(),
        }
    }
}

/// Shows an error with every cause in its [`source`](std::error::Error::source)
/// chain on one line, `outer: cause: root cause`, skipping a cause whose
/// text the previous message already ends with.
///
/// ```
/// use logist_core::{Error, error_chain};
///
/// let refused = std::io::Error::other("409 Conflict: name in use");
/// let error = Error::backend("docker", "creating container `a`", refused);
/// assert_eq!(
///     error_chain(&error).to_string(),
///     "the docker runtime failed while creating container `a`: 409 Conflict: name in use",
/// );
/// ```
pub fn error_chain<'a>(error: &'a (dyn std::error::Error + 'static)) -> ErrorChain<'a> {
    ErrorChain(error)
}

/// The [`Display`](fmt::Display) of [`error_chain`].
#[derive(Clone, Copy, Debug)]
pub struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut previous = self.0.to_string();
        f.write_str(&previous)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            // Some errors repeat their source in their own message.
            if !previous.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            previous = text;
            source = cause.source();
        }
        Ok(())
    }
}

/// What is wrong with a command line or environment.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandProblem {
    /// The argv has no elements.
    EmptyArgv,
    /// The program (first element) is the empty string.
    EmptyProgram,
    /// An argument contains a NUL byte, which no program can receive.
    NulInArgument {
        /// Position in the argv (0 is the program).
        index: usize,
    },
    /// An argument is longer than Linux passes to a program
    /// ([`MAX_ARGUMENT_BYTES`](crate::MAX_ARGUMENT_BYTES)); a prompt this
    /// large must go on standard input or in a file.
    ArgumentTooLong {
        /// Position in the argv (0 is the program).
        index: usize,
        /// Its length in bytes.
        bytes: usize,
    },
    /// The program would misread this prompt given as an argument (an
    /// adapter's check of a quirk of its program).
    PromptNotPassable {
        /// The program's name.
        program: String,
        /// How it would misread it, and what to do instead.
        reason: String,
    },
    /// Someone is to answer the program's questions over a standard input
    /// pipe, but the program reads that pipe to its end before it starts
    /// ([`Agent::answers_on_pipe`](crate::Agent::answers_on_pipe)): it
    /// would wait for the end forever.
    AnswersOnlyOnTerminal {
        /// The program's name.
        program: String,
    },
    /// An environment variable name is empty or contains `=` or NUL.
    InvalidEnvName {
        /// The name as given.
        name: String,
    },
    /// An environment variable's value contains a NUL byte.
    NulInEnvValue {
        /// The variable's name (never its value).
        name: String,
    },
}

impl fmt::Display for CommandProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandProblem::EmptyArgv => f.write_str("the argv is empty"),
            CommandProblem::EmptyProgram => f.write_str("the program name is empty"),
            CommandProblem::NulInArgument { index } => {
                write!(f, "argument {index} contains a NUL byte")
            }
            CommandProblem::ArgumentTooLong { index, bytes } => write!(
                f,
                "argument {index} is {bytes} bytes, over the {} bytes Linux allows in one argument (MAX_ARG_STRLEN); give a prompt this large on standard input or in a file",
                crate::MAX_ARGUMENT_BYTES
            ),
            CommandProblem::PromptNotPassable { program, reason } => {
                write!(
                    f,
                    "{program} cannot take this prompt as an argument: {reason}"
                )
            }
            CommandProblem::AnswersOnlyOnTerminal { program } => write!(
                f,
                "{program} reads a piped standard input to its end before it starts, so nobody can answer it over a pipe; run it on a terminal to answer it, or let nobody answer"
            ),
            CommandProblem::InvalidEnvName { name } => {
                write!(
                    f,
                    "environment variable name {name:?} is not allowed (a name is non-empty, without '=' or NUL)"
                )
            }
            CommandProblem::NulInEnvValue { name } => {
                write!(
                    f,
                    "the value of environment variable `{name}` contains a NUL byte"
                )
            }
        }
    }
}

/// Shows a duration the way people write it: `500ms`, `5s`, `1.5s`.
struct DisplayDuration(Duration);

impl fmt::Display for DisplayDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        if millis < 1000 {
            write!(f, "{millis}ms")
        } else {
            let seconds = format!("{:.3}", self.0.as_secs_f64());
            write!(
                f,
                "{}s",
                seconds.trim_end_matches('0').trim_end_matches('.')
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::fmt::Write as _;

    use super::*;

    /// Every variant with its source chain, as a user would see it.
    fn render(error: &Error) -> String {
        let mut out = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            write!(out, "\n  caused by: {cause}").unwrap();
            source = cause.source();
        }
        out
    }

    fn os(kind: io::ErrorKind, text: &str) -> io::Error {
        io::Error::new(kind, text)
    }

    #[test]
    fn error_messages() {
        let id = ProcessId::new("host-5e1f-3");
        let errors = [
            Error::unknown(&id),
            Error::InvalidCommand {
                problem: CommandProblem::EmptyArgv,
            },
            Error::InvalidCommand {
                problem: CommandProblem::EmptyProgram,
            },
            Error::InvalidCommand {
                problem: CommandProblem::NulInArgument { index: 3 },
            },
            Error::InvalidCommand {
                problem: CommandProblem::InvalidEnvName { name: "A=B".into() },
            },
            Error::InvalidCommand {
                problem: CommandProblem::NulInEnvValue {
                    name: "API_KEY".into(),
                },
            },
            Error::InvalidCommand {
                problem: CommandProblem::PromptNotPassable {
                    program: "cline".into(),
                    reason: "a one-word prompt is read as a subcommand".into(),
                },
            },
            Error::InvalidCommand {
                problem: CommandProblem::ArgumentTooLong {
                    index: 5,
                    bytes: 204_800,
                },
            },
            Error::ProgramNotFound {
                program: "claude".into(),
            },
            Error::NotExecutable {
                program: "./notes.txt".into(),
                source: os(
                    io::ErrorKind::PermissionDenied,
                    "Permission denied (os error 13)",
                ),
            },
            Error::WorkingDirectory {
                path: "/no/such/dir".into(),
                source: os(
                    io::ErrorKind::NotFound,
                    "No such file or directory (os error 2)",
                ),
            },
            Error::Spawn {
                program: "aider".into(),
                source: os(io::ErrorKind::Other, "Too many open files (os error 24)"),
            },
            Error::WaitTimeout {
                id: id.clone(),
                timeout: Duration::from_millis(250),
            },
            Error::WaitTimeout {
                id: id.clone(),
                timeout: Duration::from_secs(5),
            },
            Error::WaitTimeout {
                id: id.clone(),
                timeout: Duration::from_millis(1500),
            },
            Error::StillRunning { id: id.clone() },
            Error::StdinClosed { id: id.clone() },
            Error::unsupported("mock", "pseudo-terminals"),
            Error::Unavailable {
                runtime: "docker".into(),
                reason: "cannot connect to unix:///var/run/docker.sock".into(),
                fix: "start the engine or set DOCKER_HOST".into(),
                source: Some(Box::new(os(
                    io::ErrorKind::NotFound,
                    "No such file or directory (os error 2)",
                ))),
            },
            Error::backend(
                "docker",
                format!("starting container `{id}`"),
                "409 Conflict: container name already in use",
            ),
            Error::io(
                format!("reading the output of process `{id}`"),
                os(io::ErrorKind::Other, "Input/output error (os error 5)"),
            ),
        ];
        let rendered: Vec<String> = errors.iter().map(render).collect();
        insta::assert_snapshot!(rendered.join("\n"));
    }

    #[test]
    fn error_chain_is_one_line_and_says_each_cause_once() {
        let io = os(
            io::ErrorKind::NotADirectory,
            "Not a directory (os error 20)",
        );
        let error = Error::WorkingDirectory {
            path: "/etc/passwd".into(),
            source: io,
        };
        assert_eq!(
            error_chain(&error).to_string(),
            "working directory `/etc/passwd` cannot be used: Not a directory (os error 20)"
        );

        #[derive(Debug, thiserror::Error)]
        #[error("outer: inner")]
        struct Repeats(#[source] Inner);
        #[derive(Debug, thiserror::Error)]
        #[error("inner")]
        struct Inner;
        assert_eq!(error_chain(&Repeats(Inner)).to_string(), "outer: inner");
    }

    #[test]
    fn errors_are_send_sync_and_static() {
        fn assert_bounds<T: Send + Sync + 'static>() {}
        assert_bounds::<Error>();
    }
}
