//! Where durable runs are recorded: `--state-dir DIR`, else
//! `LOGIST_STATE_DIR`, else `$XDG_STATE_HOME/logist`, else
//! `~/.local/state/logist` (the XDG base directory default).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::time::Duration;

use logist_core::{Runtime, error_chain};
use logist_monitor::{StateDir, StateError};
use logist_runtime_host::{HostRuntime, MonitorProgram};

use crate::CliError;

/// Why the state directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateDirError {
    /// Nothing names a state directory and there is no home to put it in.
    #[error(
        "no state directory: HOME is not set (give --state-dir DIR, or set LOGIST_STATE_DIR or \
         XDG_STATE_HOME)"
    )]
    NoHome,
    /// The directory cannot be created, written or read.
    #[error("cannot use the state directory `{}`", path.display())]
    Unusable {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: StateError,
    },
}

/// The state directory's path: `flag` (from `--state-dir` or
/// `LOGIST_STATE_DIR`, which clap merges), else the XDG default from
/// `xdg_state_home` and `home`.
pub(crate) fn resolve(
    flag: Option<&Path>,
    xdg_state_home: Option<OsString>,
    home: Option<OsString>,
) -> Result<PathBuf, StateDirError> {
    if let Some(dir) = flag.filter(|dir| !dir.as_os_str().is_empty()) {
        return Ok(dir.to_path_buf());
    }
    // The XDG specification: a relative path in the variable is invalid
    // and is ignored.
    if let Some(base) = xdg_state_home
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
    {
        return Ok(base.join("logist"));
    }
    match home.map(PathBuf::from) {
        Some(home) if !home.as_os_str().is_empty() => {
            Ok(home.join(".local").join("state").join("logist"))
        }
        _ => Err(StateDirError::NoHome),
    }
}

/// Opens (creating it if needed, mode 0700) the state directory this
/// process uses.
pub(crate) fn open(flag: Option<&Path>) -> Result<StateDir, StateDirError> {
    let path = resolve(
        flag,
        std::env::var_os("XDG_STATE_HOME"),
        std::env::var_os("HOME"),
    )?;
    // Monitors run in `/`: a relative path would name another directory
    // for them.
    let path = std::path::absolute(&path).map_err(|source| StateDirError::Unusable {
        source: StateError::Io {
            path: path.clone(),
            source,
        },
        path,
    })?;
    let dir = StateDir::open(&path).map_err(|source| StateDirError::Unusable { path, source })?;
    // `open` only creates what is missing: check that runs can be added.
    let probe = dir.path().join("runs");
    if let Err(error) = rustix::fs::access(&probe, rustix::fs::Access::WRITE_OK) {
        return Err(StateDirError::Unusable {
            path: dir.path().to_path_buf(),
            source: StateError::Io {
                path: probe,
                source: error.into(),
            },
        });
    }
    Ok(dir)
}

/// A host runtime whose runs go through per-run monitors recorded in
/// `dir`; the monitor is this program (`logist __monitor`). With `adopt`,
/// it owns the directory and takes over the runs recorded there (`logist
/// serve`).
pub(crate) fn monitored_host(
    dir: &StateDir,
    grace: Duration,
    adopt: bool,
) -> Result<Arc<dyn Runtime>, CliError> {
    let exe = std::env::current_exe().map_err(|error| {
        CliError::failed(format!(
            "cannot find the logist executable: {}",
            error_chain(&error)
        ))
    })?;
    let runtime = HostRuntime::builder()
        .state_dir(dir.path())
        .monitor_program(MonitorProgram::new(exe).arg(crate::MONITOR_COMMAND))
        .adopt(adopt)
        .grace(grace)
        .build()
        .map_err(|error| {
            CliError::failed(format!(
                "cannot start the host runtime on `{}`: {}",
                dir.path().display(),
                error_chain(&error)
            ))
        })?;
    Ok(Arc::new(runtime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(flag: Option<&str>, xdg: Option<&str>, home: Option<&str>, expected: Option<&str>) {
        let got = resolve(
            flag.map(Path::new),
            xdg.map(Into::into),
            home.map(Into::into),
        );
        match expected {
            Some(path) => assert_eq!(got.unwrap(), PathBuf::from(path)),
            None => assert!(matches!(got, Err(StateDirError::NoHome)), "{got:?}"),
        }
    }

    #[test]
    fn the_flag_then_xdg_then_home() {
        check(Some("/s"), Some("/x"), Some("/h"), Some("/s"));
        check(None, Some("/x"), Some("/h"), Some("/x/logist"));
        check(None, None, Some("/h"), Some("/h/.local/state/logist"));
        // A relative XDG_STATE_HOME is ignored, as the specification says.
        check(
            None,
            Some("rel"),
            Some("/h"),
            Some("/h/.local/state/logist"),
        );
        check(Some(""), None, Some("/h"), Some("/h/.local/state/logist"));
        check(None, None, None, None);
        check(None, None, Some(""), None);
    }
}
