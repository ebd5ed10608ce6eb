//! GitHub Copilot CLI's `--output-format json` (its session events, one
//! per line: `{"type": "…", "data": {…}}`).
//!
//! Grounded in Copilot CLI 1.0.102 output captured against the fake model
//! (`tests/fixtures/copilot-*.out`):
//!
//! - `user.message` → a user [`Message`];
//! - `assistant.message_delta` → [`Message`] pieces (`deltaContent`);
//!   `assistant.message` → the whole [`Message`] (when it has text);
//! - `tool.execution_start` → [`ToolCall`]; `tool.execution_complete` →
//!   [`ToolResult`] (`success`, `result.content`, `error`, and the files of
//!   `fileEdits`);
//! - `session.error` → a fatal [`ErrorEvent`];
//! - `result` → [`Session`] (`sessionId`: Copilot names its session only at
//!   the end) and [`TurnEnd`] (`exitCode`, `usage.sessionDurationMs`).
//!
//! Copilot 1.0.102 prints no token counts here; `assistant.usage` (the
//! Copilot SDK's usage event: `inputTokens`, `outputTokens`,
//! `cacheReadTokens`, `cacheWriteTokens`) becomes [`Usage`] when a version
//! prints it. Session set-up, model-call and turn bookkeeping events
//! (`session.*`, `model.*`, `assistant.turn_*`, `assistant.idle`,
//! `assistant.message_start`, `assistant.tool_call_delta`) give no event.

use serde_json::Value;

use crate::dialects::{Seen, cause_of, count, kind_field, string, text_of, tool_kind};
use crate::event::{
    ErrorEvent, Event, FileChange, FileChangeKind, Message, Role, Session, StopReason, Thought,
    ToolCall, ToolResult, ToolStatus, TurnEnd, Usage,
};

/// The Copilot dialect (no state between lines).
#[derive(Debug, Default)]
pub(crate) struct Copilot;

impl Copilot {
    pub(crate) fn event(&mut self, value: &Value, out: &mut Vec<Event>) -> Seen {
        let data = value.get("data").unwrap_or(&Value::Null);
        match kind_field(value) {
            "user.message" => out.push(Event::Message(Message {
                role: Role::User,
                text: string(data, "content").unwrap_or_default(),
                delta: false,
                id: string(data, "messageId"),
            })),
            "assistant.message_delta" => out.push(Event::Message(Message {
                role: Role::Assistant,
                text: string(data, "deltaContent").unwrap_or_default(),
                delta: true,
                id: string(data, "messageId"),
            })),
            "assistant.message" => {
                let text = string(data, "content").unwrap_or_default();
                if !text.is_empty() {
                    out.push(Event::Message(Message {
                        role: Role::Assistant,
                        text,
                        delta: false,
                        id: string(data, "messageId"),
                    }));
                }
            }
            "assistant.reasoning_delta" => out.push(Event::Thought(Thought {
                text: string(data, "deltaContent").unwrap_or_default(),
                delta: true,
            })),
            "assistant.reasoning" => out.push(Event::Thought(Thought {
                text: string(data, "content").unwrap_or_default(),
                delta: false,
            })),
            "assistant.usage" => out.push(Event::Usage(Usage {
                input_tokens: count(data, "inputTokens"),
                output_tokens: count(data, "outputTokens"),
                cached_input_tokens: count(data, "cacheReadTokens"),
                cache_write_tokens: count(data, "cacheWriteTokens"),
                ..Usage::default()
            })),
            "tool.execution_start" => {
                let name = string(data, "toolName").unwrap_or_default();
                out.push(Event::ToolCall(ToolCall {
                    id: string(data, "toolCallId").unwrap_or_default(),
                    kind: tool_kind(&name),
                    name,
                    input: data.get("arguments").cloned().unwrap_or(Value::Null),
                    status: ToolStatus::InProgress,
                }));
            }
            "tool.execution_complete" => {
                let success = data.get("success").and_then(Value::as_bool) == Some(true);
                let files = data
                    .get("fileEdits")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|edit| FileChange {
                        path: string(edit, "path").unwrap_or_default(),
                        kind: match edit.get("kind").and_then(Value::as_str) {
                            Some("create") => FileChangeKind::Added,
                            Some("edit" | "update" | "modify") => FileChangeKind::Modified,
                            Some("delete") => FileChangeKind::Deleted,
                            _ => FileChangeKind::Unknown,
                        },
                    })
                    .collect();
                let error = data
                    .get("error")
                    .and_then(|error| string(error, "message").or_else(|| text_of(error)));
                out.push(Event::ToolResult(ToolResult {
                    id: string(data, "toolCallId").unwrap_or_default(),
                    status: if success {
                        ToolStatus::Completed
                    } else {
                        ToolStatus::Failed
                    },
                    output: data
                        .get("result")
                        .and_then(|result| result.get("content"))
                        .and_then(text_of),
                    error,
                    files,
                }));
            }
            "session.error" => {
                let message = string(data, "message").unwrap_or_default();
                out.push(Event::Error(ErrorEvent {
                    cause: cause_of(count(data, "statusCode"), &message),
                    code: string(data, "errorType"),
                    message,
                    fatal: true,
                }));
            }
            "result" => {
                if let Some(id) = string(value, "sessionId") {
                    out.push(Event::Session(Session {
                        id,
                        ..Session::default()
                    }));
                }
                let exit_code = value.get("exitCode").and_then(Value::as_i64);
                out.push(Event::TurnEnd(TurnEnd {
                    reason: match exit_code {
                        Some(0) | None => StopReason::EndTurn,
                        Some(_) => StopReason::Error,
                    },
                    detail: exit_code.map(|code| format!("exit code {code}")),
                    result: None,
                    duration_ms: value
                        .get("usage")
                        .and_then(|usage| count(usage, "sessionDurationMs")),
                }));
            }
            other
                if other.starts_with("session.")
                    || other.starts_with("model.")
                    || matches!(
                        other,
                        "assistant.turn_start"
                            | "assistant.turn_end"
                            | "assistant.idle"
                            | "assistant.message_start"
                            | "assistant.tool_call_delta"
                    ) => {}
            _ => return Seen::Unknown,
        }
        Seen::Known
    }
}
