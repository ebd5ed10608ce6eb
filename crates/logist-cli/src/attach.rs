//! `logist attach ID`: joins a durable run from any shell. Its output is
//! relayed from the log's current end (the whole log with `--replay`),
//! each channel to its own stream, and `logist`'s stdin goes to the run's
//! stdin (pipes) or terminal. For a run on a pseudo-terminal, attached
//! from a terminal, the local terminal is in raw mode (as under
//! `exec --pty`), the run's terminal follows the local window size, and
//! Ctrl-\ detaches ([`DETACH_KEY`], dtach's and abduco's key).
//! Elsewhere Ctrl-C (SIGINT, SIGTERM, SIGHUP) detaches, and the end of
//! `logist`'s stdin closes the run's stdin (as a pipe would), while the
//! output goes on being relayed. `attach` ends with the run's exit code
//! when the run ends, and exits 0 when detached: the run goes on.

use std::io::{self, IsTerminal, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use logist_core::error_chain;
use logist_monitor::{Client, ClientError, Event, RunDir, StateDir};

use crate::CliError;
use crate::cli::AttachArgs;
use crate::runs::{self, LogsError, Sink};
use crate::signals::Signals;
use crate::terminal::{self, RawMode};

/// The key that detaches from a run on a pseudo-terminal: Ctrl-\ (FS).
pub(crate) const DETACH_KEY: u8 = 0x1c;

/// How often the output loop looks whether the person detached.
const TICK: Duration = Duration::from_millis(100);

/// `logist attach`.
pub(crate) fn attach(
    args: &AttachArgs,
    state: &StateDir,
    signals: &Signals,
) -> Result<u8, CliError> {
    let run = runs::open_run(state, &args.run.id)?;
    let spec = run
        .spec()
        .map_err(|e| CliError::failed(error_chain(&e).to_string()))?;
    let reader = run.log();
    let from = if args.replay {
        reader.earliest()
    } else {
        reader.end()
    }
    .map_err(|e| CliError::failed(error_chain(&e).to_string()))?;

    let detached = Arc::new(AtomicBool::new(false));
    {
        let first = Arc::clone(&detached);
        let again = Arc::clone(&detached);
        signals.watch(
            move |_| first.store(true, Ordering::SeqCst),
            move || again.store(true, Ordering::SeqCst),
        );
    }

    let on_pty = spec.terminal.is_some();
    let stdin = io::stdin();
    let readable = !args.no_stdin
        && (on_pty || spec.stdin_piped)
        && !(stdin.is_terminal() && terminal::in_background(&stdin));
    let keyboard = readable && on_pty && stdin.is_terminal();
    let mut raw_mode = None;
    let control = if readable {
        runs::connect(&run).map_err(|error| {
            CliError::failed(format!("cannot reach run `{}`: {}", run.id(), error.text()))
        })?
    } else {
        None
    };
    if let Some(client) = control {
        let control = Arc::new(Mutex::new(client));
        if keyboard {
            raw_mode = RawMode::enable()
                .inspect_err(|error| tracing::warn!(%error, "cannot put the terminal in raw mode"))
                .ok();
            resize(&control);
            let control = Arc::clone(&control);
            signals.watch_resize(move || resize(&control));
        }
        relay_stdin(control, keyboard, Arc::clone(&detached));
    }

    let mut sink = Sink::new();
    let ended = relay_output(&run, from, &mut sink, &detached);
    // The person gets their terminal back before any note.
    drop(raw_mode);
    match ended {
        Ok(true) => Ok(runs::final_code(&run, runs::wait_exit(&run)?)),
        Ok(false) => {
            eprintln!(
                "logist: detached from run `{id}`; it goes on (`logist attach {id}` to come back)",
                id = run.id()
            );
            Ok(0)
        }
        Err(LogsError::Write(error)) if error.kind() == io::ErrorKind::BrokenPipe => Ok(0),
        Err(error) => Err(CliError::failed(format!(
            "cannot relay the output of run `{}`: {}",
            run.id(),
            error.text()
        ))),
    }
}

/// Relays output from `from` until the run ends (`true`) or the person
/// detaches (`false`).
fn relay_output(
    run: &RunDir,
    mut from: u64,
    sink: &mut Sink,
    detached: &AtomicBool,
) -> Result<bool, LogsError> {
    let mut reader = run.log();
    loop {
        if detached.load(Ordering::SeqCst) {
            return Ok(false);
        }
        let Some(client) = runs::connect(run)? else {
            // Ended: what is on disk is the rest.
            runs::copy_log(&mut reader, from, sink)?;
            return Ok(true);
        };
        // A monitor that ends right now: the next look tells.
        let Ok(mut subscription) = client.subscribe(from) else {
            continue;
        };
        loop {
            if detached.load(Ordering::SeqCst) {
                return Ok(false);
            }
            match subscription.next(Some(TICK)) {
                Ok(Some(Event::Output(chunk))) => {
                    let end = chunk.offset + chunk.len();
                    if end > from {
                        sink.write(&runs::trim(chunk, from))
                            .map_err(LogsError::Write)?;
                        from = end;
                    }
                }
                Ok(Some(Event::Exited { .. })) => {
                    runs::copy_log(&mut reader, from, sink)?;
                    return Ok(true);
                }
                Err(ClientError::Timeout { .. }) => {}
                // The monitor ended (or the connection broke): look again.
                Ok(None) | Err(_) => break,
            }
        }
    }
}

/// Copies `logist`'s stdin to the run in a thread of its own.
fn relay_stdin(control: Arc<Mutex<Client>>, keyboard: bool, detached: Arc<AtomicBool>) {
    let copy = move || {
        let mut buf = vec![0; 8192];
        loop {
            let read = io::stdin().lock().read(&mut buf);
            let n = match read {
                Ok(0) => {
                    // The end of a pipe or file (or Ctrl-D on a cooked
                    // terminal): the run's stdin ends too.
                    if !keyboard {
                        let _ = lock(&control).close_stdin();
                    }
                    return;
                }
                Ok(n) => n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    tracing::debug!(%error, "stdin: cannot read");
                    return;
                }
            };
            let (bytes, detach) = match keyboard
                .then(|| buf[..n].iter().position(|&b| b == DETACH_KEY))
                .flatten()
            {
                Some(at) => (&buf[..at], true),
                None => (&buf[..n], false),
            };
            if !bytes.is_empty()
                && let Err(error) = lock(&control).write_stdin(bytes)
            {
                tracing::debug!(error = %error_chain(&error), "stdin: no longer passed to the run");
                return;
            }
            if detach {
                detached.store(true, Ordering::SeqCst);
                return;
            }
        }
    };
    if let Err(error) = std::thread::Builder::new()
        .name("logist-attach-stdin".into())
        .spawn(copy)
    {
        tracing::warn!(%error, "cannot pass stdin to the run");
    }
}

/// Gives the run's terminal the local terminal's size.
fn resize(control: &Mutex<Client>) {
    if let Some(size) = terminal::size(io::stdin())
        && let Err(error) = lock(control).resize(size.rows, size.cols)
    {
        tracing::debug!(error = %error_chain(&error), "cannot resize the run's terminal");
    }
}

fn lock(client: &Mutex<Client>) -> std::sync::MutexGuard<'_, Client> {
    client.lock().unwrap_or_else(PoisonError::into_inner)
}
