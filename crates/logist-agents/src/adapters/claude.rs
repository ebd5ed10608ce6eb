//! Claude Code (`claude`, npm `@anthropic-ai/claude-code`).

use std::path::PathBuf;

use logist_core::{
    Agent, CommandLine, Environment, Error, FailureCause, FailurePattern, OutputFormat,
    PromptOnStdin, StopSequence, Verdict,
};

use crate::adapter::{
    AgentProgram, FailureText, Verification, WaitingText, base_env, create_home, failure_patterns,
    pass_all, result_verdict, stop_sequences,
};
use crate::config::Approval;
use crate::error::AgentError;

use super::adapter;

adapter! {
    /// Claude Code, run as `claude -p --output-format stream-json --verbose
    /// … -- PROMPT`.
    ///
    /// - **Prompt**: after `--`, so a prompt starting with `-` is not read
    ///   as an option; or, when the caller can pipe it
    ///   ([`prompt_on_stdin`](Agent::prompt_on_stdin)), on stdin, which has
    ///   no size limit.
    /// - **Output**: stream-json (one JSON event per line, ending with a
    ///   `result` event); [`verdict`](Agent::verdict) reads that event,
    ///   since Claude Code can exit 0 with `"is_error": true`.
    /// - **Base URL**: `ANTHROPIC_BASE_URL`, the API root without `/v1`
    ///   (`http://127.0.0.1:8080`).
    /// - **Approval**: `--permission-mode default | acceptEdits |
    ///   bypassPermissions`. Claude Code refuses `bypassPermissions` when
    ///   run as root unless `IS_SANDBOX=1`, which `FullAuto` sets (full-auto
    ///   is meant for sandboxes, and containers run agents as root).
    /// - **Keys**: `ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN`,
    ///   `CLAUDE_CODE_OAUTH_TOKEN`, passed by name.
    /// - **Quiet**: auto-updater, telemetry, error reporting, non-essential
    ///   traffic and the official marketplace auto-install are off.
    /// - **Isolation**: `HOME` (Claude Code keeps `~/.claude.json` and
    ///   `~/.claude/`); an inherited `CLAUDE_CONFIG_DIR` is removed.
    ///
    /// Verified end to end with 2.1.197 offline (reply, hostile prompt,
    /// `Write` tool call with `AutoEdit`), and over ACP through
    /// claude-agent-acp 0.101.0 (reply, write allowed and refused, turn
    /// cancelled, two turns, session resumed in a new process).
    ClaudeCode
}

/// Texts Claude Code shows when it waits for a human (its interactive
/// mode; `-p` never asks).
///
/// On a terminal, 2.1.197 draws its dialogs without spaces: each word is
/// placed with a cursor move to its column (`ESC [ n G`), as in
/// `ESC[2GQuickESC[8GsafetyESC[15Gcheck:`. The sentinel reads such a move
/// as a space, so these texts are found in its live output (the
/// end-to-end test `claude_code_waits_on_a_terminal` finds the trust
/// dialog's "Quick safety check" line).
pub const WAITING: &[WaitingText] = &[
    WaitingText {
        text: "Do you trust the files in this folder?",
        regex: false,
        dialog: "trust",
        seen_in: "1.0.x",
        source: "smtg-ai/claude-squad session/tmux/tmux.go; anthropics/claude-code#90582",
    },
    WaitingText {
        text: "Quick safety check: Is this a project you created or one you trust",
        regex: false,
        dialog: "trust",
        seen_in: "2.1.69-2.1.197",
        source: "anthropics/claude-code#31037; the 2.1.197 bundle (`\"Quick safety check: Is this a project you created or one you trust? (Like your own code, …\"`); seen here on a terminal (tmux, onboarded fresh HOME)",
    },
    WaitingText {
        // The option row outlives the question's wording.
        text: r"Yes,\s+I\s+trust\s+this\s+folder",
        regex: true,
        dialog: "trust",
        seen_in: "2.1.197",
        source: "2.1.197 bundle: `confirmLabel:\"Yes, I trust this folder\",cancelLabel:\"No, exit\"`; seen here on a terminal (tmux, onboarded fresh HOME)",
    },
    WaitingText {
        // Every permission dialog that can remember the answer: commands
        // (`… for <cmd> commands in <dir>`), edits, web fetch
        // (`… for <host>`), MCP tools (`… for <Tool>(<rule>)`), and
        // directory access (`Yes, and always allow access to <dir> from
        // this project`). Only the fixed start is matched: the inserted
        // name may wrap onto the next row.
        text: r"Yes,\s+and\s+(?:don't\s+ask\s+again|always\s+allow\s+access\s+to)",
        regex: true,
        dialog: "permission",
        seen_in: "1.0.x-2.1.197",
        source: "2.1.197 bundle: labels `[\"Yes, and don't ask again for\",\" \",…,\" commands in\",\" \",…]` (value `yes-dont-ask-again`, `yes-prefix`, `yes-exact`, `yes-dont-ask-again-domain`) and `[\"Yes, and always allow access to \",…,\" from this project\"]`",
    },
    WaitingText {
        // The refusal option of every permission dialog: `No, and tell
        // Claude what to do differently (esc)`, `Deny, and tell …`, and the
        // feedback field's placeholder after a bare `No`.
        text: r"tell\s+Claude\s+what\s+to\s+do\s+differently",
        regex: true,
        dialog: "permission",
        seen_in: "1.0.x-2.1.197",
        source: "2.1.197 bundle: `[\"No, and tell Claude what to do differently \",…\"(esc)\"]`, `[\"Deny, and tell Claude what to do differently \",…]`, `placeholder:\"and tell Claude what to do differently\"`; smtg-ai/claude-squad; anthropics/claude-code#10732",
    },
    WaitingText {
        // The question line of the permission dialogs, at the start of a
        // row (after a border): `Do you want to <verb> <file>?` for the
        // file tools, and the fixed questions of the other dialogs. Only
        // the verb is matched ends the row: a long path wraps onto the next one). A
        // model's sentence starting a row the same way would match too (see
        // docs/waiting-texts.md); the option rows above are the safer
        // anchors, this one covers dialogs whose options are a bare
        // `Yes`/`No`.
        text: r"^[\s│┃|]*Do\s+you\s+want\s+to\s+(?:proceed\?|(?:make\s+this\s+edit\s+to|create|overwrite|write\s+to|insert\s+this\s+cell\s+into|delete\s+this\s+cell\s+from)(?:\s|$)|allow\s+Claude\s+to\s+fetch\s+this\s+content\?|allow\s+this\s+connection\?|use\s+this\s+API\s+key\?)",
        regex: true,
        dialog: "permission",
        seen_in: "2.x-2.1.197",
        source: "2.1.197 bundle: `question:[\"Do you want to \",f,\" \",<path>,\"?\"]` with f = `create`/`overwrite`/`write to`, `\"Do you want to make this edit to\"`, notebook `insert this cell into`/`delete this cell from`, `\"Do you want to proceed?\"`, `\"Do you want to allow Claude to fetch this content?\"`, `\"Do you want to allow this connection?\"`, `\"Do you want to use this API key?\"`; anthropics/claude-code#10732, #1499",
    },
    WaitingText {
        // The select list's pointer on its first option, as every dialog
        // opens: `❯ 1. Yes`, `❯ 1. Yes, I trust this folder`.
        text: r"❯\s*1\.\s+Yes",
        regex: true,
        dialog: "permission",
        seen_in: "2.x-2.1.197",
        source: "2.1.197 bundle: select options `{label:\"Yes\",value:\"yes\"}` first, drawn numbered with the `❯` pointer; seen here on a terminal (trust dialog `❯ 1. Yes, I trust this folder`)",
    },
    WaitingText {
        // The edit tools' second option, and the permission dialog's
        // footer (its refusal row is then a bare `3. No`: the feedback
        // placeholder shows only when that row is selected).
        text: r"Yes,\s+allow\s+all\s+edits\s+during\s+this\s+session|Esc\s+to\s+cancel\s+·\s+Tab\s+to\s+amend",
        regex: true,
        dialog: "permission",
        seen_in: "2.1.197",
        source: "2.1.197 bundle: label `[\"Yes, allow all edits during this session\",\" \",(\"(\",<key>,\")\")]`; captured screen (tests/fixtures/screens/claude-create.bin: \"Do you want to create hello.txt?\", \"❯ 1. Yes\", \"2. Yes, allow all edits during this session (shift+tab)\", \"3. No\", \"Esc to cancel · Tab to amend\")",
    },
    WaitingText {
        text: "Yes, I accept",
        regex: false,
        dialog: "bypass-permissions warning",
        seen_in: "2.x-2.1.197",
        source: "2.1.197 bundle: `confirmLabel:\"Yes, I accept\",cancelLabel:\"No, exit\"`; anthropics/claude-code#52501, #65848",
    },
    WaitingText {
        text: "Choose the text style that looks best with your terminal",
        regex: false,
        dialog: "onboarding",
        seen_in: "2.x",
        source: "typeclaw/typeclaw#296",
    },
    WaitingText {
        text: "Select login method:",
        regex: false,
        dialog: "login",
        seen_in: "2.x",
        source: "third-party login fixtures",
    },
    WaitingText {
        text: "Please run /login",
        regex: false,
        dialog: "login",
        seen_in: "2.x",
        source: "third-party login fixtures (\"Login expired · Please run /login\")",
    },
    WaitingText {
        // The select list's footer: `↑/↓ to navigate · Enter to select`,
        // `Enter to select · ↑/↓ to navigate · Esc to cancel`.
        text: r"↑/↓\s+to\s+navigate",
        regex: true,
        dialog: "question picker",
        seen_in: "2.x-2.1.197",
        source: "2.1.197 bundle: `\"\\u2191/\\u2193 to navigate \\xB7 Enter to select\"`, `\"Enter to approve \\xB7 r to retry \\xB7 \\u2191/\\u2193 to navigate \\xB7 Esc to cancel\"`; Kewton/CommandMate#807",
    },
    WaitingText {
        text: "How is Claude doing this session? (optional)",
        regex: false,
        dialog: "survey",
        seen_in: "2.x",
        source: "anthropics/claude-code#11671",
    },
    WaitingText {
        text: "but you haven't granted it yet",
        regex: false,
        dialog: "permission (refused: no terminal to ask on)",
        seen_in: "2.1.197",
        source: "seen here: `-p` refuses a tool that needs permission (`tool_result`: \"Claude requested permissions to write to …, but you haven't granted it yet.\")",
    },
];

/// Texts in Claude Code's output that tell why a run failed.
pub const FAILURES: &[FailureText] = &[
    FailureText {
        cause: FailureCause::RateLimited,
        text: "rate_limit_error",
        regex: false,
        source: "Anthropic API error type, echoed in `API Error: 429 {...}`",
    },
    FailureText {
        cause: FailureCause::RateLimited,
        text: "\"error\":\"rate_limit\"",
        regex: false,
        source: "seen here: 2.1.197 `api_retry` events while the API answers 429",
    },
    FailureText {
        cause: FailureCause::RateLimited,
        text: "You've hit your limit",
        regex: false,
        source: "slopus/happy#465",
    },
    FailureText {
        cause: FailureCause::RateLimited,
        text: r"API Error: 429\b",
        regex: true,
        source: "Claude Code error line format",
    },
    FailureText {
        cause: FailureCause::AuthFailed,
        text: "\"error\":\"authentication_failed\"",
        regex: false,
        source: "seen here: 2.1.197 `api_retry` events while the API answers 401",
    },
    FailureText {
        cause: FailureCause::AuthFailed,
        text: "authentication_error",
        regex: false,
        source: "Anthropic API error type",
    },
    FailureText {
        cause: FailureCause::AuthFailed,
        text: "Invalid API key",
        regex: false,
        source: "Claude Code message for a rejected key",
    },
    FailureText {
        cause: FailureCause::AuthFailed,
        text: "Not logged in",
        regex: false,
        source: "third-party login fixtures (\"Not logged in · Run /login\")",
    },
    FailureText {
        cause: FailureCause::AuthFailed,
        text: "OAuth token has expired",
        regex: false,
        source: "Anthropic API error message",
    },
    FailureText {
        cause: FailureCause::ContextExhausted,
        text: "Prompt is too long",
        regex: false,
        source: "Claude Code result text when the context is full",
    },
    FailureText {
        cause: FailureCause::ContextExhausted,
        text: "prompt is too long",
        regex: false,
        source: "Anthropic API invalid_request_error message",
    },
];

impl ClaudeCode {
    /// The argv without the prompt.
    fn options(&self) -> Vec<String> {
        let mut argv: Vec<String> = vec![
            self.program().to_owned(),
            "-p".into(),
            "--output-format".into(),
            "stream-json".into(),
            "--verbose".into(),
        ];
        if let Some(model) = &self.config.model {
            argv.extend(["--model".into(), model.clone()]);
        }
        let mode = match self.config.approval {
            Approval::Ask => "default",
            Approval::AutoEdit => "acceptEdits",
            Approval::FullAuto => "bypassPermissions",
        };
        argv.extend(["--permission-mode".into(), mode.into()]);
        if let Some(session) = &self.config.resume {
            argv.push(format!("--resume={session}"));
        }
        argv.extend(self.config.extra_args.iter().cloned());
        argv
    }
}

impl Agent for ClaudeCode {
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        let mut argv = self.options();
        argv.extend(["--".into(), prompt.into()]);
        CommandLine::new(argv)
    }

    /// `-p` with no prompt argument reads the prompt from a piped stdin to
    /// its end (seen here with 2.1.197: a 200 KB prompt arrives whole).
    fn prompt_on_stdin(&self, prompt: &str) -> Result<Option<PromptOnStdin>, Error> {
        let command = CommandLine::new(self.options())?;
        Ok(Some(PromptOnStdin::new(command, prompt)))
    }

    /// `claude-agent-acp`: Claude Code has no ACP mode of its own; the
    /// bridge npm `@agentclientprotocol/claude-agent-acp` (0.101.0, over the
    /// Claude Agent SDK, whose own Claude Code binary it runs; it needs
    /// Node.js >= 22) speaks it.
    /// [`CLAUDE_ACP_PROGRAM`](crate::CLAUDE_ACP_PROGRAM) is looked up on
    /// `PATH`. Its default session mode, `auto`, lets a classifier allow
    /// tools unasked; session mode `default` asks
    /// (`logist_acp::AcpConfig::session_mode`).
    fn acp_command(&self) -> Result<Option<CommandLine>, Error> {
        CommandLine::new([crate::CLAUDE_ACP_PROGRAM]).map(Some)
    }

    fn env(&self) -> Environment {
        let mut env = base_env(&self.config)
            .set("DISABLE_AUTOUPDATER", "1")
            .set("DISABLE_TELEMETRY", "1")
            .set("DISABLE_ERROR_REPORTING", "1")
            .set("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .set("CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL", "1");
        env = pass_all(
            env,
            &[
                "ANTHROPIC_API_KEY",
                "ANTHROPIC_AUTH_TOKEN",
                "CLAUDE_CODE_OAUTH_TOKEN",
            ],
        );
        if let Some(url) = &self.config.base_url {
            env = env.set("ANTHROPIC_BASE_URL", url.clone());
        }
        if self.config.home.is_some() {
            env = env.unset("CLAUDE_CONFIG_DIR");
        }
        if self.config.approval == Approval::FullAuto {
            // Claude Code refuses `bypassPermissions` as root unless
            // `IS_SANDBOX=1` (2.1.197: "--dangerously-skip-permissions cannot
            // be used with root/sudo privileges"). Full-auto is for
            // sandboxes, and containers run agents as root.
            env = env.set("IS_SANDBOX", "1");
        }
        env
    }

    fn stop_sequences(&self) -> Vec<StopSequence> {
        stop_sequences(WAITING)
    }

    fn name(&self) -> &str {
        "claude-code"
    }

    fn version(&self) -> &str {
        "2.1.197"
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

impl AgentProgram for ClaudeCode {
    fn config(&self) -> &crate::AgentConfig {
        &self.config
    }

    fn default_program(&self) -> &'static str {
        "claude"
    }

    fn resumes(&self) -> bool {
        true
    }

    fn waiting_texts(&self) -> &'static [WaitingText] {
        WAITING
    }

    fn verification(&self) -> Verification {
        Verification::EndToEnd { version: "2.1.197" }
    }

    fn prepare_home(&self) -> Result<Option<PathBuf>, AgentError> {
        // `-p` needs no files: Claude Code creates its state on first use.
        create_home(self.name(), &self.config)
    }
}
