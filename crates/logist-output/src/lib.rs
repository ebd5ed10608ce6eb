//! The per-process record shared by Logist runtimes: the bounded output
//! buffer, the exit status, the end of output, the blocking waits on them,
//! and the bodies of the `Runtime` methods that read it.
//!
//! A runtime keeps one [`Record`] per process in a [`Table`], appends what
//! the process writes as it arrives, records the exit, and answers
//! `is_alive`, `get_logs`, `get_stream_logs`, `read_output`, `wait`, `info`
//! and `list` from the record. `HostRuntime`, `DockerRuntime` and
//! `MockRuntime` all do, so the output half of the `Runtime` contract lives
//! in one place and a new runtime writes only what is specific to it: how
//! it starts, feeds and stops a process.

mod buffer;
mod prefault;
mod record;

use std::sync::{Condvar, MutexGuard, PoisonError};
use std::time::Instant;

pub use buffer::{CHUNK_LEN, HANDOVER_LEN, OutputBuffer};
pub use prefault::prefault_spare;
pub use record::{MAX_READ, Record, RecordSettings, State, Table, Tracked};

/// Blocks on `changed` until `done` holds for the guarded state or
/// `deadline` passes (never, for `None`); returns the guard and whether
/// `done` holds. A poisoned lock is recovered: the state a runtime keeps is
/// updated in single steps, so a panicking holder cannot leave it half
/// changed.
///
/// ```
/// use std::sync::{Condvar, Mutex};
/// use std::time::{Duration, Instant};
///
/// let state = Mutex::new(3);
/// let changed = Condvar::new();
/// let guard = state.lock().unwrap();
/// let (guard, done) =
///     logist_output::wait_until(&changed, guard, Some(Instant::now() + Duration::from_millis(10)), |n| *n > 5);
/// assert!(!done);
/// assert_eq!(*guard, 3);
/// ```
pub fn wait_until<'a, T>(
    changed: &Condvar,
    mut guard: MutexGuard<'a, T>,
    deadline: Option<Instant>,
    done: impl Fn(&T) -> bool,
) -> (MutexGuard<'a, T>, bool) {
    while !done(&guard) {
        match deadline {
            None => guard = changed.wait(guard).unwrap_or_else(PoisonError::into_inner),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return (guard, false);
                }
                guard = changed
                    .wait_timeout(guard, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
    }
    (guard, true)
}

/// The README's examples, compiled and run as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
