//! `RemoteRuntime` against the whole conformance suite: a `HostRuntime`
//! served in this process, driven through the protocol.

use crate::fixture::RemoteFixture;

logist_conformance::core_tests!(RemoteFixture::new());
logist_conformance::shell_tests!(RemoteFixture::new());
logist_conformance::process_tests!(RemoteFixture::new());
