//! Test helpers: feed an [`Observer`] synthetic output at chosen times and
//! record what it says, as data or as text for snapshots.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use logist_core::{
    Error, ExitStatus, FailurePattern, OutputChunk, ProcessId, StopSequence, Stream, Verdict,
};
use logist_sentinel::{Action, Event, Match, Observer, OnPrompt, Outcome, Policy};

/// A policy that reports prompts at once, as the stream shows them (no
/// settle window): for tests of matching and of the policies themselves.
pub(crate) fn immediate() -> Policy {
    Policy::new().settle(Duration::ZERO)
}

/// An observer under test, with a clock the test moves by hand and a log of
/// everything it said.
pub(crate) struct Harness {
    pub(crate) observer: Observer,
    t0: Instant,
    now: Instant,
    offset: u64,
    log: String,
    pub(crate) events: Vec<Event>,
    pub(crate) actions: Vec<Action>,
}

impl Harness {
    /// An observer spawned at time 0.
    pub(crate) fn new(stops: &[StopSequence], failures: &[FailurePattern], policy: Policy) -> Self {
        Self::of(Observer::new(stops, failures, policy).unwrap())
    }

    /// An observer of a run on a pseudo-terminal of `size`, spawned at
    /// time 0.
    pub(crate) fn on_terminal(
        stops: &[StopSequence],
        policy: Policy,
        size: logist_core::TerminalSize,
    ) -> Self {
        let observer = Observer::new(stops, &[], policy).unwrap();
        Self::of(observer.terminal(size).unwrap())
    }

    fn of(observer: Observer) -> Self {
        let t0 = Instant::now();
        let mut harness = Self {
            observer,
            t0,
            now: t0,
            offset: 0,
            log: String::new(),
            events: Vec::new(),
            actions: Vec::new(),
        };
        harness.observer.spawned(ProcessId::new("agent-1"), t0);
        harness.drain();
        harness
    }

    /// Moves the clock to `ms` milliseconds after the spawn and ticks.
    pub(crate) fn at(&mut self, ms: u64) -> &mut Self {
        self.now = self.t0 + Duration::from_millis(ms);
        self.observer.tick(self.now);
        self.drain();
        self
    }

    /// Output on `stream`, at the current time, followed by a tick (as the
    /// driver does after each read).
    pub(crate) fn write(&mut self, stream: Stream, data: &[u8]) -> &mut Self {
        let chunk = OutputChunk {
            stream,
            offset: self.offset,
            data: data.to_vec(),
        };
        self.offset += data.len() as u64;
        self.observer.output(&chunk, self.now);
        self.observer.tick(self.now);
        self.drain();
        self
    }

    pub(crate) fn out(&mut self, data: &[u8]) -> &mut Self {
        self.write(Stream::Stdout, data)
    }

    pub(crate) fn err(&mut self, data: &[u8]) -> &mut Self {
        self.write(Stream::Stderr, data)
    }

    pub(crate) fn missed(&mut self, bytes: u64) -> &mut Self {
        self.offset += bytes;
        self.observer.missed(bytes, self.now);
        self.drain();
        self
    }

    pub(crate) fn written(&mut self) -> &mut Self {
        self.observer.written(self.now);
        self.drain();
        self
    }

    pub(crate) fn write_failed(&mut self, error: Error) -> &mut Self {
        self.observer.write_failed(error);
        self.drain();
        self
    }

    pub(crate) fn cancelled(&mut self) -> &mut Self {
        self.observer.cancelled();
        self.drain();
        self
    }

    pub(crate) fn exit(&mut self, status: ExitStatus) -> &mut Self {
        self.observer.output_ended(self.now);
        self.observer.exited(status, self.now);
        self.drain();
        self
    }

    pub(crate) fn verdict(&mut self, verdict: Option<Verdict>) -> &mut Self {
        self.observer.verdict(verdict);
        self.drain();
        self
    }

    /// The deadline, in milliseconds after the spawn.
    pub(crate) fn deadline_ms(&self) -> Option<u128> {
        self.observer
            .deadline()
            .map(|at| at.duration_since(self.t0).as_millis())
    }

    pub(crate) fn outcome(&self) -> &Outcome {
        self.observer.outcome().expect("the run is finished")
    }

    /// Every prompt reported so far.
    pub(crate) fn prompts(&self) -> Vec<Match> {
        self.events
            .iter()
            .filter_map(|event| match event {
                Event::WaitingForInput { matched, .. } => Some(matched.clone()),
                _ => None,
            })
            .collect()
    }

    /// The log of events and actions so far, one per line.
    pub(crate) fn log(&self) -> &str {
        &self.log
    }

    fn drain(&mut self) {
        while let Some(event) = self.observer.poll_event() {
            let line = render_event(&event, self.t0);
            writeln!(self.log, "{line}").unwrap();
            self.events.push(event);
        }
        while let Some(action) = self.observer.poll_action() {
            let line = match &action {
                Action::Write(bytes) => format!("  do: write {:?}", String::from_utf8_lossy(bytes)),
                Action::Terminate => "  do: terminate".to_owned(),
                Action::FetchVerdict { lines } => format!("  do: fetch verdict ({lines} lines)"),
                other => format!("  do: {other:?}"),
            };
            writeln!(self.log, "{line}").unwrap();
            self.actions.push(action);
        }
    }
}

fn ms(duration: Duration) -> String {
    format!("{}ms", duration.as_millis())
}

pub(crate) fn render_match(matched: &Match) -> String {
    format!(
        "#{} {} {}..{} {:?}",
        matched.index, matched.stream, matched.start, matched.end, matched.text
    )
}

fn render_event(event: &Event, t0: Instant) -> String {
    match event {
        Event::Started { id } => format!("started {id}"),
        Event::Output(chunk) => format!(
            "output {}@{} {:?}",
            chunk.stream,
            chunk.offset,
            String::from_utf8_lossy(&chunk.data)
        ),
        Event::Missed { bytes } => format!("missed {bytes} bytes"),
        Event::WaitingForInput { matched, at } => format!(
            "waiting for input at +{}: {}",
            ms(at.duration_since(t0)),
            render_match(matched)
        ),
        Event::FailureRecognised { cause, matched } => {
            format!("failure recognised: {cause} {}", render_match(matched))
        }
        Event::Answered { text, at } => {
            format!("answered {text:?} at +{}", ms(at.duration_since(t0)))
        }
        Event::AnswerFailed { error } => format!("answer failed: {error}"),
        Event::Idle { silent_for } => format!("idle for {}", ms(*silent_for)),
        Event::TimedOut { after } => format!("timed out after {}", ms(*after)),
        Event::Exited { status } => format!("exited: {status}"),
        Event::Finished(outcome) => format!("finished: {outcome}"),
        other => format!("{other:?}"),
    }
}

/// The prompts found when `chunks` are written in order to an observer that
/// waits on every prompt.
pub(crate) fn prompts_in(stops: &[StopSequence], chunks: &[&[u8]]) -> Vec<Match> {
    // Matching alone: prompts are reported at once, as the stream shows them.
    let policy = Policy::new()
        .on_prompt(OnPrompt::Wait)
        .settle(Duration::ZERO);
    let mut harness = Harness::new(stops, &[], policy);
    for chunk in chunks {
        harness.out(chunk);
    }
    harness.exit(ExitStatus::Code(0));
    harness.prompts()
}

/// Like [`prompts_in`], rendered one per line.
pub(crate) fn rendered_prompts(stops: &[StopSequence], chunks: &[&[u8]]) -> Vec<String> {
    prompts_in(stops, chunks).iter().map(render_match).collect()
}
