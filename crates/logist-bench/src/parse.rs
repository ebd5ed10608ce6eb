//! W7 `parse`: turning recorded stream-json into events, on one core.
//!
//! The input is Claude Code's and Qwen Code's real output (the captures in
//! `logist-events`' fixtures: a reply and a file-writing tool call each),
//! repeated in memory to the asked size. Logist's side is
//! `logist_events::Parser` fed in 64 KiB chunks, as a runtime's reads
//! arrive; the baseline is what a user would write: split on newlines and
//! `serde_json::from_slice::<Value>` each line. Both check what they saw,
//! so neither can look fast by skipping work.

use std::hint::black_box;
use std::time::Instant;

use anyhow::{Result, ensure};
use logist_core::OutputFormat;
use logist_events::{Event, Parser};

use crate::Figures;
use crate::probe::CpuClock;

const CAPTURES: &[&[u8]] = &[
    include_bytes!("../../logist-events/tests/fixtures/claude-code-reply.out"),
    include_bytes!("../../logist-events/tests/fixtures/claude-code-write.out"),
    include_bytes!("../../logist-events/tests/fixtures/qwen-reply.out"),
    include_bytes!("../../logist-events/tests/fixtures/qwen-write.out"),
];

/// The bytes a live read hands over at a time.
const CHUNK: usize = 64 * 1024;

/// The recorded output repeated to at least `mib` MiB, and how many lines
/// it has.
pub(crate) fn input(mib: usize) -> (Vec<u8>, usize) {
    let one: Vec<u8> = CAPTURES.concat();
    let copies = (mib * 1024 * 1024).div_ceil(one.len());
    let data = one.repeat(copies);
    let lines = data.iter().filter(|&&byte| byte == b'\n').count();
    (data, lines)
}

/// Wall time and throughput, and throughput per CPU second: on a shared
/// machine the wall clock counts other people's work, while one thread's
/// CPU time is what parsing costs on one core.
fn figures(bytes: usize, seconds: f64, cpu: &CpuClock) -> Figures {
    let cpu_ms = cpu.ms();
    vec![
        ("wall_s", seconds),
        ("mb_per_s", bytes as f64 / 1e6 / seconds),
        ("cpu_ms", cpu_ms),
        (
            "mb_per_cpu_s",
            bytes as f64 / 1e3 / cpu_ms.max(f64::MIN_POSITIVE),
        ),
    ]
}

/// Logist's parser on `mib` MiB.
pub(crate) fn events(mib: usize) -> Result<Figures> {
    let (data, lines) = input(mib);
    let cpu = CpuClock::start();
    let started = Instant::now();
    let mut parser = Parser::new(OutputFormat::ClaudeStreamJson);
    let mut events = Vec::new();
    let mut count = 0usize;
    let mut raw = 0usize;
    for chunk in data.chunks(CHUNK) {
        parser.feed_into(chunk, &mut events);
        count += events.len();
        raw += events.iter().filter(|e| matches!(e, Event::Raw(_))).count();
        black_box(&events);
        events.clear();
    }
    count += parser.finish().len();
    let seconds = started.elapsed().as_secs_f64();
    ensure!(raw == 0, "{raw} lines of the captures were not recognised");
    ensure!(count >= lines, "{count} events from {lines} lines");
    Ok(figures(data.len(), seconds, &cpu))
}

/// The baseline: every line parsed as a `serde_json::Value`.
pub(crate) fn baseline(mib: usize) -> Result<Figures> {
    let (data, lines) = input(mib);
    let cpu = CpuClock::start();
    let started = Instant::now();
    let mut parsed = 0usize;
    for line in data
        .split(|&byte| byte == b'\n')
        .filter(|line| !line.is_empty())
    {
        let value: serde_json::Value = serde_json::from_slice(line)?;
        black_box(&value);
        parsed += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    ensure!(parsed == lines, "{parsed} of {lines} lines parsed");
    Ok(figures(data.len(), seconds, &cpu))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_parse_every_line() {
        assert!(events(1).is_ok());
        assert!(baseline(1).is_ok());
    }
}
