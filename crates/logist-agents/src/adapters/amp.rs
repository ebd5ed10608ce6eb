//! Amp (`amp`, npm `@sourcegraph/amp`).

use std::path::PathBuf;

use logist_core::{
    Agent, CommandLine, Environment, Error, FailureCause, FailurePattern, OutputFormat,
    StopSequence, Verdict,
};

use crate::adapter::{
    AgentProgram, FailureText, Verification, WaitingText, base_env, check_resume, create_home,
    failure_patterns, pass_all, stop_sequences,
};
use crate::config::Approval;
use crate::error::AgentError;

use super::adapter;
use crate::adapter::result_verdict;

adapter! {
    /// Amp, run as `amp --no-color --stream-json … --execute=PROMPT`.
    ///
    /// - **Prompt**: the `--execute=P` form (its value is optional, so the
    ///   `=` keeps a prompt starting with `-` bound to it).
    /// - **Output**: `--stream-json` (Claude Code's event format, ending
    ///   with `result`); [`verdict`](Agent::verdict) reads it.
    /// - **Base URL**: `AMP_URL`, the Amp service (there is no model
    ///   provider override: Amp always talks to its own service).
    /// - **Model**: not supported (Amp picks models by mode).
    /// - **Approval**: `--dangerously-allow-all` for `FullAuto`; otherwise
    ///   Amp's default rules apply.
    /// - **Keys**: `AMP_API_KEY`, passed by name.
    /// - **Quiet**: `AMP_SKIP_UPDATE_CHECK=1`.
    /// - **Isolation**: `HOME` and the XDG directories (`~/.config/amp`).
    ///
    /// Checked here with 0.0.1790142911: the options parse, and without a
    /// key it starts a browser login ("No API key found. Starting login
    /// flow..."). Never run against a model: Amp has no offline mode.
    Amp
}

/// Texts Amp shows when it waits for a human.
pub const WAITING: &[WaitingText] = &[
    WaitingText {
        text: "Would you like to log in to Amp? [(y)es, (n)o]:",
        regex: false,
        dialog: "login",
        seen_in: "0.0.x",
        source: "third-party login fixture",
    },
    WaitingText {
        text: "No API key found. Starting login flow...",
        regex: false,
        dialog: "login (browser)",
        seen_in: "0.0.1790142911",
        source: "seen here without AMP_API_KEY",
    },
];

/// Texts in Amp's output that tell why a run failed.
pub const FAILURES: &[FailureText] = &[
    FailureText {
        cause: FailureCause::AuthFailed,
        text: "No API key found",
        regex: false,
        source: "seen here without AMP_API_KEY",
    },
    FailureText {
        cause: FailureCause::RateLimited,
        text: "rate limit",
        regex: false,
        source: "Amp service error text",
    },
];

impl Agent for Amp {
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        let mut argv: Vec<String> = [self.program(), "--no-color", "--stream-json"]
            .map(str::to_owned)
            .into();
        if self.config.approval == Approval::FullAuto {
            argv.push("--dangerously-allow-all".into());
        }
        argv.extend(self.config.extra_args.iter().cloned());
        argv.push(format!("--execute={prompt}"));
        CommandLine::new(argv)
    }

    fn env(&self) -> Environment {
        let mut env = pass_all(
            base_env(&self.config).set("AMP_SKIP_UPDATE_CHECK", "1"),
            &["AMP_API_KEY"],
        );
        if let Some(url) = &self.config.base_url {
            env = env.set("AMP_URL", url.clone());
        }
        env
    }

    fn stop_sequences(&self) -> Vec<StopSequence> {
        stop_sequences(WAITING)
    }

    fn name(&self) -> &str {
        "amp"
    }

    fn version(&self) -> &str {
        "0.0.1790142911-g7618fb"
    }

    fn failure_patterns(&self) -> Vec<FailurePattern> {
        failure_patterns(FAILURES)
    }

    fn verdict(&self, stdout_tail: &[u8]) -> Option<Verdict> {
        result_verdict(stdout_tail, FAILURES)
    }

    fn output_format(&self) -> OutputFormat {
        OutputFormat::ClaudeStreamJson
    }
}

impl AgentProgram for Amp {
    fn config(&self) -> &crate::AgentConfig {
        &self.config
    }

    fn default_program(&self) -> &'static str {
        "amp"
    }

    fn waiting_texts(&self) -> &'static [WaitingText] {
        WAITING
    }

    fn verification(&self) -> Verification {
        Verification::DocsOnly {
            note: "0.0.1790142911: options parse and the login prompt was seen; never run against a model",
        }
    }

    fn validate(&self) -> Result<(), AgentError> {
        check_resume(self)?;
        match self.config.model {
            Some(_) => Err(AgentError::Unsupported {
                agent: self.name().to_owned(),
                setting: "model",
                reason: "Amp chooses the model by mode (`--mode`)",
            }),
            None => Ok(()),
        }
    }

    fn prepare_home(&self) -> Result<Option<PathBuf>, AgentError> {
        create_home(self.name(), &self.config)
    }
}
