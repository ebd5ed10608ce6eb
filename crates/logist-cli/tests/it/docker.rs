//! `logist --runtime docker`: the same supervision in a container, with the
//! mock agent built static and mounted into an image without a C library.
//! Needs the engine and test images that `cargo xtask docker` prepares (a
//! step of `cargo xtask ci`); without them these tests fail, they do not
//! skip.

use std::path::PathBuf;

use logist_testing::NoSurvivors;
use serde_json::Value;

use crate::{code, output, text};

/// The static mock agent `cargo xtask docker` builds.
fn static_mock() -> String {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/docker/logist-mock-agent");
    assert!(
        path.exists(),
        "no {}: run `cargo xtask docker`",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

/// Containers still present with the label of the runtime that ran `id`.
fn containers_of(id: &str) -> Vec<String> {
    // Ids are `docker-<runtime tag>-<n>`.
    let tag = id
        .strip_prefix("docker-")
        .and_then(|rest| rest.rsplit_once('-'))
        .map(|(tag, _)| tag)
        .unwrap();
    #[expect(
        clippy::disallowed_methods,
        reason = "asks the engine, as a person would"
    )]
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=logist.runtime={tag}"),
        ])
        .output()
        .expect("the docker CLI");
    text(&out.stdout).lines().map(str::to_owned).collect()
}

fn json(stdout: &[u8]) -> Vec<Value> {
    text(stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn the_mock_agent_runs_in_an_image_without_a_c_library() {
    let guard = NoSurvivors::new();
    let mock = static_mock();
    let out = output(
        &guard,
        &[
            "run",
            "--runtime",
            "docker",
            "--image",
            "logist-test-empty:1",
            "--agent",
            "mock",
            "--program",
            &mock,
            "--json",
            "--",
            "-rf $(id)",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let events = json(&out.stdout);
    let output: String = events
        .iter()
        .filter(|e| e["event"] == "output" && e["stream"] == "stdout")
        .map(|e| e["data"].as_str().unwrap())
        .collect();
    assert!(output.contains("Reading prompt: -rf $(id)"), "{output}");
    let id = events[0]["id"].as_str().unwrap();
    assert!(containers_of(id).is_empty(), "containers left behind");
}

#[test]
fn outcomes_and_exit_codes_are_the_same_in_a_container() {
    let guard = NoSurvivors::new();
    let mock = static_mock();
    let docker = [
        "--runtime",
        "docker",
        "--image",
        "logist-test-busybox:1",
        "--json",
    ];
    for (args, expected) in [
        (
            vec![
                "run",
                "--agent",
                "mock",
                "--program",
                &mock,
                "--scenario",
                "interactive",
                "--pty",
                "x",
            ],
            122,
        ),
        (
            vec![
                "run",
                "--agent",
                "mock",
                "--program",
                &mock,
                "--scenario",
                "interactive",
                "--on-input",
                "answer=y",
                "x",
            ],
            0,
        ),
        (
            vec![
                "run",
                "--agent",
                "mock",
                "--program",
                &mock,
                "--scenario",
                "hang",
                "--idle-timeout",
                "500ms",
                "--grace",
                "500ms",
                "x",
            ],
            123,
        ),
        (
            vec![
                "run",
                "--agent",
                "mock",
                "--program",
                &mock,
                "--scenario",
                "auth_error",
                "x",
            ],
            1,
        ),
        (
            vec!["exec", "--", "sh", "-c", "echo in a container; exit 3"],
            3,
        ),
        (
            vec![
                "exec",
                "--timeout",
                "500ms",
                "--grace",
                "500ms",
                "--",
                "sleep",
                "300",
            ],
            124,
        ),
    ] {
        let mut all: Vec<&str> = args.clone();
        let at = all
            .iter()
            .position(|a| *a == "--" || *a == "x")
            .unwrap_or(all.len());
        all.splice(at..at, docker);
        let out = output(&guard, &all);
        assert_eq!(
            code(&out),
            expected,
            "logist {all:?}: {}",
            text(&out.stderr)
        );
        let events = json(&out.stdout);
        let id = events[0]["id"].as_str().unwrap();
        assert!(
            containers_of(id).is_empty(),
            "logist {all:?} left containers behind"
        );
    }
}

#[test]
fn docker_needs_an_image_and_the_mock_needs_a_static_program() {
    let guard = NoSurvivors::new();
    let out = output(&guard, &["exec", "--runtime", "docker", "--", "true"]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("needs --image"),
        "{}",
        text(&out.stderr)
    );
    let out = output(
        &guard,
        &[
            "run",
            "--runtime",
            "docker",
            "--image",
            "logist-test-empty:1",
            "--agent",
            "mock",
            "x",
        ],
    );
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("cargo xtask docker"),
        "{}",
        text(&out.stderr)
    );
    let out = output(
        &guard,
        &["exec", "--image", "logist-test-empty:1", "--", "true"],
    );
    assert_eq!(code(&out), 2);
}

/// The ACP client drives an agent in a container exactly as on the host:
/// JSON-RPC over the container's stdin and stdout (the mock agent's ACP
/// mode), a reply, and a write allowed by policy landing in the mounted
/// working directory.
#[test]
fn acp_runs_in_a_container() {
    let guard = NoSurvivors::new();
    let mock = static_mock();
    let docker = [
        "--runtime",
        "docker",
        "--image",
        "logist-test-busybox:1",
        "--agent",
        "mock",
        "--program",
        mock.as_str(),
        "--acp",
    ];
    let mut args = vec!["run"];
    args.extend_from_slice(&docker);
    args.push("hello");
    let out = output(&guard, &args);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("{}hello\n", logist_mock::ACP_REPLY_PREFIX)
    );

    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().to_str().unwrap();
    let mut args = vec!["run"];
    args.extend_from_slice(&docker);
    args.extend_from_slice(&["--cwd", cwd, "--on-permission", "allow", "write a.txt yes"]);
    let out = output(&guard, &args);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "yes"
    );
}
