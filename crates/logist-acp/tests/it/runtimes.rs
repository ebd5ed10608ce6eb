//! The client on another runtime: the process-free `MockRuntime`, which
//! plays the mock agent's (non-ACP) scenarios. Whatever a program that is
//! no ACP agent prints, starting fails with a typed error, in bounded time.

use std::sync::Arc;
use std::time::Duration;

use logist_acp::{AcpClient, AcpError, Answer, PermissionPolicy, Stopped};
use logist_core::{Agent, ExitStatus, Runtime, SpawnRequest};
use logist_mock::{MockAgent, MockRuntime, Scenario};

use crate::config;

#[track_caller]
fn start(scenario: Scenario, timeout: Duration) -> (Arc<MockRuntime>, Result<AcpClient, AcpError>) {
    let runtime = Arc::new(MockRuntime::new());
    let command = MockAgent::new(scenario)
        .program("logist-mock-agent")
        .cmd("hi")
        .unwrap();
    let client = AcpClient::start(
        Arc::clone(&runtime) as Arc<dyn Runtime>,
        SpawnRequest::new(command),
        PermissionPolicy::new(Answer::Reject),
        config().request_timeout(timeout),
    );
    (runtime, client)
}

#[test]
fn binary_output_then_exit_is_agent_exited() {
    let (_, client) = start(Scenario::Binary, Duration::from_secs(30));
    match client {
        Err(AcpError::AgentExited {
            status: Some(ExitStatus::Code(0)),
            ..
        }) => {}
        other => panic!("expected the exit, got {other:?}"),
    }
}

#[test]
fn a_silent_program_times_out_at_initialize_and_is_terminated() {
    let (runtime, client) = start(Scenario::Hang, Duration::from_millis(300));
    match client {
        Err(AcpError::Timeout {
            stopped: Stopped::Terminated,
            ..
        }) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    let ids = runtime.list(&Default::default()).unwrap();
    assert_eq!(ids.len(), 1);
    assert!(!runtime.is_alive(&ids[0].id).unwrap());
}
