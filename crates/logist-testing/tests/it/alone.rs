//! `alone` runs a test in a copy of the test binary of its own.

use logist_testing::{ALONE_ENV, alone, test_name};

/// The copy runs this test only, with the variable naming it; the outer
/// run checks that it passed. Under nextest the test runs directly.
#[test]
fn a_test_runs_in_a_process_of_its_own() {
    let name = test_name(module_path!(), "a_test_runs_in_a_process_of_its_own");
    assert_eq!(name, "alone::a_test_runs_in_a_process_of_its_own");
    if !alone(&name) {
        return;
    }
    let nextest = std::env::var_os("NEXTEST_EXECUTION_MODE").is_some();
    assert!(nextest || std::env::var_os(ALONE_ENV).is_some_and(|value| value == *name));
    // Only the harness's main thread and this test's thread, or this
    // thread alone when the harness runs the single test on its main one.
    let threads = logist_testing::self_status("Threads");
    assert!(threads <= 2, "{threads} threads");
}

/// A test that fails alone fails the outer run, with the copy's output.
#[test]
fn a_failure_alone_is_reported() {
    let name = test_name(module_path!(), "a_failure_alone_is_reported");
    if std::env::var_os("NEXTEST_EXECUTION_MODE").is_some() {
        // nextest gives each test its own process: no copy to fail.
        return;
    }
    if std::env::var_os(ALONE_ENV).is_some_and(|value| value == *name) {
        panic!("failing on purpose, alone");
    }
    let outer = std::panic::catch_unwind(|| alone(&name));
    let message = outer.expect_err("the copy failed, so must the outer run");
    let message = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("failed alone"), "{message}");
    assert!(message.contains("failing on purpose, alone"), "{message}");
}
