//! Every exit code `logist` documents, produced for real.

use std::os::unix::fs::PermissionsExt;

use logist_testing::NoSurvivors;

use crate::{code, output, text};

#[track_caller]
fn check(args: &[&str], expected: i32) -> String {
    let guard = NoSurvivors::new();
    let out = output(&guard, args);
    let stderr = text(&out.stderr);
    assert_eq!(code(&out), expected, "logist {args:?}\nstderr: {stderr}");
    stderr
}

#[test]
fn the_commands_own_exit_codes() {
    check(&["run", "--agent", "mock", "--", "do it"], 0);
    check(
        &["run", "--agent", "mock", "--scenario", "exit:42", "--", "x"],
        42,
    );
    check(
        &["run", "--agent", "mock", "--scenario", "api_error", "x"],
        1,
    );
    check(&["exec", "--", "sh", "-c", "exit 7"], 7);
}

#[test]
fn death_by_signal_is_128_plus_the_signal() {
    check(&["run", "--agent", "mock", "--scenario", "crash", "x"], 139);
    check(&["exec", "--", "sh", "-c", "kill -TERM $$"], 143);
}

#[test]
fn exit_zero_with_a_failure_reported_by_the_agent_is_1() {
    // A stand-in for Claude Code that reports an API error in its final
    // stream-json result and exits 0, as the real one can.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("claude");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho '{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"result\":\"API Error: 429 rate_limit_error\"}'\nexit 0\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let stderr = check(
        &[
            "run",
            "--agent",
            "claude-code",
            "--program",
            fake.to_str().unwrap(),
            "x",
        ],
        1,
    );
    assert!(stderr.contains("failed"), "{stderr}");
}

#[test]
fn waiting_for_input_is_122() {
    // On a terminal the question blocks; on a pipe at end of file the mock
    // gives up at once, which is not waiting (below).
    let stderr = check(
        &[
            "run",
            "--agent",
            "mock",
            "--scenario",
            "interactive",
            "--pty",
            "x",
        ],
        122,
    );
    assert!(stderr.contains("waiting for input"), "{stderr}");
    // The same question on a pipe at end of file: the mock answers itself
    // (cancels) and exits 1 at once, as Aider answers its own questions.
    // It was never waiting, so its own exit code stands.
    let stderr = check(
        &["run", "--agent", "mock", "--scenario", "interactive", "x"],
        1,
    );
    assert!(!stderr.contains("waiting for input"), "{stderr}");
    check(
        &[
            "exec",
            "--stop",
            "Password:",
            "--",
            "sh",
            "-c",
            "printf 'Password: '; sleep 300",
        ],
        122,
    );
    check(
        &[
            "exec",
            "--stop-regex",
            r"\[[yY]/[nN]\]",
            "--",
            "sh",
            "-c",
            "printf 'Go? [y/N] '; sleep 300",
        ],
        122,
    );
}

#[test]
fn answering_lets_it_complete() {
    check(
        &[
            "run",
            "--agent",
            "mock",
            "--scenario",
            "interactive",
            "--on-input",
            "answer=y",
            "x",
        ],
        0,
    );
}

#[test]
fn hung_is_123_and_timed_out_is_124() {
    check(
        &[
            "run",
            "--agent",
            "mock",
            "--scenario",
            "hang",
            "--idle-timeout",
            "300ms",
            "--grace",
            "0.2",
            "x",
        ],
        123,
    );
    check(
        &[
            "exec",
            "--timeout",
            "300ms",
            "--grace",
            "200ms",
            "--",
            "sh",
            "-c",
            "while :; do echo tick; sleep 0.05; done",
        ],
        124,
    );
}

#[test]
fn start_failures_are_125_126_127() {
    let stderr = check(&["exec", "--cwd", "/nonexistent/dir", "--", "true"], 125);
    assert!(stderr.contains("--cwd"), "the fix is named: {stderr}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "not a program").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    check(&["exec", "--", file.to_str().unwrap()], 126);
    let stderr = check(&["exec", "--", "logist-no-such-program"], 127);
    assert!(stderr.contains("not found"), "{stderr}");
    check(
        &[
            "run",
            "--agent",
            "claude-code",
            "--program",
            "/nonexistent/claude",
            "x",
        ],
        127,
    );
}

#[test]
fn usage_errors_are_2_with_one_clear_line() {
    for (args, says) in [
        (vec!["run", "--agent", "nope", "x"], "unknown agent `nope`"),
        (
            vec!["run", "--agent", "mock", "--scenario", "dance", "x"],
            "dance",
        ),
        (
            vec!["exec", "--timeout", "soon", "--", "true"],
            "invalid duration `soon`",
        ),
        (
            vec!["exec", "--stop-regex", "(", "--", "true"],
            "invalid regular expression",
        ),
        (
            vec!["exec", "--env", "NOEQUALS", "--", "true"],
            "expected KEY=VALUE",
        ),
        (
            vec!["exec", "--on-input", "shrug", "--", "true"],
            "use fail, wait or answer=TEXT",
        ),
        (
            vec!["run", "--agent", "mock", "--model", "m", "x"],
            "--model does not apply",
        ),
        (vec!["run", "--agent", "mock"], "PROMPT"),
        (
            vec!["run", "--agent", "mock", "--prompt-file", "/nonexistent/p"],
            "--prompt-file: cannot read `/nonexistent/p`",
        ),
        (
            vec![
                "run",
                "--agent",
                "mock",
                "--prompt-file",
                "/etc/hostname",
                "x",
            ],
            "cannot be used with",
        ),
        (
            vec![
                "run",
                "--agent",
                "mock",
                "--prompt-file",
                env!("CARGO_BIN_EXE_logist"),
            ],
            "is not UTF-8 text",
        ),
    ] {
        let stderr = check(&args, 2);
        assert!(
            stderr.contains(says),
            "logist {args:?} should say {says:?}: {stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
    }
}
