//! One module per family of output formats, each turning one line into
//! events; [`Dialect`] picks the module for an [`OutputFormat`].

mod claude;
mod cline;
mod codex;
mod copilot;
mod gemini;
mod opencode;
mod text;

use serde_json::Value;

use logist_core::{FailureCause, OutputFormat};

use crate::event::{Event, RawReason, ToolKind};
use crate::parser::{json_line, raw, trim_newline};

/// The state of one format's parser.
#[derive(Debug)]
pub(crate) enum Dialect {
    Text(text::Text),
    Aider(text::Aider),
    Claude(claude::Claude),
    Codex(codex::Codex),
    Gemini(gemini::Gemini),
    OpenCode(opencode::OpenCode),
    Copilot(copilot::Copilot),
    Cline(cline::Cline),
}

impl Dialect {
    pub(crate) fn new(format: OutputFormat) -> Self {
        match format {
            OutputFormat::AiderText => Dialect::Aider(text::Aider::default()),
            OutputFormat::ClaudeStreamJson => Dialect::Claude(claude::Claude),
            OutputFormat::CodexJson => Dialect::Codex(codex::Codex::default()),
            OutputFormat::GeminiStreamJson => Dialect::Gemini(gemini::Gemini),
            OutputFormat::OpenCodeJson => Dialect::OpenCode(opencode::OpenCode::default()),
            OutputFormat::CopilotJson => Dialect::Copilot(copilot::Copilot),
            OutputFormat::ClineJson => Dialect::Cline(cline::Cline::default()),
            // Text, and any format added to the enum later.
            _ => Dialect::Text(text::Text),
        }
    }

    /// The events of one line (with its newline, if it had one).
    pub(crate) fn line(&mut self, line: &[u8], out: &mut Vec<Event>) {
        match self {
            Dialect::Text(text) => text.line(line, out),
            Dialect::Aider(aider) => aider.line(line, out),
            Dialect::Claude(claude) => {
                let text = trim_newline(line);
                if text.first() == Some(&b'{')
                    && let Some(seen) = claude.line(text, out)
                {
                    if let Seen::Unknown = seen {
                        out.push(raw(RawReason::Unknown, line));
                    }
                    return;
                }
                json(line, out, |v, out| claude.event(v, out));
            }
            Dialect::Codex(codex) => json(line, out, |v, out| codex.event(v, out)),
            Dialect::Gemini(gemini) => json(line, out, |v, out| gemini.event(v, out)),
            Dialect::OpenCode(opencode) => json(line, out, |v, out| opencode.event(v, out)),
            Dialect::Copilot(copilot) => json(line, out, |v, out| copilot.event(v, out)),
            Dialect::Cline(cline) => json(line, out, |v, out| cline.event(v, out)),
        }
    }

    /// The end of the stream.
    pub(crate) fn finish(&mut self, out: &mut Vec<Event>) {
        let _ = out;
    }
}

/// Whether a line was one of the format's own.
pub(crate) enum Seen {
    /// A kind of line the format has (its events, if any, were added).
    Known,
    /// JSON of a kind this parser does not know.
    Unknown,
}

/// Parses a JSON line and hands the object to `event`; anything else, or
/// an object `event` does not know, becomes a raw event.
fn json(line: &[u8], out: &mut Vec<Event>, event: impl FnOnce(&Value, &mut Vec<Event>) -> Seen) {
    match json_line(line) {
        Ok(value) => {
            if let Seen::Unknown = event(&value, out) {
                out.push(raw(RawReason::Unknown, line));
            }
        }
        Err(reason) => out.push(raw(reason, line)),
    }
}

/// A string field.
pub(crate) fn string(value: &Value, key: &str) -> Option<String> {
    value.get(key)?.as_str().map(str::to_owned)
}

/// An integer field.
pub(crate) fn count(value: &Value, key: &str) -> Option<u64> {
    value.get(key)?.as_u64()
}

/// The `type` field.
pub(crate) fn kind_field(value: &Value) -> &str {
    value.get("type").and_then(Value::as_str).unwrap_or("")
}

/// A tool's kind, guessed from its name the way the programs name their
/// tools (`Write`, `write_file`, `run_shell_command`, `grep_search`, …).
pub(crate) fn tool_kind(name: &str) -> ToolKind {
    let name = name.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|word| name.contains(word));
    if has(&["delete", "remove"]) {
        ToolKind::Delete
    } else if has(&["write", "edit", "create", "patch", "replace", "file_change"]) {
        ToolKind::Edit
    } else if has(&["move", "rename"]) {
        ToolKind::Move
    } else if has(&["bash", "shell", "command", "exec", "terminal"]) {
        ToolKind::Execute
    } else if has(&["grep", "glob", "search", "find", "list"]) {
        ToolKind::Search
    } else if has(&["read", "view", "cat"]) {
        ToolKind::Read
    } else if has(&["fetch", "web", "url"]) {
        ToolKind::Fetch
    } else if has(&["todo", "think", "plan"]) {
        ToolKind::Think
    } else {
        ToolKind::Other
    }
}

/// The cause an HTTP status or error text means, when it means one.
pub(crate) fn cause_of(status: Option<u64>, message: &str) -> Option<FailureCause> {
    match status {
        Some(429) => return Some(FailureCause::RateLimited),
        Some(401 | 403) => return Some(FailureCause::AuthFailed),
        _ => {}
    }
    let message = message.to_ascii_lowercase();
    if message.contains("rate limit") || message.contains("rate_limit") || message.contains("429") {
        Some(FailureCause::RateLimited)
    } else if message.contains("authentication")
        || message.contains("api key")
        || message.contains("unauthorized")
        || message.contains("401")
    {
        Some(FailureCause::AuthFailed)
    } else if message.contains("prompt is too long") || message.contains("context window") {
        Some(FailureCause::ContextExhausted)
    } else {
        None
    }
}

/// A tool's output as text: a string, or the text parts of a list of
/// content blocks (`[{"type": "text", "text": …}]`), or the JSON itself.
pub(crate) fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        Value::Array(blocks) => Some(
            blocks
                .iter()
                .filter_map(|block| match block {
                    Value::String(text) => Some(text.as_str()),
                    block => block.get("text")?.as_str(),
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        other => Some(other.to_string()),
    }
}
