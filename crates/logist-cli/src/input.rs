//! `logist exec` passes its own standard input to the command, as
//! `timeout` and `nice` do: through a pipe (or, with `--pty`, the
//! command's terminal), by a thread that copies what arrives. On a
//! terminal with `--pty` the person's terminal is in raw mode meanwhile
//! and window size changes follow (see [`crate::terminal`]).

use std::io::{self, Read};
use std::sync::Arc;

use logist_core::{ProcessId, Runtime};

use crate::signals::Signals;

/// What to do when `logist`'s stdin ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AtEnd {
    /// Close the command's stdin: it reads end-of-file, as under `timeout`.
    Close,
    /// Keep it open: answers (`--on-input answer=`) are written there
    /// later, and a terminal has no end-of-file to give.
    KeepOpen,
}

/// Starts copying `logist`'s stdin to the command's. A terminal `logist`
/// runs on in the background is not read (that would stop `logist`): the
/// command's stdin ends at once then, as if it were empty.
pub(crate) fn relay(runtime: Arc<dyn Runtime>, id: ProcessId, at_end: AtEnd) {
    if crate::terminal::in_background(io::stdin()) {
        tracing::debug!("stdin: a terminal we are in the background of; not read");
        if at_end == AtEnd::Close {
            let _ = runtime.close_stdin(&id);
        }
        return;
    }
    let copy = move || {
        let mut buf = vec![0; 8192];
        loop {
            let read = io::stdin().lock().read(&mut buf);
            match read {
                Ok(0) => {
                    if at_end == AtEnd::Close {
                        let _ = runtime.close_stdin(&id);
                    }
                    return;
                }
                Ok(n) => {
                    if let Err(error) = runtime.write_stdin(&id, &buf[..n]) {
                        // The command exited or closed its stdin.
                        tracing::debug!(%error, "stdin: no longer passed to the command");
                        return;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    tracing::debug!(%error, "stdin: cannot read");
                    if at_end == AtEnd::Close {
                        let _ = runtime.close_stdin(&id);
                    }
                    return;
                }
            }
        }
    };
    if let Err(error) = std::thread::Builder::new()
        .name("logist-stdin".into())
        .spawn(copy)
    {
        tracing::warn!(%error, "cannot pass stdin to the command");
    }
}

/// Makes the command's terminal follow the size of the person's.
pub(crate) fn follow_window_size(signals: &Signals, runtime: Arc<dyn Runtime>, id: ProcessId) {
    signals.watch_resize(move || {
        if let Some(size) = crate::terminal::size(io::stdin())
            && let Err(error) = runtime.resize_terminal(&id, size)
        {
            tracing::debug!(%error, "cannot resize the command's terminal");
        }
    });
}
