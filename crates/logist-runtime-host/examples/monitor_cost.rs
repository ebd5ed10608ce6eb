//! What running through a per-run monitor costs a `HostRuntime`: W1
//! (spawn + wait + remove of `true`) in-process, through the monitor
//! attached and durable, beside plain `std::process`; and adopting many
//! live durable runs (time, and this process's resident memory after).
//!
//! ```text
//! cargo build --release -p logist-monitor --bin logist-monitor
//! cargo run --release -p logist-runtime-host --example monitor_cost -- [W1 count] [runs to adopt]
//! ```
//!
//! The monitor is `logist-monitor` next to this example's directory
//! (`target/release/`), or `LOGIST_MONITOR`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use logist_core::{CommandLine, Runtime, SpawnRequest};
use logist_runtime_host::{HostRuntime, MonitorProgram};

fn monitor() -> MonitorProgram {
    let path = std::env::var_os("LOGIST_MONITOR").map_or_else(
        || {
            let exe = std::env::current_exe().expect("this program's path");
            exe.parent()
                .and_then(|examples| examples.parent())
                .expect("target/<profile>/examples")
                .join("logist-monitor")
        },
        PathBuf::from,
    );
    assert!(path.is_file(), "no monitor at {}", path.display());
    MonitorProgram::new(path)
}

fn w1(rt: &dyn Runtime, count: usize, durable: bool) -> Duration {
    let request = SpawnRequest::new(CommandLine::new(["true"]).unwrap()).durable(durable);
    let started = Instant::now();
    for _ in 0..count {
        let id = rt.spawn(&request).unwrap();
        assert!(rt.wait(&id, None).unwrap().status.success());
        rt.remove(&id).unwrap();
    }
    started.elapsed() / u32::try_from(count).unwrap()
}

#[expect(clippy::disallowed_methods, reason = "the std baseline")]
fn baseline(count: usize) -> Duration {
    use std::process::{Command, Stdio};
    let started = Instant::now();
    for _ in 0..count {
        let output = Command::new("true")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(output.status.success());
    }
    started.elapsed() / u32::try_from(count).unwrap()
}

/// W2-like: MiB/s of `head -c MiB /dev/zero` read through `read_output`.
fn throughput(rt: &dyn Runtime, mib: usize) -> f64 {
    let bytes = format!("{}", mib << 20);
    let request = SpawnRequest::new(CommandLine::new(["head", "-c", &bytes, "/dev/zero"]).unwrap());
    let started = Instant::now();
    let id = rt.spawn(&request).unwrap();
    let (mut next, mut seen) = (0, 0u64);
    loop {
        let read = rt.read_output(&id, next, None).unwrap();
        seen += read.chunks.iter().map(|c| c.data.len() as u64).sum::<u64>() + read.missed;
        next = read.next;
        if read.finished {
            break;
        }
    }
    assert_eq!(seen, (mib as u64) << 20);
    rt.wait(&id, None).unwrap();
    let took = started.elapsed();
    rt.remove(&id).unwrap();
    mib as f64 / took.as_secs_f64()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map_or(200, |n| n.parse().unwrap());
    let adopt: usize = args.next().map_or(100, |n| n.parse().unwrap());
    let state = tempfile::tempdir().unwrap();
    let program = monitor();

    let plain = HostRuntime::new().unwrap();
    let monitored = HostRuntime::builder()
        .state_dir(state.path())
        .monitor_program(program.clone())
        .build()
        .unwrap();
    // Warm up both paths.
    w1(&plain, 10, false);
    w1(&monitored, 10, false);
    let std_us = baseline(count);
    let plain_us = w1(&plain, count, false);
    let attached_us = w1(&monitored, count, false);
    let durable_us = w1(&monitored, count, true);
    println!("W1 spawn+wait+remove of `true`, {count} each:");
    println!("  std::process baseline   {std_us:>10.2?}");
    let ratio = |d: Duration| d.as_secs_f64() / std_us.as_secs_f64();
    println!(
        "  in-process (default)    {plain_us:>10.2?}  {:.1}x",
        ratio(plain_us)
    );
    println!(
        "  monitor, attached       {attached_us:>10.2?}  {:.1}x",
        ratio(attached_us)
    );
    println!(
        "  monitor, durable        {durable_us:>10.2?}  {:.1}x",
        ratio(durable_us)
    );
    let mib = 256;
    println!("W2-like throughput, `head -c {mib}M /dev/zero` through read_output:");
    println!(
        "  in-process (default)    {:>8.0} MiB/s",
        throughput(&plain, mib)
    );
    println!(
        "  monitor, attached       {:>8.0} MiB/s",
        throughput(&monitored, mib)
    );
    drop(monitored);
    drop(plain);

    // Adopting live durable runs.
    let before_rss = rss_kib();
    {
        let rt = HostRuntime::builder()
            .state_dir(state.path())
            .monitor_program(program.clone())
            .build()
            .unwrap();
        let request = SpawnRequest::new(CommandLine::new(["sleep", "600"]).unwrap()).durable(true);
        let started = Instant::now();
        for _ in 0..adopt {
            rt.spawn(&request).unwrap();
        }
        println!("started {adopt} durable runs in {:.2?}", started.elapsed());
    }
    let started = Instant::now();
    let rt = HostRuntime::builder()
        .state_dir(state.path())
        .monitor_program(program)
        .adopt(true)
        .build()
        .unwrap();
    let took = started.elapsed();
    let ids: Vec<_> = rt
        .list(&Default::default())
        .unwrap()
        .into_iter()
        .map(|info| info.id)
        .collect();
    assert_eq!(ids.len(), adopt);
    println!(
        "adopted {adopt} live durable runs in {took:.2?}; this process's RSS {} KiB -> {} KiB",
        before_rss,
        rss_kib()
    );
    let started = Instant::now();
    for id in &ids {
        rt.terminate(id, true).unwrap();
        rt.remove(id).unwrap();
    }
    println!("terminated and removed them in {:.2?}", started.elapsed());
}
