//! The owner's side: starting a run through a new monitor, and talking to
//! the monitor of a run that is already running.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use logist_core::ExitStatus;
use nix::fcntl::OFlag;
use nix::sys::signal::Signal;

use crate::error::{ClientError, StartError};
use crate::log::{Channel, Chunk};
use crate::monitor::socket_path;
use crate::proto::{self, LentReply, PROTOCOL_VERSION, Reply, Request, SignalTarget, StatusReply};
use crate::state::{
    ExitRecord, Ownership, RunDir, RunSpec, RunState, StateDir, lock_file_exclusive,
};

/// How to start a monitor: a program, and leading arguments, that end up
/// calling [`crate::monitor_main`] with the monitor's own arguments.
#[derive(Clone, Debug)]
pub struct MonitorProgram {
    program: PathBuf,
    args: Vec<OsString>,
}

impl MonitorProgram {
    /// Runs `program` (for example the `logist-monitor` binary).
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
        }
    }

    /// Adds a leading argument (for a program that re-execs itself with a
    /// hidden subcommand, such as `logist __monitor`).
    #[must_use]
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// The program.
    pub fn program(&self) -> &Path {
        &self.program
    }
}

/// A run just started.
#[derive(Debug)]
pub struct Started {
    /// Its directory.
    pub run: RunDir,
    /// Its main process's pid.
    pub pid: i32,
    /// For an attached run, the owner's end of the pipe the monitor
    /// watches: dropping it (or dying) stops the run's whole tree.
    pub owner: Option<OwnedFd>,
}

/// Starts `spec` as run `id` in `state`, through a new monitor running
/// `program`, with `env` as the run's whole environment (it is never
/// written to disk). Returns once the run's program is executing.
///
/// # Errors
///
/// [`StartError::Spawn`] if the program could not be started (nothing is
/// left behind), [`StartError::Monitor`]/[`StartError::Setup`] if the
/// monitor could not, [`StartError::State`] if the run's files could not
/// be written.
pub fn start(
    state: &StateDir,
    program: &MonitorProgram,
    id: &str,
    spec: &RunSpec,
    env: &[(OsString, OsString)],
) -> Result<Started, StartError> {
    let mut spec = spec.clone();
    if spec.cwd.is_none() {
        spec.cwd = std::env::current_dir().ok();
    }
    let run = state.create_run(id, &spec)?;
    let result = launch(&run, program, &spec, env);
    if result.is_err() {
        let _ = fs::remove_dir_all(run.path());
    }
    result
}

fn launch(
    run: &RunDir,
    program: &MonitorProgram,
    spec: &RunSpec,
    env: &[(OsString, OsString)],
) -> Result<Started, StartError> {
    let monitor_error = |source| StartError::Monitor {
        program: program.program.clone(),
        source,
    };
    let lock = lock_file_exclusive(&run.path().join("monitor.lock"))?;
    let (ready_read, ready_write) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| monitor_error(e.into()))?;
    let (owner_read, owner) = match spec.ownership {
        Ownership::Attached => {
            let (read, write) =
                nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| monitor_error(e.into()))?;
            (Stdio::from(read), Some(write))
        }
        Ownership::Durable => (Stdio::null(), None),
    };

    // The three descriptors go in the standard slots, so std can start the
    // monitor with posix_spawn instead of forking this (maybe large) process.
    #[expect(
        clippy::disallowed_methods,
        reason = "starting the monitor is the host runtime's machinery for starting a run"
    )]
    let mut command = Command::new(absolute(&program.program));
    command
        .args(&program.args)
        .arg("--run-dir")
        .arg(run.path())
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir("/")
        .stdin(owner_read)
        .stdout(Stdio::from(lock))
        .stderr(Stdio::from(ready_write));
    if owner.is_some() {
        command.arg("--attached");
    }
    let mut child = command.spawn().map_err(monitor_error)?;
    // Our copies of the monitor's descriptors go with the command; the
    // lock stays held through the monitor's copy.
    drop(command);
    // The monitor forks and its first process exits at once.
    let status = child.wait().map_err(monitor_error)?;
    let mut message = String::new();
    File::from(ready_read)
        .read_to_string(&mut message)
        .map_err(monitor_error)?;
    let message = message.trim_end();
    if let Some(pid) = message.strip_prefix("ok ") {
        let pid = pid.parse().map_err(|_| StartError::Setup {
            run: run.id().to_owned(),
            message: format!("unexpected answer {message:?}"),
        })?;
        return Ok(Started {
            run: run.clone(),
            pid,
            owner,
        });
    }
    if let Some(rest) = message.strip_prefix("spawn ") {
        let errno = rest
            .split_once(' ')
            .and_then(|(errno, _)| errno.parse::<i32>().ok())
            .unwrap_or(0);
        let source = if errno > 0 {
            io::Error::from_raw_os_error(errno)
        } else {
            io::Error::other(rest.to_owned())
        };
        return Err(StartError::Spawn {
            program: spec.argv[0].clone(),
            source,
        });
    }
    let message = match message.strip_prefix("error ") {
        Some(message) => message.to_owned(),
        None if !message.is_empty() => message.to_owned(),
        None => {
            let diagnostics =
                fs::read_to_string(run.path().join("monitor.err")).unwrap_or_default();
            format!(
                "the monitor ended ({status}) without reporting: {}",
                diagnostics.trim()
            )
        }
    };
    Err(StartError::Setup {
        run: run.id().to_owned(),
        message,
    })
}

/// `program` made absolute against the current directory when it is a
/// relative path (`target/debug/logist-monitor`): the monitor is started
/// in `/`, where it would not be found. A bare name is looked up in `PATH`.
fn absolute(program: &Path) -> PathBuf {
    if program.is_absolute() || program.components().count() < 2 {
        return program.to_owned();
    }
    std::env::current_dir().map_or_else(|_| program.to_owned(), |dir| dir.join(program))
}

/// A connection to a run's monitor.
#[derive(Debug)]
pub struct Client {
    run: String,
    stream: UnixStream,
    pid: i32,
}

/// What a subscription delivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Logged output (or a gap).
    Output(Chunk),
    /// The exit is recorded.
    Exited {
        /// Code or signal.
        status: ExitStatus,
        /// The log's logical end at the exit.
        log_end: u64,
    },
}

/// A connection that receives output as it is logged, then the exit.
#[derive(Debug)]
pub struct Subscription {
    run: String,
    stream: UnixStream,
    /// The read timeout last set on the socket (`None`: none set yet), so
    /// it is set only when it changes rather than once per event.
    timeout: Option<Option<Duration>>,
    frames: proto::FrameReader,
}

/// What [`Subscription::next_lent`] delivers: an [`Event`] whose output
/// bytes are lent from the subscription's buffer until the next call.
#[derive(Debug, PartialEq, Eq)]
pub enum LentEvent<'a> {
    /// Logged output.
    Output {
        /// Where the bytes came from.
        channel: Channel,
        /// The logical offset of the first byte.
        offset: u64,
        /// The bytes.
        bytes: &'a [u8],
    },
    /// Bytes the log could not keep (disk full): `len` of them at `offset`.
    Gap {
        /// The logical offset of the first missing byte.
        offset: u64,
        /// How many are missing.
        len: u64,
    },
    /// The exit is recorded.
    Exited {
        /// Code or signal.
        status: ExitStatus,
        /// The log's logical end at the exit.
        log_end: u64,
    },
}

impl Client {
    /// Connects to the monitor of `run` and exchanges versions.
    ///
    /// # Errors
    ///
    /// [`ClientError::Io`] if nothing listens (the monitor has ended:
    /// look at [`RunDir::state`]), [`ClientError::Version`] if it speaks
    /// another protocol version.
    pub fn connect(run: &RunDir) -> Result<Self, ClientError> {
        let name = run.id().to_owned();
        let stream =
            socket_path(run.path(), |path| UnixStream::connect(path)).map_err(|source| {
                ClientError::Io {
                    run: name.clone(),
                    source,
                }
            })?;
        let mut client = Self {
            run: name,
            stream,
            pid: 0,
        };
        match client.call(&Request::Hello {
            version: PROTOCOL_VERSION,
        })? {
            Reply::Hello { version, pid } if version == PROTOCOL_VERSION => {
                client.pid = pid;
                Ok(client)
            }
            Reply::Hello { version, .. } => Err(ClientError::Version {
                run: client.run,
                theirs: version,
                ours: PROTOCOL_VERSION,
            }),
            other => Err(client.unexpected(&other)),
        }
    }

    /// The run's main process's pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The run's status as the monitor sees it.
    ///
    /// # Errors
    ///
    /// [`ClientError`] if the monitor cannot be asked.
    pub fn status(&mut self) -> Result<StatusReply, ClientError> {
        match self.call(&Request::Status)? {
            Reply::Status(status) => Ok(status),
            other => Err(self.unexpected(&other)),
        }
    }

    /// Reads logged output from `from`, at most about `max` bytes. Returns
    /// the chunks and the offset to read from next.
    ///
    /// # Errors
    ///
    /// [`ClientError`] if the monitor cannot be asked or cannot read its log.
    pub fn read(&mut self, from: u64, max: u32) -> Result<(Vec<Chunk>, u64), ClientError> {
        self.send(&Request::Read { from, max })?;
        let mut chunks = Vec::new();
        loop {
            match self.receive()? {
                Reply::ReadEnd { next } => return Ok((chunks, next)),
                Reply::Data {
                    channel,
                    offset,
                    bytes,
                } => chunks.push(Chunk {
                    channel,
                    offset,
                    bytes,
                    gap: 0,
                }),
                Reply::Gap { offset, len } => chunks.push(Chunk {
                    channel: Channel::Gap,
                    offset,
                    bytes: Vec::new(),
                    gap: len,
                }),
                other => return Err(self.unexpected(&other)),
            }
        }
    }

    /// Writes `bytes` to the run's stdin; returns once they are written to
    /// its pipe (or terminal).
    ///
    /// # Errors
    ///
    /// [`ClientError::Refused`] if stdin is closed or the run has none.
    pub fn write_stdin(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        for piece in bytes.chunks(proto::MAX_FRAME / 2) {
            self.expect_ok(&Request::WriteStdin(piece.to_vec()))?;
        }
        Ok(())
    }

    /// Closes the run's stdin (on a terminal: sends its end-of-file
    /// character).
    ///
    /// # Errors
    ///
    /// [`ClientError`] if the monitor cannot be asked.
    pub fn close_stdin(&mut self) -> Result<(), ClientError> {
        self.expect_ok(&Request::CloseStdin)
    }

    /// Resizes the run's terminal.
    ///
    /// # Errors
    ///
    /// [`ClientError::Refused`] if the run has no terminal.
    pub fn resize(&mut self, rows: u16, cols: u16) -> Result<(), ClientError> {
        self.expect_ok(&Request::Resize { rows, cols })
    }

    /// Sends `signal` to the main process, its group, or the whole tree.
    ///
    /// # Errors
    ///
    /// [`ClientError::Refused`] if the main process has exited (for
    /// `Leader`/`Group`).
    pub fn signal(&mut self, signal: Signal, target: SignalTarget) -> Result<(), ClientError> {
        self.expect_ok(&Request::Signal {
            signal: signal as i32,
            target,
        })
    }

    /// Starts stopping the whole tree: SIGTERM (and SIGCONT), then SIGKILL
    /// after `grace` (the run's default when `None`; at once when zero).
    /// Returns at once; [`wait`] for the exit.
    ///
    /// # Errors
    ///
    /// [`ClientError`] if the monitor cannot be asked.
    pub fn terminate(&mut self, grace: Option<Duration>) -> Result<(), ClientError> {
        self.expect_ok(&Request::Terminate {
            grace_ms: grace.map(|g| u64::try_from(g.as_millis()).unwrap_or(u64::MAX - 1)),
        })
    }

    /// Turns this connection into a subscription from `from` (use
    /// `u64::MAX` for the exit only).
    ///
    /// # Errors
    ///
    /// [`ClientError`] if the request cannot be sent.
    pub fn subscribe(mut self, from: u64) -> Result<Subscription, ClientError> {
        self.send(&Request::Subscribe { from })?;
        Ok(Subscription {
            run: self.run,
            stream: self.stream,
            timeout: None,
            frames: proto::FrameReader::new(),
        })
    }

    fn io(&self, source: io::Error) -> ClientError {
        ClientError::Io {
            run: self.run.clone(),
            source,
        }
    }

    fn unexpected(&self, reply: &Reply) -> ClientError {
        match reply {
            Reply::Error(message) => ClientError::Refused {
                run: self.run.clone(),
                message: message.clone(),
            },
            other => ClientError::Protocol {
                run: self.run.clone(),
                reason: format!("unexpected {other:?}"),
            },
        }
    }

    fn send(&mut self, request: &Request) -> Result<(), ClientError> {
        proto::write_frame(&mut self.stream, &request.encode()).map_err(|e| self.io(e))
    }

    fn receive(&mut self) -> Result<Reply, ClientError> {
        let body = proto::read_frame(&mut self.stream)
            .map_err(|e| self.io(e))?
            .ok_or_else(|| self.io(io::ErrorKind::UnexpectedEof.into()))?;
        Reply::decode(&body).map_err(|malformed| ClientError::Protocol {
            run: self.run.clone(),
            reason: malformed.0.to_owned(),
        })
    }

    fn call(&mut self, request: &Request) -> Result<Reply, ClientError> {
        self.send(request)?;
        self.receive()
    }

    fn expect_ok(&mut self, request: &Request) -> Result<(), ClientError> {
        match self.call(request)? {
            Reply::Ok => Ok(()),
            other => Err(self.unexpected(&other)),
        }
    }
}

impl Subscription {
    /// The next event, waiting at most `timeout` (forever for `None`).
    /// `Ok(None)` when the monitor closed the connection. A connection
    /// that ends (or is reset) before [`Event::Exited`] means the monitor
    /// ended: [`RunDir::state`] and the log on disk then tell the rest.
    ///
    /// # Errors
    ///
    /// [`ClientError::Timeout`] when nothing came in time.
    pub fn next(&mut self, timeout: Option<Duration>) -> Result<Option<Event>, ClientError> {
        Ok(self.next_lent(timeout)?.map(|event| match event {
            LentEvent::Output {
                channel,
                offset,
                bytes,
            } => Event::Output(Chunk {
                channel,
                offset,
                bytes: bytes.to_vec(),
                gap: 0,
            }),
            LentEvent::Gap { offset, len } => Event::Output(Chunk {
                channel: Channel::Gap,
                offset,
                bytes: Vec::new(),
                gap: len,
            }),
            LentEvent::Exited { status, log_end } => Event::Exited { status, log_end },
        }))
    }

    /// [`next`](Self::next), lending the output's bytes instead of copying
    /// them into a [`Chunk`]: for a reader that copies them into a record
    /// of its own anyway.
    ///
    /// # Errors
    ///
    /// As [`next`](Self::next).
    pub fn next_lent(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<LentEvent<'_>>, ClientError> {
        let run = self.run.clone();
        let io = |source| ClientError::Io {
            run: run.clone(),
            source,
        };
        let timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
        if self.timeout != Some(timeout) {
            self.stream.set_read_timeout(timeout).map_err(io)?;
            self.timeout = Some(timeout);
        }
        let body = match self.frames.next(&mut self.stream) {
            Ok(Some(body)) => body,
            Ok(None) => return Ok(None),
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(ClientError::Timeout { run });
            }
            Err(error) => return Err(io(error)),
        };
        let protocol = |reason: String| ClientError::Protocol {
            run: run.clone(),
            reason,
        };
        let reply = match LentReply::decode(body).map_err(|m| protocol(m.0.to_owned()))? {
            LentReply::Data {
                channel,
                offset,
                bytes,
            } => {
                return Ok(Some(LentEvent::Output {
                    channel,
                    offset,
                    bytes,
                }));
            }
            LentReply::Other(reply) => reply,
        };
        match reply {
            Reply::Gap { offset, len } => Ok(Some(LentEvent::Gap { offset, len })),
            Reply::Exited { status, log_end } => Ok(Some(LentEvent::Exited { status, log_end })),
            Reply::Error(message) => Err(ClientError::Refused { run, message }),
            other => Err(protocol(format!("unexpected {other:?}"))),
        }
    }

    /// The socket, for polling it along with other descriptors.
    pub fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

/// Waits until `run` has ended and returns its exit record.
///
/// # Errors
///
/// [`ClientError::Lost`] if its monitor is gone without an exit record,
/// [`ClientError::Timeout`] if `timeout` passes first.
pub fn wait(run: &RunDir, timeout: Option<Duration>) -> Result<ExitRecord, ClientError> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        match run.state()? {
            RunState::Exited(record) => return Ok(record),
            RunState::Lost { .. } => {
                return Err(ClientError::Lost {
                    run: run.id().to_owned(),
                });
            }
            RunState::Starting | RunState::Running(_) => {}
        }
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if remaining.is_some_and(|r| r.is_zero()) {
            return Err(ClientError::Timeout {
                run: run.id().to_owned(),
            });
        }
        match Client::connect(run).and_then(|client| client.subscribe(u64::MAX)) {
            Ok(mut subscription) => loop {
                let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                match subscription.next(remaining) {
                    // The record is on disk before the event is sent.
                    Ok(Some(Event::Exited { .. })) | Ok(None) => break,
                    Ok(Some(Event::Output(_))) => {}
                    Err(ClientError::Timeout { run }) => return Err(ClientError::Timeout { run }),
                    Err(_) => break,
                }
            },
            // Gone (the state says how it ended), or not listening yet:
            // then a short pause so a starting monitor is not spun on.
            Err(_) => {
                if matches!(run.state()?, RunState::Starting | RunState::Running(_)) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
}
