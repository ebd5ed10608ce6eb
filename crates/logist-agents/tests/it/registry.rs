//! The registry: names, lookup, validation, and installed detection on a
//! fake `PATH`.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use logist_agents::{AgentConfig, AgentError, registry};

#[test]
fn names_are_unique_and_match_the_adapters() {
    let names: Vec<&str> = registry::names().collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len());
    assert_eq!(names.len(), 11);
    let agents = registry::all();
    for (name, agent) in names.iter().zip(&agents) {
        assert_eq!(agent.name(), *name);
        assert_eq!(
            registry::get(name, AgentConfig::new()).unwrap().name(),
            *name
        );
    }
    assert_eq!(
        names,
        [
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
            "cursor-agent"
        ]
    );
}

#[test]
fn unknown_names_and_unsupported_settings_are_typed_errors() {
    let error = registry::get("vim", AgentConfig::new()).err().unwrap();
    assert!(matches!(&error, AgentError::UnknownAgent { name, .. } if name == "vim"));
    assert_eq!(
        error.to_string(),
        "no agent named `vim` (known: claude-code, codex, gemini, qwen, aider, copilot, opencode, cline, goose, amp, cursor-agent)"
    );
    let with_url = AgentConfig::new().base_url("http://127.0.0.1:1");
    {
        let name = "cursor-agent";
        let error = registry::get(name, with_url.clone()).err().unwrap();
        assert!(
            matches!(
                error,
                AgentError::Unsupported {
                    setting: "base URL",
                    ..
                }
            ),
            "{name}: {error}"
        );
    }
    let error = registry::get("amp", AgentConfig::new().model("x"))
        .err()
        .unwrap();
    assert!(
        error
            .to_string()
            .starts_with("amp does not support the model setting"),
        "{error}"
    );
    assert!(registry::get("claude-code", with_url).is_ok());
}

fn executable(path: &Path) {
    fs::write(path, "#!/bin/sh\n").unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn installed_programs_are_found_on_a_fake_path() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("first"), dir.path().join("second"));
    fs::create_dir_all(&first).unwrap();
    fs::create_dir_all(&second).unwrap();
    executable(&second.join("claude"));
    // Not executable, or not a file: not installed.
    fs::write(first.join("codex"), "").unwrap();
    fs::create_dir_all(first.join("gemini")).unwrap();
    // The first directory on the path wins.
    executable(&first.join("aider"));
    executable(&second.join("aider"));

    let path = std::env::join_paths([&first, &second]).unwrap();
    let found: Vec<(&str, Option<std::path::PathBuf>)> = registry::installed_in(Some(&path))
        .into_iter()
        .map(|installation| (installation.name, installation.path))
        .filter(|(_, path)| path.is_some())
        .collect();
    assert_eq!(
        found,
        [
            ("claude-code", Some(second.join("claude"))),
            ("aider", Some(first.join("aider"))),
        ]
    );
    assert!(
        registry::installed_in(None)
            .iter()
            .all(|i| i.path.is_none())
    );
    assert!(
        registry::installed_in(Some(&OsString::new()))
            .iter()
            .all(|i| i.path.is_none())
    );
}

#[test]
fn a_configured_program_path_is_checked_directly() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("my-claude");
    assert_eq!(
        registry::find_program(program.to_str().unwrap(), None),
        None
    );
    executable(&program);
    assert_eq!(
        registry::find_program(program.to_str().unwrap(), None),
        Some(program.clone())
    );
    let agent = registry::get(
        "claude-code",
        AgentConfig::new().program(program.to_str().unwrap()),
    )
    .unwrap();
    assert_eq!(agent.program(), program.to_str().unwrap());
    assert_eq!(agent.cmd("x").unwrap().program(), program.to_str().unwrap());
    assert_eq!(
        registry::find_program("", Some(dir.path().as_os_str())),
        None
    );
}
