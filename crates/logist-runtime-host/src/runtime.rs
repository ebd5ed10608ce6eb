//! `HostRuntime`: the `Runtime` contract for processes on this machine.

use std::fs::{self, File};
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use logist_core::{
    Completion, Error, Labels, Logs, OutputRead, ProcessId, ProcessInfo, Runtime, SpawnRequest,
    StdinMode, Stream, TerminalSize,
};
use logist_monitor::{MonitorProgram, OwnerLock, Ownership, RunSpec, StartError, StateDir};
use logist_output::{Record, RecordSettings, Table};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::{AccessFlags, Pid, access, getpgid};

use crate::keeper::Keeper;
use crate::launch::{self, Launch, launch};
use crate::monitored::{self, Monitored};
use crate::process::Process;
use crate::reactor::{ExitWatch, ReactorHandle, Registration};
use crate::spawner::Spawner;
use crate::sys;
use crate::tree::{self, Query};

/// How long `terminate` waits for SIGKILL to take effect before returning.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// Rounds of "scan, kill" against a tree that keeps forking.
const KILL_ROUNDS: usize = 8;

/// Settings of a [`HostRuntime`]; build one with [`HostRuntime::builder`].
#[derive(Clone, Debug)]
pub struct HostRuntimeBuilder {
    grace: Duration,
    output_cap: usize,
    leak_window: Duration,
    log_dir: Option<PathBuf>,
    retain_exited: Option<usize>,
    kill_on_parent_death: bool,
    raise_fd_limit: bool,
    backpressure: bool,
    state_dir: Option<PathBuf>,
    monitor_program: Option<MonitorProgram>,
    adopt: bool,
    keeper: bool,
}

impl Default for HostRuntimeBuilder {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(5),
            output_cap: 8 * 1024 * 1024,
            leak_window: Duration::from_millis(500),
            log_dir: None,
            retain_exited: None,
            kill_on_parent_death: false,
            raise_fd_limit: true,
            backpressure: false,
            state_dir: None,
            monitor_program: None,
            adopt: false,
            keeper: true,
        }
    }
}

impl HostRuntimeBuilder {
    /// Default grace period between SIGTERM and SIGKILL (5 s). A
    /// [`SpawnRequest::grace`] overrides it per process.
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Bytes of output kept in memory per process (8 MiB). Past it the
    /// oldest bytes are dropped and counted; use [`log_dir`](Self::log_dir)
    /// to keep every byte.
    #[must_use]
    pub fn output_cap(mut self, bytes: usize) -> Self {
        self.output_cap = bytes;
        self
    }

    /// How long, after a process exits, to wait for descendants that still
    /// hold its output open before `wait` returns anyway (500 ms).
    #[must_use]
    pub fn leak_window(mut self, window: Duration) -> Self {
        self.leak_window = window;
        self
    }

    /// Write every byte of each process's combined output to
    /// `<dir>/<id>.log`. A write failure (disk full) stops the file with a
    /// warning; the run and the in-memory output go on.
    #[must_use]
    pub fn log_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.log_dir = Some(dir.into());
        self
    }

    /// Keep at most this many exited processes; the oldest beyond it are
    /// removed automatically at the next spawn. By default exited processes
    /// are kept until [`Runtime::remove`].
    #[must_use]
    pub fn retain_exited(mut self, count: usize) -> Self {
        self.retain_exited = Some(count);
        self
    }

    /// Start children through the keeper (on by default): one helper
    /// process per runtime, forked when the runtime is built, that starts
    /// every child and is the subreaper of their trees. When the runtime is
    /// dropped, or the program owning it dies by any signal (SIGKILL
    /// included), the keeper kills every descendant still running,
    /// double-forked daemons with a cleared environment included, and
    /// exits. Group signals go through it, so a recycled pid is never
    /// signalled. Output still goes straight from the child to this
    /// program. Off: children are this program's own, and descendants that
    /// both left the process group and cleared their environment are out
    /// of reach (see [`kill_on_parent_death`](Self::kill_on_parent_death)).
    /// Without glibc's `posix_spawn` (musl) there is no keeper. A runtime
    /// with a [state directory](Self::state_dir) does not use it: each
    /// run's monitor plays that part. The fork copies this program's page
    /// tables once; under strict memory overcommit
    /// (`vm.overcommit_memory=2`) a large program's fork can fail, and
    /// [`build`](Self::build) then returns an error that names this option.
    #[must_use]
    pub fn keeper(mut self, enabled: bool) -> Self {
        self.keeper = enabled;
        self
    }

    /// Without the [keeper](Self::keeper): make each child receive SIGKILL
    /// if the program owning the runtime dies (even by SIGKILL). Children
    /// are then spawned from a dedicated thread that lives as long as the
    /// runtime, because the kernel ties this to the spawning thread. Off by
    /// default: it costs a thread and the faster `posix_spawn` path. It
    /// reaches direct children only. With the keeper it is not needed and
    /// not used.
    #[must_use]
    pub fn kill_on_parent_death(mut self, enabled: bool) -> Self {
        self.kill_on_parent_death = enabled;
        self
    }

    /// Never drop unread output: while a running process has
    /// [`output_cap`](Self::output_cap) bytes that no
    /// [`Runtime::read_output`] call has returned yet, stop reading its
    /// pipes, so it blocks on them as it would writing to any slow reader.
    /// Off by default (the buffer then drops the oldest bytes and counts
    /// them). Turn it on when one reader must see every byte, as the
    /// `logist` CLI does to pass output through. With it on, a process whose
    /// output nobody reads stops once the cap is reached, and after it exits
    /// the rest of its output stays in the pipe until read: `wait` returns
    /// once the output was read to its end, so read it (`read_output` until
    /// `finished`) rather than only waiting. The position that counts is the
    /// furthest any reader got.
    #[must_use]
    pub fn backpressure(mut self, enabled: bool) -> Self {
        self.backpressure = enabled;
        self
    }

    /// Raise this process's soft limit on open files to the hard limit when
    /// the runtime is built (on by default), so a thousand children with
    /// three descriptors each fit.
    #[must_use]
    pub fn raise_fd_limit(mut self, enabled: bool) -> Self {
        self.raise_fd_limit = enabled;
        self
    }

    /// Runs go through a per-run logist-monitor and are recorded under
    /// `dir` (created if missing).
    ///
    /// Each run then has a small monitor process of its own (see
    /// `docs/durable-runs.md`): it is the run's parent and subreaper, logs
    /// every byte to disk and records the exit. A run is *attached* (the
    /// default: this runtime holds its owner pipe, and dropping the runtime
    /// or any death of this process, SIGKILL included, stops the whole
    /// tree, escapees included) or *durable* ([`SpawnRequest::durable`]:
    /// it outlives this process and a later runtime [`adopt`](Self::adopt)s
    /// it). Process ids are the runs' ids (their directories' names).
    /// Starting a run this way costs more than the in-process path (one
    /// more exec and fork; measured in `docs/durable-runs.md`), which stays
    /// the default without a state directory.
    #[must_use]
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// How to start the monitor. Default: `logist-monitor` next to the
    /// current executable, else on `PATH`.
    #[must_use]
    pub fn monitor_program(mut self, program: MonitorProgram) -> Self {
        self.monitor_program = Some(program);
        self
    }

    /// At build, take the state directory's owner lock and adopt its runs
    /// (default false).
    ///
    /// Adopted: runs that exited (status and log), running durable runs
    /// (followed from now on, their whole log readable), and lost runs
    /// (their monitor died without recording an exit: what is left of
    /// their process group is killed, [`Runtime::info`] reports
    /// [`ProcessState::Lost`](logist_core::ProcessState::Lost) and
    /// [`Runtime::wait`] answers [`Error::Lost`]). Attached runs whose
    /// monitor lives belong to another live owner and are left alone; a
    /// run whose files are damaged is skipped with a warning. The lock is
    /// held as long as the runtime lives; a second adopter of the same
    /// directory gets [`Error::Backend`] whose source is
    /// [`StateError::Busy`](logist_monitor::StateError::Busy).
    #[must_use]
    pub fn adopt(mut self, adopt: bool) -> Self {
        self.adopt = adopt;
        self
    }

    /// Starts the runtime's reactor thread.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the thread or its epoll and eventfd descriptors
    /// cannot be created, or the log directory cannot be created;
    /// [`Error::Backend`] when the state directory cannot be opened or (to
    /// adopt) locked: another process owns it, see [`adopt`](Self::adopt);
    /// [`Error::Unsupported`] for `adopt` without a state directory.
    pub fn build(self) -> Result<HostRuntime, Error> {
        let state = match &self.state_dir {
            Some(dir) => Some(StateDir::open(dir).map_err(|error| {
                Error::backend(
                    "host",
                    format!("opening the state directory `{}`", dir.display()),
                    error,
                )
            })?),
            None if self.adopt => {
                return Err(Error::unsupported(
                    "host",
                    "adopting runs without a state directory (HostRuntimeBuilder::state_dir)",
                ));
            }
            None => None,
        };
        let owner_lock = match &state {
            Some(state) if self.adopt => Some(state.lock_owner().map_err(|error| {
                Error::backend(
                    "host",
                    format!(
                        "adopting the runs of `{}` (another process owns it)",
                        state.path().display()
                    ),
                    error,
                )
            })?),
            _ => None,
        };
        if self.raise_fd_limit
            && let Err(error) = sys::raise_nofile_limit()
        {
            tracing::debug!(%error, "cannot raise the open-file limit");
        }
        if let Some(dir) = &self.log_dir {
            fs::create_dir_all(dir).map_err(|error| {
                Error::io(format!("creating log directory `{}`", dir.display()), error)
            })?;
        }
        let keeper = if self.keeper && state.is_none() && cfg!(target_env = "gnu") {
            Some(Keeper::start().map_err(|error| {
                // A fork can fail where a spawn would not (strict overcommit
                // and a large program): say how to do without it.
                Error::io(
                    "starting the keeper process (HostRuntimeBuilder::keeper(false) starts \
                     children without it)",
                    error,
                )
            })?)
        } else {
            None
        };
        let backpressure = self.backpressure.then_some(self.output_cap);
        let reactor = ReactorHandle::start(self.leak_window, backpressure)
            .map_err(|error| Error::io("starting the reactor thread", error))?;
        let spawner = if self.kill_on_parent_death && keeper.is_none() {
            Some(
                Spawner::start()
                    .map_err(|error| Error::io("starting the spawner thread", error))?,
            )
        } else {
            None
        };
        // 48 random bits per runtime: ids and cookies never repeat across
        // instances or restarts of the program.
        let tag = format!("{:012x}", RandomState::new().hash_one(Instant::now()) >> 16);
        let monitor_program = self
            .monitor_program
            .clone()
            .unwrap_or_else(monitored::default_monitor_program);
        let runtime = HostRuntime {
            cookie_name: format!("LOGIST_TREE_{tag}"),
            tag,
            config: self,
            next_seq: AtomicU64::new(0),
            processes: Table::new(),
            reactor: Mutex::new(reactor),
            spawner,
            state,
            _owner_lock: owner_lock,
            monitor_program,
            monitored: Table::new(),
            keeper,
        };
        if runtime._owner_lock.is_some()
            && let Some(state) = &runtime.state
        {
            let adopted = monitored::adopt(
                state,
                || runtime.next_seq.fetch_add(1, Ordering::Relaxed) + 1,
                runtime.record_settings(),
            )?;
            tracing::info!(dir = %state.path().display(), runs = adopted.runs.len(), "adopted the state directory's runs");
            for run in adopted.runs {
                runtime.monitored.insert(run);
            }
        }
        Ok(runtime)
    }
}

/// Runs processes on this machine under the [`Runtime`] contract.
///
/// Each child runs in its own process group (or its own session on a
/// pseudo-terminal) with stdin from `/dev/null` unless asked otherwise. Its
/// stdout and stderr are read as bytes the moment they arrive by one
/// reactor thread per runtime, into a bounded per-process buffer.
/// `terminate` signals the group and any descendant that left it (found by
/// an environment cookie, see the crate docs), waits the grace period, then
/// kills what is left. Dropping the runtime stops every child it still
/// owns.
///
/// Built with a [state directory](HostRuntimeBuilder::state_dir), it
/// starts each run through a per-run monitor instead, and durable runs
/// outlive it:
///
/// ```no_run
/// use logist_core::{CommandLine, Runtime, SpawnRequest};
/// use logist_runtime_host::HostRuntime;
///
/// let state = "/var/lib/my-orchestrator/runs";
/// let id = {
///     let runtime = HostRuntime::builder().state_dir(state).build()?;
///     let request = SpawnRequest::new(CommandLine::new(["my-agent", "--task", "42"])?);
///     runtime.spawn(&request.durable(true))?
///     // Dropping the runtime (or this process dying) leaves the run going.
/// };
/// let runtime = HostRuntime::builder().state_dir(state).adopt(true).build()?;
/// let done = runtime.wait(&id, None)?; // its exact status, its whole output
/// println!("{:?}: {}", done.status, done.logs.text());
/// # Ok::<(), logist_core::Error>(())
/// ```
///
/// ```
/// use std::time::Duration;
/// use logist_core::{CommandLine, Runtime, SpawnRequest};
/// use logist_runtime_host::HostRuntime;
///
/// let runtime = HostRuntime::new()?;
/// let id = runtime.spawn(&SpawnRequest::new(CommandLine::new(["sh", "-c", "echo hi; exit 3"])?))?;
/// let done = runtime.wait(&id, Some(Duration::from_secs(30)))?;
/// assert_eq!(done.status.code(), Some(3));
/// assert_eq!(done.logs.text(), "hi\n");
/// runtime.remove(&id)?;
/// # Ok::<(), logist_core::Error>(())
/// ```
#[derive(Debug)]
pub struct HostRuntime {
    config: HostRuntimeBuilder,
    tag: String,
    cookie_name: String,
    next_seq: AtomicU64,
    processes: Table<Process>,
    reactor: Mutex<ReactorHandle>,
    spawner: Option<Spawner>,
    /// The state directory, when runs go through monitors.
    state: Option<StateDir>,
    /// Held while this runtime owns (has adopted) the state directory.
    _owner_lock: Option<OwnerLock>,
    monitor_program: MonitorProgram,
    /// Runs behind a monitor, by run id.
    monitored: Table<Monitored>,
    /// The keeper, parent of every child started here; dropped last (it
    /// then kills whatever is left).
    keeper: Option<Keeper>,
}

impl std::fmt::Debug for ReactorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReactorHandle")
    }
}

impl HostRuntime {
    /// A runtime with the default settings.
    ///
    /// # Errors
    ///
    /// See [`HostRuntimeBuilder::build`].
    pub fn new() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// Settings for a new runtime.
    pub fn builder() -> HostRuntimeBuilder {
        HostRuntimeBuilder::default()
    }

    /// The environment variable every child and its descendants carry, whose
    /// value is the child's sequence number. It is how `terminate` finds
    /// descendants that left the process group. Durable runs (which must
    /// outlive the runtime's clean-up) carry `<name>_DURABLE` instead.
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// The pid of the [keeper](HostRuntimeBuilder::keeper), when children
    /// are started through one: for diagnostics, or to place it (and with
    /// it every child) in a cgroup.
    pub fn keeper_pid(&self) -> Option<u32> {
        self.keeper.as_ref().map(Keeper::pid)
    }

    /// Sends `signal` to the process's whole tree: its group while the child
    /// is unreaped (so the group id cannot have been recycled), and through
    /// verified pidfds to every descendant outside the group. SIGCONT
    /// follows a polite signal so that stopped processes can act on it.
    /// Returns pidfds of every member found, for waiting, and whether
    /// anything was signalled.
    fn signal_tree(
        &self,
        process: &Process,
        signal: Signal,
    ) -> Result<(bool, Vec<(tree::Proc, OwnedFd)>), Error> {
        let polite = signal != Signal::SIGKILL;
        let group = Pid::from_raw(process.pid);
        // The tree is found before anything is signalled: once the group
        // dies, descendants that left it are re-parented, and only the
        // cookie still finds them (which a process in the middle of exec
        // briefly does not show).
        let root_alive = process.record.is_alive();
        let found = tree::scan(&Query {
            cookie: &process.cookie,
            cookie_is_prefix: false,
            root: root_alive.then_some(process.pid),
            not_before: process.spawn_ticks,
        });
        let pinned = tree::pin(&found);
        // Whether the group got the signal: not once the child is reaped
        // (by us, or by the keeper before its report reached us).
        let alive = {
            let state = process.record.lock();
            let mut sent = false;
            if state.status.is_none() {
                sent = self.signal_group(process, signal)?;
                if polite && sent {
                    self.signal_group(process, Signal::SIGCONT)?;
                }
            }
            sent
        };
        // Group members already got the group signal; a second one could
        // read as "hurry up" to programs that escalate on repeated signals.
        // Membership is read again now, after the group signal: a process
        // the scan saw in the group may have left it (setsid) since, and
        // then the group signal missed it.
        let outside: Vec<&OwnedFd> = pinned
            .iter()
            .filter(|(proc, _)| !(alive && in_group_now(proc.pid, group)))
            .map(|(_, pidfd)| pidfd)
            .collect();
        let sent = tree::signal_all(outside.iter().copied(), signal).map_err(|error| {
            Error::io(
                format!("signalling descendants of `{}`", process.record.id),
                error,
            )
        })?;
        if polite {
            let _ = tree::signal_all(outside.iter().copied(), Signal::SIGCONT);
        }
        if sent > 0 {
            tracing::info!(id = %process.record.id, count = sent, %signal, "signalled descendants outside the process group");
        }
        Ok((alive || !pinned.is_empty(), pinned))
    }

    /// Sends `signal` to the process group of a child whose status is not
    /// recorded yet (the caller holds its lock). Through the keeper when it
    /// started the child: only the keeper knows whether it reaped it.
    /// Returns whether the signal was sent (not if the keeper has reaped
    /// the child: its report is on the way, and the group id may be free).
    fn signal_group(&self, process: &Process, signal: Signal) -> Result<bool, Error> {
        let Some(keeper) = &self.keeper else {
            send_to_group(Pid::from_raw(process.pid), signal, &process.record.id)?;
            return Ok(true);
        };
        keeper.signal_group(process.pid, signal).map_err(|error| {
            Error::io(format!("signalling process `{}`", process.record.id), error)
        })
    }

    /// SIGKILL to the tree until nothing of it is left (bounded rounds).
    fn kill_tree(&self, process: &Process) -> Result<bool, Error> {
        let mut any = false;
        for _ in 0..KILL_ROUNDS {
            let (signalled, pinned) = self.signal_tree(process, Signal::SIGKILL)?;
            if !signalled {
                break;
            }
            any = true;
            tree::wait_all(&pinned, Instant::now() + Duration::from_secs(1));
        }
        Ok(any)
    }

    fn monitored_run(&self, id: &ProcessId) -> Option<Arc<Monitored>> {
        self.monitored.get(id).ok()
    }

    fn record_settings(&self) -> RecordSettings {
        RecordSettings {
            grace: self.config.grace,
            output_cap: self.config.output_cap,
        }
    }

    /// Starts `request` through a new monitor in `state`.
    fn spawn_monitored(
        &self,
        request: &SpawnRequest,
        state: &StateDir,
    ) -> Result<ProcessId, Error> {
        let program = request.command.program();
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed) + 1;
        let id = logist_monitor::new_run_id();
        // The monitor finds the run's tree by parentage, not by the cookie.
        // An attached run carries it all the same, as a second net when the
        // runtime is dropped (and a mark for tests); a durable one must
        // not, or dropping the runtime would stop it as a stray: it gets
        // `<cookie name>_DURABLE` instead.
        let durable_cookie = format!("{}_DURABLE", self.cookie_name);
        let cookie = if request.durable {
            (durable_cookie.as_str(), seq.to_string())
        } else {
            (self.cookie_name.as_str(), seq.to_string())
        };
        let env: Vec<_> = launch::environment(request, &cookie).into_iter().collect();
        let spec = RunSpec {
            argv: request.command.argv().to_vec(),
            cwd: request.cwd.clone(),
            terminal: request.terminal.map(|size| (size.rows, size.cols)),
            stdin_piped: request.stdin == StdinMode::Piped,
            ownership: if request.durable {
                Ownership::Durable
            } else {
                Ownership::Attached
            },
            grace: request.grace.unwrap_or(self.config.grace),
            leak_window: self.config.leak_window,
            segment_bytes: monitored::SEGMENT_BYTES,
            created_unix_ms: u64::try_from(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis(),
            )
            .unwrap_or(u64::MAX),
            labels: request.labels.clone(),
        };
        let started = logist_monitor::start(state, &self.monitor_program, &id, &spec, &env)
            .map_err(|error| match error {
                StartError::Spawn { source, .. } => launch::spawn_error(program, source),
                error => Error::backend(
                    "host",
                    format!("starting `{program}` through a monitor"),
                    error,
                ),
            })?;
        let process = Arc::new(Monitored::new(monitored::Parts {
            run: started.run,
            spec,
            pid: Some(started.pid),
            owner: started.owner,
            seq,
            settings: self.record_settings(),
        })?);
        self.monitored.insert(Arc::clone(&process));
        if let Err(error) = process.follow(0) {
            // Not followed, it could not be waited for: stop it.
            let _ = process.terminate(true);
            process.release();
            self.monitored.remove(&process.record.id);
            return Err(error);
        }
        tracing::info!(%id, pid = started.pid, program, durable = request.durable, "spawned through a monitor");
        self.evict_exited();
        Ok(ProcessId::new(id))
    }

    fn evict_exited(&self) {
        let Some(keep) = self.config.retain_exited else {
            return;
        };
        let mut exited = self.processes.all();
        exited.retain(|process| !process.record.is_alive());
        if exited.len() > keep {
            for process in &exited[..exited.len() - keep] {
                let _ = self.remove(&process.record.id);
            }
        }
        // Runs behind monitors too: removing one deletes its directory.
        let mut exited = self.monitored.all();
        exited.retain(|run| !run.is_alive());
        if exited.len() > keep {
            for run in &exited[..exited.len() - keep] {
                let _ = self.remove(&run.record.id);
            }
        }
    }
}

impl HostRuntime {
    /// Lets go of the runs behind monitors as the runtime is dropped:
    /// attached ones are asked to stop (each with its grace period), then
    /// their owner pipes close, which kills what is left of their trees;
    /// durable ones go on, to be adopted later.
    fn release_monitored(&self) {
        let runs = self.monitored.drain();
        if runs.is_empty() {
            return;
        }
        let started = Instant::now();
        let mut asked: Vec<_> = runs.iter().filter(|run| run.ask_to_stop()).collect();
        if !asked.is_empty() {
            tracing::info!(
                count = asked.len(),
                "runtime dropped; stopping its attached runs"
            );
        }
        asked.sort_by_key(|run| run.record.grace);
        for run in &asked {
            run.record.wait_exit(started + run.record.grace);
        }
        for run in &runs {
            run.release();
        }
        let deadline = Instant::now() + KILL_WAIT;
        for run in &runs {
            run.await_release(deadline);
        }
    }
}

/// Whether `pid` is in process group `group` at this moment. A process that
/// is gone is not (signalling it through its pidfd then does nothing).
fn in_group_now(pid: i32, group: Pid) -> bool {
    getpgid(Some(Pid::from_raw(pid))) == Ok(group)
}

fn send_to_group(group: Pid, signal: Signal, id: &ProcessId) -> Result<(), Error> {
    match killpg(group, signal) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(errno) => Err(Error::io(
            format!("signalling process `{id}`"),
            errno.into(),
        )),
    }
}

fn check_dir(dir: &Path) -> Result<(), Error> {
    let fail = |source: io::Error| Error::WorkingDirectory {
        path: dir.to_path_buf(),
        source,
    };
    let meta = fs::metadata(dir).map_err(fail)?;
    if !meta.is_dir() {
        return Err(fail(io::Error::new(
            io::ErrorKind::NotADirectory,
            "not a directory",
        )));
    }
    access(dir, AccessFlags::X_OK).map_err(|errno| fail(errno.into()))
}

impl Runtime for HostRuntime {
    fn name(&self) -> &str {
        "host"
    }

    fn spawn(&self, request: &SpawnRequest) -> Result<ProcessId, Error> {
        request.validate()?;
        let program = request.command.program();
        if let Some(dir) = &request.cwd {
            check_dir(dir)?;
        }
        match &self.state {
            Some(state) => return self.spawn_monitored(request, state),
            None if request.durable => {
                return Err(Error::unsupported(
                    "host",
                    "durable runs need a state directory (HostRuntimeBuilder::state_dir)",
                ));
            }
            None => {}
        }
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed) + 1;
        let id = ProcessId::new(format!("host-{}-{seq}", self.tag));

        let log = match &self.config.log_dir {
            None => None,
            Some(dir) => {
                let path = dir.join(format!("{id}.log"));
                Some(File::create(&path).map_err(|error| {
                    Error::io(format!("creating log file `{}`", path.display()), error)
                })?)
            }
        };
        // Read before the start, so never later than the child's start
        // time. (Reading the child's own stat costs an open of /proc.)
        // Without a clock, nothing is pruned from scans by start time.
        let spawn_ticks = sys::boot_ticks().unwrap_or(0);
        let launched = launch(&Launch {
            request,
            cookie: (&self.cookie_name, seq.to_string()),
            keeper: self.keeper.as_ref(),
            spawner: self.spawner.as_ref(),
        })?;
        let pid = launched.pid;
        let exit = match launched.status_pipe {
            Some(pipe) => ExitWatch::Keeper(pipe),
            None => ExitWatch::Child(match logist_monitor::pidfd::open(pid) {
                Ok(pidfd) => pidfd,
                Err(error) => {
                    // Without a pidfd the child cannot be watched: undo the start.
                    let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
                    let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), None);
                    return Err(Error::Spawn {
                        program: program.to_owned(),
                        source: error,
                    });
                }
            }),
        };
        let outputs = launched.outputs;
        let stdin = launched.stdin;

        let settings = RecordSettings {
            grace: self.config.grace,
            output_cap: self.config.output_cap,
        };
        let process = Arc::new(Process {
            record: Record::new(
                id.clone(),
                seq,
                request,
                settings,
                outputs.len(),
                Vec::new(),
            ),
            pid,
            spawn_ticks,
            cookie: format!("{}={seq}", self.cookie_name).into_bytes(),
            on_terminal: request.terminal.is_some(),
            stdin: Mutex::new(stdin),
        });
        self.processes.insert(Arc::clone(&process));
        self.reactor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .register(Registration {
                process,
                outputs,
                exit,
                log,
            });
        tracing::info!(%id, pid, program, args = request.command.args().len(), "spawned");
        self.evict_exited();
        Ok(id)
    }

    fn is_alive(&self, id: &ProcessId) -> Result<bool, Error> {
        if let Some(run) = self.monitored_run(id) {
            return Ok(run.is_alive());
        }
        Ok(self.processes.get(id)?.record.is_alive())
    }

    fn get_logs(&self, id: &ProcessId, tail: Option<usize>) -> Result<Logs, Error> {
        if let Some(run) = self.monitored_run(id) {
            return Ok(run.get_logs(tail));
        }
        Ok(self.processes.get(id)?.record.logs(tail))
    }

    fn get_stream_logs(
        &self,
        id: &ProcessId,
        stream: Stream,
        tail: Option<usize>,
    ) -> Result<Logs, Error> {
        if let Some(run) = self.monitored_run(id) {
            return Ok(run.get_stream_logs(stream, tail));
        }
        Ok(self.processes.get(id)?.record.stream_logs(stream, tail))
    }

    fn read_output(
        &self,
        id: &ProcessId,
        from: u64,
        timeout: Option<Duration>,
    ) -> Result<OutputRead, Error> {
        if let Some(run) = self.monitored_run(id) {
            return Ok(run.read_output(from, timeout));
        }
        let process = self.processes.get(id)?;
        let half_cap = self.config.output_cap as u64 / 2;
        let (read, resume) = process.record.read_output_then(from, timeout, |state| {
            // Readers caught up (under half the cap unread): resume paused
            // pipes.
            if !state.extra.is_empty() && state.unread() < half_cap {
                std::mem::take(&mut state.extra)
            } else {
                Vec::new()
            }
        });
        if !resume.is_empty() {
            self.reactor
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .resume(resume);
        }
        Ok(read)
    }

    fn terminate(&self, id: &ProcessId, force: bool) -> Result<bool, Error> {
        if let Some(run) = self.monitored_run(id) {
            return run.terminate(force);
        }
        let process = self.processes.get(id)?;
        if force {
            let killed = self.kill_tree(&process)?;
            process.record.wait_exit(Instant::now() + KILL_WAIT);
            if killed {
                tracing::info!(%id, "terminated (forced)");
            }
            return Ok(killed);
        }
        let grace = process.record.grace;
        let grace_ends = Instant::now() + grace;
        let (signalled, pinned) = self.signal_tree(&process, Signal::SIGTERM)?;
        if !signalled {
            return Ok(false);
        }
        tracing::info!(%id, ?grace, "terminating");
        let exited = process.record.wait_exit(grace_ends);
        let rest_gone = exited && tree::wait_all(&pinned, grace_ends);
        // Whatever is left after the grace period (or was forked meanwhile)
        // is killed, even when the main process already exited.
        let killed = self.kill_tree(&process)?;
        if killed {
            tracing::info!(%id, exited, rest_gone, "grace period over; killed what was left");
        }
        process.record.wait_exit(Instant::now() + KILL_WAIT);
        Ok(true)
    }

    fn wait(&self, id: &ProcessId, timeout: Option<Duration>) -> Result<Completion, Error> {
        if let Some(run) = self.monitored_run(id) {
            return run.wait(timeout);
        }
        self.processes.get(id)?.record.wait(timeout)
    }

    fn write_stdin(&self, id: &ProcessId, data: &[u8]) -> Result<(), Error> {
        if let Some(run) = self.monitored_run(id) {
            return run.write_stdin(data);
        }
        let process = self.processes.get(id)?;
        let mut stdin = process.stdin.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(file) = stdin.as_mut() else {
            return Err(Error::StdinClosed { id: id.clone() });
        };
        match write_all_blocking(file, data) {
            Ok(()) => Ok(()),
            Err(error)
                if error.kind() == io::ErrorKind::BrokenPipe
                    || error.raw_os_error() == Some(libc::EIO) =>
            {
                *stdin = None;
                Err(Error::StdinClosed { id: id.clone() })
            }
            Err(error) => Err(Error::io(format!("writing to the stdin of `{id}`"), error)),
        }
    }

    fn close_stdin(&self, id: &ProcessId) -> Result<(), Error> {
        if let Some(run) = self.monitored_run(id) {
            return run.close_stdin();
        }
        let process = self.processes.get(id)?;
        let mut stdin = process.stdin.lock().unwrap_or_else(PoisonError::into_inner);
        if process.on_terminal {
            // A terminal has no end-of-file to close; the line discipline
            // turns Ctrl-D at the start of a line into one.
            if let Some(file) = stdin.as_mut() {
                let _ = write_all_blocking(file, b"\x04");
            }
        }
        *stdin = None;
        Ok(())
    }

    fn resize_terminal(&self, id: &ProcessId, size: TerminalSize) -> Result<(), Error> {
        if let Some(run) = self.monitored_run(id) {
            return run.resize(size.rows, size.cols);
        }
        let process = self.processes.get(id)?;
        let stdin = process.stdin.lock().unwrap_or_else(PoisonError::into_inner);
        match stdin.as_ref() {
            // An exited program's terminal has nobody left to resize.
            Some(master) if process.on_terminal && process.record.is_alive() => {
                sys::set_window_size(master.as_raw_fd(), size.rows, size.cols)
                    .map_err(|error| Error::io(format!("resizing the terminal of `{id}`"), error))
            }
            _ => Err(Error::StdinClosed { id: id.clone() }),
        }
    }

    fn info(&self, id: &ProcessId) -> Result<ProcessInfo, Error> {
        if let Some(run) = self.monitored_run(id) {
            return Ok(run.info());
        }
        let process = self.processes.get(id)?;
        Ok(process.record.info(u32::try_from(process.pid).ok()))
    }

    fn list(&self, selector: &Labels) -> Result<Vec<ProcessInfo>, Error> {
        let mut list = self
            .processes
            .list(selector, |process| u32::try_from(process.pid).ok());
        list.extend(
            self.monitored
                .all()
                .iter()
                .filter(|run| {
                    selector
                        .iter()
                        .all(|(key, value)| run.record.labels.get(key) == Some(value))
                })
                .map(|run| run.info()),
        );
        Ok(list)
    }

    fn remove(&self, id: &ProcessId) -> Result<(), Error> {
        if let Some(run) = self.monitored_run(id) {
            run.remove()?;
            self.monitored.remove(id);
            return Ok(());
        }
        let process = self.processes.get(id)?;
        if process.record.is_alive() {
            return Err(Error::StillRunning { id: id.clone() });
        }
        // A full scan of /proc costs milliseconds, so it is done only when
        // something of the tree is known to be left: members in the
        // process group, or a descendant holding the output open.
        // (Daemons that left both are found by `terminate` and by drop.)
        let output_held = process.record.lock().open_streams > 0;
        let group_left =
            killpg(Pid::from_raw(process.pid), None::<Signal>) != Err(nix::errno::Errno::ESRCH);
        if (output_held || group_left) && self.kill_tree(&process)? {
            tracing::info!(%id, "killed descendants left running by an exited process");
        }
        self.processes.remove(id);
        process.record.discard();
        *process.stdin.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Ok(())
    }
}

/// Writes everything, waiting for room when the descriptor is non-blocking
/// (a pseudo-terminal master shares its flags with the reactor's copy).
fn write_all_blocking(file: &mut File, mut data: &[u8]) -> io::Result<()> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    while !data.is_empty() {
        match file.write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLOUT)];
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(errno) => return Err(errno.into()),
                }
            }
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

impl Drop for HostRuntime {
    fn drop(&mut self) {
        self.release_monitored();
        let processes = self.processes.all();
        let prefix = format!("{}=", self.cookie_name).into_bytes();
        let not_before = processes.iter().map(|p| p.spawn_ticks).min().unwrap_or(0);
        let strays = || {
            tree::scan(&Query {
                cookie: &prefix,
                cookie_is_prefix: true,
                root: None,
                not_before,
            })
        };

        // Politely first: SIGTERM to every live group and every process
        // carrying our cookie, all at once; then each process gets its own
        // grace period (measured from now) before SIGKILL.
        let started = Instant::now();
        let mut running = Vec::new();
        for process in &processes {
            let state = process.record.lock();
            if state.status.is_none() {
                let _ = self.signal_group(process, Signal::SIGTERM);
                let _ = self.signal_group(process, Signal::SIGCONT);
                running.push(Arc::clone(process));
            }
        }
        let pinned = tree::pin(&strays());
        if !pinned.is_empty() {
            let _ = tree::signal_all(pinned.iter().map(|(_, fd)| fd), Signal::SIGTERM);
            let _ = tree::signal_all(pinned.iter().map(|(_, fd)| fd), Signal::SIGCONT);
        }
        if !running.is_empty() || !pinned.is_empty() {
            tracing::info!(
                running = running.len(),
                descendants = pinned.len(),
                "runtime dropped; stopping its processes"
            );
        }
        running.sort_by_key(|process| process.record.grace);
        for process in &running {
            if !process.record.wait_exit(started + process.record.grace) {
                let state = process.record.lock();
                if state.status.is_none() {
                    let _ = self.signal_group(process, Signal::SIGKILL);
                }
            }
        }
        tree::wait_all(&pinned, started + self.config.grace);

        // Then by force, until nothing carrying our cookie is left.
        for _ in 0..KILL_ROUNDS {
            let left = tree::pin(&strays());
            if left.is_empty() {
                break;
            }
            tracing::warn!(
                count = left.len(),
                "killing processes that outlived the grace period"
            );
            let _ = tree::signal_all(left.iter().map(|(_, fd)| fd), Signal::SIGKILL);
            tree::wait_all(&left, Instant::now() + Duration::from_secs(1));
        }
        let reaped_by = Instant::now() + Duration::from_secs(2);
        for process in &running {
            process.record.wait_exit(reaped_by);
        }
        self.reactor
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .shutdown();
        if let Some(spawner) = &mut self.spawner {
            spawner.shutdown();
        }
    }
}
