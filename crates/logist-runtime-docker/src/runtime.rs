//! `DockerRuntime`: the `Runtime` contract for processes in containers.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use logist_core::{
    Completion, Error, Labels, Logs, OutputRead, ProcessId, ProcessInfo, Runtime, SpawnRequest,
    StdinMode, Stream,
};

use crate::buffer::OutputBuffer;
use crate::container::{Container, State};
use crate::engine::{Engine, EngineError, PathStat};
use crate::env;
use crate::host::{DockerHost, unavailable};
use crate::http::encode;

/// Most bytes one `read_output` call returns.
const MAX_READ: usize = 1024 * 1024;
/// How long `terminate` waits for the engine to report the exit after
/// SIGKILL (tearing a container down takes the engine a moment).
const KILL_WAIT: Duration = Duration::from_secs(30);
/// How long removal and drop wait for a reader thread to finish.
const JOIN_WAIT: Duration = Duration::from_secs(10);
/// Symbolic links followed when checking a program.
const MAX_LINKS: usize = 16;

/// The directory where [`DockerRuntimeBuilder::program`] makes host
/// programs available (on the default `PATH` of every image).
pub const PROGRAM_DIR: &str = "/usr/local/bin";

/// The label every container of a runtime carries, valued with the
/// runtime's random tag (see [`DockerRuntime::tag`]).
pub const RUNTIME_LABEL: &str = "logist.runtime";

/// The label with the [`ProcessId`] of the container's process.
pub const PROCESS_LABEL: &str = "logist.process";

/// Settings of a [`DockerRuntime`]; start with [`DockerRuntime::builder`].
///
/// Every container gets the engine's init as its PID 1 (`Init: true`), no
/// network unless [`network`](Self::network) says otherwise, and no log
/// driver (output is read live from the attach stream; see the crate
/// docs).
#[derive(Clone, Debug)]
pub struct DockerRuntimeBuilder {
    image: String,
    host: Option<DockerHost>,
    ssh_program: PathBuf,
    grace: Duration,
    output_cap: usize,
    network: String,
    user: Option<String>,
    workspace: Option<(PathBuf, PathBuf)>,
    mounts: Vec<(PathBuf, PathBuf)>,
    working_dir: Option<PathBuf>,
    memory: Option<u64>,
    cpus: Option<f64>,
    pids_limit: Option<i64>,
    labels: Labels,
    pull: bool,
    env_program: String,
}

impl DockerRuntimeBuilder {
    fn new(image: String) -> Self {
        Self {
            image,
            host: None,
            ssh_program: PathBuf::from("ssh"),
            grace: Duration::from_secs(5),
            output_cap: 8 * 1024 * 1024,
            network: "none".to_owned(),
            user: None,
            workspace: None,
            mounts: Vec::new(),
            working_dir: None,
            memory: None,
            cpus: None,
            pids_limit: None,
            labels: Labels::new(),
            pull: false,
            env_program: "/usr/bin/env".to_owned(),
        }
    }

    /// The engine to use; by default the one `DOCKER_HOST` names (see
    /// [`DockerHost::from_env`]).
    #[must_use]
    pub fn host(mut self, host: DockerHost) -> Self {
        self.host = Some(host);
        self
    }

    /// The ssh client run for `ssh://` hosts (`ssh` on `PATH`).
    #[must_use]
    pub fn ssh_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.ssh_program = program.into();
        self
    }

    /// Default grace period between SIGTERM and SIGKILL (5 s). A
    /// [`SpawnRequest::grace`] overrides it per process.
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Bytes of output kept in memory per container (8 MiB); past it the
    /// oldest bytes are dropped and counted.
    #[must_use]
    pub fn output_cap(mut self, bytes: usize) -> Self {
        self.output_cap = bytes;
        self
    }

    /// The container's network mode (`none`, the default: no network at
    /// all; `bridge`, `host`, or a network's name).
    #[must_use]
    pub fn network(mut self, mode: impl Into<String>) -> Self {
        self.network = mode.into();
        self
    }

    /// The user (and group) processes run as: `1000`, `1000:1000`, `agent`
    /// (the image's default otherwise).
    #[must_use]
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// The job's workspace: the host directory `host_dir` (on the engine's
    /// machine) mounted **read-write** at `container_dir`, which becomes
    /// the default working directory. Every other mount is read-only.
    #[must_use]
    pub fn workspace(
        mut self,
        host_dir: impl Into<PathBuf>,
        container_dir: impl Into<PathBuf>,
    ) -> Self {
        self.workspace = Some((host_dir.into(), container_dir.into()));
        self
    }

    /// Mounts `host_path` (a file or directory on the engine's machine)
    /// **read-only** at `container_path`.
    #[must_use]
    pub fn mount(
        mut self,
        host_path: impl Into<PathBuf>,
        container_path: impl Into<PathBuf>,
    ) -> Self {
        self.mounts.push((host_path.into(), container_path.into()));
        self
    }

    /// Makes the host executable `host_file` available in every container
    /// as `/usr/local/bin/<its file name>` ([`PROGRAM_DIR`]), read-only.
    /// For an image without a C library the program must be statically
    /// linked. This is how tests run `logist-mock-agent` in a minimal
    /// image.
    #[must_use]
    pub fn program(self, host_file: impl Into<PathBuf>) -> Self {
        let host_file = host_file.into();
        let name = host_file.file_name().map(PathBuf::from).unwrap_or_default();
        self.mount(host_file.clone(), Path::new(PROGRAM_DIR).join(name))
    }

    /// The working directory of a request without one (the workspace when
    /// there is one, else the image's).
    #[must_use]
    pub fn working_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.working_dir = Some(dir.into());
        self
    }

    /// Memory limit per container, in bytes (swap included: no swap
    /// beyond it). A container that exceeds it is killed by the kernel
    /// and reported as killed by SIGKILL.
    #[must_use]
    pub fn memory(mut self, bytes: u64) -> Self {
        self.memory = Some(bytes);
        self
    }

    /// CPU limit per container, in CPUs (`0.5` is half of one).
    #[must_use]
    pub fn cpus(mut self, cpus: f64) -> Self {
        self.cpus = Some(cpus);
        self
    }

    /// Most processes (and threads) alive at once in each container.
    #[must_use]
    pub fn pids_limit(mut self, limit: i64) -> Self {
        self.pids_limit = Some(limit);
        self
    }

    /// A label added to every container of the runtime (beside each
    /// request's labels, which win on conflicts).
    #[must_use]
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Pull the image when the engine does not have it (off by default:
    /// a missing image is an error that says so).
    #[must_use]
    pub fn pull(mut self, pull: bool) -> Self {
        self.pull = pull;
        self
    }

    /// The `env` program in the image, used to remove variables the engine
    /// always sets when a request's environment is clean or unsets names
    /// (`/usr/bin/env`).
    #[must_use]
    pub fn env_program(mut self, path: impl Into<String>) -> Self {
        self.env_program = path.into();
        self
    }

    /// Connects to the engine, checks the image and the mounts, and
    /// returns the runtime.
    ///
    /// This makes a few calls to the engine: the API version, the image,
    /// and the creation of a *probe* container (never started, removed
    /// with the runtime) in which spawns check programs and directories
    /// before creating anything.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when `DOCKER_HOST` is invalid, the engine
    /// cannot be reached or is too old, the image is missing (and pulling
    /// is off or fails), or a mount cannot be used; each says how to fix
    /// it.
    pub fn build(self) -> Result<DockerRuntime, Error> {
        let host = match &self.host {
            Some(host) => host.clone(),
            None => DockerHost::from_env()?,
        };
        self.check_mounts()?;
        let engine = Engine::connect(host.clone(), self.ssh_program.clone())
            .map_err(|error| connect_error(&host, error))?;
        let engine = Arc::new(engine);
        let image = inspect_image(&engine, &self)?;
        // 48 random bits per runtime: ids and names never repeat across
        // instances or restarts of the program.
        let tag = format!(
            "{:012x}",
            RandomState::new().hash_one(SystemTime::now()) >> 16
        );
        let runtime = DockerRuntime {
            engine,
            tag,
            image_env: image.env,
            image_working_dir: image.working_dir,
            probe_repair: Mutex::new(()),
            probe: Mutex::new(String::new()),
            env_program_present: AtomicBool::new(false),
            stat_cache: Mutex::new(HashMap::new()),
            next_seq: AtomicU64::new(0),
            containers: RwLock::new(HashMap::new()),
            config: self,
        };
        runtime.create_probe()?;
        let env_program = runtime.config.env_program.clone();
        let present = matches!(runtime.resolve(&env_program)?, Check::Found);
        runtime
            .env_program_present
            .store(present, Ordering::Relaxed);
        tracing::info!(host = %runtime.engine.host(), image = %runtime.config.image, api = runtime.engine.api_version(), tag = %runtime.tag, "docker runtime ready");
        Ok(runtime)
    }

    fn check_mounts(&self) -> Result<(), Error> {
        let all = self.workspace.iter().chain(&self.mounts);
        for (source, target) in all {
            if !source.is_absolute() {
                return Err(unavailable(
                    format!(
                        "mount source `{}` is not an absolute path",
                        source.display()
                    ),
                    "give mount sources as absolute paths on the engine's machine",
                ));
            }
            if !target.is_absolute() {
                return Err(unavailable(
                    format!(
                        "mount target `{}` is not an absolute path",
                        target.display()
                    ),
                    "give mount targets as absolute paths inside the container",
                ));
            }
        }
        if let Some(dir) = &self.working_dir
            && !dir.is_absolute()
        {
            return Err(unavailable(
                format!(
                    "working directory `{}` is not an absolute path",
                    dir.display()
                ),
                "give the default working directory as an absolute path inside the container",
            ));
        }
        Ok(())
    }

    /// Every mount as `(source, target, read_only)`.
    fn all_mounts(&self) -> Vec<(&Path, &Path, bool)> {
        let workspace = self
            .workspace
            .iter()
            .map(|(source, target)| (source.as_path(), target.as_path(), false));
        let others = self
            .mounts
            .iter()
            .map(|(source, target)| (source.as_path(), target.as_path(), true));
        workspace.chain(others).collect()
    }

    fn mounts_json(&self) -> Value {
        let mounts: Vec<Value> = self
            .all_mounts()
            .into_iter()
            .map(|(source, target, read_only)| {
                json!({
                    "Type": "bind",
                    "Source": source.to_string_lossy(),
                    "Target": target.to_string_lossy(),
                    "ReadOnly": read_only,
                })
            })
            .collect();
        Value::Array(mounts)
    }

    fn default_cwd(&self) -> Option<&Path> {
        self.working_dir
            .as_deref()
            .or(self.workspace.as_ref().map(|(_, target)| target.as_path()))
    }
}

/// Runs processes in containers of one image on a Docker (or Podman)
/// engine, under the [`Runtime`] contract.
///
/// Each process is one container, created, attached and started through
/// the Engine API: the engine's init runs as PID 1 and passes signals on,
/// stdout and stderr stream live from the attach connection into a
/// bounded buffer, and the exit status comes from one `wait` per container
/// when its output ends. Removing a process removes its container;
/// dropping the runtime stops and removes every container it owns.
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
    engine: Arc<Engine>,
    config: DockerRuntimeBuilder,
    tag: String,
    image_env: BTreeMap<String, String>,
    /// The image's working directory, when it sets one.
    image_working_dir: Option<PathBuf>,
    /// Held while a vanished probe is replaced.
    probe_repair: Mutex<()>,
    /// The probe container's id.
    probe: Mutex<String>,
    env_program_present: AtomicBool,
    /// File facts of image paths (outside every mount), which cannot
    /// change for the runtime's image.
    stat_cache: Mutex<HashMap<String, Option<PathStat>>>,
    next_seq: AtomicU64,
    containers: RwLock<HashMap<ProcessId, Arc<Container>>>,
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

/// What checking a program's path found.
enum Check {
    Found,
    Missing,
    NotExecutable(io::Error),
}

impl DockerRuntime {
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
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The engine's id of the container running process `id`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProcess`].
    pub fn container_id(&self, id: &ProcessId) -> Result<String, Error> {
        Ok(self.get(id)?.container_id.clone())
    }

    fn get(&self, id: &ProcessId) -> Result<Arc<Container>, Error> {
        self.containers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
            .ok_or_else(|| Error::unknown(id))
    }

    fn with_state<T>(
        &self,
        id: &ProcessId,
        f: impl FnOnce(&Container, &State) -> T,
    ) -> Result<T, Error> {
        let container = self.get(id)?;
        let state = container.lock();
        Ok(f(&container, &state))
    }

    /// The labels every container of this runtime carries.
    fn own_labels(&self) -> Labels {
        let mut labels = self.config.labels.clone();
        labels.insert(RUNTIME_LABEL.to_owned(), self.tag.clone());
        labels
    }

    /// Creates the probe container: the image with the runtime's mounts,
    /// never started, where paths are checked before a spawn.
    fn create_probe(&self) -> Result<(), Error> {
        let mut labels = self.own_labels();
        labels.insert("logist.probe".to_owned(), "1".to_owned());
        let body = json!({
            "Image": self.config.image,
            "Entrypoint": ["/logist-probe-is-never-started"],
            "Labels": labels,
            "HostConfig": {
                "NetworkMode": "none",
                "Mounts": self.config.mounts_json(),
                "LogConfig": {"Type": "none", "Config": {}},
            },
        });
        let name = format!("logist-{}-probe", self.tag);
        let reply = self
            .engine
            .call(
                "POST",
                &format!("/containers/create?name={}", encode(&name)),
                Some(&body),
            )
            .map_err(|error| match error.status() {
                Some(404) => missing_image(&self.config.image, self.engine.host()),
                Some(400 | 500) if mount_problem(&error) => unavailable(
                    format!(
                        "a mount cannot be used: {}",
                        error.message().unwrap_or_default()
                    ),
                    "check that every mount source exists on the engine's machine",
                ),
                _ => self.engine_error(error, || "creating the probe container".to_owned()),
            })?;
        let id = reply.json()["Id"].as_str().unwrap_or_default().to_owned();
        *self.probe.lock().unwrap_or_else(PoisonError::into_inner) = id;
        self.stat_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        Ok(())
    }

    /// Makes a new probe when the current one is gone (once, however many
    /// threads find it gone at the same time).
    fn replace_probe(&self) -> Result<(), Error> {
        let _repairing = self
            .probe_repair
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if self.probe_exists() {
            return Ok(());
        }
        tracing::warn!("the probe container disappeared; making a new one");
        self.create_probe()
    }

    fn probe_exists(&self) -> bool {
        let probe = self
            .probe
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        self.engine
            .call("GET", &format!("/containers/{probe}/json"), None)
            .is_ok()
    }

    /// Maps an engine failure outside `spawn`: unreachable engine →
    /// `Unavailable`, anything else → `Io` with `context`.
    fn engine_error(&self, error: EngineError, context: impl FnOnce() -> String) -> Error {
        match error {
            EngineError::Connect { .. } => connect_error(self.engine.host(), error),
            other => Error::io(context(), other.into_io()),
        }
    }

    /// File facts of `path` in the image with the runtime's mounts,
    /// following symbolic links.
    fn stat(&self, path: &str) -> Result<Option<PathStat>, Error> {
        let mut path = path.to_owned();
        for _ in 0..MAX_LINKS {
            let stat = self.stat_once(&path)?;
            match stat {
                Some(PathStat {
                    link_target: Some(target),
                    ..
                }) if stat.as_ref().is_some_and(PathStat::is_symlink) => path = target,
                other => return Ok(other),
            }
        }
        Ok(None)
    }

    fn stat_once(&self, path: &str) -> Result<Option<PathStat>, Error> {
        let cacheable = !self
            .config
            .all_mounts()
            .iter()
            .any(|(_, target, _)| Path::new(path).starts_with(target));
        if cacheable
            && let Some(known) = self
                .stat_cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(path)
        {
            return Ok(known.clone());
        }
        let probe = self
            .probe
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let stat = self.engine.stat(&probe, path).map_err(|error| {
            self.engine_error(error, || format!("checking `{path}` in the image"))
        })?;
        if cacheable {
            self.stat_cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(path.to_owned(), stat.clone());
        }
        Ok(stat)
    }

    /// Whether `path` is an executable file.
    fn resolve(&self, path: &str) -> Result<Check, Error> {
        Ok(match self.stat(path)? {
            None => Check::Missing,
            Some(stat) if stat.is_dir() => Check::NotExecutable(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("`{path}` is a directory"),
            )),
            Some(stat) if stat.is_file() && stat.is_executable() => Check::Found,
            Some(_) => Check::NotExecutable(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("`{path}` has no execute permission"),
            )),
        })
    }

    /// Looks `program` up the way `execvp` will in the container.
    fn check_program(&self, program: &str, search_path: &str, cwd: &Path) -> Result<(), Error> {
        let not_executable = |source| Error::NotExecutable {
            program: program.to_owned(),
            source,
        };
        let not_found = || Error::ProgramNotFound {
            program: program.to_owned(),
        };
        if program.contains('/') {
            let path = cwd.join(program);
            return match self.resolve(&path.to_string_lossy())? {
                Check::Found => Ok(()),
                Check::Missing => Err(not_found()),
                Check::NotExecutable(source) => Err(not_executable(source)),
            };
        }
        let mut denied = None;
        for dir in search_path.split(':') {
            let dir = if dir.is_empty() { cwd } else { Path::new(dir) };
            if !dir.is_absolute() {
                continue;
            }
            match self.resolve(&dir.join(program).to_string_lossy())? {
                Check::Found => return Ok(()),
                Check::Missing => {}
                Check::NotExecutable(source) => {
                    denied.get_or_insert(source);
                }
            }
        }
        match denied {
            Some(source) => Err(not_executable(source)),
            None => Err(not_found()),
        }
    }

    fn check_dir(&self, dir: &Path) -> Result<(), Error> {
        let fail = |source| Error::WorkingDirectory {
            path: dir.to_path_buf(),
            source,
        };
        if !dir.is_absolute() {
            return Err(fail(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a container's working directory must be an absolute path",
            )));
        }
        match self.stat(&dir.to_string_lossy())? {
            None => Err(fail(io::Error::new(
                io::ErrorKind::NotFound,
                "no such directory in the container",
            ))),
            Some(stat) if !stat.is_dir() => Err(fail(io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a directory",
            ))),
            Some(_) => Ok(()),
        }
    }

    /// The checks of a spawn that need the probe: the working directory,
    /// the program, the `env` wrapper.
    fn preflight(&self, request: &SpawnRequest, plan: &env::EnvPlan) -> Result<(), Error> {
        let cwd = request.cwd.as_deref().or(self.config.default_cwd());
        if let Some(dir) = cwd {
            self.check_dir(dir)?;
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
        self.check_program(
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
    ) -> Value {
        let mut labels = self.config.labels.clone();
        labels.extend(request.labels.clone());
        labels.insert(RUNTIME_LABEL.to_owned(), self.tag.clone());
        labels.insert(PROCESS_LABEL.to_owned(), id.to_string());
        let stdin = request.stdin == StdinMode::Piped || request.terminal.is_some();
        let mut host_config = json!({
            "Init": true,
            "NetworkMode": self.config.network,
            "Mounts": self.config.mounts_json(),
            "LogConfig": {"Type": "none", "Config": {}},
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
            "StdinOnce": stdin,
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
        let call = format!(
            "/containers/{}/kill?signal={signal}",
            container.container_id
        );
        match self.engine.call("POST", &call, None) {
            Ok(_) => Ok(true),
            Err(error) if matches!(error.status(), Some(404 | 409)) => Ok(false),
            Err(error) => Err(self.engine_error(error, || {
                format!("sending {signal} to process `{}`", container.id)
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
        argv: Vec<String>,
        vars: &[String],
        seq: u64,
        id: &ProcessId,
    ) -> Result<Arc<Container>, Error> {
        let program = request.command.program();
        let spawn_error = |error: EngineError| match error {
            EngineError::Connect { .. } => connect_error(self.engine.host(), error),
            EngineError::Status { status: 404, .. }
                if error.message().is_some_and(|m| m.contains("image")) =>
            {
                missing_image(&self.config.image, self.engine.host())
            }
            other => Error::Spawn {
                program: program.to_owned(),
                source: other.into_io(),
            },
        };
        let body = self.create_body(request, &argv, vars, id);
        let name = format!("logist-{}-{seq}", self.tag);
        let reply = self
            .engine
            .call(
                "POST",
                &format!("/containers/create?name={}", encode(&name)),
                Some(&body),
            )
            .map_err(spawn_error)?;
        let container_id = reply.json()["Id"].as_str().unwrap_or_default().to_owned();
        let discard = |container: Option<&Container>| {
            if let Some(container) = container {
                container.abandon();
            }
            if let Err(error) = self.delete(&container_id) {
                tracing::warn!(%id, %error, "cannot remove the container of a failed spawn");
            }
            if let Some(container) = container {
                container.join_reader(Instant::now() + JOIN_WAIT);
            }
        };

        let stdin_open = request.stdin == StdinMode::Piped || request.terminal.is_some();
        let mut attach = format!("/containers/{container_id}/attach?stream=1&stdout=1&stderr=1");
        if stdin_open {
            attach.push_str("&stdin=1");
        }
        let connection = match self.engine.upgrade(&attach) {
            Ok(connection) => connection,
            Err(error) => {
                discard(None);
                return Err(spawn_error(error));
            }
        };
        let container = Arc::new(Container {
            id: id.clone(),
            seq,
            container_id: container_id.clone(),
            command: request.command.clone(),
            labels: request.labels.clone(),
            started_at: SystemTime::now(),
            grace: request.grace.unwrap_or(self.config.grace),
            on_terminal: request.terminal.is_some(),
            state: Mutex::new(State {
                buffer: OutputBuffer::new(self.config.output_cap),
                status: None,
                output_done: false,
                reader_done: false,
            }),
            changed: Condvar::new(),
            stdin: Mutex::new(None),
            parked: Mutex::new(None),
            breaker: Mutex::new(None),
            reader: Mutex::new(None),
            abandoned: AtomicBool::new(false),
        });
        let slot = if stdin_open {
            &container.stdin
        } else {
            &container.parked
        };
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(connection.writer);
        if let Err(error) = container.start_reader(
            Arc::clone(&self.engine),
            connection.reader,
            request.terminal.is_some(),
        ) {
            discard(Some(&container));
            return Err(Error::io("starting a reader thread", error));
        }
        if let Err(error) =
            self.engine
                .call("POST", &format!("/containers/{container_id}/start"), None)
        {
            discard(Some(&container));
            return Err(spawn_error(error));
        }
        if let Some(size) = request.terminal {
            let resize = format!(
                "/containers/{container_id}/resize?h={}&w={}",
                size.rows, size.cols
            );
            if let Err(error) = self.engine.call("POST", &resize, None) {
                tracing::debug!(%id, %error, "cannot size the terminal");
            }
        }
        Ok(container)
    }
}

/// `Unavailable` for an engine that cannot be reached.
fn connect_error(host: &DockerHost, error: EngineError) -> Error {
    let reason = match &error {
        EngineError::Status { message, .. } => {
            format!("the engine at {host} cannot be used: {message}")
        }
        _ => format!("cannot reach the engine at {host}"),
    };
    Error::Unavailable {
        runtime: "docker".to_owned(),
        reason,
        fix: "start the Docker engine (dockerd) or Podman's API service, or point DOCKER_HOST at a running one".to_owned(),
        source: Some(Box::new(error)),
    }
}

fn missing_image(image: &str, host: &DockerHost) -> Error {
    unavailable(
        format!("image `{image}` is not on the engine at {host}"),
        format!(
            "pull or build it first (`docker pull {image}`), or enable pulling with DockerRuntimeBuilder::pull(true)"
        ),
    )
}

fn mount_problem(error: &EngineError) -> bool {
    error
        .message()
        .is_some_and(|message| message.contains("mount") || message.contains("bind source"))
}

/// What the runtime needs to know about its image.
struct ImageFacts {
    env: BTreeMap<String, String>,
    working_dir: Option<PathBuf>,
}

/// The image's environment and working directory, pulling the image first
/// when allowed.
fn inspect_image(engine: &Engine, config: &DockerRuntimeBuilder) -> Result<ImageFacts, Error> {
    let inspect = format!("/images/{}/json", encode(&config.image));
    let reply = match engine.call("GET", &inspect, None) {
        Ok(reply) => reply,
        Err(error) if error.status() == Some(404) && config.pull => {
            pull(engine, &config.image)?;
            engine
                .call("GET", &inspect, None)
                .map_err(|_| missing_image(&config.image, engine.host()))?
        }
        Err(error) if error.status() == Some(404) => {
            return Err(missing_image(&config.image, engine.host()));
        }
        Err(error) => return Err(connect_error(engine.host(), error)),
    };
    let json = reply.json();
    let env = json["Config"]["Env"]
        .as_array()
        .map(|vars| {
            vars.iter()
                .filter_map(Value::as_str)
                .filter_map(|var| var.split_once('='))
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let working_dir = json["Config"]["WorkingDir"]
        .as_str()
        .filter(|dir| dir.starts_with('/'))
        .map(PathBuf::from);
    Ok(ImageFacts { env, working_dir })
}

/// Pulls `image`; the engine streams progress and reports failure inside
/// the stream.
fn pull(engine: &Engine, image: &str) -> Result<(), Error> {
    // `name:tag`, `registry:port/name`, or `name@sha256:…` (no tag).
    let call = match image.rsplit_once(':') {
        _ if image.contains('@') => format!("/images/create?fromImage={}", encode(image)),
        Some((name, tag)) if !tag.contains('/') => format!(
            "/images/create?fromImage={}&tag={}",
            encode(name),
            encode(tag)
        ),
        _ => format!("/images/create?fromImage={}&tag=latest", encode(image)),
    };
    let failed = |message: String| {
        unavailable(
            format!("pulling image `{image}` failed: {message}"),
            "check the image name and that the engine can reach its registry",
        )
    };
    let reply = engine
        .call_unbounded("POST", &call, None)
        .map_err(|error| failed(error.to_string()))?;
    let text = String::from_utf8_lossy(&reply.body);
    for line in text.lines() {
        let event: Value = serde_json::from_str(line).unwrap_or(Value::Null);
        if let Some(message) = event["error"].as_str() {
            return Err(failed(message.to_owned()));
        }
    }
    tracing::info!(image, "pulled");
    Ok(())
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
                if !self.probe_exists() =>
            {
                self.replace_probe()?;
                self.preflight(request, &plan)?;
            }
            Err(error) => return Err(error),
        }
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed) + 1;
        let id = ProcessId::new(format!("docker-{}-{seq}", self.tag));
        let container = self.launch(request, argv, &plan.vars, seq, &id)?;
        tracing::info!(%id, container = %container.container_id, program = request.command.program(), "spawned");
        self.containers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), container);
        Ok(id)
    }

    fn is_alive(&self, id: &ProcessId) -> Result<bool, Error> {
        self.with_state(id, |_, state| state.status.is_none())
    }

    fn get_logs(&self, id: &ProcessId, tail: Option<usize>) -> Result<Logs, Error> {
        self.with_state(id, |_, state| state.buffer.logs(tail))
    }

    fn get_stream_logs(
        &self,
        id: &ProcessId,
        stream: Stream,
        tail: Option<usize>,
    ) -> Result<Logs, Error> {
        self.with_state(id, |_, state| state.buffer.stream_logs(stream, tail))
    }

    fn read_output(
        &self,
        id: &ProcessId,
        from: u64,
        timeout: Option<Duration>,
    ) -> Result<OutputRead, Error> {
        let container = self.get(id)?;
        let deadline = timeout.map(|timeout| Instant::now() + timeout);
        let state = container.lock();
        let (state, _) =
            container.wait_until(state, deadline, |s| s.buffer.end() > from || s.output_done);
        let (chunks, next, missed) = state.buffer.read_from(from, MAX_READ);
        let finished = state.output_done && next >= state.buffer.end();
        Ok(OutputRead::new(chunks, next, missed, finished))
    }

    fn terminate(&self, id: &ProcessId, force: bool) -> Result<bool, Error> {
        let container = self.get(id)?;
        if container.lock().status.is_some() {
            return Ok(false);
        }
        if force {
            let killed = self.kill(&container, "SIGKILL")?;
            container.wait_exit(Instant::now() + KILL_WAIT);
            if killed {
                tracing::info!(%id, "terminated (forced)");
            }
            return Ok(killed);
        }
        let grace_ends = Instant::now() + container.grace;
        if !self.kill(&container, "SIGTERM")? {
            container.wait_exit(Instant::now() + KILL_WAIT);
            return Ok(false);
        }
        // A stopped process acts on SIGTERM only once continued.
        let _ = self.kill(&container, "SIGCONT");
        tracing::info!(%id, grace = ?container.grace, "terminating");
        if !container.wait_exit(grace_ends) && self.kill(&container, "SIGKILL")? {
            tracing::info!(%id, "grace period over; killed");
        }
        container.wait_exit(Instant::now() + KILL_WAIT);
        Ok(true)
    }

    fn wait(&self, id: &ProcessId, timeout: Option<Duration>) -> Result<Completion, Error> {
        let container = self.get(id)?;
        let deadline = timeout.map(|timeout| Instant::now() + timeout);
        let state = container.lock();
        let (state, done) =
            container.wait_until(state, deadline, |s| s.status.is_some() && s.output_done);
        match (done, state.status) {
            // A container's processes end with it: no output can leak.
            (true, Some(status)) => Ok(Completion::new(status, state.buffer.logs(None), false)),
            _ => Err(Error::WaitTimeout {
                id: id.clone(),
                timeout: timeout.unwrap_or_default(),
            }),
        }
    }

    fn write_stdin(&self, id: &ProcessId, data: &[u8]) -> Result<(), Error> {
        let container = self.get(id)?;
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
        let container = self.get(id)?;
        let mut stdin = container
            .stdin
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
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
        self.with_state(id, |container, state| container.info(state))
    }

    fn list(&self, selector: &Labels) -> Result<Vec<ProcessInfo>, Error> {
        let mut containers: Vec<Arc<Container>> = self
            .containers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        containers.sort_by_key(|container| container.seq);
        Ok(containers
            .iter()
            .map(|container| container.info(&container.lock()))
            .filter(|info| info.matches(selector))
            .collect())
    }

    fn remove(&self, id: &ProcessId) -> Result<(), Error> {
        let container = self.get(id)?;
        if container.lock().status.is_none() {
            return Err(Error::StillRunning { id: id.clone() });
        }
        self.delete(&container.container_id).map_err(|error| {
            self.engine_error(error, || format!("removing the container of `{id}`"))
        })?;
        container.abandon();
        container.join_reader(Instant::now() + JOIN_WAIT);
        self.containers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
        let mut state = container.lock();
        state.buffer.clear();
        state.output_done = true;
        drop(state);
        container.changed.notify_all();
        for slot in [&container.stdin, &container.parked] {
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
        Ok(())
    }
}

impl Drop for DockerRuntime {
    fn drop(&mut self) {
        let containers: Vec<Arc<Container>> = self
            .containers
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, container)| container)
            .collect();
        // Politely first: SIGTERM (and SIGCONT) to every running container
        // at once; each then gets its own grace period, measured from now,
        // before SIGKILL.
        let started = Instant::now();
        let mut running: Vec<&Arc<Container>> = containers
            .iter()
            .filter(|container| container.lock().status.is_none())
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
        running.sort_by_key(|container| container.grace);
        for container in &running {
            if !container.wait_exit(started + container.grace) {
                let _ = self.kill(container, "SIGKILL");
            }
        }
        let reported_by = Instant::now() + KILL_WAIT;
        for container in &running {
            container.wait_exit(reported_by);
        }
        // Then remove every container, exited or not (force kills what is
        // somehow still running), and the probe.
        for container in &containers {
            container.abandon();
            if let Err(error) = self.delete(&container.container_id) {
                tracing::warn!(id = %container.id, %error, "cannot remove a container");
            }
        }
        let probe = self
            .probe
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if !probe.is_empty()
            && let Err(error) = self.delete(&probe)
        {
            tracing::warn!(%error, "cannot remove the probe container");
        }
        let joined_by = Instant::now() + JOIN_WAIT;
        for container in &containers {
            container.join_reader(joined_by);
        }
    }
}
