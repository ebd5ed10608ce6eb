//! The test helpers of the Logist workspace, in one place: finding (or
//! building) the mock agent program, a guard that proves no process a test
//! started outlives it, a child killed on drop, waiting for a condition,
//! reading `/proc`, and running a test in a process of its own.
//!
//! This crate is never published. Crates of the workspace take it as a
//! dev-dependency without a version (`logist-testing.workspace = true`
//! under `[dev-dependencies]`), which packaging drops; a published crate
//! must never take it as a normal dependency. `logist-conformance`, which
//! is published and used by other people's runtime crates, therefore keeps
//! the few helpers its checks need to itself.
//!
//! - [`mock_program`], [`mock_agent`], [`build_mock_program`]: the mock
//!   agent program from any test (see [`mock`]); [`monitor_program`] the
//!   per-run monitor (see [`monitor`]).
//! - [`NoSurvivors`]: tags what a test starts, and fails the test when a
//!   tagged process is still running at the end.
//! - [`KillOnDrop`]: a [`std::process::Child`] that is killed and reaped
//!   when dropped, so a failing test leaves nothing behind.
//! - [`eventually`], [`eventually_within`]: poll a condition with a
//!   generous deadline instead of sleeping.
//! - [`proc`]: `/proc/<pid>/stat` parsed once ([`Stat`]), [`pid_alive`],
//!   this process's threads, resident memory and descriptors.
//! - [`spawn_blocked`]: a thread that is known to be blocked in a call
//!   before the test makes the call return.
//! - [`alone`]: re-runs the test binary for one test, for tests that
//!   measure the whole process.

mod alone;
mod child;
mod error;
pub mod mock;
pub mod monitor;
pub mod proc;
mod survivors;

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use alone::{ALONE_ENV, alone, test_name};
pub use child::KillOnDrop;
pub use error::BuildError;
pub use mock::{build_mock_program, mock_agent, mock_program};
pub use monitor::monitor_program;
pub use proc::{
    Stat, open_fds, pid_alive, processes_with_env, rss_kb, self_status, stays_asleep, thread_id,
};
pub use survivors::{NoSurvivors, Survivor, TEST_TAG_ENV, find_tagged};

/// The deadline for anything that should happen "soon": generous, so that
/// a loaded machine never fails a test that a fast one passes.
pub const LONG: Duration = Duration::from_secs(60);

/// Polls `condition` every few milliseconds until it holds.
///
/// # Panics
///
/// When it still does not hold after [`LONG`]; the message names `what`.
#[track_caller]
pub fn eventually(what: &str, condition: impl FnMut() -> bool) {
    eventually_within(LONG, what, condition);
}

/// Polls `condition` every few milliseconds until it holds.
///
/// # Panics
///
/// When it still does not hold after `deadline`; the message names `what`.
#[track_caller]
pub fn eventually_within(deadline: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + deadline;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `call` on a new thread and returns once that thread is blocked
/// inside it ([`stays_asleep`]), so that the caller can make the event the
/// call waits for happen knowing that it wakes a blocked call, rather than
/// one that had not started yet (which a sleep can only make likely).
/// Returns early when the call returns; callers check that it had not
/// (`!handle.is_finished()`).
///
/// # Panics
///
/// When the thread is not blocked within [`LONG`].
#[track_caller]
pub fn spawn_blocked<T: Send + 'static>(
    call: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let (tid_sender, tid) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        tid_sender
            .send(thread_id())
            .expect("the spawner waits for the id");
        call()
    });
    let tid = tid.recv().expect("the thread sends its id");
    eventually("the call blocks", || {
        handle.is_finished() || stays_asleep(tid)
    });
    handle
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eventually_returns_once_the_condition_holds() {
        let mut calls = 0;
        eventually("the third call", || {
            calls += 1;
            calls == 3
        });
        assert_eq!(calls, 3);
    }

    #[test]
    #[should_panic(expected = "timed out waiting until never")]
    fn eventually_fails_at_the_deadline() {
        eventually_within(Duration::from_millis(20), "never", || false);
    }
}
