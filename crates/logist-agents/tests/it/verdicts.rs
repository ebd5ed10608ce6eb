//! Verdicts and failure causes read from the programs' own output:
//! recorded from the real programs against the fake model server (which can
//! refuse every call with 401 or 429), plus shapes reported in public bug
//! reports.

use logist_agents::registry;
use logist_core::{FailureCause, Pattern, Verdict};

#[track_caller]
fn verdict(name: &str, output: &str) -> Option<Verdict> {
    registry::get(name, Default::default())
        .unwrap()
        .verdict(output.as_bytes())
}

#[track_caller]
fn failed(name: &str, output: &str) -> (Option<FailureCause>, String) {
    match verdict(name, output) {
        Some(Verdict::Failed { cause, message }) => (cause, message),
        other => panic!("{name}: expected a failure, got {other:?}"),
    }
}

/// The causes whose literal failure patterns appear in `output`.
fn causes_in(name: &str, output: &str) -> Vec<FailureCause> {
    let agent = registry::get(name, Default::default()).unwrap();
    let mut causes: Vec<FailureCause> = agent
        .failure_patterns()
        .into_iter()
        .filter(|failure| match &failure.pattern {
            Pattern::Literal(text) => output.contains(text.as_str()),
            Pattern::Regex(regex) => regex::Regex::new(regex).unwrap().is_match(output),
        })
        .map(|failure| failure.cause)
        .collect();
    causes.dedup();
    causes
}

#[test]
fn successful_runs_read_as_success() {
    for (name, output) in [
        ("claude-code", include_str!("samples/claude-ok.txt")),
        ("codex", include_str!("samples/codex-ok.txt")),
        ("gemini", include_str!("samples/gemini-ok.txt")),
        ("qwen", include_str!("samples/qwen-ok.txt")),
        ("copilot", include_str!("samples/copilot-ok.txt")),
    ] {
        assert_eq!(verdict(name, output), Some(Verdict::Succeeded), "{name}");
    }
    // Aider has no structured output: no verdict means "trust the exit code".
    assert_eq!(verdict("aider", include_str!("samples/aider-ok.txt")), None);
}

/// Claude Code can exit 0 with `is_error: true` and `subtype: "success"`
/// (anthropics/claude-code#79500); the verdict says failed.
#[test]
fn claude_exit_zero_with_is_error_is_a_failure() {
    let output = concat!(
        r#"{"type":"system","subtype":"init","session_id":"s"}"#,
        "\n",
        r#"{"type":"result","subtype":"success","is_error":true,"api_error_status":429,"duration_ms":5,"num_turns":1,"result":"API Error: 429 {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"Number of request tokens has exceeded your per-minute rate limit\"}}","session_id":"s"}"#,
        "\n"
    );
    let (cause, message) = failed("claude-code", output);
    assert_eq!(cause, Some(FailureCause::RateLimited));
    assert!(message.starts_with("API Error: 429"), "{message}");

    let auth = r#"{"type":"result","subtype":"success","is_error":true,"result":"Invalid API key · Please run /login"}"#;
    assert_eq!(
        failed("claude-code", auth).0,
        Some(FailureCause::AuthFailed)
    );
    let context = r#"{"type":"result","subtype":"error_during_execution","is_error":true,"result":"Prompt is too long"}"#;
    assert_eq!(
        failed("claude-code", context).0,
        Some(FailureCause::ContextExhausted)
    );
    let unknown = r#"{"type":"result","subtype":"error_max_turns","is_error":true}"#;
    assert_eq!(
        failed("claude-code", unknown),
        (None, "error_max_turns".to_owned())
    );
    // No result event (the program died early): no verdict.
    assert_eq!(
        verdict("claude-code", r#"{"type":"system","subtype":"init"}"#),
        None
    );
}

/// While the API refuses, Claude Code retries for minutes; its retry events
/// already name the cause.
#[test]
fn claude_retry_events_name_the_cause() {
    let unauthorized = include_str!("samples/claude-401-retrying.txt");
    assert_eq!(
        causes_in("claude-code", unauthorized),
        [FailureCause::AuthFailed]
    );
    let limited = include_str!("samples/claude-429-retrying.txt");
    assert_eq!(
        causes_in("claude-code", limited),
        [FailureCause::RateLimited]
    );
    // Still retrying: no result yet, so no verdict.
    assert_eq!(verdict("claude-code", unauthorized), None);
}

#[test]
fn codex_turn_failures() {
    let (cause, message) = failed("codex", include_str!("samples/codex-401.txt"));
    assert_eq!(cause, Some(FailureCause::AuthFailed));
    assert!(message.contains("401 Unauthorized"), "{message}");
    let (cause, _) = failed("codex", include_str!("samples/codex-429.txt"));
    assert_eq!(cause, Some(FailureCause::RateLimited));
}

#[test]
fn gemini_error_result() {
    let (cause, message) = failed("gemini", include_str!("samples/gemini-401.txt"));
    assert_eq!(cause, Some(FailureCause::AuthFailed));
    assert!(message.contains("invalid x-api-key"), "{message}");
}

/// Qwen Code 0.15.10 exits 0 and reports `is_error: false` when the API
/// refuses the key; the verdict catches it.
#[test]
fn qwen_api_error_disguised_as_success() {
    let (cause, message) = failed("qwen", include_str!("samples/qwen-401.txt"));
    assert_eq!(cause, Some(FailureCause::AuthFailed));
    assert_eq!(message, "[API Error: 401 invalid x-api-key]");
}

/// Aider 0.86.2 exits 0 after an authentication error.
#[test]
fn aider_litellm_errors() {
    let (cause, message) = failed("aider", include_str!("samples/aider-401.txt"));
    assert_eq!(cause, Some(FailureCause::AuthFailed));
    assert!(
        message.starts_with("litellm.AuthenticationError"),
        "{message}"
    );
    let (cause, _) = failed("aider", include_str!("samples/aider-429.txt"));
    assert_eq!(cause, Some(FailureCause::RateLimited));
}

#[test]
fn copilot_session_error() {
    let (cause, message) = failed("copilot", include_str!("samples/copilot-401.txt"));
    assert_eq!(cause, Some(FailureCause::AuthFailed));
    assert!(
        message.starts_with("Authentication failed with provider"),
        "{message}"
    );
}

/// Shapes of the programs that were not run here, from their docs.
#[test]
fn documented_result_shapes() {
    let amp =
        r#"{"type":"result","subtype":"error_during_execution","error":"rate limit exceeded"}"#;
    assert_eq!(failed("amp", amp).0, Some(FailureCause::RateLimited));
    let cursor = r#"{"type":"result","subtype":"success","is_error":false,"result":"done"}"#;
    assert_eq!(verdict("cursor-agent", cursor), Some(Verdict::Succeeded));
    let cline = r#"{"type":"run_result","finishReason":"completed","text":"ok"}"#;
    assert_eq!(verdict("cline", cline), Some(Verdict::Succeeded));
    let cline = r#"{"type":"run_aborted","reason":"local_abort","message":"aborted"}"#;
    assert_eq!(failed("cline", cline), (None, "aborted".to_owned()));
    let opencode = r#"{"type":"error","error":{"name":"APIError","data":{"message":"Incorrect API key provided"}}}"#;
    assert_eq!(
        failed("opencode", opencode).0,
        Some(FailureCause::AuthFailed)
    );
    assert_eq!(verdict("goose", "anything"), None);
}
