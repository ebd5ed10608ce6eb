//! Integration tests of `logist-sentinel` through its public API: the
//! observer fed synthetic output and time (no runtime, no processes), the
//! parts of the driver that need no runtime, and the driver against
//! `MockRuntime` (process-free) and `HostRuntime` (real processes).

mod chunking;
mod cost;
mod driver;
mod host;
mod matching;
mod policies;
mod process_free;
mod runs;
mod support;
