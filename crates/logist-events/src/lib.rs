//! One event model for an agent run, whatever program or protocol it comes
//! from: messages, thoughts, tool calls and their results, permission
//! requests and decisions, plans, usage and cost, the session, errors, the
//! end of a turn, and raw output that was not parsed.
//!
//! The schema is versioned ([`SCHEMA_VERSION`]) and documented in
//! `docs/events.md`. Each [`Event`] serializes as one JSON object tagged
//! with `"event"`.

mod dialects;
mod event;
mod framing;
mod parser;

pub use event::{
    Cost, Decider, ErrorEvent, Event, FileChange, FileChangeKind, Message, Outcome, Permission,
    PermissionDecision, PermissionKind, PermissionOption, Plan, PlanEntry, PlanStatus, Raw,
    RawReason, Role, SCHEMA_VERSION, Session, StopReason, Thought, ToolCall, ToolKind, ToolResult,
    ToolStatus, TurnEnd, Usage,
};
pub use parser::{DEFAULT_MAX_LINE, Parser};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
