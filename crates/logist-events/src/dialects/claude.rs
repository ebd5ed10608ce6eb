//! Claude Code's `stream-json` (`-p --output-format stream-json
//! --verbose`), also printed by Qwen Code, Cursor Agent and Amp.
//!
//! Grounded in Claude Code 2.1.197 and Qwen Code 0.15.10 output captured
//! against the fake model (`tests/fixtures/claude-code-*.out`,
//! `qwen-*.out`):
//!
//! - `system` / `init` → [`Session`] (`session_id`, `model`, `cwd`);
//!   `system` / `api_retry` → a non-fatal [`ErrorEvent`];
//! - `assistant` → per content block: `text` → [`Message`], `thinking` →
//!   [`Thought`], `tool_use` → [`ToolCall`] (plus a [`Plan`] for a
//!   `TodoWrite`/`todo_write` call);
//! - `user` → `tool_result` blocks → [`ToolResult`] (files from
//!   `tool_use_result.type` `create`/`update` and `filePath`), text blocks
//!   → a user [`Message`];
//! - `result` → [`Usage`] (cumulative, with `total_cost_usd`), one
//!   [`PermissionDecision`] per `permission_denials` entry, an
//!   [`ErrorEvent`] when `is_error`, and [`TurnEnd`];
//! - `control_request` / `can_use_tool` (with `--permission-prompt-tool
//!   stdio`) → [`Permission`];
//! - Cursor Agent's own `tool_call` lines (`subtype` `started` /
//!   `completed`, `call_id`, `tool_call: {"<kind>ToolCall": {"args",
//!   "result": {"success" | "error": …}}}`, as its output-format reference
//!   documents them; not captured here) → [`ToolCall`] and [`ToolResult`].
//!
//! Other `system` subtypes (hooks, status) give no event. The per-message
//! `usage` of `assistant` lines is not reported: the `result` line has the
//! run's totals.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use crate::dialects::{Seen, cause_of, count, kind_field, string, text_of, tool_kind};
use crate::event::{
    Cost, Decider, ErrorEvent, Event, FileChange, FileChangeKind, Message, Outcome, Permission,
    PermissionDecision, Plan, PlanEntry, PlanStatus, Role, Session, StopReason, Thought, ToolCall,
    ToolResult, ToolStatus, TurnEnd, Usage,
};

/// The Claude stream-json dialect (no state between lines).
#[derive(Debug, Default)]
pub(crate) struct Claude;

/// A line, deserialized with only the fields this dialect reads: the large
/// parts of a line (the `init` line's lists of tools and commands, usage
/// details) are skipped without being built. A line that does not fit
/// (a field of another type) is read again as a [`Value`].
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    subtype: Option<Cow<'a, str>>,
    session_id: Option<String>,
    model: Option<String>,
    cwd: Option<String>,
    message: Option<LineMessage>,
    tool_use_result: Option<Value>,
    usage: Option<LineUsage>,
    total_cost_usd: Option<f64>,
    #[serde(default)]
    permission_denials: Vec<Value>,
    is_error: Option<bool>,
    result: Option<String>,
    stop_reason: Option<String>,
    duration_ms: Option<u64>,
    api_error_status: Option<u64>,
}

#[derive(Deserialize)]
struct LineMessage {
    id: Option<String>,
    content: Option<Value>,
}

#[derive(Deserialize)]
struct LineUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
}

impl Claude {
    /// The events of one JSON object line: through [`Line`] when it fits,
    /// else through a [`Value`].
    pub(crate) fn line(&mut self, text: &[u8], out: &mut Vec<Event>) -> Option<Seen> {
        // Invalid UTF-8 in a skipped field would go unnoticed here; such a
        // line takes the `Value` path, which keeps it raw.
        let text = std::str::from_utf8(text).ok()?;
        let line: Line<'_> = serde_json::from_str(text).ok()?;
        let seen = match line.kind.as_ref() {
            "assistant" => {
                let message = line.message?;
                assistant_blocks(message.id, message.content.as_ref(), out);
                Seen::Known
            }
            "user" => {
                let message = line.message?;
                user_content(message.content.as_ref(), line.tool_use_result.as_ref(), out);
                Seen::Known
            }
            "system" if line.subtype.as_deref() == Some("init") => {
                let id = line.session_id?;
                out.push(Event::Session(Session {
                    id,
                    model: line.model,
                    cwd: line.cwd,
                }));
                Seen::Known
            }
            "result" => {
                let usage = line.usage.map(|usage| Usage {
                    input_tokens: usage.input_tokens,
                    output_tokens: usage.output_tokens,
                    cached_input_tokens: usage.cache_read_input_tokens,
                    cache_write_tokens: usage.cache_creation_input_tokens,
                    cost: line.total_cost_usd.map(|amount| Cost {
                        amount,
                        currency: "USD".to_owned(),
                    }),
                    cumulative: true,
                    ..Usage::default()
                });
                finish_result(
                    ResultLine {
                        usage,
                        denials: &line.permission_denials,
                        subtype: line.subtype.map(Cow::into_owned),
                        is_error: line.is_error,
                        text: line.result,
                        stop_reason: line.stop_reason,
                        duration_ms: line.duration_ms,
                        api_error_status: line.api_error_status,
                        error: None,
                    },
                    out,
                );
                Seen::Known
            }
            // Everything else (rarer lines) through a `Value`.
            _ => return None,
        };
        Some(seen)
    }

    pub(crate) fn event(&mut self, value: &Value, out: &mut Vec<Event>) -> Seen {
        match kind_field(value) {
            "system" => system(value, out),
            "assistant" => assistant(value, out),
            "user" => user(value, out),
            "result" => result(value, out),
            "control_request" => control_request(value, out),
            "tool_call" => cursor_tool_call(value, out),
            _ => Seen::Unknown,
        }
    }
}

fn system(value: &Value, out: &mut Vec<Event>) -> Seen {
    match value.get("subtype").and_then(Value::as_str) {
        Some("init") => {
            let Some(id) = string(value, "session_id") else {
                return Seen::Unknown;
            };
            out.push(Event::Session(Session {
                id,
                model: string(value, "model"),
                cwd: string(value, "cwd"),
            }));
        }
        Some("api_retry") => {
            let message = string(value, "error")
                .or_else(|| string(value, "message"))
                .unwrap_or_else(|| "the API request failed; retrying".to_owned());
            let status = count(value, "error_status");
            out.push(Event::Error(ErrorEvent {
                cause: cause_of(status, &message),
                code: status.map(|status| status.to_string()),
                message,
                fatal: false,
            }));
        }
        _ => {}
    }
    Seen::Known
}

fn assistant(value: &Value, out: &mut Vec<Event>) -> Seen {
    let Some(message) = value.get("message") else {
        return Seen::Unknown;
    };
    assistant_blocks(string(message, "id"), message.get("content"), out);
    Seen::Known
}

fn assistant_blocks(id: Option<String>, content: Option<&Value>, out: &mut Vec<Event>) {
    for block in content.and_then(Value::as_array).into_iter().flatten() {
        match kind_field(block) {
            "text" => out.push(Event::Message(Message {
                role: Role::Assistant,
                text: string(block, "text").unwrap_or_default(),
                delta: false,
                id: id.clone(),
            })),
            "thinking" => out.push(Event::Thought(Thought {
                text: string(block, "thinking").unwrap_or_default(),
                delta: false,
            })),
            "tool_use" => {
                let call = tool_use(block);
                let plan = todo_plan(&call);
                out.push(Event::ToolCall(call));
                out.extend(plan.map(Event::Plan));
            }
            _ => {}
        }
    }
}

fn tool_use(block: &Value) -> ToolCall {
    let name = string(block, "name").unwrap_or_default();
    ToolCall {
        id: string(block, "id").unwrap_or_default(),
        kind: tool_kind(&name),
        name,
        input: block.get("input").cloned().unwrap_or(Value::Null),
        status: ToolStatus::InProgress,
    }
}

/// Cursor Agent's `tool_call` line: the call when `started`, its result
/// when `completed`.
fn cursor_tool_call(value: &Value, out: &mut Vec<Event>) -> Seen {
    let Some((member, call)) = value
        .get("tool_call")
        .and_then(Value::as_object)
        .and_then(|members| members.iter().next())
    else {
        return Seen::Unknown;
    };
    let id = string(value, "call_id").unwrap_or_default();
    let name = member.strip_suffix("ToolCall").unwrap_or(member).to_owned();
    let completed = value.get("subtype").and_then(Value::as_str) == Some("completed");
    let result = call.get("result");
    let failed = result.is_some_and(|result| result.get("error").is_some());
    out.push(Event::ToolCall(ToolCall {
        id: id.clone(),
        kind: tool_kind(&name),
        name,
        input: call.get("args").cloned().unwrap_or(Value::Null),
        status: match (completed, failed) {
            (false, _) => ToolStatus::InProgress,
            (true, false) => ToolStatus::Completed,
            (true, true) => ToolStatus::Failed,
        },
    }));
    if completed {
        let output = result.and_then(|result| result.get("success"));
        let error = result.and_then(|result| result.get("error"));
        out.push(Event::ToolResult(ToolResult {
            id,
            status: if failed {
                ToolStatus::Failed
            } else {
                ToolStatus::Completed
            },
            output: output.and_then(|output| {
                output
                    .get("content")
                    .and_then(text_of)
                    .or_else(|| text_of(output))
            }),
            error: error.and_then(|error| string(error, "message").or_else(|| text_of(error))),
            files: Vec::new(),
        }));
    }
    Seen::Known
}

/// The plan a to-do tool call sets (Claude Code's `TodoWrite`, Qwen
/// Code's `todo_write`: `{"todos": [{"content", "status"}]}`).
fn todo_plan(call: &ToolCall) -> Option<Plan> {
    if !call.name.eq_ignore_ascii_case("TodoWrite") && call.name != "todo_write" {
        return None;
    }
    let todos = call.input.get("todos")?.as_array()?;
    let entries = todos
        .iter()
        .map(|todo| PlanEntry {
            content: string(todo, "content").unwrap_or_default(),
            status: match todo.get("status").and_then(Value::as_str) {
                Some("in_progress") => PlanStatus::InProgress,
                Some("completed") => PlanStatus::Completed,
                _ => PlanStatus::Pending,
            },
            priority: string(todo, "priority"),
        })
        .collect();
    Some(Plan { entries })
}

fn user(value: &Value, out: &mut Vec<Event>) -> Seen {
    let Some(message) = value.get("message") else {
        return Seen::Unknown;
    };
    user_content(message.get("content"), value.get("tool_use_result"), out);
    Seen::Known
}

fn user_content(content: Option<&Value>, tool_use_result: Option<&Value>, out: &mut Vec<Event>) {
    if let Some(text) = content.and_then(Value::as_str) {
        out.push(Event::Message(Message {
            role: Role::User,
            text: text.to_owned(),
            delta: false,
            id: None,
        }));
        return;
    }
    for block in content.and_then(Value::as_array).into_iter().flatten() {
        match kind_field(block) {
            "tool_result" => {
                let failed = block
                    .get("is_error")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let output = block.get("content").and_then(text_of);
                out.push(Event::ToolResult(ToolResult {
                    id: string(block, "tool_use_id").unwrap_or_default(),
                    status: if failed {
                        ToolStatus::Failed
                    } else {
                        ToolStatus::Completed
                    },
                    error: if failed { output.clone() } else { None },
                    output: if failed { None } else { output },
                    files: files(tool_use_result),
                }));
            }
            "text" => out.push(Event::Message(Message {
                role: Role::User,
                text: string(block, "text").unwrap_or_default(),
                delta: false,
                id: None,
            })),
            _ => {}
        }
    }
}

/// The file a `Write`/`Edit` result names (`tool_use_result`).
fn files(result: Option<&Value>) -> Vec<FileChange> {
    let Some(result) = result else {
        return Vec::new();
    };
    let Some(path) = string(result, "filePath") else {
        return Vec::new();
    };
    let kind = match kind_field(result) {
        "create" => FileChangeKind::Added,
        "update" => FileChangeKind::Modified,
        _ => FileChangeKind::Unknown,
    };
    vec![FileChange { path, kind }]
}

fn result(value: &Value, out: &mut Vec<Event>) -> Seen {
    let usage = value.get("usage").map(|usage| Usage {
        input_tokens: count(usage, "input_tokens"),
        output_tokens: count(usage, "output_tokens"),
        cached_input_tokens: count(usage, "cache_read_input_tokens"),
        cache_write_tokens: count(usage, "cache_creation_input_tokens"),
        cost: value
            .get("total_cost_usd")
            .and_then(Value::as_f64)
            .map(|amount| Cost {
                amount,
                currency: "USD".to_owned(),
            }),
        cumulative: true,
        ..Usage::default()
    });
    let denials = value
        .get("permission_denials")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    finish_result(
        ResultLine {
            usage,
            denials,
            subtype: string(value, "subtype"),
            is_error: value.get("is_error").and_then(Value::as_bool),
            text: string(value, "result"),
            stop_reason: string(value, "stop_reason"),
            duration_ms: count(value, "duration_ms"),
            api_error_status: count(value, "api_error_status"),
            error: value.get("error"),
        },
        out,
    );
    Seen::Known
}

/// What a `result` line says.
struct ResultLine<'a> {
    usage: Option<Usage>,
    denials: &'a [Value],
    subtype: Option<String>,
    is_error: Option<bool>,
    text: Option<String>,
    stop_reason: Option<String>,
    duration_ms: Option<u64>,
    api_error_status: Option<u64>,
    error: Option<&'a Value>,
}

fn finish_result(line: ResultLine<'_>, out: &mut Vec<Event>) {
    out.extend(line.usage.map(Event::Usage));
    for denial in line.denials {
        let name = string(denial, "tool_name").unwrap_or_default();
        let id = string(denial, "tool_use_id").unwrap_or_default();
        out.push(Event::PermissionDecision(PermissionDecision {
            id: id.clone(),
            outcome: Outcome::RejectOnce,
            by: Decider::Program,
            tool_call: Some(ToolCall {
                id,
                kind: tool_kind(&name),
                name,
                input: denial.get("tool_input").cloned().unwrap_or(Value::Null),
                status: ToolStatus::Failed,
            }),
        }));
    }
    let subtype = line.subtype;
    let is_error = line
        .is_error
        .unwrap_or_else(|| subtype.as_deref().is_some_and(|s| s.starts_with("error")));
    if is_error {
        let message = line
            .text
            .clone()
            .or_else(|| line.error.and_then(text_of))
            .or_else(|| subtype.clone())
            .unwrap_or_else(|| "the program reported an error".to_owned());
        let status = line.api_error_status;
        out.push(Event::Error(ErrorEvent {
            cause: cause_of(status, &message),
            code: status.map(|status| status.to_string()),
            message,
            fatal: true,
        }));
    }
    let reason = match (subtype.as_deref(), line.stop_reason.as_deref()) {
        (Some("error_max_turns"), _) => StopReason::MaxTurnRequests,
        _ if is_error => StopReason::Error,
        (_, Some("max_tokens")) => StopReason::MaxTokens,
        (_, Some("refusal")) => StopReason::Refusal,
        _ => StopReason::EndTurn,
    };
    out.push(Event::TurnEnd(TurnEnd {
        reason,
        detail: subtype,
        result: line.text,
        duration_ms: line.duration_ms,
    }));
}

fn control_request(value: &Value, out: &mut Vec<Event>) -> Seen {
    let Some(request) = value.get("request") else {
        return Seen::Unknown;
    };
    if request.get("subtype").and_then(Value::as_str) != Some("can_use_tool") {
        return Seen::Unknown;
    }
    let name = string(request, "tool_name").unwrap_or_default();
    out.push(Event::Permission(Permission {
        id: string(value, "request_id").unwrap_or_default(),
        tool_call: Some(ToolCall {
            id: string(request, "tool_use_id").unwrap_or_default(),
            kind: tool_kind(&name),
            name,
            input: request.get("input").cloned().unwrap_or(Value::Null),
            status: ToolStatus::Pending,
        }),
        options: Vec::new(),
    }));
    Seen::Known
}
