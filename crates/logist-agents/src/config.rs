//! What a caller can choose for any adapter: the program path, model, API
//! base URL, approval mode, extra arguments and an isolated home directory.

use std::path::PathBuf;

/// How much the agent may do without asking a human.
///
/// Each adapter maps these to its program's own flags (see each adapter's
/// docs). In non-interactive runs nobody can answer, so "ask" usually
/// means "refuse": the program declines the tool call and says so.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Approval {
    /// The program's default: anything beyond reading needs approval.
    #[default]
    Ask,
    /// File edits inside the working directory are allowed; commands and
    /// everything else still need approval.
    AutoEdit,
    /// Everything is allowed without asking (the programs' "yolo" or
    /// "bypass permissions" modes). Use only in a sandbox.
    FullAuto,
}

impl Approval {
    /// `ask`, `auto-edit` or `full-auto`.
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::Ask => "ask",
            Approval::AutoEdit => "auto-edit",
            Approval::FullAuto => "full-auto",
        }
    }
}

/// The choices shared by every adapter, built by chaining.
///
/// Fields are public; the chained methods are a shorthand for setting them.
/// Nothing here is checked or touched on disk when set: adapters read it
/// when asked for a command line or an environment, and only
/// [`AgentProgram::prepare_home`](crate::AgentProgram::prepare_home) writes
/// files.
///
/// ```
/// use logist_agents::{AgentConfig, Approval};
///
/// let config = AgentConfig::new()
///     .model("claude-sonnet-4-5")
///     .base_url("http://127.0.0.1:8080")
///     .approval(Approval::AutoEdit)
///     .args(["--max-turns", "3"])
///     .home("/tmp/job-7/home");
/// assert_eq!(config.model.as_deref(), Some("claude-sonnet-4-5"));
/// assert_eq!(config.extra_args, ["--max-turns", "3"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AgentConfig {
    /// The program to run: a name looked up on `PATH` or a path. `None`
    /// means the adapter's usual name (`claude`, `aider`, …).
    pub program: Option<String>,
    /// The model, in the program's own naming (`openai/gpt-5` for Aider,
    /// `gemini-2.5-pro` for Gemini CLI, …). `None` keeps the program's
    /// default.
    pub model: Option<String>,
    /// The model provider's API base URL, passed to the program's own
    /// override exactly as given; each adapter's docs say which override
    /// that is and whether it expects a `/v1` suffix.
    pub base_url: Option<String>,
    /// How much the agent may do without asking.
    pub approval: Approval,
    /// Arguments appended after the adapter's own options and before the
    /// prompt.
    pub extra_args: Vec<String>,
    /// A directory that becomes the program's home (`HOME`, the XDG
    /// directories, and the program's own config-directory variable), so
    /// that it neither reads nor writes the caller's configuration. Fill it
    /// with [`AgentProgram::prepare_home`](crate::AgentProgram::prepare_home)
    /// before the first run.
    pub home: Option<PathBuf>,
    /// The id of an earlier session to continue (the `id` of its
    /// `session` event), through the program's own flag (`--resume`,
    /// `exec resume`, `--session`). An adapter whose program cannot
    /// continue a session refuses it in
    /// [`validate`](crate::AgentProgram::validate).
    pub resume: Option<String>,
}

impl AgentConfig {
    /// The defaults: the usual program name, its default model and API,
    /// [`Approval::Ask`], no extra arguments, no isolation.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs this program (a name looked up on `PATH`, or a path).
    #[must_use]
    pub fn program(mut self, program: impl Into<String>) -> Self {
        self.program = Some(program.into());
        self
    }

    /// Uses this model.
    #[must_use]
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Talks to the model provider at this base URL.
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Sets the approval mode.
    #[must_use]
    pub fn approval(mut self, approval: Approval) -> Self {
        self.approval = approval;
        self
    }

    /// Appends one extra argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_args.push(arg.into());
        self
    }

    /// Appends extra arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.extra_args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Continues the session with this id.
    #[must_use]
    pub fn resume(mut self, session: impl Into<String>) -> Self {
        self.resume = Some(session.into());
        self
    }

    /// Gives the program `dir` as its home directory.
    #[must_use]
    pub fn home(mut self, dir: impl Into<PathBuf>) -> Self {
        self.home = Some(dir.into());
        self
    }
}
