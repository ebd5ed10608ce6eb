//! Stop-sequence matching on the live byte stream: split sequences,
//! overlapping patterns, terminal noise, redraws, line endings, large
//! outputs and bytes that are not UTF-8.

use std::time::Instant;

use logist_core::{
    ExitStatus, FailureCause, FailurePattern, OutputChunk, ProcessId, StopSequence, Stream,
};
use logist_sentinel::{Event, Observer, OnPrompt, Policy, REGEX_WINDOW};

use crate::support::{Harness, immediate, render_match, rendered_prompts};

fn lit(text: &str) -> StopSequence {
    StopSequence::literal(text)
}

fn re(pattern: &str) -> StopSequence {
    StopSequence::regex(pattern)
}

/// Checks that `output` gives `expected` fed whole, split in two at every
/// position, and one byte at a time.
#[track_caller]
fn check(stops: &[StopSequence], output: &[u8], expected: &[&str]) {
    check_splits(stops, output, expected, 0..=output.len());
}

/// Like [`check`], with only the given split points.
#[track_caller]
fn check_splits(
    stops: &[StopSequence],
    output: &[u8],
    expected: &[&str],
    splits: impl IntoIterator<Item = usize>,
) {
    assert_eq!(rendered_prompts(stops, &[output]), expected, "whole");
    for split in splits {
        let (a, b) = output.split_at(split);
        assert_eq!(
            rendered_prompts(stops, &[a, b]),
            expected,
            "split at {split}"
        );
    }
    let bytes: Vec<&[u8]> = output.chunks(1).collect();
    assert_eq!(
        rendered_prompts(stops, &bytes),
        expected,
        "one byte at a time"
    );
}

#[test]
fn literal_found_at_every_split_point() {
    check(
        &[lit("Continue? [y/N]")],
        b"Working...\nContinue? [y/N] ",
        &[r#"#0 stdout 11..26 "Continue? [y/N]""#],
    );
}

#[test]
fn regex_found_at_every_split_point() {
    check(
        &[re(r"\[[yY]/[nN]\]")],
        b"Apply patch? [Y/n] ",
        &[r#"#0 stdout 13..18 "[Y/n]""#],
    );
    // A multi-byte character in the pattern, split inside the character.
    check(
        &[re(r"❯ \d+\. Yes")],
        "Do you want to proceed?\n❯ 1. Yes\n  2. No".as_bytes(),
        &[r#"#0 stdout 24..34 "❯ 1. Yes""#],
    );
}

#[test]
fn every_occurrence_is_reported_in_order() {
    check(
        &[lit("[y/N]"), re(r"Password: ?")],
        b"one [y/N]\ntwo [y/N] Password: three [y/N]",
        &[
            r#"#0 stdout 4..9 "[y/N]""#,
            r#"#0 stdout 14..19 "[y/N]""#,
            // The earliest end: the optional space is not waited for.
            r#"#1 stdout 20..29 "Password:""#,
            r#"#0 stdout 36..41 "[y/N]""#,
        ],
    );
}

#[test]
fn the_match_ending_first_wins_and_matches_do_not_overlap() {
    // One pattern a prefix of another: the shorter one ends first, and the
    // longer one overlaps it, so only the shorter one is reported.
    check(
        &[lit("Continue? [y/N]"), lit("Continue?")],
        b"Continue? [y/N]",
        &[r#"#1 stdout 0..9 "Continue?""#],
    );
    // One a suffix of the other: same end, the one listed first wins.
    check(
        &[lit("[y/N]"), lit("Continue? [y/N]")],
        b"Continue? [y/N]",
        &[r#"#0 stdout 10..15 "[y/N]""#],
    );
    check(
        &[lit("Continue? [y/N]"), lit("[y/N]")],
        b"Continue? [y/N]",
        &[r#"#0 stdout 0..15 "Continue? [y/N]""#],
    );
}

#[test]
fn a_literal_and_a_regex_on_the_same_text_report_once() {
    check(
        &[lit("[y/N]"), re(r"\[y/N\]")],
        b"ok? [y/N]",
        &[r#"#0 stdout 4..9 "[y/N]""#],
    );
    check(
        &[re(r"\[y/N\]"), lit("[y/N]")],
        b"ok? [y/N]",
        &[r#"#0 stdout 4..9 "[y/N]""#],
    );
    // A regex that ends earlier than a literal wins over it.
    check(
        &[lit("Proceed? (yes/no)"), re(r"Proceed\?")],
        b"Proceed? (yes/no)",
        &[r#"#1 stdout 0..8 "Proceed?""#],
    );
}

#[test]
fn regexes_report_the_earliest_end_not_the_longest_match() {
    // Greedy `+` would take all the dots; the prompt is decided at the
    // first one, as it must be when the dots arrive one by one.
    check(
        &[re(r"Loading\.+")],
        b"Loading...",
        &[r#"#0 stdout 0..8 "Loading.""#],
    );
}

#[test]
fn colours_between_every_character() {
    let mut output = Vec::new();
    for c in "Allow? [y/n]".chars() {
        output.extend_from_slice(b"\x1b[38;5;214m");
        output.push(c as u8);
        output.extend_from_slice(b"\x1b[0m");
    }
    // Each character takes 16 bytes and sits at 11 in them; the match
    // runs from the first character to just after the last, so the escapes
    // before the first and after the last are not part of it.
    let at = |index: u64| index * 16 + 11;
    check(
        &[lit("[y/n]")],
        &output,
        &[format!(r#"#0 stdout {}..{} "[y/n]""#, at(7), at(11) + 1).as_str()],
    );
    check(
        &[re(r"Allow\? \[y/n\]")],
        &output,
        &[format!(r#"#0 stdout {}..{} "Allow? [y/n]""#, at(0), at(11) + 1).as_str()],
    );
}

#[test]
fn cursor_moves_osc_titles_and_modes_around_a_prompt() {
    let output = b"\x1b]0;claude: working\x07\x1b[?25l\x1b[2K\x1b[1G\
                   Trust this folder?\x1b[K \x1b]8;;file:///x\x1b\\(y/n)\x1b]8;;\x1b\\\x1b[?25h";
    check(
        &[lit("Trust this folder? (y/n)"), re(r"^Trust this folder\?")],
        output,
        &[r#"#1 stdout 34..52 "Trust this folder?""#],
    );
    check(
        &[lit("Trust this folder? (y/n)")],
        output,
        &[r#"#0 stdout 34..77 "Trust this folder? (y/n)""#],
    );
}

#[test]
fn carriage_return_redraws_start_a_new_line() {
    // A spinner redrawn with `\r`, then the prompt on the same line.
    let output = b"\xe2\xa0\x8b Thinking\r\xe2\xa0\x99 Thinking\r\x1b[2KContinue? [y/N]";
    check(
        &[re(r"^Continue\? \[y/N\]")],
        output,
        &[r#"#0 stdout 30..45 "Continue? [y/N]""#],
    );
    // Nothing matches across a redraw: the first half was overwritten.
    check(&[lit("Continue?")], b"Conti\rnue?", &[]);
    check(&[re("Conti.*nue")], b"Conti\rnue?", &[]);
}

#[test]
fn a_prompt_redrawn_in_place_is_reported_once() {
    let stops = [lit("[y/N]"), re(r"Proceed\? \[y/N\]")];
    let first = [r#"#0 stdout 9..14 "[y/N]""#];
    // Redrawn after `\r`, and after a cursor move with colours.
    check(
        &stops,
        b"Proceed? [y/N]: \rProceed? [y/N]: \x1b[1G\x1b[2KProceed? \x1b[1m[y/N]\x1b[0m: ",
        &first,
    );
    // Redrawn only up to the prompt, or with more after it.
    check(&stops, b"Proceed? [y/N]\rProceed? [y/N]: y", &first);
}

#[test]
fn a_prompt_drawn_again_after_anything_else_is_a_new_one() {
    let stops = [lit("[y/N]")];
    let twice = |second: u64| {
        vec![
            r#"#0 stdout 9..14 "[y/N]""#.to_owned(),
            format!(r#"#0 stdout {}..{} "[y/N]""#, second, second + 5),
        ]
    };
    let check_twice = |output: &[u8], second: u64| {
        let expected = twice(second);
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        check(&stops, output, &expected);
    };
    // On the next line.
    check_twice(b"Proceed? [y/N]\nProceed? [y/N]", 24);
    check_twice(b"Proceed? [y/N]\r\nProceed? [y/N]", 25);
    // Other text drawn over the line in between, then the same prompt.
    check_twice(
        b"Proceed? [y/N]\r\x1b[K| thinking\r\x1b[KProceed? [y/N]",
        41,
    );
    // At another column of the line.
    check_twice(b"Proceed? [y/N]\r  Proceed? [y/N]", 26);
    // Twice on the same line, without a redraw.
    check_twice(b"Proceed? [y/N] Proceed? [y/N]", 24);
    // A redraw that stops short, then a line feed.
    check_twice(b"Proceed? [y/N]\rProc\nProceed? [y/N]", 29);
}

#[test]
fn a_gap_in_the_output_ends_a_redrawn_prompt() {
    let mut h = Harness::new(&[lit("[y/N]")], &[], immediate().on_prompt(OnPrompt::Wait));
    h.out(b"Proceed? [y/N]").missed(10).out(b"\rProceed? [y/N]");
    assert_eq!(h.prompts().len(), 2);
}

#[test]
fn a_redrawn_prompt_keeps_the_idle_timer_suspended() {
    let policy = immediate()
        .on_prompt(OnPrompt::Wait)
        .idle_timeout(std::time::Duration::from_secs(5));
    let mut h = Harness::new(&[lit("[y/N]")], &[], policy);
    h.at(1_000).out(b"Proceed? [y/N]");
    assert_eq!(h.deadline_ms(), None);
    // Visible text, but the same question: still waiting.
    h.at(2_000).out(b"\r\x1b[KProceed? [y/N]");
    assert_eq!(h.deadline_ms(), None);
    assert_eq!(h.prompts().len(), 1);
    // Something else: the agent goes on.
    h.at(3_000).out(b"\r\x1b[Kapplying");
    assert_eq!(h.deadline_ms(), Some(8_000));
}

#[test]
fn a_redrawn_prompt_is_answered_once() {
    let mut h = Harness::new(
        &[lit("[y/N]")],
        &[],
        immediate().on_prompt(OnPrompt::Answer("y\n".into())),
    );
    h.out(b"Proceed? [y/N]\rProceed? [y/N]").written();
    h.out(b"\rProceed? [y/N]");
    assert_eq!(h.actions, [logist_sentinel::Action::Write(b"y\n".to_vec())]);
    // The echo of the answer ends the line: a question after it is new.
    h.out(b"y\r\nProceed? [y/N]");
    assert_eq!(h.actions.len(), 2);
}

#[test]
fn crlf_is_a_line_feed() {
    check(
        &[lit("Done.\nNext?")],
        b"Done.\r\nNext?",
        &[r#"#0 stdout 0..12 "Done.\nNext?""#],
    );
    // A literal written with `\r\n` matches too, on a terminal or not.
    check(
        &[lit("a\r\nb")],
        b"a\r\nb a\nb",
        &[r#"#0 stdout 0..4 "a\nb""#, r#"#0 stdout 5..8 "a\nb""#],
    );
}

#[test]
fn regexes_see_one_line() {
    // `$` is the end of a line: decided when the line feed arrives.
    check(
        &[re(r"ready>$")],
        b"ready>\nready> ",
        &[r#"#0 stdout 0..6 "ready>""#],
    );
    // A line feed in a regex never matches: regexes see one line.
    check(&[re(r"a\nb")], b"a\nb", &[]);
    // Literals cross lines.
    check(&[lit("a\nb")], b"a\nb", &[r#"#0 stdout 0..3 "a\nb""#]);
}

#[test]
fn trailing_assertions_are_decided_by_the_next_byte() {
    let stops = [re(r"\bcode 4\d\d\b")];
    let mut harness = Harness::new(&stops, &[], immediate().on_prompt(OnPrompt::Wait));
    harness.out(b"error code 429");
    assert_eq!(harness.prompts(), [], "`429` might go on as `4290`");
    harness.out(b" (rate limited)");
    let found: Vec<String> = harness.prompts().iter().map(render_match).collect();
    assert_eq!(found, [r#"#0 stdout 6..14 "code 429""#]);
    // Whatever the chunking.
    check(
        &stops,
        b"error code 4290 code 404.",
        &[r#"#0 stdout 16..24 "code 404""#],
    );
}

#[test]
fn long_lines_are_cut_for_regexes_only() {
    let mut line = vec![b'x'; REGEX_WINDOW - 3];
    line.extend_from_slice(b"ABCDEF");
    // Every split point around the cut and the pattern.
    let splits = || REGEX_WINDOW - 10..=line.len();
    // The regex straddles the cut after `ABC`: not found; after the cut, `^`
    // matches at `DEF`.
    check_splits(&[re("ABCDEF")], &line, &[], splits());
    let at = REGEX_WINDOW as u64;
    let expected = format!(r#"#0 stdout {at}..{} "DEF""#, at + 3);
    check_splits(&[re("^DEF")], &line, &[expected.as_str()], splits());
    // A literal is not cut.
    let start = REGEX_WINDOW as u64 - 3;
    let expected = format!(r#"#0 stdout {start}..{} "ABCDEF""#, start + 6);
    check_splits(&[lit("ABCDEF")], &line, &[expected.as_str()], splits());
}

#[test]
fn bytes_that_are_not_utf8_next_to_a_prompt() {
    check(
        &[lit("[y/N]"), re(r"ok\?")],
        b"\xff\xfe[y/N]\xc3ok?\x80",
        &[r#"#0 stdout 2..7 "[y/N]""#, r#"#1 stdout 8..11 "ok?""#],
    );
    // In Unicode mode (the default) a class matches characters, not stray
    // bytes; with `(?-u)` it matches bytes, and the text shows them replaced.
    check(&[re(r"<[^>]*>")], b"<\xff\xfe>", &[]);
    check(
        &[re(r"(?-u)<[^>]*>")],
        b"<\xff\xfe>",
        &["#0 stdout 0..4 \"<\u{fffd}\u{fffd}>\""],
    );
}

#[test]
fn streams_are_matched_separately() {
    let stops = [lit("[y/N]")];
    let mut harness = Harness::new(&stops, &[], immediate().on_prompt(OnPrompt::Wait));
    // A prompt on stdout interrupted by stderr output is still found.
    harness
        .out(b"Continue? [y/")
        .err(b"warning: slow\n")
        .out(b"N]");
    // Half on each stream is not a prompt.
    harness.out(b"\n[y/").err(b"N]\n");
    let found: Vec<String> = harness.prompts().iter().map(render_match).collect();
    assert_eq!(found, [r#"#0 stdout 10..29 "[y/N]""#]);
}

#[test]
fn no_match_spans_missed_output() {
    let stops = [lit("[y/N]")];
    let mut harness = Harness::new(&stops, &[], immediate().on_prompt(OnPrompt::Wait));
    harness.out(b"[y/").missed(100).out(b"N] [y/N]");
    let found: Vec<String> = harness.prompts().iter().map(render_match).collect();
    assert_eq!(found, [r#"#0 stdout 106..111 "[y/N]""#]);
    assert!(
        harness.log().contains("missed 100 bytes"),
        "{}",
        harness.log()
    );
}

#[test]
fn failure_patterns_use_the_same_matcher_and_report_the_first() {
    let failures = [
        FailurePattern::new(FailureCause::AuthFailed, re(r"(?i)invalid api key")),
        FailurePattern::new(FailureCause::RateLimited, re(r"\b429\b")),
    ];
    let mut harness = Harness::new(&[], &failures, immediate());
    harness
        .err(b"HTTP 4")
        .err(b"29")
        .err(b" Too Many Requests\nInvalid API key\n");
    harness.exit(ExitStatus::Code(1));
    let recognised: Vec<String> = harness
        .events
        .iter()
        .filter_map(|event| match event {
            Event::FailureRecognised { cause, matched } => {
                Some(format!("{cause} {}", render_match(matched)))
            }
            _ => None,
        })
        .collect();
    assert_eq!(recognised, [r#"rate_limited #1 stderr 5..8 "429""#]);
}

#[test]
fn a_trailing_assertion_at_the_end_of_the_output_is_decided_by_the_end() {
    let failures = [FailurePattern::new(
        FailureCause::RateLimited,
        re(r"\b429\b"),
    )];
    let mut harness = Harness::new(&[], &failures, immediate());
    harness.err(b"status 429");
    harness.exit(ExitStatus::Code(1));
    assert!(
        harness
            .log()
            .contains(r#"failure recognised: rate_limited #0 stderr 7..10 "429""#),
        "{}",
        harness.log()
    );
}

#[test]
fn huge_output_goes_through_in_linear_time() {
    // Big enough to show a quadratic cost, small enough for a debug build.
    let megabytes = if cfg!(debug_assertions) { 2 } else { 64 };
    let mut line = Vec::new();
    line.extend_from_slice(b"\x1b[32mcompiling\x1b[0m crate number 12345 of many, ");
    line.extend_from_slice("with some text \u{2713} and more text around it\r\n".as_bytes());
    let mut output = Vec::with_capacity((megabytes << 20) + (2 << 20));
    while output.len() < (megabytes << 20) {
        output.extend_from_slice(&line);
    }
    // And one very long line without any line feed.
    output.extend(std::iter::repeat_n(b'z', 1 << 20));
    output.extend_from_slice(b"\nContinue? [y/N]");
    let stops = [
        lit("[y/N]"),
        lit("Password:"),
        re(r"^Continue\? \[y/N\]$"),
        re(r"(?i)are you sure\?"),
    ];
    let failures = [FailurePattern::new(
        FailureCause::RateLimited,
        re(r"\b429\b"),
    )];
    let policy = immediate().on_prompt(OnPrompt::Wait);
    let mut observer = Observer::new(&stops, &failures, policy).unwrap();

    let started = Instant::now();
    observer.spawned(ProcessId::new("big"), started);
    let mut found = Vec::new();
    let mut offset = 0;
    for data in output.chunks(64 * 1024) {
        let chunk = OutputChunk {
            stream: Stream::Stdout,
            offset,
            data: data.to_vec(),
        };
        offset += data.len() as u64;
        observer.output(&chunk, started);
        while let Some(event) = observer.poll_event() {
            if let Event::WaitingForInput { matched, .. } = event {
                found.push(render_match(&matched));
            }
        }
    }
    let took = started.elapsed();
    let end = output.len() as u64;
    assert_eq!(found, [format!(r#"#0 stdout {}..{end} "[y/N]""#, end - 5)]);
    eprintln!("{megabytes} MiB through the observer in {took:?}");
}

/// A settle window of 500 ms, failing on prompts.
fn settling() -> Policy {
    immediate().settle(std::time::Duration::from_millis(500))
}

#[test]
fn a_settled_prompt_is_reported_when_the_window_ends() {
    let mut h = Harness::new(&[lit("[y/N]")], &[], settling());
    h.at(100).out(b"Proceed? [y/N]: ");
    assert_eq!(h.prompts().len(), 0, "not before the window ends");
    assert_eq!(h.deadline_ms(), Some(600));
    h.at(599);
    assert_eq!(h.prompts().len(), 0);
    h.at(600);
    assert_eq!(h.prompts().len(), 1);
    assert_eq!(h.actions, [logist_sentinel::Action::Terminate]);
}

#[test]
fn a_program_that_answers_itself_was_not_waiting() {
    // Aider 0.86.2 with stdin at its end: the question, then at once the
    // rest of its output, on the question's line.
    let stops = [re(r"\[(Yes|No)\]: ")];
    let question = b"Add .aider* to .gitignore (recommended)? (Y)es/(N)o [Yes]: ";
    let mut h = Harness::new(&stops, &[], settling());
    h.at(0)
        .out(question)
        .at(10)
        .out(b"Added .aider* to .gitignore\n");
    h.at(2_000);
    assert_eq!(h.prompts().len(), 0);
    assert!(h.actions.is_empty());
    // The same in one read.
    let mut h = Harness::new(&stops, &[], settling());
    h.out(&[&question[..], b"Added .aider* to .gitignore\n"].concat());
    h.at(2_000);
    assert_eq!(h.prompts().len(), 0);
    // Escape sequences and white space after it are no going on.
    let mut h = Harness::new(&stops, &[], settling());
    h.out(question).at(100).out(b"\x1b[?25h  ").at(600);
    assert_eq!(h.prompts().len(), 1);
}

#[test]
fn a_settle_window_ends_with_the_output() {
    let mut h = Harness::new(&[lit("[y/N]")], &[], settling());
    h.out(b"Proceed? [y/N]: ")
        .exit(ExitStatus::Code(0))
        .verdict(None);
    assert_eq!(h.prompts().len(), 0);
    assert!(h.outcome().is_success(), "{}", h.outcome());
}

#[test]
fn on_a_terminal_the_screen_decides() {
    use logist_core::TerminalSize;
    let size = TerminalSize { rows: 24, cols: 80 };
    let stops = [lit("Do you want to proceed?")];
    // Words placed at their columns, right to left: the stream never has
    // the question in order, the screen does.
    let drawn = b"\x1b[3;16Hproceed?\x1b[3;13Hto\x1b[3;8Hwant\x1b[3;4Hyou\x1b[3;1HDo";
    let mut h = Harness::on_terminal(&stops, settling().on_prompt(OnPrompt::Wait), size);
    h.at(0).out(drawn);
    assert_eq!(h.deadline_ms(), Some(500));
    h.at(500);
    assert_eq!(h.prompts().len(), 1);
    // Redrawn the same: still the one question.
    h.at(1_000).out(drawn).at(1_500);
    assert_eq!(h.prompts().len(), 1);
    // A dialog erased before the program went quiet was not waited at.
    let mut h = Harness::on_terminal(&stops, settling(), size);
    h.at(0)
        .out(b"Do you want to proceed?")
        .at(100)
        .out(b"\x1b[2J\x1b[Hworking")
        .at(2_000);
    assert_eq!(h.prompts().len(), 0);
    // A dialog with more lines drawn after the question is still one.
    let mut h = Harness::on_terminal(&stops, settling(), size);
    h.at(0)
        .out(b"Do you want to proceed?\r\n> 1. Yes\r\n  2. No\r\n")
        .at(500);
    assert_eq!(h.prompts().len(), 1);
}

#[test]
fn a_question_drawn_in_many_writes_settles_once() {
    // One byte per write, the rest of the question after the match
    // included: still one question, answered once.
    let policy = settling()
        .on_prompt(OnPrompt::Answer("y\n".into()))
        .idle_timeout(std::time::Duration::from_millis(200));
    let mut h = Harness::new(&[lit("[y/N]")], &[], policy);
    for (ms, byte) in (0..).step_by(10).zip(b"Proceed? [y/N]: ".chunks(1)) {
        h.at(ms).out(byte);
    }
    // Settling, the idle timer does not fire.
    h.at(300);
    assert!(h.actions.is_empty());
    h.at(650);
    assert_eq!(h.actions, [logist_sentinel::Action::Write(b"y\n".to_vec())]);
    h.written();
    assert_eq!(h.prompts().len(), 1);
    assert_eq!(h.deadline_ms(), Some(850));
}
