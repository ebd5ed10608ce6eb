//! Starts N children that all live at once (`sleep 2`), waits for them,
//! and prints how long that took: `cargo run --release --example many_live
//! -- 10000` (add `direct` for a runtime without the keeper).

use std::time::{Duration, Instant};

use logist_core::{CommandLine, Runtime, SpawnRequest};
use logist_runtime_host::HostRuntime;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = std::env::args().nth(1).map_or(Ok(1000), |n| n.parse())?;
    let direct = std::env::args().nth(2).as_deref() == Some("direct");
    let runtime = HostRuntime::builder().keeper(!direct).build()?;
    let request = SpawnRequest::new(CommandLine::new(["sleep", "2"])?);
    let started = Instant::now();
    let ids = (0..count)
        .map(|_| runtime.spawn(&request))
        .collect::<Result<Vec<_>, _>>()?;
    let spawned = started.elapsed();
    for id in &ids {
        let done = runtime.wait(id, Some(Duration::from_secs(120)))?;
        assert!(done.status.success(), "{id}: {:?}", done.status);
    }
    println!(
        "{count} children: spawned in {spawned:?}, all exited in {:?}",
        started.elapsed()
    );
    Ok(())
}
