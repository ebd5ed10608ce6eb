//! Finding, or building with cargo, the per-run monitor program
//! (`logist-monitor`) from any test of the workspace, the way
//! [`mock_program`](crate::mock_program) finds the mock agent: tests of
//! other crates cannot use `CARGO_BIN_EXE_logist-monitor`.
//!
//! 1. `LOGIST_MONITOR`, when set, is used as it is.
//! 2. Otherwise `logist-monitor` next to the test binary (or in the parent
//!    of cargo's `deps/`), unless it is older than `logist-monitor`'s or
//!    `logist-core`'s sources.
//! 3. Otherwise `$CARGO build -p logist-monitor --bin logist-monitor`, kept
//!    for the rest of the test process.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::BuildError;
use crate::mock::{cargo_build, newer_than};

/// The monitor program's file name.
pub const MONITOR_NAME: &str = "logist-monitor";

/// The monitor program, found or built: see the [module docs](self).
///
/// # Errors
///
/// [`BuildError`] when cargo could not build it.
pub fn monitor_program() -> Result<PathBuf, BuildError> {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    if let Some(program) = PROGRAM.get() {
        return Ok(program.clone());
    }
    if let Some(program) = std::env::var_os("LOGIST_MONITOR").filter(|v| !v.is_empty()) {
        return Ok(PROGRAM.get_or_init(|| program.into()).clone());
    }
    let program = match beside_test_binary() {
        Some(found) if !is_stale(&found) => found,
        _ => cargo_build(&source_dir(), MONITOR_NAME, MONITOR_NAME)?,
    };
    Ok(PROGRAM.get_or_init(|| program).clone())
}

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../logist-monitor")
}

fn beside_test_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [Some(dir), dir.parent()]
        .into_iter()
        .flatten()
        .map(|dir| dir.join(MONITOR_NAME))
        .find(|candidate| candidate.is_file())
}

fn is_stale(program: &Path) -> bool {
    let Ok(built) = program.metadata().and_then(|meta| meta.modified()) else {
        return true;
    };
    let crate_dir = source_dir();
    [
        crate_dir.join("src"),
        crate_dir.join("Cargo.toml"),
        crate_dir.join("../logist-core/src"),
        crate_dir.join("../logist-core/Cargo.toml"),
    ]
    .iter()
    .any(|root| newer_than(root, built))
}
