//! OpenCode's `run --format json`.
//!
//! Grounded in OpenCode 1.18.33 output captured against the fake model
//! (`tests/fixtures/opencode-*.out`). Every line carries `sessionID`; the
//! first one gives the [`Session`]. Then:
//!
//! - `text` → [`Message`] (`part.text`, whole);
//! - `reasoning` → [`Thought`];
//! - `tool_use` → [`ToolCall`] (`part.callID`, `part.tool`,
//!   `part.state.input`) and, once `part.state.status` is `completed` or
//!   `error`, [`ToolResult`] (`output`, `error`; the file of a `write` or
//!   `edit` from `metadata.filepath`, added when `metadata.exists` is
//!   false);
//! - `step_finish` → [`Usage`] for the step (`part.tokens`, `part.cost` in
//!   USD), and [`TurnEnd`] unless the step ended to run tools
//!   (`reason: "tool-calls"`);
//! - `error` → a fatal [`ErrorEvent`] (`error.data.message`);
//! - `step_start` gives no event.

use serde_json::Value;

use crate::dialects::{Seen, cause_of, count, kind_field, string, text_of, tool_kind};
use crate::event::{
    Cost, ErrorEvent, Event, FileChange, FileChangeKind, Message, Role, Session, StopReason,
    Thought, ToolCall, ToolKind, ToolResult, ToolStatus, TurnEnd, Usage,
};

/// The OpenCode dialect: remembers the session it announced.
#[derive(Debug, Default)]
pub(crate) struct OpenCode {
    session: Option<String>,
}

impl OpenCode {
    pub(crate) fn event(&mut self, value: &Value, out: &mut Vec<Event>) -> Seen {
        let kind = kind_field(value);
        if !matches!(
            kind,
            "step_start" | "text" | "reasoning" | "tool_use" | "step_finish" | "error"
        ) {
            return Seen::Unknown;
        }
        if let Some(id) = string(value, "sessionID")
            && self.session.as_ref() != Some(&id)
        {
            self.session = Some(id.clone());
            out.push(Event::Session(Session {
                id,
                ..Session::default()
            }));
        }
        let part = value.get("part").unwrap_or(&Value::Null);
        match kind {
            "text" => out.push(Event::Message(Message {
                role: Role::Assistant,
                text: string(part, "text").unwrap_or_default(),
                delta: false,
                id: string(part, "id"),
            })),
            "reasoning" => out.push(Event::Thought(Thought {
                text: string(part, "text").unwrap_or_default(),
                delta: false,
            })),
            "tool_use" => tool_use(part, out),
            "step_finish" => step_finish(part, out),
            "error" => {
                let error = value.get("error").unwrap_or(&Value::Null);
                let message = error
                    .get("data")
                    .and_then(|data| string(data, "message"))
                    .or_else(|| string(error, "message"))
                    .or_else(|| text_of(error))
                    .unwrap_or_default();
                out.push(Event::Error(ErrorEvent {
                    cause: cause_of(
                        error.get("data").and_then(|data| count(data, "statusCode")),
                        &message,
                    ),
                    code: string(error, "name"),
                    message,
                    fatal: true,
                }));
            }
            _ => {}
        }
        Seen::Known
    }
}

fn tool_use(part: &Value, out: &mut Vec<Event>) {
    let state = part.get("state").unwrap_or(&Value::Null);
    let name = string(part, "tool").unwrap_or_default();
    let id = string(part, "callID").unwrap_or_default();
    let status = match state.get("status").and_then(Value::as_str) {
        Some("pending") => ToolStatus::Pending,
        Some("completed") => ToolStatus::Completed,
        Some("error") => ToolStatus::Failed,
        _ => ToolStatus::InProgress,
    };
    let kind = tool_kind(&name);
    out.push(Event::ToolCall(ToolCall {
        id: id.clone(),
        name,
        kind,
        input: state.get("input").cloned().unwrap_or(Value::Null),
        status,
    }));
    if matches!(status, ToolStatus::Completed | ToolStatus::Failed) {
        let metadata = state.get("metadata").unwrap_or(&Value::Null);
        let files = match (kind, string(metadata, "filepath")) {
            (ToolKind::Edit, Some(path)) => vec![FileChange {
                path,
                kind: match metadata.get("exists").and_then(Value::as_bool) {
                    Some(false) => FileChangeKind::Added,
                    Some(true) => FileChangeKind::Modified,
                    None => FileChangeKind::Unknown,
                },
            }],
            _ => Vec::new(),
        };
        out.push(Event::ToolResult(ToolResult {
            id,
            status,
            output: state.get("output").and_then(text_of),
            error: state.get("error").and_then(text_of),
            files,
        }));
    }
}

fn step_finish(part: &Value, out: &mut Vec<Event>) {
    if let Some(tokens) = part.get("tokens") {
        let cache = tokens.get("cache").unwrap_or(&Value::Null);
        out.push(Event::Usage(Usage {
            input_tokens: count(tokens, "input"),
            output_tokens: count(tokens, "output"),
            cached_input_tokens: count(cache, "read"),
            cache_write_tokens: count(cache, "write"),
            reasoning_tokens: count(tokens, "reasoning"),
            cost: part.get("cost").and_then(Value::as_f64).map(|amount| Cost {
                amount,
                currency: "USD".to_owned(),
            }),
            ..Usage::default()
        }));
    }
    let reason = string(part, "reason");
    let stop = match reason.as_deref() {
        Some("tool-calls") => return,
        Some("length") => StopReason::MaxTokens,
        Some("content-filter") => StopReason::Refusal,
        Some("error") => StopReason::Error,
        _ => StopReason::EndTurn,
    };
    out.push(Event::TurnEnd(TurnEnd {
        reason: stop,
        detail: reason,
        ..TurnEnd::default()
    }));
}
