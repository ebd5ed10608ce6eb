//! Integration tests of `logist-sentinel` through its public API: the
//! observer fed synthetic output and time (no runtime, no processes), and
//! the parts of the driver that need no runtime.

mod chunking;
mod driver;
mod host;
mod matching;
mod policies;
mod runs;
mod support;
