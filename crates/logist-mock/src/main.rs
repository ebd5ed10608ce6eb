//! `logist-mock-agent`: a scripted stand-in for an AI coding agent.
//!
//! The scenarios are defined in the library ([`logist_mock::program_script`]);
//! this file only plays a script with the real operating system: unbuffered
//! writes to fds 1 and 2, sleeps, stdin, signals and grandchildren. It needs
//! nothing at run time beyond the kernel (no DNS, no locale, no dynamic
//! loading), so it also runs fully static in an empty container.

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, BufRead};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::{SigHandler, SigSet, Signal, raise, signal};
use nix::sys::wait::waitpid;
use nix::unistd::setsid;

use logist_core::Stream;
use logist_mock::{PROGRAM_NAME, Step, program_script, tree_marker, write_flood};

/// Why the program stops before its script runs out.
enum Stop {
    /// The script says so.
    Exit(i32),
    /// A write failed (the reader went away): exit 1 without a word.
    WriteFailed,
}

fn main() {
    let script = program_script(std::env::args_os().skip(1));
    let code = match play(script.steps()) {
        Ok(()) => 0,
        Err(Stop::Exit(code)) => code,
        Err(Stop::WriteFailed) => 1,
    };
    std::process::exit(code);
}

fn play(steps: &[Step]) -> Result<(), Stop> {
    steps.iter().try_for_each(run)
}

fn run(step: &Step) -> Result<(), Stop> {
    match step {
        Step::Write { stream, data } => write_all(*stream, data),
        Step::Pause(duration) => {
            std::thread::sleep(*duration);
            Ok(())
        }
        Step::ReadLine(branch) => play(branch.choose(read_line().as_deref()).steps()),
        Step::IgnoreTerm => {
            ignore_termination();
            Ok(())
        }
        Step::Hang => hang(),
        Step::Exit(code) => Err(Stop::Exit(*code)),
        Step::Signal(number) => die_by(*number),
        Step::Flood { bytes, stream } => write_flood(*bytes, *stream, write_all),
        Step::SpawnTree { delay_ms, prompt } => spawn_tree(*delay_ms, prompt),
        Step::PrintEnv => print_env(),
        // A step added to the library but not taught to the program.
        other => fail(format_args!("cannot play {other:?}")),
    }
}

/// Writes everything to fd 1 or 2 with as few `write` calls as the pipe
/// allows, without buffering.
fn write_all(stream: Stream, mut data: &[u8]) -> Result<(), Stop> {
    while !data.is_empty() {
        let written = match stream {
            Stream::Stdout => nix::unistd::write(io::stdout(), data),
            Stream::Stderr => nix::unistd::write(io::stderr(), data),
        };
        match written {
            Ok(0) => return Err(Stop::WriteFailed),
            Ok(count) => data = &data[count..],
            Err(Errno::EINTR) => {}
            Err(_) => return Err(Stop::WriteFailed),
        }
    }
    Ok(())
}

/// One line of stdin with its newline, the last bytes before end-of-file,
/// or `None` at end-of-file (or on a read error, which is as good as one).
fn read_line() -> Option<Vec<u8>> {
    let mut line = Vec::new();
    match io::stdin().lock().read_until(b'\n', &mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line),
    }
}

#[expect(unsafe_code, reason = "ignoring a signal needs sigaction")]
fn ignore_termination() {
    for ignored in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        // SAFETY: SIG_IGN installs no handler, so no code of ours runs in
        // signal context. It cannot fail for these signals.
        let _ = unsafe { signal(ignored, SigHandler::SigIgn) };
    }
}

/// Waits forever without using CPU: reaps children as they exit (the
/// `tree` grandchildren, if they are killed), then sleeps.
fn hang() -> ! {
    // Until ECHILD: no child left to wait for.
    while let Ok(_) | Err(Errno::EINTR) = waitpid(None, None) {}
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

#[expect(
    unsafe_code,
    reason = "restoring a signal's default action needs sigaction"
)]
fn die_by(number: i32) -> Result<(), Stop> {
    if let Ok(fatal) = Signal::try_from(number) {
        // The crash is deliberate: no core file, by the limit and by the
        // dumpable flag (a piped `core_pattern` may ignore the limit).
        let _ = setrlimit(Resource::RLIMIT_CORE, 0, 0);
        let _ = nix::sys::prctl::set_dumpable(false);
        // SAFETY: SIG_DFL installs no handler, so no code of ours runs in
        // signal context.
        let _ = unsafe { signal(fatal, SigHandler::SigDfl) };
        let _ = SigSet::from(fatal).thread_unblock();
        let _ = raise(fatal);
    }
    // Not a signal, or one whose default action is not to die: exit the
    // way a shell reports death by that signal.
    Err(Stop::Exit(128 + number))
}

/// Starts the two `hang` grandchildren and prints their marker lines.
fn spawn_tree(delay_ms: u64, prompt: &[u8]) -> Result<(), Stop> {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(error) => return fail(format_args!("cannot find my own executable: {error}")),
    };
    let grandchild = |session: bool| hang_command(&exe, delay_ms, prompt, session).spawn();
    let child = match grandchild(false) {
        Ok(child) => child,
        Err(error) => return fail(format_args!("cannot start a grandchild: {error}")),
    };
    let session_child = match grandchild(true) {
        Ok(child) => child,
        Err(error) => {
            kill_quietly(child);
            return fail(format_args!(
                "cannot start a grandchild in a new session: {error}"
            ));
        }
    };
    let markers = [
        tree_marker(false, child.id()),
        tree_marker(true, session_child.id()),
    ];
    // Dropping a `Child` neither kills nor reaps it: `hang` reaps them.
    markers
        .iter()
        .try_for_each(|marker| write_all(Stream::Stdout, marker.as_bytes()))
}

#[expect(
    clippy::disallowed_methods,
    reason = "the tree scenario exists to start real grandchildren"
)]
#[expect(
    unsafe_code,
    reason = "a new session is made in the child with pre_exec"
)]
fn hang_command(exe: &std::path::Path, delay_ms: u64, prompt: &[u8], session: bool) -> Command {
    let mut command = Command::new(exe);
    command
        .args([
            "--scenario",
            "hang",
            "--delay-ms",
            &delay_ms.to_string(),
            "--",
        ])
        .arg(OsStr::from_bytes(prompt))
        // The grandchildren's output would interleave with the markers at
        // random: the markers are all the tree prints.
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if session {
        // SAFETY: the closure runs in the forked child before exec; it only
        // calls setsid(2), which is async-signal-safe, and allocates nothing.
        unsafe {
            command.pre_exec(|| setsid().map(drop).map_err(io::Error::from));
        }
    }
    command
}

fn kill_quietly(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Prints its environment, sorted by name, in one write.
fn print_env() -> Result<(), Stop> {
    let mut vars: Vec<_> = std::env::vars_os().collect();
    vars.sort();
    let mut text = Vec::new();
    for (name, value) in vars {
        text.extend_from_slice(name.as_bytes());
        text.push(b'=');
        text.extend_from_slice(value.as_bytes());
        text.push(b'\n');
    }
    write_all(Stream::Stdout, &text)
}

/// Reports an operating-system failure on stderr and exits 1.
fn fail(message: fmt::Arguments<'_>) -> Result<(), Stop> {
    write_all(
        Stream::Stderr,
        format!("{PROGRAM_NAME}: {message}\n").as_bytes(),
    )?;
    Err(Stop::Exit(1))
}
