//! The driver on `MockRuntime`, without processes: the mock agent's
//! scenarios, the matcher's edge cases end to end through scripts
//! registered on the runtime (split sequences, overlapping patterns,
//! terminal noise, huge outputs, a terminal), and injected faults (a
//! removed process, a small output bound, a closed stdin).

use std::sync::Arc;
use std::time::Duration;

use logist_core::{
    Error, ExitStatus, FailureCause, FailurePattern, Pattern, Runtime, StopSequence, Stream,
    TerminalSize,
};
use logist_mock::{
    APPLIED, BINARY_OUTPUT, CRASH_SIGNAL, FloodStream, LineBranch, MockConfig, MockRuntime,
    Scenario, Script, Step, flood_bytes,
};
use logist_sentinel::{Event, OnPrompt, Outcome, Policy, RunOptions, Sentinel};

use crate::runs::{Record, ScriptAgent, eventually, kind, mock, start, until};

const PROMPT: &str = "Proceed? [y/N]: ";

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

fn runtime() -> (Arc<MockRuntime>, Arc<dyn Runtime>) {
    with_config(MockConfig::default())
}

fn with_config(config: MockConfig) -> (Arc<MockRuntime>, Arc<dyn Runtime>) {
    let mock = Arc::new(MockRuntime::with_config(config.grace(ms(200))));
    let runtime: Arc<dyn Runtime> = mock.clone();
    (mock, runtime)
}

fn options(policy: Policy) -> RunOptions {
    RunOptions::new().policy(policy)
}

fn answer_yes() -> Policy {
    Policy::new().on_prompt(OnPrompt::Answer("y\n".into()))
}

fn yes_no() -> Script {
    Script::new().read_line(
        LineBranch::new()
            .on(["y"], Script::new().stdout(APPLIED).exit(0))
            .otherwise(Script::new().stdout("Cancelled.\n").exit(1)),
    )
}

/// Waits for the caller's go-ahead (any line on stdin), so the bytes
/// before it reach the driver in reads of their own.
fn barrier() -> Script {
    Script::new().read_line(LineBranch::new())
}

fn stops(patterns: &[Pattern]) -> Vec<StopSequence> {
    patterns.to_vec()
}

/// Runs `first`, a [`barrier`], then `rest` as an agent that waits on
/// prompts: releases the barrier once the driver has read all of `first`,
/// so the rest comes in reads of its own, and answers `y` at the prompt.
fn run_split(first: &[u8], rest: Script, stop_sequences: Vec<StopSequence>) -> Record {
    let (mock, runtime) = runtime();
    mock.register(
        "asker",
        Script::new().stdout(first).then(barrier()).then(rest),
    );
    let agent = Arc::new(ScriptAgent::new("asker", stop_sequences));
    let mut run = start(
        &runtime,
        agent,
        options(Policy::new().on_prompt(OnPrompt::Wait)),
        "x",
    );
    let id = run.id().unwrap().clone();
    let mut read = Vec::new();
    let mut events = until(&mut run, |event| {
        if let Event::Output(chunk) = event {
            read.extend_from_slice(&chunk.data);
        }
        read.ends_with(first)
    });
    runtime.write_stdin(&id, b"\n").unwrap();
    if !events
        .iter()
        .any(|event| matches!(event, Event::WaitingForInput { .. }))
    {
        events.extend(until(&mut run, |event| {
            matches!(event, Event::WaitingForInput { .. })
        }));
    }
    runtime.write_stdin(&id, b"y\n").unwrap();
    let rest = Record::of(run);
    events.extend(rest.events);
    Record {
        id: rest.id,
        events,
        outcome: rest.outcome,
    }
}

#[test]
fn the_mock_agents_scenarios_run_as_on_a_host() {
    let (mock_runtime, runtime) = runtime();
    let run =
        |scenario, policy| Record::run(&runtime, Arc::new(mock(scenario)), options(policy), "x");

    let record = run(Scenario::Success, Policy::new());
    assert_eq!(record.kinds(), "started output exited finished");
    assert!(record.outcome.is_success(), "{}", record.outcome);
    let logs = runtime.get_logs(record.id(), None).unwrap();
    assert_eq!(record.output(None), logs.bytes());

    let record = run(Scenario::Interactive, answer_yes());
    assert_eq!(
        record.kinds(),
        "started output waiting answered output exited finished"
    );
    assert!(record.outcome.is_success(), "{}", record.outcome);
    assert_eq!(mock_runtime.stdin_received(record.id()).unwrap(), b"y\n");

    let record = run(Scenario::Hang, Policy::new().idle_timeout(ms(100)));
    assert!(
        matches!(
            record.outcome,
            Outcome::Hung {
                status: ExitStatus::Signal(15),
                ..
            }
        ),
        "{}",
        record.outcome
    );

    let record = run(Scenario::ApiError, Policy::new());
    assert!(
        matches!(
            record.outcome,
            Outcome::Completed {
                status: ExitStatus::Code(1),
                cause: Some(FailureCause::RateLimited),
                ..
            }
        ),
        "{}",
        record.outcome
    );

    let record = run(Scenario::Crash, Policy::new());
    assert!(
        matches!(
            record.outcome,
            Outcome::Completed { status: ExitStatus::Signal(s), cause: None, .. } if s == CRASH_SIGNAL
        ),
        "{}",
        record.outcome
    );

    let record = run(Scenario::Binary, Policy::new());
    assert_eq!(record.output(None), BINARY_OUTPUT);
    assert!(record.outcome.is_success());

    let record = run(Scenario::Stubborn, Policy::new().timeout(ms(100)));
    assert!(
        matches!(
            record.outcome,
            Outcome::TimedOut {
                status: ExitStatus::Signal(9),
                ..
            }
        ),
        "{}",
        record.outcome
    );
}

#[test]
fn a_prompt_on_stdin_is_read_to_its_end_first() {
    let (mock_runtime, runtime) = runtime();
    let prompt = "-n \"$(x)\"\nline two";
    let agent = Arc::new(mock(Scenario::Success).stdin_prompt());
    let record = Record::run(&runtime, agent, options(Policy::new()), prompt);
    assert!(record.outcome.is_success(), "{}", record.outcome);
    assert!(
        record
            .text()
            .starts_with(&format!("Reading prompt: {prompt}\n")),
        "{}",
        record.text()
    );
    assert_eq!(
        mock_runtime.stdin_received(record.id()).unwrap(),
        prompt.as_bytes()
    );
}

#[test]
fn the_callback_form_sees_every_event() {
    let (_mock, runtime) = runtime();
    let sentinel = Sentinel::new(
        Arc::clone(&runtime),
        Arc::new(mock(Scenario::Interactive)),
        options(answer_yes()),
    );
    let mut kinds = Vec::new();
    let outcome = sentinel
        .run("x", |event| kinds.push(kind(event)))
        .expect("valid patterns");
    assert!(outcome.is_success(), "{outcome}");
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "started", "output", "waiting", "answered", "output", "exited", "finished"
        ]
    );
}

#[test]
fn a_prompt_split_at_every_point_is_found_once() {
    for split in 1..PROMPT.len() {
        let first = format!("working\n{}", &PROMPT[..split]);
        let rest = Script::new().stdout(&PROMPT[split..]).then(yes_no());
        let record = run_split(first.as_bytes(), rest, stops(&[Pattern::literal("[y/N]")]));
        assert!(
            record.outcome.is_success(),
            "split at {split}: {}",
            record.outcome
        );
        let prompts = record.prompts();
        assert_eq!(prompts.len(), 1, "split at {split}");
        assert_eq!((prompts[0].start, prompts[0].end), (8 + 9, 8 + 14));
        // The question came in two reads, cut where the script cut it.
        let outputs: Vec<&[u8]> = record
            .events
            .iter()
            .filter_map(|event| match event {
                Event::Output(chunk) => Some(chunk.data.as_slice()),
                _ => None,
            })
            .collect();
        assert!(
            outputs[0].ends_with(&PROMPT.as_bytes()[..split]),
            "split at {split}: {outputs:?}"
        );
        // The answer's output may join the rest in one read (a runtime
        // joins same-stream writes a slow reader has not taken yet).
        assert!(
            outputs[1].starts_with(&PROMPT.as_bytes()[split..]),
            "split at {split}: {outputs:?}"
        );
    }
}

#[test]
fn a_noisy_prompt_split_inside_its_escapes_is_found() {
    // Bold, colours between the characters, a title and a hyperlink.
    let noisy: &[u8] =
        b"\x1b]0;agent: asking\x07\x1b[1mProceed?\x1b[0m \x1b[33m[\x1b[39my\x1b[33m/\x1b[39mN\x1b]8;;x\x1b\\]\x1b]8;;\x1b\\: ";
    // The match runs from the `[` after the colour to just after the `:`.
    let start = noisy.windows(6).position(|w| w == b"\x1b[33m[").unwrap() + 5;
    let end = noisy.iter().rposition(|&b| b == b':').unwrap() + 1;
    for split in 1..noisy.len() {
        let rest = Script::new().stdout(&noisy[split..]).then(yes_no());
        let record = run_split(&noisy[..split], rest, stops(&[Pattern::regex(r"\[y/N\]:")]));
        let prompts = record.prompts();
        assert_eq!(prompts.len(), 1, "split at {split}");
        assert_eq!(prompts[0].text, "[y/N]:");
        assert_eq!(
            (prompts[0].start, prompts[0].end),
            (start as u64, end as u64),
            "split at {split}"
        );
        assert!(
            record.outcome.is_success(),
            "split at {split}: {}",
            record.outcome
        );
    }
}

#[test]
fn overlapping_patterns_report_one_prompt_and_one_answer() {
    let (mock, runtime) = runtime();
    mock.register(
        "asker",
        Script::new()
            .stdout("rate limit reached; ")
            .stdout(PROMPT)
            .then(yes_no()),
    );
    let mut agent = ScriptAgent::new(
        "asker",
        stops(&[
            Pattern::literal("Proceed? [y/N]"),
            Pattern::literal("[y/N]"),
            Pattern::regex(r"\[y/N\]:"),
            Pattern::literal("y/N"),
            Pattern::regex(r"(?i)proceed\?"),
        ]),
    );
    agent.failures = vec![
        FailurePattern::new(FailureCause::RateLimited, Pattern::literal("rate limit")),
        FailurePattern::new(
            FailureCause::RateLimited,
            Pattern::regex(r"rate limit reached"),
        ),
    ];
    let record = Record::run(&runtime, Arc::new(agent), options(answer_yes()), "x");
    // `proceed?` ends first; the patterns overlapping it are not reported,
    // `y/N` after it is.
    let prompts: Vec<(usize, &str)> = record
        .prompts()
        .iter()
        .map(|m| (m.index, m.text.as_str()))
        .collect();
    assert_eq!(prompts, [(4, "Proceed?"), (3, "y/N")]);
    // Both came in one read: one question, one answer.
    assert_eq!(record.answers(), ["y\n"]);
    assert_eq!(mock.stdin_received(record.id()).unwrap(), b"y\n");
    // Failure patterns are matched separately; only the first is reported.
    let failures: Vec<usize> = record
        .events
        .iter()
        .filter_map(|event| match event {
            Event::FailureRecognised { matched, .. } => Some(matched.index),
            _ => None,
        })
        .collect();
    assert_eq!(failures, [0]);
    // It completed with 0: a recognised cause does not fail it.
    assert!(record.outcome.is_success(), "{}", record.outcome);
}

#[test]
fn a_huge_output_then_a_prompt() {
    let bytes = 4 << 20;
    let (mock, runtime) = runtime();
    mock.register(
        "flooder",
        Script::new()
            .step(Step::Flood {
                bytes,
                stream: FloodStream::Stdout,
            })
            .stdout(PROMPT)
            .then(yes_no()),
    );
    let agent = Arc::new(ScriptAgent::new(
        "flooder",
        stops(&[Pattern::literal("[y/N]")]),
    ));
    let record = Record::run(&runtime, agent, options(answer_yes()), "x");
    assert!(record.outcome.is_success(), "{}", record.outcome);
    let prompts = record.prompts();
    assert_eq!(prompts.len(), 1);
    assert_eq!(prompts[0].start, bytes + 9);
    let output = record.output(Some(Stream::Stdout));
    assert_eq!(
        output.len() as u64,
        bytes + PROMPT.len() as u64 + APPLIED.len() as u64
    );
    assert!(
        output[..bytes as usize]
            .iter()
            .copied()
            .eq(flood_bytes(bytes))
    );
    assert!(
        !record
            .events
            .iter()
            .any(|event| matches!(event, Event::Missed { .. }))
    );
}

#[test]
fn on_a_terminal_the_answer_is_echoed_and_lines_end_with_crlf() {
    let (_mock, runtime) = runtime();
    let options = options(answer_yes()).terminal(TerminalSize::default());
    let record = Record::run(
        &runtime,
        Arc::new(mock(Scenario::Interactive)),
        options,
        "x",
    );
    assert!(record.outcome.is_success(), "{}", record.outcome);
    let text = record.text();
    assert!(text.contains("Planning changes...\r\n"), "{text:?}");
    assert!(
        text.contains("[y/N]: y\r\nApplied changes.\r\n"),
        "{text:?}"
    );
    assert_eq!(record.prompts().len(), 1);
}

#[test]
fn a_removed_process_is_a_runtime_failure() {
    let (mock, runtime) = runtime();
    mock.register("sleeper", Script::new().stdout("started\n").hang());
    let agent = Arc::new(ScriptAgent::new("sleeper", Vec::new()));
    let mut run = start(&runtime, agent, options(Policy::new()), "x");
    let id = run.id().unwrap().clone();
    until(&mut run, |event| matches!(event, Event::Output(_)));
    // Between two calls to `next` the driver does nothing: the process is
    // stopped and forgotten behind its back.
    assert!(runtime.terminate(&id, true).unwrap());
    runtime.remove(&id).unwrap();
    let rest = Record::of(run);
    assert_eq!(rest.kinds(), "finished");
    let Outcome::RuntimeFailed { error } = &rest.outcome else {
        panic!("expected a runtime failure, got {}", rest.outcome);
    };
    assert!(
        matches!(&**error, Error::UnknownProcess { id: gone } if *gone == id),
        "{error}"
    );
    assert_eq!(
        rest.outcome.to_string(),
        format!("the runtime failed: no process with id `{id}`")
    );
}

#[test]
fn output_lost_to_a_small_bound_is_reported_missed() {
    let (mock, runtime) = with_config(MockConfig::default().output_cap(4096));
    let filler = "0123456789abcdef".repeat(1024);
    mock.register(
        "chatty",
        Script::new()
            .stdout(&filler)
            .stdout(&filler)
            .stdout(PROMPT)
            .then(yes_no()),
    );
    let agent = Arc::new(ScriptAgent::new(
        "chatty",
        stops(&[Pattern::literal("[y/N]")]),
    ));
    let record = Record::run(&runtime, agent, options(answer_yes()), "x");
    assert!(record.outcome.is_success(), "{}", record.outcome);
    let missed: u64 = record
        .events
        .iter()
        .map(|event| match event {
            Event::Missed { bytes } => *bytes,
            _ => 0,
        })
        .sum();
    assert!(missed > 0, "{}", record.kinds());
    let written = 2 * filler.len() + PROMPT.len() + APPLIED.len();
    assert_eq!(missed + record.output(None).len() as u64, written as u64);
    // Every chunk starts where the previous one ended or after a gap.
    let mut next = 0;
    for event in &record.events {
        match event {
            Event::Missed { bytes } => next += bytes,
            Event::Output(chunk) => {
                assert_eq!(chunk.offset, next);
                next += chunk.data.len() as u64;
            }
            _ => {}
        }
    }
    let prompts = record.prompts();
    assert_eq!(prompts.len(), 1);
    assert_eq!(prompts[0].start, 2 * filler.len() as u64 + 9);
}

#[test]
fn an_answer_to_an_agent_that_already_left_fails_the_run() {
    let (mock, runtime) = runtime();
    mock.register("leaver", Script::new().stdout(PROMPT).exit(1));
    let agent = Arc::new(ScriptAgent::new(
        "leaver",
        stops(&[Pattern::literal("[y/N]")]),
    ));
    // At once: the agent leaves right after asking, within any settle
    // window (which would rightly not count the question).
    let policy = answer_yes().settle(std::time::Duration::ZERO);
    let mut run = start(&runtime, agent, options(policy), "x");
    let id = run.id().unwrap().clone();
    until(&mut run, |event| {
        matches!(event, Event::WaitingForInput { .. })
    });
    eventually("the agent exits", || !runtime.is_alive(&id).unwrap());
    let rest = Record::of(run);
    assert_eq!(rest.milestones(), "answer-failed exited finished");
    let Some(Event::AnswerFailed { error }) = rest.events.first() else {
        panic!("{:?}", rest.events);
    };
    assert!(matches!(&**error, Error::StdinClosed { .. }), "{error}");
    assert!(
        matches!(
            rest.outcome,
            Outcome::WaitingForInput {
                status: ExitStatus::Code(1),
                ..
            }
        ),
        "{}",
        rest.outcome
    );
}
