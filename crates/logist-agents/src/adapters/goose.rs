//! Goose (`goose`, block/goose's release binaries; not on npm or PyPI).

use std::path::PathBuf;

use logist_core::{
    Agent, CommandLine, Environment, Error, FailureCause, FailurePattern, PromptOnStdin,
    StopSequence,
};

use crate::adapter::{
    AgentProgram, FailureText, Verification, WaitingText, base_env, create_home, failure_patterns,
    pass_all, stop_sequences,
};
use crate::config::Approval;
use crate::error::AgentError;

use super::adapter;

adapter! {
    /// Goose, run as `goose run --no-session … --text=PROMPT`.
    ///
    /// - **Prompt**: the `--text=P` form (clap keeps `=value` bound even
    ///   when it starts with `-`); or on stdin with `-i -`
    ///   ([`prompt_on_stdin`](Agent::prompt_on_stdin)), per Goose's docs.
    /// - **Output**: text; no [`verdict`](Agent::verdict).
    /// - **Base URL**: `GOOSE_PROVIDER=openai` with `OPENAI_HOST` = the URL
    ///   **without** `/v1` (Goose appends `OPENAI_BASE_PATH`, by default
    ///   `v1/chat/completions`).
    /// - **Model**: `GOOSE_MODEL`.
    /// - **Approval**: `GOOSE_MODE=approve | smart_approve | auto` (set
    ///   explicitly: sources disagree on the default).
    /// - **Keys**: `OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `GOOGLE_API_KEY`,
    ///   passed by name.
    /// - **Isolation**: `HOME` and the XDG directories
    ///   (`~/.config/goose/config.yaml`).
    ///
    /// Written from public documentation only: Goose is installed by a
    /// download script, which cannot run here, so nothing of it was run.
    Goose
}

/// Texts Goose shows when it waits for a human.
pub const WAITING: &[WaitingText] = &[
    WaitingText {
        text: "Goose would like to call the above tool",
        regex: false,
        dialog: "tool approval",
        seen_in: "1.x",
        source: "copies of block/goose crates/goose-cli/src/session/mod.rs",
    },
    WaitingText {
        text: "Do you allow this tool call?",
        regex: false,
        dialog: "tool approval (security warning)",
        seen_in: "1.x",
        source: "copies of block/goose crates/goose-cli/src/session/mod.rs",
    },
    WaitingText {
        text: "( O)> ",
        regex: false,
        dialog: "idle",
        seen_in: "1.x",
        source: "third-party blog (chat prompt)",
    },
];

/// Texts in Goose's output that tell why a run failed.
pub const FAILURES: &[FailureText] = &[
    FailureText {
        cause: FailureCause::RateLimited,
        text: "Rate limit exceeded",
        regex: false,
        source: "goose provider error text",
    },
    FailureText {
        cause: FailureCause::AuthFailed,
        text: "Authentication failed",
        regex: false,
        source: "goose provider error text",
    },
    FailureText {
        cause: FailureCause::ContextExhausted,
        text: "Context length exceeded",
        regex: false,
        source: "goose provider error text",
    },
];

impl Goose {
    /// The argv without the prompt.
    fn options(&self) -> Vec<String> {
        let mut argv: Vec<String> = [self.program(), "run", "--no-session"]
            .map(str::to_owned)
            .into();
        argv.extend(self.config.extra_args.iter().cloned());
        argv
    }
}

impl Agent for Goose {
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        let mut argv = self.options();
        argv.push(format!("--text={prompt}"));
        CommandLine::new(argv)
    }

    /// `run -i -` reads the instructions from stdin (Goose's docs: "Use `-`
    /// for stdin"; not run here).
    fn prompt_on_stdin(&self, prompt: &str) -> Result<Option<PromptOnStdin>, Error> {
        let mut argv = self.options();
        argv.push("-i".into());
        argv.push("-".into());
        let command = CommandLine::new(argv)?;
        Ok(Some(PromptOnStdin::new(command, prompt)))
    }

    fn env(&self) -> Environment {
        let mode = match self.config.approval {
            Approval::Ask => "approve",
            Approval::AutoEdit => "smart_approve",
            Approval::FullAuto => "auto",
        };
        let mut env = pass_all(
            base_env(&self.config).set("GOOSE_MODE", mode),
            &["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY"],
        );
        if let Some(model) = &self.config.model {
            env = env.set("GOOSE_MODEL", model.clone());
        }
        if let Some(url) = &self.config.base_url {
            env = env
                .set("GOOSE_PROVIDER", "openai")
                .set("OPENAI_HOST", url.clone());
        }
        env
    }

    fn stop_sequences(&self) -> Vec<StopSequence> {
        stop_sequences(WAITING)
    }

    fn name(&self) -> &str {
        "goose"
    }

    fn version(&self) -> &str {
        "1.x (docs)"
    }

    fn failure_patterns(&self) -> Vec<FailurePattern> {
        failure_patterns(FAILURES)
    }
}

impl AgentProgram for Goose {
    fn config(&self) -> &crate::AgentConfig {
        &self.config
    }

    fn default_program(&self) -> &'static str {
        "goose"
    }

    fn waiting_texts(&self) -> &'static [WaitingText] {
        WAITING
    }

    fn verification(&self) -> Verification {
        Verification::DocsOnly {
            note: "public docs only: no registry reached here ships it (npm has no Goose CLI; PyPI `goose-ai` is an unrelated package); it installs by download script",
        }
    }

    fn prepare_home(&self) -> Result<Option<PathBuf>, AgentError> {
        create_home(self.name(), &self.config)
    }
}
