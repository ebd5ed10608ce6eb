//! What reaches the command's stdin: `logist exec` passes its own through,
//! like `timeout` and `nice`; with `--pty` on a terminal it relays the
//! person's keystrokes and window size, like `docker run -it`. The terminal
//! test runs `logist` itself on a pseudo-terminal it controls, as a person's
//! shell would.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::process::Child;
use std::sync::mpsc;
use std::time::Instant;

use logist_testing::NoSurvivors;
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use rustix::termios::{LocalModes, Winsize, tcgetattr, tcsetwinsize};

use crate::{LOGIST, LONG, code, logist, text, wait};

#[test]
fn exec_passes_its_stdin_to_the_command() {
    let guard = NoSurvivors::new();
    let out = crate::run_to_end(
        &mut logist(&guard, &["exec", "--", "sh", "-c", "read a; echo \"[$a]\""]),
        Some(b"bob\n"),
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "[bob]\n");
}

#[test]
fn the_end_of_stdin_is_the_end_of_the_commands() {
    let guard = NoSurvivors::new();
    let out = crate::run_to_end(
        &mut logist(&guard, &["exec", "--", "wc", "-c"]),
        Some(&[b'x'; 100_000]),
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "100000");
}

/// `logist` on a pseudo-terminal: the test holds the master, as a terminal
/// emulator does.
pub(crate) struct Terminal {
    master: File,
    slave_path: std::path::PathBuf,
    output: mpsc::Receiver<Vec<u8>>,
    seen: String,
}

impl Terminal {
    pub(crate) fn new(rows: u16, cols: u16) -> Self {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let slave_path = std::path::PathBuf::from(name.to_str().unwrap());
        let master = File::from(master);
        set_size(&master, rows, cols);
        let (send, output) = mpsc::channel();
        let mut reader = master.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0; 4096];
            // Ends with EIO once no one has the terminal open.
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                if send.send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
        });
        Self {
            master,
            slave_path,
            output,
            seen: String::new(),
        }
    }

    /// Starts `logist args` as the session leader of this terminal.
    pub(crate) fn start(&self, guard: &NoSurvivors, args: &[&str]) -> Child {
        self.start_with(guard, &[], args)
    }

    /// Starts `logist args` as the session leader of this terminal, with
    /// these variables set.
    pub(crate) fn start_with(
        &self,
        guard: &NoSurvivors,
        env: &[(&str, &std::path::Path)],
        args: &[&str],
    ) -> Child {
        let slave = File::options()
            .read(true)
            .write(true)
            .open(&self.slave_path)
            .unwrap();
        let mut command = guard.command("setsid");
        command
            .arg("--ctty")
            .arg(LOGIST)
            .args(args)
            .envs(env.iter().copied())
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave);
        command.spawn().unwrap()
    }

    /// Starts `sh -c script` as the session leader of this terminal.
    pub(crate) fn start_shell(&self, guard: &NoSurvivors, script: &str) -> Child {
        let slave = File::options()
            .read(true)
            .write(true)
            .open(&self.slave_path)
            .unwrap();
        let mut command = guard.command("setsid");
        command
            .args(["--ctty", "sh", "-c", script])
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave);
        command.spawn().unwrap()
    }

    /// Reads what the terminal shows until `what` appears.
    #[track_caller]
    pub(crate) fn expect(&mut self, what: &str) {
        let deadline = Instant::now() + LONG;
        while !self.seen.contains(what) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.seen.push_str(&String::from_utf8_lossy(&bytes)),
                Err(_) => panic!("no {what:?} on the terminal; it shows {:?}", self.seen),
            }
        }
    }

    pub(crate) fn type_keys(&mut self, keys: &[u8]) {
        self.master.write_all(keys).unwrap();
    }
}

fn set_size(master: &File, rows: u16, cols: u16) {
    tcsetwinsize(
        master.as_fd(),
        Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )
    .unwrap();
}

#[test]
fn with_pty_on_a_terminal_keys_and_window_size_reach_the_command() {
    let guard = NoSurvivors::new();
    let mut terminal = Terminal::new(30, 90);
    let mut child = terminal.start(
        &guard,
        &[
            "exec",
            "--pty",
            "--",
            "sh",
            "-c",
            "stty size; read a; echo \"got [$a]\"; \
             trap 'stty size; exit 0' WINCH; echo waiting; \
             while :; do sleep 0.01; done",
        ],
    );
    // The command's terminal starts with the size of the person's.
    terminal.expect("30 90\r");
    // Keys go through as typed (raw mode: Enter is a carriage return).
    terminal.type_keys(b"hello\r");
    terminal.expect("got [hello]");
    terminal.expect("waiting");
    set_size(&terminal.master, 40, 120);
    terminal.expect("40 120");
    assert_eq!(wait(&mut child).code(), Some(0), "{}", terminal.seen);

    // The person's terminal is as it was: line editing and echo back on.
    let slave = File::open(&terminal.slave_path).unwrap();
    let modes = tcgetattr(slave.as_fd()).unwrap().local_modes;
    assert!(
        modes.contains(LocalModes::ECHO | LocalModes::ICANON | LocalModes::ISIG),
        "{modes:?}"
    );
}

#[test]
fn with_pty_on_a_terminal_ctrl_c_goes_to_the_command() {
    let guard = NoSurvivors::new();
    let mut terminal = Terminal::new(24, 80);
    let mut child = terminal.start(
        &guard,
        &[
            "exec",
            "--pty",
            "--",
            "sh",
            "-c",
            "trap 'echo interrupted; exit 3' INT; echo ready; \
             while :; do sleep 0.01; done",
        ],
    );
    terminal.expect("ready");
    terminal.type_keys(b"\x03");
    terminal.expect("interrupted");
    // The command decided how to end; logist was not interrupted.
    assert_eq!(wait(&mut child).code(), Some(3), "{}", terminal.seen);
}

#[test]
fn in_the_background_of_a_terminal_stdin_is_left_alone() {
    // `logist exec … &` in an interactive shell: reading the terminal
    // would stop logist (SIGTTIN); the command reads end-of-file instead.
    let guard = NoSurvivors::new();
    let mut terminal = Terminal::new(24, 80);
    let script = format!(
        "set -m; '{LOGIST}' exec -- sh -c 'read a || echo end-of-file' & wait $!; echo \"exit $?\""
    );
    let mut child = terminal.start_shell(&guard, &script);
    terminal.expect("end-of-file");
    terminal.expect("exit 0");
    assert_eq!(wait(&mut child).code(), Some(0), "{}", terminal.seen);
}
