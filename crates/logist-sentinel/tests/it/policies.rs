//! Every policy and outcome of the observer as a state machine, with the
//! event log as an insta snapshot where the sequence is clearer as text.

use std::io;
use std::time::Duration;

use logist_core::{
    Error, ExitStatus, FailureCause, FailurePattern, Pattern, ProcessId, StopSequence, Verdict,
};
use logist_sentinel::{Action, Event, Observer, OnPrompt, Outcome};

use crate::support::{Harness, immediate};

const SIGTERM: ExitStatus = ExitStatus::Signal(15);

fn prompt() -> Vec<StopSequence> {
    vec![StopSequence::literal("[y/N]")]
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn fail_on_prompt_terminates_and_reports_waiting_for_input() {
    let mut h = Harness::new(&prompt(), &[], immediate());
    h.at(100)
        .out(b"Overwrite file.txt? [y/N] ")
        .at(150)
        .out(b"\nlate output\n");
    h.at(200).exit(SIGTERM);
    insta::assert_snapshot!(h.log(), @r#"
    started agent-1
    output stdout@0 "Overwrite file.txt? [y/N] "
    waiting for input at +100ms: #0 stdout 20..25 "[y/N]"
      do: terminate
    output stdout@26 "\nlate output\n"
    exited: killed by signal 15 (SIGTERM)
    finished: waiting for input: "[y/N]" at byte 25; terminated (killed by signal 15 (SIGTERM))
    "#);
    assert!(
        matches!(h.outcome(), Outcome::WaitingForInput { matched, status: SIGTERM } if matched.end == 25)
    );
    assert!(!h.outcome().is_success());
}

#[test]
fn only_the_first_prompt_counts_once_the_agent_is_being_stopped() {
    let mut h = Harness::new(&prompt(), &[], immediate());
    h.out(b"a [y/N] b [y/N]").out(b" c [y/N]");
    assert_eq!(h.prompts().len(), 1);
    assert_eq!(h.actions, [Action::Terminate]);
}

#[test]
fn wait_keeps_watching_and_suspends_the_idle_timer() {
    let policy = immediate()
        .on_prompt(OnPrompt::Wait)
        .idle_timeout(secs(5))
        .timeout(secs(60));
    let mut h = Harness::new(&prompt(), &[], policy);
    assert_eq!(h.deadline_ms(), Some(5_000));
    h.at(1_000).out(b"Continue? [y/N] ");
    // Waiting: only the overall timeout runs.
    assert_eq!(h.deadline_ms(), Some(60_000));
    h.at(30_000);
    // Escape sequences and white space are not the agent going on.
    h.out(b"\x1b[?25h ");
    assert_eq!(h.deadline_ms(), Some(60_000));
    // Visible text is: the idle timer runs again from there.
    h.at(40_000).out(b"y\nWriting...\n");
    assert_eq!(h.deadline_ms(), Some(45_000));
    h.at(41_000).out(b"Again? [y/N]");
    h.at(41_500).out(b"n\nDone\n");
    h.at(42_000).exit(ExitStatus::Code(0));
    assert_eq!(h.actions, [Action::FetchVerdict { lines: 20 }]);
    h.verdict(None);
    assert!(h.outcome().is_success(), "{}", h.outcome());
    assert_eq!(h.prompts().len(), 2);
}

#[test]
fn wait_still_times_out_overall() {
    let policy = immediate().on_prompt(OnPrompt::Wait).timeout(secs(10));
    let mut h = Harness::new(&prompt(), &[], policy);
    h.at(1_000).out(b"[y/N]").at(9_999);
    assert!(h.actions.is_empty());
    h.at(10_000);
    assert_eq!(h.actions, [Action::Terminate]);
    h.exit(SIGTERM);
    assert!(matches!(h.outcome(), Outcome::TimedOut { timeout, .. } if *timeout == secs(10)));
}

#[test]
fn answer_writes_then_keeps_watching_up_to_the_bound() {
    let policy = immediate()
        .on_prompt(OnPrompt::Answer("y\n".into()))
        .max_answers(2)
        .idle_timeout(secs(5));
    let mut h = Harness::new(&prompt(), &[], policy);
    h.at(1_000).out(b"Step 1? [y/N] ");
    h.at(1_010).written();
    // Answering restarts the idle timer.
    assert_eq!(h.deadline_ms(), Some(6_010));
    h.at(2_000).out(b"y\nStep 2? [y/N] ");
    h.at(2_010).written();
    h.at(3_000).out(b"y\nStep 3? [y/N] ");
    h.at(3_500).exit(SIGTERM);
    insta::assert_snapshot!(h.log(), @r#"
    started agent-1
    output stdout@0 "Step 1? [y/N] "
    waiting for input at +1000ms: #0 stdout 8..13 "[y/N]"
      do: write "y\n"
    answered "y\n" at +1010ms
    output stdout@14 "y\nStep 2? [y/N] "
    waiting for input at +2000ms: #0 stdout 24..29 "[y/N]"
      do: write "y\n"
    answered "y\n" at +2010ms
    output stdout@30 "y\nStep 3? [y/N] "
    waiting for input at +3000ms: #0 stdout 40..45 "[y/N]"
      do: terminate
    exited: killed by signal 15 (SIGTERM)
    finished: waiting for input: "[y/N]" at byte 45; terminated (killed by signal 15 (SIGTERM))
    "#);
}

#[test]
fn prompts_found_before_the_answer_is_written_share_it() {
    // One dialog that two stop sequences match, in one read.
    let stops = [
        StopSequence::literal("Do you want to proceed?"),
        StopSequence::literal("No, and tell Claude"),
    ];
    let policy = immediate().on_prompt(OnPrompt::Answer("1".into()));
    let mut h = Harness::new(&stops, &[], policy);
    h.out(b"Do you want to proceed?\n\xe2\x9d\xaf 1. Yes\n  2. No, and tell Claude what to do\n");
    assert_eq!(h.prompts().len(), 2);
    assert_eq!(h.actions, [Action::Write(b"1".to_vec())]);
    h.written();
    // A prompt after the answer was written is a new question.
    h.out(b"Do you want to proceed?");
    assert_eq!(h.actions.len(), 2);
    assert_eq!(h.prompts().len(), 3);
}

#[test]
fn zero_answers_allowed_is_fail() {
    let policy = immediate()
        .on_prompt(OnPrompt::Answer("y\n".into()))
        .max_answers(0);
    let mut h = Harness::new(&prompt(), &[], policy);
    h.out(b"[y/N]");
    assert_eq!(h.actions, [Action::Terminate]);
}

#[test]
fn an_answer_that_cannot_be_written_fails_the_run() {
    let policy = immediate().on_prompt(OnPrompt::Answer("yes\n".into()));
    let mut h = Harness::new(&prompt(), &[], policy);
    h.at(5).out(b"Sure? [y/N]");
    h.write_failed(Error::StdinClosed {
        id: ProcessId::new("agent-1"),
    });
    h.at(10).exit(ExitStatus::Code(1));
    insta::assert_snapshot!(h.log(), @r#"
    started agent-1
    output stdout@0 "Sure? [y/N]"
    waiting for input at +5ms: #0 stdout 6..11 "[y/N]"
      do: write "yes\n"
    answer failed: standard input of process `agent-1` is not open for writing
      do: terminate
    exited: exit code 1
    finished: waiting for input: "[y/N]" at byte 11; terminated (exit code 1)
    "#);
}

#[test]
fn overall_timeout() {
    let mut h = Harness::new(&[], &[], immediate().timeout(secs(10)));
    assert_eq!(h.deadline_ms(), Some(10_000));
    // Output does not move the overall deadline.
    h.at(9_000).out(b"busy\n");
    assert_eq!(h.deadline_ms(), Some(10_000));
    h.at(9_999);
    assert!(h.actions.is_empty());
    h.at(10_250);
    assert_eq!(h.deadline_ms(), None, "no timer while stopping");
    h.at(10_400).out(b"bye\n").at(10_500).exit(SIGTERM);
    insta::assert_snapshot!(h.log(), @r#"
    started agent-1
    output stdout@0 "busy\n"
    timed out after 10250ms
      do: terminate
    output stdout@5 "bye\n"
    exited: killed by signal 15 (SIGTERM)
    finished: timed out after 10.0s; terminated (killed by signal 15 (SIGTERM))
    "#);
}

#[test]
fn idle_timeout_counts_from_the_last_output() {
    let mut h = Harness::new(&[], &[], immediate().idle_timeout(secs(5)));
    h.at(3_000).out(b"\x1b[?25l");
    // Escape sequences are output too.
    assert_eq!(h.deadline_ms(), Some(8_000));
    h.at(7_999);
    assert!(h.actions.is_empty());
    h.at(8_000).at(8_100).exit(ExitStatus::Signal(9));
    insta::assert_snapshot!(h.log(), @r#"
    started agent-1
    output stdout@0 "\u{1b}[?25l"
    idle for 5000ms
      do: terminate
    exited: killed by signal 9 (SIGKILL)
    finished: hung: no output for 5.0s; terminated (killed by signal 9 (SIGKILL))
    "#);
    assert!(matches!(h.outcome(), Outcome::Hung { silent_for, .. } if *silent_for == secs(5)));
}

#[test]
fn when_both_timers_are_due_the_earlier_deadline_wins() {
    let policy = immediate().timeout(secs(10)).idle_timeout(secs(4));
    // Idle at 4s comes first, but the tick arrives late, at 11s.
    let mut h = Harness::new(&[], &[], policy.clone());
    h.at(11_000);
    assert!(h.log().contains("idle for 11000ms"), "{}", h.log());
    // Output at 3.9s and 7.5s moves idle to 11.5s, after the overall 10s.
    let mut h = Harness::new(&[], &[], policy);
    h.at(3_900).out(b"x").at(7_500).out(b"y").at(12_000);
    assert!(h.log().contains("timed out after 12000ms"), "{}", h.log());
    assert_eq!(h.actions, [Action::Terminate]);
}

#[test]
fn huge_limits_mean_no_deadline() {
    let mut h = Harness::new(
        &[],
        &[],
        immediate()
            .timeout(Duration::MAX)
            .idle_timeout(Duration::MAX),
    );
    assert_eq!(h.deadline_ms(), None);
    h.at(1_000_000);
    assert!(h.actions.is_empty());
}

#[test]
fn a_clean_exit_asks_for_the_verdict() {
    let mut h = Harness::new(&prompt(), &[], immediate().timeout(secs(60)));
    h.at(500)
        .out(b"all done\n")
        .at(600)
        .exit(ExitStatus::Code(0));
    assert_eq!(h.deadline_ms(), None);
    assert!(h.observer.outcome().is_none(), "waiting for the verdict");
    h.verdict(Some(Verdict::Succeeded));
    insta::assert_snapshot!(h.log(), @r#"
    started agent-1
    output stdout@0 "all done\n"
    exited: exit code 0
      do: fetch verdict (20 lines)
    finished: completed: exit code 0
    "#);
    assert!(h.outcome().is_success());
}

fn failure_patterns() -> Vec<FailurePattern> {
    vec![
        FailurePattern::new(FailureCause::RateLimited, Pattern::regex(r"(?i)rate limit")),
        FailurePattern::new(
            FailureCause::AuthFailed,
            Pattern::literal("401 Unauthorized"),
        ),
    ]
}

#[test]
fn a_failed_exit_carries_the_first_recognised_cause() {
    let mut h = Harness::new(&[], &failure_patterns(), immediate());
    h.err(b"HTTP 401 Unauthorized\n")
        .err(b"Rate limit reached\n");
    h.exit(ExitStatus::Code(2));
    insta::assert_snapshot!(h.log(), @r#"
    started agent-1
    output stderr@0 "HTTP 401 Unauthorized\n"
    failure recognised: auth_failed #1 stderr 5..21 "401 Unauthorized"
    output stderr@22 "Rate limit reached\n"
    exited: exit code 2
    finished: failed: exit code 2 (auth_failed)
    "#);
    assert!(h.actions.is_empty(), "no verdict for a failed exit");
    assert!(matches!(
        h.outcome(),
        Outcome::Completed {
            cause: Some(FailureCause::AuthFailed),
            verdict: None,
            ..
        }
    ));
}

#[test]
fn a_failed_exit_without_a_cause() {
    let mut h = Harness::new(&[], &failure_patterns(), immediate());
    h.out(b"segfault\n").exit(ExitStatus::Signal(11));
    assert!(matches!(
        h.outcome(),
        Outcome::Completed {
            cause: None,
            status: ExitStatus::Signal(11),
            ..
        }
    ));
    assert_eq!(
        h.outcome().to_string(),
        "failed: killed by signal 11 (SIGSEGV)"
    );
}

#[test]
fn a_recognised_cause_does_not_fail_a_successful_run() {
    let mut h = Harness::new(&[], &failure_patterns(), immediate());
    h.out(b"rate limit hit, retrying... ok\n")
        .exit(ExitStatus::Code(0));
    h.verdict(None);
    assert!(h.outcome().is_success());
    assert!(matches!(
        h.outcome(),
        Outcome::Completed { cause: None, .. }
    ));
}

#[test]
fn a_failed_verdict_overrides_exit_code_zero() {
    let mut h = Harness::new(&[], &failure_patterns(), immediate());
    h.out(br#"{"type":"result","is_error":true,"result":"Invalid API key"}"#);
    h.exit(ExitStatus::Code(0)).verdict(Some(Verdict::Failed {
        cause: Some(FailureCause::AuthFailed),
        message: "Invalid API key".into(),
    }));
    assert!(!h.outcome().is_success());
    assert!(matches!(
        h.outcome(),
        Outcome::Completed {
            cause: Some(FailureCause::AuthFailed),
            status: ExitStatus::Code(0),
            ..
        }
    ));
    assert_eq!(
        h.outcome().to_string(),
        "failed: exit code 0, but the agent reported a failure: Invalid API key (auth_failed)"
    );
    // Without a cause in the verdict, the recognised one is used.
    let mut h = Harness::new(&[], &failure_patterns(), immediate());
    h.out(b"Rate limit exceeded\n").exit(ExitStatus::Code(0));
    h.verdict(Some(Verdict::Failed {
        cause: None,
        message: "stopped".into(),
    }));
    assert!(matches!(
        h.outcome(),
        Outcome::Completed {
            cause: Some(FailureCause::RateLimited),
            ..
        }
    ));
}

#[test]
fn cancellation_terminates_and_reports_cancelled() {
    let mut h = Harness::new(&prompt(), &[], immediate().idle_timeout(secs(5)));
    h.at(1_000).out(b"working\n").cancelled();
    assert_eq!(h.actions, [Action::Terminate]);
    assert_eq!(h.deadline_ms(), None);
    h.at(1_200).exit(SIGTERM);
    insta::assert_snapshot!(h.log(), @r#"
    started agent-1
    output stdout@0 "working\n"
      do: terminate
    exited: killed by signal 15 (SIGTERM)
    finished: cancelled by the caller (killed by signal 15 (SIGTERM))
    "#);
}

#[test]
fn the_first_reason_to_stop_wins() {
    let mut h = Harness::new(&prompt(), &[], immediate().timeout(secs(1)));
    h.at(1_000).cancelled().out(b"[y/N]").exit(SIGTERM);
    assert!(
        matches!(h.outcome(), Outcome::TimedOut { .. }),
        "{}",
        h.outcome()
    );
    assert_eq!(h.actions, [Action::Terminate]);
}

#[test]
fn failure_to_start() {
    let mut observer = Observer::new(&prompt(), &[], immediate().timeout(secs(1))).unwrap();
    observer.failed_to_start(Error::ProgramNotFound {
        program: "claude".into(),
    });
    assert!(observer.is_finished());
    assert_eq!(observer.deadline(), None);
    assert_eq!(observer.poll_action(), None);
    let events: Vec<Event> = std::iter::from_fn(|| observer.poll_event()).collect();
    assert!(matches!(
        events.as_slice(),
        [Event::Finished(Outcome::FailedToStart { .. })]
    ));
    let outcome = observer.outcome().unwrap();
    assert_eq!(
        outcome.to_string(),
        "failed to start: program `claude` not found"
    );
    assert_eq!(outcome.status(), None);
}

#[test]
fn a_runtime_failure_ends_the_run() {
    let mut h = Harness::new(&prompt(), &[], immediate().timeout(secs(1)));
    h.out(b"x");
    h.observer.runtime_failed(Error::io(
        "reading the output of `agent-1`",
        io::Error::other("boom"),
    ));
    assert!(matches!(h.outcome(), Outcome::RuntimeFailed { .. }));
    assert_eq!(
        h.outcome().to_string(),
        "the runtime failed: i/o error while reading the output of `agent-1`"
    );
}

#[test]
fn inputs_after_the_end_are_ignored() {
    let mut h = Harness::new(&prompt(), &[], immediate().timeout(secs(1)));
    h.exit(ExitStatus::Code(3));
    let before = h.log().to_owned();
    h.out(b"[y/N]")
        .at(5_000)
        .cancelled()
        .exit(ExitStatus::Code(0))
        .verdict(None);
    h.written();
    assert_eq!(h.log(), before);
    assert!(matches!(
        h.outcome(),
        Outcome::Completed {
            status: ExitStatus::Code(3),
            ..
        }
    ));
}

#[test]
fn a_prompt_at_the_very_end_of_the_output_is_not_answered() {
    let stops = [StopSequence::regex(r"\? \[y/N\]$")];
    let policy = immediate().on_prompt(OnPrompt::Answer("y\n".into()));
    let mut h = Harness::new(&stops, &[], policy);
    h.out(b"Sure? [y/N]").exit(ExitStatus::Code(0));
    assert!(h.prompts().is_empty());
    assert_eq!(h.actions, [Action::FetchVerdict { lines: 20 }]);
}
