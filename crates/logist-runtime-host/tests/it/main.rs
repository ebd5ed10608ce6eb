//! Integration tests of `HostRuntime`: the conformance suite, and tests of
//! the host-specific hazards (pseudo-terminals, signal masks, log files,
//! parent death, …).

mod chaos;
mod conformance;
mod durable;
mod fixture;
mod hazards;
