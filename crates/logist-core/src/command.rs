//! What to run: the argv, its environment, and how a runtime should start it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{CommandProblem, Error};
use crate::process::Labels;

/// The longest single argument Linux passes to a program, in bytes:
/// `MAX_ARG_STRLEN` (32 pages of 4 KiB, 128 KiB) less the terminating NUL.
/// A longer one makes `execve` fail with `E2BIG`, whatever the total size.
pub const MAX_ARGUMENT_BYTES: usize = 128 * 1024 - 1;

/// A program and its arguments, executed directly (never through a shell).
///
/// Every element is passed to the program literally: a prompt that starts
/// with `-`, holds quotes, newlines or `$(...)` stays one argument and is
/// never re-split or expanded. Construction checks what the operating system
/// cannot accept (an empty argv, an empty program name, a NUL byte, one
/// argument longer than [`MAX_ARGUMENT_BYTES`]), so a
/// `CommandLine` in hand is always spawnable as far as its text goes.
///
/// ```
/// use logist_core::CommandLine;
///
/// let cmd = CommandLine::new(["claude", "-p", "--", "-rf $(whoami)"])?;
/// assert_eq!(cmd.program(), "claude");
/// assert_eq!(cmd.args(), ["-p", "--", "-rf $(whoami)"]);
/// assert_eq!(cmd.to_string(), "claude -p -- '-rf $(whoami)'");
///
/// assert!(CommandLine::new(Vec::<String>::new()).is_err());
/// assert!(CommandLine::new(["echo", "a\0b"]).is_err());
/// # Ok::<(), logist_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CommandLine {
    argv: Vec<String>,
}

impl CommandLine {
    /// Checks and wraps an argv whose first element is the program.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCommand`] when the argv is empty, the program name is
    /// empty, any element contains a NUL byte, or one is longer than
    /// [`MAX_ARGUMENT_BYTES`].
    pub fn new<I, S>(argv: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let argv: Vec<String> = argv.into_iter().map(Into::into).collect();
        let problem = match argv.first() {
            None => Some(CommandProblem::EmptyArgv),
            Some(program) if program.is_empty() => Some(CommandProblem::EmptyProgram),
            Some(_) => argv
                .iter()
                .position(|arg| arg.contains('\0'))
                .map(|index| CommandProblem::NulInArgument { index })
                .or_else(|| {
                    argv.iter()
                        .position(|arg| arg.len() > MAX_ARGUMENT_BYTES)
                        .map(|index| CommandProblem::ArgumentTooLong {
                            index,
                            bytes: argv[index].len(),
                        })
                }),
        };
        match problem {
            Some(problem) => Err(Error::InvalidCommand { problem }),
            None => Ok(Self { argv }),
        }
    }

    /// The program: the first element of the argv.
    pub fn program(&self) -> &str {
        &self.argv[0]
    }

    /// The arguments after the program.
    pub fn args(&self) -> &[String] {
        &self.argv[1..]
    }

    /// The whole argv, program first.
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// Consumes the command line and returns the argv.
    pub fn into_argv(self) -> Vec<String> {
        self.argv
    }
}

/// Shows the argv the way a POSIX shell would need it typed, for humans.
impl fmt::Display for CommandLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, arg) in self.argv.iter().enumerate() {
            if index > 0 {
                f.write_str(" ")?;
            }
            write_shell_quoted(f, arg)?;
        }
        Ok(())
    }
}

fn write_shell_quoted(f: &mut fmt::Formatter<'_>, arg: &str) -> fmt::Result {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        return f.write_str(arg);
    }
    f.write_str("'")?;
    f.write_str(&arg.replace('\'', r"'\''"))?;
    f.write_str("'")
}

/// The environment a process starts with.
///
/// The *base* is either the runtime's own environment (`inherit`, the
/// default, like `std::process::Command`) or nothing (`clean`). On top of
/// the base come, in order: names removed with [`unset`](Self::unset),
/// names copied from the **caller's** process environment with
/// [`pass`](Self::pass) (the way to hand an API key to an agent in a clean
/// environment without writing its value anywhere), and values set with
/// [`set`](Self::set).
///
/// For a host runtime "the runtime's own environment" is the environment of
/// the program that embeds Logist; for a container runtime it is the
/// image's. `pass` always reads the caller's environment.
///
/// `Debug` shows variable names only: values often hold secrets.
///
/// ```
/// use logist_core::Environment;
///
/// let env = Environment::clean()
///     .pass("PATH")
///     .pass("ANTHROPIC_API_KEY")
///     .set("NO_COLOR", "1");
/// // The runtime's own environment: ignored, since the base is clean.
/// let base = [("HOME".to_owned(), "/root".to_owned())];
/// // The caller's environment, where passed names are read.
/// let caller = |name: &str| match name {
///     "PATH" => Some("/usr/bin".to_owned()),
///     "ANTHROPIC_API_KEY" => Some("sk-1".to_owned()),
///     _ => None,
/// };
/// let resolved = env.resolve_with(base, caller);
/// assert_eq!(
///     resolved.keys().collect::<Vec<_>>(),
///     ["ANTHROPIC_API_KEY", "NO_COLOR", "PATH"]
/// );
/// // Debug output names variables but never shows a value.
/// assert_eq!(
///     format!("{env:?}"),
///     r#"Environment { base: clean, set: ["NO_COLOR"], pass: ["ANTHROPIC_API_KEY", "PATH"], unset: [] }"#
/// );
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Environment {
    inherit: bool,
    set: BTreeMap<String, String>,
    pass: BTreeSet<String>,
    unset: BTreeSet<String>,
}

impl Default for Environment {
    fn default() -> Self {
        Self::inherit()
    }
}

impl Environment {
    /// The runtime's own environment plus whatever is added.
    pub fn inherit() -> Self {
        Self {
            inherit: true,
            set: BTreeMap::new(),
            pass: BTreeSet::new(),
            unset: BTreeSet::new(),
        }
    }

    /// An empty environment plus whatever is added: nothing of the caller's
    /// reaches the process unless passed by name.
    pub fn clean() -> Self {
        Self {
            inherit: false,
            ..Self::inherit()
        }
    }

    /// Sets `name` to `value`, overriding the base and any passed value.
    #[must_use]
    pub fn set(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.unset.remove(&name);
        self.set.insert(name, value.into());
        self
    }

    /// Copies `name` from the caller's environment when it is set there.
    #[must_use]
    pub fn pass(mut self, name: impl Into<String>) -> Self {
        self.pass.insert(name.into());
        self
    }

    /// Removes `name` from the base environment.
    #[must_use]
    pub fn unset(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.set.remove(&name);
        self.unset.insert(name);
        self
    }

    /// Adds everything `other` sets, passes and unsets; `other` wins on
    /// conflicts. The base (inherit or clean) stays this one's: an agent's
    /// needs are merged into the caller's choice, never the reverse.
    #[must_use]
    pub fn merge(mut self, other: &Environment) -> Self {
        for name in &other.unset {
            self = self.unset(name.clone());
        }
        self.pass.extend(other.pass.iter().cloned());
        for (name, value) in &other.set {
            self = self.set(name.clone(), value.clone());
        }
        self
    }

    /// True when the base is the runtime's own environment.
    pub fn inherits(&self) -> bool {
        self.inherit
    }

    /// The variables set explicitly, with their values.
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.set
    }

    /// The names copied from the caller's environment.
    pub fn passed(&self) -> &BTreeSet<String> {
        &self.pass
    }

    /// The names removed from the base.
    pub fn unset_names(&self) -> &BTreeSet<String> {
        &self.unset
    }

    /// Computes the final environment from `base` (the runtime's own
    /// environment, used only when inheriting), reading passed names from
    /// the caller's environment with [`std::env::var`].
    pub fn resolve(
        &self,
        base: impl IntoIterator<Item = (String, String)>,
    ) -> BTreeMap<String, String> {
        self.resolve_with(base, |name| std::env::var(name).ok())
    }

    /// Like [`resolve`](Self::resolve), with the caller's environment given
    /// as a lookup function (for runtimes that resolve elsewhere, and tests).
    pub fn resolve_with(
        &self,
        base: impl IntoIterator<Item = (String, String)>,
        caller: impl Fn(&str) -> Option<String>,
    ) -> BTreeMap<String, String> {
        let mut env: BTreeMap<String, String> = if self.inherit {
            base.into_iter().collect()
        } else {
            BTreeMap::new()
        };
        for name in &self.unset {
            env.remove(name);
        }
        for name in &self.pass {
            if let Some(value) = caller(name) {
                env.insert(name.clone(), value);
            }
        }
        env.extend(self.set.iter().map(|(k, v)| (k.clone(), v.clone())));
        env
    }

    /// Checks names and values the operating system cannot accept.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCommand`] naming the variable: an empty name, a name
    /// containing `=` or NUL, or a value containing NUL.
    pub fn check(&self) -> Result<(), Error> {
        let names = self.set.keys().chain(&self.pass).chain(&self.unset);
        for name in names {
            if name.is_empty() || name.contains(['=', '\0']) {
                return Err(Error::InvalidCommand {
                    problem: CommandProblem::InvalidEnvName { name: name.clone() },
                });
            }
        }
        if let Some((name, _)) = self.set.iter().find(|(_, value)| value.contains('\0')) {
            return Err(Error::InvalidCommand {
                problem: CommandProblem::NulInEnvValue { name: name.clone() },
            });
        }
        Ok(())
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Environment")
            .field(
                "base",
                &format_args!("{}", if self.inherit { "inherit" } else { "clean" }),
            )
            .field("set", &self.set.keys().collect::<Vec<_>>())
            .field("pass", &self.pass.iter().collect::<Vec<_>>())
            .field("unset", &self.unset.iter().collect::<Vec<_>>())
            .finish()
    }
}

/// Where a process's standard input comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StdinMode {
    /// `/dev/null`: a read returns end-of-file at once, so a program that
    /// asks a question does not wait forever for an answer.
    #[default]
    Null,
    /// A pipe the caller writes with
    /// [`Runtime::write_stdin`](crate::Runtime::write_stdin) and closes with
    /// [`Runtime::close_stdin`](crate::Runtime::close_stdin).
    Piped,
}

/// A command line that reads its prompt from standard input, and the bytes
/// to write there before closing it; see [`Agent::prompt_on_stdin`](crate::Agent::prompt_on_stdin).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PromptOnStdin {
    /// The program and its arguments, without the prompt.
    pub command: CommandLine,
    /// What to write to its standard input, followed by end-of-file.
    pub input: Vec<u8>,
}

impl PromptOnStdin {
    /// `command`, fed `input` on standard input.
    pub fn new(command: CommandLine, input: impl Into<Vec<u8>>) -> Self {
        Self {
            command,
            input: input.into(),
        }
    }
}

/// The size of a pseudo-terminal, in character cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TerminalSize {
    /// Lines.
    pub rows: u16,
    /// Columns.
    pub cols: u16,
}

impl Default for TerminalSize {
    fn default() -> Self {
        Self { rows: 24, cols: 80 }
    }
}

/// Everything a runtime needs to start one process.
///
/// The command, its environment and labels, a working directory, the stdin
/// mode, an optional pseudo-terminal and a per-process grace period. Fields
/// are public; the chained methods are a shorthand for setting them.
///
/// ```
/// use std::time::Duration;
/// use logist_core::{CommandLine, Environment, SpawnRequest, StdinMode};
///
/// let request = SpawnRequest::new(CommandLine::new(["sh", "-c", "read x; echo $x"])?)
///     .env(Environment::inherit().set("NO_COLOR", "1"))
///     .label("job", "42")
///     .cwd("/tmp")
///     .stdin(StdinMode::Piped)
///     .grace(Duration::from_millis(500));
/// assert_eq!(request.labels["job"], "42");
/// # Ok::<(), logist_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpawnRequest {
    /// The program and its arguments.
    pub command: CommandLine,
    /// The environment to start it with.
    pub env: Environment,
    /// Labels to attach, queryable with [`Runtime::list`](crate::Runtime::list).
    pub labels: Labels,
    /// The working directory; `None` means the runtime's default (the
    /// caller's current directory on the host, the image's in a container).
    pub cwd: Option<PathBuf>,
    /// Where standard input comes from. Ignored when `terminal` is set: the
    /// terminal is always writable.
    pub stdin: StdinMode,
    /// Run on a pseudo-terminal of this size instead of pipes. Output then
    /// arrives as one stream (reported as stdout) with terminal line endings.
    pub terminal: Option<TerminalSize>,
    /// Grace period between SIGTERM and SIGKILL for this process; `None`
    /// means the runtime's default.
    pub grace: Option<Duration>,
    /// The run outlives the runtime instance that started it and can be
    /// adopted by a later instance on the same state (a durable run). When
    /// `false` (the default) the run is *attached*: it is stopped, whole
    /// tree, when its owner goes away. A runtime that cannot keep a run
    /// beyond its owner refuses a durable request with
    /// [`Error::Unsupported`](crate::Error::Unsupported).
    pub durable: bool,
}

impl SpawnRequest {
    /// A request with the default environment (inherit), no labels, the
    /// default working directory, stdin from `/dev/null`, pipes, and the
    /// runtime's grace period.
    pub fn new(command: CommandLine) -> Self {
        Self {
            command,
            env: Environment::default(),
            labels: Labels::new(),
            cwd: None,
            stdin: StdinMode::Null,
            terminal: None,
            grace: None,
            durable: false,
        }
    }

    /// Sets the environment.
    #[must_use]
    pub fn env(mut self, env: Environment) -> Self {
        self.env = env;
        self
    }

    /// Makes the run durable (it outlives its owner) or attached; see
    /// [`SpawnRequest::durable`](SpawnRequest#structfield.durable).
    #[must_use]
    pub fn durable(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }

    /// Adds one label.
    #[must_use]
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Sets the working directory.
    #[must_use]
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets the stdin mode.
    #[must_use]
    pub fn stdin(mut self, mode: StdinMode) -> Self {
        self.stdin = mode;
        self
    }

    /// Runs the process on a pseudo-terminal of this size.
    #[must_use]
    pub fn terminal(mut self, size: TerminalSize) -> Self {
        self.terminal = Some(size);
        self
    }

    /// Sets the grace period between SIGTERM and SIGKILL.
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = Some(grace);
        self
    }

    /// Checks what can be checked without starting anything: the
    /// environment's names and values. (The command line was checked when
    /// it was built.) Runtimes call this first in `spawn`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCommand`] naming the offending variable.
    pub fn validate(&self) -> Result<(), Error> {
        self.env.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_display(argv: &[&str], expected: &str) {
        let cmd = CommandLine::new(argv.iter().copied()).unwrap();
        assert_eq!(cmd.to_string(), expected);
    }

    #[test]
    fn display_quotes_only_what_a_shell_would_misread() {
        check_display(&["echo", "hello"], "echo hello");
        check_display(&["echo", "a b"], "echo 'a b'");
        check_display(&["echo", ""], "echo ''");
        check_display(&["echo", "it's"], r"echo 'it'\''s'");
        check_display(&["printf", "%s\n", "$(x)"], "printf '%s\n' '$(x)'");
        check_display(&["gemini", "--prompt=-x"], "gemini --prompt=-x");
    }

    #[test]
    fn invalid_command_lines_name_the_problem() {
        let problem = |argv: Vec<&str>| match CommandLine::new(argv) {
            Err(Error::InvalidCommand { problem }) => problem,
            other => panic!("expected InvalidCommand, got {other:?}"),
        };
        assert_eq!(problem(vec![]), CommandProblem::EmptyArgv);
        assert_eq!(problem(vec![""]), CommandProblem::EmptyProgram);
        assert_eq!(
            problem(vec!["echo", "ok", "a\0b"]),
            CommandProblem::NulInArgument { index: 2 }
        );
        let longest = "x".repeat(MAX_ARGUMENT_BYTES);
        assert!(CommandLine::new(["echo", longest.as_str()]).is_ok());
        let over = format!("{longest}y");
        assert_eq!(
            problem(vec!["agent", "--", over.as_str()]),
            CommandProblem::ArgumentTooLong {
                index: 2,
                bytes: MAX_ARGUMENT_BYTES + 1
            }
        );
    }

    #[test]
    fn hostile_prompt_stays_one_argument() {
        let prompt = "-rf\n'\"$(touch pwn)\"' `id`";
        let cmd = CommandLine::new(["agent", "--", prompt]).unwrap();
        assert_eq!(cmd.args(), ["--", prompt]);
        assert_eq!(cmd.clone().into_argv().len(), 3);
    }

    #[test]
    fn environment_resolution_order() {
        let base = || {
            [("A", "base"), ("B", "base"), ("SECRET", "s")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        };
        let caller = |name: &str| (name == "KEY").then(|| "from-caller".to_owned());

        let inherit = Environment::inherit()
            .unset("SECRET")
            .set("B", "set")
            .pass("KEY");
        let env = inherit.resolve_with(base(), caller);
        assert_eq!(
            env.into_iter().collect::<Vec<_>>(),
            [
                ("A".to_owned(), "base".to_owned()),
                ("B".to_owned(), "set".to_owned()),
                ("KEY".to_owned(), "from-caller".to_owned()),
            ]
        );

        let clean = Environment::clean()
            .pass("KEY")
            .pass("MISSING")
            .set("C", "1");
        let env = clean.resolve_with(base(), caller);
        assert_eq!(env.keys().collect::<Vec<_>>(), ["C", "KEY"]);
    }

    #[test]
    fn set_wins_over_pass_and_unset_then_set_restores() {
        let caller = |_: &str| Some("caller".to_owned());
        let env = Environment::clean().pass("X").set("X", "mine");
        assert_eq!(env.resolve_with([], caller)["X"], "mine");
        let env = Environment::inherit().unset("X").set("X", "back");
        assert_eq!(
            env.resolve_with([("X".into(), "base".into())], caller)["X"],
            "back"
        );
    }

    #[test]
    fn merge_keeps_the_callers_base() {
        let agent = Environment::inherit()
            .set("NO_COLOR", "1")
            .pass("API_KEY")
            .unset("DEBUG");
        let merged = Environment::clean().set("NO_COLOR", "0").merge(&agent);
        assert!(!merged.inherits());
        assert_eq!(merged.vars()["NO_COLOR"], "1");
        assert!(merged.passed().contains("API_KEY"));
        assert!(merged.unset_names().contains("DEBUG"));
    }

    #[test]
    fn environment_check_names_the_variable() {
        let problem = |env: Environment| match env.check() {
            Err(Error::InvalidCommand { problem }) => Some(problem),
            Ok(()) => None,
            Err(other) => panic!("unexpected {other:?}"),
        };
        assert_eq!(problem(Environment::clean().set("OK", "v")), None);
        assert_eq!(
            problem(Environment::clean().set("A=B", "v")),
            Some(CommandProblem::InvalidEnvName { name: "A=B".into() })
        );
        assert_eq!(
            problem(Environment::clean().pass("")),
            Some(CommandProblem::InvalidEnvName {
                name: String::new()
            })
        );
        assert_eq!(
            problem(Environment::clean().set("K", "a\0b")),
            Some(CommandProblem::NulInEnvValue { name: "K".into() })
        );
    }

    #[test]
    fn environment_debug_never_shows_values() {
        let env = Environment::inherit().set("TOKEN", "s3cr3t");
        let shown = format!("{env:?}");
        assert!(shown.contains("TOKEN"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        let request = SpawnRequest::new(CommandLine::new(["env"]).unwrap()).env(env);
        assert!(!format!("{request:?}").contains("s3cr3t"));
    }
}
