//! Aider (`aider`, PyPI `aider-chat`).

use std::path::{Path, PathBuf};

use logist_core::{
    Agent, CommandLine, Environment, Error, FailureCause, FailurePattern, OutputFormat,
    StopSequence, Verdict,
};

use crate::adapter::{
    AgentProgram, FailureText, Verification, WaitingText, base_env, create_home, failure_patterns,
    pass_all, stop_sequences, write_file,
};
use crate::config::Approval;
use crate::error::AgentError;

use super::adapter;

/// The start of the litellm exception names Aider prints when a model call
/// fails.
const LITELLM_ERROR: &str = "litellm.";

adapter! {
    /// Aider, run as `aider --no-pretty --no-fancy-input … --message=PROMPT`.
    ///
    /// - **Prompt**: the `--message=P` form (argparse keeps `=value` bound
    ///   even when it starts with `-`); positional arguments would be files.
    ///   Or a prompt file, `--message-file=PATH`
    ///   ([`prompt_file_cmd`](AgentProgram::prompt_file_cmd)), which has no
    ///   size limit. Not stdin: Aider reads its startup questions ("Add
    ///   .aider* to .gitignore?") from stdin before the message, so they
    ///   would eat the prompt's first lines.
    /// - **Output**: text only. Seen here with 0.86.2: a rejected key (401)
    ///   ends with exit 0, so [`verdict`](Agent::verdict) looks for
    ///   litellm's error names in the last lines and reports a failure when
    ///   it finds one (otherwise it trusts the exit status).
    /// - **Base URL**: `--openai-api-base`, including `/v1`
    ///   (`http://127.0.0.1:8080/v1`), for OpenAI-compatible servers; name
    ///   the model `openai/<name>` then.
    /// - **Approval**: Aider has none for edits: it edits whenever the
    ///   model says so. `AutoEdit` and `FullAuto` add `--yes-always`, which
    ///   answers its questions (create a file, add a file, create a git
    ///   repository) with yes, except running shell commands, which it
    ///   always answers no without a human. With `Ask`, stdin at
    ///   end-of-file makes each question take its default answer.
    /// - **Keys**: `OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `GEMINI_API_KEY`,
    ///   `OPENROUTER_API_KEY`, `DEEPSEEK_API_KEY`, passed by name.
    /// - **Quiet**: no update check, no release notes, analytics disabled,
    ///   no model warnings, and `LITELLM_LOCAL_MODEL_COST_MAP=True` so that
    ///   litellm does not download its price list. `--no-gitignore`: in a
    ///   git repository Aider would first ask to add `.aider*` to its
    ///   `.gitignore` (a question under `Ask`, an edit of the person's file
    ///   under `--yes-always`).
    /// - **Isolation**: `HOME`. [`prepare_home`](AgentProgram::prepare_home)
    ///   also writes a fresh, empty-but-valid model-price cache
    ///   (`~/.aider/caches/model_prices_and_context_window.json`): without
    ///   it Aider downloads that list from GitHub on every run (the cache
    ///   is trusted for 24 hours, so prepare each job's home afresh).
    ///
    /// Aider does not know git is optional: in a directory without a
    /// repository `--yes-always` makes it create one. Pass `--no-git` in
    /// the extra arguments to prevent that.
    ///
    /// Verified end to end with 0.86.2 offline (reply, hostile prompt, a
    /// whole-file edit creating a file with `AutoEdit`).
    Aider
}

/// Texts Aider shows when it waits for a human. Every question goes
/// through one function that ends it with `(Y)es/(N)o` and a default.
///
/// Aider prints its questions and its chat prompt last, without a line
/// feed, and then waits: an entry ending with `$` would only be decided by
/// a byte that never comes (the sentinel matches the output so far), so
/// none does. The bare chat prompt `> ` is left out: nothing tells it from
/// a quoted line (`> …`) in a model's reply, which Aider prints as is with
/// `--no-pretty`.
pub const WAITING: &[WaitingText] = &[
    WaitingText {
        // Only the end of the question: at 80 columns the prompt wraps
        // inside "(Y)es/(N)o" (seen here under `script`). `confirm_ask`
        // composes every question (20 call sites in 0.86.2) as `<question>
        // (Y)es/(N)o[/(A)ll][/(S)kip all][/(D)on't ask again] [Yes|No]: `,
        // so this end covers the whole family; the options before it add
        // nothing but a second match of the same prompt.
        text: r"\[(Yes|No)\]: ",
        regex: true,
        dialog: "yes/no question",
        seen_in: "0.86.2",
        source: "0.86.2 aider/io.py confirm_ask: `question += options + \" [Yes]: \"` / `\" [No]: \"`; found by the sentinel on a pseudo-terminal (e2e `terminal` tests, fresh home, no git repository: \"No git repo found, create one …? (Y)es/(N)o [Yes]: \")",
    },
    WaitingText {
        // Only the prompts prefixed by the edit format or mode; the bare
        // `> ` is not distinctive (see above).
        text: r"^(ask|architect|code|multi|help|context)> ",
        regex: true,
        dialog: "idle",
        seen_in: "0.86.2",
        source: "Aider-AI/aider aider/io.py get_input (prompt prefixed by the edit format)",
    },
];

/// Texts in Aider's output that tell why a run failed (litellm's exception
/// names, which Aider prints).
pub const FAILURES: &[FailureText] = &[
    FailureText {
        cause: FailureCause::RateLimited,
        text: "litellm.RateLimitError",
        regex: false,
        source: "litellm exception name, printed by Aider",
    },
    FailureText {
        cause: FailureCause::AuthFailed,
        text: "litellm.AuthenticationError",
        regex: false,
        source: "litellm exception name, printed by Aider",
    },
    FailureText {
        cause: FailureCause::ContextExhausted,
        text: "ContextWindowExceededError",
        regex: false,
        source: "litellm exception name, printed by Aider",
    },
    FailureText {
        cause: FailureCause::ContextExhausted,
        text: "exceeds the context window",
        regex: false,
        source: "Aider-AI/aider token-limit message",
    },
];

impl Aider {
    /// The argv without the prompt.
    fn options(&self) -> Vec<String> {
        let mut argv: Vec<String> = [
            self.program(),
            "--no-pretty",
            "--no-fancy-input",
            "--no-check-update",
            "--no-show-release-notes",
            "--analytics-disable",
            "--no-show-model-warnings",
            "--no-gitignore",
        ]
        .map(str::to_owned)
        .into();
        if self.config.approval != Approval::Ask {
            argv.push("--yes-always".into());
        }
        if let Some(model) = &self.config.model {
            argv.extend(["--model".into(), model.clone()]);
        }
        if let Some(url) = &self.config.base_url {
            argv.extend(["--openai-api-base".into(), url.clone()]);
        }
        argv.extend(self.config.extra_args.iter().cloned());
        argv
    }
}

impl Agent for Aider {
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        let mut argv = self.options();
        argv.push(format!("--message={prompt}"));
        CommandLine::new(argv)
    }

    fn env(&self) -> Environment {
        pass_all(
            base_env(&self.config).set("LITELLM_LOCAL_MODEL_COST_MAP", "True"),
            &[
                "OPENAI_API_KEY",
                "ANTHROPIC_API_KEY",
                "GEMINI_API_KEY",
                "OPENROUTER_API_KEY",
                "DEEPSEEK_API_KEY",
            ],
        )
    }

    fn stop_sequences(&self) -> Vec<StopSequence> {
        stop_sequences(WAITING)
    }

    fn name(&self) -> &str {
        "aider"
    }

    fn version(&self) -> &str {
        "0.86.2"
    }

    fn failure_patterns(&self) -> Vec<FailurePattern> {
        failure_patterns(FAILURES)
    }

    fn verdict(&self, stdout_tail: &[u8]) -> Option<Verdict> {
        let text = String::from_utf8_lossy(stdout_tail);
        let line = text
            .lines()
            .rev()
            .find(|line| line.starts_with(LITELLM_ERROR) && line.contains("Error"))?;
        let cause = FAILURES
            .iter()
            .find(|entry| !entry.regex && line.contains(entry.text))
            .map(|entry| entry.cause);
        Some(Verdict::Failed {
            cause,
            message: line.to_owned(),
        })
    }

    fn output_format(&self) -> OutputFormat {
        OutputFormat::AiderText
    }
}

impl AgentProgram for Aider {
    fn config(&self) -> &crate::AgentConfig {
        &self.config
    }

    fn default_program(&self) -> &'static str {
        "aider"
    }

    fn waiting_texts(&self) -> &'static [WaitingText] {
        WAITING
    }

    fn verification(&self) -> Verification {
        Verification::EndToEnd { version: "0.86.2" }
    }

    /// `--message-file=PATH` (seen here with 0.86.2: a 200 KB prompt
    /// arrives whole).
    fn prompt_file_cmd(&self, path: &Path) -> Result<Option<CommandLine>, Error> {
        let mut argv = self.options();
        argv.push(format!("--message-file={}", path.to_string_lossy()));
        CommandLine::new(argv).map(Some)
    }

    fn prepare_home(&self) -> Result<Option<PathBuf>, AgentError> {
        let Some(home) = create_home(self.name(), &self.config)? else {
            return Ok(None);
        };
        // A non-empty, fresh cache stops Aider's download of the price list;
        // models it does not list fall back to litellm's bundled copy.
        write_file(
            self.name(),
            &home
                .join(".aider")
                .join("caches")
                .join("model_prices_and_context_window.json"),
            "{\"logist-placeholder\": {}}\n",
        )?;
        Ok(Some(home))
    }
}
