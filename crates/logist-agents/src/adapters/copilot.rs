//! GitHub Copilot CLI (`copilot`, npm `@github/copilot`).

use std::path::PathBuf;

use serde_json::Value;

use logist_core::{
    Agent, CommandLine, Environment, Error, FailureCause, FailurePattern, OutputFormat,
    PromptOnStdin, StopSequence, Verdict,
};

use crate::adapter::{
    AgentProgram, FailureText, Verification, WaitingText, base_env, cause_of_status, classify,
    create_home, event_type, failure_patterns, last_json_line, pass_all, stop_sequences,
};
use crate::config::Approval;
use crate::error::AgentError;

use super::adapter;

adapter! {
    /// GitHub Copilot CLI, run as `copilot --output-format json … --prompt=PROMPT`.
    ///
    /// - **Prompt**: the `--prompt=P` form (`-p P` misreads a prompt
    ///   starting with `-` since 1.0.85, github/copilot-cli#4902). When the
    ///   caller can pipe it ([`prompt_on_stdin`](Agent::prompt_on_stdin)),
    ///   on stdin instead: no option parser at all, no size limit.
    /// - **Output**: JSON lines ending with a `result` event carrying
    ///   `exitCode`; [`verdict`](Agent::verdict) reads it.
    /// - **Base URL** (bring your own key): `COPILOT_PROVIDER_BASE_URL`,
    ///   OpenAI-compatible, including `/v1`, with `COPILOT_OFFLINE=true`
    ///   (no GitHub login, telemetry, web tools or auto-update); the key is
    ///   `COPILOT_PROVIDER_API_KEY`.
    /// - **Approval**: nothing (ask: tools needing approval are refused),
    ///   `--allow-tool=write`, or `--allow-all`.
    /// - **Keys**: `COPILOT_PROVIDER_API_KEY`, `COPILOT_GITHUB_TOKEN`,
    ///   `GH_TOKEN`, `GITHUB_TOKEN`, passed by name.
    /// - **Quiet**: `--no-color`, `--no-auto-update`,
    ///   `--disable-client-telemetry`, `--no-ask-user` (the model cannot
    ///   ask a question), `COPILOT_AUTO_UPDATE=false`.
    /// - **Isolation**: `HOME` and `COPILOT_HOME=<home>/.copilot`.
    ///
    /// Verified end to end with 1.0.102 offline (reply, hostile prompt,
    /// `create` tool call with `AutoEdit`), with a base URL; never run
    /// against GitHub's own service here.
    Copilot
}

/// Texts Copilot CLI shows when it waits for a human.
pub const WAITING: &[WaitingText] = &[
    WaitingText {
        text: "Do you trust the files in this folder?",
        regex: false,
        dialog: "trust",
        seen_in: "1.0.102",
        source: "1.0.102 cli-main.js: `\"Do you trust the files in this folder?\"`; GitHub docs (cli-getting-started); seen here on a terminal (tmux, fresh home)",
    },
    WaitingText {
        text: "Confirm folder trust",
        regex: false,
        dialog: "trust",
        seen_in: "1.0.102",
        source: "1.0.102 cli-main.js: `title:\"Confirm folder trust\"`; found by the sentinel on a pseudo-terminal (e2e `terminal` tests, fresh home)",
    },
    WaitingText {
        text: r"Yes,\s+and\s+remember\s+this\s+folder",
        regex: true,
        dialog: "trust",
        seen_in: "1.0.102",
        source: "1.0.102 cli-main.js: label \"Yes, and remember this folder for future sessions\"",
    },
    WaitingText {
        // The refusal row of every approval: `No, and tell Copilot what to
        // do differently`, `Something else, and tell Copilot …`.
        text: r"tell\s+Copilot\s+what\s+to\s+do\s+differently",
        regex: true,
        dialog: "tool approval",
        seen_in: "1.0.x-1.0.102",
        source: "1.0.102 cli-main.js: `escapeItemWithTextInput:{label:\"No, and tell Copilot what to do differently\"}`, \"Something else, and tell Copilot what to do differently\"; GitHub docs (tool approval options)",
    },
    WaitingText {
        // The remembering rows: `Yes, and don't ask again for <commands>
        // <location>`, `… for file operations when …`, `… for tool "<t>"
        // from "<server>" …`, `Yes, and approve "<tool>" for the rest of
        // the session`, `Yes, and approve all file operations …`, `Yes,
        // and always allow "<extension>" …`, `Yes, and allow memory
        // updates without asking …`, `Yes, and disable the sandbox …`.
        text: r#"Yes,\s+and\s+(?:don't\s+ask\s+again|approve\s+(?:"|all\s+file)|always\s+allow\s+"|allow\s+(?:memory|image)|disable\s+the\s+sandbox)"#,
        regex: true,
        dialog: "tool approval",
        seen_in: "1.0.102",
        source: "1.0.102 cli-main.js: labels `Yes, and don't ask again for ${…commandIdentifiers} ${location}`, `Yes, and don't ask again for file operations when ${…}`, `Yes, and don't ask again for tool \"${toolTitle}\" from \"${serverName}\" …`, `Yes, and approve \"${toolName}\" for the rest of the session`, \"Yes, and approve all file operations for the rest of the running session\", `Yes, and always allow \"${extensionName}\" …`, `Yes, and allow memory updates without asking …`, \"Yes, and disable the sandbox for the rest of this session\"",
    },
    WaitingText {
        // The question line, at the start of a row: `Do you want to run
        // this command?`, `… allow this tool call?`, `… allow this?`,
        // `… allow this access?`, `… approve this request?`, `… <verb>
        // <file>?` for file operations, `… <verb> outside the sandbox?`.
        text: r"^[\s│┃|]*Do\s+you\s+want\s+to\s+(?:run\s+this\s+(?:command|search)|allow\s+this|approve\s+this|ignore\s+the\s+policy|perform\s|read\s|list\s+this\s+directory|write\s|create\s|edit\s|delete\s|update\s|move\s+and\s+update\s)",
        regex: true,
        dialog: "tool approval",
        seen_in: "1.0.91-1.0.102",
        source: "1.0.102 cli-main.js: \"Do you want to allow this tool call?\", \"Do you want to allow this?\", \"Do you want to allow this access?\", \"Do you want to approve this request?\", \"Do you want to approve this response?\", \"Do you want to ignore the policy and fetch this URL anyway?\", `Do you want to ${r.present} ${e.fileName}?` (create, delete, edit, move and update, update, write), `Do you want to perform \"${e}\" outside the sandbox?`, \"Do you want to run this command outside the sandbox?\"; OpenRig activity markers 1.0.91 (\"Do you want to run this command?\")",
    },
    WaitingText {
        // The select list's pointer on its first option, `❯ 1. Yes`.
        text: r"❯\s*1\.\s+Yes",
        regex: true,
        dialog: "tool approval",
        seen_in: "1.0.102",
        source: "1.0.102 cli-main.js: every approval list starts `{label:\"Yes\",value:{kind:\"approve-once\"}}`; seen here on a terminal (trust dialog `❯ 1. Yes`)",
    },
    WaitingText {
        text: "Permission denied because no interactive user response was available",
        regex: false,
        dialog: "permission (refused: no terminal to ask on)",
        seen_in: "1.0.102",
        source: "seen here: `--no-ask-user` refuses a tool that needs permission (`tool.execution_complete` error)",
    },
];

/// Texts in Copilot CLI's output that tell why a run failed.
pub const FAILURES: &[FailureText] = &[
    FailureText {
        cause: FailureCause::RateLimited,
        text: "rate limit",
        regex: false,
        source: "provider error text",
    },
    FailureText {
        cause: FailureCause::AuthFailed,
        text: "Authentication failed with provider",
        regex: false,
        source: "seen here: 1.0.102 `session.error` when the provider answers 401",
    },
    FailureText {
        cause: FailureCause::AuthFailed,
        text: "No authentication information found",
        regex: false,
        source: "Copilot CLI message without a token",
    },
    FailureText {
        cause: FailureCause::ContextExhausted,
        text: "context_length_exceeded",
        regex: false,
        source: "OpenAI-compatible error code",
    },
];

impl Copilot {
    /// The argv without the prompt.
    fn options(&self) -> Vec<String> {
        let mut argv: Vec<String> = [
            self.program(),
            "--output-format",
            "json",
            "--no-color",
            "--no-auto-update",
            "--disable-client-telemetry",
            "--no-ask-user",
        ]
        .map(str::to_owned)
        .into();
        match self.config.approval {
            Approval::Ask => {}
            Approval::AutoEdit => argv.push("--allow-tool=write".into()),
            Approval::FullAuto => argv.push("--allow-all".into()),
        }
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

impl Agent for Copilot {
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        let mut argv = self.options();
        argv.push(format!("--prompt={prompt}"));
        CommandLine::new(argv)
    }

    /// With no `--prompt`, a piped stdin is the prompt, read to its end (seen
    /// here with 1.0.102: a 200 KB prompt arrives whole); there is no option
    /// parser to misread a prompt starting with `-`.
    fn prompt_on_stdin(&self, prompt: &str) -> Result<Option<PromptOnStdin>, Error> {
        let command = CommandLine::new(self.options())?;
        Ok(Some(PromptOnStdin::new(command, prompt)))
    }

    /// `copilot --acp --no-auto-update --disable-client-telemetry
    /// [--model M] [EXTRA…]`: native ACP over stdio (in 1.0.102's help).
    fn acp_command(&self) -> Result<Option<CommandLine>, Error> {
        let mut argv: Vec<String> = [
            self.program(),
            "--acp",
            "--no-auto-update",
            "--disable-client-telemetry",
        ]
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
            base_env(&self.config).set("COPILOT_AUTO_UPDATE", "false"),
            &[
                "COPILOT_PROVIDER_API_KEY",
                "COPILOT_GITHUB_TOKEN",
                "GH_TOKEN",
                "GITHUB_TOKEN",
            ],
        );
        if let Some(url) = &self.config.base_url {
            env = env
                .set("COPILOT_PROVIDER_BASE_URL", url.clone())
                .set("COPILOT_OFFLINE", "true");
        }
        if let Some(home) = &self.config.home {
            env = env.set("COPILOT_HOME", home.join(".copilot").to_string_lossy());
        }
        env
    }

    fn stop_sequences(&self) -> Vec<StopSequence> {
        stop_sequences(WAITING)
    }

    fn name(&self) -> &str {
        "copilot"
    }

    fn version(&self) -> &str {
        "1.0.102"
    }

    fn failure_patterns(&self) -> Vec<FailurePattern> {
        failure_patterns(FAILURES)
    }

    fn verdict(&self, stdout_tail: &[u8]) -> Option<Verdict> {
        let result = last_json_line(stdout_tail, |event| event_type(event) == Some("result"))?;
        match result.get("exitCode").and_then(Value::as_i64) {
            Some(0) => Some(Verdict::Succeeded),
            Some(code) => {
                // The reason is in the last `session.error` event, when there
                // is one (seen here with 1.0.102 for a 401).
                let error = last_json_line(stdout_tail, |event| {
                    event_type(event) == Some("session.error")
                });
                let message = error
                    .as_ref()
                    .and_then(|event| event.pointer("/data/message"))
                    .and_then(Value::as_str)
                    .map_or_else(
                        || format!("copilot reported exit code {code}"),
                        str::to_owned,
                    );
                let cause = error
                    .as_ref()
                    .and_then(|event| event.pointer("/data/statusCode"))
                    .and_then(Value::as_u64)
                    .and_then(cause_of_status)
                    .or_else(|| classify(&message, FAILURES));
                Some(Verdict::Failed { cause, message })
            }
            None => None,
        }
    }

    fn output_format(&self) -> OutputFormat {
        OutputFormat::CopilotJson
    }
}

impl AgentProgram for Copilot {
    fn config(&self) -> &crate::AgentConfig {
        &self.config
    }

    fn default_program(&self) -> &'static str {
        "copilot"
    }

    fn resumes(&self) -> bool {
        true
    }

    fn waiting_texts(&self) -> &'static [WaitingText] {
        WAITING
    }

    fn verification(&self) -> Verification {
        Verification::EndToEnd { version: "1.0.102" }
    }

    fn prepare_home(&self) -> Result<Option<PathBuf>, AgentError> {
        create_home(self.name(), &self.config)
    }
}
