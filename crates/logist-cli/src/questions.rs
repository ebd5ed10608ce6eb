//! Generic questions, for `exec` without stop sequences: a command whose
//! last line, not ended by a line feed, reads like a question (it ends in
//! `?`, a choice such as `[y/N]` or `(yes/no)`, or `password:`) and that
//! then stays quiet for [`SETTLE`] is taken to wait for an answer. Nobody
//! can give one when `logist`'s stdin is not a terminal, so `--on-input`
//! applies, as for a stop sequence.
//!
//! [`LastLine`] is the pure part (bytes in, the question out);
//! [`Questions`] is the thread that waits for the quiet.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use logist_core::{OutputChunk, Stream};

/// How long the command must stay quiet after a question.
pub(crate) const SETTLE: Duration = Duration::from_secs(1);

/// The most bytes of the last line kept: a question is short.
const KEEP: usize = 1024;

/// A question the command settled on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Question {
    /// The last line as a person reads it, trimmed.
    pub(crate) text: String,
    /// The stream it was written to.
    pub(crate) stream: Stream,
    /// Its offsets in the combined output (the line's start to the end).
    pub(crate) start: u64,
    /// Just after its last byte.
    pub(crate) end: u64,
}

/// The end of the output's last line.
#[derive(Debug, Default)]
pub(crate) struct LastLine {
    raw: Vec<u8>,
    stream: Option<Stream>,
    end: u64,
}

impl LastLine {
    /// More output.
    pub(crate) fn feed(&mut self, chunk: &OutputChunk) {
        if self.stream != Some(chunk.stream) {
            self.raw.clear();
            self.stream = Some(chunk.stream);
        }
        match chunk.data.iter().rposition(|&b| b == b'\n') {
            Some(at) => {
                self.raw.clear();
                self.raw.extend_from_slice(&chunk.data[at + 1..]);
            }
            None => self.raw.extend_from_slice(&chunk.data),
        }
        if self.raw.len() > KEEP {
            self.raw.drain(..self.raw.len() - KEEP);
        }
        self.end = chunk.offset + chunk.data.len() as u64;
    }

    /// The last line, when it reads like a question.
    pub(crate) fn question(&self) -> Option<Question> {
        let visible = visible_text(&self.raw);
        let text = visible.trim();
        is_question(text).then(|| Question {
            text: text.to_owned(),
            stream: self.stream.unwrap_or(Stream::Stdout),
            start: self.end.saturating_sub(self.raw.len() as u64),
            end: self.end,
        })
    }
}

/// What a person sees of a line: escape sequences removed, and only what
/// follows the last carriage return (a redraw starts over).
fn visible_text(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => out.clear(),
            '\x1b' => match chars.next() {
                // CSI: parameters up to a final byte in @..~.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC and other strings: up to BEL or ESC \.
                Some(']' | 'P' | '_' | '^' | 'X') => {
                    while let Some(c) = chars.next() {
                        if c == '\x07' || (c == '\x1b' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            },
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// True for the end of a prompt: `?`, a choice in brackets (`[y/N]`,
/// `(yes/no)`, `[Y/n]:`), or a password prompt.
fn is_question(text: &str) -> bool {
    let lower = text.to_lowercase();
    let secret = lower.contains("password") || lower.contains("passphrase");
    if lower.ends_with('?') || (secret && lower.ends_with(':')) {
        return true;
    }
    let body = lower.trim_end_matches([':', '?', ' ']);
    let Some(close) = body.chars().last() else {
        return false;
    };
    let open = match close {
        ']' => '[',
        ')' => '(',
        _ => return false,
    };
    body.rfind(open).is_some_and(|at| {
        let choice = &body[at + 1..body.len() - 1];
        let words: Vec<&str> = choice.split('/').map(str::trim).collect();
        words.len() >= 2
            && words
                .iter()
                .all(|word| (1..=8).contains(&word.len()) && word.chars().all(char::is_alphabetic))
    })
}

/// The thread that waits for the command to settle on a question.
pub(crate) struct Questions {
    shared: Arc<(Mutex<State>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct State {
    line: LastLine,
    last_output: Instant,
    /// The question on screen was handled (or there is none to handle).
    handled: bool,
    over: bool,
}

impl Questions {
    /// Starts watching; `on_question` is called (on the watching thread)
    /// for each question the command settles on, once until more output
    /// comes.
    pub(crate) fn start(
        settle: Duration,
        mut on_question: impl FnMut(Question) + Send + 'static,
    ) -> Self {
        let shared = Arc::new((
            Mutex::new(State {
                line: LastLine::default(),
                last_output: Instant::now(),
                handled: true,
                over: false,
            }),
            Condvar::new(),
        ));
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("logist-questions".into())
            .spawn(move || {
                let (lock, wake) = &*worker;
                let mut state = lock.lock().unwrap_or_else(PoisonError::into_inner);
                while !state.over {
                    if state.handled {
                        state = wake.wait(state).unwrap_or_else(PoisonError::into_inner);
                        continue;
                    }
                    let quiet = state.last_output.elapsed();
                    if quiet < settle {
                        state = wake
                            .wait_timeout(state, settle - quiet)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0;
                        continue;
                    }
                    state.handled = true;
                    if let Some(question) = state.line.question() {
                        drop(state);
                        on_question(question);
                        state = lock.lock().unwrap_or_else(PoisonError::into_inner);
                    }
                }
            });
        if let Err(error) = &thread {
            tracing::warn!(%error, "cannot watch for questions");
        }
        Self {
            shared,
            thread: thread.ok(),
        }
    }

    /// The command wrote this.
    pub(crate) fn output(&self, chunk: &OutputChunk) {
        let mut state = self.lock();
        state.line.feed(chunk);
        state.last_output = Instant::now();
        state.handled = false;
        self.shared.1.notify_all();
    }

    /// The prompt on screen was handled otherwise (a stop sequence).
    pub(crate) fn handled(&self) {
        self.lock().handled = true;
    }

    /// The run is over: waits for a question being handled, then ends.
    pub(crate) fn stop(mut self) {
        self.lock().over = true;
        self.shared.1.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(chunks: &[&str], expected: Option<&str>) {
        let mut line = LastLine::default();
        let mut offset = 0;
        for data in chunks {
            line.feed(&OutputChunk {
                stream: Stream::Stdout,
                offset,
                data: data.as_bytes().to_vec(),
            });
            offset += data.len() as u64;
        }
        assert_eq!(line.question().map(|q| q.text).as_deref(), expected);
    }

    #[test]
    fn questions() {
        check(&["Continue? [y/N] "], Some("Continue? [y/N]"));
        check(
            &["log\nOverwrite", " file.txt (yes/no)? "],
            Some("Overwrite file.txt (yes/no)?"),
        );
        check(&["Proceed [Y/n]: "], Some("Proceed [Y/n]:"));
        check(&["Deploy to prod?"], Some("Deploy to prod?"));
        check(
            &["[sudo] password for bob: "],
            Some("[sudo] password for bob:"),
        );
        check(&["\x1b[1mApply?\x1b[0m \x1b[?25h"], Some("Apply?"));
        check(&["50%\r", "Really? [y/n]"], Some("Really? [y/n]"));
    }

    #[test]
    fn not_questions() {
        check(&["Continue? [y/N]\n"], None);
        check(&["Building...\n"], None);
        check(&["Downloading 45%"], None);
        check(&["see (docs/cli.md)"], None);
        check(&["array[i/2]"], None);
        check(&[""], None);
    }
}
