//! `HostRuntime`: runs processes on this machine under the `logist-core`
//! [`Runtime`](logist_core::Runtime) contract. (Filled in by the HostRuntime
//! issue.)
