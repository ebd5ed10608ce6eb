//! ACP in Logist's event model (`logist-events`): each [`AcpEvent`] as zero
//! or more [`Event`]s, plus the session, the end of a turn and a failed
//! turn.
//!
//! The mapping is the one `docs/events.md` documents ("From the Agent
//! Client Protocol"). Update kinds the model has no place for
//! (`available_commands_update`, `current_mode_update`,
//! `session_info_update`, …) give no event; the [`AcpEvent`] still carries
//! them for a caller that wants them.

use serde_json::Value;

use logist_core::FailureCause;
use logist_events::{
    Cost, Decider, ErrorEvent, Event, FileChange, FileChangeKind, Message, Outcome, Permission,
    PermissionDecision, PermissionKind, Plan, PlanEntry, PlanStatus, Raw, RawReason, Role, Session,
    StopReason as EventStop, Thought, ToolCall, ToolKind as EventKind, ToolResult, ToolStatus,
    TurnEnd, Usage,
};

use crate::error::AcpError;
use crate::policy::{PermissionOption as AcpOption, PermissionRequest, ToolKind};
use crate::session::{AcpEvent, SessionUpdate, StopReason};

impl AcpEvent {
    /// This happening in the event model (history replayed by
    /// `session/load` included: the caller decides whether to show it).
    ///
    /// ```
    /// use logist_acp::{AcpEvent, SessionUpdate};
    /// use logist_events::Event;
    /// use serde_json::json;
    ///
    /// let update = SessionUpdate {
    ///     session_id: "s".into(),
    ///     kind: "agent_message_chunk".into(),
    ///     update: json!({"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": "Hi"}}),
    /// };
    /// let events = AcpEvent::Update { update, history: false }.to_events();
    /// assert!(matches!(&events[..], [Event::Message(m)] if m.text == "Hi" && m.delta));
    /// ```
    pub fn to_events(&self) -> Vec<Event> {
        match self {
            AcpEvent::Update { update, .. } => update_events(update),
            AcpEvent::Permission {
                request, chosen, ..
            } => permission_events(request, chosen.as_ref()),
            AcpEvent::Noise { line, reason } => {
                let kind = match *reason {
                    "not JSON" if line.first() == Some(&b'{') => RawReason::Malformed,
                    "not JSON" | "blank line" => RawReason::Unparsed,
                    "unterminated line at the end of the output" => RawReason::Malformed,
                    _ => RawReason::Unknown,
                };
                let mut data = line.clone();
                data.push(b'\n');
                vec![raw(kind, data)]
            }
            AcpEvent::Oversized { head, .. } => vec![raw(RawReason::Oversized, head.clone())],
            AcpEvent::Stderr { data } => vec![raw(RawReason::Unparsed, data.clone())],
            AcpEvent::Missed { bytes } => vec![Event::Error(ErrorEvent {
                message: format!(
                    "{bytes} bytes of the agent's output were lost before they were read"
                ),
                ..ErrorEvent::default()
            })],
            AcpEvent::Dropped { count } => vec![Event::Error(ErrorEvent {
                message: format!(
                    "{count} events the agent sent outside a turn were dropped (too many held)"
                ),
                ..ErrorEvent::default()
            })],
            AcpEvent::UnexpectedResponse { id } => vec![Event::Error(ErrorEvent {
                message: format!(
                    "the agent answered request {id}, which was never sent or already answered"
                ),
                ..ErrorEvent::default()
            })],
            AcpEvent::UnknownRequest { .. }
            | AcpEvent::UnknownNotification { .. }
            | AcpEvent::Cancelling { .. } => Vec::new(),
        }
    }
}

/// The session event for a session id.
pub fn session_event(session_id: &str) -> Event {
    Event::Session(Session {
        id: session_id.to_owned(),
        ..Session::default()
    })
}

/// The end of a turn that ended with `reason`.
pub fn turn_end_event(reason: &StopReason) -> Event {
    let (reason, detail) = match reason {
        StopReason::EndTurn => (EventStop::EndTurn, None),
        StopReason::MaxTokens => (EventStop::MaxTokens, None),
        StopReason::MaxTurnRequests => (EventStop::MaxTurnRequests, None),
        StopReason::Refusal => (EventStop::Refusal, None),
        StopReason::Cancelled => (EventStop::Cancelled, None),
        StopReason::Other(other) => (EventStop::Error, Some(other.clone())),
    };
    Event::TurnEnd(TurnEnd {
        reason,
        detail,
        ..TurnEnd::default()
    })
}

/// A turn that failed: the error (with its cause chain) and the end of the
/// turn.
pub fn error_events(error: &AcpError) -> Vec<Event> {
    let cause = matches!(error, AcpError::AuthRequired { .. }).then_some(FailureCause::AuthFailed);
    let reason = match error {
        AcpError::Timeout { .. } | AcpError::CancelIgnored => EventStop::Cancelled,
        _ => EventStop::Error,
    };
    let code = match error {
        AcpError::Refused { source, .. } | AcpError::AuthRequired { source, .. } => {
            Some(source.code.to_string())
        }
        _ => None,
    };
    vec![
        Event::Error(ErrorEvent {
            message: logist_core::error_chain(error).to_string(),
            cause,
            code,
            fatal: true,
        }),
        Event::TurnEnd(TurnEnd {
            reason,
            ..TurnEnd::default()
        }),
    ]
}

fn raw(reason: RawReason, data: Vec<u8>) -> Event {
    Event::Raw(Raw { reason, data })
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn update_events(update: &SessionUpdate) -> Vec<Event> {
    let body = &update.update;
    let chunk = update.text().map(str::to_owned);
    let event = match (update.kind.as_str(), chunk) {
        ("agent_message_chunk", Some(text_)) => Event::Message(Message {
            role: Role::Assistant,
            text: text_,
            delta: true,
            id: text(body, "messageId"),
        }),
        ("user_message_chunk", Some(text_)) => Event::Message(Message {
            role: Role::User,
            text: text_,
            delta: true,
            id: text(body, "messageId"),
        }),
        ("agent_thought_chunk", Some(text_)) => Event::Thought(Thought {
            text: text_,
            delta: true,
        }),
        ("tool_call", _) => Event::ToolCall(tool_call(body)),
        ("tool_call_update", _) => {
            let call = Event::ToolCall(tool_call(body));
            let Some(status @ (ToolStatus::Completed | ToolStatus::Failed)) = status(body) else {
                return vec![call];
            };
            let output = content_text(body).or_else(|| raw_output(body));
            let result = Event::ToolResult(ToolResult {
                id: text(body, "toolCallId").unwrap_or_default(),
                status,
                error: (status == ToolStatus::Failed)
                    .then(|| output.clone())
                    .flatten(),
                output: (status == ToolStatus::Completed)
                    .then_some(output)
                    .flatten(),
                files: diffs(body),
            });
            return vec![call, result];
        }
        ("plan", _) => Event::Plan(Plan {
            entries: body
                .get("entries")
                .and_then(Value::as_array)
                .map(|entries| entries.iter().map(plan_entry).collect())
                .unwrap_or_default(),
        }),
        ("usage_update", _) => Event::Usage(Usage {
            context_used: body.get("used").and_then(Value::as_u64),
            context_size: body.get("size").and_then(Value::as_u64),
            cost: body.get("cost").and_then(|cost| {
                Some(Cost {
                    amount: cost.get("amount")?.as_f64()?,
                    currency: text(cost, "currency").unwrap_or_else(|| "USD".to_owned()),
                })
            }),
            ..Usage::default()
        }),
        // Updates the model has no place for (`available_commands_update`,
        // `current_mode_update`, `session_info_update`, …) give no event
        // (docs/events.md); the `AcpEvent` itself still carries them.
        _ => return Vec::new(),
    };
    vec![event]
}

/// A tool call's `rawOutput` as text, when it has one.
fn raw_output(body: &Value) -> Option<String> {
    match body.get("rawOutput")? {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

fn status(body: &Value) -> Option<ToolStatus> {
    match body.get("status")?.as_str()? {
        "pending" => Some(ToolStatus::Pending),
        "in_progress" => Some(ToolStatus::InProgress),
        "completed" => Some(ToolStatus::Completed),
        "failed" => Some(ToolStatus::Failed),
        _ => None,
    }
}

fn event_kind(kind: &ToolKind) -> EventKind {
    match kind {
        ToolKind::Read => EventKind::Read,
        ToolKind::Edit => EventKind::Edit,
        ToolKind::Delete => EventKind::Delete,
        ToolKind::Move => EventKind::Move,
        ToolKind::Search => EventKind::Search,
        ToolKind::Execute => EventKind::Execute,
        ToolKind::Think => EventKind::Think,
        ToolKind::Fetch => EventKind::Fetch,
        ToolKind::SwitchMode => EventKind::SwitchMode,
        ToolKind::Other(_) => EventKind::Other,
    }
}

fn tool_call(body: &Value) -> ToolCall {
    ToolCall {
        id: text(body, "toolCallId").unwrap_or_default(),
        name: text(body, "title").unwrap_or_default(),
        kind: event_kind(&ToolKind::from_wire(
            body.get("kind").and_then(Value::as_str),
        )),
        input: body.get("rawInput").cloned().unwrap_or(Value::Null),
        status: status(body).unwrap_or(ToolStatus::Pending),
    }
}

/// The text parts of a tool call's `content`, joined by newlines.
fn content_text(body: &Value) -> Option<String> {
    let parts: Vec<&str> = body
        .get("content")?
        .as_array()?
        .iter()
        .filter_map(|item| item.pointer("/content/text").and_then(Value::as_str))
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n"))
}

fn diffs(body: &Value) -> Vec<FileChange> {
    let Some(items) = body.get("content").and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .filter(|item| item.get("type").and_then(Value::as_str) == Some("diff"))
        .filter_map(|item| {
            Some(FileChange {
                path: text(item, "path")?,
                kind: if item.get("oldText").is_none_or(Value::is_null) {
                    FileChangeKind::Added
                } else {
                    FileChangeKind::Modified
                },
            })
        })
        .collect()
}

fn plan_entry(entry: &Value) -> PlanEntry {
    PlanEntry {
        content: text(entry, "content").unwrap_or_default(),
        status: match entry.get("status").and_then(Value::as_str) {
            Some("in_progress") => PlanStatus::InProgress,
            Some("completed") => PlanStatus::Completed,
            _ => PlanStatus::Pending,
        },
        priority: text(entry, "priority"),
    }
}

fn option_kind(kind: &str) -> Option<PermissionKind> {
    match kind {
        "allow_once" => Some(PermissionKind::AllowOnce),
        "allow_always" => Some(PermissionKind::AllowAlways),
        "reject_once" => Some(PermissionKind::RejectOnce),
        "reject_always" => Some(PermissionKind::RejectAlways),
        _ => None,
    }
}

fn permission_events(request: &PermissionRequest, chosen: Option<&AcpOption>) -> Vec<Event> {
    let call = ToolCall {
        id: request.tool_call_id.clone(),
        name: request.title.clone().unwrap_or_default(),
        kind: event_kind(&request.kind),
        input: request.raw_input.clone().unwrap_or(Value::Null),
        status: ToolStatus::Pending,
    };
    let options = request
        .options
        .iter()
        .filter_map(|option| {
            Some(logist_events::PermissionOption {
                id: option.id.clone(),
                name: option.name.clone(),
                kind: option_kind(&option.kind)?,
            })
        })
        .collect();
    let outcome = match chosen.and_then(|option| option_kind(&option.kind)) {
        Some(PermissionKind::AllowOnce) => Outcome::AllowOnce,
        Some(PermissionKind::AllowAlways) => Outcome::AllowAlways,
        Some(PermissionKind::RejectOnce) => Outcome::RejectOnce,
        Some(PermissionKind::RejectAlways) => Outcome::RejectAlways,
        None => Outcome::Cancelled,
    };
    vec![
        Event::Permission(Permission {
            id: request.tool_call_id.clone(),
            tool_call: Some(call),
            options,
        }),
        Event::PermissionDecision(PermissionDecision {
            id: request.tool_call_id.clone(),
            outcome,
            by: Decider::Policy,
            tool_call: None,
        }),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[track_caller]
    fn check(update: Value, expected: &[Value]) {
        let update = SessionUpdate::from_params(&json!({"sessionId": "s", "update": update}));
        let events = AcpEvent::Update {
            update,
            history: false,
        }
        .to_events();
        let events: Vec<Value> = events.iter().map(Event::to_json).collect();
        assert_eq!(events, expected);
    }

    #[test]
    fn tool_calls_and_their_results() {
        check(
            json!({"sessionUpdate": "tool_call", "toolCallId": "t", "title": "Write a", "kind": "edit", "status": "pending", "rawInput": {"path": "a"}}),
            &[
                json!({"event": "tool_call", "id": "t", "name": "Write a", "kind": "edit", "input": {"path": "a"}, "status": "pending"}),
            ],
        );
        check(
            json!({"sessionUpdate": "tool_call_update", "toolCallId": "t", "status": "failed", "content": [{"type": "content", "content": {"type": "text", "text": "denied"}}]}),
            &[
                json!({"event": "tool_call", "id": "t", "name": "", "kind": "other", "input": null, "status": "failed"}),
                json!({"event": "tool_result", "id": "t", "status": "failed", "output": null, "error": "denied"}),
            ],
        );
        check(
            json!({"sessionUpdate": "tool_call_update", "toolCallId": "t", "status": "completed", "rawOutput": {"exit": 0}, "content": [{"type": "diff", "path": "/w/a", "oldText": null, "newText": "x"}]}),
            &[
                json!({"event": "tool_call", "id": "t", "name": "", "kind": "other", "input": null, "status": "completed"}),
                json!({"event": "tool_result", "id": "t", "status": "completed", "output": "{\"exit\":0}", "error": null, "files": [{"path": "/w/a", "kind": "added"}]}),
            ],
        );
    }

    #[test]
    fn updates_without_a_counterpart_give_no_event() {
        check(
            json!({"sessionUpdate": "current_mode_update", "currentModeId": "x"}),
            &[],
        );
    }

    #[test]
    fn usage_reports_the_context_window() {
        check(
            json!({"sessionUpdate": "usage_update", "used": 10, "size": 100, "cost": {"amount": 0.5, "currency": "USD"}}),
            &[
                json!({"event": "usage", "input_tokens": null, "output_tokens": null, "cached_input_tokens": null, "context_used": 10, "context_size": 100, "cost": {"amount": 0.5, "currency": "USD"}, "cumulative": false}),
            ],
        );
    }
}
