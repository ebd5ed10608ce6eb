//! Where durable runs are recorded: `--state-dir DIR`, else
//! `LOGIST_STATE_DIR`, else `$XDG_STATE_HOME/logist`, else
//! `~/.local/state/logist` (the XDG base directory default); and where
//! attached runs' monitors keep theirs while they last (the runtime
//! directory, [`open_runtime_dir`]).

use std::ffi::OsString;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::time::Duration;

use logist_core::{Runtime, error_chain};
use logist_monitor::{Ownership, RunState, StateDir, StateError};
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

/// Where the monitors of attached runs (`run`/`exec` without `--detach`)
/// keep their records while the run lasts: `$XDG_RUNTIME_DIR/logist` (a
/// per-user directory the login manager empties at logout), else
/// `<temp dir>/logist-<uid>`, never the person's home. The directory must
/// be this user's alone (owner and mode checked, no symbolic link), or it
/// is `Unusable`. A run's record is removed when it ends; the records a
/// killed `logist` left are removed here, once they are old enough.
pub(crate) fn open_runtime_dir() -> Result<StateDir, StateDirError> {
    let uid = rustix::process::geteuid().as_raw();
    let path = match std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
    {
        Some(base) => base.join("logist"),
        None => std::env::temp_dir().join(format!("logist-{uid}")),
    };
    let unusable = |source: io::Error| StateDirError::Unusable {
        path: path.clone(),
        source: StateError::Io {
            path: path.clone(),
            source,
        },
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&path) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(unusable(error)),
    }
    let meta = std::fs::symlink_metadata(&path).map_err(unusable)?;
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        return Err(unusable(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "not a directory of this user's alone (owner and mode 0700 expected)",
        )));
    }
    let dir = StateDir::open(&path).map_err(|source| StateDirError::Unusable { path, source })?;
    sweep_orphaned_records(&dir);
    Ok(dir)
}

/// How long an attached run's record stays in the runtime directory after
/// its exit before a later `logist` removes it. Its owner removes it as
/// soon as it has read the exit, so a record this old belongs to a
/// `logist` that was killed (SIGKILL) and will never come back for it.
const ORPHANED_RECORD_AGE: Duration = Duration::from_secs(10 * 60);

/// Removes the records of attached runs that ended more than
/// [`ORPHANED_RECORD_AGE`] ago: nobody can adopt an attached run, and a
/// killed `logist` leaves its record behind. Best effort: a record that
/// cannot be read or removed is left for the next time.
fn sweep_orphaned_records(dir: &StateDir) {
    let Ok(entries) = dir.list() else { return };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis());
    for entry in entries {
        let attached = entry
            .spec
            .as_ref()
            .is_some_and(|spec| spec.ownership == Ownership::Attached);
        let Ok(RunState::Exited(exit)) = entry.state else {
            continue;
        };
        let age = Duration::from_millis(
            u64::try_from(now.saturating_sub(u128::from(exit.ended_unix_ms))).unwrap_or(u64::MAX),
        );
        if !attached || age < ORPHANED_RECORD_AGE {
            continue;
        }
        if let Err(error) = dir.run(&entry.id).and_then(logist_monitor::RunDir::remove) {
            tracing::debug!(id = entry.id, error = %error_chain(&error), "cannot remove an old record");
        }
    }
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
