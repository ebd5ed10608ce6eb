//! A question with no `--stop`: when nobody can answer (stdin is not a
//! terminal), `exec` notices the command settled on a generic question
//! and applies `--on-input`, instead of waiting forever.

use logist_testing::NoSurvivors;
use serde_json::Value;

use crate::{code, output, text};

const ASK: &str = "read -p 'Continue? [y/N] ' a; echo \"got [$a]\"";

#[test]
fn a_settled_question_fails_the_run_by_default() {
    let guard = NoSurvivors::new();
    let out = output(&guard, &["exec", "--pty", "--", "bash", "-c", ASK]);
    let stderr = text(&out.stderr);
    assert_eq!(code(&out), 122, "{stderr}");
    assert!(
        stderr.contains("waiting for input: \"Continue? [y/N]\""),
        "{stderr}"
    );
}

#[test]
fn a_settled_question_gets_the_answer() {
    let guard = NoSurvivors::new();
    let out = output(
        &guard,
        &[
            "exec",
            "--pty",
            "--on-input",
            "answer=y",
            "--",
            "bash",
            "-c",
            ASK,
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("got [y]"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn questions_on_a_pipe_count_too_and_are_reported_in_json() {
    let guard = NoSurvivors::new();
    let out = output(
        &guard,
        &[
            "exec",
            "--json",
            "--on-input",
            "answer=yes",
            "--",
            "sh",
            "-c",
            "printf 'Overwrite notes.txt (yes/no)? '; read a; echo \"got [$a]\"",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let events: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert!(
        names
            .windows(2)
            .any(|w| w == ["waiting_for_input", "answered"]),
        "{names:?}"
    );
}

#[test]
fn a_line_that_ends_is_not_a_question() {
    let guard = NoSurvivors::new();
    let out = output(
        &guard,
        &[
            "exec",
            "--timeout",
            "3",
            "--",
            "sh",
            "-c",
            "echo 'Ready?'; sleep 1.5; echo done",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
}

#[test]
fn generic_questions_can_be_turned_off() {
    let guard = NoSurvivors::new();
    let out = output(
        &guard,
        &[
            "exec",
            "--generic-questions",
            "never",
            "--timeout",
            "2",
            "--pty",
            "--",
            "bash",
            "-c",
            ASK,
        ],
    );
    assert_eq!(code(&out), 124, "{}", text(&out.stderr));
}
