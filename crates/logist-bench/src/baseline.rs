//! The baselines: each workload done the plainest way a Rust user could
//! write it, with `std::process::Command`, the same pipes, and a reader that
//! copies into `std::io::sink()`.
//!
//! Children that get their own process group are held by [`Guarded`],
//! which kills the group if the run fails half-way, so a failed benchmark
//! leaves nothing running.

use std::io::{self, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use crate::probe::CpuClock;
use crate::workloads::{self, GRACE, check_tail, contains, percentiles};
use crate::{Figures, PROMPT_SCRIPT, STOP_SEQUENCE, STUBBORN_SCRIPT, TAIL_CALLS, TREE_SCRIPT};

/// Bytes the W6 baseline keeps, like the host runtime's default output cap.
const KEEP: usize = 8 * 1024 * 1024;

#[expect(
    clippy::disallowed_methods,
    reason = "the baseline is plain std::process by definition"
)]
fn command(program: &str) -> Command {
    Command::new(program)
}

/// A child in its own process group; the group is killed on drop unless
/// the child was already reaped.
struct Guarded(Child);

impl Guarded {
    fn spawn(command: &mut Command) -> Result<Self> {
        use std::os::unix::process::CommandExt;
        let child = command
            .process_group(0)
            .spawn()
            .with_context(|| format!("spawning {command:?}"))?;
        Ok(Self(child))
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.0.id() as i32)
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        // While the child is unreaped its pid, and so its group id, cannot
        // be reused.
        if let Ok(None) = self.0.try_wait() {
            let _ = killpg(self.pid(), Signal::SIGKILL);
            let _ = self.0.wait();
        }
    }
}

/// W1: `Command::new("true").output()`, `count` times.
pub(crate) fn spawn_wait(count: usize) -> Result<Figures> {
    let cpu = CpuClock::start();
    let started = Instant::now();
    for _ in 0..count {
        let output = command("true").output().context("running `true`")?;
        ensure!(
            output.status.success(),
            "`true` ended with {}",
            output.status
        );
    }
    Ok(workloads::spawn_wait_figures(
        started.elapsed(),
        &cpu,
        count,
    ))
}

/// `cat file` with stdout and stderr piped, stdout copied to `sink`.
fn cat(file: &Path, sink: &mut impl io::Write) -> Result<(Duration, f64, u64)> {
    let size = file.metadata()?.len();
    let cpu = CpuClock::start();
    let started = Instant::now();
    let mut child = Guarded::spawn(
        command("cat")
            .arg(file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )?;
    let mut stdout = child.0.stdout.take().context("stdout is piped")?;
    let copied = io::copy(&mut stdout, sink).context("reading the output of `cat`")?;
    let status = child.0.wait()?;
    let took = started.elapsed();
    let cpu_ms = cpu.ms();
    ensure!(status.success(), "`cat` ended with {status}");
    ensure!(
        copied == size,
        "copied {copied} bytes of a {size}-byte file"
    );
    Ok((took, cpu_ms, size))
}

/// W2: `cat FILE` copied into `io::sink()`.
pub(crate) fn throughput(file: &Path) -> Result<Figures> {
    let (took, cpu_ms, size) = cat(file, &mut io::sink())?;
    Ok(workloads::throughput_figures(took, cpu_ms, size))
}

/// W3: `count` × `Command::spawn` of `sleep 1` (same pipes, own process
/// group, like the runtime's children), then `wait` on each.
pub(crate) fn many(count: usize) -> Result<Figures> {
    let cpu = CpuClock::start();
    let started = Instant::now();
    let mut children = Vec::with_capacity(count);
    for _ in 0..count {
        children.push(Guarded::spawn(
            command("sleep")
                .arg("1")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )?);
    }
    crate::probe::checkpoint();
    for child in &mut children {
        let status = child.0.wait()?;
        ensure!(status.success(), "`sleep 1` ended with {status}");
    }
    Ok(vec![
        ("wall_s", started.elapsed().as_secs_f64()),
        ("cpu_ms", cpu.ms()),
    ])
}

/// `program args…` in its own group, stdin from `/dev/null`, outputs piped.
fn piped(program: &str, args: &[&str]) -> Result<Guarded> {
    Guarded::spawn(
        command(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
}

/// W4a: SIGTERM to `sleep 1000`, then `wait`.
pub(crate) fn terminate_polite() -> Result<Figures> {
    let mut child = piped("sleep", &["1000"])?;
    let started = Instant::now();
    kill(child.pid(), Signal::SIGTERM)?;
    child.0.wait()?;
    Ok(vec![(
        "ms_until_dead",
        started.elapsed().as_secs_f64() * 1e3,
    )])
}

/// W4b: SIGTERM to the group, `try_wait` until the grace period is over,
/// then SIGKILL and `wait`.
pub(crate) fn terminate_stubborn() -> Result<Figures> {
    let mut child = piped("sh", &["-c", STUBBORN_SCRIPT])?;
    crate::probe::await_ignored(child.pid().as_raw(), Signal::SIGTERM as i32)?;
    let started = Instant::now();
    killpg(child.pid(), Signal::SIGTERM)?;
    while started.elapsed() < GRACE && child.0.try_wait()?.is_none() {
        std::thread::sleep(Duration::from_millis(1));
    }
    if child.0.try_wait()?.is_none() {
        killpg(child.pid(), Signal::SIGKILL)?;
        child.0.wait()?;
    }
    Ok(vec![(
        "ms_until_dead",
        started.elapsed().as_secs_f64() * 1e3,
    )])
}

/// W4c: `Child::kill` (SIGKILL to the shell alone, all std offers), then
/// count the shell's children still running 100 ms later. Survivors are
/// killed afterwards through the process group they still hold.
pub(crate) fn terminate_tree() -> Result<Figures> {
    let mut child = piped("sh", &["-c", TREE_SCRIPT])?;
    let group = child.pid();
    let children = crate::probe::await_descendants(group.as_raw(), "sleep", 2)?;
    let started = Instant::now();
    child.0.kill()?;
    child.0.wait()?;
    let took = started.elapsed();
    std::thread::sleep(Duration::from_millis(100));
    let survivors = children
        .iter()
        .filter(|c| crate::probe::still_running(c))
        .count();
    if survivors > 0 {
        // A running member keeps the group id from being reused.
        let _ = killpg(group, Signal::SIGKILL);
    }
    Ok(vec![
        ("survivors", survivors as f64),
        ("terminate_ms", took.as_secs_f64() * 1e3),
    ])
}

/// W5: read the shell's stdout until the stop sequence appears.
pub(crate) fn prompt(runs: usize) -> Result<Figures> {
    let mut latencies = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut child = Guarded::spawn(
            command("sh")
                .args(["-c", PROMPT_SCRIPT])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )?;
        let started = Instant::now();
        let stdout = child.0.stdout.as_mut().context("stdout is piped")?;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !contains(&seen, STOP_SEQUENCE) {
            let n = stdout.read(&mut buf)?;
            ensure!(n > 0, "output ended without the prompt");
            seen.extend_from_slice(&buf[..n]);
        }
        latencies.push(started.elapsed().as_secs_f64() * 1e3);
        drop(child.0.stdin.take());
        child.0.wait()?;
    }
    Ok(percentiles(latencies))
}

/// Keeps the last [`KEEP`] bytes written to it.
struct Tail(Vec<u8>);

impl io::Write for Tail {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        if self.0.len() > 2 * KEEP {
            let excess = self.0.len() - KEEP;
            self.0.drain(..excess);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The last `n` lines of `data` (a final newline ends the last line).
fn last_lines(data: &[u8], n: usize) -> Vec<u8> {
    if n == 0 {
        return Vec::new();
    }
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let mut end = body.len();
    for _ in 0..n {
        match body[..end].iter().rposition(|&b| b == b'\n') {
            Some(newline) => end = newline,
            None => return data.to_vec(),
        }
    }
    data[end + 1..].to_vec()
}

/// W6: the last 8 MiB of `cat FILE` kept in a `Vec`, then the last 100
/// lines found by scanning back for newlines.
pub(crate) fn tail(file: &Path) -> Result<Figures> {
    let mut kept = Tail(Vec::with_capacity(2 * KEEP + 64 * 1024));
    cat(file, &mut kept)?;
    let started = Instant::now();
    for _ in 0..TAIL_CALLS {
        std::hint::black_box(last_lines(&kept.0, 100));
    }
    let micros = started.elapsed().as_secs_f64() * 1e6 / TAIL_CALLS as f64;
    check_tail(&last_lines(&kept.0, 100))?;
    Ok(vec![("us_per_tail", micros)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_counts_from_the_end() {
        assert_eq!(last_lines(b"a\nb\nc\n", 1), b"c\n");
        assert_eq!(last_lines(b"a\nb\nc\n", 2), b"b\nc\n");
        assert_eq!(last_lines(b"a\nb\nc\n", 5), b"a\nb\nc\n");
        assert_eq!(last_lines(b"a\nb\nc", 1), b"c");
        assert_eq!(last_lines(b"a\nb\nc", 0), b"");
    }
}
