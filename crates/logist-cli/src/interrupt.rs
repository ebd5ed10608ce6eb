//! What a signal to `logist` does to the run: the first stops the command
//! politely (and, on a terminal, says so and how to force it), a later one
//! kills it at once. See [`crate::signals`] for which signals count.

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use logist_core::{ProcessId, Runtime};
use logist_sentinel::{CancelHandle, Run};

use crate::signals::Signals;

/// Stops the run on a signal, until [`disarm`](Self::disarm)ed.
pub(crate) struct Interrupt {
    signal: Arc<AtomicI32>,
    // What a signal acts on, emptied when the run is over, so the signal
    // thread (which lives until the process exits) does not keep the
    // runtime alive: dropping it is what cleans up (a container runtime
    // removes its containers then).
    target: Arc<Mutex<Option<Target>>>,
}

struct Target {
    cancel: CancelHandle,
    runtime: Arc<dyn Runtime>,
    id: ProcessId,
}

impl Interrupt {
    /// Watches for signals to stop `run`'s command.
    pub(crate) fn arm(
        signals: &Signals,
        run: &Run,
        runtime: &Arc<dyn Runtime>,
        grace: Duration,
    ) -> Self {
        let interrupt = Self {
            signal: Arc::new(AtomicI32::new(0)),
            target: Arc::new(Mutex::new(None)),
        };
        let Some(id) = run.id().cloned() else {
            return interrupt;
        };
        *lock(&interrupt.target) = Some(Target {
            cancel: run.cancel_handle(),
            runtime: Arc::clone(runtime),
            id,
        });
        let flag = Arc::clone(&interrupt.signal);
        let first = Arc::clone(&interrupt.target);
        let again = Arc::clone(&interrupt.target);
        signals.watch(
            move |signal| {
                flag.store(signal, Ordering::SeqCst);
                let cancel = lock(&first).as_ref().map(|target| target.cancel.clone());
                let Some(cancel) = cancel else { return };
                if io::stderr().is_terminal() {
                    let mut err = io::stderr().lock();
                    let _ = writeln!(
                        err,
                        "\r\nlogist: stopping the command (SIGTERM, then SIGKILL after {:.1}s); \
                         press Ctrl-C again to kill it now",
                        grace.as_secs_f64()
                    );
                }
                if let Err(error) = cancel.cancel() {
                    tracing::warn!(%error, "stopping the command failed");
                }
            },
            move || {
                // A second request: no more patience.
                let forced = lock(&again)
                    .as_ref()
                    .map(|target| (Arc::clone(&target.runtime), target.id.clone()));
                if let Some((runtime, id)) = forced {
                    let _ = runtime.terminate(&id, true);
                }
            },
        );
        interrupt
    }

    /// The run is over: signals no longer act on it. Returns the signal
    /// that interrupted it, if one did.
    pub(crate) fn disarm(&self) -> Option<i32> {
        lock(&self.target).take();
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(signal),
        }
    }
}

fn lock(target: &Mutex<Option<Target>>) -> std::sync::MutexGuard<'_, Option<Target>> {
    target.lock().unwrap_or_else(PoisonError::into_inner)
}
