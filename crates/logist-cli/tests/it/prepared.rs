//! What `logist run` prepares for an adapter: a large prompt reaches the
//! program or fails naming the limit, and settings a program reads only
//! from files are given to it per run, in a fresh home, without writing the
//! home. Stand-in programs (shell scripts) show what the real one would
//! get; `cargo xtask e2e` runs the real programs.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use logist_testing::NoSurvivors;

use crate::{code, text};

/// An executable shell script at `dir/name`.
fn script(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path.to_string_lossy().into_owned()
}

/// Runs `logist` with `HOME` set to an empty directory.
fn run_in_fresh_home(home: &Path, args: &[&str]) -> std::process::Output {
    let guard = NoSurvivors::new();
    let mut command = crate::logist(&guard, args);
    command.env("HOME", home);
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_prompt_too_large_for_an_argument_fails_to_start_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(dir.path(), "claude", "exit 0");
    let prompt = dir.path().join("prompt.txt");
    fs::write(&prompt, "x".repeat(200 * 1024)).unwrap();
    // On a terminal the prompt cannot go on stdin: it would be an argument.
    let out = run_in_fresh_home(
        dir.path(),
        &[
            "run",
            "--agent",
            "claude-code",
            "--program",
            &program,
            "--pty",
            "--prompt-file",
            prompt.to_str().unwrap(),
        ],
    );
    let stderr = text(&out.stderr);
    // 125: the command could not be started; the reason says why.
    assert_eq!(code(&out), 125, "{stderr}");
    assert!(stderr.contains("204800 bytes"), "{stderr}");
    assert!(stderr.contains("131071 bytes"), "{stderr}");
    assert!(!stderr.contains("failed to spawn"), "{stderr}");
}

#[test]
fn a_large_prompt_reaches_a_program_that_reads_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(dir.path(), "claude", "wc -c");
    let prompt = dir.path().join("prompt.txt");
    fs::write(&prompt, "x".repeat(200 * 1024)).unwrap();
    let out = run_in_fresh_home(
        dir.path(),
        &[
            "run",
            "--agent",
            "claude-code",
            "--program",
            &program,
            "--prompt-file",
            prompt.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "204800");
}

#[test]
fn aider_gets_a_large_prompt_in_a_private_file_removed_after_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(
        dir.path(),
        "aider",
        r#"for arg; do case $arg in --message-file=*) f=${arg#--message-file=}; echo "$f"; wc -c < "$f";; esac; done"#,
    );
    let prompt = dir.path().join("prompt.txt");
    fs::write(&prompt, format!("-rf {}", "x".repeat(200 * 1024))).unwrap();
    let out = run_in_fresh_home(
        dir.path(),
        &[
            "run",
            "--agent",
            "aider",
            "--program",
            &program,
            "--prompt-file",
            prompt.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    let file = lines.next().expect("the prompt file's path");
    assert_eq!(lines.next().map(str::trim), Some("204804"), "{stdout}");
    assert!(!Path::new(file).exists(), "{file} left behind");
}

#[test]
fn gemini_with_a_base_url_selects_the_api_key_login_without_writing_the_home() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs::create_dir(&home).unwrap();
    let program = script(
        dir.path(),
        "gemini",
        r#"echo "$GEMINI_CLI_HOME"; cat "$GEMINI_CLI_HOME/.gemini/settings.json""#,
    );
    let out = run_in_fresh_home(
        &home,
        &[
            "run",
            "--agent",
            "gemini",
            "--program",
            &program,
            "--base-url",
            "http://127.0.0.1:9",
            "Say hello",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(r#""selectedType": "gemini-api-key""#),
        "{stdout}"
    );
    let gemini_home = stdout.lines().next().unwrap();
    assert!(!gemini_home.starts_with(home.to_str().unwrap()), "{stdout}");
    assert!(
        !Path::new(gemini_home).exists(),
        "{gemini_home} left behind"
    );
    assert_eq!(
        fs::read_dir(&home).unwrap().count(),
        0,
        "the home was written"
    );
}

#[test]
fn gemini_keeps_the_persons_own_settings_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs::create_dir_all(home.join(".gemini")).unwrap();
    let own =
        r#"{"ui": {"theme": "mine"}, "security": {"auth": {"selectedType": "oauth-personal"}}}"#;
    fs::write(home.join(".gemini/settings.json"), own).unwrap();
    fs::write(home.join(".gemini/GEMINI.md"), "my memory").unwrap();
    let program = script(
        dir.path(),
        "gemini",
        r#"cat "$GEMINI_CLI_HOME/.gemini/settings.json" "$GEMINI_CLI_HOME/.gemini/GEMINI.md""#,
    );
    let out = run_in_fresh_home(
        &home,
        &[
            "run",
            "--agent",
            "gemini",
            "--program",
            &program,
            "--base-url",
            "http://127.0.0.1:9",
            "Say hello",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(r#""theme": "mine""#), "{stdout}");
    assert!(stdout.contains("gemini-api-key"), "{stdout}");
    assert!(stdout.contains("my memory"), "{stdout}");
    assert_eq!(
        fs::read_to_string(home.join(".gemini/settings.json")).unwrap(),
        own
    );
}

#[test]
fn claude_code_full_auto_says_it_is_sandboxed() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(dir.path(), "claude", r#"echo "IS_SANDBOX=$IS_SANDBOX""#);
    let out = run_in_fresh_home(
        dir.path(),
        &[
            "run",
            "--agent",
            "claude-code",
            "--program",
            &program,
            "--approval",
            "full-auto",
            "--env",
            "IS_SANDBOX=",
            "Say hello",
        ],
    );
    // `--env` wins over the adapter.
    assert_eq!(text(&out.stdout).trim(), "IS_SANDBOX=");
    let out = run_in_fresh_home(
        dir.path(),
        &[
            "run",
            "--agent",
            "claude-code",
            "--program",
            &program,
            "--approval",
            "full-auto",
            "Say hello",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "IS_SANDBOX=1");
}
