//! Helpers for tests in any crate of the workspace: finding (or building)
//! the mock agent program, a guard that proves no process a test started
//! outlives it, and a child handle that is killed on drop.
//!
//! # Finding the program from any test
//!
//! [`mock_program`] works from this crate's tests, other crates' tests, the
//! workspace's top-level tests and doc tests alike:
//!
//! 1. `LOGIST_MOCK_AGENT`, when set, is used as it is.
//! 2. Otherwise [`locate_program`](crate::locate_program) looks next to the
//!    test binary (and in the parent of cargo's `deps/`) and on `PATH`.
//! 3. When nothing is found, or what is found is older than this crate's
//!    sources (so a `cargo test -p other-crate` never runs a stale build),
//!    it runs `$CARGO build -p logist-mock --bin logist-mock-agent` in the
//!    workspace that holds this crate and uses the executable cargo
//!    reports. A no-op build takes well under a second; the result is kept
//!    for the rest of the test process.
//!
//! # No survivors
//!
//! ```no_run
//! use logist_core::{Agent, Runtime};
//! use logist_mock::testing::{NoSurvivors, mock_agent};
//! use logist_mock::Scenario;
//!
//! # fn runtime() -> Box<dyn Runtime> { Box::new(logist_mock::MockRuntime::new()) }
//! let guard = NoSurvivors::new();
//! let agent = mock_agent(Scenario::Tree)?;
//! let runtime = runtime();
//! let request = guard.request(agent.cmd("prompt")?); // adds the tag
//! let id = runtime.spawn(&request)?;
//! runtime.terminate(&id, false)?;
//! drop(runtime);
//! // Dropping the guard checks that nothing tagged is still running.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use logist_core::{CommandLine, Environment, SpawnRequest};

use crate::agent::{Lookup, MockAgent};
use crate::error::{BuildError, LocateError};
use crate::scenario::{PROGRAM_NAME, Scenario};

/// The environment variable that carries a [`NoSurvivors`] guard's tag into
/// every process a test starts (and, by inheritance, their descendants).
pub const TEST_TAG_ENV: &str = "LOGIST_TEST_TAG";

/// How long [`NoSurvivors`] waits for killed processes to disappear.
const KILL_DEADLINE: Duration = Duration::from_secs(5);

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

/// This crate's source directory, when the tests run from a checkout.
fn source_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// True when `program` is older than a source file it is built from
/// (this crate's or `logist-core`'s, when they are on disk).
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
fn newer_than(path: &Path, time: SystemTime) -> bool {
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
/// logist-mock-agent` (in the workspace that holds this crate's sources)
/// and returns the executable cargo reports. [`mock_program`] calls this
/// only when needed; this always runs cargo.
///
/// # Errors
///
/// [`BuildError`] when cargo cannot be run, fails, or reports no
/// executable.
#[expect(
    clippy::disallowed_methods,
    reason = "a test helper that runs cargo to build the mock program"
)]
pub fn build_mock_program() -> Result<PathBuf, BuildError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = source_dir().join("Cargo.toml");
    let mut command = Command::new(&cargo);
    command
        .args([
            "build",
            "--message-format=json-render-diagnostics",
            "--package",
            "logist-mock",
            "--bin",
            PROGRAM_NAME,
            "--manifest-path",
        ])
        .arg(&manifest);
    // Inside this repository, build into its target directory. From a
    // package unpacked elsewhere (a registry), do not write next to its
    // sources.
    if !source_dir().join("../../Cargo.toml").is_file() {
        command
            .arg("--target-dir")
            .arg(std::env::temp_dir().join("logist-mock-agent-target"));
    }
    let shown = format!(
        "{} build -p logist-mock --bin {PROGRAM_NAME}",
        cargo.to_string_lossy()
    );
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|source| BuildError::Spawn {
            cargo: cargo.to_string_lossy().into_owned(),
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
        .find(|path| path.file_name() == Some(OsStr::new(PROGRAM_NAME)))
        .ok_or(BuildError::NoExecutable { command: shown })
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

/// A guard that fails a test when a process it started is still running at
/// the end.
///
/// Each guard has a unique tag. Requests built with
/// [`request`](Self::request) (or tagged with [`tag_request`](Self::tag_request),
/// [`tag_env`](Self::tag_env), [`command`](Self::command)) carry
/// `LOGIST_TEST_TAG=<tag>` in their environment, and descendants inherit
/// it. When the guard is dropped it scans `/proc/*/environ` for the tag;
/// every process found is killed with SIGKILL and the guard panics naming
/// their pids and command lines (when the thread is already panicking, it
/// only kills them and prints the list, so the first failure stays the
/// reported one).
///
/// # What counts as a survivor
///
/// A running (or stopped) process whose initial environment holds the
/// tag, other than the test process itself. A **zombie** (a process that
/// has exited and waits for its parent to collect its status) is not a
/// survivor: it runs nothing and holds nothing but its pid, and the kernel
/// no longer shows its environment, so it cannot be recognised anyway.
/// Collecting it is its parent's job (the runtime's, or the test's own
/// [`Child`]). After SIGKILL the guard waits up to 5 seconds for each
/// killed process to become a zombie or disappear; one that does neither
/// (stuck in the kernel) is reported as such.
///
/// # Limits
///
/// The scan sees processes of the same user in this host's `/proc` (a
/// container's processes too, when their environment is readable). A
/// process that rewrites its own environment, or that a runtime starts
/// with an environment of its own choosing (not merging the request's), is
/// invisible to it. Between the scan and the kill a pid could in theory be
/// reused; the tag is checked again just before each kill to make that
/// window tiny.
#[derive(Debug)]
pub struct NoSurvivors {
    tag: String,
}

/// A tagged process found by a [`NoSurvivors`] scan.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Survivor {
    /// Its pid.
    pub pid: u32,
    /// Its parent's pid.
    pub ppid: u32,
    /// Its state letter from `/proc/<pid>/stat` (`S` sleeping, `R`
    /// running, `T` stopped, …).
    pub state: char,
    /// Its command line, arguments separated by spaces.
    pub command: String,
    /// True when it was killed but still had not exited at the deadline.
    pub unkillable: bool,
}

impl fmt::Display for Survivor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {} (parent {}, state {}): {}",
            self.pid, self.ppid, self.state, self.command
        )?;
        if self.unkillable {
            f.write_str(" [still running after SIGKILL]")?;
        }
        Ok(())
    }
}

impl Default for NoSurvivors {
    fn default() -> Self {
        Self::new()
    }
}

impl NoSurvivors {
    /// A guard with a tag no other guard (in any process) has.
    pub fn new() -> Self {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        let tag = format!(
            "{}-{}-{nanos:x}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        Self { tag }
    }

    /// The tag: the value of [`TEST_TAG_ENV`] in tagged processes.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// A request for `command` with the default environment (inherit) plus
    /// the tag.
    pub fn request(&self, command: CommandLine) -> SpawnRequest {
        self.tag_request(SpawnRequest::new(command))
    }

    /// Adds the tag to a request's environment. Use this (or
    /// [`tag_env`](Self::tag_env)) again after replacing a request's
    /// environment.
    pub fn tag_request(&self, mut request: SpawnRequest) -> SpawnRequest {
        request.env = self.tag_env(request.env);
        request
    }

    /// Adds the tag to an environment.
    pub fn tag_env(&self, env: Environment) -> Environment {
        env.set(TEST_TAG_ENV, &self.tag)
    }

    /// A tagged [`std::process::Command`], for tests that start a program
    /// without a runtime.
    #[expect(
        clippy::disallowed_methods,
        reason = "a test helper for tests that run a program directly"
    )]
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        command.env(TEST_TAG_ENV, &self.tag);
        command
    }

    /// The tagged processes running now, without touching them.
    pub fn survivors(&self) -> Vec<Survivor> {
        find_tagged(&self.tag)
    }

    /// Kills every tagged process with SIGKILL, waits for them to exit,
    /// and returns what it found (empty when nothing was running).
    pub fn kill_survivors(&self) -> Vec<Survivor> {
        let entry = tag_entry(&self.tag);
        let mut found = self.survivors();
        for survivor in &found {
            // Checked again right before the kill, so a pid reused since the
            // scan is left alone.
            if has_entry(survivor.pid, &entry) {
                let _ = kill(pid(survivor.pid), Signal::SIGKILL);
            }
        }
        let deadline = Instant::now() + KILL_DEADLINE;
        for survivor in &mut found {
            while !has_exited(survivor.pid) {
                if Instant::now() >= deadline {
                    survivor.unkillable = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        found
    }
}

impl Drop for NoSurvivors {
    fn drop(&mut self) {
        let survivors = self.kill_survivors();
        if survivors.is_empty() {
            return;
        }
        let list: Vec<String> = survivors.iter().map(|s| format!("  {s}")).collect();
        let report = format!(
            "{} process(es) tagged {TEST_TAG_ENV}={} outlived the test and were killed:\n{}",
            survivors.len(),
            self.tag,
            list.join("\n")
        );
        if std::thread::panicking() {
            eprintln!("{report}");
        } else {
            panic!("{report}");
        }
    }
}

/// Every process (except this one) whose environment holds
/// `LOGIST_TEST_TAG=<tag>`, in pid order.
pub fn find_tagged(tag: &str) -> Vec<Survivor> {
    let entry = tag_entry(tag);
    let me = std::process::id();
    let Ok(proc_dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found: Vec<Survivor> = proc_dir
        .filter_map(Result::ok)
        .filter_map(|dir| dir.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && has_entry(pid, &entry))
        .filter_map(read_survivor)
        .filter(|survivor| !matches!(survivor.state, 'Z' | 'X' | 'x'))
        .collect();
    found.sort_by_key(|survivor| survivor.pid);
    found
}

fn tag_entry(tag: &str) -> Vec<u8> {
    format!("{TEST_TAG_ENV}={tag}").into_bytes()
}

/// True when the process's environment holds exactly `entry`.
fn has_entry(pid: u32, entry: &[u8]) -> bool {
    fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|environ| environ.split(|&byte| byte == 0).any(|var| var == entry))
}

/// The process's parent, state and command line, if it still exists.
fn read_survivor(pid: u32) -> Option<Survivor> {
    let (state, ppid) = stat(pid)?;
    let command = fs::read(format!("/proc/{pid}/cmdline"))
        .map(|cmdline| {
            let args: Vec<String> = cmdline
                .split(|&byte| byte == 0)
                .filter(|arg| !arg.is_empty())
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect();
            args.join(" ")
        })
        .unwrap_or_default();
    Some(Survivor {
        pid,
        ppid,
        state,
        command,
        unkillable: false,
    })
}

/// The state letter and parent pid from `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<(char, u32)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold anything, `)` too:
    // the fields that follow start after the last `)`.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// True when the process is gone or a zombie.
fn has_exited(pid: u32) -> bool {
    stat(pid).is_none_or(|(state, _)| matches!(state, 'Z' | 'X' | 'x'))
}

fn pid(pid: u32) -> Pid {
    Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX))
}

/// A [`Child`] that is killed (SIGKILL) and reaped when dropped, so a test
/// that fails half-way leaves nothing running. Dereferences to the child.
#[derive(Debug)]
pub struct KillOnDrop {
    child: Child,
}

impl KillOnDrop {
    /// Takes charge of `child`.
    pub fn new(child: Child) -> Self {
        Self { child }
    }

    /// Waits for the child to exit, up to `timeout`; `None` when it is
    /// still running then (it keeps running).
    ///
    /// # Errors
    ///
    /// The operating system's error from `waitpid`.
    pub fn wait_timeout(
        &mut self,
        timeout: Duration,
    ) -> io::Result<Option<std::process::ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Deref for KillOnDrop {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.child
    }
}

impl DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Both fail only when the child was already reaped: nothing to do.
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    fn stat_parses_names_with_parentheses() {
        let (state, ppid) = stat(std::process::id()).unwrap();
        assert!(matches!(state, 'R' | 'S'), "{state}");
        assert!(ppid > 0);
        assert!(stat(u32::MAX / 2).is_none());
    }

    #[test]
    fn tags_are_unique_and_reach_the_request() {
        let (a, b) = (NoSurvivors::new(), NoSurvivors::new());
        assert_ne!(a.tag(), b.tag());
        let request = a.request(CommandLine::new(["true"]).unwrap());
        assert_eq!(request.env.vars()[TEST_TAG_ENV], a.tag());
        assert!(request.env.inherits());
        let clean = a.tag_request(
            SpawnRequest::new(CommandLine::new(["true"]).unwrap()).env(Environment::clean()),
        );
        assert!(!clean.env.inherits());
        assert_eq!(clean.env.vars()[TEST_TAG_ENV], a.tag());
        assert!(a.survivors().is_empty());
    }
}
