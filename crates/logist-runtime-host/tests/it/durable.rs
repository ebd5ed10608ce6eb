//! Runs behind a per-run monitor (a `HostRuntime` with a state directory):
//! durable runs that outlive their runtime and are adopted by a new one,
//! attached runs that die with theirs, lost runs, one owner at a time.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use logist_core::{
    CommandLine, Error, ExitStatus, ProcessId, ProcessState, Runtime, SpawnRequest, StdinMode,
};
use logist_runtime_host::{HostRuntime, HostRuntimeBuilder, MonitorProgram};
use logist_testing::{LONG, NoSurvivors, eventually, pid_alive};

/// A runtime builder whose runs go through the monitor, recorded in `state`.
pub(crate) fn monitored(state: &Path) -> HostRuntimeBuilder {
    let program = logist_testing::monitor_program().expect("the monitor program");
    HostRuntime::builder()
        .state_dir(state)
        .monitor_program(MonitorProgram::new(program))
        .grace(Duration::from_millis(300))
}

/// A state directory and a scratch directory for a test's files.
struct Dirs {
    _temp: tempfile::TempDir,
    state: PathBuf,
    work: PathBuf,
}

impl Dirs {
    fn new() -> Self {
        let temp = tempfile::Builder::new()
            .prefix("logist-durable-")
            .tempdir()
            .unwrap();
        let state = temp.path().join("state");
        let work = temp.path().join("work");
        fs::create_dir(&work).unwrap();
        Self {
            state,
            work,
            _temp: temp,
        }
    }

    /// A durable-or-attached `sh -c script` run in the work directory,
    /// tagged for `guard`.
    fn sh(&self, guard: &NoSurvivors, script: &str, durable: bool) -> SpawnRequest {
        guard
            .request(CommandLine::new(["sh", "-c", script]).unwrap())
            .cwd(&self.work)
            .durable(durable)
    }

    /// The pid a script wrote to `name` in the work directory.
    fn pid(&self, name: &str) -> u32 {
        let path = self.work.join(name);
        eventually(&format!("{name} written"), || {
            fs::read_to_string(&path).is_ok_and(|text| text.ends_with('\n'))
        });
        fs::read_to_string(&path).unwrap().trim().parse().unwrap()
    }

    fn touch(&self, name: &str) {
        fs::write(self.work.join(name), b"").unwrap();
    }
}

/// Everything `read_output` gives from `from` until `done` holds.
fn read_until(rt: &dyn Runtime, id: &ProcessId, from: u64, done: impl Fn(&str) -> bool) -> String {
    let mut text = Vec::new();
    let mut next = from;
    let deadline = std::time::Instant::now() + LONG;
    while !done(&String::from_utf8_lossy(&text)) {
        assert!(
            std::time::Instant::now() < deadline,
            "output so far: {:?}",
            String::from_utf8_lossy(&text)
        );
        let read = rt
            .read_output(id, next, Some(Duration::from_millis(200)))
            .unwrap();
        assert_eq!(read.missed, 0);
        for chunk in &read.chunks {
            assert_eq!(chunk.offset, next, "offsets are contiguous");
            next += chunk.data.len() as u64;
            text.extend_from_slice(&chunk.data);
        }
        assert_eq!(read.next, next);
        if read.finished {
            break;
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

const WAIT_GO: &str = "while [ ! -e go ]; do sleep 0.01; done";

#[test]
fn durable_without_a_state_directory_is_unsupported() {
    let rt = HostRuntime::new().unwrap();
    let request = SpawnRequest::new(CommandLine::new(["true"]).unwrap()).durable(true);
    match rt.spawn(&request) {
        Err(Error::Unsupported { feature, .. }) => {
            assert!(
                feature.contains("HostRuntimeBuilder::state_dir"),
                "{feature}"
            );
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn a_durable_run_survives_its_runtime_and_is_adopted() {
    let guard = NoSurvivors::new();
    let dirs = Dirs::new();
    let main_script = format!(
        "echo before; {WAIT_GO}; echo detached; read line; echo \"got $line\"; \
         setsid env -i sh -c 'trap \"\" TERM; echo $$ > escapee.pid; exec sleep 300' & \
         trap '' TERM; echo $$ > main.pid; while :; do sleep 1; done"
    );
    let (main, code, signal) = {
        let rt = monitored(&dirs.state).build().unwrap();
        let main = rt
            .spawn(
                &dirs
                    .sh(&guard, &main_script, true)
                    .stdin(StdinMode::Piped)
                    .label("job", "main"),
            )
            .unwrap();
        let code = rt
            .spawn(&dirs.sh(&guard, &format!("{WAIT_GO}; echo done; exit 7"), true))
            .unwrap();
        let signal = rt
            .spawn(&dirs.sh(&guard, &format!("{WAIT_GO}; kill -USR1 $$"), true))
            .unwrap();
        assert_eq!(
            read_until(&rt, &main, 0, |t| t.contains("before\n")),
            "before\n"
        );
        (main, code, signal)
        // Dropping the runtime leaves durable runs running.
    };
    dirs.touch("go");

    let rt = monitored(&dirs.state).adopt(true).build().unwrap();
    let ids: Vec<ProcessId> = rt
        .list(&Default::default())
        .unwrap()
        .into_iter()
        .map(|info| info.id)
        .collect();
    for id in [&main, &code, &signal] {
        assert!(ids.contains(id), "{id} adopted: {ids:?}");
    }
    let mut selector = logist_core::Labels::new();
    selector.insert("job".into(), "main".into());
    let listed = rt.list(&selector).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, main);

    // Output printed while nobody was attached, from offset 0.
    let text = read_until(&rt, &main, 0, |t| t.contains("detached\n"));
    assert_eq!(text, "before\ndetached\n");
    rt.write_stdin(&main, b"hello\n").unwrap();
    read_until(&rt, &main, text.len() as u64, |t| t.contains("got hello\n"));

    let done = rt.wait(&code, Some(LONG)).unwrap();
    assert_eq!(done.status, ExitStatus::Code(7));
    assert_eq!(done.logs.text(), "done\n");
    let done = rt.wait(&signal, Some(LONG)).unwrap();
    assert_eq!(done.status, ExitStatus::Signal(libc::SIGUSR1));

    let escapee = dirs.pid("escapee.pid");
    let main_pid = dirs.pid("main.pid");
    assert!(pid_alive(escapee) && pid_alive(main_pid));
    assert!(rt.is_alive(&main).unwrap());
    assert!(rt.terminate(&main, false).unwrap());
    let done = rt.wait(&main, Some(LONG)).unwrap();
    assert_eq!(
        done.status,
        ExitStatus::Signal(libc::SIGKILL),
        "it ignores SIGTERM"
    );
    assert!(
        !pid_alive(escapee),
        "the setsid escapee is stopped with the tree"
    );
    assert!(!pid_alive(main_pid));
    for id in [&main, &code, &signal] {
        rt.remove(id).unwrap();
    }
    assert!(rt.list(&Default::default()).unwrap().is_empty());
    drop(rt);
    let rt = monitored(&dirs.state).adopt(true).build().unwrap();
    assert!(
        rt.list(&Default::default()).unwrap().is_empty(),
        "removed runs stay removed"
    );
}

#[test]
fn an_attached_run_dies_with_its_runtime_escapees_included() {
    let guard = NoSurvivors::new();
    let dirs = Dirs::new();
    let script = "setsid env -i sh -c 'trap \"\" TERM; echo $$ > escapee.pid; exec sleep 300' & \
                  trap '' TERM; echo $$ > main.pid; while :; do sleep 1; done";
    let rt = monitored(&dirs.state).build().unwrap();
    let id = rt.spawn(&dirs.sh(&guard, script, false)).unwrap();
    let (escapee, main) = (dirs.pid("escapee.pid"), dirs.pid("main.pid"));
    assert!(rt.is_alive(&id).unwrap());
    drop(rt);
    assert!(!pid_alive(escapee), "the escapee died with the runtime");
    assert!(!pid_alive(main));
    // It ended with its owner, and so did its record.
    let rt = monitored(&dirs.state).adopt(true).build().unwrap();
    assert!(matches!(rt.info(&id), Err(Error::UnknownProcess { .. })));
}

#[test]
fn a_run_whose_monitor_was_killed_is_lost_and_its_group_killed_on_adoption() {
    let guard = NoSurvivors::new();
    let dirs = Dirs::new();
    let script = "echo hi; sleep 300 & echo $! > sleep.pid; wait";
    let id = {
        let rt = monitored(&dirs.state).build().unwrap();
        let id = rt.spawn(&dirs.sh(&guard, script, true)).unwrap();
        read_until(&rt, &id, 0, |t| t == "hi\n");
        id
    };
    let sleeper = dirs.pid("sleep.pid");
    let record = fs::read_to_string(
        dirs.state
            .join("runs")
            .join(id.as_str())
            .join("monitor.json"),
    )
    .unwrap();
    let monitor: serde_json::Value = serde_json::from_str(&record).unwrap();
    let monitor_pid = i32::try_from(monitor["monitor_pid"].as_i64().unwrap()).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor_pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    eventually("the monitor is gone", || {
        !pid_alive(u32::try_from(monitor_pid).unwrap())
    });
    assert!(
        pid_alive(sleeper),
        "the group outlives its monitor until adoption"
    );

    let rt = monitored(&dirs.state).adopt(true).build().unwrap();
    assert_eq!(rt.info(&id).unwrap().state, ProcessState::Lost);
    assert!(!rt.is_alive(&id).unwrap());
    match rt.wait(&id, Some(LONG)) {
        Err(Error::Lost { id: lost, .. }) => assert_eq!(lost, id),
        other => panic!("expected Lost, got {other:?}"),
    }
    assert_eq!(read_until(&rt, &id, 0, |_| false), "hi\n");
    eventually("the lost run's group is killed", || !pid_alive(sleeper));
    rt.remove(&id).unwrap();
}

#[test]
fn a_second_adopter_is_refused_naming_the_directory() {
    let dirs = Dirs::new();
    let _owner = monitored(&dirs.state).adopt(true).build().unwrap();
    match monitored(&dirs.state).adopt(true).build() {
        Err(error @ Error::Backend { .. }) => {
            let text = logist_core::error_chain(&error).to_string();
            assert!(text.contains(&dirs.state.display().to_string()), "{text}");
            assert!(text.contains("another process"), "{text}");
            let Error::Backend { source, .. } = &error else {
                unreachable!()
            };
            assert!(
                matches!(
                    source.downcast_ref::<logist_monitor::StateError>(),
                    Some(logist_monitor::StateError::Busy { .. })
                ),
                "{text}"
            );
        }
        other => panic!("expected a busy state directory, got {other:?}"),
    }
}

#[test]
fn an_adopted_run_keeps_its_tail_in_memory_and_the_rest_on_disk() {
    let guard = NoSurvivors::new();
    let dirs = Dirs::new();
    let id = {
        let rt = monitored(&dirs.state).build().unwrap();
        let id = rt
            .spawn(&dirs.sh(&guard, "printf 0123456789%.0s 1 2 3 4 5 6 7 8 9 10", true))
            .unwrap();
        rt.wait(&id, Some(LONG)).unwrap();
        id
    };
    let rt = monitored(&dirs.state)
        .output_cap(16)
        .adopt(true)
        .build()
        .unwrap();
    let logs = rt.get_logs(&id, None).unwrap();
    assert_eq!(logs.text(), "4567890123456789");
    assert_eq!(logs.dropped(), 84);
    assert_eq!(
        read_until(&rt, &id, 0, |_| false),
        "0123456789".repeat(10),
        "every byte from the log on disk"
    );
    assert_eq!(read_until(&rt, &id, 95, |_| false), "56789");
}

#[test]
fn damaged_runs_are_skipped_and_the_others_adopted() {
    let guard = NoSurvivors::new();
    let dirs = Dirs::new();
    let (good, torn, foreign) = {
        let rt = monitored(&dirs.state).build().unwrap();
        let mut ids = Vec::new();
        for code in [0, 1, 2] {
            let id = rt
                .spawn(&dirs.sh(&guard, &format!("exit {code}"), true))
                .unwrap();
            rt.wait(&id, Some(LONG)).unwrap();
            ids.push(id);
        }
        (ids[0].clone(), ids[1].clone(), ids[2].clone())
    };
    let run = |id: &ProcessId| dirs.state.join("runs").join(id.as_str());
    // A truncated exit record, and a spec of a layout from the future.
    let exit = fs::read_to_string(run(&torn).join("exit.json")).unwrap();
    fs::write(run(&torn).join("exit.json"), &exit[..exit.len() / 2]).unwrap();
    let spec = fs::read_to_string(run(&foreign).join("spec.json")).unwrap();
    fs::write(
        run(&foreign).join("spec.json"),
        spec.replace("\"layout\":1", "\"layout\":99"),
    )
    .unwrap();
    // Not a run at all.
    fs::create_dir(dirs.state.join("runs").join("stray")).unwrap();

    let rt = monitored(&dirs.state).adopt(true).build().unwrap();
    let ids: Vec<ProcessId> = rt
        .list(&Default::default())
        .unwrap()
        .into_iter()
        .map(|info| info.id)
        .collect();
    assert_eq!(ids, std::slice::from_ref(&good));
    assert_eq!(
        rt.wait(&good, Some(LONG)).unwrap().status,
        ExitStatus::Code(0)
    );
    for id in [&torn, &foreign] {
        assert!(matches!(rt.info(id), Err(Error::UnknownProcess { .. })));
    }
}

#[test]
fn an_unwritable_state_directory_is_a_typed_error_naming_it() {
    let dirs = Dirs::new();
    let file = dirs.work.join("not-a-directory");
    fs::write(&file, b"").unwrap();
    match monitored(&file).build() {
        Err(error @ Error::Backend { .. }) => {
            let text = logist_core::error_chain(&error).to_string();
            assert!(text.contains(&file.display().to_string()), "{text}");
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
}

#[test]
fn a_write_blocked_on_a_run_that_does_not_read_never_blocks_terminate() {
    let guard = NoSurvivors::new();
    let dirs = Dirs::new();
    let rt = std::sync::Arc::new(monitored(&dirs.state).build().unwrap());
    let id = rt
        .spawn(
            &dirs
                .sh(&guard, "exec sleep 300", false)
                .stdin(StdinMode::Piped),
        )
        .unwrap();
    let writer = {
        let (rt, id) = (std::sync::Arc::clone(&rt), id.clone());
        logist_testing::spawn_blocked(move || rt.write_stdin(&id, &vec![b'x'; 4 << 20]))
    };
    assert!(
        !writer.is_finished(),
        "the pipe holds 64 KiB: the write blocks"
    );
    assert!(rt.terminate(&id, true).unwrap());
    assert_eq!(
        rt.wait(&id, Some(LONG)).unwrap().status,
        ExitStatus::Signal(libc::SIGKILL)
    );
    match writer.join().unwrap() {
        Err(Error::StdinClosed { .. }) => {}
        other => panic!("expected StdinClosed, got {other:?}"),
    }
}

#[test]
fn a_run_on_a_terminal_is_sized_written_and_closed_through_its_monitor() {
    let guard = NoSurvivors::new();
    let dirs = Dirs::new();
    let rt = monitored(&dirs.state).build().unwrap();
    let request = dirs
        .sh(
            &guard,
            "stty size; read x; echo \"got $x\"; stty size; cat; echo eof",
            true,
        )
        .terminal(logist_core::TerminalSize { rows: 24, cols: 80 });
    let id = rt.spawn(&request).unwrap();
    let text = read_until(&rt, &id, 0, |t| t.contains("24 80\r\n"));
    rt.resize_terminal(
        &id,
        logist_core::TerminalSize {
            rows: 30,
            cols: 100,
        },
    )
    .unwrap();
    rt.write_stdin(&id, b"hi\n").unwrap();
    let more = read_until(&rt, &id, text.len() as u64, |t| t.contains("30 100\r\n"));
    assert!(more.contains("got hi\r\n"), "{more:?}");
    rt.close_stdin(&id).unwrap();
    let done = rt.wait(&id, Some(LONG)).unwrap();
    assert!(done.status.success());
    assert!(
        done.logs.text().ends_with("eof\r\n"),
        "{:?}",
        done.logs.text()
    );
    assert!(matches!(
        rt.resize_terminal(&id, logist_core::TerminalSize { rows: 1, cols: 1 }),
        Err(Error::StdinClosed { .. })
    ));
    rt.remove(&id).unwrap();
}

#[test]
fn retention_removes_the_oldest_exited_runs_and_their_directories() {
    let guard = NoSurvivors::new();
    let dirs = Dirs::new();
    let rt = monitored(&dirs.state).retain_exited(1).build().unwrap();
    let mut ids = Vec::new();
    for code in 0..2 {
        let id = rt
            .spawn(&dirs.sh(&guard, &format!("exit {code}"), true))
            .unwrap();
        rt.wait(&id, Some(LONG)).unwrap();
        ids.push(id);
    }
    // The third spawn finds two exited runs and keeps one.
    ids.push(rt.spawn(&dirs.sh(&guard, "exec sleep 300", false)).unwrap());
    let dir = |id: &ProcessId| dirs.state.join("runs").join(id.as_str());
    assert!(matches!(
        rt.info(&ids[0]),
        Err(Error::UnknownProcess { .. })
    ));
    assert!(!dir(&ids[0]).exists());
    assert!(dir(&ids[1]).exists() && dir(&ids[2]).exists());
    assert!(rt.terminate(&ids[2], true).unwrap());
    for id in &ids[1..] {
        rt.remove(id).unwrap();
        assert!(!dir(id).exists());
    }
}

#[test]
fn an_attached_run_of_a_live_owner_is_not_adopted() {
    let guard = NoSurvivors::new();
    let dirs = Dirs::new();
    let owner = monitored(&dirs.state).build().unwrap();
    let id = owner
        .spawn(&dirs.sh(&guard, "exec sleep 300", false))
        .unwrap();
    {
        let adopter = monitored(&dirs.state).adopt(true).build().unwrap();
        assert!(adopter.list(&Default::default()).unwrap().is_empty());
        assert!(matches!(
            adopter.info(&id),
            Err(Error::UnknownProcess { .. })
        ));
    }
    assert!(owner.is_alive(&id).unwrap(), "the adopter left it alone");
    assert!(owner.terminate(&id, true).unwrap());
    owner.remove(&id).unwrap();
}
