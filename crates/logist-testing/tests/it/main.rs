//! Tests of `logist-testing` through its public API, against the real mock
//! agent program: the no-survivor guard, and running a test alone.

mod alone;
mod survivors;

use std::path::PathBuf;
use std::time::Duration;

/// How long a test waits for something that should happen at once.
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

/// The mock agent program, found or built.
pub(crate) fn program() -> PathBuf {
    logist_testing::mock_program().expect("the mock agent program")
}
