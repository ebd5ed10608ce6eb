//! This package exists to own the workspace's cross-crate tests in the
//! top-level `tests/` directory; it has no code of its own.
