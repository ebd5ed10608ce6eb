//! The probe: a container of the runtime's image and mounts, created once
//! and never started, in which a spawn checks its working directory and
//! program before anything is created.
//!
//! The engine answers file questions about a container that is not
//! running (`HEAD /containers/{id}/archive`), mounts included. That is how
//! a missing program becomes `ProgramNotFound` rather than an exit code
//! 127 from the container's init, and a missing working directory an error
//! rather than a directory the engine would create. Facts about image
//! paths are cached (a container's files start as the image's); paths
//! under a mount are asked each time.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

use logist_core::Error;

use crate::engine::{Engine, PathStat};
use crate::error::{engine_error, missing_image, mount_problem, unavailable};
use crate::http::encode;

/// Symbolic links followed when checking a path.
const MAX_LINKS: usize = 16;

/// The label that marks a probe container.
pub(crate) const PROBE_LABEL: &str = "logist.probe";

/// What checking a program's path found.
pub(crate) enum Check {
    Found,
    Missing,
    NotExecutable(io::Error),
}

/// A never-started container to ask about paths.
pub(crate) struct Probe {
    engine: Arc<Engine>,
    image: String,
    name: String,
    /// The create request (image, mounts, labels), kept to make it again.
    body: Value,
    /// Paths under these are asked each time; others are cached.
    mount_targets: Vec<PathBuf>,
    /// The container's id.
    id: Mutex<String>,
    /// Held while a vanished probe is replaced.
    repair: Mutex<()>,
    cache: Mutex<HashMap<String, Option<PathStat>>>,
}

impl Probe {
    /// Creates the probe container.
    ///
    /// Errors are the runtime's build errors: a missing image or an
    /// unusable mount is `Unavailable` with the fix.
    pub(crate) fn create(
        engine: Arc<Engine>,
        image: &str,
        name: String,
        labels: &logist_core::Labels,
        mounts: Value,
        mount_targets: Vec<PathBuf>,
    ) -> Result<Self, Error> {
        let mut labels = labels.clone();
        labels.insert(PROBE_LABEL.to_owned(), "1".to_owned());
        let body = serde_json::json!({
            "Image": image,
            "Entrypoint": ["/logist-probe-is-never-started"],
            "Labels": labels,
            "HostConfig": {
                "NetworkMode": "none",
                "Mounts": mounts,
                "LogConfig": {"Type": "none", "Config": {}},
            },
        });
        let probe = Self {
            engine,
            image: image.to_owned(),
            name,
            body,
            mount_targets,
            id: Mutex::new(String::new()),
            repair: Mutex::new(()),
            cache: Mutex::new(HashMap::new()),
        };
        probe.create_container()?;
        Ok(probe)
    }

    fn create_container(&self) -> Result<(), Error> {
        let host = self.engine.host();
        let call = format!("/containers/create?name={}", encode(&self.name));
        let reply =
            self.engine
                .call("POST", &call, Some(&self.body))
                .map_err(|error| match error.status() {
                    Some(404) => missing_image(&self.image, host),
                    Some(400 | 500) if mount_problem(&error) => unavailable(
                        format!(
                            "a mount cannot be used: {}",
                            error.message().unwrap_or_default()
                        ),
                        "check that every mount source exists on the engine's machine",
                    ),
                    _ => engine_error(host, error, || "creating the probe container".to_owned()),
                })?;
        let id = reply.json()["Id"].as_str().unwrap_or_default().to_owned();
        *self.id.lock().unwrap_or_else(PoisonError::into_inner) = id;
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        Ok(())
    }

    fn id(&self) -> String {
        self.id
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn exists(&self) -> bool {
        self.engine
            .call("GET", &format!("/containers/{}/json", self.id()), None)
            .is_ok()
    }

    /// Makes a new probe when the current one was removed behind the
    /// runtime's back (once, however many threads notice at the same
    /// time). Returns whether it did: a vanished probe answers "not found"
    /// for every path, so a check that found nothing must be repeated.
    pub(crate) fn replace_if_gone(&self) -> Result<bool, Error> {
        if self.exists() {
            return Ok(false);
        }
        let _repairing = self.repair.lock().unwrap_or_else(PoisonError::into_inner);
        if self.exists() {
            return Ok(true);
        }
        tracing::warn!("the probe container disappeared; making a new one");
        self.create_container()?;
        Ok(true)
    }

    /// Removes the probe container (when the runtime is dropped).
    pub(crate) fn remove(&self) {
        let id = self.id();
        let call = format!("/containers/{id}?force=1&v=1");
        match self.engine.call("DELETE", &call, None) {
            Ok(_) => {}
            Err(error) if error.status() == Some(404) => {}
            Err(error) => tracing::warn!(%error, "cannot remove the probe container"),
        }
    }

    /// File facts of `path`, following symbolic links; `None` when it
    /// does not exist.
    pub(crate) fn stat(&self, path: &str) -> Result<Option<PathStat>, Error> {
        let mut path = path.to_owned();
        for _ in 0..MAX_LINKS {
            match self.stat_once(&path)? {
                Some(stat) if stat.is_symlink() => match stat.link_target {
                    Some(target) => path = target,
                    None => return Ok(None),
                },
                other => return Ok(other),
            }
        }
        Ok(None)
    }

    fn stat_once(&self, path: &str) -> Result<Option<PathStat>, Error> {
        let cacheable = !self
            .mount_targets
            .iter()
            .any(|target| Path::new(path).starts_with(target));
        if cacheable
            && let Some(known) = self
                .cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(path)
        {
            return Ok(known.clone());
        }
        let stat = self.engine.stat(&self.id(), path).map_err(|error| {
            engine_error(self.engine.host(), error, || {
                format!("checking `{path}` in the image")
            })
        })?;
        if cacheable {
            self.cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(path.to_owned(), stat.clone());
        }
        Ok(stat)
    }

    /// Whether `path` is an executable file.
    pub(crate) fn resolve(&self, path: &str) -> Result<Check, Error> {
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

    /// Looks `program` up the way `execvp` will in the container: a path
    /// with a slash as it is (from `cwd`), a bare name in each directory
    /// of `search_path`, where a file that cannot be executed is passed
    /// over but reported if nothing else is found.
    pub(crate) fn check_program(
        &self,
        program: &str,
        search_path: &str,
        cwd: &Path,
    ) -> Result<(), Error> {
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

    /// Checks that `dir` is an existing directory.
    pub(crate) fn check_dir(&self, dir: &Path) -> Result<(), Error> {
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
}
