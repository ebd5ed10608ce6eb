//! `cargo xtask ci`: every check CI runs, in order, with one summary line
//! per step and a final verdict.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::shell::{cargo, run, succeeds};

/// One named check.
struct Step {
    name: &'static str,
    run: fn() -> Result<()>,
}

const STEPS: &[Step] = &[
    Step {
        name: "fmt",
        run: fmt,
    },
    Step {
        name: "clippy",
        run: clippy,
    },
    Step {
        name: "test",
        run: test,
    },
    Step {
        name: "doc",
        run: doc,
    },
    Step {
        name: "bench",
        run: bench,
    },
];

fn run_ci(only: Option<&str>) -> Result<()> {
    let steps: Vec<&Step> = STEPS
        .iter()
        .filter(|step| only.is_none_or(|name| name == step.name))
        .collect();
    if steps.is_empty() {
        let names: Vec<&str> = STEPS.iter().map(|step| step.name).collect();
        bail!(
            "no step named `{}` (steps: {})",
            only.unwrap_or(""),
            names.join(", ")
        );
    }

    let started = Instant::now();
    let mut results: Vec<(&str, Duration, Result<()>)> = Vec::new();
    for step in steps {
        eprintln!("\n==> xtask ci: {}", step.name);
        let begun = Instant::now();
        let result = (step.run)();
        results.push((step.name, begun.elapsed(), result));
    }

    eprintln!("\nxtask ci summary");
    let mut failed = Vec::new();
    for (name, took, result) in &results {
        let verdict = match result {
            Ok(()) => "ok",
            Err(_) => "FAILED",
        };
        eprintln!("  {name:<10} {verdict:<7} {:>7.1}s", took.as_secs_f64());
        if let Err(error) = result {
            eprintln!("             {error:#}");
            failed.push(*name);
        }
    }
    let total = started.elapsed().as_secs_f64();
    if failed.is_empty() {
        eprintln!(
            "xtask ci: all {} steps passed in {total:.1}s",
            results.len()
        );
        Ok(())
    } else {
        bail!(
            "{} of {} steps failed ({}) in {total:.1}s",
            failed.len(),
            results.len(),
            failed.join(", ")
        )
    }
}

/// Entry point: `cargo xtask ci [--step NAME]`.
pub(crate) fn main(args: &[String]) -> Result<()> {
    match args {
        [] => run_ci(None),
        [flag, name] if flag == "--step" => run_ci(Some(name)),
        _ => bail!("usage: cargo xtask ci [--step fmt|clippy|test|doc|bench]"),
    }
}

fn fmt() -> Result<()> {
    run(cargo().args(["fmt", "--all", "--check"]))
}

fn clippy() -> Result<()> {
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))
}

fn test() -> Result<()> {
    if succeeds(cargo().args(["nextest", "--version"])) {
        run(cargo().args([
            "nextest",
            "run",
            "--workspace",
            "--locked",
            "--no-fail-fast",
        ]))?;
        // nextest does not run doc tests.
        run(cargo().args(["test", "--workspace", "--locked", "--doc"]))
    } else {
        eprintln!("cargo-nextest not found; using cargo test");
        run(cargo().args(["test", "--workspace", "--locked", "--no-fail-fast"]))
    }
}

fn doc() -> Result<()> {
    run(cargo()
        .args(["doc", "--workspace", "--no-deps", "--locked"])
        .env("RUSTDOCFLAGS", "-D warnings"))
}

/// A smoke test of the benchmark harness: every workload runs and produces
/// every figure; targets are not judged (see `cargo xtask bench --quick`).
fn bench() -> Result<()> {
    let json = crate::shell::root().join("target/bench/ci-quick.json");
    crate::bench::main(&[
        "--quick".into(),
        "--json".into(),
        json.display().to_string(),
    ])
}
