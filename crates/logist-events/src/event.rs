//! The event model: what an agent run says, in one shape whatever program
//! (or protocol) said it.
//!
//! Every event serializes as one JSON object tagged with `"event"`
//! (`"message"`, `"tool_call"`, …); the schema is versioned by
//! [`SCHEMA_VERSION`] and documented in `docs/events.md`. Fields that a
//! program does not report are `null` or absent (`Option`), never guessed.

use base64::Engine;
use serde::{Serialize, Serializer};
use serde_json::Value;

use logist_core::FailureCause;

/// The version of the event schema. Adding an event kind or an optional
/// field keeps it; renaming or removing one, or changing a field's meaning,
/// bumps it.
pub const SCHEMA_VERSION: u32 = 1;

/// One thing an agent run said.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// The session: its id (to resume it) and the model.
    Session(Session),
    /// Text from the agent (or the user's own message, replayed).
    Message(Message),
    /// The agent's reasoning, where the program shows it.
    Thought(Thought),
    /// The agent calls a tool, or a call's status changes.
    ToolCall(ToolCall),
    /// What came of a tool call.
    ToolResult(ToolResult),
    /// The agent asks for permission to act.
    Permission(Permission),
    /// A decision on a permission request (by a policy, a person or the
    /// program's own rules).
    PermissionDecision(PermissionDecision),
    /// The agent's plan: its list of steps.
    Plan(Plan),
    /// Tokens (and cost) used.
    Usage(Usage),
    /// An error the program reported.
    Error(ErrorEvent),
    /// The end of a turn, and why.
    TurnEnd(TurnEnd),
    /// Output that was not parsed into an event, byte for byte.
    Raw(Raw),
}

impl Event {
    /// The `"event"` name this event serializes with.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Session(_) => "session",
            Event::Message(_) => "message",
            Event::Thought(_) => "thought",
            Event::ToolCall(_) => "tool_call",
            Event::ToolResult(_) => "tool_result",
            Event::Permission(_) => "permission",
            Event::PermissionDecision(_) => "permission_decision",
            Event::Plan(_) => "plan",
            Event::Usage(_) => "usage",
            Event::Error(_) => "error",
            Event::TurnEnd(_) => "turn_end",
            Event::Raw(_) => "raw",
        }
    }

    /// The event as a JSON object (`{"event": "…", …}`).
    pub fn to_json(&self) -> Value {
        // Serializing these types cannot fail: every map key is a string
        // and every float is finite or serialized as null.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The session a run belongs to.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Session {
    /// The program's session id: what `--resume` takes.
    pub id: String,
    /// The model, as the program names it.
    pub model: Option<String>,
    /// The working directory the program reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
}

/// Who wrote a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The agent.
    #[default]
    Assistant,
    /// The user (a replayed or echoed prompt).
    User,
}

/// Text from the agent.
///
/// A program either streams a message in pieces (`delta: true`: append
/// `text` to the message with the same `id`, or to the last one) or prints
/// it whole (`delta: false`). A program that streams may also print the
/// whole message at the end; then both are sent, and a reader that shows
/// deltas skips the complete one with the same `id`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// The text (a piece of it when `delta` is true).
    pub text: String,
    /// True when `text` is a piece to append.
    pub delta: bool,
    /// The program's message id, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// The agent's reasoning (same streaming rules as [`Message`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Thought {
    /// The text (a piece of it when `delta` is true).
    pub text: String,
    /// True when `text` is a piece to append.
    pub delta: bool,
}

/// What kind of thing a tool does (ACP's tool kinds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ToolKind {
    /// Reads files or data.
    Read,
    /// Writes or edits files.
    Edit,
    /// Deletes files.
    Delete,
    /// Moves or renames files.
    Move,
    /// Searches.
    Search,
    /// Runs a command.
    Execute,
    /// Thinks (a planning or reasoning tool).
    Think,
    /// Fetches from the network.
    Fetch,
    /// Switches the agent's mode.
    SwitchMode,
    /// Anything else, or not known.
    #[default]
    Other,
}

/// Where a tool call is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolStatus {
    /// Announced, not started (perhaps waiting for permission).
    Pending,
    /// Running.
    #[default]
    InProgress,
    /// Finished.
    Completed,
    /// Failed or was refused.
    Failed,
}

/// A tool call, or a change of its status (same `id`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ToolCall {
    /// The program's id for the call; a later [`ToolResult`] has the same.
    pub id: String,
    /// The tool's name as the program calls it (`Write`, `write_file`,
    /// `command_execution`; under ACP, the call's title).
    pub name: String,
    /// What kind of thing it does.
    pub kind: ToolKind,
    /// Its arguments as the program gave them (a JSON object, usually).
    pub input: Value,
    /// Where the call is.
    pub status: ToolStatus,
}

impl ToolCall {
    /// The one argument that says what the call is about, for a one-line
    /// summary: a file path, a command, a pattern or a URL.
    pub fn key_argument(&self) -> Option<&str> {
        const KEYS: &[&str] = &[
            "file_path",
            "path",
            "filePath",
            "absolute_path",
            "command",
            "cmd",
            "pattern",
            "query",
            "url",
            "description",
        ];
        KEYS.iter().find_map(|key| self.input.get(*key)?.as_str())
    }
}

/// How a tool call changed a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileChangeKind {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Removed.
    Deleted,
    /// Changed in a way the program did not say.
    #[default]
    Unknown,
}

/// A file a tool call changed, where the program says so.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FileChange {
    /// The path as the program printed it.
    pub path: String,
    /// How it changed.
    pub kind: FileChangeKind,
}

/// What came of a tool call.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ToolResult {
    /// The id of the [`ToolCall`].
    pub id: String,
    /// [`ToolStatus::Completed`] or [`ToolStatus::Failed`].
    pub status: ToolStatus,
    /// The tool's output as the program reports it.
    pub output: Option<String>,
    /// The error, when the call failed.
    pub error: Option<String>,
    /// Files the call changed, where the program says so.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileChange>,
}

/// What answering a permission request with an option means (ACP's
/// permission option kinds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionKind {
    /// Allow this call.
    AllowOnce,
    /// Allow this and later calls like it.
    AllowAlways,
    /// Refuse this call.
    RejectOnce,
    /// Refuse this and later calls like it.
    RejectAlways,
}

/// One answer the agent offers to a permission request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PermissionOption {
    /// The id to answer with.
    pub id: String,
    /// The label shown to a person.
    pub name: String,
    /// What it means.
    pub kind: PermissionKind,
}

/// The agent asks for permission to act.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Permission {
    /// The id of this request (to match the decision).
    pub id: String,
    /// The tool call it is about, when there is one.
    pub tool_call: Option<ToolCall>,
    /// The answers offered (empty when the program offers none: allow or
    /// refuse).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<PermissionOption>,
}

/// Who decided a permission request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decider {
    /// A policy given to Logist (`--on-permission allow|deny`, a callback).
    Policy,
    /// A person asked by Logist.
    Person,
    /// The agent program itself, by its own settings (Claude Code's
    /// `permission_denials`, a program that auto-rejects).
    Program,
}

/// The answer to a permission request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Allowed once.
    AllowOnce,
    /// Allowed for this and later calls like it.
    AllowAlways,
    /// Refused once.
    RejectOnce,
    /// Refused for this and later calls like it.
    RejectAlways,
    /// The turn was cancelled before a decision.
    Cancelled,
}

impl Outcome {
    /// True for the two allowing outcomes.
    pub fn is_allowed(self) -> bool {
        matches!(self, Outcome::AllowOnce | Outcome::AllowAlways)
    }
}

/// A decision on a permission request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PermissionDecision {
    /// The id of the [`Permission`] request, or of the tool call when the
    /// program reports only the decision.
    pub id: String,
    /// The decision.
    pub outcome: Outcome,
    /// Who made it.
    pub by: Decider,
    /// The tool call it is about, when the program reports only the
    /// decision (no request event came first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call: Option<ToolCall>,
}

/// Where a plan step is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// Not started.
    #[default]
    Pending,
    /// Being done.
    InProgress,
    /// Done.
    Completed,
}

/// One step of a [`Plan`].
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PlanEntry {
    /// What the step is.
    pub content: String,
    /// Where it is.
    pub status: PlanStatus,
    /// `high`, `medium` or `low`, when the program says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
}

/// The agent's plan. Each event carries the whole plan, replacing the last.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Plan {
    /// The steps, in order.
    pub entries: Vec<PlanEntry>,
}

/// A cost in money.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cost {
    /// The amount.
    pub amount: f64,
    /// ISO 4217 code (`USD`).
    pub currency: String,
}

/// Tokens (and cost) used, as far as the program reports them.
///
/// Counts are for the turn that just ended, or for the run so far when the
/// program reports totals (`cumulative: true`, as Claude Code's final
/// `result`). ACP's `usage_update` reports the context window instead:
/// `context_used` of `context_size`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Input tokens (prompt), not counting cached ones where the program
    /// separates them.
    pub input_tokens: Option<u64>,
    /// Output tokens (completion), reasoning included.
    pub output_tokens: Option<u64>,
    /// Input tokens read from the provider's cache.
    pub cached_input_tokens: Option<u64>,
    /// Input tokens written to the provider's cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<u64>,
    /// Output tokens spent on reasoning, where reported separately.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// Tokens in the context window now (ACP `used`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_used: Option<u64>,
    /// The context window's size (ACP `size`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_size: Option<u64>,
    /// The cost, where the program reports one.
    pub cost: Option<Cost>,
    /// True when the counts are totals for the whole run so far.
    pub cumulative: bool,
}

/// An error the program reported.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ErrorEvent {
    /// The program's message.
    pub message: String,
    /// Why, when it is one of the causes Logist knows.
    #[serde(serialize_with = "cause_name")]
    pub cause: Option<FailureCause>,
    /// The program's own code or type for it (an HTTP status, an error
    /// type).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// True when the run cannot go on after it.
    pub fatal: bool,
}

/// Why a turn ended (ACP's stop reasons, plus the error a print-mode
/// program ends with).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StopReason {
    /// The agent finished.
    #[default]
    EndTurn,
    /// The model's token limit was reached.
    MaxTokens,
    /// The limit on model requests (turns) in one prompt was reached.
    MaxTurnRequests,
    /// The model refused.
    Refusal,
    /// The turn was cancelled.
    Cancelled,
    /// The turn failed with an error.
    Error,
}

/// The end of a turn.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TurnEnd {
    /// Why it ended.
    pub reason: StopReason,
    /// The program's own word for it (Claude Code's `subtype`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The final answer, when the program repeats it at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// How long the turn took, as the program measured it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// Why bytes were passed on as [`Raw`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RawReason {
    /// Not in the program's structured form (a warning line, plain text).
    Unparsed,
    /// Valid JSON of a kind the parser does not know.
    Unknown,
    /// Looked like JSON but did not parse (truncated, invalid UTF-8).
    Malformed,
    /// Part of a line longer than the parser's bound, passed on in pieces.
    Oversized,
}

/// Output that was not parsed into an event, byte for byte.
///
/// Serialized as `data` (the bytes as text, invalid UTF-8 replaced) plus
/// `base64` (the exact bytes) when they are not valid UTF-8.
#[derive(Clone, Debug, PartialEq)]
pub struct Raw {
    /// Why it was not parsed.
    pub reason: RawReason,
    /// The bytes, with their line ending.
    pub data: Vec<u8>,
}

impl Serialize for Raw {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;

        let text = String::from_utf8_lossy(&self.data);
        let exact = std::str::from_utf8(&self.data).is_ok();
        let mut map = serializer.serialize_map(Some(if exact { 2 } else { 3 }))?;
        map.serialize_entry("reason", &self.reason)?;
        map.serialize_entry("data", &text)?;
        if !exact {
            map.serialize_entry(
                "base64",
                &base64::engine::general_purpose::STANDARD.encode(&self.data),
            )?;
        }
        map.end()
    }
}

fn cause_name<S: Serializer>(
    cause: &Option<FailureCause>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match cause {
        Some(cause) => serializer.serialize_str(cause.as_str()),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[track_caller]
    fn check(event: Event, expected: Value) {
        assert_eq!(event.to_json(), expected);
        assert_eq!(expected["event"], event.kind());
    }

    #[test]
    fn events_are_tagged_with_their_kind() {
        check(
            Event::Message(Message {
                text: "hi".into(),
                ..Message::default()
            }),
            json!({"event": "message", "role": "assistant", "text": "hi", "delta": false}),
        );
        check(
            Event::ToolCall(ToolCall {
                id: "t1".into(),
                name: "Write".into(),
                kind: ToolKind::Edit,
                input: json!({"file_path": "/a"}),
                status: ToolStatus::InProgress,
            }),
            json!({"event": "tool_call", "id": "t1", "name": "Write", "kind": "edit",
                   "input": {"file_path": "/a"}, "status": "in_progress"}),
        );
        check(
            Event::Error(ErrorEvent {
                message: "slow down".into(),
                cause: Some(FailureCause::RateLimited),
                code: Some("429".into()),
                fatal: true,
            }),
            json!({"event": "error", "message": "slow down", "cause": "rate_limited",
                   "code": "429", "fatal": true}),
        );
        check(
            Event::TurnEnd(TurnEnd::default()),
            json!({"event": "turn_end", "reason": "end_turn"}),
        );
    }

    #[test]
    fn raw_bytes_survive_serialization() {
        check(
            Event::Raw(Raw {
                reason: RawReason::Malformed,
                data: b"{\"a\n".to_vec(),
            }),
            json!({"event": "raw", "reason": "malformed", "data": "{\"a\n"}),
        );
        check(
            Event::Raw(Raw {
                reason: RawReason::Unparsed,
                data: vec![b'a', 0xff],
            }),
            json!({"event": "raw", "reason": "unparsed", "data": "a\u{fffd}", "base64": "Yf8="}),
        );
    }

    #[test]
    fn key_argument_prefers_paths_then_commands() {
        let call = |input| ToolCall {
            input,
            ..ToolCall::default()
        };
        assert_eq!(
            call(json!({"content": "x", "file_path": "/w/a.txt"})).key_argument(),
            Some("/w/a.txt")
        );
        assert_eq!(call(json!({"command": "ls"})).key_argument(), Some("ls"));
        assert_eq!(call(json!({"n": 1})).key_argument(), None);
    }
}
