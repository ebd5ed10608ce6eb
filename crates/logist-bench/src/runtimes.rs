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

use anyhow::{Context, Result, bail};
use logist_core::Runtime;
use logist_runtime_host::HostRuntime;

/// Names `open` accepts, in the order `--runtime all` runs them.
pub(crate) const NAMES: &[&str] = &["host", "docker"];

/// Builds the runtime called `name`, with its default settings.
pub(crate) fn open(name: &str) -> Result<Box<dyn Runtime>> {
    match name {
        "host" => Ok(Box::new(
            HostRuntime::builder()
                .build()
                .context("building the host runtime")?,
        )),
        "docker" => bail!(
            "the docker runtime is not available yet: crates/logist-runtime-docker is not \
             part of this build (wire it in crates/logist-bench/src/runtimes.rs)"
        ),
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
    fn host_opens_and_the_others_say_why_not() {
        assert_eq!(open("host").unwrap().name(), "host");
        let docker = open("docker").err().unwrap().to_string();
        assert!(docker.contains("not available yet"), "{docker}");
        let unknown = open("podman").err().unwrap().to_string();
        assert!(unknown.contains("unknown runtime `podman`"), "{unknown}");
    }
}
