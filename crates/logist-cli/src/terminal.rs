//! The person's terminal, for `--pty`: its size, and raw mode while their
//! keystrokes are relayed to the command's own pseudo-terminal (as
//! `docker run -it` and `script` do), restored on every way out.

use std::io;
use std::os::fd::AsFd;

use logist_core::TerminalSize;
use rustix::termios::{self, LocalModes, OptionalActions, Termios};

/// The size a `--pty` gets when `logist` is not on a terminal.
pub(crate) const DEFAULT_SIZE: TerminalSize = TerminalSize {
    rows: 50,
    cols: 160,
};

/// The size of the terminal on `fd`, if it is one and knows its size.
pub(crate) fn size(fd: impl AsFd) -> Option<TerminalSize> {
    let size = termios::tcgetwinsize(fd).ok()?;
    (size.ws_row > 0 && size.ws_col > 0).then_some(TerminalSize {
        rows: size.ws_row,
        cols: size.ws_col,
    })
}

/// True when `fd` is a terminal on which `logist` runs in the background
/// (`logist … &` in a shell): reading it would stop `logist` with SIGTTIN.
pub(crate) fn in_background(fd: impl AsFd) -> bool {
    termios::tcgetpgrp(fd).is_ok_and(|foreground| foreground != rustix::process::getpgrp())
}

/// Standard input in raw mode until dropped: every key goes to the command
/// as typed (Ctrl-C too, to the command's terminal, which makes its
/// SIGINT), nothing is echoed twice. Output processing stays on, so the
/// notes of `logist` still start at the left margin.
pub(crate) struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Puts standard input in raw mode.
    pub(crate) fn enable() -> io::Result<Self> {
        let stdin = io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd())?;
        let mut raw = saved.clone();
        raw.make_raw();
        // Keep output processing (newline to CR-LF) on: only the input
        // side goes raw.
        raw.output_modes = saved.output_modes;
        raw.local_modes
            .remove(LocalModes::ECHO | LocalModes::ICANON | LocalModes::ISIG);
        termios::tcsetattr(stdin.as_fd(), OptionalActions::Now, &raw)?;
        Ok(Self { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // Whatever happened, the person gets their terminal back.
        if let Err(error) =
            termios::tcsetattr(io::stdin().as_fd(), OptionalActions::Now, &self.saved)
        {
            tracing::warn!(%error, "cannot restore the terminal's settings");
        }
    }
}
