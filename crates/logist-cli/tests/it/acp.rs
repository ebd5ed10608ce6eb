//! `logist run --acp` with the embedded mock agent's ACP mode.

use logist_mock::{ACP_MEMORY_PREFIX, ACP_MODE_AUTO, ACP_REPLY_PREFIX};
use logist_testing::NoSurvivors;

use crate::{code, output, text};

#[track_caller]
fn check(args: &[&str], expected: i32) -> (String, String) {
    let guard = NoSurvivors::new();
    let mut all = vec!["run", "--agent", "mock", "--acp"];
    all.extend_from_slice(args);
    let out = output(&guard, &all);
    assert_eq!(code(&out), expected, "stderr: {}", text(&out.stderr));
    (text(&out.stdout), text(&out.stderr))
}

#[test]
fn a_reply_is_printed_as_text() {
    let (stdout, _) = check(&["hello"], 0);
    assert_eq!(stdout, format!("{ACP_REPLY_PREFIX}hello\n"));
}

#[test]
fn allow_writes_and_deny_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().to_str().unwrap();
    let (_, stderr) = check(
        &["--cwd", cwd, "--on-permission", "allow", "write a.txt yes"],
        0,
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "yes"
    );
    assert!(
        stderr.contains("permission for call-write: allow_once"),
        "{stderr}"
    );
    let (stdout, _) = check(
        &["--cwd", cwd, "--on-permission", "deny", "write b.txt no"],
        0,
    );
    assert!(!dir.path().join("b.txt").exists());
    assert!(stdout.contains("permission denied"), "{stdout}");
}

#[test]
fn ask_without_a_terminal_is_waiting_for_input() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().to_str().unwrap();
    let (stdout, stderr) = check(&["--cwd", cwd, "write a.txt x"], 122);
    assert!(!dir.path().join("a.txt").exists());
    assert_eq!(stdout, "");
    assert!(stderr.contains("waits for permission"), "{stderr}");
}

#[test]
fn json_prints_events_with_a_time() {
    let (stdout, _) = check(&["--json", "hi"], 0);
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["session", "message", "message", "message", "turn_end"]
    );
    assert!(
        events
            .iter()
            .all(|e| e["time"].as_str().is_some_and(|t| t.ends_with('Z')))
    );
    assert_eq!(events[4]["reason"], "end_turn");
}

#[test]
fn limits_give_the_usual_exit_codes() {
    check(&["--idle-timeout", "0.3", "--grace", "0.2", "silent"], 123);
    check(
        &["--timeout", "0.5", "--grace", "0.2", "stamp 100000 5"],
        124,
    );
}

#[test]
fn a_crash_mid_turn_fails_cleanly() {
    let (_, stderr) = check(&["crash"], 1);
    assert!(stderr.contains("exited before answering"), "{stderr}");
}

#[test]
fn authentication_required_is_reported() {
    let (_, stderr) = check(&["--agent-arg", "--auth", "hi"], 1);
    assert!(stderr.contains("needs authentication"), "{stderr}");
}

#[test]
fn agents_without_acp_and_stray_flags_are_usage_errors() {
    let guard = NoSurvivors::new();
    let out = output(&guard, &["run", "--agent", "aider", "--acp", "hi"]);
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).contains("has no ACP mode"));
    let out = output(
        &guard,
        &["run", "--agent", "mock", "--on-permission", "deny", "hi"],
    );
    assert_eq!(code(&out), 2);
}

#[test]
fn acp_mode_switches_the_session_and_an_unknown_one_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().to_str().unwrap();
    // The mock's `auto` mode writes without asking: `ask` never stops it.
    let (_, stderr) = check(
        &["--cwd", cwd, "--acp-mode", ACP_MODE_AUTO, "write a.txt yes"],
        0,
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "yes",
        "{stderr}"
    );
    let (_, stderr) = check(&["--cwd", cwd, "--acp-mode", "yolo", "hi"], 2);
    assert!(
        stderr.contains("no session mode `yolo` (it offers ask, auto)"),
        "{stderr}"
    );
}

#[test]
fn memory_is_per_process() {
    // One prompt per `logist run`: the mock remembers nothing across runs.
    let (stdout, _) = check(&["again"], 0);
    assert!(!stdout.contains(ACP_MEMORY_PREFIX));
}

#[test]
fn ask_on_a_terminal_lets_the_person_decide() {
    use logist_core::{CommandLine, ExitStatus, Runtime, SpawnRequest, TerminalSize};
    use logist_runtime_host::HostRuntime;

    let guard = NoSurvivors::new();
    let dir = tempfile::tempdir().unwrap();
    let runtime = HostRuntime::new().unwrap();
    let command = CommandLine::new([
        crate::LOGIST,
        "run",
        "--agent",
        "mock",
        "--acp",
        "--cwd",
        dir.path().to_str().unwrap(),
        "write a.txt decided",
    ])
    .unwrap();
    let request = guard.tag_request(SpawnRequest::new(command).terminal(TerminalSize {
        rows: 24,
        cols: 200,
    }));
    let id = runtime.spawn(&request).unwrap();
    let mut seen = Vec::new();
    let mut from = 0;
    while !String::from_utf8_lossy(&seen).contains("[N]o: ") {
        let read = runtime.read_output(&id, from, Some(crate::LONG)).unwrap();
        assert!(
            !read.is_empty() || !read.finished,
            "ended without asking: {}",
            text(&seen)
        );
        from = read.next;
        seen.extend(read.chunks.into_iter().flat_map(|chunk| chunk.data));
    }
    runtime.write_stdin(&id, b"y\n").unwrap();
    let done = runtime.wait(&id, Some(crate::LONG)).unwrap();
    assert_eq!(done.status, ExitStatus::Code(0), "{}", done.logs.text());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "decided"
    );
    assert!(
        done.logs
            .text()
            .contains("permission for call-write: allow_once")
    );
}
