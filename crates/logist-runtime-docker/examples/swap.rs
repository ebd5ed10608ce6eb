//! The same code on two runtimes: a function that takes `&dyn Runtime` runs
//! a command on this host, then in a container, unchanged.
//!
//! ```sh
//! cargo xtask docker   # the engine and the test image
//! cargo run -p logist-runtime-docker --example swap -- logist-test-busybox:1
//! ```

use std::time::Duration;

use logist_core::{CommandLine, Error, Runtime, SpawnRequest};
use logist_runtime_docker::{DockerHost, DockerRuntime};
use logist_runtime_host::HostRuntime;

/// Knows nothing of where it runs.
fn run(runtime: &dyn Runtime) -> Result<String, Error> {
    let command = CommandLine::new(["sh", "-c", "echo \"hello from $(uname -n)\"; exit 7"])?;
    let id = runtime.spawn(&SpawnRequest::new(command).label("example", "swap"))?;
    let done = runtime.wait(&id, Some(Duration::from_secs(60)))?;
    assert_eq!(done.status.code(), Some(7));
    runtime.remove(&id)?;
    Ok(done.logs.text().into_owned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let image = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "logist-test-busybox:1".into());
    let runtimes: Vec<Box<dyn Runtime>> = vec![
        Box::new(HostRuntime::new()?),
        Box::new(
            DockerRuntime::builder(&image)
                .host(DockerHost::from_env()?)
                .build()?,
        ),
    ];
    for runtime in &runtimes {
        print!("{}: {}", runtime.name(), run(runtime.as_ref())?);
    }
    Ok(())
}
