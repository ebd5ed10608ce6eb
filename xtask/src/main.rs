//! Project automation, run as `cargo xtask <command>` (an alias in
//! `.cargo/config.toml`). Plain Rust instead of shell scripts, so it runs
//! the same wherever cargo does.

mod bench;
mod ci;
mod docker;
mod e2e;
mod leaks;
mod release;
mod shell;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci      every check CI runs: fmt, clippy, docker set-up, tests, docs,
          examples, packaging, a quick bench
  bench   the runtime benchmark (W1-W6) against a same-run baseline
  docker  a running Docker engine, the static mock agent and the test image
          (installed, started and built only when missing)
  e2e     install the pinned agent programs and run the end-to-end tests
  release prepare a release: cargo xtask release <VERSION> [--execute]
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::main(&args[1..]),
        Some("e2e") => e2e::main(&args[1..]),
        Some("release") => release::main(&args[1..]),
        Some("docker") => docker::main(&args[1..]),
        Some("bench") => bench::main(&args[1..]),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprint!("error: unknown command `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
        None => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
