//! The spawner thread, used when children must die with the owning program.
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits,
//! not the process. Spawning from short-lived caller threads would kill
//! children early, so with that option every spawn is handed to this one
//! thread, which lives exactly as long as the runtime.

use std::io;
use std::process::{Child, Command};
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, bounded};

type Job = (Command, Sender<io::Result<Child>>);

/// Handle on the spawner thread.
#[derive(Debug)]
pub(crate) struct Spawner {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Spawner {
    pub(crate) fn start() -> io::Result<Self> {
        let (jobs, receiver) = crossbeam_channel::unbounded::<Job>();
        let thread = std::thread::Builder::new()
            .name("logist-host-spawner".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                for (mut command, reply) in receiver {
                    let _ = reply.send(command.spawn());
                }
            })?;
        Ok(Self {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Spawns `command` on the spawner thread and waits for the result.
    pub(crate) fn spawn(&self, command: Command) -> io::Result<Child> {
        let gone = || io::Error::other("the spawner thread has stopped");
        let (reply, result) = bounded(1);
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send((command, reply))
            .map_err(|_| gone())?;
        result.recv().map_err(|_| gone())?
    }

    /// Stops the thread once every queued spawn is done.
    pub(crate) fn shutdown(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
