//! `logist agents`: every known agent, and the environment it needs by
//! name only.

use logist_testing::NoSurvivors;
use serde_json::Value;

use crate::{code, output, text};

#[test]
fn lists_every_agent_with_what_it_needs() {
    let guard = NoSurvivors::new();
    let out = output(&guard, &["agents", "--json"]);
    assert_eq!(code(&out), 0);
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = list.iter().map(|a| a["name"].as_str().unwrap()).collect();
    for expected in [
        "mock",
        "claude-code",
        "codex",
        "gemini",
        "qwen",
        "aider",
        "copilot",
        "opencode",
        "cline",
        "goose",
        "amp",
        "cursor-agent",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    // Proven end to end, or unverified with the reason.
    let by_name = |name: &str| list.iter().find(|a| a["name"] == name).unwrap();
    for name in ["claude-code", "aider", "cline"] {
        assert!(by_name(name)["verified_with"].is_string(), "{name}");
    }
    for name in ["goose", "amp", "cursor-agent"] {
        let agent = by_name(name);
        assert!(agent["verified_with"].is_null(), "{name}");
        assert!(
            agent["unverified_because"]
                .as_str()
                .is_some_and(|reason| reason.contains("registry") || reason.contains("npm")),
            "{name}: {agent}"
        );
    }
    let mock = &list[0];
    assert_eq!(
        (mock["installed"].as_bool(), mock["version"].as_str()),
        (Some(true), Some(env!("CARGO_PKG_VERSION")))
    );
}

#[test]
fn environment_is_named_never_shown() {
    let guard = NoSurvivors::new();
    let mut command = crate::logist(&guard, &["agents"]);
    command
        .env("ANTHROPIC_API_KEY", "sk-very-secret-value")
        .env_remove("OPENAI_API_KEY");
    let out = command.output().unwrap();
    let table = text(&out.stdout);
    assert!(!table.contains("sk-very-secret-value"), "{table}");
    let claude = table
        .lines()
        .find(|l| l.starts_with("claude-code"))
        .unwrap();
    assert!(claude.contains("ANTHROPIC_API_KEY (set)"), "{claude}");
    let codex = table.lines().find(|l| l.starts_with("codex")).unwrap();
    assert!(codex.contains("OPENAI_API_KEY (not set)"), "{codex}");
}

#[test]
fn says_which_program_version_each_adapter_was_verified_with() {
    let guard = NoSurvivors::new();
    let out = output(&guard, &["agents", "--json"]);
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let claude = list.iter().find(|a| a["name"] == "claude-code").unwrap();
    let version = claude["verified_with"]
        .as_str()
        .expect("claude-code is verified");
    let unverified: Vec<&Value> = list
        .iter()
        .filter(|a| a["name"] != "mock" && a["verified_with"].is_null())
        .collect();
    assert!(
        unverified
            .iter()
            .all(|a| a["unverified_because"].is_string()),
        "an unverified adapter says why: {unverified:?}"
    );

    let out = output(&guard, &["agents"]);
    let table = text(&out.stdout);
    assert!(
        table.lines().next().unwrap().contains("VERIFIED WITH"),
        "{table}"
    );
    let line = table
        .lines()
        .find(|l| l.starts_with("claude-code"))
        .unwrap();
    assert!(line.contains(version), "{line}");
}
