//! Scripts: what a scripted process does, step by step.
//!
//! One script type serves both players: the `logist-mock-agent` program
//! (real writes to fds 1 and 2, real sleeps and signals) and
//! [`MockRuntime`](crate::MockRuntime) (the same steps in memory). Tests
//! also build their own scripts and register them with
//! [`MockRuntime::register`](crate::MockRuntime::register).

use std::time::Duration;

use logist_core::Stream;

use crate::scenario::{FloodStream, Options};

/// A sequence of [`Step`]s, built with chained methods.
///
/// A script that runs out of steps exits with code 0.
///
/// ```
/// use std::time::Duration;
/// use logist_mock::{LineBranch, Script};
///
/// let script = Script::new()
///     .stdout("Continue? [y/n] ")
///     .read_line(
///         LineBranch::new()
///             .on(["y"], Script::new().stdout("ok\n"))
///             .otherwise(Script::new().stderr("aborted\n").exit(1)),
///     )
///     .pause(Duration::from_millis(5))
///     .stdout("bye\n");
/// assert_eq!(script.steps().len(), 4);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    steps: Vec<Step>,
}

/// One thing a scripted process does.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Writes these bytes to a stream in one write.
    Write {
        /// Where.
        stream: Stream,
        /// What.
        data: Vec<u8>,
    },
    /// Does nothing for this long (a termination ends the pause at once).
    Pause(Duration),
    /// Reads one line from standard input and plays the branch that
    /// matches it; the script then goes on after this step unless the
    /// branch ended the process.
    ReadLine(LineBranch),
    /// Reads standard input to its end as the prompt, then plays these
    /// options' script with it (`--prompt-stdin`).
    ReadPrompt(Box<Options>),
    /// From now on, ignores polite termination (SIGTERM, SIGINT, SIGHUP):
    /// only a forced kill, or the end of the grace period, stops it.
    IgnoreTerm,
    /// Waits, silently and without using CPU, until killed.
    Hang,
    /// Exits with this code.
    Exit(i32),
    /// Dies by this signal.
    Signal(i32),
    /// Writes `bytes` bytes of [`flood_bytes`](crate::flood_bytes) as fast
    /// as possible, in [`FLOOD_WRITE_SIZE`](crate::FLOOD_WRITE_SIZE) writes
    /// (with [`FloodStream::Both`], `bytes` to each stream, alternating).
    Flood {
        /// How many bytes (to each stream).
        bytes: u64,
        /// Where.
        stream: FloodStream,
    },
    /// Starts two grandchildren running the `hang` scenario, one in the same
    /// process group and one in a new session, and prints one marker line
    /// for each ([`TREE_CHILD_PREFIX`](crate::TREE_CHILD_PREFIX),
    /// [`TREE_SESSION_CHILD_PREFIX`](crate::TREE_SESSION_CHILD_PREFIX)).
    /// [`MockRuntime`](crate::MockRuntime) prints the markers with
    /// [`MOCK_TREE_PIDS`](crate::MOCK_TREE_PIDS) and starts nothing.
    SpawnTree {
        /// The grandchildren's `--delay-ms`.
        delay_ms: u64,
        /// The grandchildren's prompt.
        prompt: Vec<u8>,
    },
    /// Prints the process's environment, sorted by name, one `KEY=VALUE`
    /// line each, in one write.
    PrintEnv,
}

/// How [`Step::ReadLine`] reacts to the line it reads.
///
/// The line is compared without its line ending (`\n` or `\r\n`). A last
/// line without a newline before end-of-file counts as a line; plain
/// end-of-file (nothing read) plays [`otherwise`](Self::otherwise).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineBranch {
    answers: Vec<(Vec<String>, Script)>,
    otherwise: Script,
}

impl Script {
    /// An empty script: a process that exits 0 at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Adds any step.
    #[must_use]
    pub fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// Adds every step of `other`.
    #[must_use]
    pub fn then(mut self, other: Script) -> Self {
        self.steps.extend(other.steps);
        self
    }

    /// Writes to a stream in one write.
    #[must_use]
    pub fn write(self, stream: Stream, data: impl AsRef<[u8]>) -> Self {
        self.step(Step::Write {
            stream,
            data: data.as_ref().to_vec(),
        })
    }

    /// Writes to stdout in one write.
    #[must_use]
    pub fn stdout(self, data: impl AsRef<[u8]>) -> Self {
        self.write(Stream::Stdout, data)
    }

    /// Writes to stderr in one write.
    #[must_use]
    pub fn stderr(self, data: impl AsRef<[u8]>) -> Self {
        self.write(Stream::Stderr, data)
    }

    /// Pauses.
    #[must_use]
    pub fn pause(self, duration: Duration) -> Self {
        self.step(Step::Pause(duration))
    }

    /// Reads a line from stdin and branches on it.
    #[must_use]
    pub fn read_line(self, branch: LineBranch) -> Self {
        self.step(Step::ReadLine(branch))
    }

    /// Ignores polite termination from here on.
    #[must_use]
    pub fn ignore_term(self) -> Self {
        self.step(Step::IgnoreTerm)
    }

    /// Waits until killed.
    #[must_use]
    pub fn hang(self) -> Self {
        self.step(Step::Hang)
    }

    /// Exits with a code.
    #[must_use]
    pub fn exit(self, code: i32) -> Self {
        self.step(Step::Exit(code))
    }

    /// Dies by a signal.
    #[must_use]
    pub fn signal(self, signal: i32) -> Self {
        self.step(Step::Signal(signal))
    }
}

impl LineBranch {
    /// A branch where every line (and end-of-file) does nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Plays `then` when the line equals one of `answers`. The first
    /// matching `on` wins.
    #[must_use]
    pub fn on<I, S>(mut self, answers: I, then: Script) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.answers
            .push((answers.into_iter().map(Into::into).collect(), then));
        self
    }

    /// Plays `then` for any other line and for end-of-file.
    #[must_use]
    pub fn otherwise(mut self, then: Script) -> Self {
        self.otherwise = then;
        self
    }

    /// The script to play for `line` (`None` for end-of-file). The line
    /// may still carry its line ending, which is ignored.
    pub fn choose(&self, line: Option<&[u8]>) -> &Script {
        let Some(line) = line else {
            return &self.otherwise;
        };
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        self.answers
            .iter()
            .find(|(answers, _)| answers.iter().any(|answer| answer.as_bytes() == line))
            .map_or(&self.otherwise, |(_, then)| then)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_match_whole_lines_without_line_endings() {
        let branch = LineBranch::new()
            .on(["y", "yes"], Script::new().exit(0))
            .on(["y"], Script::new().exit(9))
            .otherwise(Script::new().exit(1));
        let code = |line: Option<&[u8]>| branch.choose(line).steps().to_vec();
        assert_eq!(code(Some(b"y\n")), [Step::Exit(0)]);
        assert_eq!(code(Some(b"yes\r\n")), [Step::Exit(0)]);
        assert_eq!(code(Some(b"y")), [Step::Exit(0)]);
        assert_eq!(code(Some(b"yes please\n")), [Step::Exit(1)]);
        assert_eq!(code(Some(b" y\n")), [Step::Exit(1)]);
        assert_eq!(code(Some(b"\n")), [Step::Exit(1)]);
        assert_eq!(code(None), [Step::Exit(1)]);
    }
}
