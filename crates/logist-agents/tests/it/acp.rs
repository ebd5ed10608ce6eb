//! How each adapter starts its program in ACP mode.

use logist_agents::{AgentConfig, registry};

#[track_caller]
fn check(name: &str, expected: Option<&[&str]>) {
    let config = if expected.is_some() {
        AgentConfig::new().model("m1")
    } else {
        AgentConfig::new()
    };
    let agent = registry::get(name, config).expect("a known adapter");
    let cmd = agent.acp_command().expect("a valid command line");
    let argv: Option<Vec<String>> = cmd.map(logist_core::CommandLine::into_argv);
    let expected: Option<Vec<String>> =
        expected.map(|argv| argv.iter().map(|s| (*s).to_owned()).collect());
    assert_eq!(argv, expected, "{name}");
}

#[test]
fn native_acp_modes() {
    check(
        "gemini",
        Some(&["gemini", "--acp", "--skip-trust", "--model", "m1"]),
    );
    check("qwen", Some(&["qwen", "--acp", "--model", "m1"]));
    check("opencode", Some(&["opencode", "acp"]));
    check("cline", Some(&["cline", "--acp", "-m", "m1"]));
    check(
        "copilot",
        Some(&[
            "copilot",
            "--acp",
            "--no-auto-update",
            "--disable-client-telemetry",
            "--model",
            "m1",
        ]),
    );
}

#[test]
fn bridges_for_programs_without_acp() {
    check("codex", Some(&["codex-acp"]));
    check("claude-code", Some(&["claude-agent-acp"]));
}

#[test]
fn programs_without_acp_say_so() {
    for name in ["aider", "amp", "cursor-agent", "goose"] {
        check(name, None);
    }
}
