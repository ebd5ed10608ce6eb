//! The command line, as clap definitions.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::duration;

/// Run an AI coding agent, or any command, under supervision: stream its
/// output live, notice when it waits for a human, stop it with its whole
/// process tree, and report how it ended.
#[derive(Debug, Parser)]
#[command(name = "logist", version, after_help = crate::exit::TABLE, max_term_width = 100)]
pub(crate) struct Cli {
    /// More diagnostics on stderr (-v: info, -vv: debug, -vvv: trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
    /// Where durable runs are recorded (default: $XDG_STATE_HOME/logist,
    /// or ~/.local/state/logist).
    #[arg(
        long,
        value_name = "DIR",
        env = "LOGIST_STATE_DIR",
        global = true,
        hide_env_values = true
    )]
    pub(crate) state_dir: Option<PathBuf>,
    /// Internal: this process is the supervisor of a `--detach`ed run.
    #[arg(long = "internal-supervisor", hide = true, global = true)]
    pub(crate) supervisor: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a known agent on a prompt.
    #[command(after_help = crate::exit::TABLE)]
    Run(RunArgs),
    /// Run any command under the same supervision; its stdin is logist's.
    #[command(after_help = crate::exit::TABLE)]
    Exec(ExecArgs),
    /// List the known agents: program, installed, version, environment.
    Agents(AgentsArgs),
    /// Serve this machine's runtime to remote callers (`--remote`,
    /// LOGIST_REMOTE) until stopped.
    Serve(ServeArgs),
    /// List durable runs (`--detach`): running ones, or all with --all.
    Ps(PsArgs),
    /// Print a durable run's output, exactly as it was written.
    Logs(LogsArgs),
    /// Relay this terminal (or stdin) to a durable run, and its output back.
    Attach(AttachArgs),
    /// Wait until a durable run ends; exit with its code (the table below).
    #[command(after_help = crate::exit::TABLE)]
    Wait(IdArgs),
    /// Stop a durable run's whole process tree.
    Stop(StopArgs),
    /// Remove a finished durable run and its log.
    Rm(RmArgs),
}

/// The server a durable-run command acts on, if not this machine.
#[derive(Debug, Args)]
pub(crate) struct RemoteArg {
    /// Act on the runs of the `logist serve` server at this address
    /// (unix:PATH, tcp://HOST:PORT, tls://HOST:PORT) instead of this
    /// machine's state directory; LOGIST_TOKEN is its token.
    #[arg(
        long,
        value_name = "URL",
        env = "LOGIST_REMOTE",
        hide_env_values = true
    )]
    pub(crate) remote: Option<String>,
}

/// Options of `logist ps`.
#[derive(Debug, Args)]
pub(crate) struct PsArgs {
    #[command(flatten)]
    pub(crate) server: RemoteArg,
    /// Show every recorded run: exited, lost and damaged ones too.
    #[arg(long, short)]
    pub(crate) all: bool,
    /// Print one JSON array instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// A run's id, as `logist run|exec --detach` printed it.
#[derive(Debug, Args)]
pub(crate) struct IdArgs {
    /// The run's id.
    #[arg(value_name = "ID")]
    pub(crate) id: String,
    #[command(flatten)]
    pub(crate) server: RemoteArg,
}

/// Options of `logist logs`.
#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// Keep printing output as it comes, until the run ends.
    #[arg(long, short)]
    pub(crate) follow: bool,
    /// Start with the last N lines only.
    #[arg(long, short = 'n', value_name = "N")]
    pub(crate) tail: Option<usize>,
    #[command(flatten)]
    pub(crate) run: IdArgs,
}

/// Options of `logist attach`.
#[derive(Debug, Args)]
pub(crate) struct AttachArgs {
    /// Print the whole log first, instead of starting at its current end.
    #[arg(long)]
    pub(crate) replay: bool,
    /// Do not pass stdin to the run: only watch its output.
    #[arg(long)]
    pub(crate) no_stdin: bool,
    #[command(flatten)]
    pub(crate) run: IdArgs,
}

/// Options of `logist stop`.
#[derive(Debug, Args)]
pub(crate) struct StopArgs {
    /// Time between SIGTERM and SIGKILL (default: the run's own --grace).
    #[arg(long, value_name = "SECS", value_parser = duration::parse)]
    pub(crate) grace: Option<Duration>,
    /// Kill the tree at once (SIGKILL).
    #[arg(long, conflicts_with = "grace")]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) run: IdArgs,
}

/// Options of `logist rm`.
#[derive(Debug, Args)]
pub(crate) struct RmArgs {
    /// Kill a running run's tree first (SIGKILL), then remove it.
    #[arg(long, short)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) run: IdArgs,
}

/// Options of `logist serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Where to listen: unix:PATH (no token; the socket is mode 0600), or
    /// HOST:PORT / tcp://HOST:PORT (needs LOGIST_TOKEN). Port 0 picks a
    /// free port; the address is printed on stderr.
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: String,
    /// Let the socket file's group connect too (mode 0660 instead of 0600).
    #[arg(long)]
    pub(crate) group_access: bool,
    /// Serve TCP over TLS with this certificate chain (PEM); clients then
    /// use tls://HOST:PORT and LOGIST_TLS_CA.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Time between SIGTERM and SIGKILL when stopping a command.
    #[arg(long, value_name = "SECS", value_parser = duration::parse, default_value = "5")]
    pub(crate) grace: Duration,
    /// What to serve: this machine's processes (host, with durable runs in
    /// the state directory), or containers of --image (docker), which the
    /// engine keeps across a restart of the server.
    #[arg(long, value_enum, default_value = "host", value_name = "RUNTIME")]
    pub(crate) runtime: RuntimeKind,
    /// The image to run in (with --runtime docker).
    #[arg(long, value_name = "IMAGE")]
    pub(crate) image: Option<String>,
    /// The containers' network (with --runtime docker): none (the
    /// default), bridge, host, or a network's name.
    #[arg(long, value_name = "MODE", default_value = "none")]
    pub(crate) network: String,
}

/// How much the agent may do without asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Approval {
    /// Ask before edits and commands (may wait for input).
    Ask,
    /// Edit files without asking; ask before commands.
    AutoEdit,
    /// Do everything without asking.
    FullAuto,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The agent: `mock` or an adapter listed by `logist agents`.
    #[arg(long, value_name = "NAME")]
    pub(crate) agent: String,
    /// The mock agent's scenario (success, hang, interactive, api_error, ...).
    #[arg(long, value_name = "S", default_value = "success")]
    pub(crate) scenario: String,
    /// The model to ask for.
    #[arg(long, value_name = "M")]
    pub(crate) model: Option<String>,
    /// The model API's base URL (a proxy, a local model server).
    #[arg(long, value_name = "URL")]
    pub(crate) base_url: Option<String>,
    /// How much the agent may do without asking.
    #[arg(long, value_enum, value_name = "MODE")]
    pub(crate) approval: Option<Approval>,
    /// An extra argument for the agent program (repeatable).
    #[arg(long = "agent-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub(crate) agent_args: Vec<String>,
    /// Continue the agent's earlier session with this id (the `session`
    /// event's id, shown in the closing summary).
    #[arg(long, value_name = "ID")]
    pub(crate) resume: Option<String>,
    /// Use this executable instead of the program found on PATH.
    #[arg(long, value_name = "PATH")]
    pub(crate) program: Option<PathBuf>,
    /// Read the prompt from this file (`-` for standard input) instead of
    /// the PROMPT argument: for prompts too large for a command line.
    #[arg(long, value_name = "PATH", conflicts_with = "prompt")]
    pub(crate) prompt_file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) shared: Shared,
    #[command(flatten)]
    pub(crate) acp: crate::acp::AcpArgs,
    /// The prompt, given to the agent literally: as one argument, or on its
    /// standard input for programs that read it there.
    /// A prompt that starts with a dash goes after `--`.
    #[arg(value_name = "PROMPT", required_unless_present = "prompt_file")]
    pub(crate) prompt: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// Text that means the command waits for input (repeatable).
    #[arg(long = "stop", value_name = "TEXT")]
    pub(crate) stops: Vec<String>,
    /// A regular expression that means the command waits for input (repeatable).
    #[arg(long = "stop-regex", value_name = "RE")]
    pub(crate) stop_regexes: Vec<String>,
    /// Notice a generic question the command settles on (a last line
    /// ending in `?`, `[y/N]`, `(yes/no)`, `password:`, then 1 s of quiet)
    /// and handle it as --on-input says. auto: when no --stop or
    /// --stop-regex is given and stdin is not a terminal.
    #[arg(long, value_enum, value_name = "WHEN", default_value = "auto")]
    pub(crate) generic_questions: GenericQuestions,
    #[command(flatten)]
    pub(crate) shared: Shared,
    /// The command and its arguments, after `--`.
    #[arg(value_name = "CMD", required = true, last = true)]
    pub(crate) command: Vec<String>,
}

/// When `exec` looks for generic questions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum GenericQuestions {
    /// When no stop sequence is given and nobody can answer (stdin is not
    /// a terminal).
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// What to do when the agent waits for input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OnInput {
    Fail,
    Wait,
    Answer(String),
}

fn parse_on_input(text: &str) -> Result<OnInput, String> {
    match text {
        "fail" => Ok(OnInput::Fail),
        "wait" => Ok(OnInput::Wait),
        _ => match text.strip_prefix("answer=") {
            Some(answer) => Ok(OnInput::Answer(answer.to_owned())),
            None => Err(format!(
                "invalid --on-input `{text}`: use fail, wait or answer=TEXT"
            )),
        },
    }
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("invalid --env `{text}`: expected KEY=VALUE")),
    }
}

/// The runtimes `--runtime` can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum RuntimeKind {
    /// Processes on this machine.
    Host,
    /// A container of `--image` on the Docker engine of DOCKER_HOST (a
    /// local socket by default; tcp:// and ssh:// for remote engines).
    Docker,
}

/// Options shared by `run` and `exec`.
#[derive(Debug, Args)]
pub(crate) struct Shared {
    /// Where to run the command.
    #[arg(long, value_enum, default_value = "host", value_name = "RUNTIME")]
    pub(crate) runtime: RuntimeKind,
    /// Run it on the `logist serve` server at this address instead
    /// (unix:PATH, tcp://HOST:PORT, tls://HOST:PORT); LOGIST_TOKEN is its
    /// token, LOGIST_TLS_CA the certificate authority for tls://.
    #[arg(
        long,
        value_name = "URL",
        env = "LOGIST_REMOTE",
        hide_env_values = true
    )]
    pub(crate) remote: Option<String>,
    /// The image to run in (with --runtime docker).
    #[arg(long, value_name = "IMAGE")]
    pub(crate) image: Option<String>,
    /// The container's network (with --runtime docker): none (the default),
    /// bridge, host, or a network's name.
    #[arg(long, value_name = "MODE", default_value = "none")]
    pub(crate) network: String,
    /// The working directory (with --runtime docker, mounted read-write at
    /// the same path in the container).
    #[arg(long, value_name = "DIR")]
    pub(crate) cwd: Option<PathBuf>,
    /// Set an environment variable (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub(crate) env: Vec<(String, String)>,
    /// Start from an empty environment (keeping only PATH, HOME, USER,
    /// LANG, LC_ALL, TERM and TMPDIR) instead of this one.
    #[arg(long)]
    pub(crate) clean_env: bool,
    /// Pass this variable from this environment into a clean one (repeatable).
    #[arg(long = "pass", value_name = "NAME")]
    pub(crate) pass: Vec<String>,
    /// Stop the command after this long (e.g. 90, 1.5, 500ms, 10m).
    #[arg(long, value_name = "SECS", value_parser = duration::parse_positive)]
    pub(crate) timeout: Option<Duration>,
    /// Stop the command after this long without output.
    #[arg(long, value_name = "SECS", value_parser = duration::parse_positive)]
    pub(crate) idle_timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when stopping it.
    #[arg(long, value_name = "SECS", value_parser = duration::parse, default_value = "5")]
    pub(crate) grace: Duration,
    /// When it waits for input: fail (stop it; the default), wait, or
    /// answer=TEXT (TEXT and a newline are written to its stdin, at most 3
    /// times).
    #[arg(long, value_name = "POLICY", value_parser = parse_on_input)]
    pub(crate) on_input: Option<OnInput>,
    /// Run it on a pseudo-terminal (programs that only prompt on a terminal).
    #[arg(long)]
    pub(crate) pty: bool,
    /// Write every byte of its output to this file.
    #[arg(long, value_name = "PATH")]
    pub(crate) log_file: Option<PathBuf>,
    /// Print newline-delimited JSON events on stdout instead of the output:
    /// the agent's own events (message, tool_call, usage, …) parsed from
    /// its structured output, and the run's.
    #[arg(long)]
    pub(crate) json: bool,
    /// Pass the agent program's output through byte for byte instead of
    /// showing its structured output readably.
    #[arg(long, conflicts_with = "json")]
    pub(crate) raw: bool,
    /// Start a durable run and print its id once it runs; its policies stay
    /// enforced by a supervisor in the background. See `logist ps`, `logs`,
    /// `attach`, `wait`, `stop`, `rm`.
    #[arg(long, conflicts_with_all = ["json", "raw", "log_file"])]
    pub(crate) detach: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AgentsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}
