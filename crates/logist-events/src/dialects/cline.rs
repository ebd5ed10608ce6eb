//! Cline CLI's `--json` (JSON lines), as Cline 3.0.65 prints them
//! (captured against the fake model: `tests/fixtures/cline-*.out`).
//!
//! Each line has a `type`:
//!
//! - `hook_event` (a lifecycle hook: `agent_start`, `tool_call`,
//!   `tool_result`, `agent_end`, …, carrying only ids): `agent_start` of
//!   the top agent (`parentAgentId` null) → [`Session`] (its `taskId`);
//!   the others give no event.
//! - `agent_event`, whose `event.type` is:
//!   - `content_start` with `contentType` `text` → [`Message`] piece
//!     (`delta: true`, `text` is the new piece); `reasoning` →
//!     [`Thought`] piece; `tool` → [`ToolCall`] (`toolCallId`, `toolName`,
//!     `input`; in progress);
//!   - `content_end` with `contentType` `text` → the whole [`Message`]
//!     (`delta: false`); `reasoning` → the whole [`Thought`]; `tool` →
//!     [`ToolResult`] (`output.result` or the output as JSON; `error`, or
//!     `output.success: false`, makes it failed; the `editor` tool's "File
//!     created successfully at: PATH" is an added file);
//!   - `usage` → [`Usage`] of that model call (`inputTokens`,
//!     `outputTokens`, `cacheReadTokens`, `cacheWriteTokens`, `cost` in
//!     USD, which Cline leaves out when it is zero);
//!   - `error` → [`ErrorEvent`] (`errorClass` as its code, fatal unless
//!     `recoverable`);
//!   - `iteration_start`, `iteration_end`, `content_update` and `done`
//!     (the answer and totals again, before `run_result`) give no event.
//! - `run_result` → [`TurnEnd`] (`finishReason` `completed` is a normal
//!   end, anything else an error; `text` or `message` as its result), and
//!   `run_aborted` → [`TurnEnd`] (cancelled), as the Cline adapter's
//!   verdict reads them. Their totals repeat the `usage` lines and give no
//!   event.
//!
//! Cline gives its messages no id; the parser names each after the
//! iteration it belongs to (`iteration-N`, from `iteration_start`), so a
//! reader that shows the pieces can skip the whole message.

use serde_json::Value;

use crate::dialects::{Seen, cause_of, count, kind_field, string, text_of, tool_kind};
use crate::event::{
    Cost, ErrorEvent, Event, FileChange, FileChangeKind, Message, Role, Session, StopReason,
    Thought, ToolCall, ToolResult, ToolStatus, TurnEnd, Usage,
};

/// The Cline dialect: the iteration under way, which names its messages.
#[derive(Debug, Default)]
pub(crate) struct Cline {
    iteration: u64,
}

impl Cline {
    pub(crate) fn event(&mut self, value: &Value, out: &mut Vec<Event>) -> Seen {
        match kind_field(value) {
            "hook_event" => {
                if string(value, "hookEventName").as_deref() == Some("agent_start")
                    && value.get("parentAgentId").is_none_or(Value::is_null)
                    && let Some(id) = string(value, "taskId")
                {
                    out.push(Event::Session(Session {
                        id,
                        model: None,
                        cwd: None,
                    }));
                }
                Seen::Known
            }
            "agent_event" => match value.get("event") {
                Some(event) => self.agent_event(event, out),
                None => Seen::Unknown,
            },
            "run_result" => {
                let reason = if string(value, "finishReason").as_deref() == Some("completed") {
                    StopReason::EndTurn
                } else {
                    StopReason::Error
                };
                out.push(turn_end(value, reason));
                Seen::Known
            }
            "run_aborted" => {
                out.push(turn_end(value, StopReason::Cancelled));
                Seen::Known
            }
            _ => Seen::Unknown,
        }
    }

    /// The events of one `agent_event`'s `event`.
    fn agent_event(&mut self, event: &Value, out: &mut Vec<Event>) -> Seen {
        let content = string(event, "contentType");
        match (kind_field(event), content.as_deref()) {
            ("iteration_start", _) => {
                self.iteration = count(event, "iteration").unwrap_or(self.iteration);
            }
            ("iteration_end" | "done" | "content_update", _) => {}
            ("content_start" | "content_end", Some("text")) => {
                let Some(text) = string(event, "text") else {
                    return Seen::Unknown;
                };
                out.push(Event::Message(Message {
                    role: Role::Assistant,
                    text,
                    delta: kind_field(event) == "content_start",
                    id: Some(format!("iteration-{}", self.iteration)),
                }));
            }
            ("content_start" | "content_end", Some("reasoning")) => {
                let Some(text) = string(event, "reasoning") else {
                    return Seen::Unknown;
                };
                out.push(Event::Thought(Thought {
                    text,
                    delta: kind_field(event) == "content_start",
                }));
            }
            ("content_start", Some("tool")) => {
                let name = string(event, "toolName").unwrap_or_default();
                out.push(Event::ToolCall(ToolCall {
                    id: string(event, "toolCallId").unwrap_or_default(),
                    kind: tool_kind(&name),
                    name,
                    input: event.get("input").cloned().unwrap_or(Value::Null),
                    status: ToolStatus::InProgress,
                }));
            }
            ("content_end", Some("tool")) => out.push(Event::ToolResult(tool_result(event))),
            ("usage", _) => out.push(Event::Usage(Usage {
                input_tokens: count(event, "inputTokens"),
                output_tokens: count(event, "outputTokens"),
                cached_input_tokens: count(event, "cacheReadTokens"),
                cache_write_tokens: count(event, "cacheWriteTokens"),
                cost: event
                    .get("cost")
                    .and_then(Value::as_f64)
                    .map(|amount| Cost {
                        amount,
                        currency: "USD".into(),
                    }),
                ..Usage::default()
            })),
            ("error", _) => {
                let message = match event.get("error") {
                    Some(error) => string(error, "message")
                        .or_else(|| text_of(error))
                        .unwrap_or_default(),
                    None => String::new(),
                };
                out.push(Event::Error(ErrorEvent {
                    cause: cause_of(None, &message),
                    message,
                    code: string(event, "errorClass"),
                    fatal: event.get("recoverable").and_then(Value::as_bool) != Some(true),
                }));
            }
            _ => return Seen::Unknown,
        }
        Seen::Known
    }
}

/// The end of the run from `run_result` or `run_aborted`.
fn turn_end(value: &Value, reason: StopReason) -> Event {
    Event::TurnEnd(TurnEnd {
        reason,
        detail: string(value, "finishReason"),
        result: string(value, "text").or_else(|| string(value, "message")),
        duration_ms: count(value, "durationMs"),
    })
}

/// A `content_end` of a tool: its output, its error, the file it created.
fn tool_result(event: &Value) -> ToolResult {
    let output = event.get("output").unwrap_or(&Value::Null);
    let error = match event.get("error") {
        None | Some(Value::Null) => None,
        Some(error) => string(error, "message").or_else(|| text_of(error)),
    };
    let failed = error.is_some() || output.get("success").and_then(Value::as_bool) == Some(false);
    let text = string(output, "result").or_else(|| text_of(output));
    let files = text
        .as_deref()
        .filter(|_| !failed && string(event, "toolName").as_deref() == Some("editor"))
        .and_then(|text| text.strip_prefix("File created successfully at: "))
        .map(|path| FileChange {
            path: path.trim_end().to_owned(),
            kind: FileChangeKind::Added,
        })
        .into_iter()
        .collect();
    ToolResult {
        id: string(event, "toolCallId").unwrap_or_default(),
        status: if failed {
            ToolStatus::Failed
        } else {
            ToolStatus::Completed
        },
        error: error.or_else(|| failed.then(|| text.clone()).flatten()),
        output: text,
        files,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use logist_core::{FailureCause, OutputFormat};

    use crate::event::RawReason;
    use crate::parser::Parser;

    use super::*;

    #[track_caller]
    fn check(lines: &[Value], expected: &[Value]) {
        let mut input = String::new();
        for line in lines {
            input.push_str(&line.to_string());
            input.push('\n');
        }
        let mut parser = Parser::new(OutputFormat::ClineJson);
        let mut events = parser.feed(input.as_bytes());
        events.extend(parser.finish());
        let got: Vec<Value> = events.iter().map(Event::to_json).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn the_verdict_lines_end_the_turn_as_before() {
        check(
            &[
                json!({"type": "run_result", "finishReason": "max_iterations", "message": "too many"}),
                json!({"type": "run_aborted"}),
            ],
            &[
                json!({"event": "turn_end", "reason": "error", "detail": "max_iterations",
                       "result": "too many"}),
                json!({"event": "turn_end", "reason": "cancelled"}),
            ],
        );
    }

    #[test]
    fn a_sub_agent_start_is_not_the_session() {
        check(
            &[
                json!({"type": "hook_event", "hookEventName": "agent_start", "taskId": "t1",
                       "parentAgentId": null}),
                json!({"type": "hook_event", "hookEventName": "agent_start", "taskId": "t2",
                       "parentAgentId": "agent_1"}),
                json!({"type": "hook_event", "hookEventName": "agent_end", "taskId": "t1"}),
            ],
            &[json!({"event": "session", "id": "t1", "model": null})],
        );
    }

    #[test]
    fn a_failed_tool_and_an_error() {
        check(
            &[
                json!({"type": "agent_event", "event": {"type": "content_end",
                       "contentType": "tool", "toolName": "bash", "toolCallId": "c1",
                       "output": {"result": "no such file", "success": false}}}),
                json!({"type": "agent_event", "event": {"type": "content_end",
                       "contentType": "tool", "toolName": "bash", "toolCallId": "c2",
                       "error": "denied"}}),
                json!({"type": "agent_event", "event": {"type": "error",
                       "error": {"message": "429 rate limit"}, "errorClass": "ApiError",
                       "recoverable": false}}),
            ],
            &[
                json!({"event": "tool_result", "id": "c1", "status": "failed",
                       "output": "no such file", "error": "no such file"}),
                json!({"event": "tool_result", "id": "c2", "status": "failed",
                       "output": null, "error": "denied"}),
                json!({"event": "error", "message": "429 rate limit",
                       "cause": FailureCause::RateLimited.as_str(), "code": "ApiError",
                       "fatal": true}),
            ],
        );
    }

    #[test]
    fn reasoning_and_cost() {
        check(
            &[
                json!({"type": "agent_event", "event": {"type": "content_start",
                       "contentType": "reasoning", "reasoning": "hm", "redacted": false}}),
                json!({"type": "agent_event", "event": {"type": "usage", "inputTokens": 3,
                       "outputTokens": 4, "cacheReadTokens": 2, "cost": 0.5}}),
            ],
            &[
                json!({"event": "thought", "text": "hm", "delta": true}),
                json!({"event": "usage", "input_tokens": 3, "output_tokens": 4,
                       "cached_input_tokens": 2, "cost": {"amount": 0.5, "currency": "USD"},
                       "cumulative": false}),
            ],
        );
    }

    #[test]
    fn unknown_agent_events_stay_raw() {
        let line = b"{\"type\":\"agent_event\",\"event\":{\"type\":\"notice\"}}\n";
        let mut parser = Parser::new(OutputFormat::ClineJson);
        let events = parser.feed(line);
        assert!(matches!(&events[..],
            [Event::Raw(raw)] if raw.reason == RawReason::Unknown && raw.data == line));
    }
}
