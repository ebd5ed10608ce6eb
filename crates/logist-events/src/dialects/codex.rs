//! Codex's `exec --json`.
//!
//! Grounded in Codex 0.169.0 output captured against the fake model
//! (`tests/fixtures/codex-*.out`) and Codex's `docs/exec.md`:
//!
//! - `thread.started` → [`Session`] (`thread_id`, which `codex exec
//!   resume` takes);
//! - `item.started` / `item.updated` / `item.completed`, by item type:
//!   `agent_message` → [`Message`]; `reasoning` → [`Thought`];
//!   `command_execution`, `mcp_tool_call`, `web_search` → [`ToolCall`] when
//!   started and [`ToolResult`] when completed; `file_change` →
//!   [`ToolResult`] with its files; `todo_list` → [`Plan`]; `error` → a
//!   non-fatal [`ErrorEvent`] (Codex reports warnings this way);
//! - `turn.completed` → [`Usage`] for the turn and [`TurnEnd`];
//!   `turn.failed` → a fatal [`ErrorEvent`] and [`TurnEnd`] (error);
//!   `error` → a fatal [`ErrorEvent`];
//! - `turn.started` gives no event.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::dialects::{Seen, cause_of, count, kind_field, string, text_of};
use crate::event::{
    ErrorEvent, Event, FileChange, FileChangeKind, Message, Plan, PlanEntry, PlanStatus, Role,
    Session, StopReason, Thought, ToolCall, ToolKind, ToolResult, ToolStatus, TurnEnd, Usage,
};

/// The Codex dialect: remembers which tool calls were announced, so a call
/// first seen completed is announced before its result.
#[derive(Debug, Default)]
pub(crate) struct Codex {
    announced: HashSet<String>,
}

impl Codex {
    pub(crate) fn event(&mut self, value: &Value, out: &mut Vec<Event>) -> Seen {
        match kind_field(value) {
            "thread.started" => match string(value, "thread_id") {
                Some(id) => out.push(Event::Session(Session {
                    id,
                    ..Session::default()
                })),
                None => return Seen::Unknown,
            },
            "turn.started" => {}
            "turn.completed" => {
                self.announced.clear();
                if let Some(usage) = value.get("usage") {
                    out.push(Event::Usage(Usage {
                        input_tokens: count(usage, "input_tokens"),
                        output_tokens: count(usage, "output_tokens"),
                        cached_input_tokens: count(usage, "cached_input_tokens"),
                        cache_write_tokens: count(usage, "cache_write_input_tokens"),
                        reasoning_tokens: count(usage, "reasoning_output_tokens"),
                        ..Usage::default()
                    }));
                }
                out.push(Event::TurnEnd(TurnEnd::default()));
            }
            "turn.failed" => {
                self.announced.clear();
                let message = value
                    .get("error")
                    .and_then(|error| string(error, "message"))
                    .unwrap_or_else(|| "the turn failed".to_owned());
                out.push(error(message, true));
                out.push(Event::TurnEnd(TurnEnd {
                    reason: StopReason::Error,
                    ..TurnEnd::default()
                }));
            }
            "error" => {
                let message = string(value, "message").unwrap_or_default();
                out.push(error(message, true));
            }
            "item.started" | "item.updated" | "item.completed" => {
                let Some(item) = value.get("item") else {
                    return Seen::Unknown;
                };
                let done = kind_field(value) == "item.completed";
                return self.item(item, done, out);
            }
            _ => return Seen::Unknown,
        }
        Seen::Known
    }

    fn item(&mut self, item: &Value, done: bool, out: &mut Vec<Event>) -> Seen {
        let id = string(item, "id").unwrap_or_default();
        match kind_field(item) {
            "agent_message" if done => out.push(Event::Message(Message {
                role: Role::Assistant,
                text: string(item, "text").unwrap_or_default(),
                delta: false,
                id: Some(id),
            })),
            "reasoning" if done => out.push(Event::Thought(Thought {
                text: string(item, "text").unwrap_or_default(),
                delta: false,
            })),
            "agent_message" | "reasoning" => {}
            "error" => out.push(error(string(item, "message").unwrap_or_default(), false)),
            "todo_list" => out.push(Event::Plan(plan(item))),
            "command_execution" => {
                let call = ToolCall {
                    id: id.clone(),
                    name: "command_execution".to_owned(),
                    kind: ToolKind::Execute,
                    input: json!({"command": item.get("command").cloned().unwrap_or(Value::Null)}),
                    status: ToolStatus::InProgress,
                };
                self.announce(call, out);
                if done {
                    let exit_code = item.get("exit_code").and_then(Value::as_i64);
                    let failed = string(item, "status").as_deref() == Some("failed")
                        || exit_code.is_some_and(|code| code != 0);
                    let output = string(item, "aggregated_output");
                    out.push(Event::ToolResult(ToolResult {
                        id,
                        status: status(failed),
                        error: failed.then(|| match exit_code {
                            Some(code) => format!("exit code {code}"),
                            None => "the command failed".to_owned(),
                        }),
                        output,
                        files: Vec::new(),
                    }));
                }
            }
            "file_change" => {
                let files: Vec<FileChange> = item
                    .get("changes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|change| FileChange {
                        path: string(change, "path").unwrap_or_default(),
                        kind: match change.get("kind").and_then(Value::as_str) {
                            Some("add") => FileChangeKind::Added,
                            Some("delete") => FileChangeKind::Deleted,
                            Some("update") => FileChangeKind::Modified,
                            _ => FileChangeKind::Unknown,
                        },
                    })
                    .collect();
                let call = ToolCall {
                    id: id.clone(),
                    name: "file_change".to_owned(),
                    kind: ToolKind::Edit,
                    input: json!({"path": files.first().map(|file| file.path.clone())}),
                    status: ToolStatus::InProgress,
                };
                self.announce(call, out);
                if done {
                    let failed = string(item, "status").as_deref() == Some("failed");
                    out.push(Event::ToolResult(ToolResult {
                        id,
                        status: status(failed),
                        output: None,
                        error: failed.then(|| "the patch was not applied".to_owned()),
                        files,
                    }));
                }
            }
            "mcp_tool_call" => {
                let name = format!(
                    "{}.{}",
                    string(item, "server").unwrap_or_default(),
                    string(item, "tool").unwrap_or_default()
                );
                let call = ToolCall {
                    id: id.clone(),
                    kind: ToolKind::Other,
                    name,
                    input: item.get("arguments").cloned().unwrap_or(Value::Null),
                    status: ToolStatus::InProgress,
                };
                self.announce(call, out);
                if done {
                    let error = item
                        .get("error")
                        .filter(|error| !error.is_null())
                        .and_then(|error| string(error, "message").or_else(|| text_of(error)));
                    let failed =
                        error.is_some() || string(item, "status").as_deref() == Some("failed");
                    out.push(Event::ToolResult(ToolResult {
                        id,
                        status: status(failed),
                        output: item.get("result").and_then(text_of),
                        error,
                        files: Vec::new(),
                    }));
                }
            }
            "web_search" => {
                let call = ToolCall {
                    id: id.clone(),
                    name: "web_search".to_owned(),
                    kind: ToolKind::Fetch,
                    input: json!({"query": item.get("query").cloned().unwrap_or(Value::Null)}),
                    status: ToolStatus::InProgress,
                };
                self.announce(call, out);
                if done {
                    out.push(Event::ToolResult(ToolResult {
                        id,
                        status: ToolStatus::Completed,
                        ..ToolResult::default()
                    }));
                }
            }
            _ => return Seen::Unknown,
        }
        Seen::Known
    }

    /// Sends the tool call once per id.
    fn announce(&mut self, call: ToolCall, out: &mut Vec<Event>) {
        if self.announced.insert(call.id.clone()) {
            out.push(Event::ToolCall(call));
        }
    }
}

fn status(failed: bool) -> ToolStatus {
    if failed {
        ToolStatus::Failed
    } else {
        ToolStatus::Completed
    }
}

fn error(message: String, fatal: bool) -> Event {
    Event::Error(ErrorEvent {
        cause: cause_of(None, &message),
        message,
        code: None,
        fatal,
    })
}

fn plan(item: &Value) -> Plan {
    let entries = item
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|entry| PlanEntry {
            content: string(entry, "text").unwrap_or_default(),
            status: if entry.get("completed").and_then(Value::as_bool) == Some(true) {
                PlanStatus::Completed
            } else {
                PlanStatus::Pending
            },
            priority: None,
        })
        .collect();
    Plan { entries }
}
