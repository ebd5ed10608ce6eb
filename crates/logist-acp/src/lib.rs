//! An Agent Client Protocol (ACP) client for Logist.
//!
//! ACP is JSON-RPC 2.0 over an agent's stdin and stdout, one message per
//! line. [`AcpClient`] starts an agent in its ACP mode through any
//! [`Runtime`](logist_core::Runtime) (it needs only `spawn`, `write_stdin`
//! and `read_output`, so it works on the host, in Docker, or on a runtime
//! yet to come), initializes, opens, loads or resumes sessions and runs
//! turns, streaming every `session/update` to the caller's callback.
//!
//! - Permission requests are answered by a [`PermissionPolicy`] (allow
//!   once, allow always, reject; per tool kind; or a callback), which only
//!   ever picks an option the agent offered.
//! - Every request the client does not implement is answered with JSON-RPC
//!   "method not found"; the client advertises no `fs/*` and no
//!   `terminal/*` capability.
//! - A turn has an inactivity limit (reset by each message) and a hard cap;
//!   when one passes the client sends `session/cancel`, then terminates the
//!   agent's process tree if it does not stop.
//! - Lines are bounded ([`AcpConfig::line_limit`]); longer lines, non-JSON
//!   noise and stderr are reported as [`AcpEvent`]s, never fatal.
//!
//! The message types are this crate's own small readers over
//! `serde_json::Value` rather than the `agent-client-protocol-schema`
//! crate: see `docs/acp.md` for why.

mod client;
mod convert;
mod error;
mod framing;
mod policy;
mod rpc;
mod session;

pub use client::{AcpClient, AcpConfig, Canceller, PROTOCOL_VERSION};
pub use convert::{error_events, session_event, turn_end_event};
pub use error::{AcpError, Limit, Stopped};
pub use framing::{Frame, LineFramer};
pub use policy::{
    Answer, Decide, PermissionOption, PermissionPolicy, PermissionRequest, ToolKind, UnknownAnswer,
};
pub use rpc::{
    AUTH_REQUIRED, INVALID_PARAMS, METHOD_NOT_FOUND, Message, RESOURCE_NOT_FOUND, RequestId,
    RpcError, error_line, notification_line, parse_line, request_line, result_line,
};
pub use session::{AcpEvent, AgentInfo, SessionModes, SessionUpdate, StopReason};
