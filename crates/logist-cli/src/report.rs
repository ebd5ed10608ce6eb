//! What `logist` prints while a command runs: its output passed through
//! byte for byte (or `--json` events), notes and a summary on stderr, and on
//! a terminal a status line while the command is quiet.

use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;
use logist_core::{ExitStatus, Runtime, Stream};
use logist_sentinel::{Event, Outcome};
use serde_json::{Value, json};

use crate::view::View;

/// Show the status line after this much silence.
const QUIET_AFTER: Duration = Duration::from_secs(2);

/// Prints events as they happen.
pub(crate) struct Reporter {
    json: bool,
    /// A prompt makes logist stop the command (`--on-input fail`).
    stop_on_prompt: bool,
    started: Instant,
    bytes: u64,
    /// Why the command is being stopped, once the watcher decided to.
    stopping: Option<&'static str>,
    /// Leftover descendants were already reported.
    leftovers_reported: bool,
    status: Option<StatusLine>,
    /// How the program's stdout is shown.
    view: View,
}

impl Reporter {
    pub(crate) fn new(json: bool, stop_on_prompt: bool, view: View) -> Self {
        let status = io::stderr().is_terminal().then(StatusLine::start);
        Self {
            json,
            stop_on_prompt,
            started: Instant::now(),
            bytes: 0,
            stopping: None,
            leftovers_reported: false,
            status,
            view,
        }
    }

    /// Records that logist itself asked the command to stop.
    pub(crate) fn stopping(&mut self, reason: &'static str) {
        self.stopping.get_or_insert(reason);
    }

    /// Reports one event of the run.
    pub(crate) fn event(&mut self, event: &Event, runtime: &dyn Runtime, argv: &[String]) {
        match event {
            Event::Started { id } => {
                let pid = runtime.info(id).ok().and_then(|info| info.pid);
                self.json_line(
                    json!({"event": "spawned", "id": id.as_str(), "pid": pid, "argv": argv}),
                );
                tracing::info!(%id, ?pid, "started");
            }
            Event::Output(chunk) => {
                self.bytes += chunk.data.len() as u64;
                if let Some(status) = &self.status {
                    status.output();
                }
                if chunk.stream == Stream::Stdout && self.view.stdout(&chunk.data) {
                    // Parsed and shown by the view.
                } else if self.json {
                    let mut line = json!({
                        "event": "output",
                        "stream": chunk.stream.as_str(),
                        "offset": chunk.offset,
                        "data": String::from_utf8_lossy(&chunk.data),
                    });
                    if std::str::from_utf8(&chunk.data).is_err() {
                        line["base64"] = base64::engine::general_purpose::STANDARD
                            .encode(&chunk.data)
                            .into();
                    }
                    self.json_line(line);
                } else {
                    pass_through(chunk.stream, &chunk.data);
                }
            }
            Event::Missed { bytes } => {
                self.json_line(json!({"event": "missed", "bytes": bytes}));
                self.note(&format!(
                    "{bytes} bytes of output were dropped before they could be shown"
                ));
            }
            Event::WaitingForInput { matched, .. } => {
                if self.stop_on_prompt {
                    self.stopping("waiting_for_input");
                }
                self.json_line(json!({
                    "event": "waiting_for_input",
                    "matched": matched.text,
                    "pattern": matched.pattern.to_string(),
                    "offset": matched.start,
                }));
                self.note(&format!(
                    "the command is waiting for input: {:?}",
                    matched.text
                ));
            }
            Event::Answered { text, .. } => {
                self.json_line(json!({"event": "answered", "text": text}));
                self.note(&format!("answered {text:?}"));
            }
            Event::AnswerFailed { error } => {
                self.stopping("answer_failed");
                self.json_line(json!({"event": "answer_failed", "error": error.to_string()}));
                self.note(&format!("could not answer: {error}"));
            }
            Event::FailureRecognised { cause, .. } => {
                self.json_line(json!({"event": "failure_recognised", "cause": cause.as_str()}));
            }
            Event::Idle { silent_for } => {
                self.stopping("idle");
                self.json_line(json!({"event": "idle", "silent_ms": millis(*silent_for)}));
                self.note(&format!(
                    "no output for {}; stopping it",
                    seconds(*silent_for)
                ));
            }
            Event::TimedOut { after } => {
                self.stopping("timeout");
                self.json_line(json!({"event": "timeout", "after_ms": millis(*after)}));
                self.note(&format!("timed out after {}; stopping it", seconds(*after)));
            }
            Event::Exited { status } => {
                if let Some(reason) = self.stopping {
                    self.json_line(json!({"event": "terminated", "reason": reason}));
                }
                let mut line = json!({"event": "exited"});
                match status {
                    ExitStatus::Code(code) => line["code"] = (*code).into(),
                    ExitStatus::Signal(signal) => line["signal"] = (*signal).into(),
                }
                self.json_line(line);
            }
            Event::OutputLeaked => self.leftovers(),
            Event::Finished(_) => {}
            other => tracing::debug!(?other, "event"),
        }
    }

    /// Reports, once, that descendants the command left running were
    /// stopped.
    pub(crate) fn leftovers(&mut self) {
        if self.leftovers_reported {
            return;
        }
        self.leftovers_reported = true;
        self.json_line(json!({"event": "terminated", "reason": "leftover_descendants"}));
        self.note("stopped processes the command left running");
    }

    /// The last word: the `outcome` event, and the summary line on stderr.
    pub(crate) fn finish(&mut self, outcome: &Outcome, code: u8) {
        self.view.finish();
        if let Some(status) = self.status.take() {
            status.stop();
        }
        let duration = self.started.elapsed();
        let cause = match outcome {
            Outcome::Completed { cause, .. } => cause.map(|cause| cause.as_str()),
            _ => None,
        };
        let mut line = json!({
            "event": "outcome",
            "outcome": crate::exit::outcome_name(outcome),
            "exit_code": code,
            "duration_ms": millis(duration),
            "bytes": self.bytes,
        });
        if let Some(cause) = cause {
            line["cause"] = cause.into();
        }
        if let Outcome::FailedToStart { error } | Outcome::RuntimeFailed { error } = outcome {
            line["error"] = error.to_string().into();
        }
        self.json_line(line);
        let mut summary = format!(
            "logist: {outcome}; exit {code} after {:.2}s, {} bytes of output",
            duration.as_secs_f64(),
            self.bytes
        );
        if let Some(agent) = self.view.summary() {
            summary = format!("{summary}\nlogist: {agent}");
        }
        write_stderr(summary.as_bytes(), true);
    }

    fn json_line(&self, value: Value) {
        if !self.json {
            return;
        }
        crate::view::print_json(value);
    }

    fn note(&self, text: &str) {
        if let Some(status) = &self.status {
            status.output();
        }
        write_stderr(format!("logist: {text}").as_bytes(), true);
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

/// Writes the command's bytes to the same stream of ours, unchanged and at
/// once (no buffering to line ends).
fn pass_through(stream: Stream, data: &[u8]) {
    let result = match stream {
        Stream::Stdout => {
            let mut out = io::stdout().lock();
            out.write_all(data).and_then(|()| out.flush())
        }
        Stream::Stderr => {
            let mut err = io::stderr().lock();
            err.write_all(data).and_then(|()| err.flush())
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "cannot pass output through");
    }
}

fn write_stderr(data: &[u8], newline: bool) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(data);
    if newline {
        let _ = err.write_all(b"\n");
    }
    let _ = err.flush();
}

/// The status line: on a terminal, while the command is quiet, a line on
/// stderr with the time elapsed and the silence, erased before output
/// continues.
struct StatusLine {
    shared: Arc<(Mutex<Status>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

struct Status {
    started: Instant,
    last_output: Instant,
    shown: bool,
    stop: bool,
}

impl StatusLine {
    fn start() -> Self {
        let now = Instant::now();
        let shared = Arc::new((
            Mutex::new(Status {
                started: now,
                last_output: now,
                shown: false,
                stop: false,
            }),
            Condvar::new(),
        ));
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("logist-status".into())
            .spawn(move || {
                let (lock, wake) = &*worker;
                let mut status = lock.lock().unwrap_or_else(PoisonError::into_inner);
                while !status.stop {
                    let quiet = status.last_output.elapsed();
                    if quiet >= QUIET_AFTER {
                        let line = format!(
                            "\r\x1b[2K[logist] {:.0}s elapsed, quiet for {:.0}s",
                            status.started.elapsed().as_secs_f64(),
                            quiet.as_secs_f64()
                        );
                        write_stderr(line.as_bytes(), false);
                        status.shown = true;
                    }
                    status = wake
                        .wait_timeout(status, Duration::from_secs(1))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                if status.shown {
                    write_stderr(b"\r\x1b[2K", false);
                }
            })
            .ok();
        Self { shared, thread }
    }

    /// Output is about to be written: erase the line, reset the silence.
    fn output(&self) {
        let mut status = self.shared.0.lock().unwrap_or_else(PoisonError::into_inner);
        status.last_output = Instant::now();
        if status.shown {
            write_stderr(b"\r\x1b[2K", false);
            status.shown = false;
        }
    }

    fn stop(mut self) {
        self.shared
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stop = true;
        self.shared.1.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
