//! Cursor Agent (`cursor-agent`, Cursor's install script; not on npm).

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
    /// Cursor Agent, run as `cursor-agent -p --output-format stream-json
    /// --trust … -- PROMPT`.
    ///
    /// - **Prompt**: positional after `--` (standard option parsing; not
    ///   verified).
    /// - **Output**: stream-json in Claude Code's format (a final `result`
    ///   with `is_error`); [`verdict`](Agent::verdict) reads it.
    /// - **Base URL**: not supported (Cursor talks to its own service).
    /// - **Approval**: `--trust` always (without it a fresh folder cannot
    ///   run headless); `--force` for `FullAuto`.
    /// - **Keys**: `CURSOR_API_KEY`, passed by name.
    /// - **Isolation**: `HOME` (`~/.cursor`).
    ///
    /// Written from public documentation and vibe-kanban's executor only:
    /// the program is installed by a download script, which cannot run
    /// here, so nothing of it was run.
    CursorAgent
}

/// Texts Cursor Agent shows when it waits for a human.
pub const WAITING: &[WaitingText] = &[
    WaitingText {
        text: "Run this command?",
        regex: false,
        dialog: "command approval",
        seen_in: "2026.09.28",
        source: "OpenRig activity markers (read from the shipped bundle)",
    },
    WaitingText {
        text: "Write to this file?",
        regex: false,
        dialog: "edit approval",
        seen_in: "2026.09.28",
        source: "OpenRig activity markers (read from the shipped bundle)",
    },
    WaitingText {
        text: "Proceed with this edit?",
        regex: false,
        dialog: "edit approval",
        seen_in: "2026.09.28",
        source: "OpenRig activity markers (read from the shipped bundle)",
    },
    WaitingText {
        text: "Waiting for decision (y/n/p)",
        regex: false,
        dialog: "approval",
        seen_in: "2026.09.28",
        source: "OpenRig activity markers (read from the shipped bundle)",
    },
];

/// Texts in Cursor Agent's output that tell why a run failed.
pub const FAILURES: &[FailureText] = &[
    FailureText {
        cause: FailureCause::AuthFailed,
        text: "Authentication required. Please run 'cursor-agent login' first",
        regex: false,
        source: "BloopAI/vibe-kanban executors/cursor.rs",
    },
    FailureText {
        cause: FailureCause::RateLimited,
        text: "rate limit",
        regex: false,
        source: "Cursor service error text",
    },
];

impl Agent for CursorAgent {
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        let mut argv: Vec<String> = [
            self.program(),
            "-p",
            "--output-format",
            "stream-json",
            "--trust",
        ]
        .map(str::to_owned)
        .into();
        if self.config.approval == Approval::FullAuto {
            argv.push("--force".into());
        }
        if let Some(model) = &self.config.model {
            argv.extend(["--model".into(), model.clone()]);
        }
        if let Some(session) = &self.config.resume {
            argv.push(format!("--resume={session}"));
        }
        argv.extend(self.config.extra_args.iter().cloned());
        argv.extend(["--".into(), prompt.into()]);
        CommandLine::new(argv)
    }

    fn env(&self) -> Environment {
        pass_all(base_env(&self.config), &["CURSOR_API_KEY"])
    }

    fn stop_sequences(&self) -> Vec<StopSequence> {
        stop_sequences(WAITING)
    }

    fn name(&self) -> &str {
        "cursor-agent"
    }

    fn version(&self) -> &str {
        "2026.09.28"
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

impl AgentProgram for CursorAgent {
    fn config(&self) -> &crate::AgentConfig {
        &self.config
    }

    fn default_program(&self) -> &'static str {
        "cursor-agent"
    }

    fn resumes(&self) -> bool {
        true
    }

    fn waiting_texts(&self) -> &'static [WaitingText] {
        WAITING
    }

    fn verification(&self) -> Verification {
        Verification::DocsOnly {
            note: "public docs and vibe-kanban's executor only; not installable here (download script)",
        }
    }

    fn validate(&self) -> Result<(), AgentError> {
        check_resume(self)?;
        match self.config.base_url {
            Some(_) => Err(AgentError::Unsupported {
                agent: self.name().to_owned(),
                setting: "base URL",
                reason: "Cursor Agent talks only to Cursor's service",
            }),
            None => Ok(()),
        }
    }

    fn prepare_home(&self) -> Result<Option<PathBuf>, AgentError> {
        create_home(self.name(), &self.config)
    }
}
