//! What the benchmark reads from `/proc`: its own peak memory and peak
//! thread count, and the state of the processes a workload started.
//!
//! Peak memory is the kernel's own high-water mark (`VmHWM`), read once at
//! the end: each workload runs in a fresh process, so it is the peak of that
//! workload alone. Peak threads are counted at the points where a workload
//! peaks ([`checkpoint`]: the runtime built, every child spawned) and by a
//! sampler thread every 10 ms in between, which subtracts itself. (Reading
//! `/proc/self/stat` every millisecond cost 15% of the CPU of a W2 run:
//! it perturbed what it measured.)

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// CPU time this process (every thread, children not included) spent
/// since it was started: where a wall time is noisy on a shared machine,
/// this says what the measured side itself cost.
pub(crate) struct CpuClock(Duration);

impl CpuClock {
    pub(crate) fn start() -> Self {
        Self(cpu_time())
    }

    /// Milliseconds of CPU time since `start`.
    pub(crate) fn ms(&self) -> f64 {
        cpu_time().saturating_sub(self.0).as_secs_f64() * 1e3
    }
}

fn cpu_time() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let Ok(usage) = getrusage(UsageWho::RUSAGE_SELF) else {
        return Duration::ZERO;
    };
    let micros = |time: nix::sys::time::TimeVal| {
        Duration::from_secs(time.tv_sec().max(0) as u64)
            + Duration::from_micros(time.tv_usec().max(0) as u64)
    };
    micros(usage.user_time()) + micros(usage.system_time())
}

/// How often the sampler counts threads.
const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// Most threads seen at once, samplers not counted.
static PEAK_THREADS: AtomicUsize = AtomicUsize::new(0);
/// Sampler threads running (0 or 1).
static SAMPLERS: AtomicUsize = AtomicUsize::new(0);

/// Counts this process's threads now, for the peak. Workloads call it where
/// they know the count peaks.
pub(crate) fn checkpoint() {
    if let Ok(threads) = own_threads() {
        let samplers = SAMPLERS.load(Ordering::SeqCst);
        PEAK_THREADS.fetch_max(threads.saturating_sub(samplers), Ordering::Relaxed);
    }
}

/// Peak thread count and peak memory of this process during a workload.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peaks {
    /// Most threads seen at once, the sampler itself not counted.
    pub(crate) threads: usize,
    /// Peak resident set size in KiB (`VmHWM`).
    pub(crate) rss_kib: u64,
}

/// A running sampler of this process's thread count.
pub(crate) struct Probe {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Probe {
    /// Starts the sampler thread; the first sample is taken before this
    /// returns.
    pub(crate) fn start() -> Result<Self> {
        checkpoint();
        let stop = Arc::new(AtomicBool::new(false));
        SAMPLERS.fetch_add(1, Ordering::SeqCst);
        let thread = std::thread::Builder::new()
            .name("bench-sampler".into())
            .stack_size(64 * 1024)
            .spawn({
                let stop = Arc::clone(&stop);
                move || {
                    while !stop.load(Ordering::Relaxed) {
                        checkpoint();
                        std::thread::sleep(SAMPLE_EVERY);
                    }
                }
            });
        let thread = match thread {
            Ok(thread) => thread,
            Err(error) => {
                SAMPLERS.fetch_sub(1, Ordering::SeqCst);
                return Err(error).context("starting the thread sampler");
            }
        };
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the sampler and returns the peaks.
    pub(crate) fn finish(mut self) -> Result<Peaks> {
        self.stop();
        checkpoint();
        Ok(Peaks {
            threads: PEAK_THREADS.load(Ordering::Relaxed),
            rss_kib: status_kib("self", "VmHWM")?,
        })
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
            SAMPLERS.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Threads of this process right now (field 20 of `/proc/self/stat`).
fn own_threads() -> Result<usize> {
    let text = fs::read("/proc/self/stat").context("reading /proc/self/stat")?;
    let stat = parse_stat(&text).context("parsing /proc/self/stat")?;
    Ok(stat.threads)
}

/// A value in KiB from `/proc/<pid>/status`, such as `VmHWM`.
fn status_kib(pid: &str, key: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    status_field(&text, key)
        .and_then(|value| value.trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no `{key}` in {path}"))
}

fn status_field<'t>(text: &'t str, key: &str) -> Option<&'t str> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name == key).then_some(value.trim())
    })
}

/// The fields of `/proc/<pid>/stat` the benchmark uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) pid: i32,
    pub(crate) comm: String,
    pub(crate) state: char,
    pub(crate) ppid: i32,
    pub(crate) threads: usize,
    /// Start time in clock ticks after boot: with the pid, it names one
    /// process for ever.
    pub(crate) start: u64,
}

fn parse_stat(text: &[u8]) -> Option<Stat> {
    let text = std::str::from_utf8(text).ok()?;
    let open = text.find('(')?;
    // The command name may contain anything, ')' included.
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    let comm = text.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = text.get(close + 1..)?.split_ascii_whitespace().collect();
    // fields[0] is field 3 of proc_pid_stat(5).
    Some(Stat {
        pid,
        comm,
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        threads: fields.get(17)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// Reads `/proc/<pid>/stat`; `None` when there is no such process.
pub(crate) fn stat(pid: i32) -> Option<Stat> {
    parse_stat(&fs::read(format!("/proc/{pid}/stat")).ok()?)
}

/// True while the process `seen` describes runs: same pid, same start time,
/// not a zombie.
pub(crate) fn still_running(seen: &Stat) -> bool {
    stat(seen.pid).is_some_and(|now| now.start == seen.start && !matches!(now.state, 'Z' | 'X'))
}

/// Every running descendant of `root` (by parent links).
pub(crate) fn descendants(root: i32) -> Vec<Stat> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let all: Vec<Stat> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(stat)
        .filter(|stat| !matches!(stat.state, 'Z' | 'X'))
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for child in all.iter().filter(|stat| stat.ppid == parent) {
            frontier.push(child.pid);
            found.push(child.clone());
        }
    }
    found
}

/// Waits until the descendants of `root` include `count` processes running
/// `comm`, and returns them.
pub(crate) fn await_descendants(root: i32, comm: &str, count: usize) -> Result<Vec<Stat>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found: Vec<Stat> = descendants(root)
            .into_iter()
            .filter(|stat| stat.comm == comm)
            .collect();
        if found.len() >= count {
            return Ok(found);
        }
        if Instant::now() > deadline {
            bail!(
                "process {root} did not start {count} `{comm}` descendants within 30 s (found {})",
                found.len()
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until process `pid`, or one of its descendants, ignores `signal`
/// (its `SigIgn` mask), so that a workload does not signal a shell before
/// its `trap` is in place.
pub(crate) fn await_ignored(pid: i32, signal: i32) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let bit = 1u64 << (signal - 1);
    let ignores = |pid: i32| {
        fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|text| {
                status_field(&text, "SigIgn").and_then(|hex| u64::from_str_radix(hex, 16).ok())
            })
            .is_some_and(|mask| mask & bit != 0)
    };
    loop {
        // The process itself, or (in a container, whose first process is
        // an init) one of its descendants.
        if ignores(pid) || descendants(pid).iter().any(|child| ignores(child.pid)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("process {pid} did not start ignoring signal {signal} within 30 s");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_survives_hostile_command_names() {
        let line =
            b"4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 3 0 98765 1000 10";
        let stat = parse_stat(line).unwrap();
        assert_eq!(
            stat,
            Stat {
                pid: 4242,
                comm: "a) b (c".into(),
                state: 'S',
                ppid: 1,
                threads: 3,
                start: 98765,
            }
        );
        assert_eq!(parse_stat(b"garbage"), None);
    }

    #[test]
    fn the_sampler_counts_threads_started_while_it_runs() {
        let probe = Probe::start().unwrap();
        let before = own_threads().unwrap() - 1;
        let (release, parked) = std::sync::mpsc::channel::<()>();
        let parked = std::sync::Arc::new(std::sync::Mutex::new(parked));
        let extra: Vec<_> = (0..3)
            .map(|_| {
                let parked = std::sync::Arc::clone(&parked);
                std::thread::spawn(move || {
                    let _ = parked.lock().unwrap().recv();
                })
            })
            .collect();
        // The threads stay parked until the sampler has seen them.
        let deadline = Instant::now() + Duration::from_secs(30);
        while PEAK_THREADS.load(Ordering::Relaxed) < before + 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(release);
        for thread in extra {
            thread.join().unwrap();
        }
        let peaks = probe.finish().unwrap();
        assert!(
            peaks.threads >= before + 3,
            "peak {} before {before}",
            peaks.threads
        );
        assert!(peaks.rss_kib > 0);
    }

    #[test]
    fn our_own_process_is_running_and_has_no_descendants_named_nonsense() {
        let me = stat(std::process::id() as i32).unwrap();
        assert!(still_running(&me));
        assert!(
            descendants(me.pid)
                .iter()
                .all(|stat| stat.comm != "no-such-program")
        );
    }
}
