//! OpenCode (`opencode`, npm `opencode-ai`).

use std::path::PathBuf;

use serde_json::{Value, json};

use logist_core::{
    Agent, CommandLine, Environment, Error, FailureCause, FailurePattern, OutputFormat,
    PromptOnStdin, StopSequence, Verdict,
};

use crate::adapter::{
    AgentProgram, FailureText, Verification, WaitingText, base_env, classify, create_home,
    event_type, failure_patterns, last_json_line, pass_all, stop_sequences,
};
use crate::config::Approval;
use crate::error::AgentError;

use super::adapter;

adapter! {
    /// OpenCode, run as `opencode run --format json … -- PROMPT`.
    ///
    /// - **Prompt**: on stdin ([`prompt_on_stdin`](Agent::prompt_on_stdin):
    ///   `run` with no message reads it to end-of-file, unchanged), which
    ///   the sentinel uses whenever stdin is free. The argv form
    ///   ([`cmd`](Agent::cmd), for a terminal or an answering policy) puts
    ///   it after `--`, so a leading `-` is safe, but **1.18.33 rewrites
    ///   it**: `run` joins its message words and wraps a word containing a
    ///   space in double quotes (escaping inner quotes), so the model
    ///   receives `"<prompt>"`.
    /// - **Output**: `--format json` (NDJSON events `step_start`, `text`,
    ///   `tool_use`, `step_finish`, `error`); [`verdict`](Agent::verdict)
    ///   reports an `error` event as a failure.
    /// - **Base URL**: an OpenAI-compatible provider named `logist` in
    ///   `OPENCODE_CONFIG_CONTENT`, with the key read by OpenCode from
    ///   `OPENAI_API_KEY` (`{env:OPENAI_API_KEY}`: the value is never
    ///   copied); the URL includes `/v1`; the model becomes
    ///   `logist/<model>`. OpenCode 1.18.33 downloaded the provider package
    ///   from the npm registry into `~/.npm` at run time.
    /// - **Approval**: the `permission` table of the same inline config
    ///   (`edit`/`bash` = `ask` or `allow`); `run` rejects what would ask.
    ///   `FullAuto` also passes `--auto`.
    /// - **Quiet**: auto-update off, sharing disabled.
    /// - **Isolation**: `HOME` and the XDG directories (`~/.config/opencode`).
    ///
    /// The end-to-end tests run 1.18.33 with the prompt on stdin (a hostile
    /// prompt arrives unchanged; a file is written by its `write` tool). It
    /// downloads the provider package from the npm registry at run time.
    /// Not run interactively on a terminal.
    OpenCode
}

/// Texts OpenCode shows when it waits for a human.
pub const WAITING: &[WaitingText] = &[
    WaitingText {
        // The dialog's title: `△ Permission required` (`Always allow`,
        // `Reject permission` at its later stages).
        text: "Permission required",
        regex: false,
        dialog: "permission",
        seen_in: "1.0.39-1.18.34",
        source: "1.18.33 binary: `title:\"Permission required\"`, `K(\"\\u25B3\")`, `K(\"Permission required\")`; anomalyco/opencode#4023; OpenRig activity markers 1.18.34",
    },
    WaitingText {
        // The options row: `Allow once   Allow always   Reject`, however
        // far apart the layout draws them.
        text: r"Allow\s+once\s+Allow\s+always\s+Reject",
        regex: true,
        dialog: "permission",
        seen_in: "1.18.33",
        source: "1.18.33 binary: `options:{once:\"Allow once\",always:\"Allow always\",reject:\"Reject\"}` drawn in one row (`flexDirection:\"row\"`)",
    },
    WaitingText {
        text: r"Reject\s+permission|Tell\s+OpenCode\s+what\s+to\s+do\s+differently",
        regex: true,
        dialog: "permission",
        seen_in: "1.18.33-1.18.34",
        source: "1.18.33 binary: `\"Reject permission\"`, placeholder \"Tell OpenCode what to do differently\"; OpenRig activity markers 1.18.34",
    },
    WaitingText {
        text: "○ Reject",
        regex: false,
        dialog: "permission (run)",
        seen_in: "1.0.39",
        source: "anomalyco/opencode#4023",
    },
    WaitingText {
        text: r"permission requested: .+; auto-rejecting",
        regex: true,
        dialog: "permission (refused: no terminal to ask on)",
        seen_in: "1.18.33",
        source: "seen here: `run` refuses a tool that needs permission (stderr: \"permission requested: edit (hello.txt); auto-rejecting\"); anomalyco/opencode#41513",
    },
];

/// Texts in OpenCode's output that tell why a run failed.
pub const FAILURES: &[FailureText] = &[
    FailureText {
        cause: FailureCause::RateLimited,
        text: "Rate limit",
        regex: false,
        source: "provider error text",
    },
    FailureText {
        cause: FailureCause::AuthFailed,
        text: "API key",
        regex: false,
        source: "provider error text (missing or invalid API key)",
    },
    FailureText {
        cause: FailureCause::ContextExhausted,
        text: "context_length_exceeded",
        regex: false,
        source: "OpenAI-compatible error code",
    },
];

impl OpenCode {
    /// The inline configuration: quiet settings, permissions, and the
    /// provider when a base URL is set.
    fn inline_config(&self) -> Value {
        let level = match self.config.approval {
            Approval::Ask => ("ask", "ask"),
            Approval::AutoEdit => ("allow", "ask"),
            Approval::FullAuto => ("allow", "allow"),
        };
        let mut config = json!({
            "autoupdate": false,
            "share": "disabled",
            "permission": {"edit": level.0, "bash": level.1},
        });
        if let Some(url) = &self.config.base_url {
            let model = self
                .config
                .model
                .clone()
                .unwrap_or_else(|| "default".into());
            // The model to use where no `-m` can say it (`opencode acp`).
            config["model"] = json!(format!("logist/{model}"));
            config["provider"] = json!({"logist": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "logist",
                "options": {"baseURL": url, "apiKey": "{env:OPENAI_API_KEY}"},
                "models": {model: {}},
            }});
        } else if let Some(model) = &self.config.model {
            config["model"] = json!(model);
        }
        config
    }
}

impl OpenCode {
    /// `opencode run --format json [--auto] [-m MODEL] EXTRA…`, without the
    /// prompt.
    fn run_argv(&self) -> Vec<String> {
        let mut argv: Vec<String> = [self.program(), "run", "--format", "json"]
            .map(str::to_owned)
            .into();
        if self.config.approval == Approval::FullAuto {
            argv.push("--auto".into());
        }
        match (&self.config.model, &self.config.base_url) {
            (Some(model), Some(_)) => argv.extend(["-m".into(), format!("logist/{model}")]),
            (None, Some(_)) => argv.extend(["-m".into(), "logist/default".into()]),
            (Some(model), None) => argv.extend(["-m".into(), model.clone()]),
            (None, None) => {}
        }
        if let Some(session) = &self.config.resume {
            argv.push(format!("--session={session}"));
        }
        argv.extend(self.config.extra_args.iter().cloned());
        argv
    }
}

impl Agent for OpenCode {
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        let mut argv = self.run_argv();
        argv.extend(["--".into(), prompt.into()]);
        CommandLine::new(argv)
    }

    /// `opencode acp`: native ACP (a subcommand in 1.18.33). It takes no
    /// `-m`: the model comes from the inline configuration's `model` (set
    /// with a base URL), and the extra arguments of `opencode run` do not
    /// apply to it.
    fn acp_command(&self) -> Result<Option<CommandLine>, Error> {
        CommandLine::new([self.program(), "acp"]).map(Some)
    }

    /// `run` with no message reads the message from a piped stdin,
    /// unchanged (no quoting of its words).
    fn prompt_on_stdin(&self, prompt: &str) -> Result<Option<PromptOnStdin>, Error> {
        let command = CommandLine::new(self.run_argv())?;
        Ok(Some(PromptOnStdin::new(command, prompt)))
    }

    fn env(&self) -> Environment {
        pass_all(
            base_env(&self.config)
                .set("OPENCODE_DISABLE_AUTOUPDATE", "1")
                .set("OPENCODE_CONFIG_CONTENT", self.inline_config().to_string()),
            &[
                "OPENAI_API_KEY",
                "ANTHROPIC_API_KEY",
                "GEMINI_API_KEY",
                "OPENROUTER_API_KEY",
            ],
        )
    }

    fn stop_sequences(&self) -> Vec<StopSequence> {
        stop_sequences(WAITING)
    }

    fn name(&self) -> &str {
        "opencode"
    }

    fn version(&self) -> &str {
        "1.18.33"
    }

    fn failure_patterns(&self) -> Vec<FailurePattern> {
        failure_patterns(FAILURES)
    }

    fn verdict(&self, stdout_tail: &[u8]) -> Option<Verdict> {
        let event = last_json_line(stdout_tail, |event| {
            matches!(event_type(event), Some("error" | "step_finish"))
        })?;
        if event_type(&event) == Some("step_finish") {
            return Some(Verdict::Succeeded);
        }
        let message = event
            .pointer("/error/data/message")
            .or_else(|| event.pointer("/error/message"))
            .or_else(|| event.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("opencode reported an error")
            .to_owned();
        Some(Verdict::Failed {
            cause: classify(&message, FAILURES),
            message,
        })
    }

    fn output_format(&self) -> OutputFormat {
        OutputFormat::OpenCodeJson
    }
}

impl AgentProgram for OpenCode {
    fn config(&self) -> &crate::AgentConfig {
        &self.config
    }

    fn default_program(&self) -> &'static str {
        "opencode"
    }

    fn resumes(&self) -> bool {
        true
    }

    fn waiting_texts(&self) -> &'static [WaitingText] {
        WAITING
    }

    fn verification(&self) -> Verification {
        Verification::EndToEnd { version: "1.18.33" }
    }

    fn prepare_home(&self) -> Result<Option<PathBuf>, AgentError> {
        create_home(self.name(), &self.config)
    }
}
