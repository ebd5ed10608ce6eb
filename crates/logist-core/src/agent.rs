//! The `Agent` trait: what to run for a prompt.

use crate::command::{CommandLine, Environment, PromptOnStdin};
use crate::error::Error;
use crate::format::OutputFormat;
use crate::stop::{FailurePattern, StopSequence, Verdict};

/// A coding-agent program: how to turn a prompt into a command line, what
/// environment it needs, and what it prints when it waits for a human.
///
/// An agent says *what* to run; a [`Runtime`](crate::Runtime) decides *how*
/// and *where*. Implementations are plain data plus string building: they
/// start nothing and read nothing at call time, so every method is cheap and
/// may be called from any thread.
///
/// The trait is object safe: callers hold `Box<dyn Agent>` and pick the
/// agent at run time.
pub trait Agent: Send + Sync {
    /// The argv that runs the agent non-interactively on `prompt`.
    ///
    /// The prompt must reach the program literally as one argument (or, for
    /// a program that reads it elsewhere, unchanged): never split, never
    /// given to a shell, never readable as an option even when it starts
    /// with `-`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCommand`] when the prompt cannot be passed (it holds
    /// a NUL byte).
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error>;

    /// The same run with the prompt given on standard input instead of in
    /// argv, for programs that read a piped prompt (to end-of-file) more
    /// faithfully than an argument: no limit on its size (Linux caps one
    /// argument at 128 KiB), no option parser that could misread it, no
    /// rewriting of its words. `None` (the default) means the program takes
    /// its prompt from [`cmd`](Self::cmd) only.
    ///
    /// A caller uses this form only when it can give the program a pipe
    /// and close it after the input: not on a terminal, and not when it
    /// means to answer the program's questions through stdin; otherwise it
    /// uses [`cmd`](Self::cmd), which must always work.
    ///
    /// ```
    /// use logist_core::{Agent, CommandLine, Environment, Error, PromptOnStdin, StopSequence};
    ///
    /// struct Counter;
    ///
    /// impl Agent for Counter {
    ///     fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
    ///         CommandLine::new(["wc", "-c", "--", prompt])
    ///     }
    ///     fn prompt_on_stdin(&self, prompt: &str) -> Result<Option<PromptOnStdin>, Error> {
    ///         Ok(Some(PromptOnStdin::new(CommandLine::new(["wc", "-c"])?, prompt)))
    ///     }
    ///     fn env(&self) -> Environment { Environment::inherit() }
    ///     fn stop_sequences(&self) -> Vec<StopSequence> { Vec::new() }
    ///     fn name(&self) -> &str { "counter" }
    ///     fn version(&self) -> &str { "1" }
    /// }
    ///
    /// let piped = Counter.prompt_on_stdin("-n $(x)")?.expect("counter reads stdin");
    /// assert_eq!(piped.command.argv(), ["wc", "-c"]);
    /// assert_eq!(piped.input, b"-n $(x)");
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCommand`] when the command line cannot be built.
    fn prompt_on_stdin(&self, prompt: &str) -> Result<Option<PromptOnStdin>, Error> {
        let _ = prompt;
        Ok(None)
    }

    /// The argv that starts the program in its Agent Client Protocol mode
    /// (JSON-RPC over stdin and stdout; prompts then arrive as
    /// `session/prompt` requests, not in argv), for programs that have one:
    /// `gemini --acp`, `opencode acp`, a bridge such as `codex-acp`. `None`
    /// (the default) means the program speaks no ACP.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCommand`] when the command line cannot be built.
    fn acp_command(&self) -> Result<Option<CommandLine>, Error> {
        Ok(None)
    }

    /// Whether the program, given its prompt in argv, reads answers to its
    /// questions from a standard input pipe. `true` (the default) for most.
    /// `false` for a program that takes a piped standard input as (more of)
    /// its prompt and reads it to the end before it starts: holding the pipe
    /// open for answers would hold the program forever, so it can be
    /// answered only on a terminal.
    fn answers_on_pipe(&self) -> bool {
        true
    }

    /// The environment the program needs, to be merged into the caller's
    /// choice with [`Environment::merge`] (the base, inherit or clean, is
    /// the caller's; only what this sets, passes and unsets is used). API
    /// keys are passed by name, never copied into the value.
    fn env(&self) -> Environment;

    /// The texts that mean the program is waiting for input.
    fn stop_sequences(&self) -> Vec<StopSequence>;

    /// A short name such as `claude-code` or `mock:success`.
    fn name(&self) -> &str;

    /// The version of the program this agent was written and tested for.
    fn version(&self) -> &str;

    /// Patterns in the output that tell why a run failed (rate limit,
    /// authentication, context window). None by default.
    fn failure_patterns(&self) -> Vec<FailurePattern> {
        Vec::new()
    }

    /// Reads the program's own report of how the run went from the last
    /// lines of its standard output, for programs whose exit code cannot be
    /// trusted alone. `None` (the default) means "trust the exit status".
    fn verdict(&self, stdout_tail: &[u8]) -> Option<Verdict> {
        let _ = stdout_tail;
        None
    }

    /// The form the program prints its run in on stdout, for a parser
    /// that turns it into events (`logist-events`). The default,
    /// [`OutputFormat::Text`], promises nothing beyond text.
    ///
    /// An adapter that names a JSON format must run the program in that
    /// mode in [`cmd`](Self::cmd) and [`prompt_on_stdin`](Self::prompt_on_stdin).
    fn output_format(&self) -> OutputFormat {
        OutputFormat::Text
    }
}
