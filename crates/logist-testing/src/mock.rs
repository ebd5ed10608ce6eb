//! Finding, or building with cargo, the mock agent program
//! (`logist-mock-agent`) from any test of the workspace.
//!
//! [`mock_program`] works from `logist-mock`'s tests, other crates' tests,
//! the workspace's top-level tests and doc tests alike:
//!
//! 1. `LOGIST_MOCK_AGENT`, when set, is used as it is.
//! 2. Otherwise [`locate_program`](logist_mock::locate_program) looks next
//!    to the test binary (and in the parent of cargo's `deps/`) and on
//!    `PATH`.
//! 3. When nothing is found, or what is found is older than `logist-mock`'s
//!    sources (so a `cargo test -p other-crate` never runs a stale build),
//!    it runs `$CARGO build -p logist-mock --bin logist-mock-agent` in this
//!    workspace and uses the executable cargo reports. A no-op build takes
//!    well under a second; the result is kept for the rest of the test
//!    process.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::SystemTime;

use logist_mock::{LocateError, Lookup, MockAgent, PROGRAM_NAME, Scenario};

use crate::error::BuildError;

/// The mock agent program, found or built: see the [module docs](self).
///
/// # Errors
///
/// [`BuildError::Locate`] when `LOGIST_MOCK_AGENT` names no executable
/// file; the other [`BuildError`]s when cargo could not build it.
pub fn mock_program() -> Result<PathBuf, BuildError> {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    if let Some(program) = PROGRAM.get() {
        return Ok(program.clone());
    }
    let lookup = Lookup::from_env();
    let program = match lookup.locate() {
        Ok(found)
            if lookup
                .env_var
                .as_ref()
                .is_some_and(|value| !value.is_empty()) =>
        {
            found
        }
        Ok(found) if !is_stale(&found) => found,
        Err(error @ LocateError::EnvVar { .. }) => return Err(error.into()),
        Ok(_) | Err(_) => build_mock_program()?,
    };
    Ok(PROGRAM.get_or_init(|| program).clone())
}

/// A [`MockAgent`] for `scenario` whose program is [`mock_program`].
///
/// # Errors
///
/// As [`mock_program`].
pub fn mock_agent(scenario: Scenario) -> Result<MockAgent, BuildError> {
    Ok(MockAgent::new(scenario).program(mock_program()?))
}

/// The source directory of `logist-mock`, beside this crate's in the
/// workspace (this crate is never published, so it is always there).
fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../logist-mock")
}

/// True when `program` is older than a source file it is built from
/// (`logist-mock`'s or `logist-core`'s).
fn is_stale(program: &Path) -> bool {
    let Ok(built) = program.metadata().and_then(|meta| meta.modified()) else {
        return true;
    };
    let crate_dir = source_dir();
    let roots = [
        crate_dir.join("src"),
        crate_dir.join("Cargo.toml"),
        crate_dir.join("../logist-core/src"),
        crate_dir.join("../logist-core/Cargo.toml"),
    ];
    roots.iter().any(|root| newer_than(root, built))
}

/// True when `path`, or a file below it, was modified after `time`.
pub(crate) fn newer_than(path: &Path, time: SystemTime) -> bool {
    let Ok(meta) = path.metadata() else {
        return false;
    };
    if meta.is_dir() {
        fs::read_dir(path).is_ok_and(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|entry| newer_than(&entry.path(), time))
        })
    } else {
        meta.modified().is_ok_and(|modified| modified > time)
    }
}

/// Builds the program with `$CARGO build -p logist-mock --bin
/// logist-mock-agent` (in the workspace that holds this crate) into the
/// workspace's target directory
/// and returns the executable cargo reports. [`mock_program`] calls this
/// only when needed; this always runs cargo.
///
/// # Errors
///
/// [`BuildError`] when cargo cannot be run, fails, or reports no
/// executable.
pub fn build_mock_program() -> Result<PathBuf, BuildError> {
    cargo_build(&source_dir(), "logist-mock", PROGRAM_NAME)
}

/// Runs `$CARGO build -p package --bin bin` with the manifest of
/// `crate_dir` and returns the executable cargo reports.
#[expect(
    clippy::disallowed_methods,
    reason = "a test helper that runs cargo to build a test program"
)]
pub(crate) fn cargo_build(
    crate_dir: &Path,
    package: &str,
    bin: &str,
) -> Result<PathBuf, BuildError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = crate_dir.join("Cargo.toml");
    let mut command = Command::new(&cargo);
    command
        .args([
            "build",
            "--message-format=json-render-diagnostics",
            "--package",
            package,
            "--bin",
            bin,
            "--manifest-path",
        ])
        .arg(&manifest);
    let shown = format!("{} build -p {package} --bin {bin}", cargo.to_string_lossy());
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|source| BuildError::Spawn {
            cargo: cargo.to_string_lossy().into_owned(),
            program: bin.to_owned(),
            source,
        })?;
    if !output.status.success() {
        return Err(BuildError::Cargo {
            command: shown,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.contains(r#""reason":"compiler-artifact""#))
        .filter_map(json_executable)
        .find(|path| path.file_name() == Some(OsStr::new(bin)))
        .ok_or(BuildError::NoExecutable {
            command: shown,
            program: bin.to_owned(),
        })
}

/// The `"executable"` string of one line of cargo's JSON messages.
fn json_executable(line: &str) -> Option<PathBuf> {
    let start = line.find(r#""executable":""#)? + r#""executable":""#.len();
    let mut path = String::new();
    let mut chars = line[start..].chars();
    loop {
        match chars.next()? {
            '"' => return Some(PathBuf::from(path)),
            '\\' => match chars.next()? {
                'n' => path.push('\n'),
                't' => path.push('\t'),
                escaped @ ('"' | '\\' | '/') => path.push(escaped),
                // Other escapes do not occur in the paths cargo prints.
                _ => return None,
            },
            plain => path.push(plain),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executable_paths_are_read_from_cargo_json() {
        let line = r#"{"reason":"compiler-artifact","target":{"name":"logist-mock-agent"},"executable":"/w/target/debug/logist-mock-agent","fresh":true}"#;
        assert_eq!(
            json_executable(line),
            Some(PathBuf::from("/w/target/debug/logist-mock-agent"))
        );
        let escaped = r#"{"executable":"/a \"b\"\\c/x","fresh":true}"#;
        assert_eq!(
            json_executable(escaped),
            Some(PathBuf::from(r#"/a "b"\c/x"#))
        );
        assert_eq!(json_executable(r#"{"executable":null}"#), None);
        assert_eq!(json_executable(r#"{"executable":"/unterminated"#), None);
    }

    #[test]
    fn the_mock_sources_are_found() {
        assert!(source_dir().join("src/main.rs").is_file());
    }
}
