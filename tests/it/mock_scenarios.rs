//! Every scenario of the mock agent program, run by `MockAgent` through the
//! real `HostRuntime`: exit status and output (snapshots where the text
//! matters, volatile parts redacted), and no process left behind.

use std::time::{Duration, Instant};

use logist_core::{
    Agent, Environment, ExitStatus, ProcessId, Runtime, SpawnRequest, StdinMode, Stream,
};
use logist_mock::{
    APPLIED, BINARY_OUTPUT, CANCELLED, FloodStream, INTERACTIVE_PROMPT, MockAgent, STUBBORN_READY,
    Scenario, flood_checksum, parse_tree_pids,
};
use logist_runtime_host::HostRuntime;
use logist_testing::{NoSurvivors, mock_agent};

const LONG: Duration = Duration::from_secs(60);

/// One scenario run: a runtime, the guard that checks nothing survives, and
/// the process.
struct Run {
    runtime: HostRuntime,
    id: ProcessId,
    _guard: NoSurvivors,
}

fn agent(scenario: &str) -> MockAgent {
    mock_agent(scenario.parse::<Scenario>().expect("a known scenario"))
        .expect("the mock agent program")
}

fn start_with(agent: &MockAgent, prompt: &str, stdin: StdinMode, env: Environment) -> Run {
    let guard = NoSurvivors::new();
    let runtime = HostRuntime::builder()
        .grace(Duration::from_millis(300))
        .build()
        .unwrap();
    let request = SpawnRequest::new(agent.cmd(prompt).unwrap())
        .env(guard.tag_env(env.merge(&agent.env())))
        .stdin(stdin);
    let id = runtime.spawn(&request).unwrap();
    Run {
        runtime,
        id,
        _guard: guard,
    }
}

fn start(scenario: &str, prompt: &str) -> Run {
    start_with(
        &agent(scenario),
        prompt,
        StdinMode::Null,
        Environment::inherit(),
    )
}

impl Run {
    fn wait(&self) -> ExitStatus {
        self.runtime.wait(&self.id, Some(LONG)).unwrap().status
    }

    fn stream(&self, stream: Stream) -> String {
        self.runtime
            .get_stream_logs(&self.id, stream, None)
            .unwrap()
            .text()
            .into_owned()
    }

    /// Both streams, labelled, for a snapshot.
    fn transcript(&self) -> String {
        format!(
            "--- stdout\n{}--- stderr\n{}",
            self.stream(Stream::Stdout),
            self.stream(Stream::Stderr)
        )
    }

    fn read_until(&self, done: impl Fn(&[u8]) -> bool) {
        let deadline = Instant::now() + LONG;
        while !done(self.runtime.get_logs(&self.id, None).unwrap().bytes()) {
            assert!(Instant::now() < deadline, "timed out");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

#[test]
fn success() {
    let run = start("success", "Add a test for parse_args");
    assert_eq!(run.wait(), ExitStatus::Code(0));
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn failures_print_what_real_agents_print() {
    for (scenario, code) in [("api_error", 1), ("context_full", 1), ("auth_error", 1)] {
        let run = start(scenario, "Refactor the parser");
        assert_eq!(run.wait(), ExitStatus::Code(code), "{scenario}");
        insta::assert_snapshot!(scenario, run.transcript());
    }
}

#[test]
fn hang_prints_then_stays_silent_until_terminated() {
    let run = start("hang", "Think forever");
    run.read_until(|out| out.ends_with(b"\n") && out.iter().filter(|&&b| b == b'\n').count() >= 2);
    std::thread::sleep(Duration::from_millis(100));
    let before = run.runtime.get_logs(&run.id, None).unwrap();
    assert!(run.runtime.is_alive(&run.id).unwrap());
    assert!(run.runtime.terminate(&run.id, false).unwrap());
    assert_eq!(run.wait(), ExitStatus::Signal(15));
    assert_eq!(
        run.runtime.get_logs(&run.id, None).unwrap(),
        before,
        "silent until the end"
    );
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn interactive_yes_no_and_end_of_file() {
    for (answer, code, ending) in [
        (Some("y\n"), 0, APPLIED),
        (Some("n\n"), 1, CANCELLED),
        (None, 1, CANCELLED),
    ] {
        let run = start_with(
            &agent("interactive"),
            "Apply the fix",
            StdinMode::Piped,
            Environment::inherit(),
        );
        run.read_until(|out| out.ends_with(INTERACTIVE_PROMPT.as_bytes()));
        if let Some(answer) = answer {
            run.runtime.write_stdin(&run.id, answer.as_bytes()).unwrap();
        }
        run.runtime.close_stdin(&run.id).unwrap();
        assert_eq!(run.wait(), ExitStatus::Code(code), "answer {answer:?}");
        assert!(
            run.stream(Stream::Stdout).ends_with(ending),
            "answer {answer:?}"
        );
    }
    let run = start_with(
        &agent("interactive"),
        "Apply the fix",
        StdinMode::Piped,
        Environment::inherit(),
    );
    run.read_until(|out| out.ends_with(INTERACTIVE_PROMPT.as_bytes()));
    run.runtime.write_stdin(&run.id, b"y\n").unwrap();
    run.wait();
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn drip_writes_the_question_byte_by_byte() {
    let run = start_with(
        &agent("drip"),
        "Apply the fix",
        StdinMode::Piped,
        Environment::inherit(),
    );
    let mut next = 0;
    let mut reads = 0;
    let mut seen = Vec::new();
    while !seen.ends_with(INTERACTIVE_PROMPT.as_bytes()) {
        let read = run.runtime.read_output(&run.id, next, Some(LONG)).unwrap();
        for chunk in &read.chunks {
            seen.extend_from_slice(&chunk.data);
        }
        reads += 1;
        next = read.next;
    }
    assert!(reads > 5, "the question arrived in {reads} reads");
    run.runtime.write_stdin(&run.id, b"yes\n").unwrap();
    assert_eq!(run.wait(), ExitStatus::Code(0));
}

#[test]
fn flood_on_both_streams_is_exact() {
    let bytes = 3 * 1024 * 1024;
    let agent = agent("flood").bytes(bytes).stream(FloodStream::Both);
    let run = start_with(
        &agent,
        "Print a lot",
        StdinMode::Null,
        Environment::inherit(),
    );
    assert_eq!(run.wait(), ExitStatus::Code(0));
    for stream in [Stream::Stdout, Stream::Stderr] {
        let logs = run.runtime.get_stream_logs(&run.id, stream, None).unwrap();
        let mut checksum = logist_mock::Checksum::new();
        checksum.update(logs.bytes());
        assert_eq!(
            (checksum.len(), checksum.value()),
            (bytes, flood_checksum(bytes)),
            "{stream}"
        );
    }
}

#[test]
fn stubborn_ignores_sigterm_until_killed() {
    let run = start("stubborn", "Do not stop");
    run.read_until(|out| out.ends_with(STUBBORN_READY.as_bytes()));
    let started = Instant::now();
    assert!(run.runtime.terminate(&run.id, false).unwrap());
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "the grace period was waited"
    );
    assert_eq!(run.wait(), ExitStatus::Signal(9));
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn tree_grandchildren_die_with_it() {
    let run = start("tree", "Spawn helpers");
    run.read_until(|out| parse_tree_pids(out).len() == 2);
    let pids = parse_tree_pids(run.runtime.get_logs(&run.id, None).unwrap().bytes());
    assert!(run.runtime.terminate(&run.id, false).unwrap());
    for pid in pids {
        logist_testing::eventually(&format!("grandchild {pid} is gone"), || {
            !logist_testing::pid_alive(pid)
        });
    }
    insta::with_settings!({ filters => vec![(r"pid=\d+", "pid=[PID]")] }, {
        insta::assert_snapshot!(run.transcript());
    });
}

#[test]
fn crash_dies_by_a_signal() {
    let run = start("crash", "Crash");
    assert_eq!(run.wait(), ExitStatus::Signal(11));
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn binary_bytes_arrive_exactly() {
    let run = start("binary", "Print bytes");
    assert_eq!(run.wait(), ExitStatus::Code(0));
    let stdout = run
        .runtime
        .get_stream_logs(&run.id, Stream::Stdout, None)
        .unwrap();
    assert_eq!(stdout.bytes(), BINARY_OUTPUT);
}

#[test]
fn env_shows_exactly_the_clean_environment() {
    let env = Environment::clean()
        .set("LOGIST_EXAMPLE", "value with spaces")
        .set("NO_COLOR", "0");
    let run = start_with(&agent("env"), "Show env", StdinMode::Null, env);
    assert_eq!(run.wait(), ExitStatus::Code(0));
    // The runtime adds its tree cookie, the guard its tag; the agent sets
    // NO_COLOR=1 over the caller's value.
    insta::with_settings!({ filters => vec![
        (r"LOGIST_TREE_[0-9a-f]+=\d+", "LOGIST_TREE_[TAG]=[N]"),
        (r"LOGIST_TEST_TAG=\S+", "LOGIST_TEST_TAG=[TAG]"),
    ] }, {
        insta::assert_snapshot!(run.transcript());
    });
}

#[test]
fn exit_codes() {
    for code in [0, 2, 77, 255] {
        let run = start(&format!("exit:{code}"), "Exit");
        assert_eq!(run.wait(), ExitStatus::Code(code));
        assert_eq!(run.stream(Stream::Stdout), format!("exiting with {code}\n"));
    }
}

#[test]
fn unknown_scenario_is_a_usage_error() {
    let program = logist_testing::mock_program().unwrap();
    let guard = NoSurvivors::new();
    let runtime = HostRuntime::new().unwrap();
    let command = logist_core::CommandLine::new([
        program.to_string_lossy().as_ref(),
        "--scenario",
        "dance",
        "--",
        "p",
    ])
    .unwrap();
    let id = runtime.spawn(&guard.request(command)).unwrap();
    assert_eq!(
        runtime.wait(&id, Some(LONG)).unwrap().status,
        ExitStatus::Code(2)
    );
    let stderr = runtime
        .get_stream_logs(&id, Stream::Stderr, None)
        .unwrap()
        .text()
        .into_owned();
    assert!(stderr.contains("unknown scenario `dance`"), "{stderr}");
}
