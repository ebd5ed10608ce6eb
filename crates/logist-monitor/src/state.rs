//! The state directory: where runs are recorded, and what each run's files
//! say about it.
//!
//! ```text
//! <state>/layout                 "logist-state 1": the layout version
//! <state>/owner.lock             flock: one owner (adopter) at a time
//! <state>/runs/<id>/spec.json    what to run (written by the starter)
//! <state>/runs/<id>/monitor.lock flock held by the monitor while it lives
//! <state>/runs/<id>/monitor.json the monitor and the run: pids, start times, boot id
//! <state>/runs/<id>/monitor.err  the monitor's own diagnostics
//! <state>/runs/<id>/ctl.sock     the control socket
//! <state>/runs/<id>/log/*.seg    the output, see [`crate::log`]
//! <state>/runs/<id>/exit.json    how the run ended (written once, atomically)
//! ```
//!
//! Small files are written atomically: a temporary file, `fsync`, `rename`,
//! `fsync` of the directory. Whether a monitor lives is decided by its
//! lock, which the kernel drops when the monitor dies however it dies, so
//! a recycled pid can never pass for it.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use logist_core::ExitStatus;
use nix::fcntl::{Flock, FlockArg};
use serde_json::{Value, json};

use crate::error::StateError;
use crate::log::LogReader;

/// The version of the state directory's layout and file formats.
pub const LAYOUT_VERSION: u64 = 1;
const LAYOUT_TEXT: &str = "logist-state 1\n";

/// A state directory, opened for reading and for starting runs.
#[derive(Clone, Debug)]
pub struct StateDir {
    root: PathBuf,
}

/// The exclusive right to adopt the runs of a state directory; released
/// when dropped (or when the holder dies).
#[derive(Debug)]
pub struct OwnerLock {
    _lock: Flock<File>,
}

/// One run's directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    id: String,
    path: PathBuf,
}

/// Who the run belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// The run's whole tree is stopped when its owner dies, by any means.
    Attached,
    /// The run survives its owner and can be adopted later.
    Durable,
}

/// What to run, as recorded in `spec.json`.
///
/// The environment is not written down (it may hold secrets): the starter
/// passes it to the monitor, which passes it on to the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSpec {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// The working directory (the starter's when `None`).
    pub cwd: Option<PathBuf>,
    /// A pseudo-terminal of (rows, columns) instead of pipes.
    pub terminal: Option<(u16, u16)>,
    /// Give the run a stdin pipe (else `/dev/null`; a terminal is always
    /// writable).
    pub stdin_piped: bool,
    /// Attached or durable.
    pub ownership: Ownership,
    /// How long `terminate` waits between SIGTERM and SIGKILL by default.
    pub grace: Duration,
    /// How long output may stay open after the run's main process exited
    /// before the exit is recorded with `output_leaked`.
    pub leak_window: Duration,
    /// The size past which a new log segment is started.
    pub segment_bytes: u64,
    /// When it was started (milliseconds since the Unix epoch).
    pub created_unix_ms: u64,
    /// The caller's labels (`logist_core::Labels`). Optional in
    /// `spec.json` (added within layout 1: a spec without them reads as
    /// none, and a reader that does not know them ignores them).
    pub labels: BTreeMap<String, String>,
}

/// The monitor and its run, as recorded in `monitor.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorRecord {
    /// The control protocol version the monitor speaks.
    pub protocol: u32,
    /// The monitor's pid.
    pub monitor_pid: i32,
    /// The monitor's start time (clock ticks since boot, `/proc/<pid>/stat`).
    pub monitor_start_ticks: u64,
    /// `/proc/sys/kernel/random/boot_id` when the monitor started.
    pub boot_id: String,
    /// The run's main process.
    pub run_pid: i32,
    /// The run's process group.
    pub run_pgid: i32,
    /// The run's main process's start time (clock ticks since boot).
    pub run_start_ticks: u64,
    /// When the run started (milliseconds since the Unix epoch).
    pub started_unix_ms: u64,
}

/// How a run ended, as recorded in `exit.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExitRecord {
    /// Exit code or signal, kept apart.
    pub status: ExitStatus,
    /// Whether a core was dumped (signals only).
    pub core_dumped: bool,
    /// The raw `wait` status.
    pub raw: i32,
    /// When the main process ended (milliseconds since the Unix epoch).
    pub ended_unix_ms: u64,
    /// Descendants still held the output open when the exit was recorded.
    pub output_leaked: bool,
    /// The log's logical end when the exit was recorded.
    pub log_end: u64,
    /// Output bytes that could not be written to the log (disk full).
    pub log_lost_bytes: u64,
}

/// What is known about a run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunState {
    /// Its monitor is starting it.
    Starting,
    /// Its monitor lives.
    Running(MonitorRecord),
    /// It ended; the record says how.
    Exited(ExitRecord),
    /// Its monitor is gone without an exit record: the exit status is
    /// unknown (never invented).
    Lost {
        /// Why it is lost.
        reason: LostReason,
        /// The monitor's record, if it got that far.
        monitor: Option<MonitorRecord>,
    },
}

/// Why a run is lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LostReason {
    /// The machine rebooted since the monitor started.
    Rebooted,
    /// The monitor died (killed, crashed) before recording the exit.
    MonitorDied,
}

/// One line of [`StateDir::list`].
#[derive(Debug)]
pub struct RunEntry {
    /// The run's id.
    pub id: String,
    /// Its state, or why its files could not be read (that run only).
    pub state: Result<RunState, StateError>,
    /// Its spec, if readable.
    pub spec: Option<RunSpec>,
}

impl StateDir {
    /// Opens (creating if needed) the state directory at `root`.
    ///
    /// # Errors
    ///
    /// [`StateError::Io`] if it cannot be created, [`StateError::Damaged`]
    /// if its layout file names another version.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StateError> {
        let root = root.into();
        let runs = root.join("runs");
        // Only the owner may read the runs' output or reach their sockets.
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&runs)
            .map_err(|e| io_error(&runs, e))?;
        let layout = root.join("layout");
        match fs::read_to_string(&layout) {
            Ok(text) if text == LAYOUT_TEXT => {}
            Ok(text) => {
                return Err(StateError::Damaged {
                    path: layout,
                    reason: format!("unknown layout {:?}, expected {LAYOUT_TEXT:?}", text.trim()),
                });
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                write_atomic(&layout, LAYOUT_TEXT.as_bytes(), Sync::Disk)?;
            }
            Err(error) => return Err(io_error(&layout, error)),
        }
        Ok(Self { root })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Takes the owner lock without waiting.
    ///
    /// # Errors
    ///
    /// [`StateError::Busy`] if another process (or another `OwnerLock` in
    /// this one) holds it.
    pub fn lock_owner(&self) -> Result<OwnerLock, StateError> {
        let path = self.root.join("owner.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io_error(&path, e))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(OwnerLock { _lock: lock }),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(StateError::Busy {
                path: self.root.clone(),
            }),
            Err((_, errno)) => Err(io_error(&path, errno.into())),
        }
    }

    /// The directory of the run `id` (which must exist).
    ///
    /// # Errors
    ///
    /// [`StateError::InvalidId`] or [`StateError::UnknownRun`].
    pub fn run(&self, id: &str) -> Result<RunDir, StateError> {
        check_id(id)?;
        let path = self.root.join("runs").join(id);
        if !path.join("spec.json").exists() {
            return Err(StateError::UnknownRun {
                id: id.to_owned(),
                dir: self.root.clone(),
            });
        }
        Ok(RunDir {
            id: id.to_owned(),
            path,
        })
    }

    /// Creates the directory of a new run and writes its spec.
    pub(crate) fn create_run(&self, id: &str, spec: &RunSpec) -> Result<RunDir, StateError> {
        check_id(id)?;
        let path = self.root.join("runs").join(id);
        match fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                return Err(StateError::Exists(id.to_owned()));
            }
            Err(error) => return Err(io_error(&path, error)),
        }
        let run = RunDir {
            id: id.to_owned(),
            path,
        };
        write_atomic(
            &run.path.join("spec.json"),
            spec.to_json().as_bytes(),
            Sync::Rename,
        )?;
        Ok(run)
    }

    /// Every recorded run, sorted by id, each with its state; a run whose
    /// files are damaged is listed with the error, the others are fine.
    ///
    /// # Errors
    ///
    /// [`StateError::Io`] if the runs directory cannot be listed.
    pub fn list(&self) -> Result<Vec<RunEntry>, StateError> {
        let runs = self.root.join("runs");
        let mut ids = Vec::new();
        for entry in fs::read_dir(&runs).map_err(|e| io_error(&runs, e))? {
            let entry = entry.map_err(|e| io_error(&runs, e))?;
            if let Ok(id) = entry.file_name().into_string()
                && check_id(&id).is_ok()
            {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids
            .into_iter()
            .map(|id| {
                let run = RunDir {
                    path: runs.join(&id),
                    id: id.clone(),
                };
                RunEntry {
                    id,
                    spec: run.spec().ok(),
                    state: run.state(),
                }
            })
            .collect())
    }
}

impl RunDir {
    /// The run's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The run's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory of its log segments.
    pub fn log_dir(&self) -> PathBuf {
        self.path.join("log")
    }

    /// A reader of its log.
    pub fn log(&self) -> LogReader {
        LogReader::new(&self.log_dir())
    }

    /// Reads `spec.json`.
    ///
    /// # Errors
    ///
    /// [`StateError::Io`] or [`StateError::Damaged`].
    pub fn spec(&self) -> Result<RunSpec, StateError> {
        let path = self.path.join("spec.json");
        let value = read_json(&path)?.ok_or_else(|| StateError::Damaged {
            path: path.clone(),
            reason: "missing".to_owned(),
        })?;
        RunSpec::from_json(&value).map_err(|reason| StateError::Damaged { path, reason })
    }

    /// Reads `monitor.json`, if it was written.
    ///
    /// # Errors
    ///
    /// [`StateError::Io`] or [`StateError::Damaged`].
    pub fn monitor(&self) -> Result<Option<MonitorRecord>, StateError> {
        let path = self.path.join("monitor.json");
        read_json(&path)?
            .map(|value| {
                MonitorRecord::from_json(&value)
                    .map_err(|reason| StateError::Damaged { path, reason })
            })
            .transpose()
    }

    /// Reads `exit.json`, if the run ended.
    ///
    /// # Errors
    ///
    /// [`StateError::Io`] or [`StateError::Damaged`].
    pub fn exit(&self) -> Result<Option<ExitRecord>, StateError> {
        let path = self.path.join("exit.json");
        read_json(&path)?
            .map(|value| {
                ExitRecord::from_json(&value).map_err(|reason| StateError::Damaged { path, reason })
            })
            .transpose()
    }

    /// True while the run's monitor lives (it holds `monitor.lock`).
    ///
    /// # Errors
    ///
    /// [`StateError::Io`] if the lock file cannot be opened.
    pub fn monitor_alive(&self) -> Result<bool, StateError> {
        let path = self.path.join("monitor.lock");
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(error) => return Err(io_error(&path, error)),
        };
        match Flock::lock(file, FlockArg::LockSharedNonblock) {
            Ok(_released_on_drop) => Ok(false),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(true),
            Err((_, errno)) => Err(io_error(&path, errno.into())),
        }
    }

    /// What is known about the run: exited (with its record), running,
    /// starting, or lost.
    ///
    /// # Errors
    ///
    /// [`StateError::Damaged`] if one of its files is truncated or corrupt.
    pub fn state(&self) -> Result<RunState, StateError> {
        self.spec()?;
        if let Some(exit) = self.exit()? {
            return Ok(RunState::Exited(exit));
        }
        let alive = self.monitor_alive()?;
        let monitor = self.monitor()?;
        // A monitor that wrote its exit record between our two reads.
        if !alive && let Some(exit) = self.exit()? {
            return Ok(RunState::Exited(exit));
        }
        Ok(match (alive, monitor) {
            (true, Some(record)) => RunState::Running(record),
            (true, None) => RunState::Starting,
            (false, monitor) => {
                let rebooted = monitor
                    .as_ref()
                    .is_some_and(|record| boot_id().is_ok_and(|now| now != record.boot_id));
                RunState::Lost {
                    reason: if rebooted {
                        LostReason::Rebooted
                    } else {
                        LostReason::MonitorDied
                    },
                    monitor,
                }
            }
        })
    }

    /// Kills what is left of a lost run: its process group, if its leader
    /// is still the process that was recorded (same start time, same boot).
    /// Returns whether anything was signalled.
    ///
    /// Descendants that left the group (`setsid`) cannot be found once the
    /// monitor is gone; see `docs/durable-runs.md`.
    ///
    /// # Errors
    ///
    /// [`StateError`] if the run's files cannot be read.
    pub fn kill_lost(&self) -> Result<bool, StateError> {
        let RunState::Lost {
            monitor: Some(record),
            reason: LostReason::MonitorDied,
        } = self.state()?
        else {
            return Ok(false);
        };
        // A group id is not handed out again while any member lives, so a
        // group whose members exist is still the run's, unless every member
        // died and a new process got the number: then that process leads the
        // group with another start time.
        let members = crate::tree::group_members(record.run_pgid);
        let reused = members
            .iter()
            .any(|&(pid, start)| pid == record.run_pgid && start != record.run_start_ticks);
        if members.is_empty() || reused {
            return Ok(false);
        }
        Ok(nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(record.run_pgid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .is_ok())
    }

    /// Removes the run's directory (log included) once its monitor is
    /// gone: the run exited, or it is lost and [`RunDir::kill_lost`] has
    /// been called.
    ///
    /// # Errors
    ///
    /// [`StateError::Busy`] while the monitor lives (stop the run first),
    /// [`StateError::Io`] if the files cannot be removed.
    pub fn remove(self) -> Result<(), StateError> {
        if self.monitor_alive()? {
            return Err(StateError::Busy { path: self.path });
        }
        fs::remove_dir_all(&self.path).map_err(|e| io_error(&self.path, e))
    }

    pub(crate) fn write_monitor(&self, record: &MonitorRecord) -> Result<(), StateError> {
        write_atomic(
            &self.path.join("monitor.json"),
            record.to_json().as_bytes(),
            Sync::Rename,
        )
    }

    pub(crate) fn write_exit(&self, record: &ExitRecord, sync: Sync) -> Result<(), StateError> {
        write_atomic(
            &self.path.join("exit.json"),
            record.to_json().as_bytes(),
            sync,
        )
    }
}

fn check_id(id: &str) -> Result<(), StateError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidId(id.to_owned()))
    }
}

/// A fresh run id: time, pid and a counter, in hex.
pub fn new_run_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{:x}-{:x}-{:x}",
        unix_ms(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub(crate) fn io_error(path: &Path, source: io::Error) -> StateError {
    StateError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// This boot's id.
pub fn boot_id() -> io::Result<String> {
    Ok(fs::read_to_string("/proc/sys/kernel/random/boot_id")?
        .trim()
        .to_owned())
}

/// How far [`write_atomic`] makes a file safe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sync {
    /// Readers see the old file or the new one, never a part, as long as
    /// the machine stays up (a process crash cannot tear it). For files
    /// that only matter while the machine is up: after a reboot the run
    /// they describe is lost anyway.
    Rename,
    /// As `Rename`, and the file survives power loss: `fsync` of the file
    /// before the rename and of the directory after.
    Disk,
}

/// Writes `bytes` to `path` atomically: a temporary file, renamed over the
/// target (with `fsync` of the file and the directory for [`Sync::Disk`]).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], sync: Sync) -> Result<(), StateError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".tmp{}", std::process::id()));
    let temp = dir.join(name);
    let result = (|| {
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        if sync == Sync::Disk {
            file.sync_all()?;
        }
        fs::rename(&temp, path)?;
        if sync == Sync::Disk {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    result.map_err(|e: io::Error| {
        let _ = fs::remove_file(&temp);
        io_error(path, e)
    })
}

fn read_json(path: &Path) -> Result<Option<Value>, StateError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_error(path, error)),
    };
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| StateError::Damaged {
        path: path.to_owned(),
        reason: format!("not JSON: {e}"),
    })?;
    match value.get("layout").and_then(Value::as_u64) {
        Some(LAYOUT_VERSION) => Ok(Some(value)),
        Some(other) => Err(StateError::Damaged {
            path: path.to_owned(),
            reason: format!("layout version {other}, this library reads {LAYOUT_VERSION}"),
        }),
        None => Err(StateError::Damaged {
            path: path.to_owned(),
            reason: "no layout version".to_owned(),
        }),
    }
}

fn field<'a>(value: &'a Value, name: &str) -> Result<&'a Value, String> {
    value.get(name).ok_or_else(|| format!("missing `{name}`"))
}

fn u64_field(value: &Value, name: &str) -> Result<u64, String> {
    field(value, name)?
        .as_u64()
        .ok_or_else(|| format!("`{name}` is not a number"))
}

fn i32_field(value: &Value, name: &str) -> Result<i32, String> {
    field(value, name)?
        .as_i64()
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| format!("`{name}` is not a 32-bit integer"))
}

fn bool_field(value: &Value, name: &str) -> Result<bool, String> {
    field(value, name)?
        .as_bool()
        .ok_or_else(|| format!("`{name}` is not a boolean"))
}

fn str_field<'a>(value: &'a Value, name: &str) -> Result<&'a str, String> {
    field(value, name)?
        .as_str()
        .ok_or_else(|| format!("`{name}` is not a string"))
}

impl RunSpec {
    /// The spec as `spec.json` holds it.
    pub fn to_json(&self) -> String {
        json!({
            "layout": LAYOUT_VERSION,
            "argv": self.argv,
            "cwd": self.cwd.as_ref().map(|dir| dir.to_string_lossy()),
            "terminal": self.terminal.map(|(rows, cols)| json!({"rows": rows, "cols": cols})),
            "stdin": if self.stdin_piped { "piped" } else { "null" },
            "ownership": match self.ownership { Ownership::Attached => "attached", Ownership::Durable => "durable" },
            "grace_ms": duration_ms(self.grace),
            "leak_window_ms": duration_ms(self.leak_window),
            "segment_bytes": self.segment_bytes,
            "created_unix_ms": self.created_unix_ms,
            "labels": self.labels,
        })
        .to_string()
    }

    fn from_json(value: &Value) -> Result<Self, String> {
        let argv = field(value, "argv")?
            .as_array()
            .ok_or("`argv` is not a list")?
            .iter()
            .map(|arg| {
                arg.as_str()
                    .map(str::to_owned)
                    .ok_or("`argv` holds a non-string")
            })
            .collect::<Result<Vec<_>, _>>()?;
        if argv.is_empty() {
            return Err("`argv` is empty".to_owned());
        }
        let cwd = match field(value, "cwd")? {
            Value::Null => None,
            Value::String(dir) => Some(PathBuf::from(OsString::from_vec(dir.clone().into_bytes()))),
            _ => return Err("`cwd` is not a string".to_owned()),
        };
        let terminal = match field(value, "terminal")? {
            Value::Null => None,
            size => Some((
                u16::try_from(u64_field(size, "rows")?).map_err(|e| e.to_string())?,
                u16::try_from(u64_field(size, "cols")?).map_err(|e| e.to_string())?,
            )),
        };
        let stdin_piped = match str_field(value, "stdin")? {
            "piped" => true,
            "null" => false,
            other => return Err(format!("unknown stdin mode `{other}`")),
        };
        let ownership = match str_field(value, "ownership")? {
            "attached" => Ownership::Attached,
            "durable" => Ownership::Durable,
            other => return Err(format!("unknown ownership `{other}`")),
        };
        Ok(Self {
            argv,
            cwd,
            terminal,
            stdin_piped,
            ownership,
            grace: Duration::from_millis(u64_field(value, "grace_ms")?),
            leak_window: Duration::from_millis(u64_field(value, "leak_window_ms")?),
            segment_bytes: u64_field(value, "segment_bytes")?,
            created_unix_ms: u64_field(value, "created_unix_ms")?,
            labels: match value.get("labels") {
                None | Some(Value::Null) => BTreeMap::new(),
                Some(Value::Object(map)) => map
                    .iter()
                    .map(|(key, value)| {
                        value
                            .as_str()
                            .map(|value| (key.clone(), value.to_owned()))
                            .ok_or_else(|| format!("label `{key}` is not a string"))
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err("`labels` is not an object".to_owned()),
            },
        })
    }
}

impl MonitorRecord {
    fn to_json(&self) -> String {
        json!({
            "layout": LAYOUT_VERSION,
            "protocol": self.protocol,
            "monitor_pid": self.monitor_pid,
            "monitor_start_ticks": self.monitor_start_ticks,
            "boot_id": self.boot_id,
            "run_pid": self.run_pid,
            "run_pgid": self.run_pgid,
            "run_start_ticks": self.run_start_ticks,
            "started_unix_ms": self.started_unix_ms,
        })
        .to_string()
    }

    fn from_json(value: &Value) -> Result<Self, String> {
        Ok(Self {
            protocol: u32::try_from(u64_field(value, "protocol")?).map_err(|e| e.to_string())?,
            monitor_pid: i32_field(value, "monitor_pid")?,
            monitor_start_ticks: u64_field(value, "monitor_start_ticks")?,
            boot_id: str_field(value, "boot_id")?.to_owned(),
            run_pid: i32_field(value, "run_pid")?,
            run_pgid: i32_field(value, "run_pgid")?,
            run_start_ticks: u64_field(value, "run_start_ticks")?,
            started_unix_ms: u64_field(value, "started_unix_ms")?,
        })
    }
}

impl ExitRecord {
    fn to_json(&self) -> String {
        let status = match self.status {
            ExitStatus::Code(code) => json!({"code": code}),
            ExitStatus::Signal(signal) => {
                json!({"signal": signal, "core_dumped": self.core_dumped})
            }
        };
        json!({
            "layout": LAYOUT_VERSION,
            "status": status,
            "raw": self.raw,
            "ended_unix_ms": self.ended_unix_ms,
            "output_leaked": self.output_leaked,
            "log_end": self.log_end,
            "log_lost_bytes": self.log_lost_bytes,
        })
        .to_string()
    }

    fn from_json(value: &Value) -> Result<Self, String> {
        let status = field(value, "status")?;
        let (status, core_dumped) = if status.get("code").is_some() {
            (ExitStatus::Code(i32_field(status, "code")?), false)
        } else {
            (
                ExitStatus::Signal(i32_field(status, "signal")?),
                bool_field(status, "core_dumped")?,
            )
        };
        Ok(Self {
            status,
            core_dumped,
            raw: i32_field(value, "raw")?,
            ended_unix_ms: u64_field(value, "ended_unix_ms")?,
            output_leaked: bool_field(value, "output_leaked")?,
            log_end: u64_field(value, "log_end")?,
            log_lost_bytes: u64_field(value, "log_lost_bytes")?,
        })
    }
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Creates `path` and takes an exclusive lock on it, to hand to a monitor.
pub(crate) fn lock_file_exclusive(path: &Path) -> Result<File, StateError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| io_error(path, e))?;
    crate::sys::flock_exclusive(std::os::fd::AsFd::as_fd(&file)).map_err(|e| io_error(path, e))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RunSpec {
        RunSpec {
            argv: vec!["sh".into(), "-c".into(), "echo hi".into()],
            cwd: Some("/tmp".into()),
            terminal: Some((24, 80)),
            stdin_piped: true,
            ownership: Ownership::Durable,
            grace: Duration::from_millis(1500),
            leak_window: Duration::from_millis(500),
            segment_bytes: 1 << 20,
            created_unix_ms: 42,
            labels: BTreeMap::from([("job".to_owned(), "7".to_owned())]),
        }
    }

    #[test]
    fn records_round_trip() {
        let spec = spec();
        let value: Value = serde_json::from_str(&spec.to_json()).unwrap();
        assert_eq!(RunSpec::from_json(&value).unwrap(), spec);
        let exit = ExitRecord {
            status: ExitStatus::Signal(9),
            core_dumped: false,
            raw: 9,
            ended_unix_ms: 7,
            output_leaked: true,
            log_end: 12,
            log_lost_bytes: 0,
        };
        let value: Value = serde_json::from_str(&exit.to_json()).unwrap();
        assert_eq!(ExitRecord::from_json(&value).unwrap(), exit);
    }

    #[test]
    fn ids_are_checked() {
        for bad in ["", ".hidden", "a/b", "x y", &"a".repeat(65)] {
            assert!(
                matches!(check_id(bad), Err(StateError::InvalidId(_))),
                "{bad}"
            );
        }
        check_id(&new_run_id()).unwrap();
    }
}
