//! This package exists to own the workspace's cross-crate tests in the
//! top-level `tests/` directory; it has no code of its own.

/// The guides' code blocks, compiled and run as doctests so they stay true
/// to the traits.
#[cfg(doctest)]
#[doc = include_str!("../docs/writing-a-runtime.md")]
pub struct WritingARuntime;
