//! `DockerRuntime`: runs AI coding agents, or any command, in containers on
//! a Docker (or Podman) engine, local or remote, under the `logist-core`
//! [`Runtime`](logist_core::Runtime) contract. Callers that hold a
//! `Box<dyn Runtime>` swap it for the host runtime without another change.
//!
//! # How it works
//!
//! - **One container per process.** `spawn` creates a container from the
//!   configured image with the request's argv as its entrypoint, its
//!   environment, its labels as container labels (plus `logist.runtime`
//!   and `logist.process`), a working directory, the runtime's bind mounts
//!   (the workspace read-write, anything else read-only), network mode
//!   `none` unless configured, a user, and memory / CPU / pid limits. The
//!   engine's init (`Init: true`, tini in Docker) is PID 1: it passes
//!   signals to the program and reaps zombies, and when the program exits
//!   the kernel ends every other process of the container.
//! - **Checks before creating.** The runtime keeps one *probe* container
//!   (created, never started) with the same image and mounts, and asks the
//!   engine for file facts there: a missing program is
//!   [`ProgramNotFound`](logist_core::Error::ProgramNotFound), a file
//!   without execute permission or a directory
//!   [`NotExecutable`](logist_core::Error::NotExecutable), a missing
//!   working directory [`WorkingDirectory`](logist_core::Error::WorkingDirectory),
//!   exactly as on the host. (With an init as PID 1 the engine itself
//!   would only report "exit code 127".) Facts about image paths are
//!   cached; paths under a mount are asked each time.
//! - **Output.** The container is attached *before* it starts, so no byte
//!   is missed. One thread per container blocks on the attach connection
//!   and splits the engine's multiplexed stream into stdout and stderr as
//!   bytes arrive, into the same per-process record as the host runtime
//!   (`logist-output`: oldest bytes dropped and counted; reads from an
//!   offset block on a condition variable; a tail costs what it returns). The
//!   engine keeps no log (`LogConfig: none`), except for durable containers.
//! - **Exit.** When the attach stream ends, the thread asks the engine
//!   once how the container exited (`wait`, then `inspect` for the
//!   out-of-memory flag). `is_alive` and `wait` read that state: no call
//!   to the engine per call.
//! - **Signals.** `terminate` sends SIGTERM (and SIGCONT) through the
//!   engine to the init, which passes it to the program; after the grace
//!   period, SIGKILL to the init, which takes the whole container down.
//! - **Cleanup.** `remove` removes the container; dropping the runtime
//!   stops every running container politely (one shared grace period),
//!   then removes every container and the probe, except durable ones.
//! - **Durable containers and adoption.** A
//!   [durable](logist_core::SpawnRequest::durable) request's container
//!   keeps its output in the engine's `local` log and is left as it is
//!   when the runtime is dropped; a runtime built with
//!   [`adopt(true)`](DockerRuntimeBuilder::adopt) takes over the durable
//!   containers carrying its builder's labels, with their ids, their
//!   output from offset 0 (replayed from the engine's log and followed),
//!   their exit status from the engine, and their stdin. A durable
//!   container's stdin cannot be closed (the engine would close it
//!   whenever its runtime went away): `close_stdin` is
//!   [`Unsupported`](logist_core::Error::Unsupported).
//!
//! # Engine API, not the `docker` CLI
//!
//! The runtime speaks the Engine API directly, over a small hand-written
//! HTTP/1.1 client, rather than running `docker` commands:
//!
//! - **Speed and load.** A CLI call costs a process start (tens of
//!   milliseconds of CPU); an API call over a kept-alive Unix socket costs
//!   well under a millisecond of client time. Output and exit need
//!   long-lived streams (attach, wait), which the API gives directly.
//! - **Exactness.** Errors come back as HTTP statuses with the engine's
//!   message, not as text on a CLI's stderr to be parsed, and output comes
//!   as framed bytes with the stream of each frame.
//! - **Remote engines.** `DOCKER_HOST` is honoured: `unix://` and `tcp://`
//!   natively, `ssh://` the way the Docker CLI does it (`ssh host docker
//!   system dial-stdio`, then HTTP over the pipes), so the same code drives
//!   an engine on another machine. TLS (`DOCKER_TLS_VERIFY`) is not
//!   supported; use ssh.
//! - **Podman.** Podman's API service (`podman system service`) serves
//!   the same API; point `DOCKER_HOST` at its socket. No `docker` CLI is
//!   needed locally.
//! - **Weight.** No async runtime and no HTTP or Docker client crate:
//!   `serde_json` and `base64` (for one header) are the only dependencies
//!   beyond `logist-core`, `logist-output`, `thiserror` and `tracing`.
//!
//! API version 1.41 (Docker 20.10, Podman 3) or later is required; the
//! newest version both sides speak is used.
//!
//! # Differences from the host runtime
//!
//! - Exit statuses come from one number: an exit code of 129 to 192 is
//!   reported as death by signal (code − 128), as a shell does. A container
//!   stopped by the out-of-memory killer is reported as SIGKILL, with a
//!   warning in the log when the engine noticed (its `OOMKilled` flag,
//!   which Docker 20.10 may set after the exit: an unexplained SIGKILL of
//!   a memory-limited container waits up to 5 s for it).
//! - Polite termination sends SIGTERM to the main process only; the other
//!   processes of the container end (SIGKILL, by the kernel) the moment
//!   the main process exits, so they get no grace period of their own, and
//!   no descendant can outlive the main process or hold the output open
//!   ([`Completion::output_leaked`](logist_core::Completion::output_leaked)
//!   is always false).
//! - `ProcessInfo::pid` is `None`: pids belong to the engine's machine.
//! - A clean environment, or unset names, needs an `env` program in the
//!   image (see [`DockerRuntimeBuilder::env_program`]), because the engine
//!   always sets `PATH`, `HOSTNAME` and `HOME`.
//! - Output lost on a broken attach connection (the engine restarted) is
//!   not recovered.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use logist_core::{CommandLine, Environment, Runtime, SpawnRequest};
//! use logist_runtime_docker::{DockerHost, DockerRuntime};
//!
//! // One runtime per engine; here the one DOCKER_HOST names.
//! let runtime = DockerRuntime::builder("ghcr.io/acme/agent:1.4")
//!     .host(DockerHost::from_env()?)
//!     .workspace("/srv/jobs/42", "/work")
//!     .memory(4 << 30)
//!     .cpus(2.0)
//!     .pids_limit(512)
//!     .build()?;
//! let request = SpawnRequest::new(CommandLine::new(["agent", "-p", "fix the bug"])?)
//!     .env(Environment::clean().pass("ANTHROPIC_API_KEY").set("NO_COLOR", "1"))
//!     .label("job", "42");
//! let id = runtime.spawn(&request)?;
//! let done = runtime.wait(&id, Some(Duration::from_secs(3600)))?;
//! println!("{}: {}", done.status, done.logs);
//! runtime.remove(&id)?;
//! # Ok::<(), logist_core::Error>(())
//! ```

mod adopt;
mod builder;
mod container;
mod engine;
mod env;
mod error;
mod host;
mod http;
mod live;
mod mux;
mod owner;
mod probe;
mod runtime;
mod transport;

pub use builder::{DockerRuntimeBuilder, PROGRAM_DIR};
pub use host::{DEFAULT_SOCKET, DockerHost};
pub use runtime::{DURABLE_LABEL, DockerRuntime, PROCESS_LABEL, RUNTIME_LABEL};
