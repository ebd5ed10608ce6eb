//! Gemini CLI's `--output-format stream-json`.
//!
//! Grounded in Gemini CLI 0.61.0 output captured against the fake model
//! (`tests/fixtures/gemini-*.out`) and its headless-mode docs:
//!
//! - `init` → [`Session`] (`session_id`, `model`);
//! - `message` → [`Message`] (`role`, `content`, `delta`);
//! - `tool_use` → [`ToolCall`] (`tool_id`, `tool_name`, `parameters`);
//! - `tool_result` → [`ToolResult`] (`status` `success`/`error`, `output`,
//!   `error.message`);
//! - `error` → [`ErrorEvent`] (fatal when `severity` is `error`);
//! - `result` → [`Usage`] (cumulative `stats`), an [`ErrorEvent`] when the
//!   status is `error`, and [`TurnEnd`].

use serde_json::Value;

use crate::dialects::{Seen, cause_of, count, kind_field, string, text_of, tool_kind};
use crate::event::{
    ErrorEvent, Event, Message, Role, Session, StopReason, ToolCall, ToolResult, ToolStatus,
    TurnEnd, Usage,
};

/// The Gemini dialect (no state between lines).
#[derive(Debug, Default)]
pub(crate) struct Gemini;

impl Gemini {
    pub(crate) fn event(&mut self, value: &Value, out: &mut Vec<Event>) -> Seen {
        match kind_field(value) {
            "init" => match string(value, "session_id") {
                Some(id) => out.push(Event::Session(Session {
                    id,
                    model: string(value, "model"),
                    cwd: None,
                })),
                None => return Seen::Unknown,
            },
            "message" => out.push(Event::Message(Message {
                role: match value.get("role").and_then(Value::as_str) {
                    Some("user") => Role::User,
                    _ => Role::Assistant,
                },
                text: string(value, "content").unwrap_or_default(),
                delta: value.get("delta").and_then(Value::as_bool) == Some(true),
                id: None,
            })),
            "tool_use" => {
                let name = string(value, "tool_name").unwrap_or_default();
                out.push(Event::ToolCall(ToolCall {
                    id: string(value, "tool_id").unwrap_or_default(),
                    kind: tool_kind(&name),
                    name,
                    input: value.get("parameters").cloned().unwrap_or(Value::Null),
                    status: ToolStatus::InProgress,
                }));
            }
            "tool_result" => {
                let failed = string(value, "status").as_deref() == Some("error");
                out.push(Event::ToolResult(ToolResult {
                    id: string(value, "tool_id").unwrap_or_default(),
                    status: if failed {
                        ToolStatus::Failed
                    } else {
                        ToolStatus::Completed
                    },
                    output: value.get("output").and_then(text_of),
                    error: value.get("error").and_then(message_of),
                    files: Vec::new(),
                }));
            }
            "error" => {
                let message = message_of(value).unwrap_or_default();
                out.push(Event::Error(ErrorEvent {
                    cause: cause_of(None, &message),
                    message,
                    code: None,
                    fatal: string(value, "severity").as_deref() == Some("error"),
                }));
            }
            "result" => {
                if let Some(stats) = value.get("stats") {
                    out.push(Event::Usage(Usage {
                        input_tokens: count(stats, "input_tokens"),
                        output_tokens: count(stats, "output_tokens"),
                        cached_input_tokens: count(stats, "cached"),
                        cumulative: true,
                        ..Usage::default()
                    }));
                }
                let failed = string(value, "status").as_deref() == Some("error");
                if failed {
                    let message = value
                        .get("error")
                        .and_then(message_of)
                        .unwrap_or_else(|| "the run failed".to_owned());
                    out.push(Event::Error(ErrorEvent {
                        cause: cause_of(None, &message),
                        code: value.get("error").and_then(|error| string(error, "type")),
                        message,
                        fatal: true,
                    }));
                }
                out.push(Event::TurnEnd(TurnEnd {
                    reason: if failed {
                        StopReason::Error
                    } else {
                        StopReason::EndTurn
                    },
                    detail: string(value, "status"),
                    result: None,
                    duration_ms: value
                        .get("stats")
                        .and_then(|stats| count(stats, "duration_ms")),
                }));
            }
            _ => return Seen::Unknown,
        }
        Seen::Known
    }
}

/// `message` of an error object, or the error itself as text.
fn message_of(value: &Value) -> Option<String> {
    string(value, "message").or_else(|| match value {
        Value::String(text) => Some(text.clone()),
        _ => None,
    })
}
