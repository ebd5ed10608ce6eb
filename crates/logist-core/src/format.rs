//! `OutputFormat`: the name of the structured form a program prints its run
//! in, so a parser can be chosen without the agent depending on it.

use std::fmt;

/// The form in which an agent program reports its run on stdout.
///
/// An [`Agent`](crate::Agent) names its format with
/// [`output_format`](crate::Agent::output_format); the parsers that turn
/// each format into events live outside `logist-core` (in `logist-events`),
/// so adapters never depend on them. Several programs share one format:
/// Qwen Code, Cursor Agent and Amp print Claude Code's `stream-json`
/// dialect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OutputFormat {
    /// Plain text, for people: at best the agent's messages can be read
    /// from it.
    #[default]
    Text,
    /// Aider's plain text with its `Tokens: … sent, … received.` lines.
    AiderText,
    /// Claude Code's `--output-format stream-json --verbose`: one JSON
    /// object per line (`system`, `assistant`, `user`, `result`); also
    /// Qwen Code's, Cursor Agent's and Amp's.
    ClaudeStreamJson,
    /// Codex's `exec --json`: `thread.started`, `item.*`, `turn.*` lines.
    CodexJson,
    /// Gemini CLI's `--output-format stream-json`: `init`, `message`,
    /// `tool_use`, `tool_result`, `error`, `result` lines.
    GeminiStreamJson,
    /// OpenCode's `run --format json`: `step_start`, `text`, `tool_use`,
    /// `step_finish` lines.
    OpenCodeJson,
    /// GitHub Copilot CLI's `--output-format json` (JSON lines).
    CopilotJson,
    /// Cline CLI's `--json` (JSON lines ending with `run_result`).
    ClineJson,
}

impl OutputFormat {
    /// Every format, in declaration order.
    pub const ALL: &'static [OutputFormat] = &[
        OutputFormat::Text,
        OutputFormat::AiderText,
        OutputFormat::ClaudeStreamJson,
        OutputFormat::CodexJson,
        OutputFormat::GeminiStreamJson,
        OutputFormat::OpenCodeJson,
        OutputFormat::CopilotJson,
        OutputFormat::ClineJson,
    ];

    /// A short stable name: `text`, `aider-text`, `claude-stream-json`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Text => "text",
            OutputFormat::AiderText => "aider-text",
            OutputFormat::ClaudeStreamJson => "claude-stream-json",
            OutputFormat::CodexJson => "codex-json",
            OutputFormat::GeminiStreamJson => "gemini-stream-json",
            OutputFormat::OpenCodeJson => "opencode-json",
            OutputFormat::CopilotJson => "copilot-json",
            OutputFormat::ClineJson => "cline-json",
        }
    }

    /// True for the JSON-lines formats (everything but plain text).
    pub fn is_structured(self) -> bool {
        !matches!(self, OutputFormat::Text | OutputFormat::AiderText)
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
