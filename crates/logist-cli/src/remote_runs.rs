//! The durable-run commands on a `logist serve` server (`--remote URL` or
//! `LOGIST_REMOTE`): `ps`, `logs`, `wait`, `stop` and `rm` through the
//! `Runtime` contract of a `RemoteRuntime`, so they show and act on the
//! server's runs the way [`crate::runs`] does on this machine's state
//! directory.
//!
//! `attach` relays stdin and output without a local terminal mode (a
//! pseudo-terminal run on the server gets what is typed line by line).
//!
//! A server restart is an outage, not an end: while the server cannot be
//! reached, these commands try again every 200 ms for up to two minutes
//! (saying so once on stderr), then continue where they were. `logs
//! --follow` reads by offset, so nothing is lost or printed twice across
//! the restart of a server that keeps its runs durable.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, UNIX_EPOCH};

use logist_core::{
    Error, Labels, OutputChunk, ProcessId, ProcessState, Runtime, Stream, error_chain,
};

use logist_runtime_remote::RemoteRuntime;

use crate::cli::{AttachArgs, IdArgs, LogsArgs, PsArgs, RmArgs, StopArgs};
use crate::runs::Row;
use crate::signals::Signals;
use crate::{CliError, exit};

/// How long a command waits for a server that cannot be reached.
const RECONNECT_PATIENCE: Duration = Duration::from_secs(120);
/// How often it tries again meanwhile.
const RECONNECT_EVERY: Duration = Duration::from_millis(200);
/// How long one read blocks waiting for output.
const READ_BLOCK: Duration = Duration::from_secs(1);
/// How long one of `attach`'s reads blocks: how soon it notices Ctrl-C.
const ATTACH_TICK: Duration = Duration::from_millis(200);

/// Calls `call` until it succeeds or fails with anything but the server
/// being unavailable for longer than [`RECONNECT_PATIENCE`].
fn patiently<T>(mut call: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
    let mut deadline = None;
    loop {
        match call() {
            Err(Error::Unavailable { .. })
                if deadline.is_none_or(|deadline| Instant::now() < deadline) =>
            {
                if deadline.is_none() {
                    eprintln!(
                        "logist: the server cannot be reached; trying again for up to {} s",
                        RECONNECT_PATIENCE.as_secs()
                    );
                    deadline = Some(Instant::now() + RECONNECT_PATIENCE);
                }
                std::thread::sleep(RECONNECT_EVERY);
            }
            other => return other,
        }
    }
}

/// The error for a failed call on run `id`: an unknown id is a usage
/// error naming it, as locally.
fn run_error(id: &str, doing: &str, error: &Error) -> CliError {
    match error {
        Error::UnknownProcess { .. } => {
            CliError::usage(format!("no run with id `{id}` on the server"))
        }
        _ => CliError::refused(format!("cannot {doing} run `{id}`: {}", error_chain(error))),
    }
}

/// `logist ps --remote`.
pub(crate) fn ps(args: &PsArgs, runtime: &dyn Runtime) -> Result<u8, CliError> {
    let infos = patiently(|| runtime.list(&Labels::new())).map_err(|error| {
        CliError::refused(format!(
            "cannot list the server's runs: {}",
            error_chain(&error)
        ))
    })?;
    let rows: Vec<Row> = infos
        .into_iter()
        .map(|info| {
            let (state, exit) = match info.state {
                ProcessState::Running => ("running", None),
                ProcessState::Exited(status) => ("exited", Some(status)),
                // What a newer server adds, and lost runs.
                _ => ("lost", None),
            };
            let started = info
                .started_at
                .duration_since(UNIX_EPOCH)
                .ok()
                .and_then(|since| u64::try_from(since.as_millis()).ok());
            Row::remote(
                info.id.to_string(),
                state,
                info.command.argv().to_vec(),
                started,
                info.pid,
                exit,
            )
        })
        .filter(|row| args.all || row.is_running())
        .collect();
    crate::runs::print_rows(&rows, args.json)
}

/// Writes chunks to stdout and stderr as the run wrote them.
fn write_chunks(chunks: &[OutputChunk]) -> io::Result<()> {
    for chunk in chunks {
        match chunk.stream {
            Stream::Stderr => {
                let mut err = io::stderr().lock();
                err.write_all(&chunk.data)?;
                err.flush()?;
            }
            _ => {
                let mut out = io::stdout().lock();
                out.write_all(&chunk.data)?;
                out.flush()?;
            }
        }
    }
    Ok(())
}

/// Writes `chunks`: `Ok(false)` when the reader went away (`logist logs
/// ID | head` has what it wanted), which ends the command quietly.
fn shown_all(chunks: &[OutputChunk]) -> Result<bool, CliError> {
    match write_chunks(chunks) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(error) => Err(CliError::refused(format!(
            "cannot write the output: {}",
            error_chain(&error)
        ))),
    }
}

/// The offset where the last `lines` lines of `chunks` start.
fn tail_offset(chunks: &[OutputChunk], lines: usize, end: u64) -> u64 {
    if lines == 0 {
        return end;
    }
    // A last line without a newline counts as a line, as `tail -n` does.
    let ends_in_newline = chunks
        .last()
        .and_then(|chunk| chunk.data.last())
        .is_none_or(|&byte| byte == b'\n');
    let mut wanted = if ends_in_newline { lines + 1 } else { lines };
    for chunk in chunks.iter().rev() {
        for (index, &byte) in chunk.data.iter().enumerate().rev() {
            if byte == b'\n' {
                wanted -= 1;
                if wanted == 0 {
                    return chunk.offset + index as u64 + 1;
                }
            }
        }
    }
    chunks.first().map_or(end, |chunk| chunk.offset)
}

/// `logist logs --remote`.
pub(crate) fn logs(args: &LogsArgs, runtime: &dyn Runtime) -> Result<u8, CliError> {
    let id = ProcessId::new(&args.run.id);
    let read = |from: u64, block: Option<Duration>| {
        patiently(|| runtime.read_output(&id, from, block))
            .map_err(|error| run_error(&args.run.id, "read the output of", &error))
    };
    // What is there now (the server keeps a run's recent output).
    let mut kept = Vec::new();
    let mut from = 0;
    let mut finished = loop {
        let got = read(from, Some(Duration::ZERO))?;
        from = got.next;
        let done = got.chunks.is_empty();
        kept.extend(got.chunks);
        if done || got.finished {
            break got.finished;
        }
    };
    let start = args.tail.map_or(0, |lines| tail_offset(&kept, lines, from));
    let shown: Vec<OutputChunk> = kept
        .into_iter()
        .filter_map(|mut chunk| {
            let end = chunk.offset + chunk.data.len() as u64;
            if end <= start {
                return None;
            }
            if chunk.offset < start {
                chunk
                    .data
                    .drain(..usize::try_from(start - chunk.offset).unwrap_or(0));
                chunk.offset = start;
            }
            Some(chunk)
        })
        .collect();
    if !shown_all(&shown)? {
        return Ok(0);
    }
    while args.follow && !finished {
        let got = read(from, Some(READ_BLOCK))?;
        if !shown_all(&got.chunks)? {
            return Ok(0);
        }
        from = got.next;
        finished = got.finished && got.chunks.is_empty();
    }
    Ok(0)
}

/// `logist attach --remote`: the run's output from the current end (all
/// of what the server keeps with `--replay`), and `logist`'s stdin to the
/// run line by line as it is read (no raw mode: a terminal stays in line
/// mode, and Ctrl-C detaches). Ends with the run's code, or 0 when the
/// person detached.
pub(crate) fn attach(
    args: &AttachArgs,
    runtime: Arc<RemoteRuntime>,
    signals: &Signals,
) -> Result<u8, CliError> {
    let id = ProcessId::new(&args.run.id);
    let read = |from: u64, block: Option<Duration>| {
        patiently(|| runtime.read_output(&id, from, block))
            .map_err(|error| run_error(&args.run.id, "read the output of", &error))
    };
    // Where the output is now (or the start of what is kept).
    let mut from = 0;
    let mut backlog = Vec::new();
    loop {
        let got = read(from, Some(Duration::ZERO))?;
        from = got.next;
        if got.chunks.is_empty() || got.finished {
            backlog.extend(got.chunks);
            break;
        }
        backlog.extend(got.chunks);
    }
    let detached = Arc::new(AtomicBool::new(false));
    {
        let first = Arc::clone(&detached);
        let again = Arc::clone(&detached);
        signals.watch(
            move |_| first.store(true, Ordering::SeqCst),
            move || again.store(true, Ordering::SeqCst),
        );
    }
    if !args.no_stdin {
        let runtime = Arc::clone(&runtime);
        let id = id.clone();
        std::thread::spawn(move || relay_stdin(&*runtime, &id));
    }
    if args.replay && !shown_all(&backlog)? {
        return Ok(0);
    }
    loop {
        if detached.load(Ordering::SeqCst) {
            eprintln!(
                "logist: detached from run `{0}`; it goes on (`logist attach --remote URL {0}` to \
                 come back)",
                args.run.id
            );
            return Ok(0);
        }
        let got = read(from, Some(ATTACH_TICK))?;
        if !shown_all(&got.chunks)? {
            return Ok(0);
        }
        from = got.next;
        if got.finished && got.chunks.is_empty() {
            return wait_code(&*runtime, &args.run.id);
        }
    }
}

/// Passes what `logist` reads on stdin to the run; its end closes the
/// run's stdin. Stops quietly when the run takes no more input.
fn relay_stdin(runtime: &dyn Runtime, id: &ProcessId) {
    let mut stdin = io::stdin().lock();
    let mut buffer = vec![0; 64 * 1024];
    loop {
        match io::Read::read(&mut stdin, &mut buffer) {
            Ok(0) => {
                let _ = patiently(|| runtime.close_stdin(id));
                return;
            }
            Ok(n) => {
                if patiently(|| runtime.write_stdin(id, &buffer[..n])).is_err() {
                    return;
                }
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Waits for run `id` to end: its exit code by `run`'s table.
fn wait_code(runtime: &dyn Runtime, id: &str) -> Result<u8, CliError> {
    let process = ProcessId::new(id);
    match patiently(|| runtime.wait(&process, None)) {
        Ok(completion) => Ok(exit::status_code(completion.status)),
        Err(Error::Lost { reason, .. }) => {
            eprintln!("logist: run `{id}` is lost: {reason}");
            Ok(exit::LOST)
        }
        Err(error) => Err(run_error(id, "wait for", &error)),
    }
}

/// `logist wait --remote`: the run's own status (a detached run's
/// supervisor verdict is recorded only on the machine it ran on).
pub(crate) fn wait(args: &IdArgs, runtime: &dyn Runtime) -> Result<u8, CliError> {
    wait_code(runtime, &args.id)
}

/// `logist stop --remote`: the whole tree, with the run's own grace
/// period (or at once with `--force`); returns once it has ended.
pub(crate) fn stop(args: &StopArgs, runtime: &dyn Runtime) -> Result<u8, CliError> {
    if args.grace.is_some() {
        return Err(CliError::usage(
            "--grace does not apply with --remote: the server stops a run with the run's own \
             grace period (use --force to kill at once)",
        ));
    }
    let id = ProcessId::new(&args.run.id);
    patiently(|| runtime.terminate(&id, args.force))
        .map_err(|error| run_error(&args.run.id, "stop", &error))?;
    wait_code(runtime, &args.run.id).map(|_| 0)
}

/// `logist rm --remote`.
pub(crate) fn rm(args: &RmArgs, runtime: &dyn Runtime) -> Result<u8, CliError> {
    let id = ProcessId::new(&args.run.id);
    let alive = patiently(|| runtime.is_alive(&id))
        .map_err(|error| run_error(&args.run.id, "look at", &error))?;
    if alive {
        if !args.force {
            return Err(CliError::refused(format!(
                "run `{0}` is running: stop it first (`logist stop {0}`), or use `logist rm --force`",
                args.run.id
            )));
        }
        patiently(|| runtime.terminate(&id, true))
            .map_err(|error| run_error(&args.run.id, "stop", &error))?;
        wait_code(runtime, &args.run.id)?;
    }
    patiently(|| runtime.remove(&id)).map_err(|error| run_error(&args.run.id, "remove", &error))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(offset: u64, data: &[u8]) -> OutputChunk {
        OutputChunk {
            stream: Stream::Stdout,
            offset,
            data: data.to_vec(),
        }
    }

    #[test]
    fn the_tail_starts_after_the_right_newline_across_chunks() {
        let chunks = [chunk(0, b"one\ntw"), chunk(6, b"o\nthree\n")];
        assert_eq!(tail_offset(&chunks, 1, 14), 8);
        assert_eq!(tail_offset(&chunks, 2, 14), 4);
        assert_eq!(tail_offset(&chunks, 5, 14), 0);
        assert_eq!(tail_offset(&chunks, 0, 14), 14);
        // An unfinished last line is one of the lines.
        let open = [chunk(0, b"one\ntwo")];
        assert_eq!(tail_offset(&open, 1, 7), 4);
        assert_eq!(tail_offset(&[], 3, 0), 0);
    }
}
