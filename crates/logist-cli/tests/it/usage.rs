//! Mistakes on the command line are usage errors (exit 2) that say what is
//! wrong, with every cause; nothing is started for them.

use logist_testing::NoSurvivors;

use crate::{code, output, text};

/// Runs `logist args`, expects exit `expected`, returns stdout and stderr.
#[track_caller]
fn check(args: &[&str], expected: i32) -> (String, String) {
    let guard = NoSurvivors::new();
    let out = output(&guard, args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        code(&out),
        expected,
        "logist {args:?}\nstdout: {stdout}\nstderr: {stderr}"
    );
    (stdout, stderr)
}

#[test]
fn an_unknown_option_is_not_a_prompt() {
    for args in [
        &["run", "--agent", "mock", "--dry-run"][..],
        &["run", "--agent", "mock", "--timout=5m"],
        &["run", "--agent", "mock", "--timout=5m", "do it"],
        &["exec", "--timout=5m", "--", "true"],
        &["exec", "--dry-run", "--", "true"],
    ] {
        let (stdout, stderr) = check(args, 2);
        assert!(stdout.is_empty(), "nothing ran: {stdout}");
        assert!(stderr.contains("unexpected argument"), "{stderr}");
    }
}

#[test]
fn a_prompt_that_starts_with_a_dash_goes_after_the_double_dash() {
    let (stdout, _) = check(&["run", "--agent", "mock", "--", "--dry-run"], 0);
    assert!(
        stdout.contains("--dry-run"),
        "the prompt reached the agent: {stdout}"
    );
}

#[test]
fn errors_print_their_causes() {
    let (_, stderr) = check(&["exec", "--stop-regex", "([a-", "--", "true"], 2);
    assert!(
        stderr.contains("invalid regular expression") && stderr.contains("unclosed"),
        "the regex crate's explanation is shown: {stderr}"
    );
    let (_, stderr) = check(&["exec", "--cwd", "/etc/passwd", "--", "true"], 125);
    assert!(
        stderr.to_lowercase().contains("not a directory"),
        "{stderr}"
    );
}

#[test]
fn a_zero_timeout_is_a_usage_error() {
    for option in ["--timeout", "--idle-timeout"] {
        let (_, stderr) = check(&["exec", option, "0", "--", "true"], 2);
        assert!(stderr.contains("greater than zero"), "{stderr}");
    }
}

#[test]
fn an_answer_that_can_never_be_given_is_a_usage_error() {
    for policy in ["answer=y", "wait"] {
        let (_, stderr) = check(
            &[
                "exec",
                "--generic-questions",
                "never",
                "--on-input",
                policy,
                "--",
                "true",
            ],
            2,
        );
        assert!(stderr.contains("nothing"), "{stderr}");
    }
    // With a stop sequence, or generic questions, it can.
    check(
        &[
            "exec",
            "--stop",
            "?",
            "--on-input",
            "answer=y",
            "--",
            "true",
        ],
        0,
    );
    check(&["exec", "--on-input", "answer=y", "--", "true"], 0);
}
