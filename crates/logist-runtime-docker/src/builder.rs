//! [`DockerRuntimeBuilder`]: the settings of a runtime, and `build`, which
//! checks them against the engine (its API version, the image, the
//! mounts) before the runtime exists.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use logist_core::{Error, Labels};

use crate::engine::Engine;
use crate::error::{connect_error, missing_image, unavailable};
use crate::host::DockerHost;
use crate::http::encode;
use crate::probe::Probe;
use crate::runtime::{DockerRuntime, RUNTIME_LABEL};

/// The directory where [`DockerRuntimeBuilder::program`] makes host
/// programs available (on the default `PATH` of every image).
pub const PROGRAM_DIR: &str = "/usr/local/bin";

/// Settings of a [`DockerRuntime`]; start with [`DockerRuntime::builder`].
///
/// Every container gets the engine's init as its PID 1 (`Init: true`), no
/// network unless [`network`](Self::network) says otherwise, and no log
/// driver (output is read live from the attach stream; see the crate
/// docs).
#[derive(Clone, Debug)]
pub struct DockerRuntimeBuilder {
    pub(crate) image: String,
    host: Option<DockerHost>,
    ssh_program: PathBuf,
    pub(crate) grace: Duration,
    pub(crate) output_cap: usize,
    pub(crate) network: String,
    pub(crate) user: Option<String>,
    workspace: Option<(PathBuf, PathBuf)>,
    mounts: Vec<(PathBuf, PathBuf)>,
    working_dir: Option<PathBuf>,
    pub(crate) memory: Option<u64>,
    pub(crate) cpus: Option<f64>,
    pub(crate) pids_limit: Option<i64>,
    pub(crate) labels: Labels,
    pull: bool,
    pub(crate) env_program: String,
    adopt: bool,
}

impl DockerRuntimeBuilder {
    pub(crate) fn new(image: String) -> Self {
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
            adopt: false,
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
    /// [`SpawnRequest::grace`](logist_core::SpawnRequest::grace) overrides it per process.
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

    /// Adopt, when built, the durable containers an earlier runtime left on
    /// the engine (off by default): every container labelled
    /// [`DURABLE_LABEL`](crate::DURABLE_LABEL)`=true` that also carries
    /// each of this builder's [`label`](Self::label)s, running or exited.
    /// They keep their [`ProcessId`](logist_core::ProcessId)s, and every
    /// method serves them as if this runtime had started them: their
    /// output is replayed from the engine's log from offset 0 and then
    /// followed, their exit status comes from the engine, `write_stdin`
    /// reaches a running one whose stdin is piped.
    ///
    /// First, attached containers carrying the builder's labels whose
    /// owning process is gone (it was killed without dropping its runtime;
    /// judged on this machine only, by pid and start time) are removed.
    ///
    /// Give each owner a label of its own (`.label("owner", "svc-a")`):
    /// without labels, every durable Logist container on the engine is
    /// adopted. Two runtimes adopting the same containers at once both
    /// serve them; the engine has no lock to prevent it.
    #[must_use]
    pub fn adopt(mut self, adopt: bool) -> Self {
        self.adopt = adopt;
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
    /// it. With [`adopt`](Self::adopt), [`Error::Backend`] when the engine
    /// cannot list the containers (a container that cannot be adopted is
    /// skipped with a warning instead).
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
        let mut labels = self.labels.clone();
        labels.insert(RUNTIME_LABEL.to_owned(), tag.clone());
        let targets = self
            .all_mounts()
            .iter()
            .map(|(_, target, _)| target.to_path_buf())
            .collect();
        let probe = Probe::create(
            Arc::clone(&engine),
            &self.image,
            format!("logist-{tag}-probe"),
            &labels,
            self.mounts_json(),
            targets,
        )?;
        let adopt = self.adopt;
        // From here on a failure drops the runtime, which removes the probe.
        let runtime = DockerRuntime::assemble(engine, self, tag, image, probe);
        runtime.find_env_program()?;
        if adopt {
            let adopted = runtime.adopt_containers()?;
            tracing::info!(adopted, "adopted durable containers");
        }
        tracing::info!(
            host = %runtime.host(),
            image = runtime.image(),
            api = runtime.api_version(),
            tag = runtime.tag(),
            "docker runtime ready"
        );
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

    pub(crate) fn mounts_json(&self) -> Value {
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

    pub(crate) fn default_cwd(&self) -> Option<&Path> {
        self.working_dir
            .as_deref()
            .or(self.workspace.as_ref().map(|(_, target)| target.as_path()))
    }
}

/// What the runtime needs to know about its image.
pub(crate) struct ImageFacts {
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) working_dir: Option<PathBuf>,
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
