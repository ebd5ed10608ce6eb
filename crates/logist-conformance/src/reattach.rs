//! Re-attach checks: durable runs outlive the runtime instance that
//! started them, and a later instance on the same backing state adopts
//! them and serves every [`Runtime`] method as if it had spawned them.
//!
//! A runtime that offers durability ([`SpawnRequest::durable`]) implements
//! [`ReattachFixture`] on top of its [`Fixture`]: a factory that builds a
//! new instance on the fixture's backing state (a state directory for the
//! host runtime, the engine and a label for Docker) and adopts the durable
//! runs found there. Each check starts from that factory, drops the
//! instance at chosen moments (so that output is printed and runs end
//! while no instance exists), and builds the next one with the same
//! factory; the previous instance is always dropped before the next is
//! built. Every check removes its runs at the end, so the fixture's
//! leftover check applies as everywhere else.
//!
//! Expand the checks with [`reattach_tests!`](crate::reattach_tests);
//! `reattach_tests!(fixture; attached_teardown)` adds
//! [`attached_runs_end_with_their_owner`], for runtimes whose attached runs
//! are stopped when their instance is dropped.
//!
//! The checks use a POSIX shell (`sh`, `printf`, `touch`, `sleep`, `kill`)
//! and synchronise through files in [`Fixture::scratch_dir`], which the
//! runs see at the same path: no check sleeps to let something happen.
//!
//! [`Runtime`]: logist_core::Runtime

use std::path::Path;
use std::time::Duration;

use logist_core::{
    Error, ExitStatus, Labels, ProcessId, ProcessState, Runtime, SpawnRequest, StdinMode, Stream,
};

use crate::Fixture;
use crate::harness::{Harness, LONG, pids};

/// What the re-attach checks need beyond [`Fixture`].
pub trait ReattachFixture: Fixture {
    /// A new runtime instance on this fixture's backing state, which adopts
    /// the durable runs recorded there (none, the first time). Called
    /// several times per check; the previous instance is always dropped
    /// first.
    ///
    /// A check that fails part-way leaves durable runs behind, by their
    /// nature: the fixture's own clean-up (its `Drop`) must stop them.
    fn adopting_runtime(&self) -> Box<dyn Runtime>;

    /// Whether [`close_stdin`](Runtime::close_stdin) of an adopted run ends
    /// its input (the default). A runtime that can write to an adopted
    /// run's stdin but cannot close it says `false`; the check then
    /// requires a typed [`Error::Unsupported`] from `close_stdin` instead
    /// of a silent no-op.
    fn closes_adopted_stdin(&self) -> bool {
        true
    }
}

/// Output printed before the instance was dropped and while no instance
/// existed is readable after adoption from offset 0, byte for byte and
/// stream by stream; a second adoption reads it all again, and the run's
/// later output and exit code follow.
pub fn output_is_replayed_after_adoption(fixture: &dyn ReattachFixture) {
    let dir = fixture.scratch_dir();
    let (go, printed, end) = (dir.join("go"), dir.join("printed"), dir.join("end"));
    let mut h = Harness::with_runtime(fixture, fixture.adopting_runtime());
    let script = format!(
        "printf 'before out\\n'; sleep 0.1; printf 'before err\\n' >&2; {}; \
         printf 'while out \\377\\000\\n'; sleep 0.1; printf 'while err\\n' >&2; touch '{}'; {}; \
         printf 'after out\\n'; sleep 0.1; printf 'after err\\n' >&2; exit 3",
        wait_for(&go),
        printed.display(),
        wait_for(&end)
    );
    let id = h.spawn(&durable(h.sh(&script)));
    h.read_until(&id, |out| out.ends_with(b"before err\n"));

    h.drop_runtime();
    touch(&go);
    h.eventually("the run printed while detached", || printed.exists());
    let before_and_while = [
        (Stream::Stdout, &b"before out\n"[..]),
        (Stream::Stderr, b"before err\n"),
        (Stream::Stdout, b"while out \xff\x00\n"),
        (Stream::Stderr, b"while err\n"),
    ];
    for _ in 0..2 {
        h.set_runtime(|| fixture.adopting_runtime());
        assert!(h.rt().is_alive(&id).unwrap(), "the adopted run is running");
        check_replay(&h, &id, &before_and_while);
    }

    touch(&end);
    let done = h.wait(&id);
    assert_eq!(done.status, ExitStatus::Code(3));
    let all = [
        before_and_while.as_slice(),
        &[
            (Stream::Stdout, b"after out\n"),
            (Stream::Stderr, b"after err\n"),
        ],
    ]
    .concat();
    check_replay(&h, &id, &all);
    remove(&h, &id);
}

/// `write_stdin` reaches a run adopted with its stdin piped, and
/// `close_stdin` ends its input (or, where the fixture says the runtime
/// cannot, is refused with [`Error::Unsupported`]).
pub fn stdin_reaches_an_adopted_run(fixture: &dyn ReattachFixture) {
    let mut h = Harness::with_runtime(fixture, fixture.adopting_runtime());
    let script = "echo ready; while read line; do echo \"got $line\"; done; echo eof";
    let id = h.spawn(&durable(h.sh(script)).stdin(StdinMode::Piped));
    h.read_until(&id, |out| out.ends_with(b"ready\n"));
    h.set_runtime(|| fixture.adopting_runtime());
    h.rt()
        .write_stdin(&id, b"one\n")
        .expect("write to an adopted run");
    h.read_until(&id, |out| out.ends_with(b"got one\n"));
    h.rt().write_stdin(&id, b"two\n").expect("write again");
    h.read_until(&id, |out| out.ends_with(b"got two\n"));
    if fixture.closes_adopted_stdin() {
        h.rt()
            .close_stdin(&id)
            .expect("close the stdin of an adopted run");
        let done = h.wait(&id);
        assert_eq!(done.status, ExitStatus::Code(0));
        assert_eq!(done.logs.text(), "ready\ngot one\ngot two\neof\n");
    } else {
        match h.rt().close_stdin(&id) {
            Err(Error::Unsupported { .. }) => {}
            other => panic!("close_stdin: expected Unsupported, got {other:?}"),
        }
        assert!(h.rt().terminate(&id, false).unwrap());
        h.wait(&id);
    }
    remove(&h, &id);
}

/// `terminate` of an adopted run stops it, descendants included, and
/// `wait` reports how it ended (not a success).
pub fn terminate_stops_an_adopted_run(fixture: &dyn ReattachFixture) {
    let mut h = Harness::with_runtime(fixture, fixture.adopting_runtime());
    let request = durable(h.sh("sleep 600 & echo \"pid=$$ pid=$!\"; wait"));
    let id = h.spawn(&request.grace(Duration::from_secs(5)));
    let printed = h.read_until(&id, |out| pids(out).len() == 2);
    let tree = pids(&printed);
    h.set_runtime(|| fixture.adopting_runtime());
    assert!(h.rt().is_alive(&id).unwrap(), "the adopted run is running");
    assert!(
        h.rt()
            .terminate(&id, false)
            .expect("terminate an adopted run"),
        "terminate reports that it stopped a running process"
    );
    assert!(!h.rt().is_alive(&id).unwrap());
    let done = h.wait(&id);
    assert!(
        !done.status.success(),
        "a terminated run does not succeed: {}",
        done.status
    );
    for pid in tree {
        h.eventually(&format!("pid {pid} of the run is gone"), || {
            !fixture.pid_alive(pid)
        });
    }
    remove(&h, &id);
}

/// `wait` on an adopted run gives the exact status: for runs that ended
/// while no instance existed (an exit code, a signal) and for a run that
/// ends after its adoption.
pub fn exit_status_is_exact_after_adoption(fixture: &dyn ReattachFixture) {
    let dir = fixture.scratch_dir();
    let (go, end) = (dir.join("go"), dir.join("end"));
    let mut h = Harness::with_runtime(fixture, fixture.adopting_runtime());
    let spawn_printing_pid = |h: &Harness<'_>, tail: String| {
        let id = h.spawn(&durable(h.sh(&format!("echo \"pid=$$\"; {tail}"))));
        let pid = pids(&h.read_until(&id, |out| !pids(out).is_empty()))[0];
        (id, pid)
    };
    let (code, code_pid) = spawn_printing_pid(&h, format!("{}; exit 7", wait_for(&go)));
    let (killed, killed_pid) = spawn_printing_pid(&h, format!("{}; kill -9 $$", wait_for(&go)));

    h.drop_runtime();
    touch(&go);
    h.eventually("both runs ended while detached", || {
        !fixture.pid_alive(code_pid) && !fixture.pid_alive(killed_pid)
    });
    h.set_runtime(|| fixture.adopting_runtime());
    for (id, status) in [
        (&code, ExitStatus::Code(7)),
        (&killed, ExitStatus::Signal(9)),
    ] {
        assert_eq!(h.wait(id).status, status, "wait for `{id}`");
        assert_eq!(h.wait(id).status, status, "wait again for `{id}`");
        assert_eq!(h.rt().info(id).unwrap().state, ProcessState::Exited(status));
        assert!(!h.rt().is_alive(id).unwrap());
    }

    let (later, _) = spawn_printing_pid(&h, format!("{}; exit 9", wait_for(&end)));
    h.set_runtime(|| fixture.adopting_runtime());
    assert!(
        h.rt().is_alive(&later).unwrap(),
        "the adopted run is running"
    );
    touch(&end);
    assert_eq!(h.wait(&later).status, ExitStatus::Code(9));
    for id in [&code, &killed, &later] {
        remove(&h, id);
    }
}

/// `list` and `info` show adopted runs, running and exited, under their
/// ids with their labels and command lines.
pub fn adopted_runs_are_listed_with_their_labels(fixture: &dyn ReattachFixture) {
    let end = fixture.scratch_dir().join("end");
    let mut h = Harness::with_runtime(fixture, fixture.adopting_runtime());
    let running_command = h.sh(&wait_for(&end));
    let running = h.spawn(
        &durable(running_command.clone())
            .label("job", "running")
            .label("suite", "reattach"),
    );
    let exited_command = fixture.exits_with(0);
    let exited = h.spawn(
        &durable(exited_command.clone())
            .label("job", "exited")
            .label("suite", "reattach"),
    );
    h.wait(&exited);

    h.set_runtime(|| fixture.adopting_runtime());
    let ids = |pairs: &[(&str, &str)]| -> Vec<ProcessId> {
        let mut ids: Vec<ProcessId> = h
            .rt()
            .list(&labels(pairs))
            .expect("list")
            .into_iter()
            .map(|info| info.id)
            .collect();
        ids.sort();
        ids
    };
    let mut both = vec![running.clone(), exited.clone()];
    both.sort();
    assert_eq!(ids(&[("suite", "reattach")]), both);
    assert_eq!(ids(&[("job", "running")]), std::slice::from_ref(&running));
    assert_eq!(
        ids(&[("job", "exited"), ("suite", "reattach")]),
        std::slice::from_ref(&exited)
    );
    assert!(ids(&[("job", "none")]).is_empty());
    for (id, job, command, state) in [
        (&running, "running", &running_command, ProcessState::Running),
        (
            &exited,
            "exited",
            &exited_command,
            ProcessState::Exited(ExitStatus::Code(0)),
        ),
    ] {
        let info = h.rt().info(id).expect("info of an adopted run");
        assert_eq!(&info.id, id);
        assert_eq!(info.labels.get("job").map(String::as_str), Some(job));
        assert_eq!(
            info.labels.get("suite").map(String::as_str),
            Some("reattach")
        );
        assert_eq!(&info.command, command);
        assert_eq!(info.state, state);
    }

    touch(&end);
    assert!(h.wait(&running).status.success());
    remove(&h, &running);
    remove(&h, &exited);
    assert!(ids(&[("suite", "reattach")]).is_empty());
}

/// An attached run (not durable) does not survive its instance: after
/// the instance is dropped its processes are gone, and the next instance
/// does not know it. Opt-in (`reattach_tests!(fixture; attached_teardown)`).
pub fn attached_runs_end_with_their_owner(fixture: &dyn ReattachFixture) {
    let mut h = Harness::with_runtime(fixture, fixture.adopting_runtime());
    let attached = h.spawn(&SpawnRequest::new(
        h.sh("sleep 600 & echo \"pid=$$ pid=$!\"; wait"),
    ));
    let tree = pids(&h.read_until(&attached, |out| pids(out).len() == 2));
    h.set_runtime(|| fixture.adopting_runtime());
    for pid in tree {
        h.eventually(&format!("pid {pid} of the attached run is gone"), || {
            !fixture.pid_alive(pid)
        });
    }
    // The next instance may know how it ended (a runtime that records
    // every run), but never as running.
    match h.rt().info(&attached) {
        Err(Error::UnknownProcess { .. }) => {}
        Ok(info) if info.state != ProcessState::Running => {
            h.wait(&attached);
            remove(&h, &attached);
        }
        other => panic!("an attached run survived its instance: {other:?}"),
    }
    let running: Vec<ProcessId> = h
        .rt()
        .list(&Labels::new())
        .expect("list")
        .into_iter()
        .filter(|info| info.state == ProcessState::Running)
        .map(|info| info.id)
        .collect();
    assert!(running.is_empty(), "still running: {running:?}");
}

/// A durable request for `command`.
fn durable(command: logist_core::CommandLine) -> SpawnRequest {
    SpawnRequest::new(command).durable(true)
}

/// A shell loop that returns once `path` exists.
fn wait_for(path: &Path) -> String {
    format!("until [ -e '{}' ]; do sleep 0.01; done", path.display())
}

/// Creates the file `path`, which a run is waiting for.
#[track_caller]
fn touch(path: &Path) {
    std::fs::write(path, b"").unwrap_or_else(|error| panic!("create {}: {error}", path.display()));
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Reads the run's output from offset 0 until it holds every piece of
/// `pieces` (in this order), and checks it: the bytes of each read chunk,
/// the offsets, a read from the middle, and each stream on its own.
#[track_caller]
fn check_replay(h: &Harness<'_>, id: &ProcessId, pieces: &[(Stream, &[u8])]) {
    let expected: Vec<u8> = pieces
        .iter()
        .flat_map(|(_, bytes)| *bytes)
        .copied()
        .collect();
    let mut seen = Vec::new();
    let mut streams: [Vec<u8>; 2] = Default::default();
    let mut next = 0;
    let deadline = std::time::Instant::now() + LONG;
    while seen.len() < expected.len() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        assert!(
            !left.is_zero(),
            "timed out replaying `{id}`; output so far: {:?}",
            String::from_utf8_lossy(&seen)
        );
        let read = h
            .rt()
            .read_output(id, next, Some(left))
            .expect("read_output");
        assert_eq!(read.missed, 0, "nothing of the replay is missing");
        for chunk in &read.chunks {
            assert_eq!(chunk.offset, seen.len() as u64, "chunks are contiguous");
            seen.extend_from_slice(&chunk.data);
            streams[usize::from(chunk.stream == Stream::Stderr)].extend_from_slice(&chunk.data);
        }
        next = read.next;
        if read.finished {
            break;
        }
    }
    assert_eq!(
        String::from_utf8_lossy(&seen),
        String::from_utf8_lossy(&expected),
        "the output of `{id}` from offset 0"
    );
    assert_eq!(seen, expected, "the output of `{id}`, byte for byte");
    // From any offset: the middle of the output gives the rest of it.
    let middle = expected.len() / 2;
    let mut rest = Vec::new();
    let mut next = middle as u64;
    while middle + rest.len() < expected.len() {
        let read = h
            .rt()
            .read_output(id, next, Some(LONG))
            .expect("read_output from the middle");
        assert!(
            !read.chunks.is_empty(),
            "nothing from offset {next} of `{id}`"
        );
        for chunk in &read.chunks {
            assert_eq!(
                chunk.offset,
                (middle + rest.len()) as u64,
                "chunks from the middle are contiguous"
            );
            rest.extend_from_slice(&chunk.data);
        }
        next = read.next;
    }
    assert_eq!(
        rest,
        expected[middle..],
        "the output of `{id}` from offset {middle}"
    );
    for (index, stream) in [Stream::Stdout, Stream::Stderr].into_iter().enumerate() {
        let only: Vec<u8> = pieces
            .iter()
            .filter(|(of, _)| *of == stream)
            .flat_map(|(_, bytes)| *bytes)
            .copied()
            .collect();
        assert_eq!(streams[index], only, "{stream:?} of `{id}` in the chunks");
        let logs = h.rt().get_stream_logs(id, stream, None).expect("logs");
        assert_eq!(logs.bytes(), only, "{stream:?} of `{id}` in the logs");
    }
}

/// Removes an ended run, failing the check on error.
#[track_caller]
fn remove(h: &Harness<'_>, id: &ProcessId) {
    if let Err(error) = h.rt().remove(id) {
        panic!("remove `{id}`: {error}");
    }
}
