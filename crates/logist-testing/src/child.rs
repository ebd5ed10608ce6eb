//! A child process that is killed when its handle is dropped.

use std::io;
use std::ops::{Deref, DerefMut};
use std::process::Child;
use std::time::{Duration, Instant};

/// A [`Child`] that is killed (SIGKILL) and reaped when dropped, so a test
/// that fails half-way leaves nothing running. Dereferences to the child.
#[derive(Debug)]
pub struct KillOnDrop {
    child: Child,
}

impl KillOnDrop {
    /// Takes charge of `child`.
    pub fn new(child: Child) -> Self {
        Self { child }
    }

    /// Waits for the child to exit, up to `timeout`; `None` when it is
    /// still running then (it keeps running).
    ///
    /// # Errors
    ///
    /// The operating system's error from `waitpid`.
    pub fn wait_timeout(
        &mut self,
        timeout: Duration,
    ) -> io::Result<Option<std::process::ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Deref for KillOnDrop {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.child
    }
}

impl DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Both fail only when the child was already reaped: nothing to do.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
