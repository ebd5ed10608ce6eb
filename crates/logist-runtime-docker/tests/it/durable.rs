//! Durable containers beyond the conformance suite's re-attach checks:
//! what the engine is asked for, stdin that cannot be closed, terminals,
//! and which containers an adopting runtime takes (its labels only;
//! damaged ones are left alone).

use std::time::{Duration, Instant};

use logist_conformance::LONG;
use logist_core::{Error, ExitStatus, Labels, Runtime, StdinMode, TerminalSize};
use logist_runtime_docker::{DURABLE_LABEL, DockerRuntime};

use crate::container::{read_until, sh, wait};
use crate::fixture::{DockerFixture, IMAGE, TEST_LABEL, docker};

/// One field of `docker inspect` of a container.
fn inspect(container: &str, format: &str) -> String {
    let output = docker(&["inspect", "--format", format, container]);
    assert!(output.status.success(), "docker inspect {container}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn adopting(fixture: &DockerFixture, owner: &str) -> DockerRuntime {
    fixture
        .builder()
        .label("owner", owner)
        .adopt(true)
        .build()
        .expect("build an adopting runtime")
}

#[test]
fn a_durable_container_keeps_a_log_and_its_stdin_which_cannot_be_closed() {
    let fixture = DockerFixture::new();
    let runtime = fixture.docker();
    let request = sh("while read line; do echo \"got $line\"; done")
        .stdin(StdinMode::Piped)
        .durable(true);
    let id = runtime.spawn(&request).unwrap();
    let container = runtime.container_id(&id).unwrap();
    assert_eq!(
        inspect(&container, "{{.HostConfig.LogConfig.Type}}"),
        "local"
    );
    assert_eq!(inspect(&container, "{{.Config.StdinOnce}}"), "false");
    assert_eq!(
        inspect(
            &container,
            &format!("{{{{index .Config.Labels \"{DURABLE_LABEL}\"}}}}")
        ),
        "true"
    );
    runtime.write_stdin(&id, b"a\n").unwrap();
    read_until(&runtime, &id, |out| out.ends_with(b"got a\n"));
    match runtime.close_stdin(&id) {
        Err(Error::Unsupported { feature, .. }) => assert!(feature.contains("durable")),
        other => panic!("expected Unsupported, got {other:?}"),
    }
    runtime.write_stdin(&id, b"b\n").unwrap();
    read_until(&runtime, &id, |out| out.ends_with(b"got b\n"));
    assert!(runtime.terminate(&id, false).unwrap());
    assert_eq!(wait(&runtime, &id).status, ExitStatus::Signal(15));
    runtime.remove(&id).unwrap();
    drop(runtime);
    assert!(fixture.containers(true).is_empty());
}

#[test]
fn an_adopted_terminal_takes_input_and_ctrl_d() {
    let fixture = DockerFixture::new();
    let runtime = fixture.docker();
    let size = TerminalSize { rows: 24, cols: 80 };
    let id = runtime
        .spawn(
            &sh("echo ready; cat; echo done")
                .terminal(size)
                .durable(true),
        )
        .unwrap();
    read_until(&runtime, &id, |out| out.ends_with(b"ready\r\n"));
    drop(runtime);

    let runtime = fixture.builder().adopt(true).build().unwrap();
    runtime.write_stdin(&id, b"hello\n").unwrap();
    // The terminal echoes the line, then cat writes it.
    read_until(&runtime, &id, |out| out.ends_with(b"hello\r\nhello\r\n"));
    runtime.close_stdin(&id).unwrap();
    let done = wait(&runtime, &id);
    assert_eq!(done.status, ExitStatus::Code(0));
    assert_eq!(
        done.logs.text(),
        "ready\r\nhello\r\nhello\r\ndone\r\n",
        "the log replayed from the start, then the live part"
    );
    runtime.remove(&id).unwrap();
}

#[test]
fn adoption_takes_only_its_labels_and_leaves_damaged_containers_alone() {
    let fixture = DockerFixture::new();
    let runtime = fixture.builder().label("owner", "a").build().unwrap();
    let ours = runtime.spawn(&sh("exec sleep 600").durable(true)).unwrap();
    // Without stdin there is nothing to close: fine, as for any process.
    runtime.close_stdin(&ours).unwrap();
    let attached = runtime.spawn(&sh("exit 4")).unwrap();
    wait(&runtime, &attached);
    // A durable-labelled container without the labels adoption needs.
    let label = |pair: String| ["--label".to_owned(), pair];
    let mut args: Vec<String> = ["run", "-d", "--init", "--network", "none"]
        .map(str::to_owned)
        .to_vec();
    args.extend(label(format!("{TEST_LABEL}={}", fixture.tag())));
    args.extend(label("owner=a".to_owned()));
    args.extend(label(format!("{DURABLE_LABEL}=true")));
    args.extend(["--entrypoint", "sleep", IMAGE, "600"].map(str::to_owned));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = docker(&args);
    assert!(
        run.status.success(),
        "docker run: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let damaged = String::from_utf8_lossy(&run.stdout).trim().to_owned();
    drop(runtime);

    let other = adopting(&fixture, "b");
    assert!(
        other.list(&Labels::new()).unwrap().is_empty(),
        "not owner b's"
    );
    drop(other);

    let runtime = adopting(&fixture, "a");
    let adopted: Vec<_> = runtime
        .list(&Labels::new())
        .unwrap()
        .into_iter()
        .map(|info| info.id)
        .collect();
    assert_eq!(
        adopted,
        std::slice::from_ref(&ours),
        "the durable one, not the damaged one"
    );
    assert_eq!(
        inspect(&damaged, "{{.State.Running}}"),
        "true",
        "left alone"
    );
    assert!(runtime.terminate(&ours, true).unwrap());
    assert_eq!(wait(&runtime, &ours).status, ExitStatus::Signal(9));
    runtime.remove(&ours).unwrap();
    drop(runtime);
    assert_eq!(
        fixture.containers(true),
        [damaged],
        "only the damaged one is left"
    );
}

#[test]
fn a_container_killed_for_memory_while_detached_is_adopted_as_such() {
    let fixture = DockerFixture::new();
    let runtime = fixture.builder().memory(16 << 20).build().unwrap();
    let go = fixture.workspace().join("go");
    // `tail` keeps the last 100 MB of an endless input in memory.
    let script = format!(
        "echo started; until [ -e '{}' ]; do sleep 0.01; done; exec tail -c 100000000 /dev/zero",
        go.display()
    );
    let id = runtime.spawn(&sh(&script).durable(true)).unwrap();
    let container = runtime.container_id(&id).unwrap();
    read_until(&runtime, &id, |out| out.ends_with(b"started\n"));
    drop(runtime);
    std::fs::write(&go, b"").unwrap();
    let deadline = Instant::now() + LONG;
    // Exited, and the engine has recorded why (the flag may come later
    // than the exit).
    while inspect(&container, "{{.State.Running}} {{.State.OOMKilled}}") != "false true" {
        assert!(
            Instant::now() < deadline,
            "the container was not OOM-killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let runtime = fixture.builder().adopt(true).build().unwrap();
    let done = wait(&runtime, &id);
    assert_eq!(done.status, ExitStatus::Signal(9));
    assert!(done.oom_killed, "the engine's flag reached the completion");
    assert_eq!(done.logs.text(), "started\n");
    runtime.remove(&id).unwrap();
}

#[test]
fn a_prompt_printed_after_adoption_shows_before_its_line_ends() {
    let fixture = DockerFixture::new();
    let runtime = fixture.docker();
    let (go, end) = (
        fixture.workspace().join("go"),
        fixture.workspace().join("end"),
    );
    let wait_for =
        |path: &std::path::Path| format!("until [ -e '{}' ]; do sleep 0.01; done", path.display());
    let script = format!(
        "echo before; {}; echo line; sleep 0.1; echo warn >&2; sleep 0.1; printf 'Continue? [y/N] '; {}; echo yes",
        wait_for(&go),
        wait_for(&end)
    );
    let id = runtime.spawn(&sh(&script).durable(true)).unwrap();
    read_until(&runtime, &id, |out| out.ends_with(b"before\n"));
    drop(runtime);

    let runtime = fixture.builder().adopt(true).build().unwrap();
    std::fs::write(&go, b"").unwrap();
    // The engine's log holds the prompt back until its line ends; the
    // attach connection shows it.
    let seen = read_until(&runtime, &id, |out| out.ends_with(b"[y/N] "));
    assert_eq!(seen, b"before\nline\nwarn\nContinue? [y/N] ");
    std::fs::write(&end, b"").unwrap();
    let done = wait(&runtime, &id);
    assert_eq!(done.status, ExitStatus::Code(0));
    assert_eq!(
        done.logs.text(),
        "before\nline\nwarn\nContinue? [y/N] yes\n",
        "the prompt is not repeated when the log delivers its line"
    );
    assert_eq!(
        runtime
            .get_stream_logs(&id, logist_core::Stream::Stdout, None)
            .unwrap()
            .text(),
        "before\nline\nContinue? [y/N] yes\n"
    );
    runtime.remove(&id).unwrap();
}

/// This test process as an owner label's value: boot id, pid namespace,
/// pid and start time (as `owner.rs` writes it).
fn this_owner() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let namespace = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let namespace = namespace.to_str().unwrap();
    let namespace = &namespace["pid:[".len()..namespace.len() - 1];
    let pid = std::process::id();
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let start = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(22 - 3)
        .unwrap()
        .to_owned();
    format!("{}/{namespace}/{pid}/{start}", boot.trim())
}

#[test]
fn attached_containers_whose_owner_is_gone_are_removed_on_adoption() {
    let fixture = DockerFixture::new();
    let runtime = fixture.docker();
    let id = runtime.spawn(&sh("exec sleep 600")).unwrap();
    let live_owner = runtime.container_id(&id).unwrap();
    let me = this_owner();
    assert_eq!(
        inspect(&live_owner, "{{index .Config.Labels \"logist.owner\"}}"),
        me,
        "an attached container names its owner"
    );
    // An attached container whose owner died (the same pid, another start
    // time: the pid was reused), as if its runtime was never dropped.
    let (rest, _) = me.rsplit_once('/').unwrap();
    let run = docker(&[
        "run",
        "-d",
        "--init",
        "--network",
        "none",
        "--label",
        &format!("{TEST_LABEL}={}", fixture.tag()),
        "--label",
        &format!("logist.owner={rest}/1"),
        "--entrypoint",
        "sleep",
        IMAGE,
        "600",
    ]);
    assert!(run.status.success(), "docker run");
    let orphan = String::from_utf8_lossy(&run.stdout).trim().to_owned();

    let adopting = fixture.builder().adopt(true).build().unwrap();
    assert!(adopting.list(&Labels::new()).unwrap().is_empty());
    let left = fixture.containers(true);
    assert!(!left.contains(&orphan), "the orphan is removed");
    assert!(left.contains(&live_owner), "a live owner's container stays");
    drop(adopting);
    drop(runtime);
    assert!(fixture.containers(true).is_empty());
}
