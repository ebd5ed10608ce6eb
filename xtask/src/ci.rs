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
    // The Docker tests need an engine, the static mock agent and the test
    // image; they fail (not skip) without them.
    Step {
        name: "docker",
        run: crate::docker::ensure,
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
        name: "examples",
        run: examples,
    },
    Step {
        name: "bench",
        run: bench,
    },
    Step {
        // Last: it rebuilds our crates from their tarballs.
        name: "package",
        run: package,
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
        _ => bail!(
            "usage: cargo xtask ci [--step fmt|clippy|docker|test|doc|examples|bench|package]"
        ),
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
        // Feature-gated targets (the agents' end-to-end tests) too.
        "--all-features",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))
}

fn test() -> Result<()> {
    // Every child a test starts must be gone when the suite ends.
    crate::leaks::around(None, run_tests)
}

fn run_tests() -> Result<()> {
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

/// Every example the docs point to, run as a user would run it.
const EXAMPLES: &[(&str, &str, &[&str])] = &[
    (
        "logist-runtime-host",
        "run",
        &["sh", "-c", "echo streamed; echo to stderr >&2"],
    ),
    ("logist-sentinel", "mock_scenario", &["interactive"]),
    ("logist-agents", "custom_agent", &[]),
    ("logist-runtime-docker", "swap", &["logist-test-busybox:1"]),
];

fn examples() -> Result<()> {
    for (package, example, args) in EXAMPLES {
        eprintln!("--> example {package}/{example}");
        run(cargo()
            .args([
                "run",
                "--quiet",
                "--locked",
                "-p",
                package,
                "--example",
                example,
                "--",
            ])
            .args(*args))?;
    }
    Ok(())
}

fn package() -> Result<()> {
    // The release's packaging, on the current tree: every publishable crate
    // packaged and built from its tarball.
    crate::release::package(&crate::shell::root(), true).map(drop)
}

fn doc() -> Result<()> {
    run(cargo()
        .args(["doc", "--workspace", "--no-deps", "--locked"])
        .env("RUSTDOCFLAGS", "-D warnings"))
}

/// A smoke test of the benchmark harness: every workload runs and produces
/// every figure; targets are not judged (see `cargo xtask bench --quick`).
fn bench() -> Result<()> {
    for runtime in ["host", "remote"] {
        let json = crate::shell::root().join(format!("target/bench/ci-quick-{runtime}.json"));
        crate::bench::main(&[
            "--quick".into(),
            "--runtime".into(),
            runtime.into(),
            "--json".into(),
            json.display().to_string(),
        ])?;
    }
    Ok(())
}
