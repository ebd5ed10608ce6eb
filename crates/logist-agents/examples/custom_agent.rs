//! A new agent in thirty lines: an `Agent` for a program this crate does not
//! know, run through `HostRuntime`.
//!
//! ```sh
//! cargo run -p logist-agents --example custom_agent
//! ```

use std::time::Duration;

use logist_core::{Agent, CommandLine, Environment, Error, Runtime, SpawnRequest, StopSequence};
use logist_runtime_host::HostRuntime;

/// "Reviewer": a stand-in agent program (a shell script here) that answers
/// a prompt given with `--task=` and needs an API key from the environment.
struct Reviewer;

impl Agent for Reviewer {
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        // `--task=PROMPT` keeps a prompt that starts with `-` from being
        // read as an option; the prompt is never given to a shell.
        let script = r#"echo "reviewing: ${1#--task=}"; echo "looks good""#;
        CommandLine::new(["sh", "-c", script, "reviewer", &format!("--task={prompt}")])
    }
    fn env(&self) -> Environment {
        // The key is passed by name: its value is never copied or logged.
        Environment::inherit()
            .pass("REVIEWER_API_KEY")
            .set("NO_COLOR", "1")
    }
    fn stop_sequences(&self) -> Vec<StopSequence> {
        vec![
            StopSequence::literal("Approve? [y/N]"),
            StopSequence::regex(r"^Password: ?$"),
        ]
    }
    fn name(&self) -> &str {
        "reviewer"
    }
    fn version(&self) -> &str {
        "1.0"
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let agent = Reviewer;
    let runtime: Box<dyn Runtime> = Box::new(HostRuntime::new()?);
    let request = SpawnRequest::new(agent.cmd("-v the $(changes) in src/")?)
        .env(Environment::clean().pass("PATH").merge(&agent.env()));
    let id = runtime.spawn(&request)?;
    let done = runtime.wait(&id, Some(Duration::from_secs(30)))?;
    print!("{}", done.logs.text());
    assert_eq!(
        done.logs.text(),
        "reviewing: -v the $(changes) in src/\nlooks good\n"
    );
    Ok(())
}
