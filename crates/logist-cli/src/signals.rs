//! Ctrl-C and friends. `logist` blocks SIGINT, SIGTERM and SIGHUP (and
//! SIGWINCH, for `--pty` on a terminal) in every thread before starting
//! any, and one thread per purpose receives them with `sigwait`: no signal
//! handler, so nothing async-signal-unsafe can happen. (Children start with
//! an empty signal mask: the runtime resets it.)
//!
//! Signals that arrive within [`SAME_REQUEST`] of the first one are that
//! same request: GNU `timeout -s INT` signals both `logist` and its process
//! group, so `logist` gets two signals microseconds apart, and that must
//! not skip the grace period. A signal after that forces: a person who
//! presses Ctrl-C again means it.

use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};

/// Signals this soon after the first one count as the same request.
pub(crate) const SAME_REQUEST: Duration = Duration::from_millis(250);

/// The signals `logist` handles.
pub(crate) struct Signals {
    stop: SigSet,
    resize: SigSet,
}

/// Blocks the handled signals in the calling thread (and so in every
/// thread it starts afterwards).
pub(crate) fn block() -> Signals {
    let mut stop = SigSet::empty();
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        stop.add(signal);
    }
    let mut resize = SigSet::empty();
    resize.add(Signal::SIGWINCH);
    // Only fails for an invalid `how`, which this is not. A blocked
    // SIGWINCH that nobody waits for stays pending, harmlessly.
    let _ = stop.thread_block();
    let _ = resize.thread_block();
    Signals { stop, resize }
}

impl Signals {
    /// Starts the thread that waits for stop signals: the first calls
    /// `first` (in its own thread, since stopping politely takes the grace
    /// period); those within [`SAME_REQUEST`] of it are ignored; later ones
    /// call `again`.
    pub(crate) fn watch(
        &self,
        first: impl FnOnce(i32) + Send + 'static,
        again: impl Fn() + Send + 'static,
    ) {
        let set = self.stop;
        let mut first = Some(first);
        let mut first_at: Option<Instant> = None;
        let spawned = std::thread::Builder::new()
            .name("logist-signals".into())
            .spawn(move || {
                loop {
                    let Ok(signal) = set.wait() else { continue };
                    match (first.take(), first_at) {
                        (Some(first), _) => {
                            first_at = Some(Instant::now());
                            let number = signal as i32;
                            let _ = std::thread::Builder::new()
                                .name("logist-stop".into())
                                .spawn(move || first(number));
                        }
                        (None, Some(at)) if at.elapsed() < SAME_REQUEST => {
                            tracing::debug!(?signal, "the same stop request again; ignored");
                        }
                        (None, _) => again(),
                    }
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot watch for signals; Ctrl-C will not stop the command cleanly");
        }
    }

    /// Starts the thread that calls `resized` on every SIGWINCH (the
    /// terminal `logist` runs on changed size).
    pub(crate) fn watch_resize(&self, resized: impl Fn() + Send + 'static) {
        let set = self.resize;
        let spawned = std::thread::Builder::new()
            .name("logist-winch".into())
            .spawn(move || {
                loop {
                    if set.wait().is_ok() {
                        resized();
                    }
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot watch for window size changes");
        }
    }
}
