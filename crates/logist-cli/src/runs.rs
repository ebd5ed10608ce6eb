//! The durable-run commands that need no terminal: `logist ps`, `logs`,
//! `wait`, `stop` and `rm`, straight on the state directory and the runs'
//! monitors (`logist-monitor`), so they work from any shell whether or not
//! the `logist` that started a run still lives.
//!
//! A run started with `--detach` also has a supervisor (a background
//! `logist`, see [`crate::detach`]) that enforces its policies. It holds
//! `supervisor.lock` in the run's directory while it lives and, when the
//! run is over, writes `outcome.json`: how `logist run` would have ended
//! (`timed_out`, …) and its exit code. `wait` reads it so that it exits
//! with the same code `run` would have.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use logist_core::{ExitStatus, error_chain};
use logist_monitor::log::{Channel, Chunk, LogReader};
use logist_monitor::{
    Client, ClientError, Event, ExitRecord, LogError, RunDir, RunEntry, RunState, StateDir,
    StateError,
};
use serde_json::{Value, json};

use crate::cli::{IdArgs, LogsArgs, PsArgs, RmArgs, StopArgs};
use crate::{CliError, exit};

/// The lock a detached run's supervisor holds while it lives.
pub(crate) const SUPERVISOR_LOCK: &str = "supervisor.lock";
/// What the supervisor recorded about the run's end.
pub(crate) const OUTCOME_FILE: &str = "outcome.json";
/// How much of the log one read asks for.
const READ_BYTES: usize = 1 << 20;
/// How long a run may take to start listening on its socket.
const CONNECT_PATIENCE: Duration = Duration::from_secs(30);

/// Finds run `id`; an unknown or malformed id is a usage error naming it
/// and the state directory.
pub(crate) fn open_run(state: &StateDir, id: &str) -> Result<RunDir, CliError> {
    state.run(id).map_err(|error| match error {
        StateError::UnknownRun { .. } | StateError::InvalidId(_) => {
            CliError::usage(error_chain(&error).to_string())
        }
        other => CliError::failed(error_chain(&other).to_string()),
    })
}

/// `logist ps`.
pub(crate) fn ps(args: &PsArgs, state: &StateDir) -> Result<u8, CliError> {
    let entries = state
        .list()
        .map_err(|error| CliError::refused(error_chain(&error).to_string()))?;
    let rows: Vec<Row> = entries
        .into_iter()
        .map(|entry| Row::new(state, entry))
        .filter(|row| args.all || row.is_running())
        .collect();
    print_rows(&rows, args.json)
}

/// Prints `ps`'s table, or its JSON array.
pub(crate) fn print_rows(rows: &[Row], json: bool) -> Result<u8, CliError> {
    let mut out = io::stdout().lock();
    let written = if json {
        let list: Vec<Value> = rows.iter().map(Row::json).collect();
        writeln!(out, "{}", Value::Array(list))
    } else {
        table(&mut out, rows)
    };
    match written {
        Err(error) if error.kind() != io::ErrorKind::BrokenPipe => Err(CliError::refused(format!(
            "cannot write the list: {}",
            error_chain(&error)
        ))),
        _ => Ok(0),
    }
}

/// One run as `ps` shows it.
pub(crate) struct Row {
    id: String,
    /// running, exited, lost or damaged.
    state: &'static str,
    argv: Vec<String>,
    started_unix_ms: Option<u64>,
    pid: Option<i32>,
    exit: Option<ExitStatus>,
    /// What the supervisor recorded: (outcome, exit code).
    outcome: Option<(String, u8)>,
    error: Option<String>,
}

impl Row {
    /// A run a server listed (`ps --remote`): no supervisor verdict.
    pub(crate) fn remote(
        id: String,
        state: &'static str,
        argv: Vec<String>,
        started_unix_ms: Option<u64>,
        pid: Option<u32>,
        exit: Option<ExitStatus>,
    ) -> Self {
        Row {
            id,
            state,
            argv,
            started_unix_ms,
            pid: pid.and_then(|pid| i32::try_from(pid).ok()),
            exit,
            outcome: None,
            error: None,
        }
    }

    /// Whether `ps` without `--all` shows it.
    pub(crate) fn is_running(&self) -> bool {
        self.state == "running"
    }

    fn new(state: &StateDir, entry: RunEntry) -> Self {
        let mut row = Row {
            state: "damaged",
            argv: entry
                .spec
                .as_ref()
                .map(|spec| spec.argv.clone())
                .unwrap_or_default(),
            started_unix_ms: entry.spec.as_ref().map(|spec| spec.created_unix_ms),
            pid: None,
            exit: None,
            outcome: None,
            error: None,
            id: entry.id,
        };
        match entry.state {
            Ok(RunState::Running(monitor)) => {
                row.state = "running";
                row.pid = Some(monitor.run_pid);
            }
            Ok(RunState::Exited(record)) => {
                row.state = "exited";
                row.exit = Some(record.status);
                row.outcome = state
                    .run(&row.id)
                    .ok()
                    .and_then(|run| read_outcome(run.path()));
            }
            Ok(RunState::Lost { .. }) => row.state = "lost",
            // Starting, and whatever a newer library adds: its monitor lives.
            Ok(_) => row.state = "running",
            Err(error) => row.error = Some(error_chain(&error).to_string()),
        }
        row
    }

    fn json(&self) -> Value {
        let mut value = json!({
            "id": self.id,
            "state": self.state,
            "command": self.argv,
            "started": self.started_unix_ms.map(crate::time::rfc3339_ms),
            "pid": self.pid,
            "exit": match self.exit {
                Some(ExitStatus::Code(code)) => json!({"code": code}),
                Some(ExitStatus::Signal(signal)) => json!({"signal": signal}),
                None => Value::Null,
            },
        });
        if let Some((outcome, code)) = &self.outcome {
            value["outcome"] = json!(outcome);
            value["exit_code"] = json!(code);
        }
        if let Some(error) = &self.error {
            value["error"] = json!(error);
        }
        value
    }

    fn exit_text(&self) -> String {
        let exit = match self.exit {
            Some(ExitStatus::Code(code)) => code.to_string(),
            Some(ExitStatus::Signal(signal)) => match logist_core::signal_name(signal) {
                Some(name) => name.to_owned(),
                None => format!("signal {signal}"),
            },
            None => "-".to_owned(),
        };
        match &self.outcome {
            Some((outcome, _)) if outcome != "completed" && outcome != "failed" => {
                format!("{exit} ({})", outcome.replace('_', " "))
            }
            _ => exit,
        }
    }
}

fn table(out: &mut impl Write, rows: &[Row]) -> io::Result<()> {
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|row| {
            [
                row.id.clone(),
                row.state.to_owned(),
                row.started_unix_ms
                    .map(crate::time::rfc3339_ms)
                    .unwrap_or_else(|| "-".to_owned()),
                row.exit_text(),
                match &row.error {
                    Some(error) => error.clone(),
                    None => shell_words(&row.argv),
                },
            ]
        })
        .collect();
    let header = ["ID", "STATE", "STARTED", "EXIT", "COMMAND"];
    let mut widths = header.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: [&str; 5]| -> io::Result<()> {
        for (i, cell) in cells[..4].iter().enumerate() {
            write!(out, "{cell:<width$}  ", width = widths[i])?;
        }
        writeln!(out, "{}", cells[4])
    };
    line(out, header)?;
    for row in &cells {
        line(out, [&row[0], &row[1], &row[2], &row[3], &row[4]])?;
    }
    Ok(())
}

/// The argv as a person would type it: words with special characters in
/// single quotes.
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|arg| {
            let plain = !arg.is_empty()
                && arg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
            if plain {
                arg.clone()
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where output goes: each channel to its own stream, as the run wrote it.
pub(crate) struct Sink {
    out: io::Stdout,
    err: io::Stderr,
}

impl Sink {
    pub(crate) fn new() -> Self {
        Self {
            out: io::stdout(),
            err: io::stderr(),
        }
    }

    /// Writes one chunk; a gap (output the monitor could not store)
    /// becomes a note on stderr.
    pub(crate) fn write(&mut self, chunk: &Chunk) -> io::Result<()> {
        match chunk.channel {
            Channel::Stderr => {
                let mut err = self.err.lock();
                err.write_all(&chunk.bytes)?;
                err.flush()
            }
            Channel::Gap => {
                let mut err = self.err.lock();
                writeln!(
                    err,
                    "logist: {} bytes of output are missing here (they could not be written \
                     to the log)",
                    chunk.gap
                )
            }
            // Stdout, the pseudo-terminal, and channels of newer monitors.
            _ => {
                let mut out = self.out.lock();
                out.write_all(&chunk.bytes)?;
                out.flush()
            }
        }
    }
}

/// `logist logs`.
pub(crate) fn logs(args: &LogsArgs, state: &StateDir) -> Result<u8, CliError> {
    let run = open_run(state, &args.run.id)?;
    let mut sink = Sink::new();
    let written = (|| -> Result<(), LogsError> {
        let mut reader = run.log();
        let mut from = match args.tail {
            Some(lines) => tail_start(&mut reader, lines)?,
            None => reader.earliest()?,
        };
        from = copy_log(&mut reader, from, &mut sink)?;
        if args.follow {
            follow(&run, from, &mut sink)?;
        }
        Ok(())
    })();
    match written {
        Ok(()) => Ok(0),
        // `logist logs ID | head`: the reader has what it wanted.
        Err(LogsError::Write(error)) if error.kind() == io::ErrorKind::BrokenPipe => Ok(0),
        Err(error) => Err(CliError::refused(format!(
            "cannot read the log of run `{}`: {}",
            run.id(),
            error.text()
        ))),
    }
}

/// What can stop following a run's output (`logs`, `attach`).
#[derive(Debug)]
pub(crate) enum LogsError {
    /// Its log could not be read.
    Log(LogError),
    /// Its monitor could not be reached or understood.
    Client(ClientError),
    /// Its files could not be read.
    State(StateError),
    /// Our own stdout or stderr refused the bytes.
    Write(io::Error),
}

impl LogsError {
    pub(crate) fn text(&self) -> String {
        match self {
            LogsError::Log(error) => error_chain(error).to_string(),
            LogsError::Client(error) => error_chain(error).to_string(),
            LogsError::State(error) => error_chain(error).to_string(),
            LogsError::Write(error) => error_chain(error).to_string(),
        }
    }
}

impl From<LogError> for LogsError {
    fn from(error: LogError) -> Self {
        LogsError::Log(error)
    }
}

impl From<ClientError> for LogsError {
    fn from(error: ClientError) -> Self {
        LogsError::Client(error)
    }
}

impl From<StateError> for LogsError {
    fn from(error: StateError) -> Self {
        LogsError::State(error)
    }
}

/// Copies the log from `from` to what is on disk now; returns the offset
/// after it. An offset older than the oldest kept segment starts there.
pub(crate) fn copy_log(
    reader: &mut LogReader,
    mut from: u64,
    sink: &mut Sink,
) -> Result<u64, LogsError> {
    loop {
        let chunks = match reader.read(from, READ_BYTES) {
            Ok(chunks) => chunks,
            Err(LogError::Expired { earliest, .. }) => {
                from = earliest;
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        if chunks.is_empty() {
            return Ok(from);
        }
        for chunk in &chunks {
            sink.write(chunk).map_err(LogsError::Write)?;
            from = chunk.offset + chunk.len();
        }
    }
}

/// The offset where the last `lines` lines of the log start (as `tail -n`:
/// a last line without a line feed counts as a line).
fn tail_start(reader: &mut LogReader, lines: usize) -> Result<u64, LogsError> {
    let earliest = reader.earliest()?;
    // The offsets just after the last `lines + 1` line feeds.
    let mut breaks = std::collections::VecDeque::with_capacity(lines + 2);
    let mut from = earliest;
    let mut last_byte = None;
    loop {
        let chunks = reader.read(from, READ_BYTES)?;
        if chunks.is_empty() {
            break;
        }
        for chunk in &chunks {
            for (i, &byte) in chunk.bytes.iter().enumerate() {
                if byte == b'\n' {
                    breaks.push_back(chunk.offset + i as u64 + 1);
                    if breaks.len() > lines + 1 {
                        breaks.pop_front();
                    }
                }
            }
            if let Some(&byte) = chunk.bytes.last() {
                last_byte = Some(byte);
            }
            from = chunk.offset + chunk.len();
        }
    }
    let end = from;
    if lines == 0 {
        return Ok(end);
    }
    // With a final line feed, the last line ends at the last break, so the
    // start is one break further back.
    let back = if last_byte == Some(b'\n') {
        lines + 1
    } else {
        lines
    };
    Ok(if breaks.len() >= back {
        breaks[breaks.len() - back]
    } else {
        earliest
    })
}

/// Prints output from `from` as it is logged, until the run has ended and
/// its log is printed to the end.
fn follow(run: &RunDir, mut from: u64, sink: &mut Sink) -> Result<(), LogsError> {
    let mut reader = run.log();
    loop {
        let Some(client) = connect(run)? else {
            // Ended: what is on disk is the rest.
            copy_log(&mut reader, from, sink)?;
            return Ok(());
        };
        // A monitor that ends right now: the next look tells.
        let Ok(mut subscription) = client.subscribe(from) else {
            continue;
        };
        loop {
            match subscription.next(None) {
                Ok(Some(Event::Output(chunk))) => {
                    let end = chunk.offset + chunk.len();
                    if end > from {
                        sink.write(&trim(chunk, from)).map_err(LogsError::Write)?;
                        from = end;
                    }
                }
                Ok(Some(Event::Exited { .. })) => {
                    copy_log(&mut reader, from, sink)?;
                    return Ok(());
                }
                // The monitor ended: the log on disk has the rest.
                Ok(None) | Err(_) => break,
            }
        }
    }
}

/// `chunk` without its bytes before `from`.
pub(crate) fn trim(mut chunk: Chunk, from: u64) -> Chunk {
    if chunk.offset < from {
        let skip = from - chunk.offset;
        if chunk.channel == Channel::Gap {
            chunk.gap -= skip;
        } else {
            chunk
                .bytes
                .drain(..usize::try_from(skip).unwrap_or(usize::MAX));
        }
        chunk.offset = from;
    }
    chunk
}

/// `logist wait`.
pub(crate) fn wait(args: &IdArgs, state: &StateDir) -> Result<u8, CliError> {
    let run = open_run(state, &args.id)?;
    Ok(final_code(&run, wait_exit(&run)?))
}

/// How a run ended, as far as its monitor knows.
pub(crate) enum Ending {
    Exited(ExitRecord),
    Lost,
}

/// Waits for the run's exit record.
pub(crate) fn wait_exit(run: &RunDir) -> Result<Ending, CliError> {
    match logist_monitor::wait(run, None) {
        Ok(record) => Ok(Ending::Exited(record)),
        Err(ClientError::Lost { .. }) => Ok(Ending::Lost),
        Err(error) => Err(CliError::failed(format!(
            "cannot wait for run `{}`: {}",
            run.id(),
            error_chain(&error)
        ))),
    }
}

/// The exit code for a run that ended: what its supervisor decided (the
/// code `logist run` would have exited with), else its own status by the
/// same table; [`exit::LOST`] for a lost run.
pub(crate) fn final_code(run: &RunDir, ending: Ending) -> u8 {
    match ending {
        Ending::Lost => {
            eprintln!(
                "logist: run `{}` is lost: its monitor ended without recording how it exited",
                run.id()
            );
            exit::LOST
        }
        Ending::Exited(record) => {
            wait_supervisor(run.path());
            match read_outcome(run.path()) {
                Some((_, code)) => code,
                None => exit::status_code(record.status),
            }
        }
    }
}

/// Waits until the run's supervisor (if it has one) is gone, so that its
/// verdict is on disk.
pub(crate) fn wait_supervisor(run: &Path) {
    let Ok(file) = File::open(run.join(SUPERVISOR_LOCK)) else {
        return;
    };
    // Blocks until the supervisor's exclusive lock is released, which the
    // kernel does when it exits, however it exits.
    let _ = rustix::fs::flock(&file, rustix::fs::FlockOperation::LockShared);
}

/// True while a supervisor holds the run's lock.
fn supervisor_alive(run: &Path) -> bool {
    File::open(run.join(SUPERVISOR_LOCK)).is_ok_and(|file| {
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockShared).is_err()
    })
}

/// The supervisor's verdict: the outcome's name and the exit code.
pub(crate) fn read_outcome(run: &Path) -> Option<(String, u8)> {
    let value: Value = serde_json::from_slice(&fs::read(run.join(OUTCOME_FILE)).ok()?).ok()?;
    if value.get("layout").and_then(Value::as_u64) != Some(1) {
        return None;
    }
    Some((
        value.get("outcome")?.as_str()?.to_owned(),
        u8::try_from(value.get("exit_code")?.as_u64()?).ok()?,
    ))
}

/// Records the supervisor's verdict atomically (a temporary file renamed).
pub(crate) fn write_outcome(run: &Path, outcome: &str, code: u8) -> io::Result<()> {
    let text = json!({"layout": 1, "outcome": outcome, "exit_code": code}).to_string();
    let temp = run.join(format!("{OUTCOME_FILE}.tmp{}", std::process::id()));
    fs::write(&temp, text)?;
    fs::rename(&temp, run.join(OUTCOME_FILE)).inspect_err(|_| {
        let _ = fs::remove_file(&temp);
    })
}

/// Connects to a live run's monitor; `Ok(None)` once the run is not
/// running. A monitor that does not listen yet (starting) or any more (just
/// ending) is looked at again for up to [`CONNECT_PATIENCE`]; one that
/// speaks another protocol version is reported at once.
pub(crate) fn connect(run: &RunDir) -> Result<Option<Client>, LogsError> {
    let deadline = Instant::now() + CONNECT_PATIENCE;
    loop {
        if !matches!(run.state()?, RunState::Starting | RunState::Running(_)) {
            return Ok(None);
        }
        match Client::connect(run) {
            Ok(client) => return Ok(Some(client)),
            Err(error @ ClientError::Version { .. }) => return Err(error.into()),
            Err(error) if Instant::now() > deadline => return Err(error.into()),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// `logist stop`.
pub(crate) fn stop(args: &StopArgs, state: &StateDir) -> Result<u8, CliError> {
    let run = open_run(state, &args.run.id)?;
    let grace = if args.force {
        Some(Duration::ZERO)
    } else {
        args.grace
    };
    stop_run(&run, grace)?;
    Ok(0)
}

/// Stops the run's whole tree and waits until it is gone (and its
/// supervisor with it). A run that already ended is left as it is; what is
/// left of a lost one is killed.
fn stop_run(run: &RunDir, grace: Option<Duration>) -> Result<(), CliError> {
    let client = connect(run).map_err(|error| {
        CliError::refused(format!("cannot reach run `{}`: {}", run.id(), error.text()))
    })?;
    match client {
        Some(mut client) => {
            match client.terminate(grace) {
                Ok(()) => {}
                // It ended between the look and the request.
                Err(ClientError::Io { .. }) => {}
                Err(error) => {
                    return Err(CliError::refused(format!(
                        "cannot stop run `{}`: {}",
                        run.id(),
                        error_chain(&error)
                    )));
                }
            }
            drop(client);
            wait_exit(run)?;
            wait_monitor(run);
            wait_supervisor(run.path());
        }
        None => {
            if matches!(run.state(), Ok(RunState::Lost { .. })) {
                match run.kill_lost() {
                    Ok(true) => eprintln!(
                        "logist: run `{}` was lost; killed what was left of its process group",
                        run.id()
                    ),
                    Ok(false) => {
                        eprintln!("logist: run `{}` was lost; nothing left of it", run.id())
                    }
                    Err(error) => {
                        return Err(CliError::refused(error_chain(&error).to_string()));
                    }
                }
            } else {
                eprintln!("logist: run `{}` is not running", run.id());
            }
        }
    }
    Ok(())
}

/// Waits until the run's monitor is gone: it leaves only once no
/// descendant of the run is left.
fn wait_monitor(run: &RunDir) {
    let Ok(file) = File::open(run.path().join("monitor.lock")) else {
        return;
    };
    let _ = rustix::fs::flock(&file, rustix::fs::FlockOperation::LockShared);
}

/// `logist rm`.
pub(crate) fn rm(args: &RmArgs, state: &StateDir) -> Result<u8, CliError> {
    let run = open_run(state, &args.run.id)?;
    let live = run
        .monitor_alive()
        .map_err(|e| CliError::refused(error_chain(&e).to_string()))?;
    if live {
        if !args.force {
            return Err(CliError::refused(format!(
                "run `{}` is running: stop it first (`logist stop {}`), or use `logist rm --force`",
                run.id(),
                run.id()
            )));
        }
        stop_run(&run, Some(Duration::ZERO))?;
    } else if matches!(run.state(), Ok(RunState::Lost { .. })) {
        // A lost run's group may still hold processes: they go first.
        let _ = run.kill_lost();
    }
    if supervisor_alive(run.path()) {
        // It is writing its verdict: a moment.
        wait_supervisor(run.path());
    }
    let id = run.id().to_owned();
    run.remove().map_err(|error| match error {
        StateError::Busy { .. } => CliError::refused(format!(
            "run `{id}` is running: stop it first (`logist stop {id}`), or use `logist rm --force`"
        )),
        other => CliError::refused(error_chain(&other).to_string()),
    })?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_needed() {
        let argv = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        assert_eq!(shell_words(&argv(&["sleep", "100"])), "sleep 100");
        assert_eq!(
            shell_words(&argv(&["sh", "-c", "echo 'hi' there", ""])),
            r"sh -c 'echo '\''hi'\'' there' ''"
        );
    }
}
