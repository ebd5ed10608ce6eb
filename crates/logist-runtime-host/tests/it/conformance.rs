//! `HostRuntime` against the whole conformance suite.

use crate::fixture::HostFixture;

logist_conformance::core_tests!(HostFixture::new());
logist_conformance::shell_tests!(HostFixture::new());
logist_conformance::process_tests!(HostFixture::new());
