//! Ctrl-C and friends. `logist` blocks SIGINT, SIGTERM and SIGHUP in every
//! thread before starting any, and one thread receives them with
//! `sigwait`: no signal handler, so nothing async-signal-unsafe can happen.
//! (Children start with an empty signal mask: the runtime resets it.)

use nix::sys::signal::{SigSet, Signal};

/// The signals `logist` handles.
pub(crate) struct Signals {
    set: SigSet,
}

/// Blocks the handled signals in the calling thread (and so in every
/// thread it starts afterwards).
pub(crate) fn block() -> Signals {
    let mut set = SigSet::empty();
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(signal);
    }
    // Only fails for an invalid `how`, which this is not.
    let _ = set.thread_block();
    Signals { set }
}

impl Signals {
    /// Starts the thread that waits for signals: the first calls `first`
    /// (in its own thread, since stopping politely takes the grace period),
    /// the second and later call `again`.
    pub(crate) fn watch(
        &self,
        first: impl FnOnce(i32) + Send + 'static,
        again: impl Fn() + Send + 'static,
    ) {
        let set = self.set;
        let mut first = Some(first);
        let spawned = std::thread::Builder::new()
            .name("logist-signals".into())
            .spawn(move || {
                loop {
                    let Ok(signal) = set.wait() else { continue };
                    match first.take() {
                        Some(first) => {
                            let number = signal as i32;
                            let _ = std::thread::Builder::new()
                                .name("logist-stop".into())
                                .spawn(move || first(number));
                        }
                        None => again(),
                    }
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot watch for signals; Ctrl-C will not stop the command cleanly");
        }
    }
}
