//! The checks, grouped by what they need from the runtime. Each takes the
//! fixture and panics with a message naming what was wrong.

pub mod core;
pub mod process;
pub mod shell;
