//! Tests of the `logist` binary, run as a user runs it.

mod acp;
mod agents;
mod docker;
mod durable;
mod exit_codes;
mod help;
mod input;
mod output;
mod prepared;
mod questions;
mod remote;
mod remote_conformance;
mod signals;
mod usage;
mod view;

use std::io::{Read, Write};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use logist_testing::NoSurvivors;
pub(crate) use logist_testing::{eventually, pid_alive as alive};

/// The binary under test.
pub(crate) const LOGIST: &str = env!("CARGO_BIN_EXE_logist");

/// Generous: tests wait for conditions, never for the clock.
pub(crate) const LONG: Duration = Duration::from_secs(60);

/// A `logist` command whose processes (and their children) carry this
/// test's tag; the guard fails the test if any survives it.
pub(crate) fn logist(guard: &NoSurvivors, args: &[&str]) -> Command {
    let mut command = guard.command(LOGIST);
    command.args(args).stdin(Stdio::null());
    command
}

/// Runs to the end, output captured.
pub(crate) fn output(guard: &NoSurvivors, args: &[&str]) -> Output {
    run_to_end(&mut logist(guard, args), None)
}

/// Runs `command` to the end, output captured, with `input` on its stdin
/// (closed after it) or else the command's own stdin.
pub(crate) fn run_to_end(command: &mut Command, input: Option<&[u8]>) -> Output {
    if input.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start logist");
    // Written and read as they go, so that neither side can block.
    let writer = input.map(|input| {
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        })
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let mut out = Vec::new();
    let _ = stdout.read_to_end(&mut out);
    let status = wait(&mut child);
    if let Some(writer) = writer {
        writer.join().unwrap();
    }
    Output {
        status,
        stdout: out,
        stderr: err.join().unwrap(),
    }
}

/// Waits with a deadline; kills the child and fails after it.
pub(crate) fn wait(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + LONG;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("logist did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The exit code, for readable assertions.
pub(crate) fn code(output: &Output) -> i32 {
    output
        .status
        .code()
        .unwrap_or_else(|| panic!("logist died by a signal: {:?}", output.status))
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
