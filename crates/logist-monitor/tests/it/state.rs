//! The state directory: one owner, long paths, damaged files, lost runs.

use std::fs;
use std::time::Duration;

use logist_core::ExitStatus;
use logist_monitor::{Client, ClientError, LostReason, Ownership, RunState, StateDir, StateError};

use crate::{DEADLINE, Fixture, alive, read_pid, spec};

#[test]
fn one_owner_at_a_time() {
    let fx = Fixture::new();
    let first = fx.state.lock_owner().unwrap();
    let second = StateDir::open(fx.state.path()).unwrap().lock_owner();
    assert!(matches!(second, Err(StateError::Busy { .. })));
    drop(first);
    fx.state.lock_owner().unwrap();
}

#[test]
fn a_state_directory_of_another_layout_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    fs::write(temp.path().join("layout"), "logist-state 9\n").unwrap();
    let error = StateDir::open(temp.path()).unwrap_err();
    assert!(matches!(error, StateError::Damaged { .. }), "{error}");
}

#[test]
fn a_socket_path_longer_than_sun_path_still_works() {
    let temp = tempfile::tempdir().unwrap();
    let deep = format!("{}/{}", "d".repeat(60), "e".repeat(60));
    let mut fx = Fixture::in_dir(temp, &deep);
    let mut spec = spec(&["cat"], Ownership::Durable);
    spec.stdin_piped = true;
    let run = fx.start(&spec);
    assert!(run.path().join("ctl.sock").as_os_str().len() > 108);
    let mut client = Client::connect(&run).unwrap();
    client.write_stdin(b"through a long path").unwrap();
    client.close_stdin().unwrap();
    let exit = logist_monitor::wait(&run, Some(DEADLINE)).unwrap();
    assert_eq!(exit.status, ExitStatus::Code(0));
    assert_eq!(crate::log_by_channel(&run).0, b"through a long path");
}

#[test]
fn a_truncated_state_file_damages_only_its_run() {
    let mut fx = Fixture::new();
    let good = fx.start(&spec(&["true"], Ownership::Durable));
    let bad = fx.start(&spec(&["false"], Ownership::Durable));
    let worse = fx.start(&spec(&["true"], Ownership::Durable));
    for run in [&good, &bad, &worse] {
        logist_monitor::wait(run, Some(DEADLINE)).unwrap();
    }
    let exit = bad.path().join("exit.json");
    let text = fs::read(&exit).unwrap();
    fs::write(&exit, &text[..text.len() / 2]).unwrap();
    fs::write(worse.path().join("spec.json"), b"{\"layout\":1,\"argv\":").unwrap();
    let list = fx.state.list().unwrap();
    assert_eq!(list.len(), 3);
    for entry in list {
        if entry.id == good.id() {
            assert!(
                matches!(entry.state, Ok(RunState::Exited(ref r)) if r.status == ExitStatus::Code(0))
            );
        } else {
            let error = entry.state.unwrap_err();
            assert!(matches!(error, StateError::Damaged { .. }), "{error}");
        }
    }
    assert!(matches!(
        logist_monitor::wait(&bad, Some(DEADLINE)),
        Err(ClientError::State(StateError::Damaged { .. }))
    ));
}

#[test]
fn a_killed_monitor_makes_the_run_lost_and_its_group_is_stopped_on_adoption() {
    let mut fx = Fixture::new();
    let d = fx.temp.path().display().to_string();
    let script = format!("sleep 300 & echo $! > {d}/bg; exec sleep 300");
    let run = fx.start(&spec(&["sh", "-c", &script], Ownership::Durable));
    let background = read_pid(&fx.path("bg"));
    fx.track(background);
    let record = run.monitor().unwrap().unwrap();
    fx.track(record.run_pid);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(record.monitor_pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    crate::wait_for("the run to be lost", DEADLINE, || {
        matches!(run.state(), Ok(RunState::Lost { .. }))
    });
    match run.state().unwrap() {
        RunState::Lost { reason, monitor } => {
            assert_eq!(reason, LostReason::MonitorDied);
            assert_eq!(monitor, Some(record.clone()));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        logist_monitor::wait(&run, Some(DEADLINE)),
        Err(ClientError::Lost { .. })
    ));
    // The main process dies with its monitor; the rest of its group is
    // stopped when the run is adopted.
    crate::wait_for("the main process to die", DEADLINE, || {
        !alive(record.run_pid)
    });
    assert!(alive(background));
    assert!(run.kill_lost().unwrap());
    crate::wait_for("the group to die", Duration::from_secs(2), || {
        !alive(background)
    });
    assert!(run.exit().unwrap().is_none(), "no exit status is invented");
}

#[test]
fn a_client_of_another_protocol_version_is_told_and_disconnected() {
    use std::io::{Read, Write};
    let mut fx = Fixture::new();
    let run = fx.start(&spec(&["sleep", "30"], Ownership::Durable));
    let mut stream = std::os::unix::net::UnixStream::connect(run.path().join("ctl.sock")).unwrap();
    // Hello (kind 1) with version 99.
    stream.write_all(&[5, 0, 0, 0, 1, 99, 0, 0, 0]).unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let text = String::from_utf8_lossy(&reply[5..]);
    assert_eq!(reply[4], 66, "an error reply");
    assert!(
        text.contains("version 99") && text.contains("speaks 1"),
        "{text}"
    );
    // The run is untouched and still answers a current client.
    let mut client = Client::connect(&run).unwrap();
    assert_eq!(client.status().unwrap().exit, None);
}

#[test]
fn run_directories_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let mut fx = Fixture::new();
    let run = fx.start(&spec(&["true"], Ownership::Durable));
    logist_monitor::wait(&run, Some(DEADLINE)).unwrap();
    for dir in [fx.state.path().join("runs"), run.path().to_owned()] {
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.display());
    }
}

#[test]
fn a_run_is_removed_only_once_its_monitor_is_gone() {
    let mut fx = Fixture::new();
    let run = fx.start(&spec(&["sleep", "30"], Ownership::Durable));
    let error = run.clone().remove().unwrap_err();
    assert!(matches!(error, StateError::Busy { .. }), "{error}");
    Client::connect(&run)
        .unwrap()
        .terminate(Some(Duration::ZERO))
        .unwrap();
    logist_monitor::wait(&run, Some(DEADLINE)).unwrap();
    crate::wait_for("the monitor to end", DEADLINE, || {
        !run.monitor_alive().unwrap()
    });
    let id = run.id().to_owned();
    run.remove().unwrap();
    assert!(matches!(
        fx.state.run(&id),
        Err(StateError::UnknownRun { .. })
    ));
}

#[test]
fn sigterm_to_the_monitor_stops_the_run_and_records_it() {
    let mut fx = Fixture::new();
    let run = fx.start(&spec(&["sleep", "30"], Ownership::Durable));
    let record = run.monitor().unwrap().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(record.monitor_pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let exit = logist_monitor::wait(&run, Some(DEADLINE)).unwrap();
    assert_eq!(exit.status, ExitStatus::Signal(15));
    crate::wait_for("the monitor to end", DEADLINE, || {
        !run.monitor_alive().unwrap()
    });
}

#[test]
fn an_id_is_used_once() {
    let mut fx = Fixture::new();
    let spec = spec(&["true"], Ownership::Durable);
    let first =
        logist_monitor::start(&fx.state, &crate::program(), "same", &spec, &crate::env()).unwrap();
    fx.adopt(first.run.clone());
    let second = logist_monitor::start(&fx.state, &crate::program(), "same", &spec, &crate::env());
    assert!(matches!(
        second,
        Err(logist_monitor::StartError::State(StateError::Exists(ref id))) if id == "same"
    ));
    logist_monitor::wait(&first.run, Some(DEADLINE)).unwrap();
}
