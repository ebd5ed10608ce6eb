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
//! # Implementing both traits
//!
//! A toy agent and a toy runtime that "runs" a command by echoing its
//! arguments, to show the whole surface in one place. A real runtime starts
//! processes; see `logist-runtime-host`.
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Mutex;
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::time::{Duration, SystemTime};
//!
//! use logist_core::{
//!     Agent, CommandLine, Completion, Environment, Error, ExitStatus, Labels, Logs,
//!     OutputChunk, OutputRead, ProcessId, ProcessInfo, ProcessState, Runtime,
//!     SpawnRequest, StopSequence, Stream,
//! };
//!
//! /// An agent whose program is `echo`.
//! struct EchoAgent;
//!
//! impl Agent for EchoAgent {
//!     fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
//!         // `--` is not needed by echo; a real adapter ends options before the prompt.
//!         CommandLine::new(["echo", prompt])
//!     }
//!     fn env(&self) -> Environment {
//!         Environment::inherit().set("NO_COLOR", "1")
//!     }
//!     fn stop_sequences(&self) -> Vec<StopSequence> {
//!         vec![StopSequence::literal("[y/N]")]
//!     }
//!     fn name(&self) -> &str {
//!         "echo"
//!     }
//!     fn version(&self) -> &str {
//!         "1.0"
//!     }
//! }
//!
//! /// A runtime whose processes finish the moment they start, printing their
//! /// arguments.
//! #[derive(Default)]
//! struct EchoRuntime {
//!     next_id: AtomicU64,
//!     processes: Mutex<HashMap<ProcessId, (ProcessInfo, Vec<u8>)>>,
//! }
//!
//! impl EchoRuntime {
//!     fn with<T>(&self, id: &ProcessId, f: impl FnOnce(&ProcessInfo, &[u8]) -> T) -> Result<T, Error> {
//!         let processes = self.processes.lock().unwrap();
//!         let (info, output) = processes.get(id).ok_or_else(|| Error::unknown(id))?;
//!         Ok(f(info, output))
//!     }
//! }
//!
//! fn last_lines(output: &[u8], n: Option<usize>) -> Vec<u8> {
//!     let Some(n) = n else { return output.to_vec() };
//!     let text = String::from_utf8_lossy(output);
//!     let lines: Vec<&str> = text.split_inclusive('\n').collect();
//!     lines[lines.len().saturating_sub(n)..].concat().into_bytes()
//! }
//!
//! impl Runtime for EchoRuntime {
//!     fn name(&self) -> &str {
//!         "echo"
//!     }
//!     fn spawn(&self, request: &SpawnRequest) -> Result<ProcessId, Error> {
//!         request.validate()?;
//!         let id = ProcessId::new(format!("echo-{}", self.next_id.fetch_add(1, Ordering::Relaxed)));
//!         let output = format!("{}\n", request.command.args().join(" ")).into_bytes();
//!         let info = ProcessInfo::new(
//!             id.clone(),
//!             None,
//!             request.command.clone(),
//!             request.labels.clone(),
//!             ProcessState::Exited(ExitStatus::Code(0)),
//!             SystemTime::now(),
//!         );
//!         self.processes.lock().unwrap().insert(id.clone(), (info, output));
//!         Ok(id)
//!     }
//!     fn is_alive(&self, id: &ProcessId) -> Result<bool, Error> {
//!         self.with(id, |info, _| info.state == ProcessState::Running)
//!     }
//!     fn get_logs(&self, id: &ProcessId, tail: Option<usize>) -> Result<Logs, Error> {
//!         self.with(id, |_, output| Logs::new(last_lines(output, tail), 0))
//!     }
//!     fn get_stream_logs(&self, id: &ProcessId, stream: Stream, tail: Option<usize>) -> Result<Logs, Error> {
//!         self.with(id, |_, output| match stream {
//!             Stream::Stdout => Logs::new(last_lines(output, tail), 0),
//!             Stream::Stderr => Logs::default(),
//!         })
//!     }
//!     fn read_output(&self, id: &ProcessId, from: u64, _timeout: Option<Duration>) -> Result<OutputRead, Error> {
//!         // Output is complete at spawn, so a read never needs to block.
//!         self.with(id, |_, output| {
//!             let end = output.len() as u64;
//!             let start = from.min(end);
//!             let chunks = (start < end)
//!                 .then(|| OutputChunk { stream: Stream::Stdout, offset: start, data: output[start as usize..].to_vec() })
//!                 .into_iter()
//!                 .collect();
//!             OutputRead::new(chunks, end.max(from), 0, true)
//!         })
//!     }
//!     fn terminate(&self, id: &ProcessId, _force: bool) -> Result<bool, Error> {
//!         // Every process has already exited: nothing to signal.
//!         self.with(id, |_, _| false)
//!     }
//!     fn wait(&self, id: &ProcessId, _timeout: Option<Duration>) -> Result<Completion, Error> {
//!         self.with(id, |_, output| Completion::new(ExitStatus::Code(0), Logs::new(output.to_vec(), 0), false))
//!     }
//!     fn info(&self, id: &ProcessId) -> Result<ProcessInfo, Error> {
//!         self.with(id, |info, _| info.clone())
//!     }
//!     fn list(&self, selector: &Labels) -> Result<Vec<ProcessInfo>, Error> {
//!         let processes = self.processes.lock().unwrap();
//!         let mut found: Vec<ProcessInfo> =
//!             processes.values().map(|(info, _)| info.clone()).filter(|info| info.matches(selector)).collect();
//!         found.sort_by(|a, b| a.started_at.cmp(&b.started_at).then_with(|| a.id.cmp(&b.id)));
//!         Ok(found)
//!     }
//!     fn remove(&self, id: &ProcessId) -> Result<(), Error> {
//!         self.processes.lock().unwrap().remove(id).map(drop).ok_or_else(|| Error::unknown(id))
//!     }
//! }
//!
//! // Callers see only the traits, so either side can be swapped at run time.
//! let agent: Box<dyn Agent> = Box::new(EchoAgent);
//! let runtime: Box<dyn Runtime> = Box::new(EchoRuntime::default());
//!
//! let request = SpawnRequest::new(agent.cmd("-n hello")?)
//!     .env(Environment::clean().merge(&agent.env()))
//!     .label("job", "1");
//! let id = runtime.spawn(&request)?;
//! let done = runtime.wait(&id, Some(Duration::from_secs(5)))?;
//! assert!(done.status.success());
//! assert_eq!(done.logs.text(), "-n hello\n");
//! assert_eq!(runtime.read_output(&id, 0, None)?.next, 9);
//! runtime.remove(&id)?;
//! assert!(matches!(runtime.is_alive(&id), Err(Error::UnknownProcess { .. })));
//! # Ok::<(), Error>(())
//! ```

mod agent;
mod command;
mod error;
mod format;
mod output;
mod process;
mod runtime;
mod stop;

pub use agent::Agent;
pub use command::{CommandLine, Environment, PromptOnStdin, SpawnRequest, StdinMode, TerminalSize};
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
