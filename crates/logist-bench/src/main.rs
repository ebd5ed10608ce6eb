//! `logist-bench`: runs one repetition of one benchmark workload (W1–W6 of
//! `docs/benchmarks.md`) against one implementation, a Logist runtime or the
//! plain `std::process` baseline, and prints its figures as one JSON object
//! on stdout.
//!
//! `cargo xtask bench` builds this program in release mode and starts it
//! afresh for every workload, implementation and repetition, so that the
//! peak memory and peak thread count it reports belong to that run alone.
//! It aggregates, compares and judges; this program only measures.
//!
//! ```text
//! logist-bench W2 host --file target/bench/data/lines-64MiB.txt
//! {"workload":"W2","impl":"host","figures":{"wall_s":0.05,"mb_per_s":1342.2,"peak_rss_mib":19.4,"peak_threads":2}}
//! ```

mod acp;
mod baseline;
mod data;
mod parse;
mod probe;
mod runtimes;
mod workloads;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

/// The figures of one run: name and value, in the order they are reported.
pub(crate) type Figures = Vec<(&'static str, f64)>;

/// W4b's child: a shell that ignores SIGTERM (and so do its `sleep`s).
pub(crate) const STUBBORN_SCRIPT: &str = r#"trap "" TERM; while :; do sleep 1; done"#;
/// W4c's child: a shell with two children.
pub(crate) const TREE_SCRIPT: &str = "sleep 1000 & sleep 1000 & wait";
/// W5's child: a prompt without a newline, then a read.
pub(crate) const PROMPT_SCRIPT: &str = r#"printf "Confirm changes? [y/N]: "; read x"#;
/// What W5 waits for.
pub(crate) const STOP_SEQUENCE: &[u8] = b"[y/N]";
/// `get_logs` calls W6 times, to measure one call well above the clock's
/// resolution.
pub(crate) const TAIL_CALLS: usize = 1000;

const USAGE: &str = "\
usage: logist-bench <workload> <impl> [--count N] [--file PATH]
       logist-bench generate <PATH> <BYTES>
       logist-bench check <RUNTIME>

workloads: W1 (--count spawns), W2 (--file), W3 (--count children),
           W4a, W4b, W4c, W5 (--count runs), W6 (--file),
           W7 (--count MiB of recorded stream-json to parse),
           W8 (--count ACP updates), W9 (a silent ACP turn)
impl:      baseline, or a runtime: host, docker, remote (loopback TCP to an
           in-process server of the host runtime), monitor, monitor-durable
           (the host runtime through per-run monitors)
";

/// One run, as given on the command line.
#[derive(Debug, PartialEq)]
struct Run {
    workload: String,
    implementation: String,
    count: Option<usize>,
    file: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Run> {
    let [workload, implementation, rest @ ..] = args else {
        bail!("expected a workload and an implementation");
    };
    let mut run = Run {
        workload: workload.clone(),
        implementation: implementation.clone(),
        count: None,
        file: None,
    };
    let mut rest = rest.iter();
    while let Some(flag) = rest.next() {
        let value = rest
            .next()
            .with_context(|| format!("`{flag}` needs a value"))?;
        match flag.as_str() {
            "--count" => {
                let count: usize = value
                    .parse()
                    .with_context(|| format!("`--count {value}` is not a number"))?;
                if count == 0 {
                    bail!("`--count` must be at least 1");
                }
                run.count = Some(count);
            }
            "--file" => run.file = Some(PathBuf::from(value)),
            other => bail!("unknown option `{other}`"),
        }
    }
    Ok(run)
}

impl Run {
    fn count(&self) -> Result<usize> {
        self.count
            .with_context(|| format!("{} needs `--count N`", self.workload))
    }

    fn file(&self) -> Result<&std::path::Path> {
        self.file
            .as_deref()
            .with_context(|| format!("{} needs `--file PATH`", self.workload))
    }

    /// Runs the workload once and returns its figures, peaks included.
    fn execute(&self) -> Result<Figures> {
        let probe = probe::Probe::start()?;
        let mut figures = if self.implementation == "baseline" {
            self.baseline()?
        } else {
            let runtime: std::sync::Arc<dyn logist_core::Runtime> =
                runtimes::open(&self.implementation)?.into();
            probe::checkpoint();
            let figures = self.on_runtime(&runtime);
            probe::checkpoint();
            drop(runtime);
            runtimes::cleanup();
            figures?
        };
        let peaks = probe.finish()?;
        figures.push(("peak_rss_mib", peaks.rss_kib as f64 / 1024.0));
        figures.push(("peak_threads", peaks.threads as f64));
        Ok(figures)
    }

    fn on_runtime(&self, runtime: &std::sync::Arc<dyn logist_core::Runtime>) -> Result<Figures> {
        let rt = &**runtime;
        match self.workload.as_str() {
            "W1" => workloads::spawn_wait(rt, self.count()?),
            "W2" => workloads::throughput(rt, self.file()?),
            "W3" => workloads::many(rt, self.count()?),
            "W4a" => workloads::terminate_polite(rt),
            "W4b" => workloads::terminate_stubborn(rt),
            "W4c" => workloads::terminate_tree(rt),
            "W5" => workloads::prompt(rt, self.count()?),
            "W6" => workloads::tail(rt, self.file()?),
            // Parsing runs in this process whatever the runtime.
            "W7" => parse::events(self.count()?),
            "W8" => acp::acp_latency(std::sync::Arc::clone(runtime), self.count()?),
            "W9" => acp::acp_silent(std::sync::Arc::clone(runtime)),
            other => bail!("unknown workload `{other}`"),
        }
    }

    fn baseline(&self) -> Result<Figures> {
        match self.workload.as_str() {
            "W1" => baseline::spawn_wait(self.count()?),
            "W2" => baseline::throughput(self.file()?),
            "W3" => baseline::many(self.count()?),
            "W4a" => baseline::terminate_polite(),
            "W4b" => baseline::terminate_stubborn(),
            "W4c" => baseline::terminate_tree(),
            "W5" => baseline::prompt(self.count()?),
            "W6" => baseline::tail(self.file()?),
            "W7" => parse::baseline(self.count()?),
            "W8" => acp::baseline_latency(self.count()?),
            "W9" => acp::baseline_silent(),
            other => bail!("unknown workload `{other}`"),
        }
    }
}

/// The one line this program prints on success.
fn report(run: &Run, figures: &Figures) -> String {
    let figures: serde_json::Map<String, serde_json::Value> = figures
        .iter()
        .map(|(name, value)| ((*name).to_owned(), serde_json::json!(value)))
        .collect();
    serde_json::json!({
        "workload": run.workload,
        "impl": run.implementation,
        "figures": figures,
    })
    .to_string()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("-h" | "--help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some("generate") => generate(&args[1..]),
        Some("check") => check(&args[1..]),
        _ => parse(&args).and_then(|run| {
            let figures = run
                .execute()
                .with_context(|| format!("{} on {} failed", run.workload, run.implementation))?;
            println!("{}", report(&run, &figures));
            Ok(())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("logist-bench: error: {error:#}");
            if args.is_empty() {
                eprint!("\n{USAGE}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Succeeds when the named runtime can be built here; otherwise the error
/// says why (`cargo xtask bench` shows it).
fn check(args: &[String]) -> Result<()> {
    let [name] = args else {
        bail!("usage: logist-bench check <RUNTIME>");
    };
    let opened = runtimes::open(name).map(drop);
    runtimes::cleanup();
    opened
}

fn generate(args: &[String]) -> Result<()> {
    let [path, bytes] = args else {
        bail!("usage: logist-bench generate <PATH> <BYTES>");
    };
    let size: u64 = bytes
        .parse()
        .with_context(|| format!("`{bytes}` is not a byte count"))?;
    data::generate(std::path::Path::new(path), size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn command_lines_parse_or_say_what_is_wrong() {
        assert_eq!(
            parse(&args("W3 host --count 100")).unwrap(),
            Run {
                workload: "W3".into(),
                implementation: "host".into(),
                count: Some(100),
                file: None,
            }
        );
        let error = |text| parse(&args(text)).unwrap_err().to_string();
        assert_eq!(error("W1"), "expected a workload and an implementation");
        assert_eq!(error("W1 host --count"), "`--count` needs a value");
        assert_eq!(error("W1 host --count x"), "`--count x` is not a number");
        assert_eq!(error("W1 host --count 0"), "`--count` must be at least 1");
        assert_eq!(error("W1 host --fast 1"), "unknown option `--fast`");
        let run = parse(&args("W1 host")).unwrap();
        assert_eq!(run.count().unwrap_err().to_string(), "W1 needs `--count N`");
        let run = parse(&args("W10 baseline")).unwrap();
        assert_eq!(
            run.execute().unwrap_err().to_string(),
            "unknown workload `W10`"
        );
    }

    #[test]
    fn a_small_run_reports_every_figure_as_json() {
        for implementation in ["baseline", "host"] {
            let run = parse(&args(&format!("W1 {implementation} --count 3"))).unwrap();
            let line = report(&run, &run.execute().unwrap());
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            let figures = value["figures"].as_object().unwrap();
            let names: Vec<&str> = figures.keys().map(String::as_str).collect();
            assert_eq!(
                names,
                [
                    "cpu_us_per_spawn_wait",
                    "peak_rss_mib",
                    "peak_threads",
                    "us_per_spawn_wait"
                ],
                "{line}"
            );
            assert!(figures["us_per_spawn_wait"].as_f64().unwrap() > 0.0);
        }
    }
}
