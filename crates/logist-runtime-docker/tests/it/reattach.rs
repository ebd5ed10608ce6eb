//! `DockerRuntime` against the re-attach checks of the conformance suite:
//! durable containers outlive their runtime, and a runtime built with
//! `adopt(true)` takes them over (output replayed from the engine's log,
//! stdin, terminate, exit status, labels). Attached containers are stopped
//! and removed when their runtime is dropped, so the attached-teardown
//! check runs too.

use crate::fixture::DockerFixture;

logist_conformance::reattach_tests!(DockerFixture::new(); attached_teardown);
