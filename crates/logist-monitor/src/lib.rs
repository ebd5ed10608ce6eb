//! A small monitor process per run, so that a run outlives (or, attached,
//! dies with) the program that started it, and can be found again.
//!
//! The monitor is the run's parent and a child subreaper: every orphaned
//! descendant of the run is re-parented to it, so it can stop the whole
//! tree, escapees included. It holds the run's pipes or pseudo-terminal
//! and writes every byte to the run's log on disk ([`log`]), records the
//! exit status atomically (`exit.json`, code and signal kept apart), and
//! serves a control socket ([`proto`]): read from an offset, subscribe,
//! write and close stdin, resize, signal, terminate.
//!
//! The owner side is [`start`] (a new run through a new monitor),
//! [`Client`] (talk to a running monitor), [`wait`] and the state
//! directory ([`StateDir`], [`RunDir`], [`RunState`]), which lists runs
//! and tells running, exited and lost apart. `docs/durable-runs.md`
//! describes the design and the on-disk format.
//!
//! Linux only: it relies on `PR_SET_CHILD_SUBREAPER`, pidfds, `signalfd`
//! and `/proc`.

mod client;
mod error;
pub mod log;
mod monitor;
pub mod pidfd;
pub mod proto;
mod state;
mod sys;
mod tree;

pub use client::{Client, Event, LentEvent, MonitorProgram, Started, Subscription, start, wait};
pub use error::{ClientError, LogError, StartError, StateError};
pub use monitor::main as monitor_main;
pub use proto::{PROTOCOL_VERSION, SignalTarget, StatusReply};
pub use state::{
    ExitRecord, LAYOUT_VERSION, LostReason, MonitorRecord, OwnerLock, Ownership, RunDir, RunEntry,
    RunSpec, RunState, StateDir, boot_id, new_run_id,
};
