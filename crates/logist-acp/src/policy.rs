//! Answering `session/request_permission`: the request as the agent sent
//! it, and the policy that decides (allow once, allow always, reject, by
//! tool kind, or a callback).
//!
//! A policy only ever picks one of the options the agent offered: it never
//! makes one up. When the agent offers no option of the decided kind, an
//! allow falls back to the other allow kind, then to a reject, and a reject
//! to the other reject kind; with no suitable option at all the request is
//! answered `cancelled`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde_json::Value;

/// What a tool does, as ACP names it (`ToolKind`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ToolKind {
    /// Reading files or data.
    Read,
    /// Modifying files or content.
    Edit,
    /// Removing files or data.
    Delete,
    /// Moving or renaming files.
    Move,
    /// Searching for information.
    Search,
    /// Running a command or code.
    Execute,
    /// Internal reasoning.
    Think,
    /// Retrieving external data.
    Fetch,
    /// Switching the session mode.
    SwitchMode,
    /// Any other kind, or none given.
    Other(String),
}

impl ToolKind {
    /// The kind named by ACP's wire text (`read`, `edit`, …); absent or
    /// unknown names give [`ToolKind::Other`].
    pub fn from_wire(text: Option<&str>) -> Self {
        match text.unwrap_or("other") {
            "read" => ToolKind::Read,
            "edit" => ToolKind::Edit,
            "delete" => ToolKind::Delete,
            "move" => ToolKind::Move,
            "search" => ToolKind::Search,
            "execute" => ToolKind::Execute,
            "think" => ToolKind::Think,
            "fetch" => ToolKind::Fetch,
            "switch_mode" => ToolKind::SwitchMode,
            other => ToolKind::Other(other.to_owned()),
        }
    }

    /// The wire text.
    pub fn as_str(&self) -> &str {
        match self {
            ToolKind::Read => "read",
            ToolKind::Edit => "edit",
            ToolKind::Delete => "delete",
            ToolKind::Move => "move",
            ToolKind::Search => "search",
            ToolKind::Execute => "execute",
            ToolKind::Think => "think",
            ToolKind::Fetch => "fetch",
            ToolKind::SwitchMode => "switch_mode",
            ToolKind::Other(other) => other,
        }
    }
}

impl fmt::Display for ToolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One choice the agent offers (`PermissionOption`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PermissionOption {
    /// The id to answer with.
    pub id: String,
    /// Its label for a person.
    pub name: String,
    /// `allow_once`, `allow_always`, `reject_once` or `reject_always` (or
    /// another text an agent made up).
    pub kind: String,
}

/// A `session/request_permission` request, read from its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct PermissionRequest {
    /// The session it belongs to.
    pub session_id: String,
    /// The tool call's id.
    pub tool_call_id: String,
    /// The tool call's title, if given.
    pub title: Option<String>,
    /// The tool call's kind.
    pub kind: ToolKind,
    /// The tool call's raw input, if given.
    pub raw_input: Option<Value>,
    /// The options offered, in the agent's order.
    pub options: Vec<PermissionOption>,
}

impl PermissionRequest {
    /// Reads the request's parameters; missing fields are left empty so
    /// that a sloppy agent still gets an answer.
    pub fn from_params(params: &Value) -> Self {
        let tool = params.get("toolCall").unwrap_or(&Value::Null);
        let text =
            |value: &Value, key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        let options = params
            .get("options")
            .and_then(Value::as_array)
            .map(|options| {
                options
                    .iter()
                    .filter_map(|option| {
                        Some(PermissionOption {
                            id: text(option, "optionId")?,
                            name: text(option, "name").unwrap_or_default(),
                            kind: text(option, "kind").unwrap_or_default(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            session_id: text(params, "sessionId").unwrap_or_default(),
            tool_call_id: text(tool, "toolCallId").unwrap_or_default(),
            title: text(tool, "title"),
            kind: ToolKind::from_wire(tool.get("kind").and_then(Value::as_str)),
            raw_input: tool.get("rawInput").cloned(),
            options,
        }
    }

    /// The option a decision picks, following the fallbacks in the module
    /// docs; `None` means "answer cancelled".
    pub fn pick(&self, answer: Answer) -> Option<&PermissionOption> {
        let order: &[&str] = match answer {
            Answer::AllowOnce => &["allow_once", "allow_always", "reject_once", "reject_always"],
            Answer::AllowAlways => &["allow_always", "allow_once", "reject_once", "reject_always"],
            Answer::Reject => &["reject_once", "reject_always"],
            Answer::Wait | Answer::Cancel => &[],
        };
        order
            .iter()
            .find_map(|kind| self.options.iter().find(|option| option.kind == *kind))
    }
}

/// A decision on one permission request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Answer {
    /// Allow this call.
    AllowOnce,
    /// Allow this call and the like of it for the rest of the session.
    AllowAlways,
    /// Refuse this call.
    Reject,
    /// Nobody can decide now: stop the turn with
    /// [`AcpError::PermissionPending`](crate::AcpError::PermissionPending),
    /// leaving the request unanswered (the caller ends the session).
    Wait,
    /// Answer `cancelled` and cancel the turn (`session/cancel`); the turn
    /// ends with the stop reason `cancelled`.
    Cancel,
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Answer::AllowOnce => "allow once",
            Answer::AllowAlways => "allow always",
            Answer::Reject => "reject",
            Answer::Wait => "wait",
            Answer::Cancel => "cancel",
        })
    }
}

/// The text is not an answer (`allow`, `allow-always`, `deny`, `ask`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown permission answer `{0}` (expected allow, allow-always, deny, wait or cancel)")]
pub struct UnknownAnswer(pub String);

impl FromStr for Answer {
    type Err = UnknownAnswer;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "allow" | "allow-once" | "allow_once" => Ok(Answer::AllowOnce),
            "allow-always" | "allow_always" => Ok(Answer::AllowAlways),
            "deny" | "reject" => Ok(Answer::Reject),
            "wait" => Ok(Answer::Wait),
            "cancel" => Ok(Answer::Cancel),
            other => Err(UnknownAnswer(other.to_owned())),
        }
    }
}

/// A callback deciding permission requests.
pub type Decide = Box<dyn FnMut(&PermissionRequest) -> Answer + Send>;

/// How the client answers permission requests: a callback if set, else
/// the answer for the tool's kind, else the default.
///
/// ```
/// use logist_acp::{Answer, PermissionPolicy, ToolKind};
///
/// let mut policy = PermissionPolicy::new(Answer::Reject).kind(ToolKind::Read, Answer::AllowAlways);
/// assert_eq!(policy.decide_kind(&ToolKind::Read), Answer::AllowAlways);
/// assert_eq!(policy.decide_kind(&ToolKind::Execute), Answer::Reject);
/// ```
pub struct PermissionPolicy {
    default: Answer,
    by_kind: BTreeMap<ToolKind, Answer>,
    callback: Option<Decide>,
}

impl PermissionPolicy {
    /// Answers every request with `default`.
    pub fn new(default: Answer) -> Self {
        Self {
            default,
            by_kind: BTreeMap::new(),
            callback: None,
        }
    }

    /// Answers requests for tools of `kind` with `answer`.
    #[must_use]
    pub fn kind(mut self, kind: ToolKind, answer: Answer) -> Self {
        self.by_kind.insert(kind, answer);
        self
    }

    /// Lets `decide` answer every request (kinds and default are then
    /// unused).
    #[must_use]
    pub fn callback(
        mut self,
        decide: impl FnMut(&PermissionRequest) -> Answer + Send + 'static,
    ) -> Self {
        self.callback = Some(Box::new(decide));
        self
    }

    /// The answer for a tool of `kind`, without the callback.
    pub fn decide_kind(&self, kind: &ToolKind) -> Answer {
        self.by_kind.get(kind).copied().unwrap_or(self.default)
    }

    /// The answer for `request`.
    pub fn decide(&mut self, request: &PermissionRequest) -> Answer {
        match &mut self.callback {
            Some(decide) => decide(request),
            None => self.decide_kind(&request.kind),
        }
    }
}

impl fmt::Debug for PermissionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PermissionPolicy")
            .field("default", &self.default)
            .field("by_kind", &self.by_kind)
            .field("callback", &self.callback.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(kinds: &[&str]) -> PermissionRequest {
        let options: Vec<Value> = kinds
            .iter()
            .map(|kind| json!({"optionId": format!("id-{kind}"), "name": kind, "kind": kind}))
            .collect();
        PermissionRequest::from_params(&json!({
            "sessionId": "s",
            "toolCall": {"toolCallId": "t1", "title": "Write a.txt", "kind": "edit"},
            "options": options,
        }))
    }

    #[track_caller]
    fn check(offered: &[&str], answer: Answer, expected: Option<&str>) {
        let request = request(offered);
        assert_eq!(request.kind, ToolKind::Edit);
        assert_eq!(request.pick(answer).map(|o| o.id.as_str()), expected);
    }

    #[test]
    fn the_decided_kind_is_picked_when_offered() {
        let all = ["allow_once", "allow_always", "reject_once", "reject_always"];
        check(&all, Answer::AllowOnce, Some("id-allow_once"));
        check(&all, Answer::AllowAlways, Some("id-allow_always"));
        check(&all, Answer::Reject, Some("id-reject_once"));
        check(&all, Answer::Wait, None);
    }

    #[test]
    fn options_are_never_made_up() {
        check(
            &["allow_always"],
            Answer::AllowOnce,
            Some("id-allow_always"),
        );
        check(
            &["reject_always"],
            Answer::AllowOnce,
            Some("id-reject_always"),
        );
        check(&["allow_once"], Answer::Reject, None);
        check(&[], Answer::AllowOnce, None);
    }

    #[test]
    fn a_callback_overrides_kinds() {
        let mut policy = PermissionPolicy::new(Answer::AllowOnce)
            .kind(ToolKind::Edit, Answer::Reject)
            .callback(|request| {
                if request.title.as_deref() == Some("Write a.txt") {
                    Answer::AllowAlways
                } else {
                    Answer::Reject
                }
            });
        assert_eq!(policy.decide(&request(&[])), Answer::AllowAlways);
    }

    #[test]
    fn answers_parse_from_cli_words() {
        assert_eq!("deny".parse(), Ok(Answer::Reject));
        assert_eq!("allow".parse(), Ok(Answer::AllowOnce));
        assert!("maybe".parse::<Answer>().is_err());
    }
}
