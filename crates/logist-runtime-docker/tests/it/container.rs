//! What is particular to containers: what holds instead of the two
//! process checks a container cannot pass, labels, mounts, network, user
//! and limits, the out-of-memory killer, terminals, the image's
//! environment, and the errors of a runtime that cannot be built.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use logist_conformance::{Fixture, LONG};
use logist_core::{
    CommandLine, Completion, Environment, Error, ExitStatus, ProcessId, Runtime, SpawnRequest,
    StdinMode, Stream, TerminalSize,
};
use logist_runtime_docker::{DockerHost, DockerRuntime, PROCESS_LABEL, RUNTIME_LABEL};

use crate::fixture::{DockerFixture, EMPTY_IMAGE, IMAGE_VAR, TEST_LABEL, docker};

pub(crate) fn sh(script: &str) -> SpawnRequest {
    SpawnRequest::new(CommandLine::new(["sh", "-c", script]).unwrap())
}

#[track_caller]
pub(crate) fn wait(runtime: &dyn Runtime, id: &ProcessId) -> Completion {
    runtime.wait(id, Some(LONG)).expect("wait")
}

/// Reads output until `done` holds for all of it; returns it.
#[track_caller]
pub(crate) fn read_until(
    runtime: &dyn Runtime,
    id: &ProcessId,
    done: impl Fn(&[u8]) -> bool,
) -> Vec<u8> {
    let deadline = Instant::now() + LONG;
    let (mut seen, mut next) = (Vec::new(), 0);
    while !done(&seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "timed out: {:?}",
            String::from_utf8_lossy(&seen)
        );
        let read = runtime.read_output(id, next, Some(left)).unwrap();
        assert!(
            !read.finished || !read.chunks.is_empty(),
            "output ended: {:?}",
            String::from_utf8_lossy(&seen)
        );
        for chunk in read.chunks {
            seen.extend(chunk.data);
        }
        next = read.next;
    }
    seen
}

fn pid_in(output: &[u8]) -> u32 {
    let text = String::from_utf8_lossy(output);
    text.split_whitespace()
        .find_map(|word| word.strip_prefix("pid=")?.parse().ok())
        .unwrap_or_else(|| panic!("no pid= in {text:?}"))
}

/// True when the host process is gone (or a zombie).
fn host_process_gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status")).map_or(true, |status| {
        status
            .lines()
            .any(|line| line.starts_with("State:") && line.contains('Z'))
    })
}

/// Drops the runtime, then checks that it left no container behind.
#[track_caller]
fn assert_clean(fixture: &DockerFixture, runtime: DockerRuntime) {
    drop(runtime);
    assert_eq!(
        fixture.leftovers(),
        Vec::<String>::new(),
        "containers left behind"
    );
}

/// `docker inspect` of the container running `id`.
fn inspect(runtime: &DockerRuntime, id: &ProcessId) -> Value {
    let container = runtime.container_id(id).unwrap();
    let output = docker(&["inspect", &container]);
    assert!(output.status.success());
    serde_json::from_slice::<Value>(&output.stdout).unwrap()[0].clone()
}

/// Replaces `grandchild_holding_the_pipe_does_not_hang_wait`: a background
/// process cannot outlive the main process of a container, so `wait`
/// returns at once and reports no leak.
#[test]
fn descendants_end_with_the_main_process() {
    let fixture = DockerFixture::new();
    let runtime = fixture.docker();
    let id = runtime
        .spawn(&sh("sleep 300 & echo pid=$!; read x || exit 0").stdin(StdinMode::Piped))
        .unwrap();
    let pid = pid_in(&read_until(&runtime, &id, |out| out.ends_with(b"\n")));
    let host = fixture.host_pid(pid).expect("the background sleep runs");
    runtime.close_stdin(&id).unwrap();
    let started = Instant::now();
    let done = wait(&runtime, &id);
    assert!(started.elapsed() < LONG / 2);
    assert_eq!(done.status, ExitStatus::Code(0));
    assert!(!done.output_leaked);
    assert!(
        host_process_gone(host),
        "the background process outlived the container"
    );
    assert_clean(&fixture, runtime);
}

/// Replaces `group_members_ignoring_term_are_killed_after_grace`: a
/// process that ignores SIGTERM ends, with the container, as soon as the
/// main process dies of it, long before the grace period.
#[test]
fn members_end_with_the_main_process_at_once() {
    let fixture = DockerFixture::new();
    let runtime = fixture.docker();
    let request = sh("(trap '' TERM; while :; do sleep 1; done) & echo pid=$!; wait").grace(LONG);
    let id = runtime.spawn(&request).unwrap();
    let pid = pid_in(&read_until(&runtime, &id, |out| out.ends_with(b"\n")));
    let host = fixture.host_pid(pid).expect("the member runs");
    let started = Instant::now();
    assert!(runtime.terminate(&id, false).unwrap());
    assert!(started.elapsed() < LONG / 2, "waited out the grace period");
    assert_eq!(wait(&runtime, &id).status, ExitStatus::Signal(15));
    assert!(host_process_gone(host), "the member outlived the container");
    assert_clean(&fixture, runtime);
}

#[test]
fn labels_and_settings_reach_the_engine() {
    let fixture = DockerFixture::new();
    let runtime = fixture
        .builder()
        .user("1000:1000")
        .memory(64 << 20)
        .cpus(0.5)
        .pids_limit(64)
        .build()
        .unwrap();
    let id = runtime
        .spawn(&sh("id -u; id -g; cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null").label("job", "42"))
        .unwrap();
    let done = wait(&runtime, &id);
    assert_eq!(done.logs.text(), "1000\n1000\n64\n");
    let container = inspect(&runtime, &id);
    let labels = &container["Config"]["Labels"];
    assert_eq!(labels["job"], "42");
    assert_eq!(labels[RUNTIME_LABEL], runtime.tag());
    assert_eq!(labels[PROCESS_LABEL], id.as_str());
    assert_eq!(labels[TEST_LABEL], fixture.tag());
    let host = &container["HostConfig"];
    assert_eq!(host["Init"], true);
    assert_eq!(host["NetworkMode"], "none");
    assert_eq!(host["LogConfig"]["Type"], "none");
    assert_eq!(host["Memory"], 64 << 20);
    assert_eq!(host["MemorySwap"], 64 << 20);
    assert_eq!(host["NanoCpus"], 500_000_000);
    assert_eq!(host["PidsLimit"], 64);
    assert_eq!(container["Config"]["User"], "1000:1000");
    runtime.remove(&id).unwrap();
    assert_eq!(fixture.leftovers().len(), 1, "only the probe is left");
    assert_clean(&fixture, runtime);
}

#[test]
fn mounts_are_read_only_except_the_workspace() {
    let fixture = DockerFixture::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("note"), "hello\n").unwrap();
    let runtime = fixture
        .builder()
        .mount(outside.path(), "/ro")
        .build()
        .unwrap();
    let made = fixture.workspace().join("made");
    let script = format!(
        "cat /ro/note; touch /ro/x 2>/dev/null && echo wrote-ro; touch {} && echo wrote-workspace; pwd",
        made.display()
    );
    let done = wait(&runtime, &runtime.spawn(&sh(&script)).unwrap());
    assert_eq!(
        done.logs.text(),
        format!(
            "hello\nwrote-workspace\n{}\n",
            fixture.workspace().display()
        ),
        "the workspace is also the default working directory"
    );
    assert!(made.exists());
    assert!(!outside.path().join("x").exists());
    assert_clean(&fixture, runtime);
}

#[test]
fn there_is_no_network_by_default() {
    let fixture = DockerFixture::new();
    let runtime = fixture.docker();
    let done = wait(&runtime, &runtime.spawn(&sh("cat /proc/net/dev")).unwrap());
    let interfaces: Vec<String> = done
        .logs
        .text()
        .lines()
        .filter_map(|line| Some(line.split_once(':')?.0.trim().to_owned()))
        .collect();
    assert_eq!(interfaces, ["lo"]);
    assert_clean(&fixture, runtime);
}

/// The kernel's out-of-memory killer stops the main process: SIGKILL, and
/// the engine's `OOMKilled` flag reaches the completion.
///
/// The engine learns of the kill from an event that races with the exit,
/// and it sometimes never sets the flag (Docker 20.10 on cgroup v2 did so
/// once in all the CI runs of this round, even after the runtime's five
/// seconds of looking again). So the flag must come in one of three tries; every try
/// must report SIGKILL.
#[test]
fn out_of_memory_is_reported_as_sigkill() {
    let fixture = DockerFixture::new();
    let runtime = fixture.builder().memory(16 << 20).build().unwrap();
    // `tail` keeps the last 100 MB of an endless input in memory.
    let request =
        SpawnRequest::new(CommandLine::new(["tail", "-c", "100000000", "/dev/zero"]).unwrap());
    let mut flagged = false;
    for _ in 0..3 {
        let id = runtime.spawn(&request).unwrap();
        // Nothing else sends SIGKILL, and `tail` of an endless input never
        // exits by itself.
        let done = wait(&runtime, &id);
        assert_eq!(done.status, ExitStatus::Signal(9));
        runtime.remove(&id).unwrap();
        if done.oom_killed {
            flagged = true;
            break;
        }
    }
    assert!(
        flagged,
        "the engine's flag reached no completion in three tries"
    );
    assert_clean(&fixture, runtime);
}

#[test]
fn terminals_have_their_size_and_take_input() {
    let fixture = DockerFixture::new();
    let runtime = fixture.docker();
    let size = TerminalSize {
        rows: 33,
        cols: 101,
    };
    // The engine sizes the terminal just after the start: wait for it
    // (busybox's stty prints nothing on stdout for a terminal of size 0).
    let script = "until [ -n \"$(stty size 2>/dev/null)\" ]; do sleep 0.01; done; stty size; tty; printf 'name? '; read x; echo \"got $x\"";
    let id = runtime.spawn(&sh(script).terminal(size)).unwrap();
    read_until(&runtime, &id, |out| out.ends_with(b"name? "));
    runtime.write_stdin(&id, b"y\n").unwrap();
    let done = wait(&runtime, &id);
    assert!(done.status.success());
    let text = done.logs.text();
    assert!(
        text.starts_with("33 101\r\n/dev/pts/0\r\nname? "),
        "{text:?}"
    );
    assert!(text.ends_with("got y\r\n"), "{text:?}");
    let stderr = runtime.get_stream_logs(&id, Stream::Stderr, None).unwrap();
    assert!(stderr.is_empty(), "a terminal is one stream");

    // A resize reaches the program as SIGWINCH.
    let script = "until [ -n \"$(stty size 2>/dev/null)\" ]; do sleep 0.01; done; \
                  trap 'stty size; exit 0' WINCH; echo ready; while :; do sleep 0.01; done";
    let id = runtime.spawn(&sh(script).terminal(size)).unwrap();
    read_until(&runtime, &id, |out| out.ends_with(b"ready\r\n"));
    let bigger = TerminalSize {
        rows: 40,
        cols: 120,
    };
    runtime.resize_terminal(&id, bigger).unwrap();
    let done = wait(&runtime, &id);
    assert!(
        done.logs.text().ends_with("40 120\r\n"),
        "{:?}",
        done.logs.text()
    );

    // Closing stdin on a terminal sends end-of-file.
    let id = runtime.spawn(&sh("cat; echo eof").terminal(size)).unwrap();
    runtime.write_stdin(&id, b"abc\n").unwrap();
    read_until(&runtime, &id, |out| out.ends_with(b"abc\r\n"));
    runtime.close_stdin(&id).unwrap();
    let done = wait(&runtime, &id);
    assert!(done.status.success());
    assert!(
        done.logs.text().ends_with("eof\r\n"),
        "{:?}",
        done.logs.text()
    );
    assert_clean(&fixture, runtime);
}

/// "Inherit" is the image's environment (with what the engine adds); a
/// clean one has nothing of either.
#[test]
fn the_image_environment_is_the_base() {
    let fixture = DockerFixture::new();
    let runtime = fixture.docker();
    let env = |env: Environment| -> Vec<String> {
        let id = runtime
            .spawn(&SpawnRequest::new(CommandLine::new(["env"]).unwrap()).env(env))
            .unwrap();
        let done = wait(&runtime, &id);
        assert!(done.status.success(), "{}", done.logs);
        let mut lines: Vec<String> = done.logs.text().lines().map(str::to_owned).collect();
        lines.sort();
        lines
    };
    let inherited = env(Environment::inherit().set("ONE", "1"));
    let names: Vec<&str> = inherited
        .iter()
        .filter_map(|line| line.split_once('=').map(|(name, _)| name))
        .collect();
    assert_eq!(names, ["HOME", "HOSTNAME", IMAGE_VAR, "ONE", "PATH"]);
    assert_eq!(env(Environment::clean().set("ONLY", "this")), ["ONLY=this"]);
    let without = env(Environment::inherit().unset(IMAGE_VAR).unset("HOSTNAME"));
    assert!(
        !without
            .iter()
            .any(|line| line.starts_with(IMAGE_VAR) || line.starts_with("HOSTNAME="))
    );
    assert_clean(&fixture, runtime);
}

/// Without an `env` program in the image, a clean environment is
/// unsupported; an inherited one works (the mock agent alone, in an empty
/// image).
#[test]
fn removing_variables_needs_an_env_program() {
    let fixture = DockerFixture::with_image(EMPTY_IMAGE);
    let runtime = fixture.docker();
    let agent = |env: Environment| {
        SpawnRequest::new(
            CommandLine::new([crate::fixture::MOCK_AGENT, "--scenario", "env", "--", "p"]).unwrap(),
        )
        .env(env)
    };
    match runtime.spawn(&agent(Environment::clean())) {
        Err(Error::Unsupported { feature, .. }) => {
            assert!(feature.contains("/usr/bin/env"), "{feature}");
            assert!(feature.contains(EMPTY_IMAGE), "{feature}");
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
    let done = wait(
        &runtime,
        &runtime
            .spawn(&agent(Environment::inherit().set("A", "b")))
            .unwrap(),
    );
    assert!(done.status.success());
    assert!(done.logs.text().lines().any(|line| line == "A=b"));
    match runtime.spawn(&sh("true")) {
        Err(Error::ProgramNotFound { program }) => assert_eq!(program, "sh"),
        other => panic!("expected ProgramNotFound, got {other:?}"),
    }
    assert_clean(&fixture, runtime);
}

#[track_caller]
fn unavailable(result: Result<DockerRuntime, Error>, expected: &[&str]) {
    match result {
        Err(error @ Error::Unavailable { .. }) => {
            let message = error.to_string();
            for part in expected {
                assert!(message.contains(part), "`{part}` not in: {message}");
            }
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[test]
fn a_runtime_that_cannot_work_says_why_and_leaves_nothing() {
    let fixture = DockerFixture::new();
    let started = Instant::now();
    unavailable(
        fixture
            .builder()
            .host(DockerHost::Unix("/nonexistent/docker.sock".into()))
            .build(),
        &[
            "cannot reach the engine at unix:///nonexistent/docker.sock",
            "start the Docker engine",
        ],
    );
    unavailable(
        fixture
            .builder()
            .host("tcp://127.0.0.1:1".parse().unwrap())
            .build(),
        &["cannot reach the engine at tcp://127.0.0.1:1"],
    );
    unavailable(
        DockerRuntime::builder("logist-no-such-image:0")
            .label(TEST_LABEL, fixture.tag())
            .build(),
        &[
            "image `logist-no-such-image:0` is not on the engine",
            "docker pull logist-no-such-image:0",
        ],
    );
    unavailable(
        fixture
            .builder()
            .mount("/nonexistent/logist-dir", "/x")
            .build(),
        &["a mount cannot be used", "/nonexistent/logist-dir"],
    );
    unavailable(
        fixture.builder().mount("relative", "/x").build(),
        &["mount source `relative` is not an absolute path"],
    );
    unavailable(
        fixture.builder().mount("/tmp", "relative").build(),
        &["mount target `relative` is not an absolute path"],
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(fixture.leftovers(), Vec::<String>::new());

    // A working directory must be absolute in a container.
    let runtime = fixture.docker();
    match runtime.spawn(&sh("pwd").cwd("relative")) {
        Err(Error::WorkingDirectory { path, .. }) => assert_eq!(path, Path::new("relative")),
        other => panic!("expected WorkingDirectory, got {other:?}"),
    }
    assert_clean(&fixture, runtime);

    // A container the engine cannot start is removed again; the engine's
    // refusal (status and message) is the cause.
    let runtime = fixture.builder().user("no-such-user").build().unwrap();
    match runtime.spawn(&sh("true")) {
        Err(error @ Error::Backend { .. }) => {
            assert_eq!(
                error.to_string(),
                "the docker runtime failed while starting `sh`"
            );
            let cause = std::error::Error::source(&error).unwrap().to_string();
            assert!(cause.starts_with("the engine answered "), "{cause}");
            assert!(cause.contains("no-such-user"), "{cause}");
        }
        other => panic!("expected Backend, got {other:?}"),
    }
    assert!(runtime.list(&Default::default()).unwrap().is_empty());
    assert_eq!(fixture.leftovers().len(), 1, "only the probe is left");
    assert_clean(&fixture, runtime);
}

/// The probe container, removed behind the runtime's back, is replaced.
#[test]
fn a_removed_probe_is_replaced() {
    let fixture = DockerFixture::new();
    let runtime = fixture.docker();
    let filter = format!("label={TEST_LABEL}={}", fixture.tag());
    let probes = docker(&[
        "ps",
        "-aq",
        "--filter",
        &filter,
        "--filter",
        "label=logist.probe=1",
    ]);
    let probe = String::from_utf8_lossy(&probes.stdout).trim().to_owned();
    assert!(!probe.is_empty(), "the runtime has a probe");
    assert!(docker(&["rm", "--force", &probe]).status.success());
    let done = wait(&runtime, &runtime.spawn(&sh("echo ok")).unwrap());
    assert_eq!(done.logs.text(), "ok\n");
    match runtime.spawn(&sh("true").cwd("/no/such/dir")) {
        Err(Error::WorkingDirectory { .. }) => {}
        other => panic!("expected WorkingDirectory, got {other:?}"),
    }
    assert_clean(&fixture, runtime);
}
