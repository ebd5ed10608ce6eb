//! The per-check harness: a fresh runtime, helpers that wait for
//! conditions with generous deadlines, and the leftover check at the end.

use std::sync::mpsc;
use std::thread::{Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

use logist_core::{CommandLine, Completion, ProcessId, Runtime, SpawnRequest};

use crate::Fixture;

/// The deadline for anything that should happen "soon": generous, so that
/// a loaded machine never fails a check that a fast one passes.
pub const LONG: Duration = Duration::from_secs(60);

/// One check's runtime and helpers. Dropping it drops the runtime and then
/// fails the check if the fixture reports leftovers.
pub struct Harness<'a> {
    fixture: &'a dyn Fixture,
    runtime: Option<Box<dyn Runtime>>,
}

impl<'a> Harness<'a> {
    /// A fresh runtime from `fixture`.
    pub fn new(fixture: &'a dyn Fixture) -> Self {
        Self {
            fixture,
            runtime: Some(fixture.runtime()),
        }
    }

    /// A harness around `runtime`, made by the caller (the re-attach
    /// checks make every instance with their own factory).
    pub fn with_runtime(fixture: &'a dyn Fixture, runtime: Box<dyn Runtime>) -> Self {
        Self {
            fixture,
            runtime: Some(runtime),
        }
    }

    /// The runtime under test.
    ///
    /// # Panics
    ///
    /// Between [`drop_runtime`](Self::drop_runtime) and
    /// [`set_runtime`](Self::set_runtime).
    pub fn rt(&self) -> &dyn Runtime {
        self.runtime
            .as_deref()
            .expect("the harness holds a runtime")
    }

    /// Drops the runtime under test: from now until
    /// [`set_runtime`](Self::set_runtime), no instance exists.
    pub fn drop_runtime(&mut self) {
        drop(self.runtime.take());
    }

    /// Drops the runtime under test (if any), then makes its successor
    /// with `make`: the old instance is always gone before the new one is
    /// built.
    pub fn set_runtime(&mut self, make: impl FnOnce() -> Box<dyn Runtime>) {
        self.drop_runtime();
        self.runtime = Some(make());
    }

    /// The fixture.
    pub fn fixture(&self) -> &dyn Fixture {
        self.fixture
    }

    /// A shell command line.
    pub fn sh(&self, script: &str) -> CommandLine {
        self.fixture.shell(script)
    }

    /// Spawns, failing the check on error.
    #[track_caller]
    pub fn spawn(&self, request: &SpawnRequest) -> ProcessId {
        match self.rt().spawn(request) {
            Ok(id) => id,
            Err(error) => panic!("spawn of `{}` failed: {error}", request.command),
        }
    }

    /// Spawns `sh -c script`.
    #[track_caller]
    pub fn spawn_sh(&self, script: &str) -> ProcessId {
        self.spawn(&SpawnRequest::new(self.sh(script)))
    }

    /// Waits with the long deadline, failing the check on error.
    #[track_caller]
    pub fn wait(&self, id: &ProcessId) -> Completion {
        match self.rt().wait(id, Some(LONG)) {
            Ok(done) => done,
            Err(error) => panic!("wait for `{id}` failed: {error}"),
        }
    }

    /// Reads the combined output incrementally until `done` holds for all
    /// bytes read so far; returns them. Fails the check at the deadline or
    /// if the output ends first.
    #[track_caller]
    pub fn read_until(&self, id: &ProcessId, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let deadline = Instant::now() + LONG;
        let mut seen = Vec::new();
        let mut next = 0;
        while !done(&seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out; output so far: {:?}",
                String::from_utf8_lossy(&seen)
            );
            let read = self
                .rt()
                .read_output(id, next, Some(left))
                .expect("read_output");
            for chunk in &read.chunks {
                seen.extend_from_slice(&chunk.data);
            }
            next = read.next;
            if read.finished && !done(&seen) {
                panic!(
                    "output ended before the condition held: {:?}",
                    String::from_utf8_lossy(&seen)
                );
            }
        }
        seen
    }

    /// Polls `condition` (cheaply, every few milliseconds) until it holds;
    /// fails the check at the long deadline.
    #[track_caller]
    pub fn eventually(&self, what: &str, condition: impl Fn() -> bool) {
        let deadline = Instant::now() + LONG;
        while !condition() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Harness<'_> {
    fn drop(&mut self) {
        drop(self.runtime.take());
        // Killed processes vanish asynchronously; give them a moment.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut left = self.fixture.leftovers();
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            left = self.fixture.leftovers();
        }
        if !left.is_empty() && !std::thread::panicking() {
            panic!("the runtime left processes running after it was dropped: {left:?}");
        }
    }
}

/// Runs `call` on a new thread of `scope` and returns once that thread is
/// blocked inside it: asleep, twice in a row 20 ms apart, without waking in
/// between. The caller can then make the event the call waits for happen,
/// knowing that it wakes a blocked call (rather than one that had not
/// started yet, which a sleep can only make likely). Returns early if the
/// call returns; callers check that it had not.
///
/// # Panics
///
/// When the thread is not blocked within [`LONG`].
pub fn spawn_blocked<'scope, T: Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    call: impl FnOnce() -> T + Send + 'scope,
) -> ScopedJoinHandle<'scope, T> {
    let (tid_sender, tid) = mpsc::channel();
    let handle = scope.spawn(move || {
        tid_sender
            .send(thread_id())
            .expect("the spawner waits for the id");
        call()
    });
    let tid = tid.recv().expect("the thread sends its id");
    let deadline = Instant::now() + LONG;
    while !handle.is_finished() && !stays_asleep(tid) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting until the call blocks"
        );
    }
    handle
}

/// The calling thread's id, as in `/proc/self/task`.
fn thread_id() -> u32 {
    let link = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
    link.file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.parse().ok())
        .expect("a thread id")
}

/// True when the thread is asleep now and 20 ms later, without having
/// been switched in between (a thread that polls, or had not started to
/// wait yet, is seen running or with more switches).
fn stays_asleep(tid: u32) -> bool {
    let Some(before) = thread_sleep(tid) else {
        return false;
    };
    std::thread::sleep(Duration::from_millis(20));
    thread_sleep(tid).is_some_and(|after| after == before)
}

/// The count of context switches of a thread of this process, when it is
/// asleep (state `S`); `None` when it runs or is gone.
fn thread_sleep(tid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    if !stat[stat.rfind(')')? + 1..].trim_start().starts_with('S') {
        return None;
    }
    let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).ok()?;
    Some(
        status
            .lines()
            .filter(|line| line.contains("ctxt_switches:"))
            .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum(),
    )
}

/// Parses every `pid=N` in text.
pub(crate) fn pids(text: &[u8]) -> Vec<u32> {
    String::from_utf8_lossy(text)
        .split(|c: char| c.is_whitespace())
        .filter_map(|word| word.strip_prefix("pid="))
        .filter_map(|pid| pid.parse().ok())
        .collect()
}

/// Reads a number from `/proc/self/status` (`VmHWM`, `VmRSS`, `Threads`),
/// in the unit it is written in (kB for memory).
pub(crate) fn self_status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// Open descriptors of this process.
pub(crate) fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}
