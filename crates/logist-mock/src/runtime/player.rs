//! Plays a [`Script`] for one mock process, on its own thread: writes go to
//! the process's output buffer, pauses and reads wait on its condition
//! variable, so a termination interrupts them at once.

use std::collections::BTreeMap;
use std::time::Duration;

use logist_core::{ExitStatus, Stream};

use super::{Deadline, Process};
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
                state.ignores_term = true;
                Ok(())
            }
            Step::Hang => {
                let mut state = self.process.lock();
                while state.status.is_none() {
                    state = self
                        .process
                        .wait_until(state, Deadline::Never)
                        .expect("waiting without a deadline always returns the lock");
                }
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
            state.output.push(Stream::Stdout, &terminal_newlines(data));
        } else {
            state.output.push(stream, data);
        }
        self.process.changed.notify_all();
        Ok(())
    }

    fn pause(&self, duration: Duration) -> Result<(), Ended> {
        let deadline = Deadline::after(Some(duration));
        let mut state = self.process.lock();
        loop {
            if state.status.is_some() {
                return Err(Ended);
            }
            match self.process.wait_until(state, deadline) {
                Some(next) => state = next,
                None => return Ok(()),
            }
        }
    }

    /// The next line of stdin with its newline, the last bytes before
    /// end-of-file, or `None` at end-of-file.
    fn read_line(&self) -> Result<Option<Vec<u8>>, Ended> {
        let mut state = self.process.lock();
        loop {
            if state.status.is_some() {
                return Err(Ended);
            }
            if let Some(at) = state.stdin.iter().position(|&byte| byte == b'\n') {
                return Ok(Some(state.stdin.drain(..=at).collect()));
            }
            if state.stdin_closed {
                let rest = std::mem::take(&mut state.stdin);
                return Ok((!rest.is_empty()).then_some(rest));
            }
            state = self
                .process
                .wait_until(state, Deadline::Never)
                .expect("waiting without a deadline always returns the lock");
        }
    }

    /// Everything written to stdin until it is closed.
    fn read_to_end(&self) -> Result<Vec<u8>, Ended> {
        let mut state = self.process.lock();
        loop {
            if state.status.is_some() {
                return Err(Ended);
            }
            if state.stdin_closed {
                return Ok(std::mem::take(&mut state.stdin));
            }
            state = self
                .process
                .wait_until(state, Deadline::Never)
                .expect("waiting without a deadline always returns the lock");
        }
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
