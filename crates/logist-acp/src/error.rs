//! Errors of the ACP client.

use std::fmt;
use std::time::Duration;

use logist_core::ExitStatus;

use crate::policy::PermissionRequest;
use crate::rpc::RpcError;

/// Which limit a turn or a call ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// No message from the agent for this long.
    Inactivity(Duration),
    /// The turn or call took this long in all.
    Total(Duration),
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Inactivity(after) => write!(f, "no message from the agent for {after:?}"),
            Limit::Total(after) => write!(f, "the hard cap of {after:?} passed"),
        }
    }
}

/// How the agent was stopped after a limit passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// It answered `session/cancel` with the stop reason `cancelled`.
    Cancelled,
    /// It did not answer in time, so its process tree was terminated.
    Terminated,
}

/// An error of an ACP session.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AcpError {
    /// The runtime failed (spawn, write, read).
    #[error("the runtime failed while {context}")]
    Runtime {
        /// What the client was doing.
        context: &'static str,
        /// The runtime's error.
        #[source]
        source: logist_core::Error,
    },
    /// The agent answered a request with an error.
    #[error("the agent refused `{method}`")]
    Refused {
        /// The request's method.
        method: String,
        /// The agent's error.
        #[source]
        source: RpcError,
    },
    /// The agent needs a login first (error `-32000` on `session/new`, say).
    #[error("the agent needs authentication before `{method}`")]
    AuthRequired {
        /// The request's method.
        method: String,
        /// The agent's error.
        #[source]
        source: RpcError,
    },
    /// The agent's answer lacks a field the client needs.
    #[error("the agent's answer to `{method}` has no valid `{field}`")]
    BadResponse {
        /// The request's method.
        method: String,
        /// The field.
        field: &'static str,
    },
    /// The agent does not offer this (a capability it did not advertise).
    #[error("the agent does not support `{method}`")]
    Unsupported {
        /// The method.
        method: &'static str,
    },
    /// The agent's output ended (it exited) before the answer arrived.
    #[error("the agent exited before answering `{method}` ({})", status_text(*.status))]
    AgentExited {
        /// The request's method.
        method: String,
        /// Its exit status, when the runtime could tell.
        status: Option<ExitStatus>,
    },
    /// A limit passed; the agent was then stopped.
    #[error("`{method}` stopped: {limit}; the agent was {}", stopped_text(*.stopped))]
    Timeout {
        /// The request's method.
        method: String,
        /// Which limit.
        limit: Limit,
        /// How the agent was stopped.
        stopped: Stopped,
    },
    /// The permission policy answered [`Answer::Wait`](crate::Answer::Wait):
    /// the agent waits for a decision nobody here can make.
    #[error("the agent waits for permission to run `{}`", .request.title.as_deref().unwrap_or(&.request.tool_call_id))]
    PermissionPending {
        /// The request left unanswered.
        request: Box<PermissionRequest>,
    },
    /// The session mode asked for ([`AcpConfig::session_mode`](crate::AcpConfig::session_mode)
    /// or [`AcpClient::set_session_mode`](crate::AcpClient::set_session_mode))
    /// is not one the agent listed for the session.
    #[error("the agent offers no session mode `{mode}` ({})", offered_text(.available))]
    UnknownMode {
        /// The mode asked for.
        mode: String,
        /// The ids of the modes the agent listed (empty when it listed none).
        available: Vec<String>,
    },
    /// The session was cancelled from outside (a [`Canceller`](crate::Canceller)).
    #[error("the turn was cancelled and the agent did not stop in time, so it was terminated")]
    CancelIgnored,
}

fn status_text(status: Option<ExitStatus>) -> String {
    match status {
        Some(ExitStatus::Code(code)) => format!("exit code {code}"),
        Some(ExitStatus::Signal(signal)) => format!("killed by signal {signal}"),
        None => "exit status unknown".to_owned(),
    }
}

fn offered_text(available: &[String]) -> String {
    if available.is_empty() {
        "it lists no modes".to_owned()
    } else {
        format!("it offers {}", available.join(", "))
    }
}

fn stopped_text(stopped: Stopped) -> &'static str {
    match stopped {
        Stopped::Cancelled => "cancelled",
        Stopped::Terminated => "terminated",
    }
}
