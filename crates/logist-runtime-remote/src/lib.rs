//! `RemoteRuntime`: the Logist [`Runtime`](logist_core::Runtime) contract on
//! another machine, and [`Server`], which serves any runtime to it (what
//! `logist serve` runs).
//!
//! One orchestrator drives agents on many machines through the same trait
//! it uses locally: start a server in each sandbox or host, and hold one
//! `RemoteRuntime` per server. Every method is one request and one reply
//! over a WebSocket connection (a Unix socket, or TCP with a token);
//! output travels as raw bytes with its offsets, so a read after a dropped
//! connection continues exactly where the previous one ended, and a call
//! during an outage fails with [`Error::Unavailable`](logist_core::Error)
//! instead of hanging. `docs/remote.md` in the repository describes the
//! protocol and why it is built this way.
//!
//! ```
//! use std::sync::Arc;
//! use logist_core::{CommandLine, Runtime, SpawnRequest};
//! use logist_runtime_remote::{Address, RemoteRuntime, Server};
//! # use logist_core::*;
//! # struct Nothing;
//! # impl Runtime for Nothing {
//! #   fn name(&self) -> &str { "nothing" }
//! #   fn spawn(&self, r: &SpawnRequest) -> Result<ProcessId, Error> { Err(Error::ProgramNotFound { program: r.command.program().into() }) }
//! #   fn is_alive(&self, id: &ProcessId) -> Result<bool, Error> { Err(Error::unknown(id)) }
//! #   fn get_logs(&self, id: &ProcessId, _: Option<usize>) -> Result<Logs, Error> { Err(Error::unknown(id)) }
//! #   fn get_stream_logs(&self, id: &ProcessId, _: Stream, _: Option<usize>) -> Result<Logs, Error> { Err(Error::unknown(id)) }
//! #   fn read_output(&self, id: &ProcessId, _: u64, _: Option<std::time::Duration>) -> Result<OutputRead, Error> { Err(Error::unknown(id)) }
//! #   fn terminate(&self, id: &ProcessId, _: bool) -> Result<bool, Error> { Err(Error::unknown(id)) }
//! #   fn wait(&self, id: &ProcessId, _: Option<std::time::Duration>) -> Result<Completion, Error> { Err(Error::unknown(id)) }
//! #   fn info(&self, id: &ProcessId) -> Result<ProcessInfo, Error> { Err(Error::unknown(id)) }
//! #   fn list(&self, _: &Labels) -> Result<Vec<ProcessInfo>, Error> { Ok(Vec::new()) }
//! #   fn remove(&self, id: &ProcessId) -> Result<(), Error> { Err(Error::unknown(id)) }
//! # }
//! # let dir = tempfile::tempdir()?;
//! # let local: Arc<dyn Runtime> = Arc::new(Nothing);
//! // On the machine that runs the agents (here: a runtime that has none).
//! let address = Address::Unix(dir.path().join("logist.sock"));
//! let server = Server::new(local).bind(&address)?.spawn();
//!
//! // In the orchestrator.
//! let remote = RemoteRuntime::builder(address).build()?;
//! let refused = remote.spawn(&SpawnRequest::new(CommandLine::new(["claude"])?));
//! // The server's error arrives as the same typed error.
//! assert!(matches!(refused, Err(Error::ProgramNotFound { .. })));
//! server.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod address;
mod client;
mod server;
mod tls;
mod wire;

pub use address::{Address, AddressError};
pub use client::{RemoteRuntime, RemoteRuntimeBuilder};
pub use server::{Listener, ServeError, Server, ServerHandle};
pub use tls::{TlsError, client_config, server_config};
pub use wire::PROTOCOL;
