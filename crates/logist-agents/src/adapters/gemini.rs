//! Gemini CLI (`gemini`, npm `@google/gemini-cli`).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use logist_core::{
    Agent, CommandLine, Environment, Error, FailureCause, FailurePattern, OutputFormat,
    PromptOnStdin, StopSequence, Verdict,
};

use crate::adapter::{
    AgentProgram, FailureText, Verification, WaitingText, base_env, classify, create_home,
    event_type, failure_patterns, last_json_line, merge_settings, overlay_config_dir, pass_all,
    stop_sequences,
};
use crate::config::Approval;
use crate::error::AgentError;

use super::adapter;

adapter! {
    /// Gemini CLI, run as `gemini --skip-trust --output-format stream-json
    /// … --prompt=PROMPT`.
    ///
    /// - **Prompt**: the `--prompt=P` form, which keeps a prompt starting
    ///   with `-` bound to the option (`-- P` breaks headless mode); or
    ///   on stdin ([`prompt_on_stdin`](Agent::prompt_on_stdin)), which has
    ///   no size limit.
    /// - **Output**: stream-json (`init`, `message`, `tool_use`,
    ///   `tool_result`, `error`, `result` with `status`);
    ///   [`verdict`](Agent::verdict) reads the `result` event.
    /// - **Base URL**: `GOOGLE_GEMINI_BASE_URL`, the API root without
    ///   `/v1beta` (`http://127.0.0.1:8080`). Gemini CLI then also needs
    ///   `security.auth.selectedType = "gemini-api-key"` in its settings,
    ///   or it picks the `gateway` login and exits 41: the isolated home
    ///   written by [`prepare_home`](AgentProgram::prepare_home) has it,
    ///   and without one [`prepare_run`](AgentProgram::prepare_run) gives
    ///   the run its own `GEMINI_CLI_HOME` holding the person's settings
    ///   with that key added.
    /// - **Approval**: `--approval-mode default | auto_edit | yolo`; in
    ///   headless mode "ask" means the tool call is refused.
    /// - **Trust**: `--skip-trust` (without it a fresh folder exits 55).
    /// - **Keys**: `GEMINI_API_KEY`, `GOOGLE_API_KEY` and the Vertex AI
    ///   variables, passed by name.
    /// - **Isolation**: `HOME` and `GEMINI_CLI_HOME`; the settings turn off
    ///   usage statistics, telemetry and auto-update.
    ///
    /// Verified end to end with 0.61.0 offline (reply, hostile prompt,
    /// `write_file` tool call with `FullAuto`).
    Gemini
}

/// Texts Gemini CLI shows when it waits for a human.
pub const WAITING: &[WaitingText] = &[
    WaitingText {
        // `Do you trust the files in this folder?` and, for added
        // directories, `Do you trust the following folders being added to
        // this workspace?`.
        text: r"Do\s+you\s+trust\s+(?:the\s+files\s+in\s+this\s+folder|the\s+following\s+folders)",
        regex: true,
        dialog: "trust",
        seen_in: "0.x-0.61.0",
        source: "0.61.0 bundle: `children: \"Do you trust the files in this folder?\"`, `\"Do you trust the following folders being added to this workspace?\"` (FolderTrustDialog); seen here on a terminal (tmux, fresh home)",
    },
    WaitingText {
        // The trust options: `Trust folder (<dir>)`, `Trust parent folder
        // (<dir>)`, numbered in the select list.
        text: r"\d\.\s+Trust\s+(?:parent\s+)?folder\s+\(",
        regex: true,
        dialog: "trust",
        seen_in: "0.61.0",
        source: "0.61.0 bundle: label `Trust folder (${dirName})`, `Trust parent folder (${parentFolder})`, \"Don't trust\"",
    },
    WaitingText {
        text: "Apply this change?",
        regex: false,
        dialog: "edit permission",
        seen_in: "0.x-0.61.0",
        source: "0.61.0 bundle: question2 = `Apply this change?` (ToolConfirmationMessage)",
    },
    WaitingText {
        // `Allow execution of: '<cmd>'?`, `Allow execution of MCP tool
        // "<tool>" from server "<server>"?`, at the start of a row.
        text: r"^[\s│┃|]*Allow\s+execution\s+of",
        regex: true,
        dialog: "command permission",
        seen_in: "0.x-0.61.0",
        source: "0.61.0 bundle: `\"Allow execution of\"` and `Allow execution of MCP tool \"${…toolName}\" from server \"${…serverName}\"?` (ToolConfirmationMessage)",
    },
    WaitingText {
        // The first option of every tool confirmation: `Allow once`
        // (0.61.0) or `Yes, allow once` (older), numbered in the list.
        text: r"(?:\d\.|●)\s+(?:Yes,\s+a|A)llow\s+once",
        regex: true,
        dialog: "permission",
        seen_in: "0.x-0.61.0",
        source: "0.61.0 bundle: label \"Allow once\" (edit, exec, info, MCP confirmations); \"Yes, allow once\" in older versions (smtg-ai/claude-squad)",
    },
    WaitingText {
        // The remembering options: `Allow for this session`, `Allow tool
        // for this session`, `Allow all server tools for this session`,
        // `Allow for all future sessions`, `Allow this command for all
        // future sessions`, `Allow for this file in all future sessions`.
        text: r"\d\.\s+Allow\s+(?:tool\s+|all\s+server\s+tools\s+|this\s+command\s+)?for\s+(?:this\s+session|all\s+future\s+sessions|this\s+file)",
        regex: true,
        dialog: "permission",
        seen_in: "0.61.0",
        source: "0.61.0 bundle: labels \"Allow for this session\", \"Allow tool for this session\", \"Allow all server tools for this session\", \"Allow for all future sessions\", `Allow this command for all future sessions`, \"Allow for this file in all future sessions\"",
    },
    WaitingText {
        // Every dialog's Escape option is a list row ending in `(esc)`:
        // `No, suggest changes (esc)`, `No (esc)`, `Do nothing (esc)`,
        // `Keep loop detection enabled (esc)`.
        text: r"\d\.\s+[^\n]{1,60}\(esc\)",
        regex: true,
        dialog: "permission",
        seen_in: "0.x-0.61.0",
        source: "0.61.0 bundle: labels \"No, suggest changes (esc)\", \"No (esc)\", \"Do nothing (esc)\", \"Keep loop detection enabled (esc)\"",
    },
    WaitingText {
        text: "No, suggest changes (esc)",
        regex: false,
        dialog: "permission",
        seen_in: "0.x-0.61.0",
        source: "0.61.0 bundle: label \"No, suggest changes (esc)\" (ToolConfirmationMessage)",
    },
    WaitingText {
        // A question at the start of a row: `Do you want to proceed?`
        // (exec confirmations), `Do you want to accept and load these
        // policies?`, `How would you like to proceed?`.
        text: r"^[\s│┃|]*(?:Do\s+you\s+want\s+to\s+(?:proceed|accept\s+and\s+load\s+these\s+policies)|How\s+would\s+you\s+like\s+to\s+proceed)\?",
        regex: true,
        dialog: "permission",
        seen_in: "0.61.0",
        source: "0.61.0 bundle: question2 = `Do you want to proceed?`, children \"Do you want to accept and load these policies?\", \"How would you like to proceed?\"",
    },
    WaitingText {
        // Plan approval.
        text: r"Yes,\s+(?:automatically|manually)\s+accept\s+edits",
        regex: true,
        dialog: "plan approval",
        seen_in: "0.61.0",
        source: "0.61.0 bundle: labels \"Yes, automatically accept edits\", \"Yes, manually accept edits\"",
    },
    WaitingText {
        // The question (which wraps in a narrow box) and the options
        // `Sign in with Google`, `Use Gemini API Key`, `Vertex AI`,
        // `Use Cloud Shell user credentials`.
        text: r"How\s+would\s+you\s+like\s+to\s+authenticate|\d\.\s+(?:Sign\s+in\s+with\s+Google|Use\s+Gemini\s+API\s+Key|Vertex\s+AI|Use\s+Cloud\s+Shell)",
        regex: true,
        dialog: "login",
        seen_in: "0.x-0.61.0",
        source: "0.61.0 bundle: children \"How would you like to authenticate for this project?\", labels \"Sign in with Google\", \"Use Gemini API Key\", \"Vertex AI\", \"Use Cloud Shell user credentials\" (AuthDialog); third-party auth-dialog fixtures",
    },
    WaitingText {
        // `Waiting for auth... (Press ESC to cancel)` (older), `Waiting for
        // authentication... (Press Esc or Ctrl+C to cancel)`, `Waiting for
        // verification... (Press Esc or Ctrl+C to cancel)`.
        text: r"Waiting\s+for\s+(?:auth|authentication|verification)\.\.\.",
        regex: true,
        dialog: "login",
        seen_in: "0.x-0.61.0",
        source: "0.61.0 bundle: \" Waiting for authentication... (Press Esc or Ctrl+C to cancel)\", \"Waiting for verification... (Press Esc or Ctrl+C to cancel)\"; google-gemini/gemini-cli#1696, #3390 (\"Waiting for auth... (Press ESC to cancel)\")",
    },
    WaitingText {
        text: "Do you want to continue? [Y/n]",
        regex: false,
        dialog: "login (browser)",
        seen_in: "0.57.0",
        source: "claude-remember#532 (shown even with -p)",
    },
    WaitingText {
        text: r"Allow\s+Google\s+to\s+use\s+this\s+data",
        regex: true,
        dialog: "privacy notice",
        seen_in: "0.61.0",
        source: "0.61.0 bundle: children \"Allow Google to use this data to develop and improve our products and services?\"",
    },
    WaitingText {
        text: "Type your message or @path/to/file",
        regex: false,
        dialog: "idle",
        seen_in: "0.61.0",
        source: "input placeholder, drawn before the trust dialog; third-party fixtures; found by the sentinel on a pseudo-terminal (e2e `terminal` tests, fresh home)",
    },
];

/// Texts in Gemini CLI's output that tell why a run failed.
pub const FAILURES: &[FailureText] = &[
    FailureText {
        cause: FailureCause::RateLimited,
        text: "RESOURCE_EXHAUSTED",
        regex: false,
        source: "Gemini API error status for HTTP 429",
    },
    FailureText {
        cause: FailureCause::RateLimited,
        text: "Quota exceeded",
        regex: false,
        source: "Gemini API 429 message",
    },
    FailureText {
        cause: FailureCause::AuthFailed,
        text: "API key not valid",
        regex: false,
        source: "Gemini API 400 message for a bad key",
    },
    FailureText {
        cause: FailureCause::AuthFailed,
        text: "UNAUTHENTICATED",
        regex: false,
        source: "Gemini API error status for HTTP 401",
    },
    FailureText {
        cause: FailureCause::AuthFailed,
        text: "Invalid auth method selected",
        regex: false,
        source: "seen here: Gemini CLI 0.61.0, base URL without selectedType (exit 41)",
    },
    FailureText {
        cause: FailureCause::ContextExhausted,
        text: "exceeds the maximum number of tokens allowed",
        regex: false,
        source: "Gemini API 400 message for an oversized input",
    },
];

impl Gemini {
    /// The argv without the prompt.
    fn options(&self) -> Vec<String> {
        let mode = match self.config.approval {
            Approval::Ask => "default",
            Approval::AutoEdit => "auto_edit",
            Approval::FullAuto => "yolo",
        };
        let mut argv: Vec<String> = [
            self.program(),
            "--skip-trust",
            "--output-format",
            "stream-json",
            "--approval-mode",
            mode,
        ]
        .map(str::to_owned)
        .into();
        if let Some(model) = &self.config.model {
            argv.extend(["--model".into(), model.clone()]);
        }
        if let Some(session) = &self.config.resume {
            argv.push(format!("--resume={session}"));
        }
        argv.extend(self.config.extra_args.iter().cloned());
        argv
    }
}

impl Agent for Gemini {
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        let mut argv = self.options();
        argv.push(format!("--prompt={prompt}"));
        CommandLine::new(argv)
    }

    /// With no prompt option, a piped stdin is the prompt, read to its end
    /// (seen here with 0.61.0: a 200 KB prompt arrives whole).
    fn prompt_on_stdin(&self, prompt: &str) -> Result<Option<PromptOnStdin>, Error> {
        let command = CommandLine::new(self.options())?;
        Ok(Some(PromptOnStdin::new(command, prompt)))
    }

    /// `gemini --acp --skip-trust [--model M] [EXTRA…]`: native ACP (the
    /// `--acp` flag is in 0.61.0's help; permissions come as ACP requests).
    fn acp_command(&self) -> Result<Option<CommandLine>, Error> {
        let mut argv: Vec<String> = [self.program(), "--acp", "--skip-trust"]
            .map(str::to_owned)
            .into();
        if let Some(model) = &self.config.model {
            argv.extend(["--model".into(), model.clone()]);
        }
        argv.extend(self.config.extra_args.iter().cloned());
        CommandLine::new(argv).map(Some)
    }

    fn env(&self) -> Environment {
        let mut env = pass_all(
            base_env(&self.config),
            &[
                "GEMINI_API_KEY",
                "GOOGLE_API_KEY",
                "GOOGLE_GENAI_USE_VERTEXAI",
                "GOOGLE_CLOUD_PROJECT",
                "GOOGLE_CLOUD_LOCATION",
                "GOOGLE_APPLICATION_CREDENTIALS",
            ],
        );
        if let Some(url) = &self.config.base_url {
            env = env.set("GOOGLE_GEMINI_BASE_URL", url.clone());
        }
        if let Some(home) = &self.config.home {
            env = env.set("GEMINI_CLI_HOME", home.to_string_lossy());
        }
        env
    }

    fn stop_sequences(&self) -> Vec<StopSequence> {
        stop_sequences(WAITING)
    }

    fn name(&self) -> &str {
        "gemini"
    }

    fn version(&self) -> &str {
        "0.61.0"
    }

    fn failure_patterns(&self) -> Vec<FailurePattern> {
        failure_patterns(FAILURES)
    }

    fn verdict(&self, stdout_tail: &[u8]) -> Option<Verdict> {
        let result = last_json_line(stdout_tail, |event| event_type(event) == Some("result"))?;
        if result.get("status").and_then(Value::as_str) == Some("success") {
            return Some(Verdict::Succeeded);
        }
        let message = result
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("the program reported an error")
            .to_owned();
        let cause = classify(&message, FAILURES);
        Some(Verdict::Failed { cause, message })
    }

    fn output_format(&self) -> OutputFormat {
        OutputFormat::GeminiStreamJson
    }
}

impl AgentProgram for Gemini {
    fn config(&self) -> &crate::AgentConfig {
        &self.config
    }

    fn default_program(&self) -> &'static str {
        "gemini"
    }

    fn resumes(&self) -> bool {
        true
    }

    fn waiting_texts(&self) -> &'static [WaitingText] {
        WAITING
    }

    fn verification(&self) -> Verification {
        Verification::EndToEnd { version: "0.61.0" }
    }

    fn prepare_home(&self) -> Result<Option<PathBuf>, AgentError> {
        let Some(home) = create_home(self.name(), &self.config)? else {
            return Ok(None);
        };
        merge_settings(
            self.name(),
            &home.join(".gemini").join("settings.json"),
            json!({
                "security": {"auth": {"selectedType": "gemini-api-key"}},
                "privacy": {"usageStatisticsEnabled": false},
                "telemetry": {"enabled": false},
                "general": {"enableAutoUpdate": false, "enableAutoUpdateNotification": false},
            }),
        )?;
        Ok(Some(home))
    }

    /// With a base URL and no isolated home: a per-run `GEMINI_CLI_HOME`
    /// whose `.gemini/settings.json` is the person's (if any) with
    /// `security.auth.selectedType = "gemini-api-key"`, every other entry of
    /// their `~/.gemini` linked in. Gemini CLI 0.61.0 reads the login type
    /// only from settings files (its system-defaults file must be owned by
    /// root), and without it `GOOGLE_GEMINI_BASE_URL` selects the `gateway`
    /// login, which exits 41.
    fn prepare_run(&self, dir: &Path, home: Option<&Path>) -> Result<Environment, AgentError> {
        if self.config.base_url.is_none() || self.config.home.is_some() {
            return Ok(Environment::inherit());
        }
        let gemini_home = dir.join("gemini-home");
        let Some(text) = gemini_home.to_str() else {
            return Err(AgentError::NonUtf8Home { path: gemini_home });
        };
        let own = home.map(|home| home.join(".gemini"));
        overlay_config_dir(
            self.name(),
            own.as_deref(),
            &gemini_home.join(".gemini"),
            "settings.json",
            json!({"security": {"auth": {"selectedType": "gemini-api-key"}}}),
        )?;
        Ok(Environment::inherit().set("GEMINI_CLI_HOME", text))
    }
}
