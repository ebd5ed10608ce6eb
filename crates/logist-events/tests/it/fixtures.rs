//! The parsers on the real programs' output, captured by the end-to-end
//! tests (`LOGIST_E2E_CAPTURE`, see `crates/logist-agents/tests/e2e/events.rs`)
//! against the fake model server: Claude Code 2.1.197, Codex 0.169.0,
//! Gemini CLI 0.61.0, Qwen Code 0.15.10, OpenCode 1.18.33, Copilot CLI
//! 1.0.102 and Aider 0.86.2, each answering a prompt (`*-reply.out`) and
//! writing a file with a tool (`*-write.out`). Cline 3.0.65's `--json`
//! (`cline-*.out`) was captured by hand the same way, since the end-to-end
//! runs give Cline its prompt on stdin, where it prints text: its
//! adapter's argv form (`cline --json --auto-approve false|true -m
//! fake-model -- PROMPT`, stdin `/dev/null`) in a fresh `HOME` holding the
//! adapter's provider settings (`openai-compatible`, the fake model's
//! `/v1` URL), with `OPENAI_API_KEY` set, against `logist-fake-model` (with
//! `--write-file PATH CONTENT` for the write); the `.usage` lines are what
//! the fake model computed for each request (the same as Cline reports). `*.usage` holds the token
//! counts the fake model sent in each answer (`input output` per line).
//!
//! Each capture's events are kept as a snapshot (the exact events), and
//! the facts that matter are asserted on their own: the session id, the
//! tool call and its result, the answer, and usage equal to what the fake
//! model sent.

use std::path::PathBuf;

use logist_core::OutputFormat;
use logist_events::{
    Event, FileChangeKind, RawReason, Role, StopReason, ToolKind, ToolStatus, Usage,
};

use crate::parse;

const ANSWER: &str = "LOGIST-FAKE-OK";

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The fake model's usage for a capture: `(input, output)` per answer.
fn sent(name: &str) -> Vec<(u64, u64)> {
    String::from_utf8(fixture(&format!("{name}.usage")))
        .unwrap()
        .lines()
        .map(|line| {
            let (input, output) = line.split_once(' ').unwrap();
            (input.parse().unwrap(), output.parse().unwrap())
        })
        .collect()
}

/// Parses a capture whole and in several chunkings (which must agree),
/// snapshots its events, and returns them.
#[track_caller]
fn events(format: OutputFormat, name: &str) -> Vec<Event> {
    let bytes = fixture(&format!("{name}.out"));
    let events = parse(format, &bytes, 0);
    for chunk in [1, 7, 4096] {
        assert_eq!(parse(format, &bytes, chunk), events, "chunks of {chunk}");
    }
    let lines: Vec<String> = events.iter().map(|e| e.to_json().to_string()).collect();
    insta::assert_snapshot!(name, lines.join("\n"));
    events
}

fn session(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Session(session) => Some(session.id.as_str()),
            _ => None,
        })
        .collect()
}

fn answer(events: &[Event]) -> String {
    let mut text = String::new();
    for event in events {
        if let Event::Message(message) = event
            && message.role == Role::Assistant
        {
            // A whole message after its pieces repeats them.
            if message.delta || !text.ends_with(&message.text) {
                text.push_str(&message.text);
            }
        }
    }
    text
}

fn usage(events: &[Event]) -> Vec<&Usage> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Usage(usage) => Some(usage),
            _ => None,
        })
        .collect()
}

/// The sums of what the fake model sent.
fn totals(sent: &[(u64, u64)]) -> (Option<u64>, Option<u64>) {
    (
        Some(sent.iter().map(|s| s.0).sum()),
        Some(sent.iter().map(|s| s.1).sum()),
    )
}

fn tokens(usage: &Usage) -> (Option<u64>, Option<u64>) {
    (usage.input_tokens, usage.output_tokens)
}

/// No raw JSON line: every line of a structured capture was recognised.
#[track_caller]
fn all_recognised(events: &[Event]) {
    for event in events {
        if let Event::Raw(raw) = event {
            panic!(
                "not recognised: {:?} {}",
                raw.reason,
                String::from_utf8_lossy(&raw.data)
            );
        }
    }
}

/// The file-writing tool call: one call of `kind` named `name` whose key
/// argument is the written file, and its completed result.
#[track_caller]
fn wrote(events: &[Event], name: &str, kind: ToolKind, files: Option<FileChangeKind>) {
    let call = events
        .iter()
        .find_map(|event| match event {
            Event::ToolCall(call) => Some(call),
            _ => None,
        })
        .expect("a tool call");
    assert_eq!((call.name.as_str(), call.kind), (name, kind));
    let key = call.key_argument().expect("a key argument");
    assert!(key.contains("hello.txt"), "{key}");
    let result = events
        .iter()
        .find_map(|event| match event {
            Event::ToolResult(result) if result.id == call.id => Some(result),
            _ => None,
        })
        .expect("the call's result");
    assert_eq!(result.status, ToolStatus::Completed);
    match files {
        Some(kind) => {
            assert_eq!(result.files.len(), 1, "{result:?}");
            assert!(result.files[0].path.ends_with("/work/hello.txt"));
            assert_eq!(result.files[0].kind, kind);
        }
        None => assert!(result.files.is_empty()),
    }
}

#[track_caller]
fn ended(events: &[Event]) {
    let ends: Vec<_> = events
        .iter()
        .filter_map(|event| match event {
            Event::TurnEnd(end) => Some(end.reason),
            _ => None,
        })
        .collect();
    assert_eq!(ends.last(), Some(&StopReason::EndTurn), "{ends:?}");
}

#[test]
fn claude_code_reply() {
    let events = events(OutputFormat::ClaudeStreamJson, "claude-code-reply");
    all_recognised(&events);
    assert_eq!(session(&events), ["40435c5c-e65e-4de7-ab21-7a4d5198d3f4"]);
    assert!(answer(&events).starts_with(ANSWER));
    let usage = usage(&events);
    assert_eq!(usage.len(), 1);
    assert_eq!(tokens(usage[0]), totals(&sent("claude-code-reply")));
    assert_eq!(usage[0].cost.as_ref().map(|c| c.amount), Some(0.09617));
    ended(&events);
}

#[test]
fn claude_code_write() {
    let events = events(OutputFormat::ClaudeStreamJson, "claude-code-write");
    all_recognised(&events);
    assert_eq!(session(&events), ["9e37aec5-b044-4a34-8317-48bb86f6aa29"]);
    wrote(
        &events,
        "Write",
        ToolKind::Edit,
        Some(FileChangeKind::Added),
    );
    assert_eq!(answer(&events), "LOGIST-FAKE-OK Create hello.txt");
    let usage = usage(&events);
    assert_eq!(usage.len(), 1);
    assert_eq!(tokens(usage[0]), totals(&sent("claude-code-write")));
    ended(&events);
}

#[test]
fn qwen_reply() {
    let events = events(OutputFormat::ClaudeStreamJson, "qwen-reply");
    all_recognised(&events);
    assert_eq!(session(&events), ["20d40e33-f4f5-4d0f-b2b2-18932f582fcc"]);
    assert!(answer(&events).starts_with(ANSWER));
    // Qwen counts its memory-extraction call after the answer too.
    let usage = usage(&events);
    assert_eq!(usage.len(), 1);
    assert_eq!(tokens(usage[0]), totals(&sent("qwen-reply")));
    ended(&events);
}

#[test]
fn qwen_write() {
    let events = events(OutputFormat::ClaudeStreamJson, "qwen-write");
    all_recognised(&events);
    assert_eq!(session(&events), ["6b5ed2ec-2177-416d-b752-01b2f2778bb0"]);
    wrote(&events, "write_file", ToolKind::Edit, None);
    assert_eq!(tokens(usage(&events)[0]), totals(&sent("qwen-write")));
    ended(&events);
}

#[test]
fn codex_reply() {
    let events = events(OutputFormat::CodexJson, "codex-reply");
    all_recognised(&events);
    assert_eq!(session(&events), ["01a2513c-d07c-79e0-94a8-710dea3fc59f"]);
    assert!(answer(&events).starts_with(ANSWER));
    // Codex's warning about the unknown model is an error item, not fatal.
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Error(error) if !error.fatal))
    );
    let usage = usage(&events);
    assert_eq!(usage.len(), 1);
    assert_eq!(tokens(usage[0]), totals(&sent("codex-reply")));
    ended(&events);
}

#[test]
fn codex_write() {
    let events = events(OutputFormat::CodexJson, "codex-write");
    all_recognised(&events);
    assert_eq!(session(&events), ["01a2513c-d4d1-7c40-aaff-5796c7ee1807"]);
    // Without `apply_patch` (unknown model) Codex writes with a command.
    wrote(&events, "command_execution", ToolKind::Execute, None);
    assert_eq!(answer(&events), "LOGIST-FAKE-OK Create hello.txt");
    assert_eq!(tokens(usage(&events)[0]), totals(&sent("codex-write")));
    ended(&events);
}

#[test]
fn gemini_reply() {
    let events = events(OutputFormat::GeminiStreamJson, "gemini-reply");
    all_recognised(&events);
    assert_eq!(session(&events), ["015ca52d-4d2d-49f0-9db2-9a51236a2b6b"]);
    assert!(answer(&events).starts_with(ANSWER));
    // The router's classifier call and the answer, summed.
    let usage = usage(&events);
    assert_eq!(usage.len(), 1);
    assert_eq!(tokens(usage[0]), totals(&sent("gemini-reply")));
    ended(&events);
}

#[test]
fn gemini_write() {
    let events = events(OutputFormat::GeminiStreamJson, "gemini-write");
    all_recognised(&events);
    assert_eq!(session(&events), ["d1d390cf-faa2-4893-b38b-0b90b4e1914c"]);
    wrote(&events, "write_file", ToolKind::Edit, None);
    assert_eq!(tokens(usage(&events)[0]), totals(&sent("gemini-write")));
    ended(&events);
}

#[test]
fn opencode_reply() {
    let events = events(OutputFormat::OpenCodeJson, "opencode-reply");
    all_recognised(&events);
    assert_eq!(session(&events), ["ses_daec27f97ffeIVX8FHZ9DtcPkH"]);
    assert!(answer(&events).starts_with(ANSWER));
    // One step; OpenCode does not count its title-generation call (the
    // first answer the fake model sent).
    let sent = sent("opencode-reply");
    let usage = usage(&events);
    assert_eq!(usage.len(), 1);
    assert_eq!(tokens(usage[0]), (Some(sent[1].0), Some(sent[1].1)));
    ended(&events);
}

#[test]
fn opencode_write() {
    let events = events(OutputFormat::OpenCodeJson, "opencode-write");
    all_recognised(&events);
    assert_eq!(session(&events), ["ses_daec2750fffeRZVo2ykZXqKCeM"]);
    wrote(
        &events,
        "write",
        ToolKind::Edit,
        Some(FileChangeKind::Added),
    );
    assert_eq!(answer(&events), "LOGIST-FAKE-OK Create hello.txt");
    let sent = sent("opencode-write");
    let steps: Vec<_> = usage(&events).into_iter().map(tokens).collect();
    assert_eq!(
        steps,
        sent[1..]
            .iter()
            .map(|s| (Some(s.0), Some(s.1)))
            .collect::<Vec<_>>()
    );
    ended(&events);
}

#[test]
fn copilot_reply() {
    let events = events(OutputFormat::CopilotJson, "copilot-reply");
    all_recognised(&events);
    // Copilot names its session only in the final `result` line.
    assert_eq!(session(&events), ["932df54e-bb26-45a1-ad11-ec81487e6655"]);
    assert!(answer(&events).starts_with(ANSWER));
    // FIXME: Copilot CLI 1.0.102 prints no token counts in its JSON output
    // although the fake model sent them; there is nothing to report.
    assert!(usage(&events).is_empty());
    assert!(!sent("copilot-reply").is_empty());
    ended(&events);
}

#[test]
fn copilot_write() {
    let events = events(OutputFormat::CopilotJson, "copilot-write");
    all_recognised(&events);
    assert_eq!(session(&events), ["a891a580-95aa-4d10-b00e-759a95e49d49"]);
    wrote(
        &events,
        "create",
        ToolKind::Edit,
        Some(FileChangeKind::Added),
    );
    assert!(answer(&events).starts_with(ANSWER));
    ended(&events);
}

#[test]
fn aider_reply() {
    let events = events(OutputFormat::AiderText, "aider-reply");
    // The banner passes through as text; the reply is the message.
    let banner: Vec<_> = events
        .iter()
        .take_while(|event| matches!(event, Event::Raw(raw) if raw.reason == RawReason::Unparsed))
        .collect();
    assert_eq!(banner.len(), 8);
    assert!(answer(&events).starts_with("LOGIST-FAKE-OK -rf \"double\""));
    // Aider counts tokens itself (the fake model's stream carried none).
    let usage = usage(&events);
    assert_eq!(tokens(usage[0]), (Some(617), Some(221)));
    assert!(sent("aider-reply").is_empty());
}

#[test]
fn aider_write() {
    let events = events(OutputFormat::AiderText, "aider-write");
    wrote(
        &events,
        "edit",
        ToolKind::Edit,
        Some(FileChangeKind::Unknown),
    );
    assert_eq!(tokens(usage(&events)[0]), (Some(594), Some(227)));
}

#[test]
fn cline_reply() {
    let events = events(OutputFormat::ClineJson, "cline-reply");
    all_recognised(&events);
    assert_eq!(session(&events), ["conv_1796673235419_404cg5y"]);
    assert!(answer(&events).starts_with(ANSWER));
    assert!(answer(&events).ends_with("--help\nsecond line"));
    // One report per model call, as the fake model sent it.
    let usage = usage(&events);
    assert_eq!(usage.len(), 1);
    assert_eq!(tokens(usage[0]), totals(&sent("cline-reply")));
    // Cline reports a cost only when it is not zero (unknown model).
    assert_eq!(usage[0].cost, None);
    ended(&events);
}

#[test]
fn cline_write() {
    let events = events(OutputFormat::ClineJson, "cline-write");
    all_recognised(&events);
    assert_eq!(session(&events), ["conv_1796673238749_5z6ioqb"]);
    wrote(
        &events,
        "editor",
        ToolKind::Edit,
        Some(FileChangeKind::Added),
    );
    assert_eq!(answer(&events), "LOGIST-FAKE-OK Create hello.txt");
    let sent = sent("cline-write");
    let calls: Vec<_> = usage(&events).into_iter().map(tokens).collect();
    assert_eq!(
        calls,
        sent.iter()
            .map(|s| (Some(s.0), Some(s.1)))
            .collect::<Vec<_>>()
    );
    ended(&events);
}

/// Cursor Agent is not installable here: its lines as its output-format
/// reference documents them (`cursor-documented.out`, written by hand).
#[test]
fn cursor_documented_tool_calls() {
    let events = events(OutputFormat::ClaudeStreamJson, "cursor-documented");
    all_recognised(&events);
    assert_eq!(session(&events), ["0e6a1c2b-3f4d-4e5a-8b9c-0d1e2f3a4b5c"]);
    let calls: Vec<_> = events
        .iter()
        .filter_map(|event| match event {
            Event::ToolCall(call) => Some((call.name.as_str(), call.kind, call.status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("read", ToolKind::Read, ToolStatus::InProgress),
            ("read", ToolKind::Read, ToolStatus::Completed)
        ]
    );
    assert!(events.iter().any(|event| matches!(event,
        Event::ToolResult(result) if result.output.as_deref() == Some("banana"))));
    assert_eq!(answer(&events), "banana");
    ended(&events);
}

/// Claude Code in `-p` with the default permission mode refuses the write
/// (`claude-code-denied.out`): the call fails and the result line lists the
/// denial, which becomes a decision by the program.
#[test]
fn claude_code_denied() {
    use logist_events::{Decider, Outcome};

    let events = events(OutputFormat::ClaudeStreamJson, "claude-code-denied");
    all_recognised(&events);
    let failed = events.iter().find_map(|event| match event {
        Event::ToolResult(result) => Some(result),
        _ => None,
    });
    let failed = failed.expect("a tool result");
    assert_eq!(failed.status, ToolStatus::Failed);
    assert!(
        failed
            .error
            .as_deref()
            .unwrap()
            .contains("haven't granted it yet")
    );
    let decision = events
        .iter()
        .find_map(|event| match event {
            Event::PermissionDecision(decision) => Some(decision),
            _ => None,
        })
        .expect("the denial");
    assert_eq!(
        (decision.id.as_str(), decision.outcome, decision.by),
        ("toolu_fake_2", Outcome::RejectOnce, Decider::Program)
    );
    assert_eq!(decision.tool_call.as_ref().unwrap().name, "Write");
    assert_eq!(
        tokens(usage(&events)[0]),
        totals(&sent("claude-code-denied"))
    );
    ended(&events);
}
