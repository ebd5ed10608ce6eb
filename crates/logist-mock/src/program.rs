//! The mock agent program itself: plays a scenario's script with the real
//! operating system (unbuffered writes to fds 1 and 2, sleeps, stdin,
//! signals and grandchildren).
//!
//! The `logist-mock-agent` binary is a one-line wrapper around [`run`]; the
//! `logist` CLI embeds the same program as a hidden subcommand, so an
//! installed CLI runs `--agent mock` with nothing else installed. The
//! program needs nothing at run time beyond the kernel (no DNS, no locale,
//! no dynamic loading), so it also runs fully static in an empty container.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{self, BufRead, Read};
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

use crate::{PROGRAM_NAME, Step, program_script, tree_marker, write_flood};

/// Why the program stops before its script runs out.
enum Stop {
    /// The script says so.
    Exit(i32),
    /// A write failed (the reader went away): exit 1 without a word.
    WriteFailed,
}

/// Plays the program for `args` (the arguments after the program name) and
/// returns its exit code; some scenarios never return (`hang`) or end the
/// process by a signal (`crash`). `relaunch` is the command that starts
/// this program again (the binary, plus any subcommand before the
/// arguments), used by the `tree` scenario for its grandchildren.
pub fn run(args: impl IntoIterator<Item = OsString>, relaunch: &[OsString]) -> i32 {
    let args: Vec<OsString> = args.into_iter().collect();
    if crate::acp::is_acp(&args) {
        return crate::acp::run(&args[1..]);
    }
    let script = program_script(args);
    let relaunch = Relaunch(relaunch);
    match play(script.steps(), &relaunch) {
        Ok(()) => 0,
        Err(Stop::Exit(code)) => code,
        Err(Stop::WriteFailed) => 1,
    }
}

/// How the program starts itself again.
#[derive(Clone, Copy)]
struct Relaunch<'a>(&'a [OsString]);

fn play(steps: &[Step], relaunch: &Relaunch<'_>) -> Result<(), Stop> {
    steps.iter().try_for_each(|step| perform(step, relaunch))
}

fn perform(step: &Step, relaunch: &Relaunch<'_>) -> Result<(), Stop> {
    match step {
        Step::Write { stream, data } => write_all(*stream, data),
        Step::Pause(duration) => {
            std::thread::sleep(*duration);
            Ok(())
        }
        Step::ReadLine(branch) => play(branch.choose(read_line().as_deref()).steps(), relaunch),
        Step::ReadPrompt(options) => {
            let mut options = options.as_ref().clone();
            options.prompt = read_to_end();
            play(options.script().steps(), relaunch)
        }
        Step::IgnoreTerm => {
            ignore_termination();
            Ok(())
        }
        Step::Hang => hang(),
        Step::Exit(code) => Err(Stop::Exit(*code)),
        Step::Signal(number) => die_by(*number),
        Step::Flood { bytes, stream } => write_flood(*bytes, *stream, write_all),
        Step::SpawnTree { delay_ms, prompt } => spawn_tree(*delay_ms, prompt, relaunch),
        Step::PrintEnv => print_env(),
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

/// Standard input to its end; what was read before an error counts.
fn read_to_end() -> Vec<u8> {
    let mut input = Vec::new();
    let _ = io::stdin().lock().read_to_end(&mut input);
    input
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
fn spawn_tree(delay_ms: u64, prompt: &[u8], relaunch: &Relaunch<'_>) -> Result<(), Stop> {
    let Some((exe, prefix)) = relaunch.0.split_first() else {
        return fail(format_args!("cannot start myself again: no program given"));
    };
    let grandchild = |session: bool| hang_command(exe, prefix, delay_ms, prompt, session).spawn();
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
fn hang_command(
    exe: &OsStr,
    prefix: &[OsString],
    delay_ms: u64,
    prompt: &[u8],
    session: bool,
) -> Command {
    let mut command = Command::new(exe);
    command
        .args(prefix)
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
