//! The workloads W1–W6 of `docs/benchmarks.md`, run against any runtime through
//! `&dyn Runtime`. Each function does one repetition and returns its
//! figures; [`crate::baseline`] does the same with plain `std::process`.
//!
//! Every run checks what it measured (exit status, byte counts, the tail's
//! line count), so a broken runtime fails the benchmark instead of looking
//! fast.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use logist_core::{CommandLine, ProcessId, Runtime, SpawnRequest, StdinMode};
use nix::sys::signal::Signal;

use crate::probe::{self, CpuClock};
use crate::{Figures, PROMPT_SCRIPT, STOP_SEQUENCE, STUBBORN_SCRIPT, TAIL_CALLS, TREE_SCRIPT};

/// How long any single wait may take before the run counts as hung.
const LONG: Duration = Duration::from_secs(120);
/// W4b's grace period.
pub(crate) const GRACE: Duration = Duration::from_millis(500);

fn request(argv: &[&str]) -> Result<SpawnRequest> {
    Ok(SpawnRequest::new(CommandLine::new(argv.iter().copied())?)
        .durable(crate::runtimes::durable()))
}

/// W1: `count` sequential spawn + wait of `true` (and `remove`, which a
/// caller that does not want exited processes to pile up must do).
pub(crate) fn spawn_wait(rt: &dyn Runtime, count: usize) -> Result<Figures> {
    let request = request(&["true"])?;
    let cpu = CpuClock::start();
    let started = Instant::now();
    for _ in 0..count {
        let id = rt.spawn(&request)?;
        let done = rt.wait(&id, Some(LONG))?;
        ensure!(done.status.success(), "`true` ended with {}", done.status);
        rt.remove(&id)?;
    }
    Ok(spawn_wait_figures(started.elapsed(), &cpu, count))
}

pub(crate) fn spawn_wait_figures(took: Duration, cpu: &CpuClock, count: usize) -> Figures {
    let per = |total: f64| total / count as f64;
    vec![
        ("us_per_spawn_wait", per(took.as_secs_f64() * 1e6)),
        ("cpu_us_per_spawn_wait", per(cpu.ms() * 1e3)),
    ]
}

/// Spawns `cat file` and waits until every byte is collected; returns the
/// id, the wall time, the CPU time and the byte count checked against the
/// file size.
fn cat(rt: &dyn Runtime, file: &Path) -> Result<(ProcessId, Duration, f64, u64)> {
    let size = file
        .metadata()
        .with_context(|| format!("reading the size of {}", file.display()))?
        .len();
    let path = file.to_str().context("data file path is not UTF-8")?;
    let request = request(&["cat", path])?;
    let cpu = CpuClock::start();
    let started = Instant::now();
    let id = rt.spawn(&request)?;
    let done = rt.wait(&id, Some(LONG))?;
    let took = started.elapsed();
    let cpu_ms = cpu.ms();
    ensure!(done.status.success(), "`cat` ended with {}", done.status);
    let collected = done.logs.len() as u64 + done.logs.dropped();
    ensure!(
        collected == size,
        "collected {collected} bytes of a {size}-byte file"
    );
    Ok((id, took, cpu_ms, size))
}

/// W2: one `cat FILE`, from `spawn` until `wait` returns with every byte.
pub(crate) fn throughput(rt: &dyn Runtime, file: &Path) -> Result<Figures> {
    let (id, took, cpu_ms, size) = cat(rt, file)?;
    rt.remove(&id)?;
    Ok(throughput_figures(took, cpu_ms, size))
}

pub(crate) fn throughput_figures(took: Duration, cpu_ms: f64, size: u64) -> Figures {
    let seconds = took.as_secs_f64();
    vec![
        ("wall_s", seconds),
        ("mb_per_s", size as f64 / seconds / 1e6),
        ("cpu_ms", cpu_ms),
    ]
}

/// W3: `count` children `sleep 1` spawned at once from this thread, then
/// all waited.
pub(crate) fn many(rt: &dyn Runtime, count: usize) -> Result<Figures> {
    let request = request(&["sleep", "1"])?;
    let cpu = CpuClock::start();
    let started = Instant::now();
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        ids.push(rt.spawn(&request)?);
    }
    probe::checkpoint();
    for id in &ids {
        let done = rt.wait(id, Some(LONG))?;
        ensure!(
            done.status.success(),
            "`sleep 1` ended with {}",
            done.status
        );
    }
    let took = started.elapsed();
    let cpu_ms = cpu.ms();
    for id in &ids {
        rt.remove(id)?;
    }
    Ok(vec![("wall_s", took.as_secs_f64()), ("cpu_ms", cpu_ms)])
}

/// The pid of `id` as this machine sees it.
fn host_pid(rt: &dyn Runtime, id: &ProcessId) -> Result<i32> {
    let pid = rt.info(id)?.pid.with_context(|| {
        format!(
            "runtime `{}` reports no pid for `{id}`; this workload reads the process tree in /proc",
            rt.name()
        )
    })?;
    Ok(i32::try_from(pid)?)
}

/// Calls `terminate` and then `is_alive` until it is false; returns the
/// time from the call.
fn time_terminate(rt: &dyn Runtime, id: &ProcessId) -> Result<Duration> {
    let started = Instant::now();
    let signalled = rt.terminate(id, false)?;
    ensure!(signalled, "terminate found nothing running");
    while rt.is_alive(id)? {
        if started.elapsed() > LONG {
            bail!("`{id}` still alive {} s after terminate", LONG.as_secs());
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    Ok(started.elapsed())
}

/// W4a: `sleep 1000`, terminated politely.
pub(crate) fn terminate_polite(rt: &dyn Runtime) -> Result<Figures> {
    let id = rt.spawn(&request(&["sleep", "1000"])?)?;
    let took = time_terminate(rt, &id)?;
    rt.remove(&id)?;
    Ok(vec![("ms_until_dead", took.as_secs_f64() * 1e3)])
}

/// W4b: a shell that ignores SIGTERM, terminated with a 500 ms grace
/// period. The shell's `trap` is in place before the clock starts.
pub(crate) fn terminate_stubborn(rt: &dyn Runtime) -> Result<Figures> {
    let id = rt.spawn(&request(&["sh", "-c", STUBBORN_SCRIPT])?.grace(GRACE))?;
    probe::await_ignored(host_pid(rt, &id)?, Signal::SIGTERM as i32)?;
    let took = time_terminate(rt, &id)?;
    rt.remove(&id)?;
    Ok(vec![("ms_until_dead", took.as_secs_f64() * 1e3)])
}

/// W4c: a shell with two `sleep 1000` children, terminated politely; how
/// many of the children are still running 100 ms after `terminate`
/// returns.
pub(crate) fn terminate_tree(rt: &dyn Runtime) -> Result<Figures> {
    let id = rt.spawn(&request(&["sh", "-c", TREE_SCRIPT])?)?;
    let children = probe::await_descendants(host_pid(rt, &id)?, "sleep", 2)?;
    let took = time_terminate(rt, &id)?;
    std::thread::sleep(Duration::from_millis(100));
    let survivors = children.iter().filter(|c| probe::still_running(c)).count();
    rt.remove(&id)?;
    Ok(vec![
        ("survivors", survivors as f64),
        ("terminate_ms", took.as_secs_f64() * 1e3),
    ])
}

/// W5: `runs` times, a shell that prints a prompt without a newline and
/// waits; milliseconds from `spawn` returning until the output read so far
/// contains the stop sequence. Returns the p50 and p99.
pub(crate) fn prompt(rt: &dyn Runtime, runs: usize) -> Result<Figures> {
    let request = request(&["sh", "-c", PROMPT_SCRIPT])?.stdin(StdinMode::Piped);
    let mut latencies = Vec::with_capacity(runs);
    for _ in 0..runs {
        let id = rt.spawn(&request)?;
        let started = Instant::now();
        let mut seen = Vec::new();
        let mut next = 0;
        while !contains(&seen, STOP_SEQUENCE) {
            let read = rt.read_output(&id, next, Some(LONG))?;
            for chunk in read.chunks {
                seen.extend_from_slice(&chunk.data);
            }
            next = read.next;
            ensure!(
                !read.finished || contains(&seen, STOP_SEQUENCE),
                "output ended without the prompt: {:?}",
                String::from_utf8_lossy(&seen)
            );
            ensure!(started.elapsed() < LONG, "no prompt after {LONG:?}");
        }
        latencies.push(started.elapsed().as_secs_f64() * 1e3);
        rt.close_stdin(&id)?;
        rt.wait(&id, Some(LONG))?;
        rt.remove(&id)?;
    }
    Ok(percentiles(latencies))
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// The p50 and p99 (nearest rank) of `samples`, in the samples' unit.
pub(crate) fn percentiles(mut samples: Vec<f64>) -> Figures {
    samples.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        let index = (p * samples.len() as f64).ceil() as usize;
        samples[index.clamp(1, samples.len()) - 1]
    };
    vec![("p50_ms", rank(0.50)), ("p99_ms", rank(0.99))]
}

/// W6: after one `cat FILE` is collected, microseconds per
/// `get_logs(tail = 100)`.
pub(crate) fn tail(rt: &dyn Runtime, file: &Path) -> Result<Figures> {
    let (id, ..) = cat(rt, file)?;
    let started = Instant::now();
    for _ in 0..TAIL_CALLS {
        black_box(rt.get_logs(&id, Some(100))?);
    }
    let micros = started.elapsed().as_secs_f64() * 1e6 / TAIL_CALLS as f64;
    let logs = rt.get_logs(&id, Some(100))?;
    check_tail(logs.bytes())?;
    rt.remove(&id)?;
    Ok(vec![("us_per_tail", micros)])
}

/// A tail of 100 lines of the generated data: 100 newlines, the last byte
/// one of them.
pub(crate) fn check_tail(tail: &[u8]) -> Result<()> {
    let lines = tail.iter().filter(|&&b| b == b'\n').count();
    ensure!(
        lines == 100 && tail.last() == Some(&b'\n'),
        "tail of 100 lines has {lines} line ends in {} bytes",
        tail.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<f64> = (1..=100).map(f64::from).rev().collect();
        assert_eq!(percentiles(samples), [("p50_ms", 50.0), ("p99_ms", 99.0)]);
        assert_eq!(percentiles(vec![7.0]), [("p50_ms", 7.0), ("p99_ms", 7.0)]);
    }

    #[test]
    fn tails_are_checked() {
        assert!(check_tail(&b"x\n".repeat(100)).is_ok());
        assert!(check_tail(&b"x\n".repeat(99)).is_err());
        assert!(check_tail(&[b"x\n".repeat(100), b"x".to_vec()].concat()).is_err());
        assert!(contains(b"Confirm changes? [y/N]: ", STOP_SEQUENCE));
        assert!(!contains(b"Confirm changes? [y/", STOP_SEQUENCE));
    }
}
