//! The ACP client against the mock agent's ACP mode on the host runtime.

mod hostile;
mod runtimes;
mod sessions;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use logist_acp::{AcpClient, AcpConfig, AcpError, AcpEvent, Answer, PermissionPolicy, StopReason};
use logist_core::{Agent, CommandLine, Runtime, SpawnRequest};
use logist_mock::{MockAgent, Scenario};
use logist_runtime_host::HostRuntime;

/// A host runtime that never drops output (ACP needs every message).
pub fn runtime() -> Arc<HostRuntime> {
    Arc::new(
        HostRuntime::builder()
            .backpressure(true)
            .grace(Duration::from_secs(2))
            .build()
            .expect("host runtime"),
    )
}

/// The mock agent's ACP command line, plus `extra` options.
pub fn mock_command(extra: &[&str]) -> CommandLine {
    let program = logist_testing::mock_program().expect("mock program");
    let agent = MockAgent::new(Scenario::Success).program(program);
    let mut argv = agent
        .acp_command()
        .expect("command")
        .expect("the mock speaks ACP")
        .into_argv();
    argv.extend(extra.iter().map(|s| (*s).to_owned()));
    CommandLine::new(argv).expect("argv")
}

/// Limits short enough for tests, long enough for a loaded machine.
pub fn config() -> AcpConfig {
    AcpConfig::default()
        .request_timeout(Duration::from_secs(30))
        .inactivity(Duration::from_secs(30))
        .cancel_grace(Duration::from_secs(5))
}

/// A started client on the mock with `extra` options.
pub fn start(
    runtime: &Arc<HostRuntime>,
    extra: &[&str],
    policy: PermissionPolicy,
    config: AcpConfig,
) -> AcpClient {
    let runtime: Arc<dyn Runtime> = Arc::clone(runtime) as Arc<dyn Runtime>;
    AcpClient::start(
        runtime,
        SpawnRequest::new(mock_command(extra)),
        policy,
        config,
    )
    .expect("the mock starts and initializes")
}

/// One turn's outcome and everything it reported.
pub struct Turn {
    /// The stop reason or the error.
    pub result: Result<StopReason, AcpError>,
    /// Every event, in order.
    pub events: Vec<AcpEvent>,
}

impl Turn {
    /// The text of every agent message chunk, joined.
    pub fn text(&self) -> String {
        self.events
            .iter()
            .filter_map(|event| match event {
                AcpEvent::Update { update, .. } if update.kind == "agent_message_chunk" => {
                    update.text().map(str::to_owned)
                }
                _ => None,
            })
            .collect()
    }

    /// The `sessionUpdate` kinds of the updates, in order.
    pub fn kinds(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|event| match event {
                AcpEvent::Update { update, .. } => Some(update.kind.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Runs one turn on `session`.
pub fn turn(client: &mut AcpClient, session: &str, prompt: &str) -> Turn {
    let mut events = Vec::new();
    let result = client.prompt(session, prompt, |event| events.push(event));
    Turn { result, events }
}

/// A new session working in `cwd`.
pub fn session(client: &mut AcpClient, cwd: &Path) -> String {
    client.new_session(cwd).expect("session/new")
}

/// A policy answering everything with `answer`.
pub fn policy(answer: Answer) -> PermissionPolicy {
    PermissionPolicy::new(answer)
}

/// Waits for the agent process to be gone, with a generous deadline.
#[track_caller]
pub fn assert_gone(runtime: &HostRuntime, client: &AcpClient) {
    let done = runtime.wait(client.process_id(), Some(Duration::from_secs(30)));
    assert!(done.is_ok(), "the agent is still running: {done:?}");
}
