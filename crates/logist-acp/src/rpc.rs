//! JSON-RPC 2.0 messages as ACP sends them: one JSON object per line.
//!
//! Classification is tolerant: anything that is not a well-formed JSON-RPC
//! message is returned as [`Message::Invalid`] with the reason, never an
//! error that stops the connection.

use std::fmt;

use serde_json::{Map, Value, json};

/// JSON-RPC's "method not found" error code.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC's "invalid params" error code.
pub const INVALID_PARAMS: i64 = -32602;
/// ACP's "authentication required" error code.
pub const AUTH_REQUIRED: i64 = -32000;
/// ACP's "resource not found" error code (an unknown session, say).
pub const RESOURCE_NOT_FOUND: i64 = -32002;

/// A request or response id: JSON-RPC allows numbers and strings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RequestId {
    /// A numeric id (the client sends only these).
    Number(i64),
    /// A string id.
    Text(String),
}

impl RequestId {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Number(n) => n.as_i64().map(RequestId::Number),
            Value::String(s) => Some(RequestId::Text(s.clone())),
            _ => None,
        }
    }

    fn to_value(&self) -> Value {
        match self {
            RequestId::Number(n) => json!(n),
            RequestId::Text(s) => json!(s),
        }
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestId::Number(n) => write!(f, "{n}"),
            RequestId::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// A JSON-RPC error object.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("error {code}: {message}")]
pub struct RpcError {
    /// The error code (`-32601` method not found, `-32000` auth required, …).
    pub code: i64,
    /// The error message.
    pub message: String,
    /// Extra data the agent attached, if any.
    pub data: Option<Value>,
}

impl RpcError {
    fn from_value(value: &Value) -> Self {
        Self {
            code: value.get("code").and_then(Value::as_i64).unwrap_or(0),
            message: value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            data: value.get("data").cloned(),
        }
    }
}

/// One message from the agent.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// A call the agent makes and expects an answer to.
    Request {
        /// Its id, to be echoed in the answer.
        id: RequestId,
        /// The method, such as `session/request_permission`.
        method: String,
        /// Its parameters (`Null` when absent).
        params: Value,
    },
    /// A call without an answer, such as `session/update`.
    Notification {
        /// The method.
        method: String,
        /// Its parameters (`Null` when absent).
        params: Value,
    },
    /// An answer to one of the client's requests.
    Response {
        /// The id of the request it answers.
        id: RequestId,
        /// The result, or the agent's error.
        outcome: Result<Value, RpcError>,
    },
    /// Valid JSON that is no JSON-RPC message.
    Invalid {
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Parses one line. `None` when the line is not JSON at all (noise).
pub fn parse_line(line: &[u8]) -> Option<Message> {
    let value: Value = serde_json::from_slice(line).ok()?;
    Some(classify(value))
}

fn classify(value: Value) -> Message {
    let Value::Object(mut object) = value else {
        return Message::Invalid {
            reason: "not a JSON object",
        };
    };
    let id = object.get("id").and_then(RequestId::from_value);
    let params = object.remove("params").unwrap_or(Value::Null);
    if let Some(method) = object.get("method").and_then(Value::as_str) {
        let method = method.to_owned();
        return match (id, object.contains_key("id")) {
            (Some(id), _) => Message::Request { id, method, params },
            (None, false) => Message::Notification { method, params },
            (None, true) => Message::Invalid {
                reason: "a request with an id that is neither a number nor a string",
            },
        };
    }
    let Some(id) = id else {
        return Message::Invalid {
            reason: "neither a request, a notification nor a response",
        };
    };
    match (object.remove("result"), object.get("error")) {
        (Some(result), None) => Message::Response {
            id,
            outcome: Ok(result),
        },
        (None, Some(error)) => Message::Response {
            id,
            outcome: Err(RpcError::from_value(error)),
        },
        _ => Message::Invalid {
            reason: "a response needs exactly one of `result` and `error`",
        },
    }
}

/// The line for a request, newline included.
pub fn request_line(id: i64, method: &str, params: Value) -> Vec<u8> {
    line(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
}

/// The line for a notification, newline included.
pub fn notification_line(method: &str, params: Value) -> Vec<u8> {
    line(json!({"jsonrpc": "2.0", "method": method, "params": params}))
}

/// The line answering request `id` with `result`, newline included.
pub fn result_line(id: &RequestId, result: Value) -> Vec<u8> {
    line(json!({"jsonrpc": "2.0", "id": id.to_value(), "result": result}))
}

/// The line answering request `id` with an error, newline included.
pub fn error_line(id: &RequestId, code: i64, message: &str) -> Vec<u8> {
    let mut error = Map::new();
    error.insert("code".into(), json!(code));
    error.insert("message".into(), json!(message));
    line(json!({"jsonrpc": "2.0", "id": id.to_value(), "error": error}))
}

fn line(value: Value) -> Vec<u8> {
    // Serializing a `Value` cannot fail, and its text never holds a raw
    // newline (strings escape it), so one message stays one line.
    let mut bytes = serde_json::to_vec(&value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(line: &str, expected: Option<Message>) {
        assert_eq!(parse_line(line.as_bytes()), expected);
    }

    #[test]
    fn requests_notifications_and_responses_are_told_apart() {
        check(
            r#"{"jsonrpc":"2.0","id":"a","method":"fs/read_text_file","params":{"path":"/x"}}"#,
            Some(Message::Request {
                id: RequestId::Text("a".into()),
                method: "fs/read_text_file".into(),
                params: json!({"path": "/x"}),
            }),
        );
        check(
            r#"{"jsonrpc":"2.0","method":"session/update"}"#,
            Some(Message::Notification {
                method: "session/update".into(),
                params: Value::Null,
            }),
        );
        check(
            r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32000,"message":"login"}}"#,
            Some(Message::Response {
                id: RequestId::Number(3),
                outcome: Err(RpcError {
                    code: AUTH_REQUIRED,
                    message: "login".into(),
                    data: None,
                }),
            }),
        );
    }

    #[test]
    fn noise_and_malformed_messages_are_not_errors() {
        check("Loading config...", None);
        check(r#"{"truncated": "#, None);
        check(
            "[1,2]",
            Some(Message::Invalid {
                reason: "not a JSON object",
            }),
        );
        check(
            r#"{"id":1}"#,
            Some(Message::Invalid {
                reason: "a response needs exactly one of `result` and `error`",
            }),
        );
        assert_eq!(parse_line(b"{\"a\":\"\xff\"}"), None);
    }

    #[test]
    fn written_messages_are_one_line() {
        let bytes = request_line(1, "session/prompt", json!({"text": "a\nb"}));
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 1);
        assert!(bytes.ends_with(b"\n"));
    }
}
