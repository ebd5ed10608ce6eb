//! Codex CLI (`codex`, npm `@openai/codex`).

use std::path::PathBuf;

use serde_json::Value;

use logist_core::{
    Agent, CommandLine, Environment, Error, FailureCause, FailurePattern, OutputFormat,
    PromptOnStdin, StopSequence, Verdict,
};

use crate::adapter::{
    AgentProgram, FailureText, Verification, WaitingText, base_env, classify, create_dir,
    create_home, event_type, failure_patterns, last_json_line, pass_all, stop_sequences,
};
use crate::config::Approval;
use crate::error::AgentError;

use super::adapter;

adapter! {
    /// Codex CLI, run as `codex exec --json --skip-git-repo-check … -- PROMPT`.
    ///
    /// - **Prompt**: after `--`; or on stdin
    ///   ([`prompt_on_stdin`](Agent::prompt_on_stdin)), which has no size
    ///   limit.
    /// - **Output**: JSON lines (`thread.started`, `item.*`,
    ///   `turn.completed` or `turn.failed`, `error`); only these go to
    ///   stdout, progress goes to stderr. [`verdict`](Agent::verdict) reads
    ///   the last turn event.
    /// - **Base URL**: a provider named `logist` defined with `-c
    ///   model_providers.logist={…, wire_api="responses"}`, whose key is
    ///   `OPENAI_API_KEY`; the URL includes `/v1`
    ///   (`http://127.0.0.1:8080/v1`).
    /// - **Approval**: `codex exec` never asks; the sandbox decides:
    ///   `-s read-only` (ask: edits fail), `workspace-write`,
    ///   `danger-full-access`.
    /// - **Keys**: `OPENAI_API_KEY`, `CODEX_API_KEY`, passed by name.
    /// - **Quiet**: the plugin sync (`--disable plugins`, which otherwise
    ///   reaches github.com and chatgpt.com), analytics and the update
    ///   check (`-c analytics.enabled=false -c
    ///   check_for_update_on_startup=false`) are off. `--skip-git-repo-check`
    ///   lets it run outside a git repository.
    /// - **Isolation**: `HOME` and `CODEX_HOME=<home>/.codex`.
    ///
    /// Verified end to end with 0.169.0 offline (reply, hostile prompt,
    /// `exec_command` tool call writing a file with `AutoEdit`).
    Codex
}

/// Texts Codex shows when it waits for a human (its TUI; `exec` never
/// asks).
pub const WAITING: &[WaitingText] = &[
    WaitingText {
        text: "Do you trust the contents of this directory?",
        regex: false,
        dialog: "trust",
        seen_in: "0.1xx (before 0.169.0)",
        source: "openai/codex codex-rs/tui/src/onboarding/trust_directory.rs",
    },
    WaitingText {
        text: r"Trust\s+this\s+folder\?",
        regex: true,
        dialog: "trust",
        seen_in: "0.169.0",
        source: "0.169.0 binary: \"Trust this folder? Codex can read, edit, and run files here, subject to your permission settings. …\"",
    },
    WaitingText {
        text: r"Trust\s+all\s+and\s+continue",
        regex: true,
        dialog: "trust (hooks)",
        seen_in: "0.169.0",
        source: "0.169.0 binary: \"Hooks need review\" … \"Trust all and continue\", \"Continue without trusting\"",
    },
    WaitingText {
        // The approval overlay's question, at the start of a row (after a
        // border): run a command, make edits, grant permissions, send
        // input to a terminal.
        text: r"^[\s│┃▌|]*Would\s+you\s+like\s+to\s+(?:run\s+the\s+following\s+command|make\s+the\s+following\s+edits|grant\s+these\s+permissions|send\s+input\s+to)",
        regex: true,
        dialog: "approval",
        seen_in: "0.1xx-0.169.0",
        source: "0.169.0 binary: \"Would you like to run the following command?\", \"Would you like to make the following edits?\", \"Would you like to grant these permissions?\", \"Would you like to send input to the existing terminal?\" (codex-rs/tui/src/bottom_pane/approval_overlay.rs)",
    },
    WaitingText {
        text: r"Approve\s+app\s+tool\s+call\?",
        regex: true,
        dialog: "tool approval",
        seen_in: "0.169.0",
        source: "0.169.0 binary: \"Approve app tool call?\"",
    },
    WaitingText {
        // The overlay's options, first and "remember" rows:
        // `Yes, just this once`, `Yes, and don't ask again for this command
        // in this session`, `… for commands that start with `<prefix>``,
        // `… for these files`, `Yes, and allow this host …`, `Yes, and
        // allow these permissions for this session`, `Yes, grant these
        // permissions for this turn`, `Yes, provide the requested info`.
        text: r"Yes,\s+(?:just\s+this\s+once|and\s+don't\s+ask\s+again|and\s+allow\s+th(?:is|ese)\s+(?:host|permissions)|grant\s+(?:these\s+permissions|for\s+this)|provide\s+the\s+requested\s+info)",
        regex: true,
        dialog: "approval",
        seen_in: "0.1xx-0.169.0",
        source: "0.169.0 binary: \"Yes, just this once\", \"Yes, and don't ask again for this command in this session\", \"Yes, and don't ask again for commands that start with `\", \"Yes, and don't ask again for these files\", \"Yes, and allow this host for this conversation\", \"Yes, and allow these permissions for this session\", \"Yes, grant these permissions for this turn\", \"Yes, provide the requested info\"",
    },
    WaitingText {
        // The refusal rows.
        text: r"No,\s+(?:and\s+tell\s+Codex\s+what\s+to\s+do\s+differently|continue\s+without\s+(?:running\s+it|permissions)|and\s+block\s+this\s+host|but\s+continue\s+without\s+it)",
        regex: true,
        dialog: "approval",
        seen_in: "0.1xx-0.169.0",
        source: "0.169.0 binary: \"No, and tell Codex what to do differently\", \"No, continue without running it\", \"No, continue without permissions\", \"No, and block this host in the future\", \"No, but continue without it\"",
    },
    WaitingText {
        text: "Press enter to confirm or esc to cancel",
        regex: false,
        dialog: "approval",
        seen_in: "0.1xx (before 0.169.0)",
        source: "openai/codex codex-rs/tui/src/bottom_pane/approval_overlay.rs",
    },
    WaitingText {
        text: r"Go\s+back\s+without\s+enabling",
        regex: true,
        dialog: "full-access warning",
        seen_in: "0.169.0",
        source: "0.169.0 binary: \"Yes, continue anyway\", \"Apply full access for this session\", \"Go back without enabling full access\"",
    },
    WaitingText {
        // The onboarding's options, at the start of a row: the same words
        // also end error messages ("… Sign in with ChatGPT and retry.").
        text: r"^[\s│›>]*(?:\d\.\s+)?Sign\s+in\s+with\s+(?:ChatGPT|Device\s+Code)",
        regex: true,
        dialog: "login",
        seen_in: "0.1xx-0.169.0",
        source: "0.169.0 binary: onboarding options \"Sign in with ChatGPT\", \"Sign in with Device Code\" (codex-rs/tui/src/onboarding/auth.rs); third-party login fixtures",
    },
    WaitingText {
        text: "Ask Codex to do anything",
        regex: false,
        dialog: "idle",
        seen_in: "0.169.0",
        source: "composer placeholder; found by the sentinel on a pseudo-terminal (e2e `terminal` tests, fresh home)",
    },
];

/// Texts in Codex's output that tell why a run failed.
pub const FAILURES: &[FailureText] = &[
    FailureText {
        cause: FailureCause::RateLimited,
        text: "429 Too Many Requests",
        regex: false,
        source: "reqwest status text in Codex's stream errors",
    },
    FailureText {
        cause: FailureCause::RateLimited,
        text: "rate_limit_exceeded",
        regex: false,
        source: "OpenAI API error code",
    },
    FailureText {
        cause: FailureCause::RateLimited,
        text: "You've hit your usage limit",
        regex: false,
        source: "Codex usage-limit message",
    },
    FailureText {
        cause: FailureCause::AuthFailed,
        text: "401 Unauthorized",
        regex: false,
        source: "reqwest status text in Codex's stream errors",
    },
    FailureText {
        cause: FailureCause::AuthFailed,
        text: "invalid_api_key",
        regex: false,
        source: "OpenAI API error code",
    },
    FailureText {
        cause: FailureCause::AuthFailed,
        text: "Not logged in",
        regex: false,
        source: "third-party login fixtures (\"Not logged in. Run `codex login`\")",
    },
    FailureText {
        cause: FailureCause::ContextExhausted,
        text: "context_length_exceeded",
        regex: false,
        source: "OpenAI API error code",
    },
    FailureText {
        cause: FailureCause::ContextExhausted,
        text: "ran out of room in the model's context window",
        regex: false,
        source: "Codex message when the context is full",
    },
];

/// Quotes `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

impl Codex {
    /// The argv without the prompt.
    fn options(&self) -> Vec<String> {
        let mut argv: Vec<String> = [
            self.program(),
            "exec",
            "--json",
            "--skip-git-repo-check",
            "--color",
            "never",
            "--disable",
            "plugins",
            "-c",
            "analytics.enabled=false",
            "-c",
            "check_for_update_on_startup=false",
        ]
        .map(str::to_owned)
        .into();
        if let Some(model) = &self.config.model {
            argv.extend(["-m".into(), model.clone()]);
        }
        let sandbox = match self.config.approval {
            Approval::Ask => "read-only",
            Approval::AutoEdit => "workspace-write",
            Approval::FullAuto => "danger-full-access",
        };
        argv.extend(["-s".into(), sandbox.into()]);
        if let Some(url) = &self.config.base_url {
            argv.extend([
                "-c".into(),
                "model_provider=logist".into(),
                "-c".into(),
                format!(
                    "model_providers.logist={{name=\"logist\",base_url={},env_key=\"OPENAI_API_KEY\",wire_api=\"responses\"}}",
                    toml_string(url)
                ),
            ]);
        }
        argv.extend(self.config.extra_args.iter().cloned());
        argv
    }
}

impl Agent for Codex {
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        let mut argv = self.options();
        // `exec resume [SESSION_ID] [PROMPT]`: the options above are
        // `exec`'s and stay before the subcommand.
        match &self.config.resume {
            Some(session) => {
                argv.extend(["resume".into(), "--".into(), session.clone(), prompt.into()])
            }
            None => argv.extend(["--".into(), prompt.into()]),
        }
        CommandLine::new(argv)
    }

    /// `exec` with no prompt argument reads the prompt from stdin to its end
    /// (seen here with 0.169.0: a 200 KB prompt arrives whole).
    /// A resumed session takes its prompt as an argument (the form that was
    /// verified).
    fn prompt_on_stdin(&self, prompt: &str) -> Result<Option<PromptOnStdin>, Error> {
        if self.config.resume.is_some() {
            return Ok(None);
        }
        let command = CommandLine::new(self.options())?;
        Ok(Some(PromptOnStdin::new(command, prompt)))
    }

    /// `codex-acp`: Codex has no ACP mode of its own; the bridge npm
    /// `@agentclientprotocol/codex-acp` (2.6.0, which runs the Codex app
    /// server) speaks it. [`CODEX_ACP_PROGRAM`](crate::CODEX_ACP_PROGRAM)
    /// is looked up on `PATH`. Its default session mode, `agent`, writes in
    /// the workspace unasked; session mode `read-only` asks
    /// (`logist_acp::AcpConfig::session_mode`).
    fn acp_command(&self) -> Result<Option<CommandLine>, Error> {
        CommandLine::new([crate::CODEX_ACP_PROGRAM]).map(Some)
    }

    fn env(&self) -> Environment {
        let mut env = pass_all(base_env(&self.config), &["OPENAI_API_KEY", "CODEX_API_KEY"]);
        if let Some(home) = &self.config.home {
            env = env.set("CODEX_HOME", home.join(".codex").to_string_lossy());
        }
        env
    }

    fn stop_sequences(&self) -> Vec<StopSequence> {
        stop_sequences(WAITING)
    }

    fn name(&self) -> &str {
        "codex"
    }

    fn version(&self) -> &str {
        "0.169.0"
    }

    fn failure_patterns(&self) -> Vec<FailurePattern> {
        failure_patterns(FAILURES)
    }

    fn verdict(&self, stdout_tail: &[u8]) -> Option<Verdict> {
        let event = last_json_line(stdout_tail, |event| {
            matches!(
                event_type(event),
                Some("turn.completed" | "turn.failed" | "error")
            )
        })?;
        if event_type(&event) == Some("turn.completed") {
            return Some(Verdict::Succeeded);
        }
        let message = event
            .get("message")
            .or_else(|| event.pointer("/error/message"))
            .and_then(Value::as_str)
            .unwrap_or("the turn failed")
            .to_owned();
        let cause = classify(&message, FAILURES);
        Some(Verdict::Failed { cause, message })
    }

    fn output_format(&self) -> OutputFormat {
        OutputFormat::CodexJson
    }
}

impl AgentProgram for Codex {
    fn config(&self) -> &crate::AgentConfig {
        &self.config
    }

    fn default_program(&self) -> &'static str {
        "codex"
    }

    fn resumes(&self) -> bool {
        true
    }

    fn waiting_texts(&self) -> &'static [WaitingText] {
        WAITING
    }

    fn verification(&self) -> Verification {
        Verification::EndToEnd { version: "0.169.0" }
    }

    fn prepare_home(&self) -> Result<Option<PathBuf>, AgentError> {
        let Some(home) = create_home(self.name(), &self.config)? else {
            return Ok(None);
        };
        // Codex refuses to start when CODEX_HOME does not exist.
        create_dir(self.name(), &home.join(".codex"))?;
        Ok(Some(home))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_strings_escape_quotes_and_controls() {
        assert_eq!(toml_string("http://h/v1"), "\"http://h/v1\"");
        assert_eq!(toml_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000A\"");
    }
}
