//! The runtimes under test, by name.
//!
//! Every workload in [`crate::workloads`] is written once, against
//! `&dyn Runtime`. Adding a runtime to the benchmark is one arm in
//! [`open`]; the workloads need nothing more from it than the `Runtime`
//! contract, plus two things the contract leaves open:
//!
//! - W2 and W6 run `cat FILE` with a path on this machine (under
//!   `target/bench/data`): a container runtime must mount that directory at
//!   the same path.
//! - W4b and W4c look at the child's process tree in `/proc` through
//!   [`ProcessInfo::pid`](logist_core::ProcessInfo::pid), so the runtime
//!   must report the pid as this machine sees it.
//!
//! `monitor` and `monitor-durable` are a [`HostRuntime`] with a state
//! directory: each run through its own `logist-monitor` process, attached
//! or durable (`SpawnRequest::durable`).
//!
//! `remote` is a [`RemoteRuntime`] talking over loopback TCP to a
//! [`Server`] in this same process, which serves a default [`HostRuntime`]:
//! the figures are the host's plus the protocol, the socket and the
//! server's threads (and this process's peak memory is client and server
//! together, the supervisor's cost of serving).

use anyhow::{Context, Result, bail};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use logist_core::Runtime;
use logist_runtime_docker::{DockerHost, DockerRuntime};
use logist_runtime_host::HostRuntime;
use logist_runtime_remote::{Address, RemoteRuntime, Server};

/// The image the Docker runtime is measured with (`cargo xtask docker`
/// builds it); `LOGIST_BENCH_IMAGE` names another.
const DEFAULT_IMAGE: &str = "logist-test-busybox:1";

/// Where `cargo xtask bench` keeps its data files.
fn data_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench/data")
}

/// Names `open` accepts, in the order `--runtime all` runs them.
pub(crate) const NAMES: &[&str] = &["host", "docker", "remote", "monitor", "monitor-durable"];

/// Whether the workloads ask for durable runs (`monitor-durable`).
static DURABLE: AtomicBool = AtomicBool::new(false);

/// Whether the runtime opened asks for durable runs.
pub(crate) fn durable() -> bool {
    DURABLE.load(Ordering::Relaxed)
}

/// The state directory of a `monitor` runtime of this process, under
/// `target/bench/state/`; removed by [`cleanup`].
fn state_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/bench/state")
        .join(std::process::id().to_string())
}

/// Removes what the runtime left on disk (a `monitor` runtime's state
/// directory), once it is dropped.
pub(crate) fn cleanup() {
    let _ = std::fs::remove_dir_all(state_dir());
}

/// The token of the in-process server `remote` measures (loopback only).
const REMOTE_TOKEN: &str = "logist-bench-loopback";

/// Builds the runtime called `name`, with its default settings.
pub(crate) fn open(name: &str) -> Result<Box<dyn Runtime>> {
    match name {
        "host" => Ok(Box::new(
            HostRuntime::builder()
                .build()
                .context("building the host runtime")?,
        )),
        "docker" => {
            let image =
                std::env::var("LOGIST_BENCH_IMAGE").unwrap_or_else(|_| DEFAULT_IMAGE.to_owned());
            let mut builder = DockerRuntime::builder(&image)
                .host(DockerHost::from_env().context("reading DOCKER_HOST")?);
            // W2 and W6 read files of this machine at the same path.
            let data = data_dir();
            if data.is_dir() {
                builder = builder.mount(&data, &data);
            }
            Ok(Box::new(builder.build().with_context(|| {
                format!(
                    "building the docker runtime for image `{image}` (run `cargo xtask docker`)"
                )
            })?))
        }
        "remote" => {
            let local: Arc<dyn Runtime> = Arc::new(
                HostRuntime::builder()
                    .build()
                    .context("building the host runtime to serve")?,
            );
            let listener = Server::new(local)
                .token(REMOTE_TOKEN)
                .bind(&Address::Tcp("127.0.0.1:0".to_owned()))
                .context("binding the server to a loopback port")?;
            let address = listener.address().clone();
            // One run per process: the server accepts until the process ends.
            std::thread::Builder::new()
                .name("bench-server".to_owned())
                .spawn(move || listener.run())
                .context("starting the server thread")?;
            Ok(Box::new(
                RemoteRuntime::builder(address)
                    .token(REMOTE_TOKEN)
                    .build()
                    .context("connecting to the in-process server")?,
            ))
        }
        // Issue 17's figures: every run through a per-run monitor
        // (`logist-monitor`, built next to this program by `cargo xtask
        // bench`), attached or durable.
        "monitor" | "monitor-durable" => {
            DURABLE.store(name == "monitor-durable", Ordering::Relaxed);
            Ok(Box::new(
                HostRuntime::builder()
                    .state_dir(state_dir())
                    .build()
                    .context("building the host runtime with a state directory")?,
            ))
        }
        other => bail!(
            "unknown runtime `{other}` (known: {}, and `baseline` for plain std::process)",
            NAMES.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes_open_by_name() {
        assert_eq!(open("host").unwrap().name(), "host");
        // The engine and the image come from `cargo xtask docker`, a step
        // of `cargo xtask ci` before the tests.
        assert_eq!(open("docker").unwrap().name(), "docker");
        assert_eq!(open("remote").unwrap().name(), "remote");
        let unknown = open("podman").err().unwrap().to_string();
        assert!(unknown.contains("unknown runtime `podman`"), "{unknown}");
    }
}
