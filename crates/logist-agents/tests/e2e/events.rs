//! The normalized events of each program's structured output: the
//! program's real stdout, parsed by `logist-events` with the parser its
//! adapter names, must give the reply, the file-writing tool call and its
//! result, the session id and the token counts the fake model sent.
//!
//! With `LOGIST_E2E_CAPTURE=DIR` the stdout of each run is also saved there
//! (`<agent>-<reply|write>.out`), which is how the fixtures of
//! `crates/logist-events/tests/fixtures/` were recorded.

use std::fs;
use std::path::PathBuf;

use logist_events::{Decider, Event, Parser, Role, StopReason, ToolStatus};
use logist_fake_model::ANSWER_PREFIX;

use super::Ran;

/// Which run this was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Reply,
    Write,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Reply => "reply",
            Kind::Write => "write",
        }
    }
}

/// Saves the run's stdout when `LOGIST_E2E_CAPTURE` names a directory.
pub(crate) fn capture(ran: &Ran, kind: Kind) {
    capture_as(
        ran,
        &format!("{}-{}", ran.agent.adapter.name(), kind.as_str()),
    );
}

/// Saves the run's stdout as `<name>.out` (and the usage the fake model
/// sent as `<name>.usage`) when `LOGIST_E2E_CAPTURE` names a directory.
pub(crate) fn capture_as(ran: &Ran, name: &str) {
    let Some(dir) = std::env::var_os("LOGIST_E2E_CAPTURE").map(PathBuf::from) else {
        return;
    };
    fs::create_dir_all(&dir).expect("capture directory");
    fs::write(dir.join(format!("{name}.out")), &ran.watched.stdout).expect("capture written");
    let usage: Vec<String> = ran
        .server
        .usage_sent()
        .iter()
        .map(|usage| format!("{} {}", usage.input_tokens, usage.output_tokens))
        .collect();
    fs::write(dir.join(format!("{name}.usage")), usage.join("\n")).expect("usage written");
}

/// Parses the run's stdout with the parser its adapter names and checks
/// the events: the answer, the session id, the file-writing tool call and
/// its result, and usage equal to what the fake model sent.
pub(crate) fn check(ran: &Ran, kind: Kind) {
    let adapter = &ran.agent.adapter;
    let name = adapter.name();
    let context = ran.context();
    let mut parser = Parser::new(adapter.output_format());
    let mut events = parser.feed(ran.watched.stdout.as_bytes());
    events.extend(parser.finish());

    let answer: String = events
        .iter()
        .filter_map(|event| match event {
            Event::Message(message) if message.role == Role::Assistant => {
                Some(message.text.as_str())
            }
            _ => None,
        })
        .collect();
    assert!(
        answer.contains(ANSWER_PREFIX),
        "{name}: no answer in the events\n{context}"
    );

    if adapter.output_format().is_structured() {
        let raw: Vec<_> = events
            .iter()
            .filter(|event| matches!(event, Event::Raw(_)))
            .collect();
        assert!(raw.is_empty(), "{name}: unparsed lines {raw:?}\n{context}");
        let sessions = events
            .iter()
            .filter(|event| matches!(event, Event::Session(session) if !session.id.is_empty()))
            .count();
        assert_eq!(sessions, 1, "{name}: one session id\n{context}");
        assert!(
            matches!(events.iter().rev().find(|e| matches!(e, Event::TurnEnd(_))),
                Some(Event::TurnEnd(end)) if end.reason == StopReason::EndTurn),
            "{name}: the turn ends normally\n{context}"
        );
    }

    if kind == Kind::Write {
        let call = events
            .iter()
            .find_map(|event| match event {
                Event::ToolCall(call) => Some(call),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{name}: no tool call\n{context}"));
        assert!(
            call.key_argument()
                .is_some_and(|key| key.contains("hello.txt")),
            "{name}: tool call {call:?}"
        );
        assert!(
            events.iter().any(|event| matches!(event,
                Event::ToolResult(result) if result.id == call.id
                    && result.status == ToolStatus::Completed)),
            "{name}: no completed result for {}\n{context}",
            call.id
        );
    }

    let reported: Vec<(Option<u64>, Option<u64>)> = events
        .iter()
        .filter_map(|event| match event {
            Event::Usage(usage) => Some((usage.input_tokens, usage.output_tokens)),
            _ => None,
        })
        .collect();
    let sent = ran.server.usage_sent();
    let total = (
        Some(sent.iter().map(|usage| usage.input_tokens).sum::<u64>()),
        Some(sent.iter().map(|usage| usage.output_tokens).sum::<u64>()),
    );
    match name {
        // Totals for the run, every model call included.
        "claude-code" | "qwen" | "gemini" => {
            assert_eq!(reported, [total], "{name}: usage\n{context}");
        }
        // One report per turn; one turn here.
        "codex" => assert_eq!(reported, [total], "{name}: usage\n{context}"),
        // One report per step; its title-generation call is not counted.
        "opencode" => {
            assert!(!reported.is_empty(), "{name}: no usage\n{context}");
            for step in &reported {
                assert!(
                    sent.iter()
                        .any(|s| (Some(s.input_tokens), Some(s.output_tokens)) == *step),
                    "{name}: step usage {step:?} is not one the model sent: {sent:?}"
                );
            }
        }
        // Aider counts tokens itself (the stream it asks for carries none).
        "aider" => assert_eq!(reported.len(), 1, "{name}: usage\n{context}"),
        // FIXME: Copilot CLI 1.0.102 prints no token counts in its JSON.
        "copilot" => assert!(reported.is_empty(), "{name}: usage {reported:?}"),
        other => panic!("no usage rule for {other}"),
    }
}

/// The session id the run reported (its one `session` event).
pub(crate) fn session_id(ran: &Ran) -> String {
    let mut parser = Parser::new(ran.agent.adapter.output_format());
    let mut events = parser.feed(ran.watched.stdout.as_bytes());
    events.extend(parser.finish());
    events
        .into_iter()
        .find_map(|event| match event {
            Event::Session(session) => Some(session.id),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no session id\n{}", ran.context()))
}

/// The refused write: a tool call, a failed result, and a permission
/// decision by the program rejecting that call.
pub(crate) fn check_denied(ran: &Ran) {
    let context = ran.context();
    let mut parser = Parser::new(ran.agent.adapter.output_format());
    let mut events = parser.feed(ran.watched.stdout.as_bytes());
    events.extend(parser.finish());
    let call = events
        .iter()
        .find_map(|event| match event {
            Event::ToolCall(call) => Some(call.id.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no tool call\n{context}"));
    assert!(
        events.iter().any(|event| matches!(event,
            Event::ToolResult(result) if result.id == call && result.status == ToolStatus::Failed)),
        "no failed result for {call}\n{context}"
    );
    assert!(
        events.iter().any(|event| matches!(event,
            Event::PermissionDecision(decision) if decision.id == call
                && !decision.outcome.is_allowed()
                && decision.by == Decider::Program)),
        "no refusal reported for {call}\n{context}"
    );
}
