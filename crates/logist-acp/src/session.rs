//! What the agent tells the client: its capabilities, the updates of a
//! session, the reason a turn ended, and the other happenings on the wire
//! ([`AcpEvent`]).

use std::fmt;

use serde_json::Value;

use crate::error::Limit;
use crate::policy::{Answer, PermissionOption, PermissionRequest};
use crate::rpc::RequestId;

/// What the agent said about itself in its `initialize` answer.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentInfo {
    /// The protocol version it speaks.
    pub protocol_version: u64,
    /// Whether it offers `session/load` (`agentCapabilities.loadSession`).
    pub load_session: bool,
    /// Whether it offers `session/resume`
    /// (`agentCapabilities.sessionCapabilities.resume`).
    pub resume_session: bool,
    /// The ids of the authentication methods it offers.
    pub auth_methods: Vec<String>,
    /// Its name and version (`agentInfo`), when given.
    pub name: Option<String>,
    /// Its version, when given.
    pub version: Option<String>,
    /// The whole answer, for what this type does not read.
    pub raw: Value,
}

impl AgentInfo {
    pub(crate) fn from_result(raw: Value) -> Self {
        let caps = raw.get("agentCapabilities").unwrap_or(&Value::Null);
        let flag =
            |value: Option<&Value>| value.is_some_and(|v| !v.is_null() && v != &Value::Bool(false));
        let info = raw.get("agentInfo").unwrap_or(&Value::Null);
        let text = |key: &str| info.get(key).and_then(Value::as_str).map(str::to_owned);
        Self {
            protocol_version: raw
                .get("protocolVersion")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            load_session: flag(caps.get("loadSession")),
            resume_session: flag(
                caps.get("sessionCapabilities")
                    .and_then(|s| s.get("resume")),
            ),
            auth_methods: raw
                .get("authMethods")
                .and_then(Value::as_array)
                .map(|methods| {
                    methods
                        .iter()
                        .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            name: text("name"),
            version: text("version"),
            raw,
        }
    }
}

/// The session modes an agent listed in its answer to `session/new`,
/// `session/load` or `session/resume` (`modes`): presets such as "ask
/// before every edit" or "read-only" that `session/set_mode` switches
/// between.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionModes {
    /// The mode the session is in (`currentModeId`).
    pub current: String,
    /// The ids of the modes it offers (`availableModes[].id`), in its order.
    pub available: Vec<String>,
}

impl SessionModes {
    /// The `modes` of a session answer, when it has them.
    pub(crate) fn from_result(result: &Value) -> Option<Self> {
        let modes = result.get("modes")?;
        Some(Self {
            current: modes
                .get("currentModeId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            available: modes
                .get("availableModes")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// Why a turn ended: the `stopReason` of the `session/prompt` answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StopReason {
    /// The model finished.
    EndTurn,
    /// The token limit was reached.
    MaxTokens,
    /// The limit of model requests in one turn was reached.
    MaxTurnRequests,
    /// The model refused.
    Refusal,
    /// The client cancelled the turn.
    Cancelled,
    /// A reason this client does not know.
    Other(String),
}

impl StopReason {
    pub(crate) fn from_wire(text: &str) -> Self {
        match text {
            "end_turn" => StopReason::EndTurn,
            "max_tokens" => StopReason::MaxTokens,
            "max_turn_requests" => StopReason::MaxTurnRequests,
            "refusal" => StopReason::Refusal,
            "cancelled" => StopReason::Cancelled,
            other => StopReason::Other(other.to_owned()),
        }
    }

    /// The wire text.
    pub fn as_str(&self) -> &str {
        match self {
            StopReason::EndTurn => "end_turn",
            StopReason::MaxTokens => "max_tokens",
            StopReason::MaxTurnRequests => "max_turn_requests",
            StopReason::Refusal => "refusal",
            StopReason::Cancelled => "cancelled",
            StopReason::Other(other) => other,
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `session/update` notification.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionUpdate {
    /// The session it belongs to.
    pub session_id: String,
    /// The `sessionUpdate` discriminator: `agent_message_chunk`,
    /// `tool_call`, `tool_call_update`, `plan`, `usage_update`, … (empty
    /// when missing).
    pub kind: String,
    /// The update object itself.
    pub update: Value,
}

impl SessionUpdate {
    pub(crate) fn from_params(params: &Value) -> Self {
        let update = params.get("update").cloned().unwrap_or(Value::Null);
        Self {
            session_id: params
                .get("sessionId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            kind: update
                .get("sessionUpdate")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            update,
        }
    }

    /// The text of a message, thought or user chunk whose content is text.
    pub fn text(&self) -> Option<&str> {
        let content = self.update.get("content")?;
        (content.get("type")?.as_str()? == "text")
            .then(|| content.get("text")?.as_str())
            .flatten()
    }
}

/// Something that happened on the connection, handed to the caller's
/// callback as it arrives.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum AcpEvent {
    /// A `session/update` notification. During `session/load` these replay
    /// the session's history (`history` is then true).
    Update {
        /// The update.
        update: SessionUpdate,
        /// True while `session/load` replays earlier turns.
        history: bool,
    },
    /// A permission request and how the policy answered it.
    Permission {
        /// The request.
        request: PermissionRequest,
        /// The policy's decision.
        answer: Answer,
        /// The option answered with; `None` means the answer was `cancelled`.
        chosen: Option<PermissionOption>,
    },
    /// A line on stdout that is not JSON (or not JSON-RPC), as it was.
    Noise {
        /// The line, without its newline.
        line: Vec<u8>,
        /// Why it is noise: `not JSON` or what is wrong with the message.
        reason: &'static str,
    },
    /// A line longer than the bound; it was discarded after its head.
    Oversized {
        /// Its first bytes (at most the line bound).
        head: Vec<u8>,
        /// Its full length.
        len: u64,
    },
    /// Bytes the runtime's output bound discarded before the client read them.
    Missed {
        /// How many.
        bytes: u64,
    },
    /// Events the agent sent outside a turn that were not kept: more than
    /// the client holds for the next turn (1,024) arrived before it.
    Dropped {
        /// How many, the oldest.
        count: u64,
    },
    /// Bytes the agent wrote to stderr.
    Stderr {
        /// The bytes, as they came.
        data: Vec<u8>,
    },
    /// A response to a request the client never sent (or already had an
    /// answer to).
    UnexpectedResponse {
        /// Its id.
        id: RequestId,
    },
    /// A request the client does not implement, answered "method not found".
    UnknownRequest {
        /// The method.
        method: String,
    },
    /// A notification the client does not know.
    UnknownNotification {
        /// The method.
        method: String,
    },
    /// The client sent `session/cancel`: on request, or because a limit passed.
    Cancelling {
        /// The limit that passed, if one did.
        limit: Option<Limit>,
    },
}
