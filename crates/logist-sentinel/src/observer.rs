//! The [`Observer`]: everything the sentinel decides, as a pure state
//! machine. It is fed output, the passage of time and the exit status, and
//! answers with [`Event`]s for the caller and [`Action`]s for the driver. It
//! reads no clock, starts no thread and does no I/O.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use logist_core::{
    Error, ExitStatus, FailureCause, FailurePattern, OutputChunk, Pattern, ProcessId, StopSequence,
    Stream, TerminalSize, Verdict,
};

use crate::error::{PatternError, PatternList};
use crate::matcher::{Hit, Match, PatternSet, Scanner};
use crate::screen::Screen;

/// How many lines of standard output the agent's
/// [`verdict`](logist_core::Agent::verdict) is given.
pub const VERDICT_TAIL_LINES: usize = 20;

/// The default settle window ([`Policy::settle`]): how long a program must
/// stay at a matched prompt before it counts as waiting, 500 ms.
///
/// Long enough for a program that prints a question and answers it itself
/// (Aider with its standard input at its end prints the rest of its output
/// within milliseconds, even on a loaded machine) to show it goes on; short
/// next to the time a person takes to read a question.
pub const DEFAULT_SETTLE: Duration = Duration::from_millis(500);

/// A program that keeps drawing after a prompt on a terminal (a spinner, a
/// clock) is judged by its screen at the latest after this many settle
/// windows from the match.
const SETTLE_CAP: u32 = 4;

/// What to do when the agent waits for input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum OnPrompt {
    /// Terminate the agent and its process tree; the outcome is
    /// [`Outcome::WaitingForInput`].
    #[default]
    Fail,
    /// Keep watching: someone else may answer, with
    /// [`Runtime::write_stdin`](logist_core::Runtime::write_stdin) (the
    /// driver pipes standard input for this policy). While the agent waits
    /// (from the prompt until it prints visible text again) the idle timer
    /// is suspended: waiting for a person is not hanging. The overall
    /// timeout still applies.
    Wait,
    /// Write this text to the agent's standard input, as is (include the
    /// `\n` if the agent reads lines), then keep watching. One answer is
    /// written per read of the output: prompts found in the same read as
    /// the one being answered (a dialog that matches several stop
    /// sequences) are reported but not answered again. At most
    /// [`Policy::max_answers`] answers are written; the next prompt is then
    /// handled as [`OnPrompt::Fail`].
    Answer(String),
}

// Settling is described on `Policy::settle` and in the crate docs.

/// Limits and the prompt policy for one run.
///
/// ```
/// use std::time::Duration;
/// use logist_sentinel::{OnPrompt, Policy};
///
/// let policy = Policy::new()
///     .timeout(Duration::from_secs(600))
///     .idle_timeout(Duration::from_secs(60))
///     .on_prompt(OnPrompt::Answer("y\n".into()))
///     .max_answers(2)
///     .settle(Duration::from_millis(300));
/// assert_eq!(policy.max_answers, 2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// Longest time the agent may run, from spawn to exit; `None` for no
    /// limit. When it passes the agent is terminated and the outcome is
    /// [`Outcome::TimedOut`].
    pub timeout: Option<Duration>,
    /// Longest time without any output (escape sequences count); `None` for
    /// no limit. When it passes the agent is terminated and the outcome is
    /// [`Outcome::Hung`]. Writing an answer restarts it.
    pub idle_timeout: Option<Duration>,
    /// What to do when a stop sequence is found.
    pub on_prompt: OnPrompt,
    /// Most answers written under [`OnPrompt::Answer`], so an agent that
    /// keeps asking cannot loop forever. 3 by default.
    pub max_answers: usize,
    /// How long the program must stay at a matched prompt before it counts
    /// as waiting; [`DEFAULT_SETTLE`] by default. A program that prints
    /// visible text after the prompt within this window (on pipes), or
    /// whose screen no longer shows a stop sequence once it has been quiet
    /// this long (on a terminal), was not waiting: the match is dropped.
    /// Zero reports a prompt at once, from the chunk that completes it, as
    /// the stream shows it (no screen model).
    pub settle: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            timeout: None,
            idle_timeout: None,
            on_prompt: OnPrompt::Fail,
            max_answers: 3,
            settle: DEFAULT_SETTLE,
        }
    }
}

impl Policy {
    /// No timeouts, fail on prompts, at most 3 answers, prompts settle for
    /// [`DEFAULT_SETTLE`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the overall timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the idle timeout.
    #[must_use]
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = Some(idle);
        self
    }

    /// Sets the prompt policy.
    #[must_use]
    pub fn on_prompt(mut self, on_prompt: OnPrompt) -> Self {
        self.on_prompt = on_prompt;
        self
    }

    /// Sets the most answers written.
    #[must_use]
    pub fn max_answers(mut self, max: usize) -> Self {
        self.max_answers = max;
        self
    }

    /// Sets the settle window; zero reports prompts at once.
    #[must_use]
    pub fn settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }
}

/// Something that happened, in the order it happened.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// The agent was spawned.
    Started {
        /// The runtime's id for it.
        id: ProcessId,
    },
    /// Output, exactly as the agent wrote it.
    Output(OutputChunk),
    /// The runtime's memory bound discarded this many bytes before they
    /// could be read; no match spans the gap.
    Missed {
        /// How many.
        bytes: u64,
    },
    /// A stop sequence was found: the agent waits for input. The same
    /// prompt redrawn in place is not reported again (see the crate docs).
    WaitingForInput {
        /// What was found, and where.
        matched: Match,
        /// When the output completing it was observed.
        at: Instant,
    },
    /// A failure pattern was found (the first one only).
    FailureRecognised {
        /// What it means.
        cause: FailureCause,
        /// What was found, and where.
        matched: Match,
    },
    /// An answer was written to the agent's standard input.
    Answered {
        /// The text written.
        text: String,
        /// When.
        at: Instant,
    },
    /// Writing an answer failed; the agent is terminated.
    AnswerFailed {
        /// Why.
        error: Arc<Error>,
    },
    /// No output for the idle limit; the agent is terminated.
    Idle {
        /// How long the agent had been silent.
        silent_for: Duration,
    },
    /// The overall timeout passed; the agent is terminated.
    TimedOut {
        /// How long the agent had been running.
        after: Duration,
    },
    /// The agent exited, but processes it started kept its output open
    /// past the runtime's short leak window
    /// ([`Completion::output_leaked`](logist_core::Completion::output_leaked)).
    /// The driver stops them before it reports the exit.
    OutputLeaked,
    /// The agent exited.
    Exited {
        /// How.
        status: ExitStatus,
    },
    /// The run is over; always the last event.
    Finished(Outcome),
}

/// What the driver must do for the observer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Write these bytes to the agent's standard input, then report with
    /// [`Observer::written`] or [`Observer::write_failed`].
    Write(Vec<u8>),
    /// Terminate the agent and its process tree, politely (with the grace
    /// period). Keep reading its output until it ends.
    Terminate,
    /// Read the last `lines` lines of the agent's standard output, pass
    /// them to [`Agent::verdict`](logist_core::Agent::verdict), and report
    /// the result with [`Observer::verdict`].
    FetchVerdict {
        /// How many lines.
        lines: usize,
    },
}

/// How a run ended.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// The agent exited by itself.
    Completed {
        /// Its exit status.
        status: ExitStatus,
        /// Why it failed, when it failed and the cause was recognised: the
        /// verdict's cause, else the first failure pattern found.
        cause: Option<FailureCause>,
        /// The agent's own report, when it exited with 0 and gave one. A
        /// [`Verdict::Failed`] makes the run a failure despite the exit code.
        verdict: Option<Verdict>,
        /// True when processes the agent started kept its output open
        /// after it exited ([`Event::OutputLeaked`]); they were stopped.
        output_leaked: bool,
    },
    /// A stop sequence was found and the policy said fail (or the answers
    /// ran out, or an answer could not be written); the agent was
    /// terminated.
    WaitingForInput {
        /// The prompt.
        matched: Match,
        /// The status after termination.
        status: ExitStatus,
    },
    /// No output for the idle limit; the agent was terminated.
    Hung {
        /// How long it had been silent.
        silent_for: Duration,
        /// The status after termination.
        status: ExitStatus,
    },
    /// The overall timeout passed; the agent was terminated.
    TimedOut {
        /// The limit.
        timeout: Duration,
        /// The status after termination.
        status: ExitStatus,
    },
    /// The caller cancelled the run while the agent was running; the agent
    /// was terminated.
    Cancelled {
        /// The status after termination.
        status: ExitStatus,
    },
    /// The agent could not be started.
    FailedToStart {
        /// Why.
        error: Arc<Error>,
    },
    /// The runtime failed while the agent was being watched (an output read,
    /// a termination or the final wait returned an error).
    RuntimeFailed {
        /// The error.
        error: Arc<Error>,
    },
}

impl Outcome {
    /// True when the agent exited with 0 and its verdict, if any, did not
    /// say it failed.
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            Outcome::Completed { status, verdict, .. }
                if status.success() && !matches!(verdict, Some(Verdict::Failed { .. }))
        )
    }

    /// The exit status, when the agent ran and exited.
    pub fn status(&self) -> Option<ExitStatus> {
        match self {
            Outcome::Completed { status, .. }
            | Outcome::WaitingForInput { status, .. }
            | Outcome::Hung { status, .. }
            | Outcome::TimedOut { status, .. }
            | Outcome::Cancelled { status } => Some(*status),
            Outcome::FailedToStart { .. } | Outcome::RuntimeFailed { .. } => None,
        }
    }
}

/// One line for people: `completed: exit code 0`, `failed: exit code 1
/// (rate_limited)`, `waiting for input: "[y/N]" at byte 120`, …
impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Completed {
                status,
                cause,
                verdict,
                output_leaked,
            } => {
                if self.is_success() {
                    write!(f, "completed: {status}")?;
                } else {
                    write!(f, "failed: {status}")?;
                    if let Some(Verdict::Failed { message, .. }) = verdict {
                        write!(f, ", but the agent reported a failure: {message}")?;
                    }
                    if let Some(cause) = cause {
                        write!(f, " ({cause})")?;
                    }
                }
                if *output_leaked {
                    f.write_str("; processes it left holding its output were stopped")?;
                }
                Ok(())
            }
            Outcome::WaitingForInput { matched, status } => write!(
                f,
                "waiting for input: {} at byte {}; terminated ({status})",
                matched.pattern, matched.end
            ),
            Outcome::Hung { silent_for, status } => write!(
                f,
                "hung: no output for {:.1}s; terminated ({status})",
                silent_for.as_secs_f64()
            ),
            Outcome::TimedOut { timeout, status } => write!(
                f,
                "timed out after {:.1}s; terminated ({status})",
                timeout.as_secs_f64()
            ),
            Outcome::Cancelled { status } => write!(f, "cancelled by the caller ({status})"),
            Outcome::FailedToStart { error } => write!(f, "failed to start: {error}"),
            Outcome::RuntimeFailed { error } => write!(f, "the runtime failed: {error}"),
        }
    }
}

/// Why the observer ended the run early.
#[derive(Clone, Debug)]
enum Reason {
    Prompt(Match),
    Idle(Duration),
    Timeout(Duration),
    Cancelled,
}

/// Where the run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not spawned yet.
    Created,
    /// Spawned, not exited.
    Running,
    /// Exited; the verdict is being fetched.
    Exited,
    /// The outcome is known.
    Finished,
}

const STOP: usize = 0;
const FAILURE: usize = 1;

/// The sans-IO core of the sentinel: all of its logic, none of its I/O.
///
/// Feed it what happens, with the time it happened ([`Instant`]s the caller
/// reads: the observer never reads a clock), and drain what it decides:
/// [`poll_event`](Self::poll_event) for the caller,
/// [`poll_action`](Self::poll_action) for the driver. Call
/// [`tick`](Self::tick) whenever time may have passed, at the latest at
/// [`deadline`](Self::deadline). Inputs after the run finished are ignored.
///
/// ```
/// use std::time::{Duration, Instant};
/// use logist_core::{OutputChunk, ProcessId, StopSequence, Stream};
/// use logist_sentinel::{Action, DEFAULT_SETTLE, Event, Observer, Policy};
///
/// let stops = [StopSequence::literal("[y/N]")];
/// let mut observer = Observer::new(&stops, &[], Policy::new().timeout(Duration::from_secs(60)))?;
/// let start = Instant::now();
/// observer.spawned(ProcessId::new("p-1"), start);
/// assert_eq!(observer.deadline(), Some(start + Duration::from_secs(60)));
///
/// // The prompt arrives split across two reads, with colours in between.
/// let chunk = |offset, data: &[u8]| OutputChunk { stream: Stream::Stdout, offset, data: data.to_vec() };
/// observer.output(&chunk(0, b"Overwrite? [y"), start);
/// observer.output(&chunk(13, b"/\x1b[1mN\x1b[0m]"), start);
/// // It counts as waiting once the program stayed at it for the settle
/// // window.
/// observer.tick(start + DEFAULT_SETTLE);
///
/// let waiting = std::iter::from_fn(|| observer.poll_event())
///     .find_map(|event| match event {
///         Event::WaitingForInput { matched, .. } => Some(matched),
///         _ => None,
///     })
///     .unwrap();
/// assert_eq!((waiting.start, waiting.end), (11, 24));
/// // The default policy fails on prompts: the driver must terminate.
/// assert_eq!(observer.poll_action(), Some(Action::Terminate));
/// # Ok::<(), logist_sentinel::PatternError>(())
/// ```
pub struct Observer {
    scanner: Scanner,
    /// The stop sequences, kept to search a terminal's screen for.
    stops: Vec<StopSequence>,
    /// The terminal's screen, on a pseudo-terminal with a settle window.
    screen: Option<Screen>,
    /// Prompts matched in the stream and not settled yet, in order.
    candidates: Vec<Match>,
    /// Where the last of them, or its latest redraw, ends.
    prompt_end: u64,
    /// Visible text came after `prompt_end` (on pipes).
    text_after_prompt: bool,
    /// A line feed came after `prompt_end` (on pipes).
    line_after_prompt: bool,
    /// When the first of them was found.
    found_at: Option<Instant>,
    /// The prompt the screen showed at the last settle, by its key.
    shown: Option<(usize, usize, String)>,
    /// Where the output read so far ends.
    output_end: u64,
    /// When the settle window ends: the prompts (or, on a terminal, the
    /// screen) are judged then.
    settle_at: Option<Instant>,
    causes: Vec<FailureCause>,
    policy: Policy,
    phase: Phase,
    started_at: Option<Instant>,
    last_activity: Option<Instant>,
    /// True from a prompt under [`OnPrompt::Wait`] until visible text
    /// follows: the idle timer is suspended meanwhile.
    waiting: bool,
    answers: usize,
    /// The prompt an answer is being written for.
    answering: VecDeque<Match>,
    reason: Option<Reason>,
    cause: Option<FailureCause>,
    status: Option<ExitStatus>,
    output_ended: bool,
    output_leaked: bool,
    events: VecDeque<Event>,
    actions: VecDeque<Action>,
    outcome: Option<Outcome>,
    hits: Vec<Hit>,
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observer")
            .field("policy", &self.policy)
            .field("phase", &self.phase)
            .field("reason", &self.reason)
            .field("cause", &self.cause)
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

impl Observer {
    /// An observer for an agent with these stop sequences and failure
    /// patterns.
    ///
    /// # Errors
    ///
    /// A [`PatternError`] naming the first pattern that cannot be used.
    pub fn new(
        stop_sequences: &[StopSequence],
        failure_patterns: &[FailurePattern],
        policy: Policy,
    ) -> Result<Self, PatternError> {
        let stop = PatternSet::new(PatternList::StopSequences, stop_sequences)?;
        let failure_list: Vec<Pattern> = failure_patterns
            .iter()
            .map(|failure| failure.pattern.clone())
            .collect();
        let failure = PatternSet::new(PatternList::FailurePatterns, &failure_list)?;
        Ok(Self {
            scanner: Scanner::new(vec![stop, failure]),
            stops: stop_sequences.to_vec(),
            screen: None,
            candidates: Vec::new(),
            prompt_end: 0,
            text_after_prompt: false,
            line_after_prompt: false,
            found_at: None,
            shown: None,
            output_end: 0,
            settle_at: None,
            causes: failure_patterns
                .iter()
                .map(|failure| failure.cause)
                .collect(),
            policy,
            phase: Phase::Created,
            started_at: None,
            last_activity: None,
            waiting: false,
            answers: 0,
            answering: VecDeque::new(),
            reason: None,
            cause: None,
            status: None,
            output_ended: false,
            output_leaked: false,
            events: VecDeque::new(),
            actions: VecDeque::new(),
            outcome: None,
            hits: Vec::new(),
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The agent runs on a pseudo-terminal of `size`: its standard output
    /// is also drawn on a terminal screen, and with a settle window
    /// ([`Policy::settle`]) the stop sequences are searched on that screen
    /// once the agent has been quiet for the window, so a prompt counts
    /// when a person would see it, whatever escape sequences drew it. With
    /// no settle window this changes nothing.
    ///
    /// # Errors
    ///
    /// A [`PatternError`] if the stop sequences cannot be compiled (they
    /// were already, by [`new`](Self::new), so in practice never).
    pub fn terminal(mut self, size: TerminalSize) -> Result<Self, PatternError> {
        if !self.policy.settle.is_zero() {
            self.screen = Some(Screen::new(size, &self.stops)?);
        }
        Ok(self)
    }

    /// The agent was spawned at `now`: the timers start.
    pub fn spawned(&mut self, id: ProcessId, now: Instant) {
        if self.phase != Phase::Created {
            return;
        }
        self.phase = Phase::Running;
        self.started_at = Some(now);
        self.last_activity = Some(now);
        self.events.push_back(Event::Started { id });
    }

    /// The agent could not be spawned: the run is over.
    pub fn failed_to_start(&mut self, error: Error) {
        if self.phase != Phase::Created {
            return;
        }
        self.finish(Outcome::FailedToStart {
            error: Arc::new(error),
        });
    }

    /// Output arrived at `now`.
    pub fn output(&mut self, chunk: &OutputChunk, now: Instant) {
        if self.phase != Phase::Running || self.output_ended {
            return;
        }
        self.last_activity = Some(now);
        self.output_end = self.output_end.max(chunk.offset + chunk.data.len() as u64);
        self.events.push_back(Event::Output(chunk.clone()));
        let mut hits = std::mem::take(&mut self.hits);
        let visible = self
            .scanner
            .feed(chunk.stream, chunk.offset, &chunk.data, &mut hits);
        if self.waiting && visible.is_some() {
            // The agent got its input from someone and goes on.
            self.waiting = false;
        }
        if chunk.stream == Stream::Stdout
            && self.reason.is_none()
            && let Some(screen) = &mut self.screen
        {
            screen.process(&chunk.data);
        }
        self.handle_hits(&mut hits, now);
        self.hits = hits;
        self.schedule_settle(chunk, visible, now);
    }

    /// The runtime discarded `bytes` bytes of output before they could be
    /// read.
    pub fn missed(&mut self, bytes: u64, now: Instant) {
        if self.phase != Phase::Running || self.output_ended || bytes == 0 {
            return;
        }
        self.last_activity = Some(now);
        self.scanner.gap();
        self.events.push_back(Event::Missed { bytes });
    }

    /// The output ended (the runtime's read said `finished`).
    pub fn output_ended(&mut self, now: Instant) {
        if self.phase != Phase::Running || self.output_ended {
            return;
        }
        self.output_ended = true;
        // A prompt not settled yet was not waited at: the program is gone.
        self.unsettle();
        let mut hits = std::mem::take(&mut self.hits);
        self.scanner.finish(&mut hits);
        // A prompt at the very end of the output cannot be answered any
        // more; only failure patterns still count.
        hits.retain(|hit| hit.set == FAILURE);
        self.handle_hits(&mut hits, now);
        self.hits = hits;
    }

    /// Time passed: settles prompts and fires the idle and overall
    /// timeouts when they are due.
    pub fn tick(&mut self, now: Instant) {
        if self.phase != Phase::Running || self.reason.is_some() {
            return;
        }
        if self.settle_at.is_some_and(|at| at <= now) {
            // The timers are looked at on the next tick, after the driver
            // has acted on the prompt (an answer restarts the idle timer).
            self.settle(now);
            return;
        }
        let timeout_at = self.timeout_at();
        let idle_at = self.idle_at();
        let due = |at: Option<Instant>| at.filter(|&at| at <= now);
        match (due(timeout_at), due(idle_at)) {
            (Some(timeout), idle) if idle.is_none_or(|idle| timeout <= idle) => {
                let started = self.started_at.unwrap_or(now);
                self.events.push_back(Event::TimedOut {
                    after: now.saturating_duration_since(started),
                });
                let limit = self.policy.timeout.unwrap_or_default();
                self.end(Reason::Timeout(limit));
            }
            (_, Some(_)) => {
                let last = self.last_activity.unwrap_or(now);
                let silent_for = now.saturating_duration_since(last);
                self.events.push_back(Event::Idle { silent_for });
                self.end(Reason::Idle(silent_for));
            }
            _ => {}
        }
    }

    /// When [`tick`](Self::tick) must be called at the latest; `None` when
    /// no timer runs (no limits, or the agent is already being stopped).
    pub fn deadline(&self) -> Option<Instant> {
        if self.phase != Phase::Running || self.reason.is_some() {
            return None;
        }
        [self.timeout_at(), self.idle_at(), self.settle_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// The answer asked for by [`Action::Write`] was written at `now`.
    pub fn written(&mut self, now: Instant) {
        if self.phase != Phase::Running || self.answering.pop_front().is_none() {
            return;
        }
        if let OnPrompt::Answer(text) = &self.policy.on_prompt {
            self.events.push_back(Event::Answered {
                text: text.clone(),
                at: now,
            });
        }
        // The agent gets a whole idle period to react.
        self.last_activity = Some(now);
    }

    /// Writing the answer asked for by [`Action::Write`] failed: the agent
    /// is terminated as if the policy were [`OnPrompt::Fail`].
    pub fn write_failed(&mut self, error: Error) {
        let Some(prompt) = self.answering.pop_front() else {
            return;
        };
        if self.phase != Phase::Running {
            return;
        }
        self.events.push_back(Event::AnswerFailed {
            error: Arc::new(error),
        });
        self.end(Reason::Prompt(prompt));
    }

    /// The caller cancelled the run: the agent is terminated, and the
    /// outcome is [`Outcome::Cancelled`] unless the observer had already
    /// decided to stop it for another reason.
    pub fn cancelled(&mut self) {
        if self.phase == Phase::Running {
            self.end(Reason::Cancelled);
        }
    }

    /// The agent exited, and processes it started held its output open past
    /// the runtime's leak window
    /// ([`Completion::output_leaked`](logist_core::Completion::output_leaked));
    /// the driver has stopped them. Call before [`exited`](Self::exited).
    pub fn output_leaked(&mut self) {
        if self.phase != Phase::Running || self.output_leaked {
            return;
        }
        self.output_leaked = true;
        self.events.push_back(Event::OutputLeaked);
    }

    /// The agent exited with `status`.
    pub fn exited(&mut self, status: ExitStatus, now: Instant) {
        if self.phase != Phase::Running {
            return;
        }
        self.output_ended(now);
        self.events.push_back(Event::Exited { status });
        self.status = Some(status);
        self.phase = Phase::Exited;
        if self.reason.is_none() && status.success() {
            self.actions.push_back(Action::FetchVerdict {
                lines: VERDICT_TAIL_LINES,
            });
        } else {
            self.conclude(None);
        }
    }

    /// The agent's verdict, as asked for by [`Action::FetchVerdict`]
    /// (`None` when it gave none or the output could not be read).
    pub fn verdict(&mut self, verdict: Option<Verdict>) {
        if self.phase == Phase::Exited {
            self.conclude(verdict);
        }
    }

    /// The runtime failed while the agent was watched: the run is over.
    pub fn runtime_failed(&mut self, error: Error) {
        if matches!(self.phase, Phase::Running | Phase::Exited) {
            self.finish(Outcome::RuntimeFailed {
                error: Arc::new(error),
            });
        }
    }

    /// The next event for the caller.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next action for the driver.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The outcome, once the run is over.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// True once the outcome is known. (Events may still be queued.)
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    fn timeout_at(&self) -> Option<Instant> {
        let started = self.started_at?;
        started.checked_add(self.policy.timeout?)
    }

    fn idle_at(&self) -> Option<Instant> {
        // Waiting for a person is not hanging; nor is a prompt being
        // settled (the settle deadline decides first).
        if self.waiting || !self.candidates.is_empty() {
            return None;
        }
        self.last_activity?.checked_add(self.policy.idle_timeout?)
    }

    fn handle_hits(&mut self, hits: &mut Vec<Hit>, now: Instant) {
        for hit in hits.drain(..) {
            match hit.set {
                STOP if hit.repeat => {
                    // The same prompt redrawn: still waiting, not asking
                    // again.
                    if self.reason.is_none()
                        && self.policy.on_prompt == OnPrompt::Wait
                        && self.candidates.is_empty()
                    {
                        self.waiting = true;
                    }
                    if !self.candidates.is_empty() {
                        self.prompt_end = hit.matched.end;
                        self.text_after_prompt = false;
                        self.line_after_prompt = false;
                    }
                }
                STOP if self.policy.settle.is_zero() => self.prompt(hit.matched, now),
                STOP => {
                    if self.reason.is_none() {
                        self.found_at.get_or_insert(now);
                        self.prompt_end = hit.matched.end;
                        self.text_after_prompt = false;
                        self.line_after_prompt = false;
                        self.candidates.push(hit.matched);
                    }
                }
                _ => {
                    if self.cause.is_none() {
                        let cause = self.causes[hit.matched.index];
                        self.cause = Some(cause);
                        self.scanner.deactivate(FAILURE);
                        self.events.push_back(Event::FailureRecognised {
                            cause,
                            matched: hit.matched,
                        });
                    }
                }
            }
        }
    }

    /// After output at `now` whose visible text ended at `visible`:
    /// drops the prompts the program went on from and sets when the rest
    /// settle.
    fn schedule_settle(&mut self, chunk: &OutputChunk, visible: Option<u64>, now: Instant) {
        if self.reason.is_some() || self.policy.settle.is_zero() {
            return;
        }
        let settle = self.policy.settle;
        match &self.screen {
            None => {
                // On pipes a prompt is the last line a program prints
                // before it reads: visible text after it and a line feed
                // after it mean it went on. Text on the prompt's own line
                // alone may be the rest of the question (`Proceed? [y/N]: `
                // matched by `[y/N]`, however the writes were cut).
                if !self.candidates.is_empty() {
                    let end = self.prompt_end;
                    if visible.is_some_and(|visible| visible > end) {
                        self.text_after_prompt = true;
                    }
                    let after =
                        usize::try_from(end.saturating_sub(chunk.offset)).unwrap_or(usize::MAX);
                    if chunk
                        .data
                        .get(after..)
                        .is_some_and(|rest| rest.contains(&b'\n'))
                    {
                        self.line_after_prompt = true;
                    }
                    if self.text_after_prompt && self.line_after_prompt {
                        self.unsettle();
                    }
                }
                if self.candidates.is_empty() {
                    self.settle_at = None;
                } else if self.settle_at.is_none() || visible.is_some() {
                    self.settle_at = now.checked_add(settle);
                }
            }
            Some(screen) => {
                // On a terminal the screen is judged once the program has
                // drawn it: after a quiet settle window, or at the latest
                // a few windows after the match, if it keeps drawing.
                if !screen.dirty && self.candidates.is_empty() {
                    return;
                }
                let quiet = now.checked_add(settle);
                let cap = self
                    .found_at
                    .and_then(|found| found.checked_add(settle * SETTLE_CAP));
                self.settle_at = match (quiet, cap) {
                    (Some(quiet), Some(cap)) => Some(quiet.min(cap)),
                    (quiet, cap) => quiet.or(cap),
                };
            }
        }
    }

    /// Forgets the prompts not settled yet.
    fn unsettle(&mut self) {
        self.candidates.clear();
        self.found_at = None;
        self.settle_at = None;
    }

    /// The settle window passed: the prompts found are confirmed (on a
    /// terminal, if the screen shows one).
    fn settle(&mut self, now: Instant) {
        let candidates = std::mem::take(&mut self.candidates);
        self.unsettle();
        let Some(screen) = &mut self.screen else {
            for matched in candidates {
                self.prompt(matched, now);
            }
            return;
        };
        let Some(found) = screen.search() else {
            self.shown = None;
            return;
        };
        // Shown as before and not drawn anew in the stream: the prompt the
        // program still waits at.
        let repeat = candidates.is_empty() && self.shown.as_ref() == Some(&found.key);
        self.shown = Some(found.key);
        if repeat {
            if self.policy.on_prompt == OnPrompt::Wait {
                self.waiting = true;
            }
            return;
        }
        let matched = match candidates
            .into_iter()
            .find(|matched| matched.index == found.matched.index)
        {
            Some(matched) => matched,
            None => Match {
                stream: Stream::Stdout,
                start: self.output_end,
                end: self.output_end,
                ..found.matched
            },
        };
        self.prompt(matched, now);
    }

    fn prompt(&mut self, matched: Match, now: Instant) {
        if self.reason.is_some() {
            return;
        }
        self.events.push_back(Event::WaitingForInput {
            matched: matched.clone(),
            at: now,
        });
        match &self.policy.on_prompt {
            OnPrompt::Fail => self.end(Reason::Prompt(matched)),
            OnPrompt::Wait => self.waiting = true,
            OnPrompt::Answer(text) => {
                if !self.answering.is_empty() {
                    // Found in the same read as the prompt whose answer is
                    // about to be written: the same question on the same
                    // screen (a dialog matching several stop sequences).
                    return;
                }
                if self.answers < self.policy.max_answers {
                    self.answers += 1;
                    self.actions
                        .push_back(Action::Write(text.as_bytes().to_vec()));
                    self.answering.push_back(matched);
                } else {
                    self.end(Reason::Prompt(matched));
                }
            }
        }
    }

    /// Decides to stop the agent.
    fn end(&mut self, reason: Reason) {
        if self.reason.is_some() {
            return;
        }
        self.reason = Some(reason);
        self.waiting = false;
        self.unsettle();
        self.scanner.deactivate(STOP);
        self.actions.push_back(Action::Terminate);
    }

    fn conclude(&mut self, verdict: Option<Verdict>) {
        let Some(status) = self.status else {
            return;
        };
        let outcome = match self.reason.take() {
            Some(Reason::Prompt(matched)) => Outcome::WaitingForInput { matched, status },
            Some(Reason::Idle(silent_for)) => Outcome::Hung { silent_for, status },
            Some(Reason::Timeout(timeout)) => Outcome::TimedOut { timeout, status },
            Some(Reason::Cancelled) => Outcome::Cancelled { status },
            None => {
                let verdict_cause = match &verdict {
                    Some(Verdict::Failed { cause, .. }) => Some(*cause),
                    _ => None,
                };
                let failed = !status.success() || verdict_cause.is_some();
                let cause = if failed {
                    verdict_cause.flatten().or(self.cause)
                } else {
                    None
                };
                Outcome::Completed {
                    status,
                    cause,
                    verdict,
                    output_leaked: self.output_leaked,
                }
            }
        };
        self.finish(outcome);
    }

    fn finish(&mut self, outcome: Outcome) {
        self.phase = Phase::Finished;
        self.actions.clear();
        self.answering.clear();
        self.outcome = Some(outcome.clone());
        self.events.push_back(Event::Finished(outcome));
    }
}
