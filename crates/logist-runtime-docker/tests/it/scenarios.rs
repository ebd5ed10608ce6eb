//! Every scenario of the mock agent, run through its `Agent` (`MockAgent`:
//! its command line, environment and stop sequence) in a container of an
//! image that holds nothing but empty directories: no shell, no C library.
//! The statically linked agent is the only program in it.

use std::time::Duration;

use logist_conformance::{Fixture, LONG};
use logist_core::{
    Agent, Environment, ExitStatus, ProcessId, Runtime, SpawnRequest, StdinMode, Stream,
};
use logist_mock::{
    APPLIED, AUTH_ERROR, BINARY_OUTPUT, CANCELLED, CONTEXT_FULL_ERROR, CRASH_LINE,
    DEFAULT_FLOOD_BYTES, INTERACTIVE_STOP, MockAgent, RATE_LIMIT_ERROR, STUBBORN_READY,
    SUCCESS_SUMMARY, Scenario, parse_tree_pids,
};
use logist_runtime_docker::DockerRuntime;

use crate::fixture::{DockerFixture, EMPTY_IMAGE, MOCK_AGENT};

/// Reads output until `done` holds for all of it.
fn read_until(runtime: &DockerRuntime, id: &ProcessId, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let (mut seen, mut next) = (Vec::new(), 0);
    while !done(&seen) {
        let read = runtime.read_output(id, next, Some(LONG)).unwrap();
        assert!(
            !read.finished,
            "output ended: {:?}",
            String::from_utf8_lossy(&seen)
        );
        for chunk in read.chunks {
            seen.extend(chunk.data);
        }
        next = read.next;
    }
    seen
}

#[track_caller]
fn check(scenario: Scenario) {
    let fixture = DockerFixture::with_image(EMPTY_IMAGE);
    let runtime = fixture.docker();
    let agent = MockAgent::new(scenario).program(MOCK_AGENT);
    let request = SpawnRequest::new(agent.cmd("fix the bug").unwrap())
        .env(Environment::inherit().merge(&agent.env()))
        .stdin(StdinMode::Piped)
        .grace(Duration::from_millis(300));
    let id = runtime.spawn(&request).unwrap();
    let stderr = || {
        runtime
            .get_stream_logs(&id, Stream::Stderr, None)
            .unwrap()
            .text()
            .into_owned()
    };
    let wait = || runtime.wait(&id, Some(LONG)).unwrap();
    match scenario {
        Scenario::Success => {
            let done = wait();
            assert_eq!(done.status, ExitStatus::Code(0));
            assert!(done.logs.text().ends_with(SUCCESS_SUMMARY));
            assert!(done.logs.text().contains("fix the bug"));
        }
        Scenario::Hang => {
            read_until(&runtime, &id, |out| out.ends_with(b"\n"));
            assert!(runtime.wait(&id, Some(Duration::from_millis(200))).is_err());
            assert!(runtime.terminate(&id, false).unwrap());
            assert_eq!(wait().status, ExitStatus::Signal(15));
        }
        Scenario::ApiError | Scenario::ContextFull | Scenario::AuthError => {
            assert_eq!(wait().status, ExitStatus::Code(1));
            let expected = match scenario {
                Scenario::ApiError => RATE_LIMIT_ERROR,
                Scenario::ContextFull => CONTEXT_FULL_ERROR,
                _ => AUTH_ERROR,
            };
            assert!(stderr().ends_with(expected), "{}", stderr());
        }
        Scenario::Interactive | Scenario::Drip => {
            // The agent's stop sequence shows the question is waiting.
            let stop = agent.stop_sequences()[0].pattern().to_owned();
            assert_eq!(stop, INTERACTIVE_STOP);
            read_until(&runtime, &id, |out| {
                String::from_utf8_lossy(out).contains(&stop)
            });
            assert!(runtime.is_alive(&id).unwrap());
            let (answer, status, ending) = if scenario == Scenario::Interactive {
                (&b"y\n"[..], ExitStatus::Code(0), APPLIED)
            } else {
                (&b"no\n"[..], ExitStatus::Code(1), CANCELLED)
            };
            runtime.write_stdin(&id, answer).unwrap();
            let done = wait();
            assert_eq!(done.status, status);
            assert!(done.logs.text().ends_with(ending));
        }
        Scenario::Flood => {
            let done = wait();
            assert!(done.status.success());
            assert_eq!(done.logs.len() as u64, DEFAULT_FLOOD_BYTES);
        }
        Scenario::Stubborn => {
            read_until(&runtime, &id, |out| {
                out.ends_with(STUBBORN_READY.as_bytes())
            });
            assert!(runtime.terminate(&id, false).unwrap());
            assert_eq!(wait().status, ExitStatus::Signal(9));
        }
        Scenario::Tree => {
            let out = read_until(&runtime, &id, |out| parse_tree_pids(out).len() == 2);
            let pids = parse_tree_pids(&out);
            for &pid in &pids {
                assert!(fixture.pid_alive(pid), "grandchild {pid} runs");
            }
            assert!(runtime.terminate(&id, false).unwrap());
            assert!(wait().status.signal().is_some());
            for &pid in &pids {
                assert!(!fixture.pid_alive(pid), "grandchild {pid} is gone");
            }
        }
        Scenario::Crash => {
            let done = wait();
            assert_eq!(done.status, ExitStatus::Signal(11));
            assert!(done.logs.text().contains(CRASH_LINE.trim_end()));
        }
        Scenario::Binary => {
            assert!(wait().status.success());
            let stdout = runtime.get_stream_logs(&id, Stream::Stdout, None).unwrap();
            assert_eq!(stdout.bytes(), BINARY_OUTPUT);
        }
        Scenario::Env => {
            let done = wait();
            assert!(done.status.success());
            let text = done.logs.text();
            assert!(text.lines().any(|line| line == "NO_COLOR=1"), "{text}");
        }
        Scenario::Exit(code) => {
            assert_eq!(wait().status, ExitStatus::Code(i32::from(code)));
        }
    }
    drop(runtime);
    assert!(fixture.leftovers().is_empty(), "{:?}", fixture.leftovers());
}

macro_rules! scenarios {
    ($($test:ident: $scenario:expr,)*) => {
        $(
            #[test]
            fn $test() {
                check($scenario);
            }
        )*

        #[test]
        fn every_scenario_has_a_test() {
            let tested = [$($scenario),*];
            for scenario in Scenario::ALL {
                assert!(tested.contains(&scenario), "{scenario} is not tested");
            }
        }
    };
}

scenarios! {
    success: Scenario::Success,
    hang: Scenario::Hang,
    api_error: Scenario::ApiError,
    context_full: Scenario::ContextFull,
    auth_error: Scenario::AuthError,
    interactive: Scenario::Interactive,
    drip: Scenario::Drip,
    flood: Scenario::Flood,
    stubborn: Scenario::Stubborn,
    tree: Scenario::Tree,
    crash: Scenario::Crash,
    binary: Scenario::Binary,
    env: Scenario::Env,
    exit_7: Scenario::Exit(7),
}
