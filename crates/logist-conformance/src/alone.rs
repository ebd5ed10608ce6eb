//! Running one check in a process of its own, for the checks that measure
//! the whole process (descriptors, threads, resident memory).
//!
//! `cargo test` runs the tests of a binary as threads of one process, so
//! such a measurement would also count what the tests beside it do. The
//! test macros expand those checks to call [`alone`], which runs the test
//! binary again for the one test. (The workspace's `logist-testing` crate
//! has the same helper for its own tests; this published crate cannot
//! depend on that unpublished one, so it keeps this small copy.)

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Set in the environment of the copy of the test binary that runs one
/// check alone; its value is the test's name.
const ALONE_ENV: &str = "LOGIST_CONFORMANCE_ALONE";

/// How long the copy may take.
const DEADLINE: Duration = Duration::from_secs(1800);

/// True when the calling test has the process to itself: in the copy of
/// the test binary that runs only this test, or under cargo-nextest (one
/// process per test). Elsewhere, runs the test binary again for this test
/// alone, fails if it failed there, and returns false.
///
/// `module_path` is the `module_path!()` of the test function and
/// `function` its name. The test macros call it for the checks that need
/// it; a fixture that expands checks one by one calls it the same way:
///
/// ```no_run
/// # use logist_conformance::Fixture;
/// fn resources_return_after_many_spawns(fixture: &dyn Fixture) {
///     if logist_conformance::alone(module_path!(), "resources_return_after_many_spawns") {
///         logist_conformance::checks::process::resources_return_after_many_spawns(fixture);
///     }
/// }
/// ```
///
/// # Panics
///
/// When the copy cannot be run, fails, runs longer than 30 minutes or did
/// not run exactly one test.
#[expect(
    clippy::disallowed_methods,
    reason = "runs the test binary again, for a check that measures the whole process"
)]
pub fn alone(module_path: &str, function: &str) -> bool {
    let name = match module_path.split_once("::") {
        Some((_, inner)) => format!("{inner}::{function}"),
        None => function.to_owned(),
    };
    let nextest =
        std::env::var_os("NEXTEST_EXECUTION_MODE").is_some_and(|mode| mode == "process-per-test");
    if nextest || std::env::var_os(ALONE_ENV).is_some_and(|value| value == *name) {
        return true;
    }
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([&name, "--exact", "--nocapture", "--test-threads", "1"])
        .env(ALONE_ENV, &name)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the test binary");
    let readers = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .map(|stream| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut stream) = stream {
                let _ = stream.read_to_string(&mut text);
            }
            text
        })
    });
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the test binary") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} did not finish alone within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut output = String::new();
    for reader in readers {
        output.push_str(&reader.join().expect("an output reader"));
    }
    eprintln!("{output}");
    assert!(status.success(), "{name} failed alone: {status}\n{output}");
    assert!(
        output.contains("1 passed"),
        "{name} did not run alone:\n{output}"
    );
    false
}
