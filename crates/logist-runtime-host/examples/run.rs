//! Runs a command under `HostRuntime` and streams its output live.
//!
//! ```sh
//! cargo run -p logist-runtime-host --example run -- sh -c 'echo working; sleep 1; echo done >&2'
//! ```
//!
//! Stdout and stderr pass through byte for byte as they arrive; a summary
//! goes to stderr at the end; the exit code is the command's (128 + N for
//! death by signal N). If this program is killed, the command dies with it.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use logist_core::{CommandLine, Runtime, SpawnRequest, Stream};
use logist_runtime_host::HostRuntime;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let command = match CommandLine::new(argv) {
        Ok(command) => command,
        Err(error) => {
            eprintln!("usage: run COMMAND [ARG]...  ({error})");
            return ExitCode::from(2);
        }
    };
    match run(command) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("run: {error}");
            ExitCode::from(125)
        }
    }
}

fn run(command: CommandLine) -> Result<u8, logist_core::Error> {
    let runtime = HostRuntime::builder()
        .kill_on_parent_death(true)
        .grace(Duration::from_secs(2))
        .build()?;
    let started = Instant::now();
    let id = runtime.spawn(&SpawnRequest::new(command))?;

    let (mut stdout, mut stderr) = (std::io::stdout().lock(), std::io::stderr().lock());
    let mut next = 0;
    let mut bytes = 0;
    loop {
        let read = runtime.read_output(&id, next, None)?;
        for chunk in &read.chunks {
            let out: &mut dyn Write = match chunk.stream {
                Stream::Stdout => &mut stdout,
                Stream::Stderr => &mut stderr,
            };
            // A closed stdout (`run ... | head`) is not an error of the child.
            let _ = out.write_all(&chunk.data).and_then(|()| out.flush());
            bytes += chunk.data.len();
        }
        if read.missed > 0 {
            eprintln!("[run: {} bytes dropped]", read.missed);
        }
        next = read.next;
        if read.finished {
            break;
        }
    }
    let done = runtime.wait(&id, None)?;
    eprintln!(
        "[run: {} after {:.2}s, {bytes} bytes]",
        done.status,
        started.elapsed().as_secs_f64()
    );
    Ok(u8::try_from(done.status.shell_code()).unwrap_or(u8::MAX))
}
