//! Cline CLI (`cline`, npm `cline`).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use logist_core::{
    Agent, CommandLine, CommandProblem, Environment, Error, FailureCause, FailurePattern,
    OutputFormat, PromptOnStdin, StopSequence, Verdict,
};

use crate::adapter::{
    AgentProgram, FailureText, Verification, WaitingText, base_env, classify, create_home,
    event_type, failure_patterns, last_json_line, merge_settings, pass_all, stop_sequences,
};
use crate::config::Approval;
use crate::error::AgentError;

use super::adapter;

adapter! {
    /// Cline CLI, run as `cline --auto-approve <bool> …` with the prompt on
    /// stdin, or `cline --json --auto-approve <bool> … -- PROMPT`.
    ///
    /// - **Prompt**: on stdin ([`prompt_on_stdin`](Agent::prompt_on_stdin))
    ///   whenever the caller can pipe it: 3.0.65 takes any prompt there. As
    ///   an argument it **rejects a one-word prompt** ("Prompt text must be
    ///   passed as a single quoted argument", exit 1) and **runs a
    ///   subcommand** for a prompt naming one (`auth`, `config`, …), after
    ///   `--` too, so [`cmd`](Agent::cmd) refuses a prompt without
    ///   whitespace with a typed error.
    /// - **Output**: with an argument prompt, `--json` (JSON lines ending
    ///   with `run_result`, or `run_aborted`), which
    ///   [`verdict`](Agent::verdict) reads; 3.0.65 refuses `--json` with a
    ///   piped prompt, so the stdin form prints text and its exit status
    ///   counts.
    /// - **Base URL**: an OpenAI-compatible provider with that base URL
    ///   (and the model, if set) in a provider settings file without the
    ///   key, which Cline reads from `OPENAI_API_KEY`: in the isolated home
    ///   ([`prepare_home`](AgentProgram::prepare_home)), or per run through
    ///   `CLINE_PROVIDER_SETTINGS_PATH`
    ///   ([`prepare_run`](AgentProgram::prepare_run)). Without a base URL
    ///   Cline uses what `cline auth` stored.
    /// - **Approval**: `--auto-approve false` for `Ask` and `AutoEdit`
    ///   (Cline has no edits-only switch), `--auto-approve true` for
    ///   `FullAuto`.
    /// - **Answers**: only on a terminal, where 3.0.65 asks `Approve
    ///   "<tool>" … [y/N]`. Without one it refuses the tool ("requires
    ///   approval in a TTY session"), and it reads a piped stdin to the end
    ///   before it starts, so [`answers_on_pipe`](Agent::answers_on_pipe)
    ///   is `false`: a policy that answers without a terminal is refused
    ///   before the start.
    /// - **Isolation**: `HOME` (Cline keeps everything in `~/.cline`).
    /// - **No background hub**: `CLINE_SESSION_BACKEND_MODE=local`. By
    ///   default 3.0.65 connects to a "hub" daemon found through
    ///   `~/.cline/data/locks/hub` or on 127.0.0.1:25463, and starts one in
    ///   its own session when none answers; that daemon outlives the run
    ///   (the runtime then stops it as a leftover), and a hub another home
    ///   started would serve this run. The local backend keeps sessions in
    ///   the run's `~/.cline` like the hub does. `--env
    ///   CLINE_SESSION_BACKEND_MODE=hub` restores the default.
    /// - **ACP** (`cline --acp`): 3.0.65 opens no session until it is
    ///   signed in to one of its own accounts (OAuth) or `CLINE_API_KEY` is
    ///   set, whose value it then sends as the provider's key; with a base
    ///   URL the provider is named by `CLINE_PROVIDER=openai-compatible`
    ///   (and the model by `CLINE_MODEL`), which the ACP mode reads instead
    ///   of the provider settings file. `CLINE_API_KEY` is passed by name.
    ///
    /// Verified end to end with 3.0.65 offline (reply, hostile prompt,
    /// one-word prompt, 200 KB prompt, file written by a tool call, a tool
    /// call approved by an answer on a terminal; over
    /// ACP a reply, a write allowed and refused, a cancelled turn, two
    /// turns and a session loaded in a new process).
    Cline
}

/// Where Cline 3.0.65 keeps its provider settings, under the home.
const PROVIDERS_FILE: &str = ".cline/data/settings/providers.json";

/// Texts Cline shows when it waits for a human.
pub const WAITING: &[WaitingText] = &[
    WaitingText {
        text: "Cline needs permission",
        regex: false,
        dialog: "permission",
        seen_in: "3.0.65-3.0.68",
        source: "3.0.65 binary: `title:\"Cline needs permission\"`; OpenRig activity markers 3.0.68",
    },
    WaitingText {
        // At the start of a row (after the frame's border): the same
        // words in a model's sentence are not the dialog.
        text: r"^[\s│┃|]*Approve\s+tool\s+call\?",
        regex: true,
        dialog: "tool approval",
        seen_in: "3.0.65-3.0.68",
        source: "3.0.65 binary: `children:\"Approve tool call?\"`; OpenRig activity markers 3.0.68",
    },
    WaitingText {
        // The dialog's buttons, drawn in one row.
        text: r"\[y\]\s+Approve\s+\[n\]\s+Deny",
        regex: true,
        dialog: "tool approval",
        seen_in: "3.0.65",
        source: "3.0.65 binary: buttons `label:\"[y] Approve\"`, `label:\"[n] Deny\"` in a row",
    },
    WaitingText {
        // The line-mode question on a terminal without the full-screen
        // interface: `Approve "<tool>" <input> [y/N] `.
        text: r#"Approve "[^"\n]{1,80}" [^\n]*\[y/N\] "#,
        regex: true,
        dialog: "tool approval",
        seen_in: "3.0.65",
        source: "3.0.65 binary: `${yellow}Approve ${green}\"${G.toolName}\" ${dim}${Q} ${reset}[y/N] ` (readline question, input cut to 160 characters)",
    },
    WaitingText {
        text: "Cline is asking a question",
        regex: false,
        dialog: "question",
        seen_in: "3.0.65-3.0.68",
        source: "3.0.65 binary: `title:\"Cline is asking a question\"`; OpenRig activity markers 3.0.68",
    },
    WaitingText {
        text: "requires approval in a TTY session",
        regex: false,
        dialog: "permission (refused: no terminal to ask on)",
        seen_in: "3.0.65",
        source: "seen here: `--auto-approve false` without a terminal refuses a tool (\"Tool \\\"editor\\\" requires approval in a TTY session\")",
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

impl Cline {
    /// The argv without the prompt and without `--json`.
    fn options(&self) -> Vec<String> {
        let auto = if self.config.approval == Approval::FullAuto {
            "true"
        } else {
            "false"
        };
        let mut argv: Vec<String> = [self.program(), "--auto-approve", auto]
            .map(str::to_owned)
            .into();
        if let Some(model) = &self.config.model {
            argv.extend(["-m".into(), model.clone()]);
        }
        argv.extend(self.config.extra_args.iter().cloned());
        argv
    }

    /// The provider settings for a base URL: an OpenAI-compatible provider
    /// without a key (Cline reads `OPENAI_API_KEY`).
    fn provider_settings(&self, url: &str) -> Value {
        let mut settings = json!({"provider": "openai-compatible", "baseUrl": url});
        if let Some(model) = &self.config.model {
            settings["model"] = json!(model);
        }
        json!({
            "version": 1,
            "lastUsedProvider": "openai-compatible",
            // 3.0.65 ignores an entry without `updatedAt`.
            "providers": {"openai-compatible": {
                "settings": settings,
                "updatedAt": "1970-01-01T00:00:00.000Z",
                "tokenSource": "manual",
            }},
        })
    }
}

impl Agent for Cline {
    /// Refuses a prompt without whitespace: 3.0.65 rejects a one-word
    /// prompt argument ("Prompt text must be passed as a single quoted
    /// argument", exit 1), and one naming a subcommand (`auth`, `config`,
    /// …) runs that subcommand, `--` or not.
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        if !prompt.trim().contains(char::is_whitespace) {
            return Err(Error::InvalidCommand {
                problem: CommandProblem::PromptNotPassable {
                    program: "cline".into(),
                    reason: "Cline 3.0.65 rejects a one-word prompt argument and runs a subcommand for one that names it; give it on stdin (no --pty, --on-input fail)".into(),
                },
            });
        }
        let mut argv = self.options();
        argv.insert(1, "--json".into());
        argv.extend(["--".into(), prompt.into()]);
        CommandLine::new(argv)
    }

    /// A piped stdin is the prompt, read to its end, whatever it holds: one
    /// word, a subcommand's name, 200 KB (seen here with 3.0.65). Without
    /// `--json`, which 3.0.65 refuses with a piped prompt ("JSON output
    /// mode requires a prompt argument"), so there is no
    /// [`verdict`](Agent::verdict) for this form: the exit status counts.
    fn prompt_on_stdin(&self, prompt: &str) -> Result<Option<PromptOnStdin>, Error> {
        let command = CommandLine::new(self.options())?;
        Ok(Some(PromptOnStdin::new(command, prompt)))
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

    /// 3.0.65 takes a piped stdin as the prompt and reads it to the end
    /// first, even with a prompt in argv; it asks its questions only on a
    /// terminal ("requires approval in a TTY session").
    fn answers_on_pipe(&self) -> bool {
        false
    }

    fn env(&self) -> Environment {
        let mut env = pass_all(
            base_env(&self.config),
            &["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "CLINE_API_KEY"],
        )
        // Self-contained: no hub daemon outliving the run or shared with
        // other homes (see the type's documentation).
        .set("CLINE_SESSION_BACKEND_MODE", "local");
        // Read by the ACP mode only; print mode takes the provider from the
        // settings file, which names it first.
        if self.config.base_url.is_some() {
            env = env.set("CLINE_PROVIDER", "openai-compatible");
            if let Some(model) = &self.config.model {
                env = env.set("CLINE_MODEL", model.clone());
            }
        }
        env
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
        Verification::EndToEnd { version: "3.0.65" }
    }

    fn prepare_home(&self) -> Result<Option<PathBuf>, AgentError> {
        let Some(home) = create_home(self.name(), &self.config)? else {
            return Ok(None);
        };
        if let Some(url) = &self.config.base_url {
            merge_settings(
                self.name(),
                &home.join(PROVIDERS_FILE),
                self.provider_settings(url),
            )?;
        }
        Ok(Some(home))
    }

    /// With a base URL and no isolated home: a per-run provider settings
    /// file, named by `CLINE_PROVIDER_SETTINGS_PATH`; the rest of the
    /// person's `~/.cline` stays in use.
    fn prepare_run(&self, dir: &Path, _home: Option<&Path>) -> Result<Environment, AgentError> {
        let (Some(url), None) = (&self.config.base_url, &self.config.home) else {
            return Ok(Environment::inherit());
        };
        let path = dir.join("cline-providers.json");
        let Some(text) = path.to_str() else {
            return Err(AgentError::NonUtf8Home { path });
        };
        merge_settings(self.name(), &path, self.provider_settings(url))?;
        Ok(Environment::inherit().set("CLINE_PROVIDER_SETTINGS_PATH", text))
    }
}
