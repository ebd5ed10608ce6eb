//! `DockerRuntime`: the `Runtime` contract for processes in containers.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use logist_core::{
    Completion, Error, Labels, Logs, OutputRead, ProcessId, ProcessInfo, Runtime, SpawnRequest,
    StdinMode, Stream, TerminalSize,
};
use logist_output::{Record, RecordSettings, Table};

use crate::builder::{DockerRuntimeBuilder, ImageFacts};
use crate::container::Container;
use crate::engine::Engine;
use crate::env;
use crate::error::{EngineError, engine_error, missing_image};
use crate::host::DockerHost;
use crate::http::encode;
use crate::owner::{self, OWNER_LABEL};
use crate::probe::{Check, Probe};

/// How long `terminate` waits for the engine to report the exit after
/// SIGKILL (tearing a container down takes the engine a moment).
const KILL_WAIT: Duration = Duration::from_secs(30);
/// How long removal and drop wait for a reader thread to finish.
const JOIN_WAIT: Duration = Duration::from_secs(10);

/// The label every container of a runtime carries, valued with the
/// runtime's random tag (see [`DockerRuntime::tag`]).
pub const RUNTIME_LABEL: &str = "logist.runtime";

/// The label with the [`ProcessId`] of the container's process.
pub const PROCESS_LABEL: &str = "logist.process";

/// The label of a durable container (valued `true`): one that outlives its
/// runtime and that a runtime built with
/// [`adopt`](crate::DockerRuntimeBuilder::adopt) takes over.
pub const DURABLE_LABEL: &str = "logist.durable";

/// What a runtime adopting a durable container needs to know of its
/// request, kept in labels of the container: the command line (a JSON
/// array; the container's entrypoint may be wrapped in `env`), the
/// request's own labels (a JSON object), its grace period and the start
/// time (milliseconds).
pub(crate) const COMMAND_LABEL: &str = "logist.command";
pub(crate) const LABELS_LABEL: &str = "logist.labels";
pub(crate) const GRACE_LABEL: &str = "logist.grace-ms";
pub(crate) const STARTED_LABEL: &str = "logist.started-ms";

/// Runs processes in containers of one image on a Docker (or Podman)
/// engine, under the [`Runtime`] contract.
///
/// Each process is one container, created, attached and started through
/// the Engine API: the engine's init runs as PID 1 and passes signals on,
/// stdout and stderr stream live from the attach connection into a
/// bounded buffer, and the exit status comes from one `wait` per container
/// when its output ends. Removing a process removes its container;
/// dropping the runtime stops and removes every container it owns, except
/// [durable](logist_core::SpawnRequest::durable) ones, which a later
/// runtime built with [`adopt`](crate::DockerRuntimeBuilder::adopt) takes
/// over.
///
/// ```no_run
/// use std::time::Duration;
/// use logist_core::{CommandLine, Runtime, SpawnRequest};
/// use logist_runtime_docker::DockerRuntime;
///
/// let runtime = DockerRuntime::builder("debian:bookworm-slim")
///     .workspace("/srv/jobs/42", "/work")
///     .memory(2 << 30)
///     .build()?;
/// let id = runtime.spawn(&SpawnRequest::new(CommandLine::new(["sh", "-c", "echo hi; exit 3"])?))?;
/// let done = runtime.wait(&id, Some(Duration::from_secs(60)))?;
/// assert_eq!(done.status.code(), Some(3));
/// assert_eq!(done.logs.text(), "hi\n");
/// runtime.remove(&id)?;
/// # Ok::<(), logist_core::Error>(())
/// ```
pub struct DockerRuntime {
    pub(crate) engine: Arc<Engine>,
    pub(crate) config: DockerRuntimeBuilder,
    tag: String,
    image_env: BTreeMap<String, String>,
    /// The image's working directory, when it sets one.
    image_working_dir: Option<PathBuf>,
    probe: Probe,
    /// Whether the image has the `env` program (see `env.rs`).
    env_program_present: AtomicBool,
    pub(crate) next_seq: AtomicU64,
    pub(crate) containers: Table<Container>,
    /// This process, for the owner label of attached containers.
    owner: Option<String>,
}

impl std::fmt::Debug for DockerRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerRuntime")
            .field("host", self.engine.host())
            .field("image", &self.config.image)
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

impl DockerRuntime {
    /// The runtime, from what [`DockerRuntimeBuilder::build`] checked.
    pub(crate) fn assemble(
        engine: Arc<Engine>,
        config: DockerRuntimeBuilder,
        tag: String,
        image: ImageFacts,
        probe: Probe,
    ) -> Self {
        Self {
            engine,
            config,
            tag,
            image_env: image.env,
            image_working_dir: image.working_dir,
            probe,
            env_program_present: AtomicBool::new(false),
            next_seq: AtomicU64::new(0),
            containers: Table::new(),
            owner: owner::this_process(),
        }
    }

    /// Looks for the image's `env` program, once.
    pub(crate) fn find_env_program(&self) -> Result<(), Error> {
        let present = matches!(self.probe.resolve(&self.config.env_program)?, Check::Found);
        self.env_program_present.store(present, Ordering::Relaxed);
        Ok(())
    }

    /// Settings for a runtime whose containers run `image` (a name the
    /// engine knows, like `debian:bookworm-slim` or an image id).
    pub fn builder(image: impl Into<String>) -> DockerRuntimeBuilder {
        DockerRuntimeBuilder::new(image.into())
    }

    /// A runtime for `image` with the default settings.
    ///
    /// # Errors
    ///
    /// See [`DockerRuntimeBuilder::build`].
    pub fn new(image: impl Into<String>) -> Result<Self, Error> {
        Self::builder(image).build()
    }

    /// The engine this runtime talks to.
    pub fn host(&self) -> &DockerHost {
        self.engine.host()
    }

    /// The image containers run.
    pub fn image(&self) -> &str {
        &self.config.image
    }

    /// The Engine API version in use, like `1.41`.
    pub fn api_version(&self) -> &str {
        self.engine.api_version()
    }

    /// The random tag of this runtime, the value of [`RUNTIME_LABEL`] on
    /// its containers (`docker ps --filter label=logist.runtime=<tag>`).
    /// Adopted containers keep the tag of the runtime that started them.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The engine's id of the container running process `id`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProcess`].
    pub fn container_id(&self, id: &ProcessId) -> Result<String, Error> {
        Ok(self.containers.get(id)?.container_id.clone())
    }

    /// The checks of a spawn that need the probe: the working directory,
    /// the program, the `env` wrapper.
    fn preflight(&self, request: &SpawnRequest, plan: &env::EnvPlan) -> Result<(), Error> {
        let cwd = request.cwd.as_deref().or(self.config.default_cwd());
        if let Some(dir) = cwd {
            self.probe.check_dir(dir)?;
        }
        let cwd = cwd.or(self.image_working_dir.as_deref());
        if !plan.unset.is_empty() && !self.env_program_present.load(Ordering::Relaxed) {
            return Err(Error::unsupported(
                "docker",
                format!(
                    "removing environment variables in image `{}`, which has no `{}` (set DockerRuntimeBuilder::env_program)",
                    self.config.image, self.config.env_program
                ),
            ));
        }
        self.probe.check_program(
            request.command.program(),
            &plan.search_path,
            cwd.unwrap_or(Path::new("/")),
        )
    }

    fn create_body(
        &self,
        request: &SpawnRequest,
        argv: &[String],
        vars: &[String],
        id: &ProcessId,
        started: SystemTime,
    ) -> Value {
        let mut labels = self.config.labels.clone();
        labels.extend(request.labels.clone());
        labels.insert(RUNTIME_LABEL.to_owned(), self.tag.clone());
        labels.insert(PROCESS_LABEL.to_owned(), id.to_string());
        // Attached containers need no log: their output is read live from
        // the attach stream. A durable one keeps its output in the engine's
        // `local` log driver (bytes exact, both streams, rotated at 100 MB),
        // from which an adopting runtime replays it.
        let mut log_config = json!({"Type": "none", "Config": {}});
        if request.durable {
            labels.insert(DURABLE_LABEL.to_owned(), "true".to_owned());
            labels.insert(
                COMMAND_LABEL.to_owned(),
                json!(request.command.argv()).to_string(),
            );
            labels.insert(LABELS_LABEL.to_owned(), json!(request.labels).to_string());
            if let Some(grace) = request.grace {
                labels.insert(GRACE_LABEL.to_owned(), grace.as_millis().to_string());
            }
            labels.insert(STARTED_LABEL.to_owned(), unix_ms(started).to_string());
            log_config = json!({"Type": "local", "Config": {}});
        } else if let Some(owner) = &self.owner {
            labels.insert(OWNER_LABEL.to_owned(), owner.clone());
        }
        let stdin = request.stdin == StdinMode::Piped || request.terminal.is_some();
        let mut host_config = json!({
            "Init": true,
            "NetworkMode": self.config.network,
            "Mounts": self.config.mounts_json(),
            "LogConfig": log_config,
        });
        if let Some(memory) = self.config.memory {
            host_config["Memory"] = json!(memory);
            host_config["MemorySwap"] = json!(memory);
        }
        if let Some(cpus) = self.config.cpus {
            host_config["NanoCpus"] = json!((cpus * 1e9) as i64);
        }
        if let Some(limit) = self.config.pids_limit {
            host_config["PidsLimit"] = json!(limit);
        }
        if let Some(size) = request.terminal
            && self.engine.api_at_least(1, 42)
        {
            host_config["ConsoleSize"] = json!([size.rows, size.cols]);
        }
        let mut body = json!({
            "Image": self.config.image,
            "Entrypoint": argv,
            "Env": vars,
            "Labels": labels,
            "Tty": request.terminal.is_some(),
            "OpenStdin": stdin,
            // The engine closes the container's stdin when an attach
            // connection that writes to it ends: for an attached container
            // that is `close_stdin`, but a durable one must keep its stdin
            // when its runtime goes away, to be written by the next.
            "StdinOnce": stdin && !request.durable,
            "AttachStdin": stdin,
            "AttachStdout": true,
            "AttachStderr": true,
            "HostConfig": host_config,
        });
        if let Some(cwd) = request.cwd.as_deref().or(self.config.default_cwd()) {
            body["WorkingDir"] = json!(cwd.to_string_lossy());
        }
        if let Some(user) = &self.config.user {
            body["User"] = json!(user);
        }
        body
    }

    /// Sends `signal` to the container's init, which passes it to the main
    /// process. `Ok(false)` when the container is not running.
    fn kill(&self, container: &Container, signal: &str) -> Result<bool, Error> {
        if signal == "SIGKILL" {
            container.kill_sent.store(true, Ordering::Relaxed);
        }
        let call = format!(
            "/containers/{}/kill?signal={signal}",
            container.container_id
        );
        match self.engine.call("POST", &call, None) {
            Ok(_) => Ok(true),
            Err(error) if matches!(error.status(), Some(404 | 409)) => Ok(false),
            Err(error) => Err(engine_error(self.engine.host(), error, || {
                format!("sending {signal} to process `{}`", container.record.id)
            })),
        }
    }

    /// Removes the container from the engine (forcibly: it may be running).
    fn delete(&self, container_id: &str) -> Result<(), EngineError> {
        match self.engine.call(
            "DELETE",
            &format!("/containers/{container_id}?force=1&v=1"),
            None,
        ) {
            Ok(_) => Ok(()),
            Err(error) if error.status() == Some(404) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Creates, attaches and starts the container; on failure removes what
    /// was made.
    fn launch(
        &self,
        request: &SpawnRequest,
        argv: &[String],
        vars: &[String],
        seq: u64,
        id: &ProcessId,
    ) -> Result<Arc<Container>, Error> {
        let spawn_error = |error| self.spawn_error(request.command.program(), error);
        // Whole milliseconds, as the label of a durable container keeps it.
        let started = UNIX_EPOCH + Duration::from_millis(unix_ms(SystemTime::now()));
        let container_id = self
            .create(request, argv, vars, seq, id, started)
            .map_err(spawn_error)?;
        let mut made = Made::new(self, id, container_id.clone());

        // Attached before it starts, so that no output is lost.
        let stdin_open = request.stdin == StdinMode::Piped || request.terminal.is_some();
        let mut attach = format!("/containers/{container_id}/attach?stream=1&stdout=1&stderr=1");
        if stdin_open {
            attach.push_str("&stdin=1");
        }
        let connection = self.engine.upgrade(&attach).map_err(spawn_error)?;
        let container = made.hold(self.container(request, seq, id, container_id.clone(), started));
        let slot = if stdin_open {
            &container.stdin
        } else {
            &container.parked
        };
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(connection.writer);
        let breaker = connection.reader.get_ref().breaker().ok();
        container
            .start_reader(
                Arc::clone(&self.engine),
                Box::new(connection.reader),
                breaker,
                request.terminal.is_some(),
            )
            .map_err(|error| Error::io("starting a reader thread", error))?;
        self.engine
            .call("POST", &format!("/containers/{container_id}/start"), None)
            .map_err(spawn_error)?;
        if let Some(size) = request.terminal {
            let resize = format!(
                "/containers/{container_id}/resize?h={}&w={}",
                size.rows, size.cols
            );
            if let Err(error) = self.engine.call("POST", &resize, None) {
                tracing::debug!(%id, %error, "cannot size the terminal");
            }
        }
        Ok(made.keep())
    }

    /// Creates the container (not started); returns the engine's id of it.
    fn create(
        &self,
        request: &SpawnRequest,
        argv: &[String],
        vars: &[String],
        seq: u64,
        id: &ProcessId,
        started: SystemTime,
    ) -> Result<String, EngineError> {
        let body = self.create_body(request, argv, vars, id, started);
        let name = format!("logist-{}-{seq}", self.tag);
        let call = format!("/containers/create?name={}", encode(&name));
        let reply = self.engine.call("POST", &call, Some(&body))?;
        Ok(reply.json()["Id"].as_str().unwrap_or_default().to_owned())
    }

    /// The record of a container just created and attached.
    fn container(
        &self,
        request: &SpawnRequest,
        seq: u64,
        id: &ProcessId,
        container_id: String,
        started: SystemTime,
    ) -> Container {
        let settings = RecordSettings {
            grace: self.config.grace,
            output_cap: self.config.output_cap,
        };
        // One stream: the attach connection carries both.
        let mut record = Record::new(id.clone(), seq, request, settings, 1, false);
        record.started_at = started;
        Container {
            record,
            container_id,
            durable: request.durable,
            on_terminal: request.terminal.is_some(),
            stdin: Mutex::new(None),
            stdin_reader: Mutex::new(None),
            parked: Mutex::new(None),
            breaker: Mutex::new(None),
            reader: Mutex::new(None),
            abandoned: AtomicBool::new(false),
            host_pid: std::sync::OnceLock::new(),
            memory_limited: self.config.memory.is_some(),
            kill_sent: AtomicBool::new(false),
            live: None,
        }
    }

    /// The error of a spawn the engine refused or could not do.
    fn spawn_error(&self, program: &str, error: EngineError) -> Error {
        let host = self.engine.host();
        match error {
            EngineError::Status { status: 404, .. }
                if error.message().is_some_and(|m| m.contains("image")) =>
            {
                missing_image(&self.config.image, host)
            }
            other => engine_error(host, other, || format!("starting `{program}`")),
        }
    }
}

/// What a spawn made so far: dropped before [`keep`](Made::keep) (a step
/// failed), it stops the reader and removes the container.
struct Made<'a> {
    runtime: &'a DockerRuntime,
    id: &'a ProcessId,
    container_id: String,
    container: Option<Arc<Container>>,
    kept: bool,
}

impl<'a> Made<'a> {
    fn new(runtime: &'a DockerRuntime, id: &'a ProcessId, container_id: String) -> Self {
        Self {
            runtime,
            id,
            container_id,
            container: None,
            kept: false,
        }
    }

    /// Holds the container's record, to be stopped too on failure.
    fn hold(&mut self, container: Container) -> Arc<Container> {
        Arc::clone(self.container.insert(Arc::new(container)))
    }

    /// The spawn succeeded: nothing is removed.
    fn keep(mut self) -> Arc<Container> {
        self.kept = true;
        self.container
            .take()
            .expect("the container is held before the spawn succeeds")
    }
}

impl Drop for Made<'_> {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        if let Some(container) = &self.container {
            container.abandon();
        }
        if let Err(error) = self.runtime.delete(&self.container_id) {
            let id = self.id;
            tracing::warn!(%id, %error, "cannot remove the container of a failed spawn");
        }
        if let Some(container) = &self.container {
            container.join_reader(Instant::now() + JOIN_WAIT);
        }
    }
}

impl Runtime for DockerRuntime {
    fn name(&self) -> &str {
        "docker"
    }

    fn spawn(&self, request: &SpawnRequest) -> Result<ProcessId, Error> {
        request.validate()?;
        let plan = env::plan(
            &request.env,
            &self.image_env,
            request.terminal.is_some(),
            |name| std::env::var(name).ok(),
        );
        let argv = if plan.unset.is_empty() {
            request.command.argv().to_vec()
        } else {
            env::wrap(&self.config.env_program, &plan.unset, request.command.argv()).ok_or_else(
                || {
                    Error::unsupported(
                        "docker",
                        format!(
                            "removing environment variables for a program named `{}` (env would read it as an assignment or option)",
                            request.command.program()
                        ),
                    )
                },
            )?
        };
        match self.preflight(request, &plan) {
            Ok(()) => {}
            // A probe removed behind our back answers "not found" for
            // everything: make a new one and check again.
            Err(Error::ProgramNotFound { .. } | Error::WorkingDirectory { .. })
                if self.probe.replace_if_gone()? =>
            {
                self.preflight(request, &plan)?;
            }
            Err(error) => return Err(error),
        }
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed) + 1;
        let id = ProcessId::new(format!("docker-{}-{seq}", self.tag));
        let container = self.launch(request, &argv, &plan.vars, seq, &id)?;
        tracing::info!(%id, container = %container.container_id, program = request.command.program(), "spawned");
        self.containers.insert(container);
        Ok(id)
    }

    fn is_alive(&self, id: &ProcessId) -> Result<bool, Error> {
        Ok(self.containers.get(id)?.record.is_alive())
    }

    fn get_logs(&self, id: &ProcessId, tail: Option<usize>) -> Result<Logs, Error> {
        Ok(self.containers.get(id)?.record.logs(tail))
    }

    fn get_stream_logs(
        &self,
        id: &ProcessId,
        stream: Stream,
        tail: Option<usize>,
    ) -> Result<Logs, Error> {
        Ok(self.containers.get(id)?.record.stream_logs(stream, tail))
    }

    fn read_output(
        &self,
        id: &ProcessId,
        from: u64,
        timeout: Option<Duration>,
    ) -> Result<OutputRead, Error> {
        Ok(self.containers.get(id)?.record.read_output(from, timeout))
    }

    fn terminate(&self, id: &ProcessId, force: bool) -> Result<bool, Error> {
        let container = self.containers.get(id)?;
        let record = &container.record;
        if !record.is_alive() {
            return Ok(false);
        }
        if force {
            let killed = self.kill(&container, "SIGKILL")?;
            record.wait_exit(Instant::now() + KILL_WAIT);
            if killed {
                tracing::info!(%id, "terminated (forced)");
            }
            return Ok(killed);
        }
        let grace_ends = Instant::now() + record.grace;
        if !self.kill(&container, "SIGTERM")? {
            record.wait_exit(Instant::now() + KILL_WAIT);
            return Ok(false);
        }
        // A stopped process acts on SIGTERM only once continued.
        let _ = self.kill(&container, "SIGCONT");
        tracing::info!(%id, grace = ?record.grace, "terminating");
        if !record.wait_exit(grace_ends) && self.kill(&container, "SIGKILL")? {
            tracing::info!(%id, "grace period over; killed");
        }
        record.wait_exit(Instant::now() + KILL_WAIT);
        Ok(true)
    }

    fn wait(&self, id: &ProcessId, timeout: Option<Duration>) -> Result<Completion, Error> {
        // A container's processes end with it: no output can leak.
        self.containers.get(id)?.record.wait(timeout)
    }

    fn resize_terminal(&self, id: &ProcessId, size: TerminalSize) -> Result<(), Error> {
        let container = self.containers.get(id)?;
        // No terminal, or nobody left on it.
        if !container.on_terminal || !container.record.is_alive() {
            return Err(Error::StdinClosed { id: id.clone() });
        }
        let resize = format!(
            "/containers/{}/resize?h={}&w={}",
            container.container_id, size.rows, size.cols
        );
        self.engine
            .call("POST", &resize, None)
            .map(|_| ())
            .map_err(|error| {
                Error::backend("docker", format!("resizing the terminal of `{id}`"), error)
            })
    }

    fn write_stdin(&self, id: &ProcessId, data: &[u8]) -> Result<(), Error> {
        let container = self.containers.get(id)?;
        let mut stdin = container
            .stdin
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(writer) = stdin.as_mut() else {
            return Err(Error::StdinClosed { id: id.clone() });
        };
        match writer.write_all(data).and_then(|()| writer.flush()) {
            Ok(()) => Ok(()),
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::BrokenPipe
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::NotConnected
                ) =>
            {
                *stdin = None;
                Err(Error::StdinClosed { id: id.clone() })
            }
            Err(error) => Err(Error::io(format!("writing to the stdin of `{id}`"), error)),
        }
    }

    fn close_stdin(&self, id: &ProcessId) -> Result<(), Error> {
        let container = self.containers.get(id)?;
        let mut stdin = container
            .stdin
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if stdin.is_some()
            && container.durable
            && !container.on_terminal
            && container.record.is_alive()
        {
            // The engine ends a container's stdin only when an attach
            // connection ends and the container was created with
            // `StdinOnce`, which would end a durable container's input
            // with its runtime.
            return Err(Error::unsupported(
                "docker",
                "closing the stdin of a durable container (the engine cannot end it without ending it whenever the runtime goes away)",
            ));
        }
        if let Some(mut writer) = stdin.take() {
            if container.on_terminal {
                // A terminal has no end-of-file to close; its line
                // discipline turns Ctrl-D at the start of a line into one.
                // The connection stays open: with a terminal, the engine
                // ends the whole attach stream (output too) when its input
                // ends.
                let _ = writer.write_all(b"\x04");
                *container
                    .parked
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(writer);
            } else {
                let _ = writer.shutdown();
            }
        }
        Ok(())
    }

    fn info(&self, id: &ProcessId) -> Result<ProcessInfo, Error> {
        let container = self.containers.get(id)?;
        Ok(container.record.info(container.host_pid(&self.engine)))
    }

    fn list(&self, selector: &Labels) -> Result<Vec<ProcessInfo>, Error> {
        Ok(self
            .containers
            .list(selector, |container| container.host_pid(&self.engine)))
    }

    fn remove(&self, id: &ProcessId) -> Result<(), Error> {
        let container = self.containers.get(id)?;
        if container.record.is_alive() {
            return Err(Error::StillRunning { id: id.clone() });
        }
        self.delete(&container.container_id).map_err(|error| {
            engine_error(self.engine.host(), error, || {
                format!("removing the container of `{id}`")
            })
        })?;
        container.abandon();
        container.join_reader(Instant::now() + JOIN_WAIT);
        self.containers.remove(id);
        container.record.discard();
        for slot in [&container.stdin, &container.parked] {
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
        Ok(())
    }
}

impl Drop for DockerRuntime {
    fn drop(&mut self) {
        let (durable, containers): (Vec<_>, Vec<_>) = self
            .containers
            .drain()
            .into_iter()
            .partition(|container| container.durable);
        // Durable containers stay, running or not, for a later runtime to
        // adopt: only this runtime's connections to them end.
        for container in &durable {
            container.abandon();
        }
        // Politely first: SIGTERM (and SIGCONT) to every running container
        // at once; each then gets its own grace period, measured from now,
        // before SIGKILL.
        let started = Instant::now();
        let mut running: Vec<&Arc<Container>> = containers
            .iter()
            .filter(|container| container.record.is_alive())
            .collect();
        if !running.is_empty() {
            tracing::info!(
                running = running.len(),
                "runtime dropped; stopping its containers"
            );
        }
        for container in &running {
            if matches!(self.kill(container, "SIGTERM"), Ok(true)) {
                let _ = self.kill(container, "SIGCONT");
            }
        }
        running.sort_by_key(|container| container.record.grace);
        for container in &running {
            if !container.record.wait_exit(started + container.record.grace) {
                let _ = self.kill(container, "SIGKILL");
            }
        }
        let reported_by = Instant::now() + KILL_WAIT;
        for container in &running {
            container.record.wait_exit(reported_by);
        }
        // Then remove every container, exited or not (force kills what is
        // somehow still running), and the probe.
        for container in &containers {
            container.abandon();
            if let Err(error) = self.delete(&container.container_id) {
                tracing::warn!(id = %container.record.id, %error, "cannot remove a container");
            }
        }
        self.probe.remove();
        let joined_by = Instant::now() + JOIN_WAIT;
        for container in containers.iter().chain(&durable) {
            container.join_reader(joined_by);
        }
    }
}

/// Milliseconds since the Unix epoch (0 before it).
pub(crate) fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |elapsed| {
        u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
    })
}
