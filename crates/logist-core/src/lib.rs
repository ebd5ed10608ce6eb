//! The contract of Logist: the [`Agent`] and [`Runtime`] traits, the small
//! types in their signatures, and the one [`Error`] type.
//!
//! An **agent** says *what* to run: it turns a prompt into a command line,
//! names the environment it needs and the texts that mean "waiting for
//! input". A **runtime** says *how*: it spawns a command and returns an id,
//! answers whether it is alive, hands out its output (whole, as a tail, or
//! incrementally), terminates it with its whole process tree, and waits for
//! its exit status. Implementations live in sibling crates
//! (`logist-runtime-host`, `logist-agents`, `logist-mock`, …) that depend on
//! this crate alone; this crate has no implementation and no dependency
//! beyond `thiserror`.
//!
//! # Using it
//!
//! An orchestrator picks an agent (an adapter from `logist-agents`) and a
//! runtime (`HostRuntime`, `DockerRuntime`, …), and from then on sees only
//! these two traits: it asks the agent for the command line of a prompt,
//! starts it on the runtime, follows its output as it arrives, and collects
//! its exit status. Either side can be swapped without touching this code.
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! use logist_core::{Agent, Environment, Error, ExitStatus, Runtime, SpawnRequest};
//!
//! /// Runs `prompt` through `agent` on `runtime`, printing its output live;
//! /// stops its whole process tree after `limit`.
//! fn run(agent: &dyn Agent, runtime: &dyn Runtime, prompt: &str, limit: Duration)
//!     -> Result<ExitStatus, Error>
//! {
//!     let request = SpawnRequest::new(agent.cmd(prompt)?)
//!         .env(Environment::clean().merge(&agent.env()))
//!         .label("agent", agent.name());
//!     let id = runtime.spawn(&request)?;
//!     let deadline = Instant::now() + limit;
//!     let mut offset = 0;
//!     loop {
//!         let left = deadline.saturating_duration_since(Instant::now());
//!         // Blocks until new output, the end of the output, or the timeout.
//!         let read = runtime.read_output(&id, offset, Some(left))?;
//!         for chunk in &read.chunks {
//!             print!("{}", String::from_utf8_lossy(&chunk.data));
//!         }
//!         offset = read.next;
//!         if read.finished {
//!             break;
//!         }
//!         if left.is_zero() {
//!             // SIGTERM to the whole tree, SIGKILL after the grace period.
//!             runtime.terminate(&id, false)?;
//!         }
//!     }
//!     let done = runtime.wait(&id, None)?;
//!     runtime.remove(&id)?;
//!     Ok(done.status)
//! }
//! ```
//!
//! `logist-sentinel` does this loop for real: it also notices when the
//! agent waits for a human, goes silent, or reports a failure.
//!
//! # Implementing the traits
//!
//! Each trait's documentation is its contract, written for implementors as
//! well as callers. `docs/writing-a-runtime.md` and
//! `docs/writing-an-agent.md` in the repository walk through a whole (toy)
//! implementation; `logist-conformance` checks a runtime against the
//! contract.

mod agent;
mod command;
mod error;
mod format;
mod output;
mod process;
mod runtime;
mod stop;

pub use agent::Agent;
pub use command::{
    CommandLine, Environment, MAX_ARGUMENT_BYTES, PromptOnStdin, SpawnRequest, StdinMode,
    TerminalSize,
};
pub use error::{BoxError, CommandProblem, Error, ErrorChain, error_chain};
pub use format::OutputFormat;
pub use output::{Completion, Logs, OutputChunk, OutputRead, Stream};
pub use process::{ExitStatus, Labels, ProcessId, ProcessInfo, ProcessState, signal_name};
pub use runtime::Runtime;
pub use stop::{FailureCause, FailurePattern, Pattern, StopSequence, Verdict};

/// The README's examples, compiled and run as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
