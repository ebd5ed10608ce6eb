//! `RemoteRuntime` against the conformance suite, with the server in this
//! process in front of a `HostRuntime`; and the remote-specific behaviour:
//! tokens, protocol versions, outages, reconnection, bad frames.

mod conformance;
mod fixture;
mod remote;
