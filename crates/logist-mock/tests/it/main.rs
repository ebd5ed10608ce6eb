//! Tests of `logist-mock`: the real program run with `std::process`, the
//! agent against the program's real output, and the mock runtime's
//! contract.

mod agent;
mod conformance;
mod program;
mod runtime;

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{ChildStdin, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use logist_core::Stream;
use logist_testing::{KillOnDrop, NoSurvivors};

/// The program cargo built for these tests.
pub(crate) const PROGRAM: &str = env!("CARGO_BIN_EXE_logist-mock-agent");

/// How long a test waits for something that should happen at once.
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

/// A running program whose stdout and stderr are read by one thread each,
/// every `read` reported separately.
pub(crate) struct Running {
    child: KillOnDrop,
    events: mpsc::Receiver<(Stream, Option<Vec<u8>>)>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    stdout_reads: Vec<Vec<u8>>,
    open: usize,
}

/// What a finished program did.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    /// Every `read` that returned stdout bytes, in order.
    pub(crate) stdout_reads: Vec<Vec<u8>>,
}

impl Running {
    /// Starts the program, tagged by `guard`, with stdin from `/dev/null`
    /// or a pipe.
    pub(crate) fn start(guard: &NoSurvivors, args: &[&str], piped_stdin: bool) -> Self {
        let mut command = guard.command(PROGRAM);
        command.args(args);
        Self::start_command(command, piped_stdin)
    }

    pub(crate) fn start_command(mut command: std::process::Command, piped_stdin: bool) -> Self {
        command
            .stdin(if piped_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = KillOnDrop::new(command.spawn().expect("the program starts"));
        let (sender, events) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        spawn_reader(Stream::Stdout, stdout, sender.clone());
        spawn_reader(Stream::Stderr, stderr, sender);
        Self {
            child,
            events,
            stdout: Vec::new(),
            stderr: Vec::new(),
            stdout_reads: Vec::new(),
            open: 2,
        }
    }

    /// The program's stdin (once).
    pub(crate) fn stdin(&mut self) -> ChildStdin {
        self.child.stdin.take().expect("piped stdin, taken once")
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Collects output until stdout holds `needle`.
    #[track_caller]
    pub(crate) fn wait_for_stdout(&mut self, needle: &[u8]) {
        let what = format!("{:?}", String::from_utf8_lossy(needle));
        self.wait_until_stdout(&what, |stdout| contains(stdout, needle));
    }

    /// Collects output until `done(stdout so far)` holds.
    #[track_caller]
    pub(crate) fn wait_until_stdout(&mut self, what: &str, done: impl Fn(&[u8]) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        while !done(&self.stdout) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => self.record(event),
                Err(_) => panic!(
                    "no {what} on stdout within {DEADLINE:?}; stdout so far: {:?}, stderr: {:?}",
                    String::from_utf8_lossy(&self.stdout),
                    String::from_utf8_lossy(&self.stderr),
                ),
            }
        }
    }

    /// The stdout collected so far.
    pub(crate) fn stdout_so_far(&self) -> &[u8] {
        &self.stdout
    }

    /// True when the program has not exited.
    pub(crate) fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Reads both streams to their end, then reaps the program.
    #[track_caller]
    pub(crate) fn finish(mut self) -> Finished {
        let deadline = Instant::now() + DEADLINE;
        while self.open > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => self.record(event),
                Err(_) => panic!(
                    "output did not end within {DEADLINE:?}; stdout: {:?}, stderr: {:?}",
                    String::from_utf8_lossy(&self.stdout),
                    String::from_utf8_lossy(&self.stderr),
                ),
            }
        }
        let status = self
            .child
            .wait_timeout(DEADLINE)
            .expect("wait")
            .expect("the program exits once its output ended");
        Finished {
            status,
            stdout: std::mem::take(&mut self.stdout),
            stderr: std::mem::take(&mut self.stderr),
            stdout_reads: std::mem::take(&mut self.stdout_reads),
        }
    }

    /// Kills the program and returns what it did.
    pub(crate) fn kill(mut self) -> Finished {
        self.child.kill().expect("kill");
        self.finish()
    }

    fn record(&mut self, (stream, data): (Stream, Option<Vec<u8>>)) {
        match (stream, data) {
            (_, None) => self.open -= 1,
            (Stream::Stdout, Some(data)) => {
                self.stdout.extend_from_slice(&data);
                self.stdout_reads.push(data);
            }
            (Stream::Stderr, Some(data)) => self.stderr.extend_from_slice(&data),
        }
    }
}

fn spawn_reader(
    stream: Stream,
    mut pipe: impl Read + Send + 'static,
    sender: mpsc::Sender<(Stream, Option<Vec<u8>>)>,
) {
    std::thread::spawn(move || {
        let mut buf = vec![0; 256 * 1024];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(count) => {
                    if sender.send((stream, Some(buf[..count].to_vec()))).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = sender.send((stream, None));
    });
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

impl Finished {
    /// Status and both streams, as text for a snapshot.
    pub(crate) fn render(&self) -> String {
        format!(
            "{}\n--- stdout\n{}--- stderr\n{}",
            describe(self.status),
            String::from_utf8_lossy(&self.stdout),
            String::from_utf8_lossy(&self.stderr)
        )
    }
}

/// `exit code N` or `killed by signal N`, as `logist_core::ExitStatus` says it.
pub(crate) fn describe(status: ExitStatus) -> String {
    core_status(status).to_string()
}

pub(crate) fn core_status(status: ExitStatus) -> logist_core::ExitStatus {
    match (status.code(), status.signal()) {
        (Some(code), _) => logist_core::ExitStatus::Code(code),
        (None, Some(signal)) => logist_core::ExitStatus::Signal(signal),
        (None, None) => panic!("a status with neither code nor signal: {status:?}"),
    }
}

/// Runs the program to its end with stdin from `/dev/null`.
#[track_caller]
pub(crate) fn run(args: &[&str]) -> Finished {
    let guard = NoSurvivors::new();
    Running::start(&guard, args, false).finish()
}
