//! Qwen Code (`qwen`, npm `@qwen-code/qwen-code`).

use std::path::PathBuf;

use serde_json::json;

use logist_core::{
    Agent, CommandLine, Environment, Error, FailureCause, FailurePattern, OutputFormat,
    PromptOnStdin, StopSequence, Verdict,
};

use crate::adapter::{
    AgentProgram, FailureText, Verification, WaitingText, base_env, create_home, failure_patterns,
    merge_settings, pass_all, stop_sequences,
};
use crate::config::Approval;
use crate::error::AgentError;

use super::adapter;
use crate::adapter::result_verdict;

adapter! {
    /// Qwen Code, run as `qwen --output-format stream-json … --prompt=PROMPT`.
    ///
    /// - **Prompt**: the `--prompt=P` form. Qwen Code 0.15 marks `--prompt`
    ///   deprecated in favour of a positional prompt, but the positional
    ///   form cannot carry a prompt starting with `-` (after `--` it is
    ///   ignored: "No input provided via stdin", exit 1), so the option is
    ///   the only dash-safe argv form. When the caller can pipe it
    ///   ([`prompt_on_stdin`](Agent::prompt_on_stdin)) the prompt goes on
    ///   stdin instead: no deprecated option, no size limit.
    /// - **Output**: stream-json in Claude Code's format (a final `result`
    ///   event with `is_error`); [`verdict`](Agent::verdict) reads it. Seen
    ///   here with 0.15.10: an API error (401) ends with exit 0 and a
    ///   "successful" result whose text is `[API Error: 401 …]`; the
    ///   verdict reports that as a failure.
    /// - **Base URL**: `OPENAI_BASE_URL`, including `/v1`
    ///   (`http://127.0.0.1:8080/v1`), with `--auth-type openai`; the model
    ///   also goes to `OPENAI_MODEL`.
    /// - **Approval**: `--approval-mode default | auto-edit | yolo`.
    ///   Without yolo, one-shot mode does not even offer the write tools to
    ///   the model.
    /// - **Keys**: `OPENAI_API_KEY`, `DASHSCOPE_API_KEY`, passed by name.
    /// - **Isolation**: `HOME` and `QWEN_HOME=<home>/.qwen`; the settings
    ///   select the OpenAI-compatible login and turn off usage statistics
    ///   (which otherwise reach an Aliyun RUM endpoint), telemetry and
    ///   auto-update.
    ///
    /// Verified end to end with 0.15.10 offline (reply, hostile prompt,
    /// `write_file` tool call with `FullAuto`).
    QwenCode
}

/// Texts Qwen Code shows when it waits for a human (a Gemini CLI fork: many
/// dialogs are Gemini's).
pub const WAITING: &[WaitingText] = &[
    WaitingText {
        // `Do you trust this folder?` (0.15.10); Gemini CLI's `Do you trust
        // the files in this folder?` in the versions forked from it.
        text: r"Do\s+you\s+trust\s+(?:this\s+folder|the\s+files\s+in\s+this\s+folder)\?",
        regex: true,
        dialog: "trust",
        seen_in: "0.x-0.15.10",
        source: "0.15.10 cli.js: `children: \"Do you trust this folder?\"`; google-gemini/gemini-cli FolderTrustDialog.tsx",
    },
    WaitingText {
        // The trust options: `Trust folder (<dir>)`, `Trust parent folder
        // (<dir>)`, `Don't trust (esc)`.
        text: r"Trust\s+(?:parent\s+)?folder\s+\(|Don't\s+trust\s+\(esc\)",
        regex: true,
        dialog: "trust",
        seen_in: "0.15.10",
        source: "0.15.10 cli.js: labels `Trust folder (${dirName})`, `Trust parent folder (${parentFolder})`, \"Don't trust (esc)\"",
    },
    WaitingText {
        text: "Apply this change?",
        regex: false,
        dialog: "edit permission",
        seen_in: "0.15.10-0.24.7",
        source: "0.15.10 cli.js: t4(\"Apply this change?\"); OpenRig activity markers 0.24.7",
    },
    WaitingText {
        // `Allow execution of: '<cmd>'?` and the MCP variant, at the start
        // of a row.
        text: r"^[\s│┃|]*Allow\s+execution\s+of",
        regex: true,
        dialog: "command permission",
        seen_in: "0.15.10-0.24.7",
        source: "0.15.10 cli.js: t4(\"Allow execution of: '{{command}}'?\"); OpenRig activity markers 0.24.7",
    },
    WaitingText {
        // The approving options: `Yes, allow once`, `Yes, allow always`,
        // `Always allow in this project`, `Always allow for this user`,
        // `Always allow <action> in this project`.
        text: r"Yes,\s+allow\s+(?:once|always)|Always\s+allow\s+(?:[^\n]{1,40}\s)?(?:in\s+this\s+project|for\s+this\s+user)",
        regex: true,
        dialog: "permission",
        seen_in: "0.15.10",
        source: "0.15.10 cli.js: t4(\"Yes, allow once\"), t4(\"Yes, allow always\"), t4(\"Always allow in this project\"), t4(\"Always allow for this user\"), t4(\"Always allow {{action}} in this project\")",
    },
    WaitingText {
        // Every dialog's Escape option: `No, suggest changes (esc)`, `No,
        // keep planning (esc)`, `No (esc)`, `Keep loop detection enabled
        // (esc)`, `Remind me later (esc)`, numbered in the list.
        text: r"\d\.\s+[^\n]{1,60}\(esc\)",
        regex: true,
        dialog: "permission",
        seen_in: "0.15.10-0.24.7",
        source: "0.15.10 cli.js: t4(\"No, suggest changes (esc)\"), t4(\"No, keep planning (esc)\"), t4(\"No (esc)\"), \"Keep loop detection enabled (esc)\", t4(\"Remind me later (esc)\")",
    },
    WaitingText {
        text: "No, suggest changes (esc)",
        regex: false,
        dialog: "permission",
        seen_in: "0.15.10-0.24.7",
        source: "0.15.10 cli.js: t4(\"No, suggest changes (esc)\"); OpenRig activity markers 0.24.7",
    },
    WaitingText {
        text: "No, keep planning (esc)",
        regex: false,
        dialog: "plan approval",
        seen_in: "0.15.10-0.24.7",
        source: "0.15.10 cli.js: t4(\"No, keep planning (esc)\"); OpenRig activity markers 0.24.7",
    },
    WaitingText {
        // Plan approval: `Yes, and auto-accept edits`, `Yes, and manually
        // approve edits`.
        text: r"Yes,\s+and\s+(?:auto-accept|manually\s+approve)\s+edits",
        regex: true,
        dialog: "plan approval",
        seen_in: "0.15.10",
        source: "0.15.10 cli.js: t4(\"Yes, and auto-accept edits\"), t4(\"Yes, and manually approve edits\")",
    },
    WaitingText {
        // A question at the start of a row.
        text: r"^[\s│┃|]*(?:Do\s+you\s+want\s+to\s+proceed|Would\s+you\s+like\s+to\s+proceed|Ready\s+to\s+submit\s+your\s+answers)\?",
        regex: true,
        dialog: "permission",
        seen_in: "0.15.10",
        source: "0.15.10 cli.js: t4(\"Do you want to proceed?\"), title \"Would you like to proceed?\", t4(\"Ready to submit your answers?\")",
    },
    WaitingText {
        text: r"Select\s+(?:Authentication\s+Method|authentication\s+method:|OAuth\s+Provider)",
        regex: true,
        dialog: "login",
        seen_in: "0.15.10",
        source: "0.15.10 cli.js: t4(\"Select Authentication Method\"), t4(\"Select authentication method:\"), t4(\"Select OAuth Provider\"); seen here on a terminal (tmux, no settings)",
    },
    WaitingText {
        text: r"Waiting\s+for\s+(?:Qwen\s+OAuth\s+authentication|authorization)",
        regex: true,
        dialog: "login",
        seen_in: "0.15.10",
        source: "0.15.10 cli.js: t4(\"Waiting for Qwen OAuth authentication...\"), t4(\"Waiting for authorization\")",
    },
    WaitingText {
        // The status line under a confirmation, where the spinner's
        // phrase is otherwise.
        text: r"Waiting\s+for\s+user\s+confirmation\.\.\.",
        regex: true,
        dialog: "permission",
        seen_in: "0.15.10",
        source: "0.15.10 cli.js: t4(\"Waiting for user confirmation...\"); captured screen (tests/fixtures/screens/qwen-edit.bin: \"⠏ Waiting for user confirmation...\" under \"Apply this change?\")",
    },
    WaitingText {
        text: "Type your message or @path/to/file",
        regex: false,
        dialog: "idle",
        seen_in: "0.15.10",
        source: "input placeholder; found by the sentinel on a pseudo-terminal (e2e `terminal` tests, fresh home)",
    },
    WaitingText {
        text: "Alibaba ModelStudio · Access Method",
        regex: false,
        dialog: "login",
        seen_in: "0.x",
        source: "third-party login fixtures",
    },
];

/// Texts in Qwen Code's output that tell why a run failed.
pub const FAILURES: &[FailureText] = &[
    FailureText {
        cause: FailureCause::RateLimited,
        text: "[API Error: 429",
        regex: false,
        source: "Qwen Code's API error text (format seen here with 0.15.10 for 401)",
    },
    FailureText {
        cause: FailureCause::RateLimited,
        text: "rate limit",
        regex: false,
        source: "OpenAI-compatible error messages",
    },
    FailureText {
        cause: FailureCause::AuthFailed,
        text: "[API Error: 401",
        regex: false,
        source: "seen here: 0.15.10 result text when the API answers 401 (exit 0)",
    },
    FailureText {
        cause: FailureCause::AuthFailed,
        text: "Incorrect API key",
        regex: false,
        source: "OpenAI API 401 message",
    },
    FailureText {
        cause: FailureCause::ContextExhausted,
        text: "context_length_exceeded",
        regex: false,
        source: "OpenAI API error code",
    },
    FailureText {
        cause: FailureCause::ContextExhausted,
        text: "maximum context length",
        regex: false,
        source: "OpenAI-compatible 400 message",
    },
];

impl QwenCode {
    /// The argv without the prompt.
    fn options(&self) -> Vec<String> {
        let mut argv: Vec<String> = vec![self.program().to_owned()];
        if self.config.base_url.is_some() {
            argv.extend(["--auth-type".into(), "openai".into()]);
        }
        let mode = match self.config.approval {
            Approval::Ask => "default",
            Approval::AutoEdit => "auto-edit",
            Approval::FullAuto => "yolo",
        };
        argv.extend(["--output-format", "stream-json", "--approval-mode", mode].map(str::to_owned));
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

impl Agent for QwenCode {
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        let mut argv = self.options();
        argv.push(format!("--prompt={prompt}"));
        CommandLine::new(argv)
    }

    /// With no prompt, a piped stdin is the prompt, read to its end (seen here
    /// with 0.15.10: a 200 KB prompt arrives whole).
    fn prompt_on_stdin(&self, prompt: &str) -> Result<Option<PromptOnStdin>, Error> {
        let command = CommandLine::new(self.options())?;
        Ok(Some(PromptOnStdin::new(command, prompt)))
    }

    /// `qwen --acp [--auth-type openai] [--model M] [EXTRA…]`: native ACP
    /// (`--acp` is in 0.15.10's help; `--experimental-acp` is deprecated).
    fn acp_command(&self) -> Result<Option<CommandLine>, Error> {
        let mut argv: Vec<String> = vec![self.program().to_owned(), "--acp".into()];
        if self.config.base_url.is_some() {
            argv.extend(["--auth-type".into(), "openai".into()]);
        }
        if let Some(model) = &self.config.model {
            argv.extend(["--model".into(), model.clone()]);
        }
        argv.extend(self.config.extra_args.iter().cloned());
        CommandLine::new(argv).map(Some)
    }

    fn env(&self) -> Environment {
        let mut env = pass_all(
            base_env(&self.config),
            &["OPENAI_API_KEY", "DASHSCOPE_API_KEY"],
        );
        if let Some(url) = &self.config.base_url {
            env = env.set("OPENAI_BASE_URL", url.clone());
        }
        if let Some(model) = &self.config.model {
            env = env.set("OPENAI_MODEL", model.clone());
        }
        if let Some(home) = &self.config.home {
            env = env
                .set("QWEN_HOME", home.join(".qwen").to_string_lossy())
                .unset("QWEN_RUNTIME_DIR");
        }
        env
    }

    fn stop_sequences(&self) -> Vec<StopSequence> {
        stop_sequences(WAITING)
    }

    fn name(&self) -> &str {
        "qwen"
    }

    fn version(&self) -> &str {
        "0.15.10"
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

impl AgentProgram for QwenCode {
    fn config(&self) -> &crate::AgentConfig {
        &self.config
    }

    fn default_program(&self) -> &'static str {
        "qwen"
    }

    fn resumes(&self) -> bool {
        true
    }

    fn waiting_texts(&self) -> &'static [WaitingText] {
        WAITING
    }

    fn verification(&self) -> Verification {
        Verification::EndToEnd { version: "0.15.10" }
    }

    fn prepare_home(&self) -> Result<Option<PathBuf>, AgentError> {
        let Some(home) = create_home(self.name(), &self.config)? else {
            return Ok(None);
        };
        merge_settings(
            self.name(),
            &home.join(".qwen").join("settings.json"),
            json!({
                "security": {"auth": {"selectedType": "openai"}},
                "privacy": {"usageStatisticsEnabled": false},
                "telemetry": {"enabled": false},
                "general": {"enableAutoUpdate": false},
            }),
        )?;
        Ok(Some(home))
    }
}
