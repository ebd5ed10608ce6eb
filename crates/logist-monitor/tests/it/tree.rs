//! Stopping the whole tree: processes that ignore SIGTERM, and escapees
//! that left the session with a cleared environment.

use std::time::{Duration, Instant};

use logist_core::ExitStatus;
use logist_monitor::{Client, Ownership};

use crate::{DEADLINE, Fixture, alive, parent_of, read_pid, spec};

/// A tree whose main shell and a child ignore SIGTERM, plus a
/// double-forked `setsid env -i` escapee that ignores it too. Each writes
/// its pid to `<dir>/p0`, `p1`, `p2`.
pub(crate) fn stubborn_tree(dir: &std::path::Path) -> String {
    let d = dir.display();
    format!(
        "trap '' TERM
sh -c 'echo $$ > {d}/p1; exec sleep 300' &
(setsid env -i /bin/sh -c 'trap \"\" TERM; echo $$ > {d}/p2; exec sleep 300' > /dev/null 2>&1 &)
echo $$ > {d}/p0
printf 'ready> '
wait"
    )
}

#[test]
fn terminate_stops_a_tree_that_ignores_sigterm_and_its_escapees() {
    let mut fx = Fixture::new();
    let run = fx.start(&spec(
        &["sh", "-c", &stubborn_tree(fx.temp.path())],
        Ownership::Durable,
    ));
    let pids: Vec<i32> = ["p0", "p1", "p2"]
        .iter()
        .map(|p| read_pid(&fx.path(p)))
        .collect();
    for &pid in &pids {
        fx.track(pid);
    }
    let monitor = run.monitor().unwrap().unwrap();
    assert_eq!(monitor.run_pid, pids[0]);
    // The escapee was re-parented to the monitor, the subreaper.
    crate::wait_for("the escapee to be re-parented", DEADLINE, || {
        parent_of(pids[2]) == Some(monitor.monitor_pid)
    });
    let grace = Duration::from_millis(300);
    let began = Instant::now();
    Client::connect(&run)
        .unwrap()
        .terminate(Some(grace))
        .unwrap();
    let exit = logist_monitor::wait(&run, Some(DEADLINE)).unwrap();
    assert!(began.elapsed() >= grace);
    assert_eq!(exit.status, ExitStatus::Signal(9));
    for pid in pids {
        crate::wait_for(&format!("pid {pid} to die"), Duration::from_secs(2), || {
            !alive(pid)
        });
    }
    crate::wait_for("the monitor to end", DEADLINE, || {
        !run.monitor_alive().unwrap()
    });
}

#[test]
fn an_escapee_outliving_the_main_process_stays_stoppable() {
    let mut fx = Fixture::new();
    let d = fx.temp.path().display().to_string();
    let script = format!(
        "(setsid env -i /bin/sh -c 'echo $$ > {d}/p; exec sleep 300' > /dev/null 2>&1 &); \
         while [ ! -s {d}/p ]; do :; done; exit 4"
    );
    let run = fx.start(&spec(&["sh", "-c", &script], Ownership::Durable));
    let escapee = read_pid(&fx.path("p"));
    fx.track(escapee);
    let exit = logist_monitor::wait(&run, Some(DEADLINE)).unwrap();
    assert_eq!(exit.status, ExitStatus::Code(4));
    assert!(!exit.output_leaked);
    // The exit is recorded, but the monitor stays for the escapee.
    assert!(alive(escapee));
    assert!(run.monitor_alive().unwrap());
    Client::connect(&run)
        .unwrap()
        .terminate(Some(Duration::ZERO))
        .unwrap();
    crate::wait_for("the escapee to die", Duration::from_secs(2), || {
        !alive(escapee)
    });
    crate::wait_for("the monitor to end", DEADLINE, || {
        !run.monitor_alive().unwrap()
    });
}

#[test]
fn output_held_by_a_descendant_is_recorded_as_leaked() {
    let mut fx = Fixture::new();
    let d = fx.temp.path().display().to_string();
    let script = format!(
        "sh -c 'echo $$ > {d}/p; exec sleep 300' & while [ ! -s {d}/p ]; do :; done; echo bye"
    );
    let run = fx.start(&spec(&["sh", "-c", &script], Ownership::Durable));
    fx.track(read_pid(&fx.path("p")));
    let exit = logist_monitor::wait(&run, Some(DEADLINE)).unwrap();
    assert_eq!(exit.status, ExitStatus::Code(0));
    assert!(exit.output_leaked);
    assert_eq!(exit.log_end, 4);
}
