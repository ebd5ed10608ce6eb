//! Runs a `MockAgent` scenario on `HostRuntime` under the sentinel: the
//! agent asks `Confirm changes? [y/N]:`, the sentinel sees the question on
//! the live output and answers it, and the run completes.
//!
//! ```sh
//! cargo run -p logist-sentinel --example mock_scenario [SCENARIO]
//! ```

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use logist_mock::Scenario;
use logist_runtime_host::HostRuntime;
use logist_sentinel::{Event, OnPrompt, Policy, RunOptions, Sentinel};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scenario: Scenario = std::env::args()
        .nth(1)
        .as_deref()
        .unwrap_or("interactive")
        .parse()?;
    // Finds the mock agent program next to this example, or builds it.
    let agent = logist_testing::mock_agent(scenario)?;
    let runtime = HostRuntime::builder()
        .grace(Duration::from_secs(2))
        .build()?;

    let options = RunOptions::new().policy(
        Policy::new()
            .timeout(Duration::from_secs(60))
            .idle_timeout(Duration::from_secs(10))
            .on_prompt(OnPrompt::Answer("y\n".into())),
    );
    let sentinel = Sentinel::new(Arc::new(runtime), Arc::new(agent), options);
    let outcome = sentinel.run("Add a test for parse_args", |event| match event {
        Event::Output(chunk) => {
            // Unbuffered, so a question without a newline shows at once.
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&chunk.data).and_then(|()| out.flush());
        }
        Event::WaitingForInput { matched, .. } => {
            eprintln!("\n[sentinel] waiting for input: {:?}", matched.text)
        }
        Event::Answered { text, .. } => eprintln!("[sentinel] answered {text:?}"),
        Event::FailureRecognised { cause, .. } => {
            eprintln!("[sentinel] failure recognised: {cause}")
        }
        _ => {}
    })?;
    eprintln!("[sentinel] {outcome}");
    if outcome.is_success() {
        Ok(())
    } else {
        Err(format!("the run did not complete: {outcome}").into())
    }
}
