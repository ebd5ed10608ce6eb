//! Running one test in a process of its own, for tests that measure the
//! whole process (threads, descriptors, resident memory, CPU time).
//!
//! `cargo test` runs the tests of a binary as threads of one process, so
//! such a measurement also counts whatever the tests running beside it do.
//! [`alone`] re-runs the test binary for the one test and checks that it
//! passed there. Under `cargo nextest run`, which already gives each test a
//! process of its own, the test simply runs.

use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use crate::{KillOnDrop, NoSurvivors};

/// Set in the environment of a copy of the test binary that runs one test
/// alone; its value is the test's name.
pub const ALONE_ENV: &str = "LOGIST_TEST_ALONE";

/// How long the copy may take.
const ALONE_DEADLINE: Duration = Duration::from_secs(600);

/// True when the calling test has this process to itself: in the copy of
/// the test binary that runs only the test `name` (as the test harness
/// names it: `module::test`), or under cargo-nextest. Elsewhere, runs the
/// test binary again for `name` alone (so that tests running in parallel
/// threads do not count in its measurements), checks that it passed, and
/// returns false; the caller then returns.
///
/// ```no_run
/// #[test]
/// fn threads_come_back() {
///     if !logist_testing::alone(&logist_testing::test_name(module_path!(), "threads_come_back")) {
///         return;
///     }
///     // … measure the whole process …
/// }
/// ```
///
/// # Panics
///
/// When the copy cannot be run, fails, takes longer than ten minutes, or
/// did not run exactly one test.
pub fn alone(name: &str) -> bool {
    if std::env::var_os(ALONE_ENV).is_some_and(|value| value == name) || under_nextest() {
        return true;
    }
    let guard = NoSurvivors::new();
    let mut command = guard.command(std::env::current_exe().expect("the test binary"));
    command
        .args([name, "--exact", "--nocapture", "--test-threads", "1"])
        .env(ALONE_ENV, name)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = KillOnDrop::new(command.spawn().expect("run the test binary"));
    // Read both streams while the test runs, so a full pipe cannot stall
    // it, and the deadline holds even if it hangs.
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
    let status = child
        .wait_timeout(ALONE_DEADLINE)
        .expect("wait for the test binary")
        .expect("the test finishes in time");
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

/// The name the test harness gives the test function `function` defined in
/// the module `module_path` (pass `module_path!()`): the path without the
/// crate's name.
pub fn test_name(module_path: &str, function: &str) -> String {
    match module_path.split_once("::") {
        Some((_, inner)) => format!("{inner}::{function}"),
        None => function.to_owned(),
    }
}

/// True when cargo-nextest runs this test in a process of its own.
fn under_nextest() -> bool {
    std::env::var_os("NEXTEST_EXECUTION_MODE").is_some_and(|mode| mode == "process-per-test")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_drop_the_crate() {
        assert_eq!(test_name("it::cost", "quiet"), "cost::quiet");
        assert_eq!(test_name("it::a::b", "c"), "a::b::c");
        assert_eq!(test_name("it", "top"), "top");
    }
}
