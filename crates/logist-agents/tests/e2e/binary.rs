//! The same programs through the `logist` binary (`LOGIST_E2E_LOGIST`, built
//! by `cargo xtask e2e`), as a person or an orchestrator runs it:
//!
//! - `--json`: the normalized events of a file-writing run (session,
//!   tool call and result, the answer, usage), each with a time;
//! - the readable default: the reply and no raw JSON line;
//! - `--resume`: the session of the first run continues (the fake model
//!   receives its prompt again);
//! - Cline, which prints `--json` only with its prompt in argv (so on a
//!   terminal, `--pty`, where the prompt is not piped): its events and its
//!   readable view of a file-writing run.
//!
//! The program's home is prepared through the library (settings files)
//! and given to `logist` as `HOME`, which the program inherits.

use serde_json::Value;

use super::*;

fn logist_path() -> String {
    std::env::var("LOGIST_E2E_LOGIST").unwrap_or_else(|_| {
        panic!("LOGIST_E2E_LOGIST is not set: run the end-to-end tests with `cargo xtask e2e`")
    })
}

/// One `logist run` of `program` against `server`.
struct Invocation<'a> {
    program: Program,
    server: &'a FakeModel,
    work: &'a Path,
    home: &'a Path,
    approval: Approval,
    flags: &'a [&'a str],
    prompt: &'a str,
}

impl Invocation<'_> {
    /// Runs it; returns stdout and stderr, failing on a non-zero exit.
    fn run(&self) -> (String, String) {
        let adapter = (self.program.build)(
            self.server.url(),
            AgentConfig::new().home(self.home).approval(self.approval),
        );
        adapter.prepare_home().expect("home is prepared");
        let config = adapter.config();
        let approval = match self.approval {
            Approval::Ask => "ask",
            Approval::AutoEdit => "auto-edit",
            Approval::FullAuto => "full-auto",
        };
        let mut argv: Vec<String> = [
            logist_path().as_str(),
            "run",
            "--agent",
            adapter.name(),
            "--program",
            &program_path(self.program),
            "--approval",
            approval,
            "--cwd",
            &self.work.to_string_lossy(),
            "--timeout",
            "120",
        ]
        .map(str::to_owned)
        .into();
        if let Some(url) = &config.base_url {
            argv.extend(["--base-url".into(), url.clone()]);
        }
        if let Some(model) = &config.model {
            argv.extend(["--model".into(), model.clone()]);
        }
        for arg in &config.extra_args {
            argv.push(format!("--agent-arg={arg}"));
        }
        argv.extend(self.flags.iter().map(|flag| (*flag).to_owned()));
        argv.extend(["--".into(), self.prompt.to_owned()]);
        let env: BTreeMap<String, String> = Environment::clean()
            .pass("PATH")
            .set("HOME", self.home.to_string_lossy())
            .set("TERM", "dumb")
            .set("LANG", "C.UTF-8")
            .pass("ANTHROPIC_API_KEY")
            .pass("OPENAI_API_KEY")
            .pass("GEMINI_API_KEY")
            .pass("COPILOT_PROVIDER_API_KEY")
            .resolve_with([], caller_env);
        let (status, stdout, stderr) = run_agent(&argv, &env, self.work, TIMEOUT);
        assert!(
            status.success(),
            "{} through logist: {status:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            adapter.name(),
            tail(&stdout),
            tail(&stderr)
        );
        (stdout, stderr)
    }
}

fn check_binary(program: Program) {
    let dir = tempfile::tempdir().unwrap();
    let (work, home) = (dir.path().join("work"), dir.path().join("home"));
    fs::create_dir_all(&work).unwrap();
    // A person who has run Gemini CLI before has its session store; `logist`
    // links it into the per-run home, so a session outlives the run. On a
    // first run ever it does not, and `--resume` finds nothing (a known
    // defect of the per-run home, in the closing note).
    fs::create_dir_all(home.join(".gemini").join("tmp")).unwrap();
    let target = work.join("hello.txt");
    let content = "written through logist";

    // `--json`: the normalized events of a file-writing run.
    let server = FakeModel::start_with(Script::WriteFile {
        path: target.clone(),
        content: content.to_owned(),
    })
    .expect("fake model server starts");
    let first = "Create hello.txt";
    let (stdout, stderr) = Invocation {
        program,
        server: &server,
        work: &work,
        home: &home,
        approval: program.writes_with,
        flags: &["--json"],
        prompt: first,
    }
    .run();
    let context = output_context(&stdout, &stderr);
    let events = json_events(&stdout, &context);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for kind in [
        "spawned",
        "session",
        "tool_call",
        "tool_result",
        "message",
        "turn_end",
        "exited",
        "outcome",
    ] {
        assert!(
            kinds.contains(&kind),
            "no {kind} event: {kinds:?}\n{context}"
        );
    }
    assert!(
        !kinds.contains(&"raw"),
        "unparsed lines: {kinds:?}\n{context}"
    );
    assert!(events.iter().all(|e| e["time"].is_string()), "{context}");
    let answered = events
        .iter()
        .filter(|e| e["event"] == "message" && e["role"] == "assistant")
        .any(|e| e["text"].as_str().unwrap().contains(ANSWER_PREFIX));
    assert!(answered, "{context}");
    let session = events
        .iter()
        .find(|e| e["event"] == "session")
        .and_then(|e| e["id"].as_str())
        .unwrap()
        .to_owned();
    if program.var != "COPILOT" {
        let sent = server.usage_sent();
        let usage: Vec<&Value> = events.iter().filter(|e| e["event"] == "usage").collect();
        assert!(!usage.is_empty(), "{context}");
        let input: u64 = usage
            .iter()
            .map(|u| u["input_tokens"].as_u64().unwrap())
            .sum();
        assert!(
            sent.iter().any(|s| s.input_tokens == input)
                || sent.iter().map(|s| s.input_tokens).sum::<u64>() == input
                || program.var == "OPENCODE",
            "usage {input} is not what the model sent: {sent:?}\n{context}"
        );
    }
    assert_eq!(
        fs::read_to_string(&target).unwrap_or_default().trim_end(),
        content,
        "{context}"
    );

    // The readable default, continuing that session.
    let server = FakeModel::start_with(Script::Answer).expect("fake model server starts");
    let second = "And now say hello";
    let (stdout, stderr) = Invocation {
        program,
        server: &server,
        work: &work,
        home: &home,
        approval: Approval::Ask,
        flags: &["--resume", &session],
        prompt: second,
    }
    .run();
    let context = output_context(&stdout, &stderr);
    assert!(stdout.contains(ANSWER_PREFIX), "{context}");
    assert!(
        !stdout
            .lines()
            .any(|line| line.trim_start().starts_with('{')),
        "a raw JSON line in the readable view\n{context}"
    );
    assert!(stderr.contains(&format!("session {session}")), "{context}");
    let requests = server.requests();
    assert!(
        requests.iter().any(|r| r.contains_string(first)),
        "the resumed run did not carry the first prompt\n{context}"
    );
}

#[test]
fn claude_code_through_logist() {
    check_binary(CLAUDE);
}

#[test]
fn codex_through_logist() {
    check_binary(CODEX);
}

#[test]
fn gemini_through_logist() {
    check_binary(GEMINI);
}

#[test]
fn qwen_through_logist() {
    check_binary(QWEN);
}

#[test]
fn copilot_through_logist() {
    check_binary(COPILOT);
}

#[test]
fn opencode_through_logist() {
    check_binary(OPENCODE);
}

/// Cline 3.0.65 prints `--json` only for a prompt argument, which `logist
/// run` passes when stdin is not free for the prompt: on a terminal
/// (`--pty`; under `--on-input wait` its stdin is a pipe that stays open,
/// and 3.0.65 reads a piped stdin to its end before it starts, so it never
/// does). The normalized events of a file-writing run (no raw line, the session,
/// the `editor` call on `hello.txt` and its result, the answer, usage per
/// model call as the fake model sent it, a normal end), then the readable
/// view of the same run (the answer and one line for the call).
#[test]
fn cline_events_through_logist() {
    let dir = tempfile::tempdir().unwrap();
    let (work, home) = (dir.path().join("work"), dir.path().join("home"));
    fs::create_dir_all(&work).unwrap();
    let target = work.join("hello.txt");
    let content = "written through logist";
    let script = Script::WriteFile {
        path: target.clone(),
        content: content.to_owned(),
    };
    let prompt = "Create hello.txt";

    let server = FakeModel::start_with(script.clone()).expect("fake model server starts");
    let (stdout, stderr) = Invocation {
        program: CLINE,
        server: &server,
        work: &work,
        home: &home,
        approval: Approval::FullAuto,
        flags: &["--pty", "--json"],
        prompt,
    }
    .run();
    let context = output_context(&stdout, &stderr);
    let events = json_events(&stdout, &context);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    // On the terminal Cline's stderr (the AI SDK's warnings) comes too, as
    // text; every JSON line is recognised.
    let unrecognised: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "raw" && e["reason"] != "unparsed")
        .collect();
    assert!(unrecognised.is_empty(), "{unrecognised:?}\n{context}");
    assert_eq!(
        kinds.iter().filter(|kind| **kind == "session").count(),
        1,
        "{context}"
    );
    let call = events
        .iter()
        .find(|e| e["event"] == "tool_call")
        .unwrap_or_else(|| panic!("no tool call\n{context}"));
    assert_eq!(call["name"], "editor", "{context}");
    assert!(
        call["input"]["path"]
            .as_str()
            .is_some_and(|path| path.ends_with("hello.txt")),
        "{call}\n{context}"
    );
    assert!(
        events.iter().any(|e| e["event"] == "tool_result"
            && e["id"] == call["id"]
            && e["status"] == "completed"),
        "no completed result for the call\n{context}"
    );
    assert!(
        events.iter().any(|e| e["event"] == "message"
            && e["role"] == "assistant"
            && e["text"].as_str().unwrap().contains(ANSWER_PREFIX)),
        "no answer\n{context}"
    );
    let reported: Vec<(u64, u64)> = events
        .iter()
        .filter(|e| e["event"] == "usage")
        .map(|u| {
            (
                u["input_tokens"].as_u64().unwrap(),
                u["output_tokens"].as_u64().unwrap(),
            )
        })
        .collect();
    let sent: Vec<(u64, u64)> = server
        .usage_sent()
        .iter()
        .map(|s| (s.input_tokens, s.output_tokens))
        .collect();
    assert_eq!(reported, sent, "usage per model call\n{context}");
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "turn_end" && e["reason"] == "end_turn"),
        "{context}"
    );
    assert_eq!(
        fs::read_to_string(&target).unwrap_or_default().trim_end(),
        content,
        "{context}"
    );

    // The readable view of the same run.
    fs::remove_file(&target).unwrap();
    let server = FakeModel::start_with(script).expect("fake model server starts");
    let (stdout, stderr) = Invocation {
        program: CLINE,
        server: &server,
        work: &work,
        home: &home,
        approval: Approval::FullAuto,
        flags: &["--pty"],
        prompt,
    }
    .run();
    let context = output_context(&stdout, &stderr);
    assert!(
        stdout.contains(&format!("{ANSWER_PREFIX} {prompt}")),
        "{context}"
    );
    assert_eq!(
        stdout.matches(ANSWER_PREFIX).count(),
        1,
        "the answer once (its pieces, not its whole form again)\n{context}"
    );
    assert!(
        stdout
            .lines()
            .any(|line| line.starts_with("● editor ") && line.contains("hello.txt → done")),
        "no line for the tool call\n{context}"
    );
    assert!(
        !stdout
            .lines()
            .any(|line| line.trim_start().starts_with('{')),
        "a raw JSON line in the readable view\n{context}"
    );
    assert!(stderr.contains("session conv_"), "{context}");
}

/// The tails of a run's output, for assertion messages.
fn output_context(stdout: &str, stderr: &str) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        tail(stdout),
        tail(stderr)
    )
}

/// Every line of `--json` output as an event; a line that is not JSON
/// fails the test, with `context`.
fn json_events(stdout: &str, context: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}\n{context}")))
        .collect()
}
