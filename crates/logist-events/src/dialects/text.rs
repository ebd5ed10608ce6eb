//! Plain text: every line is a piece of the agent's message. Aider's text
//! adds a banner, token counts and applied edits.
//!
//! Aider 0.86.2 (captured against the fake model:
//! `tests/fixtures/aider-*.out`) prints a banner (`Aider v…`, `Model: …`,
//! `Git repo: …`, `Repo-map: …`, and notes before it), the reply, then
//! `Tokens: N sent, M received.` (with `Cost: $X message, $Y session.`
//! when it knows prices) and `Applied edit to PATH` for each file it
//! wrote. The banner passes through as raw text; the reply becomes
//! [`Message`] pieces; the token line [`Usage`]; each applied edit a
//! [`ToolCall`] and its [`ToolResult`].

use serde_json::json;

use crate::event::{
    Cost, Event, FileChange, FileChangeKind, Message, RawReason, Role, ToolCall, ToolKind,
    ToolResult, ToolStatus, Usage,
};
use crate::parser::{raw, trim_newline};

/// Plain text (no state).
#[derive(Debug, Default)]
pub(crate) struct Text;

impl Text {
    pub(crate) fn line(&mut self, line: &[u8], out: &mut Vec<Event>) {
        out.push(message(line));
    }
}

/// Aider's text: in the banner until the first line that is not part of
/// it.
#[derive(Debug, Default)]
pub(crate) struct Aider {
    in_reply: bool,
}

/// Lines of Aider's start-up banner and notes (0.86.2).
const BANNER: &[&str] = &[
    "Aider v",
    "Model:",
    "Main model:",
    "Weak model:",
    "Editor model:",
    "Git repo:",
    "Repo-map:",
    "Analytics have been",
    "Detected dumb terminal",
    "Warning",
    "Added ",
    "Cur working dir:",
    "Note:",
    "https://aider.chat",
];

impl Aider {
    pub(crate) fn line(&mut self, line: &[u8], out: &mut Vec<Event>) {
        let Ok(text) = std::str::from_utf8(trim_newline(line)) else {
            out.push(raw(RawReason::Malformed, line));
            return;
        };
        if !self.in_reply {
            if text.trim().is_empty() || BANNER.iter().any(|start| text.starts_with(start)) {
                out.push(raw(RawReason::Unparsed, line));
                return;
            }
            self.in_reply = true;
        }
        if let Some(usage) = tokens(text) {
            out.push(Event::Usage(usage));
        } else if let Some(path) = text.strip_prefix("Applied edit to ") {
            let path = path.trim().to_owned();
            out.push(Event::ToolCall(ToolCall {
                id: path.clone(),
                name: "edit".to_owned(),
                kind: ToolKind::Edit,
                input: json!({"path": path}),
                status: ToolStatus::Completed,
            }));
            out.push(Event::ToolResult(ToolResult {
                id: path.clone(),
                status: ToolStatus::Completed,
                output: Some(text.to_owned()),
                error: None,
                files: vec![FileChange {
                    path,
                    kind: FileChangeKind::Unknown,
                }],
            }));
        } else {
            out.push(message(line));
        }
    }
}

/// A line as a piece of the agent's message; invalid UTF-8 stays raw.
fn message(line: &[u8]) -> Event {
    match std::str::from_utf8(line) {
        Ok(text) => Event::Message(Message {
            role: Role::Assistant,
            text: text.to_owned(),
            delta: true,
            id: None,
        }),
        Err(_) => raw(RawReason::Malformed, line),
    }
}

/// `Tokens: 617 sent, 221 received. Cost: $0.01 message, $0.02 session.`
/// (counts may read `1.2k`).
fn tokens(text: &str) -> Option<Usage> {
    let rest = text.strip_prefix("Tokens: ")?;
    let (sent, rest) = rest.split_once(" sent, ")?;
    let (received, rest) = rest.split_once(" received.")?;
    let cost = rest
        .trim()
        .strip_prefix("Cost: $")
        .and_then(|cost| cost.split_once(' '))
        .and_then(|(amount, _)| amount.parse::<f64>().ok())
        .map(|amount| Cost {
            amount,
            currency: "USD".to_owned(),
        });
    Some(Usage {
        input_tokens: Some(number(sent)?),
        output_tokens: Some(number(received)?),
        cost,
        ..Usage::default()
    })
}

/// `617`, `1,234`, `1.2k` or `3M`.
fn number(text: &str) -> Option<u64> {
    let text = text.trim().replace(',', "");
    let (digits, scale) = match text.chars().last()? {
        'k' | 'K' => (&text[..text.len() - 1], 1_000.0),
        'm' | 'M' => (&text[..text.len() - 1], 1_000_000.0),
        _ => (text.as_str(), 1.0),
    };
    let value: f64 = digits.parse().ok()?;
    (value >= 0.0).then(|| (value * scale).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lines_give_counts_and_cost() {
        let usage = tokens("Tokens: 1.2k sent, 15 received. Cost: $0.0021 message, $0.01 session.")
            .unwrap();
        assert_eq!(usage.input_tokens, Some(1200));
        assert_eq!(usage.output_tokens, Some(15));
        assert_eq!(usage.cost.unwrap().amount, 0.0021);
        assert!(tokens("Tokens: many").is_none());
    }
}
