//! Measures what the monitor costs: spawn+wait of a short run through a
//! monitor against a plain `std` spawn, the monitor's resident memory, and
//! throughput through the monitor (into its log) against a plain pipe.
//!
//! ```text
//! cargo build --release -p logist-monitor --bins --examples
//! target/release/examples/measure [runs] [MiB]
//! ```
//!
//! The monitor program is taken from `LOGIST_MONITOR`, else next to this
//! example's directory (`target/release/logist-monitor`).

use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use logist_monitor::{Client, MonitorProgram, Ownership, RunSpec, StateDir};

fn spec(argv: &[&str], ownership: Ownership) -> RunSpec {
    RunSpec {
        argv: argv.iter().map(|a| (*a).to_owned()).collect(),
        cwd: None,
        terminal: None,
        stdin_piped: false,
        ownership,
        grace: Duration::from_secs(5),
        leak_window: Duration::from_millis(200),
        segment_bytes: 64 << 20,
        created_unix_ms: 0,
        labels: Default::default(),
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "the baseline is a plain std spawn, measured against the monitor"
)]
fn plain(argv: &[&str]) -> Command {
    let mut command = Command::new(argv[0]);
    command.args(&argv[1..]);
    command
}

fn resident_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let runs: u32 = args.next().map_or(Ok(200), |a| a.parse())?;
    let mib: u64 = args.next().map_or(Ok(512), |a| a.parse())?;
    let monitor = std::env::var_os("LOGIST_MONITOR").map_or_else(
        || -> Result<PathBuf, std::io::Error> {
            let exe = std::env::current_exe()?;
            Ok(exe
                .parent()
                .and_then(|dir| dir.parent())
                .map(|dir| dir.join("logist-monitor"))
                .unwrap_or_default())
        },
        |path| Ok(PathBuf::from(path)),
    )?;
    let program = MonitorProgram::new(&monitor);
    let temp = tempfile::tempdir()?;
    let state = StateDir::open(temp.path().join("state"))?;
    let env: Vec<(OsString, OsString)> =
        vec![("PATH".into(), std::env::var_os("PATH").unwrap_or_default())];

    // W1: spawn + wait of `true`.
    let began = Instant::now();
    for _ in 0..runs {
        plain(&["true"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()?;
    }
    let baseline = began.elapsed() / runs;
    let mut through = Vec::new();
    for ownership in [Ownership::Attached, Ownership::Durable] {
        let began = Instant::now();
        let mut starting = Duration::ZERO;
        for _ in 0..runs {
            let before = Instant::now();
            let started = logist_monitor::start(
                &state,
                &program,
                &logist_monitor::new_run_id(),
                &spec(&["true"], ownership),
                &env,
            )?;
            starting += before.elapsed();
            logist_monitor::wait(&started.run, Some(Duration::from_secs(20)))?;
        }
        through.push((ownership, began.elapsed() / runs, starting / runs));
    }
    println!("W1 spawn+wait of `true`, mean of {runs}:");
    println!("  std spawn (pipes)        {baseline:>10.1?}");
    for (ownership, mean, starting) in &through {
        println!(
            "  monitor, {ownership:<14?} {mean:>10.1?}  ({:.2}x; {starting:.1?} of it until running)",
            mean.as_secs_f64() / baseline.as_secs_f64()
        );
    }

    // Resident memory of an idle monitor, and of one after heavy output.
    let started = logist_monitor::start(
        &state,
        &program,
        "rss",
        &spec(
            &["sh", "-c", "head -c 67108864 /dev/zero; exec sleep 60"],
            Ownership::Durable,
        ),
        &env,
    )?;
    let record = started.run.monitor()?.ok_or("no monitor record")?;
    let idle = resident_kib(record.monitor_pid);
    let mut client = Client::connect(&started.run)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.status()?.log_end < 64 << 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let busy = resident_kib(record.monitor_pid);
    client.terminate(Some(Duration::ZERO))?;
    logist_monitor::wait(&started.run, Some(Duration::from_secs(20)))?;
    println!(
        "monitor resident memory: {idle} KiB right after start, {busy} KiB after logging 64 MiB"
    );

    // W2: throughput of `head -c N /dev/zero`.
    let bytes = mib << 20;
    let count = bytes.to_string();
    let began = Instant::now();
    let mut child = plain(&["head", "-c", &count, "/dev/zero"])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut out = child.stdout.take().ok_or("no stdout")?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = out.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    child.wait()?;
    let pipe = began.elapsed();
    assert_eq!(total, bytes);
    let began = Instant::now();
    let started = logist_monitor::start(
        &state,
        &program,
        "throughput",
        &spec(&["head", "-c", &count, "/dev/zero"], Ownership::Durable),
        &env,
    )?;
    let exit = logist_monitor::wait(&started.run, Some(Duration::from_secs(600)))?;
    let monitored = began.elapsed();
    assert_eq!(exit.log_end, bytes);
    let rate = |d: Duration| bytes as f64 / d.as_secs_f64() / f64::from(1u32 << 20);
    println!("W2 throughput of {mib} MiB:");
    println!("  plain pipe, read and dropped   {:>8.0} MiB/s", rate(pipe));
    println!(
        "  through the monitor into its log {:>6.0} MiB/s  ({:.2}x)",
        rate(monitored),
        monitored.as_secs_f64().recip() / pipe.as_secs_f64().recip()
    );
    Ok(())
}
