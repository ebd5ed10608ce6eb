//! Continuing a session ([`AgentConfig::resume`]): the flag each program
//! takes, and a typed refusal from the adapters whose program cannot.

use logist_agents::{AgentConfig, AgentError, registry};

/// Where the session id goes for each adapter; `None`: cannot resume.
fn check(name: &str, expected: Option<&[&str]>) {
    let config = AgentConfig::new().resume("ses-1");
    match expected {
        Some(args) => {
            let agent = registry::get(name, config).unwrap();
            assert!(agent.resumes(), "{name}");
            let argv = agent.cmd("next prompt").unwrap();
            let argv = argv.argv();
            assert!(
                argv.windows(args.len()).any(|window| window == args),
                "{name}: {argv:?} lacks {args:?}"
            );
            assert_eq!(
                argv.last().map(String::as_str),
                Some(if name == "gemini" || name == "qwen" || name == "copilot" {
                    "--prompt=next prompt"
                } else {
                    "next prompt"
                }),
                "{name}"
            );
        }
        None => {
            let error = registry::get(name, config).err().expect("refused");
            assert!(
                matches!(
                    error,
                    AgentError::Unsupported {
                        setting: "resume",
                        ..
                    }
                ),
                "{name}: {error}"
            );
            assert!(!registry::get(name, AgentConfig::new()).unwrap().resumes());
        }
    }
}

#[test]
fn programs_that_can_continue_a_session_get_its_id() {
    check("claude-code", Some(&["--resume=ses-1"]));
    check("codex", Some(&["resume", "--", "ses-1", "next prompt"]));
    check("gemini", Some(&["--resume=ses-1"]));
    check("qwen", Some(&["--resume=ses-1"]));
    check("copilot", Some(&["--resume=ses-1"]));
    check("opencode", Some(&["--session=ses-1"]));
    check("cursor-agent", Some(&["--resume=ses-1"]));
}

#[test]
fn programs_that_cannot_say_so() {
    for name in ["aider", "cline", "goose", "amp"] {
        check(name, None);
    }
}

#[test]
fn every_adapter_is_covered() {
    let covered = [
        "claude-code",
        "codex",
        "gemini",
        "qwen",
        "copilot",
        "opencode",
        "cursor-agent",
        "aider",
        "cline",
        "goose",
        "amp",
    ];
    let mut names: Vec<_> = registry::names().collect();
    names.sort_unstable();
    let mut covered = covered.to_vec();
    covered.sort_unstable();
    assert_eq!(names, covered);
}
