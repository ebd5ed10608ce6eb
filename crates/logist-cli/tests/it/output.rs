//! What `logist` writes: the command's bytes unchanged, `--json` events in
//! order, the log file, and no status line on a pipe.

use logist_mock::{BINARY_OUTPUT, Checksum, flood_checksum};
use logist_testing::{NoSurvivors, mock_program};
use serde_json::Value;

use crate::{alive, code, eventually, output, text};

#[test]
fn a_hundred_mib_pass_through_byte_for_byte() {
    let guard = NoSurvivors::new();
    let bytes: u64 = 100 * 1024 * 1024;
    let out = output(
        &guard,
        &[
            "run",
            "--agent",
            "mock",
            "--scenario",
            "flood",
            "--agent-arg",
            "--bytes",
            "--agent-arg",
            &bytes.to_string(),
            "x",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let mut checksum = Checksum::new();
    checksum.update(&out.stdout);
    assert_eq!(
        (checksum.len(), checksum.value()),
        (bytes, flood_checksum(bytes))
    );
    let summary = text(&out.stderr);
    assert!(
        summary.contains(&format!("{bytes} bytes of output")),
        "{summary}"
    );
}

#[test]
fn both_streams_pass_through_to_their_own_stream() {
    let guard = NoSurvivors::new();
    let bytes: u64 = 3 * 1024 * 1024;
    let out = output(
        &guard,
        &[
            "run",
            "--agent",
            "mock",
            "--scenario",
            "flood",
            "--agent-arg=--stream",
            "--agent-arg=both",
            "--agent-arg=--bytes",
            &format!("--agent-arg={bytes}"),
            "x",
        ],
    );
    assert_eq!(code(&out), 0);
    let mut checksum = Checksum::new();
    checksum.update(&out.stdout);
    assert_eq!(
        (checksum.len(), checksum.value()),
        (bytes, flood_checksum(bytes))
    );
    // stderr holds the flood and then logist's summary line.
    let mut checksum = Checksum::new();
    checksum.update(&out.stderr[..bytes as usize]);
    assert_eq!(checksum.value(), flood_checksum(bytes));
}

#[test]
fn bytes_that_are_not_utf8_pass_through_unchanged() {
    let guard = NoSurvivors::new();
    let out = output(
        &guard,
        &["run", "--agent", "mock", "--scenario", "binary", "x"],
    );
    assert_eq!(code(&out), 0);
    assert_eq!(out.stdout, BINARY_OUTPUT);
}

fn parse_events(stdout: &[u8]) -> Vec<Value> {
    text(stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}")))
        .collect()
}

/// The events other than output, in order; output must come after
/// `spawned` and before `exited`, and may come anywhere in between (a
/// command can print after its prompt before the termination lands).
fn names(events: &[Value]) -> Vec<String> {
    let all: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    let spawned = all
        .iter()
        .position(|&e| e == "spawned")
        .expect("a spawned event");
    let exited = all
        .iter()
        .position(|&e| e == "exited")
        .expect("an exited event");
    for (at, event) in all.iter().enumerate() {
        if *event == "output" {
            assert!(
                spawned < at && at < exited,
                "output outside the run: {all:?}"
            );
        }
    }
    all.into_iter()
        .filter(|&e| e != "output")
        .map(str::to_owned)
        .collect()
}

#[test]
fn json_events_in_order_for_a_completed_run() {
    let guard = NoSurvivors::new();
    let out = output(
        &guard,
        &["run", "--agent", "mock", "--json", "--", "-rf $(id)"],
    );
    assert_eq!(code(&out), 0);
    let events = parse_events(&out.stdout);
    assert_eq!(names(&events), ["spawned", "exited", "outcome"]);
    assert!(events.iter().any(|e| e["event"] == "output"));
    let spawned = &events[0];
    assert!(spawned["pid"].as_u64().is_some() && spawned["id"].as_str().is_some());
    let argv: Vec<&str> = spawned["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    // Stdin is free (`--on-input fail`, no terminal): the mock agent reads
    // the prompt there, and prints it back unchanged.
    assert_eq!(argv.last(), Some(&"--prompt-stdin"), "{argv:?}");
    let printed: Vec<u8> = events
        .iter()
        .filter(|e| e["event"] == "output" && e["stream"] == "stdout")
        .flat_map(|e| e["data"].as_str().unwrap().bytes())
        .collect();
    assert!(
        text(&printed).starts_with("Reading prompt: -rf $(id)\n"),
        "{}",
        text(&printed)
    );
    let streams: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "output")
        .map(|e| e["stream"].as_str().unwrap())
        .collect();
    assert!(streams.contains(&"stdout") && streams.contains(&"stderr"));
    assert_eq!(events[events.len() - 2]["code"], 0);
    let outcome = events.last().unwrap();
    assert_eq!(outcome["outcome"], "completed");
    assert_eq!(outcome["exit_code"], 0);
    assert!(outcome["duration_ms"].as_u64().is_some());
    assert!(outcome.get("cause").is_none());
}

#[test]
fn the_prompt_is_one_literal_argument_when_stdin_is_taken() {
    let guard = NoSurvivors::new();
    let out = output(
        &guard,
        &[
            "run",
            "--agent",
            "mock",
            "--on-input",
            "wait",
            "--json",
            "--",
            "-rf $(id)",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let spawned = &parse_events(&out.stdout)[0];
    let argv = spawned["argv"].as_array().unwrap();
    assert_eq!(argv.last().and_then(Value::as_str), Some("-rf $(id)"));
}

#[test]
fn a_prompt_file_larger_than_any_argument_arrives_unchanged() {
    let guard = NoSurvivors::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prompt.txt");
    // Past Linux's 128 KiB limit for one argument.
    let prompt = "-rf \"$(id)\" é\n".repeat(20_000);
    std::fs::write(&path, &prompt).unwrap();
    let out = output(
        &guard,
        &[
            "run",
            "--agent",
            "mock",
            "--prompt-file",
            path.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        out.stdout
            .starts_with(format!("Reading prompt: {prompt}\n").as_bytes()),
        "{} bytes of output",
        out.stdout.len()
    );
}

#[test]
fn a_prompt_file_dash_is_read_from_standard_input() {
    use std::io::Write;
    use std::process::Stdio;

    let guard = NoSurvivors::new();
    let mut child = crate::logist(&guard, &["run", "--agent", "mock", "--prompt-file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"from a pipe: --help\n").unwrap();
    drop(stdin);
    let mut stdout = Vec::new();
    std::io::Read::read_to_end(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(crate::wait(&mut child).success());
    assert!(
        stdout.starts_with(b"Reading prompt: from a pipe: --help\n\n"),
        "{}",
        text(&stdout)
    );
}

#[test]
fn json_events_for_waiting_failed_and_hung_runs() {
    let guard = NoSurvivors::new();
    let out = output(
        &guard,
        &[
            "run",
            "--agent",
            "mock",
            "--scenario",
            "interactive",
            "--pty",
            "--json",
            "x",
        ],
    );
    assert_eq!(code(&out), 122);
    let events = parse_events(&out.stdout);
    assert_eq!(
        names(&events),
        [
            "spawned",
            "waiting_for_input",
            "terminated",
            "exited",
            "outcome"
        ]
    );
    assert_eq!(
        events
            .iter()
            .find(|e| e["event"] == "waiting_for_input")
            .unwrap()["matched"],
        "[y/N]"
    );
    assert_eq!(events.last().unwrap()["outcome"], "waiting_for_input");
    assert_eq!(events.last().unwrap()["exit_code"], 122);

    let out = output(
        &guard,
        &[
            "run",
            "--agent",
            "mock",
            "--scenario",
            "auth_error",
            "--json",
            "x",
        ],
    );
    let outcome = parse_events(&out.stdout).pop().unwrap();
    assert_eq!(
        (outcome["outcome"].as_str(), outcome["cause"].as_str()),
        (Some("failed"), Some("auth_failed"))
    );

    let out = output(
        &guard,
        &[
            "run",
            "--agent",
            "mock",
            "--scenario",
            "hang",
            "--idle-timeout",
            "200ms",
            "--grace",
            "0.2",
            "--json",
            "x",
        ],
    );
    let events = parse_events(&out.stdout);
    assert_eq!(
        names(&events),
        ["spawned", "idle", "terminated", "exited", "outcome"]
    );
    assert_eq!(events.last().unwrap()["outcome"], "hung");
    let exited = events.iter().find(|e| e["event"] == "exited").unwrap();
    assert_eq!(exited["signal"], 15);
}

#[test]
fn json_output_of_non_utf8_bytes_carries_base64() {
    use base64::Engine;
    let guard = NoSurvivors::new();
    let out = output(
        &guard,
        &[
            "run",
            "--agent",
            "mock",
            "--scenario",
            "binary",
            "--json",
            "x",
        ],
    );
    let mut bytes = Vec::new();
    for event in parse_events(&out.stdout)
        .iter()
        .filter(|e| e["event"] == "output")
    {
        match event.get("base64") {
            Some(encoded) => bytes.extend(
                base64::engine::general_purpose::STANDARD
                    .decode(encoded.as_str().unwrap())
                    .unwrap(),
            ),
            None => bytes.extend(event["data"].as_str().unwrap().as_bytes()),
        }
    }
    assert_eq!(bytes, BINARY_OUTPUT);
}

#[test]
fn log_file_gets_every_byte() {
    let guard = NoSurvivors::new();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("run.log");
    let bytes: u64 = 20 * 1024 * 1024;
    let out = output(
        &guard,
        &[
            "run",
            "--agent",
            "mock",
            "--scenario",
            "flood",
            &format!("--agent-arg=--bytes={bytes}"),
            "--log-file",
            log.to_str().unwrap(),
            "x",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let mut checksum = Checksum::new();
    checksum.update(&std::fs::read(&log).unwrap());
    assert_eq!(
        (checksum.len(), checksum.value()),
        (bytes, flood_checksum(bytes))
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no stray files next to the log"
    );
}

#[test]
fn no_status_line_on_a_pipe() {
    let guard = NoSurvivors::new();
    let out = output(&guard, &["exec", "--", "sh", "-c", "sleep 2.5; echo done"]);
    assert_eq!(code(&out), 0);
    assert_eq!(text(&out.stdout), "done\n");
    assert!(
        !text(&out.stderr).contains("[logist]"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn descendants_left_running_are_stopped_and_reported() {
    let guard = NoSurvivors::new();
    let out = output(
        &guard,
        &["exec", "--", "sh", "-c", "sleep 300 & echo pid=$!"],
    );
    assert_eq!(code(&out), 0);
    let pid: u32 = text(&out.stdout)
        .trim()
        .strip_prefix("pid=")
        .unwrap()
        .parse()
        .unwrap();
    eventually("the background job is gone", || !alive(pid));
    assert!(
        text(&out.stderr).contains("stopped processes the command left running"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn environment_and_working_directory_options() {
    let guard = NoSurvivors::new();
    let out = output(
        &guard,
        &["exec", "--clean-env", "--env", "ONLY=this", "--", "env"],
    );
    let env = text(&out.stdout);
    assert!(env.lines().any(|l| l == "ONLY=this"), "{env}");
    assert!(
        env.lines().any(|l| l.starts_with("PATH=")),
        "PATH is kept: {env}"
    );
    assert!(
        !env.lines().any(|l| l.starts_with("CARGO")),
        "nothing else of ours: {env}"
    );
    let out = output(&guard, &["exec", "--cwd", "/", "--", "pwd"]);
    assert_eq!(text(&out.stdout), "/\n");
    // --env wins over the agent's own settings (the mock sets NO_COLOR=1).
    let out = output(
        &guard,
        &[
            "run",
            "--agent",
            "mock",
            "--scenario",
            "env",
            "--env",
            "NO_COLOR=0",
            "x",
        ],
    );
    assert!(text(&out.stdout).lines().any(|l| l == "NO_COLOR=0"));
    let _ = mock_program;
}

#[test]
fn every_json_event_carries_its_time_in_utc() {
    let guard = NoSurvivors::new();
    let out = output(&guard, &["run", "--agent", "mock", "--json", "x"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let events = parse_events(&out.stdout);
    let times: Vec<&str> = events
        .iter()
        .map(|event| event["time"].as_str().expect("a time on every event"))
        .collect();
    for time in &times {
        // 2026-12-07T16:20:01.123Z
        assert_eq!(time.len(), 24, "{time}");
        assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{time}");
    }
    assert!(times.is_sorted(), "{times:?}");
}

#[test]
fn diagnostics_have_no_colours_off_a_terminal() {
    let guard = NoSurvivors::new();
    let out = output(&guard, &["-vv", "exec", "--", "true"]);
    assert_eq!(code(&out), 0);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("started"), "{stderr}");
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
}

#[test]
fn the_answer_limit_is_said_when_it_is_hit() {
    let guard = NoSurvivors::new();
    let out = output(
        &guard,
        &[
            "exec",
            "--stop",
            "[y/N]",
            "--on-input",
            "answer=n",
            "--",
            "sh",
            "-c",
            "while :; do printf 'Sure? [y/N] '; read a || exit 9; done",
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(code(&out), 122, "{stderr}");
    assert_eq!(stderr.matches("answered \"n\\n\"").count(), 3, "{stderr}");
    assert!(stderr.contains("answered 3 times already"), "{stderr}");
}

#[test]
fn an_idle_timeout_with_no_output_at_all_hints_at_buffering() {
    let guard = NoSurvivors::new();
    let out = output(
        &guard,
        &["exec", "--idle-timeout", "200ms", "--", "sleep", "30"],
    );
    let stderr = text(&out.stderr);
    assert_eq!(code(&out), 123, "{stderr}");
    assert!(
        stderr.contains("buffer") && stderr.contains("--pty"),
        "{stderr}"
    );
    // Output, then silence: no hint.
    let out = output(
        &guard,
        &[
            "exec",
            "--idle-timeout",
            "200ms",
            "--",
            "sh",
            "-c",
            "echo hi; exec sleep 30",
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(code(&out), 123, "{stderr}");
    assert!(!stderr.contains("--pty"), "{stderr}");
}

#[test]
fn the_mock_agent_says_it_is_the_mock() {
    // Its stderr line must not look like a diagnostic of the user's build.
    let guard = NoSurvivors::new();
    let out = output(&guard, &["run", "--agent", "mock", "x"]);
    assert_eq!(code(&out), 0);
    let stderr = text(&out.stderr);
    let line = stderr.lines().next().unwrap();
    assert!(line.starts_with("mock-agent: "), "{line}");
    assert!(!stderr.contains(".rs:"), "{stderr}");
}
