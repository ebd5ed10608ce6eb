//! Plays a [`Script`] for one mock process, on its own thread: writes go to
//! the process's output buffer, pauses and reads wait on its condition
//! variable, so a termination interrupts them at once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use logist_core::{ExitStatus, Stream};

use super::Process;
use crate::flood::write_flood;
use crate::scenario::{MOCK_TREE_PIDS, tree_marker};
use crate::script::{Script, Step};

/// The process was ended (killed or exited) and the player must stop.
struct Ended;

/// Plays `script` to the end (exit 0 when it runs out of steps) or until the
/// process is ended from outside.
pub(super) fn play(process: &Process, script: &Script, env: &BTreeMap<String, String>) {
    let player = Player { process, env };
    let _aborted = EndOnPanic(process);
    if player.steps(script.steps()).is_ok() {
        player.end(ExitStatus::Code(0));
    }
}

/// Should the player panic (a bug), the process still ends, as by
/// SIGABRT, so that nobody waits for it forever.
struct EndOnPanic<'a>(&'a Process);

impl Drop for EndOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.end(&mut self.0.lock(), ExitStatus::Signal(6));
        }
    }
}

struct Player<'a> {
    process: &'a Process,
    env: &'a BTreeMap<String, String>,
}

impl Player<'_> {
    fn steps(&self, steps: &[Step]) -> Result<(), Ended> {
        for step in steps {
            self.step(step)?;
        }
        Ok(())
    }

    fn step(&self, step: &Step) -> Result<(), Ended> {
        match step {
            Step::Write { stream, data } => self.write(*stream, data),
            Step::Pause(duration) => self.pause(*duration),
            Step::ReadLine(branch) => {
                let line = self.read_line()?;
                self.steps(branch.choose(line.as_deref()).steps())
            }
            Step::ReadPrompt(options) => {
                let mut options = options.as_ref().clone();
                options.prompt = self.read_to_end()?;
                self.steps(options.script().steps())
            }
            Step::IgnoreTerm => {
                let mut state = self.process.lock();
                if state.status.is_some() {
                    return Err(Ended);
                }
                state.extra.ignores_term = true;
                Ok(())
            }
            Step::Hang => {
                let state = self.process.lock();
                let (state, _) = self
                    .process
                    .record
                    .wait_until(state, None, |s| s.status.is_some());
                drop(state);
                Err(Ended)
            }
            Step::Exit(code) => {
                self.end(ExitStatus::Code(*code));
                Err(Ended)
            }
            Step::Signal(signal) => {
                self.end(ExitStatus::Signal(*signal));
                Err(Ended)
            }
            Step::Flood { bytes, stream } => {
                write_flood(*bytes, *stream, |stream, data| self.write(stream, data))
            }
            Step::SpawnTree { .. } => {
                let markers = [
                    tree_marker(false, MOCK_TREE_PIDS[0]),
                    tree_marker(true, MOCK_TREE_PIDS[1]),
                ];
                markers
                    .iter()
                    .try_for_each(|marker| self.write(Stream::Stdout, marker.as_bytes()))
            }
            Step::PrintEnv => {
                let text: String = self
                    .env
                    .iter()
                    .map(|(name, value)| format!("{name}={value}\n"))
                    .collect();
                self.write(Stream::Stdout, text.as_bytes())
            }
        }
    }

    fn write(&self, stream: Stream, data: &[u8]) -> Result<(), Ended> {
        let mut state = self.process.lock();
        if state.status.is_some() {
            return Err(Ended);
        }
        if self.process.terminal {
            state.buffer.push(Stream::Stdout, &terminal_newlines(data));
        } else {
            state.buffer.push(stream, data);
        }
        self.process.record.release_after_output(state);
        Ok(())
    }

    fn pause(&self, duration: Duration) -> Result<(), Ended> {
        let deadline = Instant::now().checked_add(duration);
        let state = self.process.lock();
        let (state, ended) = self
            .process
            .record
            .wait_until(state, deadline, |s| s.status.is_some());
        drop(state);
        if ended { Err(Ended) } else { Ok(()) }
    }

    /// The next line of stdin with its newline, the last bytes before
    /// end-of-file, or `None` at end-of-file.
    fn read_line(&self) -> Result<Option<Vec<u8>>, Ended> {
        let state = self.process.lock();
        let (mut state, _) = self.process.record.wait_until(state, None, |s| {
            s.status.is_some() || s.extra.stdin_closed || s.extra.stdin.contains(&b'\n')
        });
        if state.status.is_some() {
            return Err(Ended);
        }
        let play = &mut state.extra;
        if let Some(at) = play.stdin.iter().position(|&byte| byte == b'\n') {
            return Ok(Some(play.stdin.drain(..=at).collect()));
        }
        let rest = std::mem::take(&mut play.stdin);
        Ok((!rest.is_empty()).then_some(rest))
    }

    /// Everything written to stdin until it is closed.
    fn read_to_end(&self) -> Result<Vec<u8>, Ended> {
        let state = self.process.lock();
        let (mut state, _) = self
            .process
            .record
            .wait_until(state, None, |s| s.status.is_some() || s.extra.stdin_closed);
        if state.status.is_some() {
            return Err(Ended);
        }
        Ok(std::mem::take(&mut state.extra.stdin))
    }

    fn end(&self, status: ExitStatus) {
        self.process.end(&mut self.process.lock(), status);
    }
}

/// What a terminal in its default mode shows for `data`: `\n` as `\r\n`.
pub(super) fn terminal_newlines(data: &[u8]) -> Vec<u8> {
    let mut shown = Vec::with_capacity(data.len());
    for &byte in data {
        if byte == b'\n' {
            shown.push(b'\r');
        }
        shown.push(byte);
    }
    shown
}
