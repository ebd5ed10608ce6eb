//! The conformance suite against `logist serve` as a separate process: one
//! server per test, a fresh `RemoteRuntime` client for each runtime the
//! suite asks for. The library's own tests run it with the server in the
//! test process; this proves the same contract across a process boundary,
//! through the binary people start.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Mutex;

use logist_conformance::Fixture;
use logist_core::{CommandLine, Runtime};
use logist_runtime_remote::{Address, RemoteRuntime};
use logist_testing::{KillOnDrop, NoSurvivors, TEST_TAG_ENV};

use crate::{LOGIST, eventually};

/// A `logist serve` on a Unix socket in a temporary directory.
struct ServerFixture {
    // Fields drop in order: the server, then its directory, then the
    // guard, which checks that nothing the server started survived.
    server: KillOnDrop,
    socket: PathBuf,
    _dir: tempfile::TempDir,
    scratch: Mutex<Vec<tempfile::TempDir>>,
    guard: NoSurvivors,
}

impl ServerFixture {
    fn new() -> Self {
        let guard = NoSurvivors::new();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let socket = dir.path().join("logist.sock");
        let listen = format!("unix:{}", socket.display());
        let server = guard
            .command(LOGIST)
            .args(["serve", "--listen", &listen])
            .env("LOGIST_STATE_DIR", dir.path().join("state"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start logist serve");
        let server = KillOnDrop::new(server);
        eventually("the server's socket exists", || socket.exists());
        Self {
            server,
            socket,
            _dir: dir,
            scratch: Mutex::new(Vec::new()),
            guard,
        }
    }
}

impl Fixture for ServerFixture {
    fn runtime(&self) -> Box<dyn Runtime> {
        Box::new(
            RemoteRuntime::builder(Address::Unix(self.socket.clone()))
                .build()
                .expect("connect to logist serve"),
        )
    }

    fn pid_alive(&self, pid: u32) -> bool {
        logist_testing::pid_alive(pid)
    }

    fn mock_agent(&self, args: &[&str]) -> CommandLine {
        let program = logist_testing::mock_program().expect("the mock agent program");
        let mut argv = vec![program.to_string_lossy().into_owned()];
        argv.extend(args.iter().map(|arg| (*arg).to_owned()));
        CommandLine::new(argv).expect("a valid command line")
    }

    fn scratch_dir(&self) -> PathBuf {
        let dir = tempfile::tempdir().expect("a scratch directory");
        let path = dir.path().to_path_buf();
        self.scratch.lock().unwrap().push(dir);
        path
    }

    /// Processes that inherited the server's tag, but the server itself.
    /// (A child started with a clean environment carries no tag; the
    /// server's host runtime still finds it by its own cookie, and the
    /// in-process suite of `logist-runtime-remote` checks that.)
    fn leftovers(&self) -> Vec<String> {
        let server = format!("{}: ", self.server.id());
        logist_testing::processes_with_env(&[format!("{TEST_TAG_ENV}={}", self.guard.tag())])
            .into_iter()
            .filter(|line| !line.starts_with(&server))
            .collect()
    }

    fn churn_count(&self) -> usize {
        // Each spawn starts a monitor (the server keeps runs durable-ready);
        // the in-process suite runs 1,000.
        300
    }

    fn large_output_bytes(&self) -> u64 {
        32 * 1024 * 1024
    }
}

logist_conformance::core_tests!(ServerFixture::new());
logist_conformance::shell_tests!(ServerFixture::new());
logist_conformance::process_tests!(ServerFixture::new());
