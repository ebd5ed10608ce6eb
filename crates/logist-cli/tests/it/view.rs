//! How `logist run` shows an agent's structured output: readably by
//! default, byte for byte with `--raw`, as normalized events with `--json`.
//! The "agent" is a script printing a capture of the real program's output
//! (Claude Code 2.1.197 writing a file, from `logist-events`' fixtures).

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use logist_testing::NoSurvivors;
use serde_json::Value;

use crate::{code, output, text};

/// A capture from `crates/logist-events/tests/fixtures/`.
fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../logist-events/tests/fixtures")
        .join(name)
}

/// A program that prints the capture `name` whatever its arguments.
fn replaying(dir: &tempfile::TempDir, name: &str) -> String {
    let script = dir.path().join("agent");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nexec cat '{}'\n", fixture(name).display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script.to_string_lossy().into_owned()
}

fn run(agent: &str, capture: &str, flags: &[&str]) -> std::process::Output {
    let guard = NoSurvivors::new();
    let dir = tempfile::tempdir().unwrap();
    let program = replaying(&dir, capture);
    let mut args = vec!["run", "--agent", agent, "--program", program.as_str()];
    args.extend(flags);
    args.push("Create hello.txt");
    output(&guard, &args)
}

#[test]
fn by_default_the_run_reads_as_text_with_one_line_per_tool_call() {
    let out = run("claude-code", "claude-code-write.out", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout,
        "● Write /tmp/.tmpyAdTII/work/hello.txt → done (added /tmp/.tmpyAdTII/work/hello.txt)\n\
         LOGIST-FAKE-OK Create hello.txt\n"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "logist: session 9e37aec5-b044-4a34-8317-48bb86f6aa29; tokens 38264 in, 54 out; \
             cost 0.1927 USD; turn ended: end_turn"
        ),
        "{stderr}"
    );
}

#[test]
fn raw_passes_the_programs_bytes_through() {
    let out = run("claude-code", "claude-code-write.out", &["--raw"]);
    assert_eq!(code(&out), 0);
    assert_eq!(
        out.stdout,
        std::fs::read(fixture("claude-code-write.out")).unwrap()
    );
    assert!(!text(&out.stderr).contains("tokens"));
}

#[test]
fn json_prints_the_normalized_events_each_with_a_time() {
    let out = run("codex", "codex-write.out", &["--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let events: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "spawned",
            "session",
            "error",
            "tool_call",
            "tool_result",
            "message",
            "usage",
            "turn_end",
            "exited",
            "outcome"
        ]
    );
    for event in &events {
        let time = event["time"].as_str().unwrap();
        assert!(time.len() == 24 && time.ends_with('Z'), "{time}");
    }
    assert_eq!(events[1]["id"], "01a2513c-d4d1-7c40-aaff-5796c7ee1807");
    assert_eq!(events[3]["kind"], "execute");
    assert_eq!(events[6]["input_tokens"], 20193);
    assert_eq!(events[6]["output_tokens"], 32);
}

#[test]
fn plain_text_agents_still_pass_through() {
    let out = run("aider", "aider-reply.out", &[]);
    assert_eq!(code(&out), 0);
    // Everything but the token count, which moves to the summary.
    let printed = String::from_utf8(std::fs::read(fixture("aider-reply.out")).unwrap()).unwrap();
    let expected = printed.replace("Tokens: 617 sent, 221 received.\n", "");
    assert_eq!(text(&out.stdout), expected);
    assert!(
        text(&out.stderr).contains("tokens 617 in, 221 out"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn resume_is_a_usage_error_where_the_program_cannot() {
    let out = run("aider", "aider-reply.out", &["--resume", "abc"]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("aider does not support the resume setting"),
        "{}",
        text(&out.stderr)
    );
    let out = run("mock", "aider-reply.out", &["--resume", "abc"]);
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).contains("--resume does not apply to the mock agent"));
}

#[test]
fn streamed_text_without_a_final_newline_ends_its_line() {
    // Gemini streams its answer in pieces with no newline at the end.
    let out = run("gemini", "gemini-reply.out", &[]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "LOGIST-FAKE-OK -rf \"double\" 'single' $(touch pwned) `touch pwned2` --help\nsecond line\n"
    );
    assert!(text(&out.stderr).contains("tokens 10550 in, 43 out"));
}

#[test]
fn a_refused_tool_call_and_the_refusal_are_shown() {
    let out = run(
        "claude-code",
        "claude-code-denied.out",
        &["--on-input", "wait"],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "● Write /tmp/.tmpEKu8Q4/work/hello.txt → failed: Claude requested permissions to write \
         to /tmp/.tmpEKu8Q4/work/hello.txt, but you haven't granted it yet.\n\
         LOGIST-FAKE-OK Create hello.txt\n\
         ! permission denied by the agent's settings: Write /tmp/.tmpEKu8Q4/work/hello.txt\n"
    );
}
