//! Integration tests of the monitor: real runs through the real
//! `logist-monitor` binary, in temporary state directories.
//!
//! Every test registers what it starts with a [`Fixture`], whose `Drop`
//! stops every run's tree and kills every recorded pid, so nothing is left
//! running even when an assertion fails.

mod owner;
mod runs;
mod state;
mod tree;

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use logist_monitor::log::Channel;
use logist_monitor::{Client, MonitorProgram, Ownership, RunDir, RunSpec, Started, StateDir};

/// Generous deadline for conditions that normally hold in milliseconds.
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

pub(crate) fn program() -> MonitorProgram {
    MonitorProgram::new(env!("CARGO_BIN_EXE_logist-monitor"))
}

pub(crate) fn spec(argv: &[&str], ownership: Ownership) -> RunSpec {
    RunSpec {
        argv: argv.iter().map(|a| (*a).to_owned()).collect(),
        cwd: None,
        terminal: None,
        stdin_piped: false,
        ownership,
        grace: Duration::from_secs(5),
        leak_window: Duration::from_millis(200),
        segment_bytes: 256 * 1024,
        created_unix_ms: 0,
        labels: Default::default(),
    }
}

/// The runs' environment. The tag lets `cargo xtask ci`'s leak check find
/// any monitor or run a test left behind.
pub(crate) fn env() -> Vec<(OsString, OsString)> {
    vec![
        ("PATH".into(), std::env::var_os("PATH").unwrap_or_default()),
        ("LOGIST_TEST_TAG".into(), "logist-monitor".into()),
    ]
}

/// A state directory and everything started in it, cleaned up on drop.
pub(crate) struct Fixture {
    pub(crate) temp: tempfile::TempDir,
    pub(crate) state: StateDir,
    runs: Vec<RunDir>,
    pids: Vec<i32>,
    owners: Vec<std::os::fd::OwnedFd>,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        let temp = tempfile::tempdir().unwrap();
        Self::in_dir(temp, "state")
    }

    pub(crate) fn in_dir(temp: tempfile::TempDir, sub: &str) -> Self {
        let state = StateDir::open(temp.path().join(sub)).unwrap();
        Self {
            temp,
            state,
            runs: Vec::new(),
            pids: Vec::new(),
            owners: Vec::new(),
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.temp.path().join(name)
    }

    /// Starts `spec`; keeps an attached run's owner pipe in the fixture.
    pub(crate) fn start(&mut self, spec: &RunSpec) -> RunDir {
        let Started { run, pid, owner } = logist_monitor::start(
            &self.state,
            &program(),
            &logist_monitor::new_run_id(),
            spec,
            &env(),
        )
        .unwrap();
        assert!(pid > 0);
        self.runs.push(run.clone());
        self.owners.extend(owner);
        run
    }

    pub(crate) fn adopt(&mut self, run: RunDir) {
        self.runs.push(run);
    }

    /// Remembers a pid to kill at the end (an escapee the test created).
    pub(crate) fn track(&mut self, pid: i32) {
        self.pids.push(pid);
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for run in &self.runs {
            if std::thread::panicking() {
                let err = fs::read_to_string(run.path().join("monitor.err")).unwrap_or_default();
                eprintln!(
                    "run {}: state {:?}; monitor.err: {err}",
                    run.id(),
                    run.state()
                );
            }
            if let Ok(mut client) = Client::connect(run) {
                let _ = client.terminate(Some(Duration::ZERO));
                let _ = logist_monitor::wait(run, Some(Duration::from_secs(5)));
            }
            let _ = run.kill_lost();
            let end = Instant::now() + Duration::from_secs(5);
            while run.monitor_alive().unwrap_or(false) && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        for &pid in &self.pids {
            if alive(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

/// True if `pid` exists and is not a zombie (PID 1 here does not reap).
pub(crate) fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

pub(crate) fn parent_of(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Waits until `condition` holds, up to `deadline`.
#[track_caller]
pub(crate) fn wait_for(what: &str, deadline: Duration, mut condition: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while !condition() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Reads a pid a script wrote to `path`, waiting for it to appear.
#[track_caller]
pub(crate) fn read_pid(path: &Path) -> i32 {
    let mut pid = None;
    wait_for(&format!("pid file {}", path.display()), DEADLINE, || {
        pid = fs::read_to_string(path)
            .ok()
            .and_then(|text| text.trim().parse().ok());
        pid.is_some()
    });
    pid.unwrap()
}

/// The whole log of `run`, split by channel.
pub(crate) fn log_by_channel(run: &RunDir) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut reader = run.log();
    let (mut out, mut err, mut pty) = (Vec::new(), Vec::new(), Vec::new());
    let mut at = 0;
    loop {
        let chunks = reader.read(at, 1 << 20).unwrap();
        if chunks.is_empty() {
            return (out, err, pty);
        }
        for chunk in chunks {
            assert_eq!(chunk.offset, at, "chunks are contiguous");
            at += chunk.len();
            match chunk.channel {
                Channel::Stdout => out.extend_from_slice(&chunk.bytes),
                Channel::Stderr => err.extend_from_slice(&chunk.bytes),
                Channel::Pty => pty.extend_from_slice(&chunk.bytes),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

/// FNV-1a, to report checksums of large outputs.
pub(crate) fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
