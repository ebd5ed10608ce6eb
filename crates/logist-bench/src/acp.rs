//! W8 and W9: the ACP client (`logist-acp`) on the mock agent's ACP mode.
//!
//! - **W8** (`acp_latency`): the mock writes `--count` message chunks, each
//!   stamped with the Unix time of its write (`stamp N 2`); the caller's
//!   callback takes the difference to its own clock on arrival. p50 and p99
//!   in milliseconds.
//! - **W9** (`acp_silent`): a turn the agent keeps open without a word
//!   (`wait`) for [`SILENCE`]; the CPU time this process spent meanwhile,
//!   per second of silence, then the turn is cancelled.
//!
//! The baselines do the same with `std::process` and a `BufRead` line
//! reader on the mock's stdout: the plainest client one could write.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

use logist_acp::{AcpClient, AcpConfig, AcpEvent, Answer, PermissionPolicy, StopReason};
use logist_core::{CommandLine, Runtime, SpawnRequest};

use crate::Figures;
use crate::probe::CpuClock;
use crate::workloads::percentiles;

/// How long W9 keeps the turn silent.
pub(crate) const SILENCE: Duration = Duration::from_secs(2);

/// The mock agent program, found as `logist-mock` finds it (next to this
/// executable after `cargo build --release -p logist-mock`).
fn mock() -> Result<PathBuf> {
    logist_mock::locate_program()
        .context("finding logist-mock-agent (build it with -p logist-mock)")
}

fn start(rt: Arc<dyn Runtime>) -> Result<(AcpClient, String)> {
    let program = mock()?;
    let command = CommandLine::new([program.to_string_lossy().into_owned(), "--acp".to_owned()])?;
    let mut client = AcpClient::start(
        rt,
        SpawnRequest::new(command),
        PermissionPolicy::new(Answer::Reject),
        AcpConfig::default(),
    )?;
    let session = client.new_session(&std::env::temp_dir())?;
    Ok((client, session))
}

/// Milliseconds from the stamp in `update` to now.
fn delay_ms(update: &Value) -> Option<f64> {
    let sent: u128 = update.pointer("/_meta/sentNanos")?.as_str()?.parse().ok()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some(now.saturating_sub(sent) as f64 / 1e6)
}

/// W8 on a runtime.
pub(crate) fn acp_latency(rt: Arc<dyn Runtime>, count: usize) -> Result<Figures> {
    let (mut client, session) = start(rt)?;
    let mut delays = Vec::with_capacity(count);
    let reason = client.prompt(&session, &format!("stamp {count} 2"), |event| {
        if let AcpEvent::Update { update, .. } = event
            && let Some(delay) = delay_ms(&update.update)
        {
            delays.push(delay);
        }
    })?;
    ensure!(
        reason == StopReason::EndTurn,
        "the turn ended with {reason}"
    );
    ensure!(
        delays.len() == count,
        "{} of {count} stamps arrived",
        delays.len()
    );
    client.shutdown()?;
    Ok(percentiles(delays))
}

/// W9 on a runtime.
pub(crate) fn acp_silent(rt: Arc<dyn Runtime>) -> Result<Figures> {
    let (mut client, session) = start(rt)?;
    let canceller = client.canceller(&session);
    let timer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let cpu = CpuClock::start();
        std::thread::sleep(SILENCE);
        let ms = cpu.ms();
        canceller.cancel();
        ms
    });
    let reason = client.prompt(&session, "wait", |_| {})?;
    let ms = timer
        .join()
        .map_err(|_| anyhow::anyhow!("the timer thread panicked"))?;
    ensure!(
        reason == StopReason::Cancelled,
        "the turn ended with {reason}"
    );
    client.shutdown()?;
    Ok(vec![("cpu_ms_per_s", ms / SILENCE.as_secs_f64())])
}

#[expect(
    clippy::disallowed_methods,
    reason = "the baseline is plain std::process by definition"
)]
fn command(program: &PathBuf) -> Command {
    Command::new(program)
}

/// The plainest client: a child with pipes and a line reader.
struct Plain {
    child: std::process::Child,
    input: std::process::ChildStdin,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Plain {
    fn start() -> Result<(Self, String)> {
        let mut child = command(&mock()?)
            .arg("--acp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("spawning the mock agent")?;
        let input = child.stdin.take().context("stdin")?;
        let lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
        let mut plain = Self {
            child,
            input,
            lines,
        };
        plain.send(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": 1}}))?;
        plain.until_id(1)?;
        plain.send(&json!({"jsonrpc": "2.0", "id": 2, "method": "session/new", "params": {"cwd": std::env::temp_dir(), "mcpServers": []}}))?;
        let session = plain.until_id(2)?["result"]["sessionId"]
            .as_str()
            .context("no session id")?
            .to_owned();
        Ok((plain, session))
    }

    fn send(&mut self, message: &Value) -> Result<()> {
        writeln!(self.input, "{message}")?;
        Ok(())
    }

    fn next(&mut self) -> Result<Value> {
        let line = self.lines.next().context("the agent's output ended")??;
        Ok(serde_json::from_str(&line)?)
    }

    fn until_id(&mut self, id: u64) -> Result<Value> {
        loop {
            let message = self.next()?;
            if message["id"] == id {
                return Ok(message);
            }
        }
    }
}

impl Drop for Plain {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// W8's baseline.
pub(crate) fn baseline_latency(count: usize) -> Result<Figures> {
    let (mut plain, session) = Plain::start()?;
    plain.send(&json!({"jsonrpc": "2.0", "id": 3, "method": "session/prompt", "params": {"sessionId": session, "prompt": [{"type": "text", "text": format!("stamp {count} 2")}]}}))?;
    let mut delays = Vec::with_capacity(count);
    loop {
        let message = plain.next()?;
        if message["id"] == 3 {
            break;
        }
        if let Some(delay) = delay_ms(&message["params"]["update"]) {
            delays.push(delay);
        }
    }
    ensure!(
        delays.len() == count,
        "{} of {count} stamps arrived",
        delays.len()
    );
    Ok(percentiles(delays))
}

/// W9's baseline: a blocking line read costs nothing while nothing comes.
pub(crate) fn baseline_silent() -> Result<Figures> {
    let (mut plain, session) = Plain::start()?;
    plain.send(&json!({"jsonrpc": "2.0", "id": 3, "method": "session/prompt", "params": {"sessionId": session, "prompt": [{"type": "text", "text": "wait"}]}}))?;
    let started = Instant::now();
    let first = plain.next()?;
    ensure!(first["method"] == "session/update", "unexpected {first}");
    std::thread::sleep(Duration::from_millis(300).saturating_sub(started.elapsed()));
    let cpu = CpuClock::start();
    std::thread::sleep(SILENCE);
    let ms = cpu.ms();
    plain.send(
        &json!({"jsonrpc": "2.0", "method": "session/cancel", "params": {"sessionId": session}}),
    )?;
    let answer = plain.until_id(3)?;
    ensure!(
        answer["result"]["stopReason"] == "cancelled",
        "unexpected {answer}"
    );
    Ok(vec![("cpu_ms_per_s", ms / SILENCE.as_secs_f64())])
}
