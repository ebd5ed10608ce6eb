//! What `exec` adds to a supervised run, attached once the command has
//! started: `logist`'s stdin passed to it (and, with `--pty` on a
//! terminal, raw mode and the window size), and generic questions answered
//! as `--on-input` says ([`crate::questions`]).

use std::io::{self, IsTerminal};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use logist_core::{Pattern, ProcessId, Runtime, error_chain};
use logist_sentinel::{CancelHandle, Event, Match, Policy, Run};

use crate::cli::{OnInput, Shared};
use crate::input::{self, AtEnd};
use crate::questions::{self, Question, Questions};
use crate::report::Reporter;
use crate::run::{lock, on_input};
use crate::signals::Signals;
use crate::terminal::RawMode;

/// What to attach to a run.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Interaction {
    /// Pass `logist`'s stdin to the command.
    pub(crate) relay_stdin: bool,
    /// Watch for generic questions.
    pub(crate) generic_questions: bool,
    /// A matched prompt counts at once, without the settle window: the
    /// person asked to be asked (`run --approval ask`), so a permission
    /// question or a headless refusal is what they want to hear about, even
    /// when the program goes on or ends right after it.
    pub(crate) prompts_at_once: bool,
}

impl Interaction {
    /// True when the person's keystrokes go to the command's terminal.
    pub(crate) fn keyboard(&self, shared: &Shared) -> bool {
        shared.pty
            && self.relay_stdin
            && io::stdin().is_terminal()
            && !crate::terminal::in_background(io::stdin())
    }
}

/// The attachments of a running command.
pub(crate) struct Attached {
    /// Restores the person's terminal when dropped, on every way out.
    raw_mode: Option<RawMode>,
    questions: Option<Questions>,
    /// The generic question the command was stopped for.
    stopped: Arc<Mutex<Option<Match>>>,
}

impl Attached {
    /// Attaches what `interaction` asks for to `run`'s command.
    pub(crate) fn start(
        interaction: Interaction,
        shared: &Shared,
        signals: &Signals,
        runtime: &Arc<dyn Runtime>,
        run: &Run,
        reporter: &Arc<Mutex<Reporter>>,
    ) -> Self {
        let mut attached = Self {
            raw_mode: None,
            questions: None,
            stopped: Arc::new(Mutex::new(None)),
        };
        let Some(id) = run.id().cloned() else {
            return attached;
        };
        // A detached run's supervisor has no stdin to give: `logist attach`
        // writes to the run's instead.
        if interaction.relay_stdin && !shared.detach {
            if interaction.keyboard(shared) {
                attached.raw_mode = RawMode::enable()
                    .inspect_err(
                        |error| tracing::warn!(%error, "cannot put the terminal in raw mode"),
                    )
                    .ok();
                input::follow_window_size(signals, Arc::clone(runtime), id.clone());
            }
            // Answers go to the same stdin later, and a terminal has no
            // end-of-file to give.
            let at_end = if shared.pty || on_input(shared) != &OnInput::Fail {
                AtEnd::KeepOpen
            } else {
                AtEnd::Close
            };
            input::relay(Arc::clone(runtime), id.clone(), at_end);
        }
        if interaction.generic_questions {
            let mut answerer = Answerer {
                on_input: on_input(shared).clone(),
                runtime: Arc::clone(runtime),
                id,
                cancel: run.cancel_handle(),
                reporter: Arc::clone(reporter),
                stopped: Arc::clone(&attached.stopped),
                answers: 0,
            };
            attached.questions = Some(Questions::start(questions::SETTLE, move |question| {
                answerer.question(question);
            }));
        }
        attached
    }

    /// The question watcher, to feed with the command's output.
    pub(crate) fn questions(&self) -> Option<&Questions> {
        self.questions.as_ref()
    }

    /// The run is over: detaches everything, gives the person their
    /// terminal back, and returns the generic question the command was
    /// stopped for, if it was.
    pub(crate) fn end(self) -> Option<Match> {
        if let Some(questions) = self.questions {
            questions.stop();
        }
        drop(self.raw_mode);
        lock(&self.stopped).take()
    }
}

/// Applies `--on-input` to generic questions.
struct Answerer {
    on_input: OnInput,
    runtime: Arc<dyn Runtime>,
    id: ProcessId,
    cancel: CancelHandle,
    reporter: Arc<Mutex<Reporter>>,
    /// The question the command was stopped for.
    stopped: Arc<Mutex<Option<Match>>>,
    answers: usize,
}

impl Answerer {
    fn question(&mut self, question: Question) {
        let matched = Match::new(
            Pattern::literal(question.text.clone()),
            question.stream,
            question.start..question.end,
            question.text,
        );
        let now = Instant::now();
        let waiting = Event::WaitingForInput {
            matched: matched.clone(),
            at: now,
        };
        lock(&self.reporter).event(&waiting, self.runtime.as_ref(), &[]);
        match &self.on_input {
            OnInput::Wait => {}
            OnInput::Answer(text) if self.answers < Policy::new().max_answers => {
                self.answers += 1;
                // Held while writing, so that the answer is reported before
                // the output it causes. (An answer is a few bytes: the pipe
                // has room for it.)
                let mut reporter = lock(&self.reporter);
                let answer = format!("{text}\n");
                let event = match self.runtime.write_stdin(&self.id, answer.as_bytes()) {
                    Ok(()) => Event::Answered {
                        text: answer,
                        at: now,
                    },
                    Err(error) => Event::AnswerFailed {
                        error: Arc::new(error),
                    },
                };
                reporter.event(&event, self.runtime.as_ref(), &[]);
                drop(reporter);
                if matches!(event, Event::AnswerFailed { .. }) {
                    self.stop(matched);
                }
            }
            OnInput::Fail | OnInput::Answer(_) => self.stop(matched),
        }
    }

    fn stop(&self, matched: Match) {
        *lock(&self.stopped) = Some(matched);
        if let Err(error) = self.cancel.cancel() {
            tracing::warn!(error = %error_chain(&error), "stopping the command failed");
        }
    }
}
