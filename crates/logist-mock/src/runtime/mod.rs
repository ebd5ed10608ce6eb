//! [`MockRuntime`]: a [`Runtime`] that plays scripts in memory instead of
//! starting processes.

mod player;

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use logist_core::{
    CommandLine, Completion, Error, ExitStatus, Labels, Logs, OutputRead, ProcessId, ProcessInfo,
    Runtime, SpawnRequest, StdinMode, Stream,
};
use logist_output::{Record, RecordSettings, State, Table, Tracked};

use crate::args::program_script;
use crate::scenario::PROGRAM_NAME;
use crate::script::Script;

/// Settings of a [`MockRuntime`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MockConfig {
    /// Output kept per process, in bytes; older bytes are dropped and
    /// counted. Default 16 MiB.
    pub output_cap: usize,
    /// The grace period between a polite termination and the kill, for
    /// requests that do not set one. Default 250 ms.
    pub grace: Duration,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            output_cap: 16 * 1024 * 1024,
            grace: Duration::from_millis(250),
        }
    }
}

impl MockConfig {
    /// Sets [`output_cap`](Self::output_cap).
    #[must_use]
    pub fn output_cap(mut self, bytes: usize) -> Self {
        self.output_cap = bytes;
        self
    }

    /// Sets [`grace`](Self::grace).
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }
}

/// A [`Runtime`] whose "processes" are [`Script`]s played by a thread each,
/// in real time, without starting anything.
///
/// What it can run:
///
/// - **Registered scripts**: [`register`](Self::register) a script under a
///   program name; a command whose program is that name (or a path ending
///   in that file name) plays it. Registered names are checked first.
/// - **The mock agent program**: a command whose program's file name is
///   `logist-mock-agent` is parsed with the program's own argument parser
///   and plays the same script the program would
///   ([`program_script`](crate::program_script)), usage errors included.
///
/// Anything else gives [`Error::ProgramNotFound`].
///
/// It honours the [`Runtime`] contract: unique ids, [`Error::UnknownProcess`]
/// for unknown or removed ids, blocking reads and waits on a condition
/// variable (a silent process costs no CPU), timeouts, termination with a
/// grace period for scripts that ignore it, stdin, labels, and a bounded
/// output buffer that counts what it drops.
///
/// How it differs from a real runtime:
///
/// - There is no operating-system process: [`ProcessInfo::pid`] is `None`.
///   The `tree` scenario prints [`MOCK_TREE_PIDS`](crate::MOCK_TREE_PIDS),
///   which no real process can have, and starts nothing.
/// - Output ends exactly when the script ends, so
///   [`Completion::output_leaked`] is always false.
/// - A polite termination kills a script at once (status SIGTERM) unless
///   it played [`Step::IgnoreTerm`](crate::Step::IgnoreTerm); then it is
///   killed (SIGKILL) when the grace period ends.
/// - `write_stdin` never blocks: the mock's pipe has no capacity limit.
/// - A [durable](SpawnRequest::durable) request is refused with
///   [`Error::Unsupported`]: the scripts live in the runtime's memory, so
///   nothing can outlive it or be adopted.
/// - `crash` ends with [`ExitStatus::Signal(11)`](ExitStatus::Signal)
///   without a real signal; `env` prints the request's environment
///   resolved against this process's (variables that are not UTF-8 are
///   left out of the base).
/// - With [`SpawnRequest::terminal`], both streams are reported as stdout,
///   `\n` becomes `\r\n`, and what is written to stdin is echoed (as a
///   terminal in its default mode would); there is no other terminal
///   behaviour.
///
/// ```
/// use std::time::Duration;
/// use logist_core::{Agent, Runtime, SpawnRequest, ExitStatus};
/// use logist_mock::{MockAgent, MockRuntime, Scenario, Script};
///
/// let runtime = MockRuntime::new();
///
/// // The mock agent's scenarios, played without a process.
/// let agent = MockAgent::new(Scenario::Exit(3));
/// let id = runtime.spawn(&SpawnRequest::new(agent.cmd("hello")?))?;
/// let done = runtime.wait(&id, Some(Duration::from_secs(10)))?;
/// assert_eq!(done.status, ExitStatus::Code(3));
/// assert_eq!(done.logs.text(), "exiting with 3\n");
///
/// // A script of your own.
/// runtime.register("fake-agent", Script::new().stderr("boom\n").exit(1));
/// let cmd = logist_core::CommandLine::new(["/usr/bin/fake-agent", "-p", "x"])?;
/// let id = runtime.spawn(&SpawnRequest::new(cmd))?;
/// assert_eq!(runtime.wait(&id, None)?.status, ExitStatus::Code(1));
/// # Ok::<(), logist_core::Error>(())
/// ```
pub struct MockRuntime {
    config: MockConfig,
    instance: u64,
    next_seq: AtomicU64,
    scripts: RwLock<HashMap<String, Registered>>,
    processes: Table<Process>,
}

/// A script chosen by program name, fixed or computed from the command.
type ScriptFn = dyn Fn(&CommandLine) -> Script + Send + Sync;

#[derive(Clone)]
enum Registered {
    Fixed(Script),
    Computed(Arc<ScriptFn>),
}

/// One simulated process: the shared record (output, status, the waits
/// on them), shared with its player.
#[derive(Debug)]
struct Process {
    record: Record<Play>,
    terminal: bool,
    player: Mutex<Option<JoinHandle<()>>>,
}

/// What the mock keeps under the record's lock beside the shared state;
/// the player waits on the record's `changed` condvar for it.
#[derive(Debug, Default)]
struct Play {
    ignores_term: bool,
    /// Written to stdin and not read yet.
    stdin: Vec<u8>,
    stdin_closed: bool,
    /// Everything ever written to stdin.
    stdin_received: Vec<u8>,
}

impl Tracked for Process {
    type Extra = Play;

    fn record(&self) -> &Record<Play> {
        &self.record
    }
}

impl Default for MockRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl MockRuntime {
    /// A runtime with the default [`MockConfig`].
    pub fn new() -> Self {
        Self::with_config(MockConfig::default())
    }

    /// A runtime with these settings.
    pub fn with_config(config: MockConfig) -> Self {
        Self {
            config,
            instance: unique_instance(),
            next_seq: AtomicU64::new(1),
            scripts: RwLock::new(HashMap::new()),
            processes: Table::new(),
        }
    }

    /// Plays `script` for commands whose program is `program`, or a path
    /// whose file name is `program`. Registering a name again replaces the
    /// script for later spawns.
    pub fn register(&self, program: impl Into<String>, script: Script) {
        self.insert(program.into(), Registered::Fixed(script));
    }

    /// Like [`register`](Self::register), with the script computed from the
    /// command line at each spawn (to echo a prompt, say).
    ///
    /// ```
    /// use logist_core::{CommandLine, Runtime, SpawnRequest};
    /// use logist_mock::{MockRuntime, Script};
    ///
    /// let runtime = MockRuntime::new();
    /// runtime.register_with("echo", |cmd: &CommandLine| Script::new().stdout(cmd.args().join(" ")));
    /// let id = runtime.spawn(&SpawnRequest::new(CommandLine::new(["echo", "a", "b"])?))?;
    /// assert_eq!(runtime.wait(&id, None)?.logs.text(), "a b");
    /// # Ok::<(), logist_core::Error>(())
    /// ```
    pub fn register_with(
        &self,
        program: impl Into<String>,
        script: impl Fn(&CommandLine) -> Script + Send + Sync + 'static,
    ) {
        self.insert(program.into(), Registered::Computed(Arc::new(script)));
    }

    /// Everything written to the process's stdin so far, read or not.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownProcess`].
    pub fn stdin_received(&self, id: &ProcessId) -> Result<Vec<u8>, Error> {
        Ok(self.process(id)?.lock().extra.stdin_received.clone())
    }

    /// The settings.
    pub fn config(&self) -> &MockConfig {
        &self.config
    }

    fn insert(&self, program: String, registered: Registered) {
        self.scripts
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(program, registered);
    }

    fn process(&self, id: &ProcessId) -> Result<Arc<Process>, Error> {
        self.processes.get(id)
    }

    /// The script for a command, or `ProgramNotFound`.
    fn script_for(&self, command: &CommandLine) -> Result<Script, Error> {
        let program = command.program();
        let file_name = Path::new(program)
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or(program);
        let registered = {
            let scripts = self.scripts.read().unwrap_or_else(PoisonError::into_inner);
            scripts
                .get(program)
                .or_else(|| scripts.get(file_name))
                .cloned()
        };
        match registered {
            Some(Registered::Fixed(script)) => Ok(script),
            Some(Registered::Computed(script)) => Ok(script(command)),
            None if file_name == PROGRAM_NAME => Ok(program_script(command.args())),
            None => Err(Error::ProgramNotFound {
                program: program.to_owned(),
            }),
        }
    }
}

impl Runtime for MockRuntime {
    fn name(&self) -> &str {
        "mock"
    }

    fn spawn(&self, request: &SpawnRequest) -> Result<ProcessId, Error> {
        request.validate()?;
        if request.durable {
            // Its processes are threads of this runtime, and its state is
            // in memory: nothing can outlive it or be found again.
            return Err(Error::unsupported(
                "mock",
                "durable runs (its processes live in the runtime's memory)",
            ));
        }
        if let Some(dir) = &request.cwd {
            check_directory(dir)?;
        }
        let script = self.script_for(&request.command)?;
        let env = request
            .env
            .resolve(std::env::vars_os().filter_map(|(name, value)| {
                Some((name.into_string().ok()?, value.into_string().ok()?))
            }));
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let terminal = request.terminal.is_some();
        let stdin_open = terminal || request.stdin == StdinMode::Piped;
        let id = ProcessId::new(format!("mock-{:x}-{seq}", self.instance));
        let settings = RecordSettings {
            grace: self.config.grace,
            output_cap: self.config.output_cap,
        };
        let play = Play {
            stdin_closed: !stdin_open,
            ..Play::default()
        };
        let process = Arc::new(Process {
            // No streams to wait for: the output ends when the script does.
            record: Record::new(id.clone(), seq, request, settings, 0, play),
            terminal,
            player: Mutex::new(None),
        });
        let player = {
            let process = Arc::clone(&process);
            std::thread::Builder::new()
                .name(format!("{id}"))
                .spawn(move || player::play(&process, &script, &env))
                .map_err(|source| Error::Spawn {
                    program: request.command.program().to_owned(),
                    source,
                })?
        };
        *process
            .player
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(player);
        self.processes.insert(process);
        Ok(id)
    }

    fn is_alive(&self, id: &ProcessId) -> Result<bool, Error> {
        Ok(self.process(id)?.record.is_alive())
    }

    fn get_logs(&self, id: &ProcessId, tail: Option<usize>) -> Result<Logs, Error> {
        Ok(self.process(id)?.record.logs(tail))
    }

    fn get_stream_logs(
        &self,
        id: &ProcessId,
        stream: Stream,
        tail: Option<usize>,
    ) -> Result<Logs, Error> {
        Ok(self.process(id)?.record.stream_logs(stream, tail))
    }

    fn read_output(
        &self,
        id: &ProcessId,
        from: u64,
        timeout: Option<Duration>,
    ) -> Result<OutputRead, Error> {
        Ok(self.process(id)?.record.read_output(from, timeout))
    }

    fn terminate(&self, id: &ProcessId, force: bool) -> Result<bool, Error> {
        let process = self.process(id)?;
        let mut state = process.lock();
        if state.status.is_some() {
            return Ok(false);
        }
        if !force && state.extra.ignores_term {
            let deadline = Instant::now().checked_add(process.record.grace);
            (state, _) = process
                .record
                .wait_until(state, deadline, |s| s.status.is_some());
            if state.status.is_some() {
                // It ended by itself (or another caller killed it) during the grace period.
                return Ok(true);
            }
            process.end(&mut state, ExitStatus::Signal(9));
            return Ok(true);
        }
        let signal = if force { 9 } else { 15 };
        process.end(&mut state, ExitStatus::Signal(signal));
        Ok(true)
    }

    fn wait(&self, id: &ProcessId, timeout: Option<Duration>) -> Result<Completion, Error> {
        self.process(id)?.record.wait(timeout)
    }

    fn write_stdin(&self, id: &ProcessId, data: &[u8]) -> Result<(), Error> {
        let process = self.process(id)?;
        let mut state = process.lock();
        if state.extra.stdin_closed || state.status.is_some() {
            return Err(Error::StdinClosed { id: id.clone() });
        }
        state.extra.stdin.extend_from_slice(data);
        state.extra.stdin_received.extend_from_slice(data);
        if process.terminal {
            state
                .buffer
                .push(Stream::Stdout, &player::terminal_newlines(data));
        }
        drop(state);
        process.record.notify_all();
        Ok(())
    }

    fn close_stdin(&self, id: &ProcessId) -> Result<(), Error> {
        let process = self.process(id)?;
        process.lock().extra.stdin_closed = true;
        process.record.notify_all();
        Ok(())
    }

    fn info(&self, id: &ProcessId) -> Result<ProcessInfo, Error> {
        Ok(self.process(id)?.record.info(None))
    }

    fn list(&self, selector: &Labels) -> Result<Vec<ProcessInfo>, Error> {
        Ok(self.processes.list(selector, |_| None))
    }

    fn remove(&self, id: &ProcessId) -> Result<(), Error> {
        if self.process(id)?.record.is_alive() {
            return Err(Error::StillRunning { id: id.clone() });
        }
        // A concurrent remove may have taken it meanwhile: then it is gone.
        if let Some(process) = self.processes.remove(id) {
            process.record.discard();
            process.join_player();
        }
        Ok(())
    }
}

/// Stops every process still running, politely, as a real runtime does:
/// scripts that ignore termination are killed when their grace period ends
/// (all grace periods run at once), then every player thread is joined.
impl Drop for MockRuntime {
    fn drop(&mut self) {
        let processes = self.processes.drain();
        let mut stubborn = Vec::new();
        for process in &processes {
            let mut state = process.lock();
            if state.status.is_none() {
                if state.extra.ignores_term {
                    let deadline = Instant::now().checked_add(process.record.grace);
                    stubborn.push((Arc::clone(process), deadline));
                } else {
                    process.end(&mut state, ExitStatus::Signal(15));
                }
            }
        }
        for (process, deadline) in stubborn {
            let state = process.lock();
            let (mut state, _) = process
                .record
                .wait_until(state, deadline, |s| s.status.is_some());
            process.end(&mut state, ExitStatus::Signal(9));
        }
        for process in processes {
            process.join_player();
        }
    }
}

impl Process {
    fn lock(&self) -> MutexGuard<'_, State<Play>> {
        self.record.lock()
    }

    /// Records the end of the process (once) and wakes every waiter.
    fn end(&self, state: &mut State<Play>, status: ExitStatus) {
        if state.exited(status) {
            self.record.notify_all();
        }
    }

    fn join_player(&self) {
        let player = self
            .player
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(player) = player {
            // The player has nothing left to do once the status is set; a
            // panic in it is a bug in this crate, already reported on stderr.
            let _ = player.join();
        }
    }
}

/// A number no other runtime instance (in this process or, as time moves
/// forward, a later one) has used: the time in nanoseconds, made strictly
/// increasing.
fn unique_instance() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// The working directory must exist and be a directory, as for a real spawn.
fn check_directory(dir: &Path) -> Result<(), Error> {
    let problem = match dir.metadata() {
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(_) => io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
        Err(source) => source,
    };
    Err(Error::WorkingDirectory {
        path: dir.to_owned(),
        source: problem,
    })
}
