//! The driver against real processes: `HostRuntime` running the mock agent
//! program (and small shell scripts), with every policy and outcome. Each
//! test holds a `NoSurvivors` guard, so a process left running fails it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use logist_core::{
    Agent, Environment, Error, ExitStatus, FailureCause, Labels, Runtime, Stream, TerminalSize,
    Verdict,
};
use logist_mock::{
    APPLIED, INTERACTIVE_PROMPT, INTERACTIVE_STOP, MockAgent, STUBBORN_READY, SUCCESS_SUMMARY,
    SUCCESS_WARNING, Scenario,
};
use logist_runtime_host::HostRuntime;
use logist_sentinel::{Event, OnPrompt, Outcome, PatternError, Policy, RunOptions, Sentinel};
use logist_testing::NoSurvivors;

use crate::runs::{
    GRACE, PATIENCE, Record, ScriptAgent, ShellAgent, VerdictAgent, eventually, host, mock,
    numbers_after, pid_alive, start, tagged, until,
};

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

fn answer_yes() -> Policy {
    Policy::new().on_prompt(OnPrompt::Answer("y\n".into()))
}

#[test]
fn a_normal_run_reports_ordered_events_with_contiguous_offsets() {
    let guard = NoSurvivors::new();
    let runtime = host();
    let agent = Arc::new(mock(Scenario::Success));
    let record = Record::run(
        &runtime,
        agent,
        tagged(&guard, Policy::new()),
        "fix the bug",
    );

    assert_eq!(record.kinds(), "started output exited finished");
    assert!(
        matches!(&record.events[0], Event::Started { id } if id == record.id()),
        "{:?}",
        record.events[0]
    );
    let mut next = 0;
    for event in &record.events {
        if let Event::Output(chunk) = event {
            assert_eq!(chunk.offset, next, "offsets follow each other");
            next += chunk.data.len() as u64;
        }
    }
    let logs = runtime.get_logs(record.id(), None).unwrap();
    assert_eq!(record.output(None), logs.bytes(), "nothing lost or added");
    assert_eq!(
        record.output(Some(Stream::Stderr)),
        SUCCESS_WARNING.as_bytes()
    );
    let stdout = String::from_utf8(record.output(Some(Stream::Stdout))).unwrap();
    assert_eq!(
        stdout,
        format!(
            "Reading prompt: fix the bug\nPlanning changes...\nEditing src/lib.rs\n\
             Running tests... ok\n{SUCCESS_SUMMARY}"
        )
    );
    assert!(matches!(
        record.events[record.events.len() - 2],
        Event::Exited {
            status: ExitStatus::Code(0)
        }
    ));
    assert!(
        matches!(
            &record.outcome,
            Outcome::Completed {
                status: ExitStatus::Code(0),
                cause: None,
                verdict: None,
                ..
            }
        ),
        "{}",
        record.outcome
    );
    assert!(record.outcome.is_success());
    assert_eq!(record.outcome.to_string(), "completed: exit code 0");
}

/// A prompt of `len` bytes that a shell or an option parser would misread,
/// with lines, quotes and bytes of every kind of UTF-8.
fn hostile_prompt(len: usize) -> String {
    let unit = "-rf \"$(whoami)\" 'x' `id` \\ é ✓ 🦀\n";
    unit.repeat(len / unit.len() + 1)
}

#[test]
fn a_prompt_on_stdin_arrives_exactly_even_past_the_argument_limit() {
    let guard = NoSurvivors::new();
    let runtime = host();
    // Twice Linux's limit for one argument (128 KiB), and past any pipe's
    // buffer, so the prompt is written while the agent reads it.
    let prompt = hostile_prompt(256 * 1024);
    let piped = mock(Scenario::Success).stdin_prompt();
    let record = Record::run(
        &runtime,
        Arc::new(piped.clone()),
        tagged(&guard, Policy::new()),
        &prompt,
    );
    assert!(record.outcome.is_success(), "{}", record.outcome);
    let expected = format!("Reading prompt: {prompt}\n");
    assert!(
        record.text().starts_with(&expected),
        "the prompt came back changed: {} bytes of output",
        record.output(None).len()
    );

    // The same prompt in argv does not even start.
    let options = tagged(&guard, Policy::new().on_prompt(OnPrompt::Wait));
    let record = Record::run(&runtime, Arc::new(piped), options, &prompt);
    assert!(
        matches!(&record.outcome, Outcome::FailedToStart { .. }),
        "{}",
        record.outcome
    );
}

#[test]
fn an_agent_that_never_reads_its_stdin_prompt_still_times_out() {
    let guard = NoSurvivors::new();
    let runtime = host();
    // Larger than a pipe's buffer: the writer blocks until the agent is
    // stopped, and the run must not wait for it.
    let agent = ShellAgent::new("echo started; exec sleep 600").stdin_prompt();
    let options = tagged(&guard, Policy::new().timeout(ms(300)));
    let record = Record::run(&runtime, Arc::new(agent), options, &hostile_prompt(1 << 20));
    assert!(
        matches!(record.outcome, Outcome::TimedOut { .. }),
        "{}",
        record.outcome
    );
    assert_eq!(record.text(), "started\n");
    runtime.remove(record.id()).unwrap();
}

#[test]
fn spawn_options_reach_the_agent() {
    let guard = NoSurvivors::new();
    let runtime = host();
    let dir = std::env::temp_dir().canonicalize().unwrap();
    let options = RunOptions::new()
        .env(
            guard.tag_env(
                Environment::clean()
                    .pass("PATH")
                    .set("CHOSEN", "by the caller"),
            ),
        )
        .cwd(&dir)
        .label("job", "sentinel-options");
    let agent = ShellAgent::new(r#"pwd; echo "CHOSEN=$CHOSEN HOME=${HOME-unset}""#);
    let record = Record::run(&runtime, Arc::new(agent), options, "x");
    assert!(record.outcome.is_success(), "{}", record.outcome);
    assert_eq!(
        record.text(),
        format!("{}\nCHOSEN=by the caller HOME=unset\n", dir.display())
    );
    let selector = Labels::from([("job".to_owned(), "sentinel-options".to_owned())]);
    let listed = runtime.list(&selector).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(&listed[0].id, record.id());

    // The run's grace period, not the runtime's, before the kill.
    let options = tagged(&guard, Policy::new().timeout(ms(50))).grace(ms(100));
    let started = Instant::now();
    let record = Record::run(&runtime, Arc::new(mock(Scenario::Stubborn)), options, "x");
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
    assert!(started.elapsed() >= ms(150));
}

#[test]
fn a_flood_through_a_small_bound_loses_nothing_silently() {
    let guard = NoSurvivors::new();
    let runtime: Arc<dyn Runtime> = Arc::new(
        HostRuntime::builder()
            .grace(GRACE)
            .output_cap(64 * 1024)
            .build()
            .unwrap(),
    );
    let bytes = 4 << 20;
    let agent = mock(Scenario::Flood).bytes(bytes);
    let record = Record::run(
        &runtime,
        Arc::new(agent),
        tagged(&guard, Policy::new()),
        "x",
    );
    assert!(record.outcome.is_success(), "{}", record.outcome);
    // Every byte was output or counted missed, at its place.
    let flood: Vec<u8> = logist_mock::flood_bytes(bytes).collect();
    let mut next = 0;
    for event in &record.events {
        match event {
            Event::Missed { bytes } => next += bytes,
            Event::Output(chunk) => {
                assert_eq!(chunk.offset, next);
                let at = chunk.offset as usize;
                assert_eq!(chunk.data, flood[at..at + chunk.data.len()]);
                next += chunk.data.len() as u64;
            }
            _ => {}
        }
    }
    assert_eq!(next, bytes);
}

#[test]
fn a_failed_verdict_on_exit_zero_fails_the_run() {
    let guard = NoSurvivors::new();
    let runtime = host();
    let verdict = Verdict::Failed {
        cause: Some(FailureCause::RateLimited),
        message: "quota exhausted".into(),
    };
    let agent = Arc::new(VerdictAgent::new(
        mock(Scenario::Success),
        Some(verdict.clone()),
    ));
    let record = Record::run(
        &runtime,
        agent.clone(),
        tagged(&guard, Policy::new()),
        "fix",
    );

    // The verdict read the last lines of stdout: stdout only, in full here.
    let tails = agent.tails.lock().unwrap().clone();
    assert_eq!(tails, [record.output(Some(Stream::Stdout))]);
    assert!(!tails[0].is_empty());
    assert!(
        matches!(
            &record.outcome,
            Outcome::Completed {
                status: ExitStatus::Code(0),
                cause: Some(FailureCause::RateLimited),
                verdict: Some(v),
                ..
            } if *v == verdict
        ),
        "{}",
        record.outcome
    );
    assert!(!record.outcome.is_success());
    assert_eq!(
        record.outcome.to_string(),
        "failed: exit code 0, but the agent reported a failure: quota exhausted (rate_limited)"
    );
}

#[test]
fn the_verdict_is_read_only_after_exit_zero() {
    let guard = NoSurvivors::new();
    let runtime = host();
    let succeeded = Arc::new(VerdictAgent::new(
        mock(Scenario::Success),
        Some(Verdict::Succeeded),
    ));
    let record = Record::run(
        &runtime,
        succeeded.clone(),
        tagged(&guard, Policy::new()),
        "x",
    );
    assert!(record.outcome.is_success(), "{}", record.outcome);
    assert_eq!(succeeded.tails.lock().unwrap().len(), 1);

    let failing = Arc::new(VerdictAgent::new(
        mock(Scenario::Exit(3)),
        Some(Verdict::Succeeded),
    ));
    let record = Record::run(
        &runtime,
        failing.clone(),
        tagged(&guard, Policy::new()),
        "x",
    );
    assert!(
        matches!(
            record.outcome,
            Outcome::Completed {
                status: ExitStatus::Code(3),
                verdict: None,
                ..
            }
        ),
        "{}",
        record.outcome
    );
    assert!(failing.tails.lock().unwrap().is_empty());
}

#[test]
fn fail_on_prompt_stops_the_whole_tree() {
    let guard = NoSurvivors::new();
    let runtime = host();
    // A child in the process group and one in a session of its own, then a
    // question.
    let agent = ShellAgent::new(
        r#"sleep 300 & echo "child=$!"
           setsid sleep 300 & echo "session=$!"
           printf 'Proceed? [y/N]: '
           wait"#,
    );
    let started = Instant::now();
    let record = Record::run(
        &runtime,
        Arc::new(agent),
        tagged(&guard, Policy::new()),
        "x",
    );
    let Outcome::WaitingForInput { matched, status } = &record.outcome else {
        panic!("expected waiting for input, got {}", record.outcome);
    };
    assert_eq!(matched.text, INTERACTIVE_STOP);
    assert_eq!(*status, ExitStatus::Signal(15), "SIGTERM stopped the shell");
    assert!(started.elapsed() < PATIENCE);
    assert_eq!(record.kinds(), "started output waiting exited finished");

    let text = record.text();
    let mut pids = numbers_after(&text, "child");
    pids.extend(numbers_after(&text, "session"));
    pids.extend(runtime.info(record.id()).unwrap().pid);
    assert_eq!(pids.len(), 3, "{text}");
    for pid in pids {
        eventually(&format!("pid {pid} gone"), || !pid_alive(pid));
    }
}

#[test]
fn answer_writes_to_stdin_and_the_agent_goes_on() {
    let guard = NoSurvivors::new();
    let runtime = host();
    let record = Record::run(
        &runtime,
        Arc::new(mock(Scenario::Interactive)),
        tagged(&guard, answer_yes()),
        "x",
    );
    assert_eq!(
        record.kinds(),
        "started output waiting answered output exited finished"
    );
    assert_eq!(record.answers(), ["y\n"]);
    assert!(record.text().ends_with(APPLIED), "{}", record.text());
    assert!(record.outcome.is_success(), "{}", record.outcome);
}

#[test]
fn an_agent_that_asks_forever_stops_at_the_bound() {
    let guard = NoSurvivors::new();
    let runtime = host();
    let agent = ShellAgent::new(
        r#"while :; do
             printf 'Proceed? [y/N]: '
             read -r answer || exit 9
             echo "got:$answer"
           done"#,
    );
    let record = Record::run(
        &runtime,
        Arc::new(agent),
        tagged(&guard, answer_yes().max_answers(2)),
        "x",
    );
    assert_eq!(record.prompts().len(), 3);
    assert_eq!(record.answers(), ["y\n", "y\n"]);
    assert_eq!(record.text().matches("got:y\n").count(), 2);
    assert!(
        matches!(
            &record.outcome,
            Outcome::WaitingForInput {
                status: ExitStatus::Signal(15),
                ..
            }
        ),
        "{}",
        record.outcome
    );
}

#[test]
fn wait_lets_the_caller_answer_and_suspends_the_idle_timer() {
    let guard = NoSurvivors::new();
    let runtime = host();
    let policy = Policy::new()
        .on_prompt(OnPrompt::Wait)
        .idle_timeout(ms(200));
    let mut run = start(
        &runtime,
        Arc::new(mock(Scenario::Interactive)),
        tagged(&guard, policy),
        "x",
    );
    let id = run.id().unwrap().clone();
    let seen = until(&mut run, |event| {
        matches!(event, Event::WaitingForInput { .. })
    });
    // Reported while the agent blocks on its question, written without a
    // newline.
    assert!(runtime.is_alive(&id).unwrap());
    let Some(Event::WaitingForInput { matched, .. }) = seen.last() else {
        unreachable!()
    };
    let logs = runtime.get_logs(&id, None).unwrap();
    let at = logs
        .text()
        .find(INTERACTIVE_STOP)
        .expect("the question is in the logs") as u64;
    assert_eq!((matched.start, matched.end), (at, at + 5));
    assert!(logs.text().ends_with(INTERACTIVE_PROMPT));

    // Longer than the idle limit: waiting for a person is not hanging.
    std::thread::sleep(ms(400));
    runtime.write_stdin(&id, b"y\n").unwrap();
    let rest = Record::of(run);
    assert_eq!(rest.kinds(), "output exited finished");
    assert!(rest.text().ends_with(APPLIED));
    assert!(rest.outcome.is_success(), "{}", rest.outcome);
}

#[test]
fn drip_is_detected_and_answered() {
    let guard = NoSurvivors::new();
    let runtime = host();
    // A pause between the bytes longer than a read takes, shorter than the
    // idle limit: every byte is activity.
    let agent = mock(Scenario::Drip).delay_ms(15);
    let policy = answer_yes().idle_timeout(ms(250));
    let record = Record::run(&runtime, Arc::new(agent), tagged(&guard, policy), "x");
    assert!(record.outcome.is_success(), "{}", record.outcome);
    let prompts = record.prompts();
    assert_eq!(prompts.len(), 1);
    let at = record.text().find(INTERACTIVE_STOP).unwrap() as u64;
    assert_eq!((prompts[0].start, prompts[0].end), (at, at + 5));
    // The question came in many reads.
    let outputs_before_prompt = record
        .events
        .iter()
        .take_while(|event| !matches!(event, Event::WaitingForInput { .. }))
        .filter(|event| matches!(event, Event::Output(_)))
        .count();
    assert!(outputs_before_prompt > 5, "{outputs_before_prompt}");
}

#[test]
fn a_silent_agent_is_hung_and_nothing_is_left() {
    let guard = NoSurvivors::new();
    let runtime = host();
    let policy = Policy::new().idle_timeout(ms(300));
    let started = Instant::now();
    let record = Record::run(
        &runtime,
        Arc::new(mock(Scenario::Hang)),
        tagged(&guard, policy),
        "x",
    );
    assert!(started.elapsed() >= ms(300));
    assert_eq!(record.kinds(), "started output idle exited finished");
    let Outcome::Hung { silent_for, status } = record.outcome else {
        panic!("expected hung, got {}", record.outcome);
    };
    assert!(silent_for >= ms(300), "{silent_for:?}");
    assert_eq!(status, ExitStatus::Signal(15));
    assert!(!runtime.is_alive(record.id()).unwrap());
    drop(guard);
}

#[test]
fn an_agent_that_keeps_printing_times_out() {
    let guard = NoSurvivors::new();
    let runtime = host();
    let agent = ShellAgent::new("while :; do echo tick; sleep 0.02; done");
    let policy = Policy::new().timeout(ms(400)).idle_timeout(ms(250));
    let started = Instant::now();
    let record = Record::run(&runtime, Arc::new(agent), tagged(&guard, policy), "x");
    assert!(started.elapsed() >= ms(400));
    assert!(record.kinds().starts_with("started output timed-out"));
    assert_eq!(record.milestones(), "started timed-out exited finished");
    let Outcome::TimedOut { timeout, status } = record.outcome else {
        panic!("expected timed out, got {}", record.outcome);
    };
    assert_eq!(timeout, ms(400));
    assert_eq!(status, ExitStatus::Signal(15));
    assert!(record.text().matches("tick\n").count() > 3);
}

#[test]
fn cancel_from_another_thread_ends_a_blocking_read() {
    for (scenario, ready, signal) in [
        (Scenario::Hang, "Planning changes", 15),
        (Scenario::Stubborn, STUBBORN_READY.trim_end(), 9),
    ] {
        let guard = NoSurvivors::new();
        let runtime = host();
        let mut run = start(
            &runtime,
            Arc::new(mock(scenario)),
            tagged(&guard, Policy::new()),
            "x",
        );
        let mut text = String::new();
        until(&mut run, |event| {
            if let Event::Output(chunk) = event {
                text.push_str(&String::from_utf8_lossy(&chunk.data));
            }
            text.contains(ready)
        });
        let cancel = run.cancel_handle();
        let after = cancel.clone();
        let canceller = std::thread::spawn(move || {
            // Give the driver time to block in its read.
            std::thread::sleep(ms(50));
            let at = Instant::now();
            let stopped = cancel.cancel();
            (at, stopped)
        });
        let record = Record::of(run);
        let (cancelled_at, stopped) = canceller.join().unwrap();
        assert!(stopped.unwrap(), "the agent was running");
        let took = cancelled_at.elapsed();
        assert!(
            matches!(
                record.outcome,
                Outcome::Cancelled { status: ExitStatus::Signal(s) } if s == signal
            ),
            "{scenario}: {}",
            record.outcome
        );
        assert_eq!(
            record.outcome.to_string().split(' ').next(),
            Some("cancelled")
        );
        assert!(took < GRACE + Duration::from_secs(5), "{took:?}");
        if signal == 9 {
            assert!(took >= GRACE, "the grace period was given: {took:?}");
        }
        assert!(!after.cancel().unwrap(), "the run is over");
    }
}

#[test]
fn a_cancel_after_the_agent_exited_by_itself_changes_nothing() {
    let guard = NoSurvivors::new();
    let runtime = host();
    let agent = Arc::new(VerdictAgent::new(
        mock(Scenario::Success),
        Some(Verdict::Succeeded),
    ));
    let mut run = start(&runtime, agent, tagged(&guard, Policy::new()), "x");
    let id = run.id().unwrap().clone();
    until(&mut run, |event| matches!(event, Event::Started { .. }));
    // The driver works only inside `next`: the agent exits meanwhile, and
    // the cancel comes before the run has seen the exit.
    eventually("the agent exits", || !runtime.is_alive(&id).unwrap());
    let cancel = run.cancel_handle();
    assert!(!cancel.cancel().unwrap(), "nothing to stop");
    assert!(cancel.is_cancelled());
    let record = Record::of(run);
    assert!(
        matches!(
            record.outcome,
            Outcome::Completed {
                status: ExitStatus::Code(0),
                verdict: Some(Verdict::Succeeded),
                ..
            }
        ),
        "{}",
        record.outcome
    );
}

#[test]
fn dropping_a_run_stops_the_agent() {
    let guard = NoSurvivors::new();
    let runtime = host();
    for scenario in [Scenario::Hang, Scenario::Stubborn] {
        let mut run = start(
            &runtime,
            Arc::new(mock(scenario)),
            tagged(&guard, Policy::new()),
            "x",
        );
        let id = run.id().unwrap().clone();
        until(&mut run, |event| matches!(event, Event::Output(_)));
        drop(run);
        assert!(!runtime.is_alive(&id).unwrap(), "{scenario}");
        let done = runtime.wait(&id, Some(PATIENCE)).unwrap();
        assert!(
            done.status.signal().is_some(),
            "{scenario}: {}",
            done.status
        );
    }
}

#[test]
fn failures_to_start_are_outcomes() {
    let guard = NoSurvivors::new();
    let runtime = host();
    let check = |agent: Arc<dyn Agent>, options: RunOptions, prompt: &str| {
        let record = Record::run(&runtime, agent, options, prompt);
        assert!(record.id.is_none());
        assert_eq!(record.kinds(), "finished");
        match record.outcome {
            Outcome::FailedToStart { error } => error,
            other => panic!("expected failed to start, got {other}"),
        }
    };
    let missing = Arc::new(MockAgent::new(Scenario::Success).program("/nonexistent/agent"));
    let error = check(missing, tagged(&guard, Policy::new()), "x");
    assert!(
        matches!(&*error, Error::ProgramNotFound { program } if program == "/nonexistent/agent"),
        "{error}"
    );
    let error = check(
        Arc::new(mock(Scenario::Success)),
        tagged(&guard, Policy::new()).cwd("/nonexistent/dir"),
        "x",
    );
    assert!(matches!(&*error, Error::WorkingDirectory { .. }), "{error}");
    let error = check(
        Arc::new(mock(Scenario::Success)),
        tagged(&guard, Policy::new()),
        "a\0b",
    );
    assert!(matches!(&*error, Error::InvalidCommand { .. }), "{error}");
    assert!(runtime.list(&Labels::new()).unwrap().is_empty());
}

#[test]
fn a_pattern_error_spawns_nothing() {
    let guard = NoSurvivors::new();
    let runtime = host();
    let agent = ScriptAgent::new("true", vec![logist_core::Pattern::regex("(unclosed")]);
    let sentinel = Sentinel::new(
        Arc::clone(&runtime),
        Arc::new(agent),
        tagged(&guard, Policy::new()),
    );
    let error = sentinel.start("x").unwrap_err();
    assert!(
        matches!(error, PatternError::InvalidRegex { index: 0, .. }),
        "{error}"
    );
    assert!(runtime.list(&Labels::new()).unwrap().is_empty());
}

#[test]
fn on_a_terminal_answers_go_to_the_terminal_and_redraws_are_one_prompt() {
    let guard = NoSurvivors::new();
    let runtime = host();
    // A program that draws its own screen: no echo, a spinner, then the
    // question redrawn in place before it reads the answer.
    let agent = ShellAgent::new(
        r#"stty -echo
           for s in '|' '/' '-' '\'; do printf '\r\033[K%s thinking' "$s"; sleep 0.01; done
           for i in 1 2 3; do printf '\r\033[K\033[1mProceed?\033[0m [y/N]: '; sleep 0.05; done
           read -r answer
           printf '\r\ngot:%s\n' "$answer""#,
    );
    let options = tagged(&guard, answer_yes()).terminal(TerminalSize::default());
    let record = Record::run(&runtime, Arc::new(agent), options, "x");
    assert!(record.outcome.is_success(), "{}", record.outcome);
    assert!(record.text().contains("got:y\r\n"), "{:?}", record.text());
    assert_eq!(record.answers(), ["y\n"], "one answer to a redrawn prompt");
    assert_eq!(record.prompts().len(), 1);
    assert!(record.output(Some(Stream::Stderr)).is_empty());
}

#[test]
fn a_descendant_holding_the_output_does_not_hang_the_run() {
    // Prompts at once: the shell exits right after asking, within any
    // settle window; what is tested here is the leak.
    for policy in [
        Policy::new(),
        Policy::new().on_prompt(OnPrompt::Wait),
        answer_yes(),
    ]
    .map(|policy| policy.settle(Duration::ZERO))
    {
        let guard = NoSurvivors::new();
        let runtime = host();
        // The shell asks and exits (after reading the answer when one is
        // written); its child keeps the output open.
        let read = if matches!(policy.on_prompt, OnPrompt::Answer(_)) {
            r#"read -r answer; echo "got:$answer""#
        } else {
            ""
        };
        let agent = ShellAgent::new(&format!(
            r#"sleep 300 & echo "child=$!"
               printf 'Proceed? [y/N]: '
               {read}"#
        ));
        let started = Instant::now();
        let record = Record::run(
            &runtime,
            Arc::new(agent),
            tagged(&guard, policy.clone()),
            "x",
        );
        assert!(started.elapsed() < PATIENCE);
        let text = record.text();
        let child = numbers_after(&text, "child");
        assert_eq!(child.len(), 1, "{text}");
        assert_eq!(record.prompts().len(), 1, "{text}");
        match (&policy.on_prompt, &record.outcome) {
            // The termination that follows the prompt stops the child too,
            // so the output ends without a leak.
            (OnPrompt::Fail, Outcome::WaitingForInput { .. }) => {
                assert_eq!(record.milestones(), "started waiting exited finished");
            }
            (
                OnPrompt::Wait | OnPrompt::Answer(_),
                Outcome::Completed {
                    status: ExitStatus::Code(0),
                    output_leaked: true,
                    ..
                },
            ) => {
                let answered = if policy.on_prompt == OnPrompt::Wait {
                    ""
                } else {
                    " answered"
                };
                assert_eq!(
                    record.milestones(),
                    format!("started waiting{answered} leaked exited finished")
                );
                assert!(
                    record.outcome.to_string().starts_with(
                        "completed: exit code 0; processes it left holding its output were stopped"
                    ),
                    "{}",
                    record.outcome
                );
            }
            (_, outcome) => panic!("{policy:?}: {outcome}"),
        }
        if let OnPrompt::Answer(_) = policy.on_prompt {
            assert!(text.contains("got:y"), "{text}");
        }
        // The run stopped what the agent left behind.
        assert!(
            !pid_alive(child[0]),
            "{policy:?}: the descendant still runs"
        );
    }
}

#[test]
fn failure_causes_are_recognised() {
    let guard = NoSurvivors::new();
    let runtime = host();
    for (scenario, cause) in [
        (Scenario::ApiError, FailureCause::RateLimited),
        (Scenario::AuthError, FailureCause::AuthFailed),
        (Scenario::ContextFull, FailureCause::ContextExhausted),
    ] {
        let record = Record::run(
            &runtime,
            Arc::new(mock(scenario)),
            tagged(&guard, Policy::new()),
            "x",
        );
        assert!(
            matches!(
                record.outcome,
                Outcome::Completed { status: ExitStatus::Code(1), cause: Some(c), .. } if c == cause
            ),
            "{scenario}: {}",
            record.outcome
        );
        assert_eq!(
            record.outcome.to_string(),
            format!("failed: exit code 1 ({cause})")
        );
        let recognised: Vec<FailureCause> = record
            .events
            .iter()
            .filter_map(|event| match event {
                Event::FailureRecognised { cause, matched } => {
                    assert_eq!(matched.stream, Stream::Stderr);
                    Some(*cause)
                }
                _ => None,
            })
            .collect();
        assert_eq!(recognised, [cause], "{scenario}");
    }
}
