//! Cline CLI (`cline`, npm `cline`).

use std::path::PathBuf;

use serde_json::Value;

use logist_core::{
    Agent, CommandLine, Environment, Error, FailureCause, FailurePattern, OutputFormat,
    StopSequence, Verdict,
};

use crate::adapter::{
    AgentProgram, FailureText, Verification, WaitingText, base_env, check_resume, classify,
    create_home, event_type, failure_patterns, last_json_line, pass_all, stop_sequences,
};
use crate::config::Approval;
use crate::error::AgentError;

use super::adapter;

adapter! {
    /// Cline CLI, run as `cline --json --auto-approve <bool> … -- PROMPT`.
    ///
    /// - **Prompt**: positional after `--`. **Caveat seen here with
    ///   3.0.65**: a one-word prompt is rejected ("Unknown command or
    ///   unquoted prompt", exit 1) and a prompt equal to a subcommand name
    ///   (`auth`, `config`, …) would run that subcommand.
    /// - **Output**: `--json` (JSON lines ending with `run_result`, or
    ///   `run_aborted`); [`verdict`](Agent::verdict) reads them.
    /// - **Base URL**: not supported. Cline keeps the provider, its base
    ///   URL **and its API key** in `~/.cline/data/settings/providers.json`
    ///   (written by `cline auth -p openai -k KEY -b URL -m MODEL`);
    ///   writing that file would copy the key, so the adapter refuses a
    ///   base URL ([`validate`](AgentProgram::validate)). Run `cline auth`
    ///   in the isolated home instead.
    /// - **Approval**: `--auto-approve false` for `Ask` and `AutoEdit`
    ///   (Cline has no edits-only switch), `--auto-approve true` for
    ///   `FullAuto`.
    /// - **Isolation**: `HOME` (Cline keeps everything in `~/.cline`).
    ///
    /// Run here with 3.0.65 against the fake model server after `cline
    /// auth` (reply, dash prompt); not part of the end-to-end tests.
    Cline
}

/// Texts Cline shows when it waits for a human.
pub const WAITING: &[WaitingText] = &[
    WaitingText {
        text: "Cline needs permission",
        regex: false,
        dialog: "permission",
        seen_in: "3.0.68",
        source: "OpenRig activity markers (read from the shipped bundle)",
    },
    WaitingText {
        text: "Approve tool call?",
        regex: false,
        dialog: "tool approval",
        seen_in: "3.0.68",
        source: "OpenRig activity markers (read from the shipped bundle)",
    },
    WaitingText {
        text: "Cline is asking a question",
        regex: false,
        dialog: "question",
        seen_in: "3.0.68",
        source: "OpenRig activity markers (read from the shipped bundle)",
    },
];

/// Texts in Cline's output that tell why a run failed.
pub const FAILURES: &[FailureText] = &[
    FailureText {
        cause: FailureCause::RateLimited,
        text: r"\b429\b",
        regex: true,
        source: "provider HTTP status in Cline's error events",
    },
    FailureText {
        cause: FailureCause::AuthFailed,
        text: r"\b401\b",
        regex: true,
        source: "provider HTTP status in Cline's error events",
    },
    FailureText {
        cause: FailureCause::ContextExhausted,
        text: "context window",
        regex: false,
        source: "Cline context-window messages",
    },
];

impl Agent for Cline {
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        let auto = if self.config.approval == Approval::FullAuto {
            "true"
        } else {
            "false"
        };
        let mut argv: Vec<String> = [self.program(), "--json", "--auto-approve", auto]
            .map(str::to_owned)
            .into();
        if let Some(model) = &self.config.model {
            argv.extend(["-m".into(), model.clone()]);
        }
        argv.extend(self.config.extra_args.iter().cloned());
        argv.extend(["--".into(), prompt.into()]);
        CommandLine::new(argv)
    }

    /// `cline --acp [-m M] [EXTRA…]`: native ACP (in 3.0.65's help).
    fn acp_command(&self) -> Result<Option<CommandLine>, Error> {
        let mut argv: Vec<String> = vec![self.program().to_owned(), "--acp".into()];
        if let Some(model) = &self.config.model {
            argv.extend(["-m".into(), model.clone()]);
        }
        argv.extend(self.config.extra_args.iter().cloned());
        CommandLine::new(argv).map(Some)
    }

    fn env(&self) -> Environment {
        pass_all(
            base_env(&self.config),
            &["OPENAI_API_KEY", "ANTHROPIC_API_KEY"],
        )
    }

    fn stop_sequences(&self) -> Vec<StopSequence> {
        stop_sequences(WAITING)
    }

    fn name(&self) -> &str {
        "cline"
    }

    fn version(&self) -> &str {
        "3.0.65"
    }

    fn failure_patterns(&self) -> Vec<FailurePattern> {
        failure_patterns(FAILURES)
    }

    fn verdict(&self, stdout_tail: &[u8]) -> Option<Verdict> {
        let event = last_json_line(stdout_tail, |event| {
            matches!(event_type(event), Some("run_result" | "run_aborted"))
        })?;
        let finish = event.get("finishReason").and_then(Value::as_str);
        if event_type(&event) == Some("run_result") && finish == Some("completed") {
            return Some(Verdict::Succeeded);
        }
        let message = event
            .get("message")
            .and_then(Value::as_str)
            .or(finish)
            .unwrap_or("cline did not complete the run")
            .to_owned();
        Some(Verdict::Failed {
            cause: classify(&message, FAILURES),
            message,
        })
    }

    fn output_format(&self) -> OutputFormat {
        OutputFormat::ClineJson
    }
}

impl AgentProgram for Cline {
    fn config(&self) -> &crate::AgentConfig {
        &self.config
    }

    fn default_program(&self) -> &'static str {
        "cline"
    }

    fn waiting_texts(&self) -> &'static [WaitingText] {
        WAITING
    }

    fn verification(&self) -> Verification {
        Verification::DocsOnly {
            note: "3.0.65 answered the fake model server by hand after `cline auth` (reply, dash prompt); one-word prompts are rejected",
        }
    }

    fn validate(&self) -> Result<(), AgentError> {
        check_resume(self)?;
        match self.config.base_url {
            Some(_) => Err(AgentError::Unsupported {
                agent: self.name().to_owned(),
                setting: "base URL",
                reason: "Cline stores the base URL with the API key in its settings; run `cline auth --baseurl` in the home directory",
            }),
            None => Ok(()),
        }
    }

    fn prepare_home(&self) -> Result<Option<PathBuf>, AgentError> {
        create_home(self.name(), &self.config)
    }
}
