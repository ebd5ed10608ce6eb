//! `HostRuntime`: runs AI coding agents, or any command, as supervised
//! processes on this machine, under the `logist-core`
//! [`Runtime`](logist_core::Runtime) contract.
//!
//! # How it works
//!
//! - **Spawning.** The argv is executed directly (never through a shell),
//!   in a new process group (a new session on a pseudo-terminal), with
//!   stdin from `/dev/null` unless a writable stdin is requested. The
//!   environment is the caller's choice: inherit and override (the default)
//!   or clean with names passed through. Every child also gets an
//!   environment *cookie* (`LOGIST_TREE_<tag>=<n>`) that its descendants
//!   inherit.
//! - **The keeper.** Children are started by the runtime's keeper, a small
//!   helper process forked when the runtime is built
//!   ([`HostRuntimeBuilder::keeper`]). It is their child subreaper: every
//!   descendant that is orphaned, whatever it did with sessions and its
//!   environment, is re-parented to it, and it kills them all when the
//!   runtime is dropped or this process dies, by any signal.
//! - **Output.** One reactor thread per runtime waits in `epoll` on every
//!   child's stdout and stderr (or pseudo-terminal) and on its exit watch
//!   (the keeper's status pipe, or a pidfd).
//!   Bytes are read the moment they arrive, never by lines, into a bounded
//!   per-process buffer ([`HostRuntimeBuilder::output_cap`]) that drops the
//!   oldest bytes with a count, and optionally into a log file that keeps
//!   every byte ([`HostRuntimeBuilder::log_dir`]). Readers block on a
//!   condition variable: a silent child costs no CPU.
//! - **Exit.** When the exit watch fires, the reactor records the status
//!   under the process's lock; group signals go through the keeper, which
//!   sends them only while the child is unreaped, so they never reach a
//!   recycled pid, and no zombie is left. If descendants still hold the output open,
//!   `wait` returns after a short leak window and reports it.
//! - **Terminating.** SIGTERM (and SIGCONT, for stopped processes) to the
//!   process group and, through pidfds verified against `/proc`, to every
//!   descendant that left the group (found by the cookie or by parent
//!   links); after the grace period, SIGKILL to whatever is left, in rounds
//!   until nothing carrying the cookie remains. No lock is held while
//!   waiting, so other processes are never blocked.
//! - **Dropping** the runtime does the same for every process it still owns,
//!   with one shared grace period.
//! - **With a state directory** ([`HostRuntimeBuilder::state_dir`]) each
//!   run goes through a small per-run monitor process (`logist-monitor`):
//!   its parent and child subreaper, which logs every byte to disk and
//!   records the exit. An *attached* run (the default) dies with the
//!   runtime, or with this process however it dies, whole tree and
//!   escapees included; a *durable* one ([`SpawnRequest::durable`](logist_core::SpawnRequest::durable))
//!   outlives it, and a later runtime built with
//!   [`adopt(true)`](HostRuntimeBuilder::adopt) takes it over: output from
//!   any offset, stdin, terminate, the exact exit status. See
//!   `docs/durable-runs.md`.
//!
//! Linux only (pidfds: kernel 5.3 or later).
//!
//! ```
//! use std::time::Duration;
//! use logist_core::{CommandLine, Runtime, SpawnRequest};
//! use logist_runtime_host::HostRuntime;
//!
//! let runtime = HostRuntime::builder().grace(Duration::from_secs(2)).build()?;
//! let request = SpawnRequest::new(CommandLine::new(["printf", "Confirm? [y/N]: "])?)
//!     .label("job", "demo");
//! let id = runtime.spawn(&request)?;
//!
//! // Read output as it arrives, from a position, without re-reading.
//! let mut next = 0;
//! let mut seen = Vec::new();
//! loop {
//!     let read = runtime.read_output(&id, next, Some(Duration::from_secs(30)))?;
//!     for chunk in &read.chunks {
//!         seen.extend_from_slice(&chunk.data);
//!     }
//!     next = read.next;
//!     if read.finished {
//!         break;
//!     }
//! }
//! assert_eq!(seen, b"Confirm? [y/N]: ");
//! assert!(runtime.wait(&id, None)?.status.success());
//! # Ok::<(), logist_core::Error>(())
//! ```

mod keeper;
mod launch;
mod monitored;
mod process;
mod reactor;
mod runtime;
mod spawner;
mod sys;
mod tree;

pub use logist_monitor::MonitorProgram;
pub use runtime::{HostRuntime, HostRuntimeBuilder};

/// The README's examples, compiled and run as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
