//! `HostFixture`: how the conformance suite and the hazard tests make
//! runtimes, and how they find what a runtime left behind.

use std::path::PathBuf;
use std::sync::Mutex;

use logist_conformance::Fixture;
use logist_conformance::reattach::ReattachFixture;
use logist_core::{CommandLine, Runtime};
use logist_runtime_host::{HostRuntime, HostRuntimeBuilder};
pub(crate) use logist_testing::pid_alive;

/// Makes host runtimes and remembers their cookies, so that anything they
/// started can be found in `/proc` afterwards. Owns the scratch
/// directories it hands out; they are deleted when it is dropped, even
/// when a check panicked.
pub(crate) struct HostFixture {
    builder: HostRuntimeBuilder,
    cookies: Mutex<Vec<String>>,
    dirs: Mutex<Vec<tempfile::TempDir>>,
    /// Spawn+wait+remove cycles of the resource check (the suite's default
    /// when `None`).
    churn: Option<usize>,
}

impl HostFixture {
    pub(crate) fn new() -> Self {
        Self::with(HostRuntime::builder())
    }

    pub(crate) fn with(builder: HostRuntimeBuilder) -> Self {
        Self {
            builder,
            cookies: Mutex::new(Vec::new()),
            dirs: Mutex::new(Vec::new()),
            churn: None,
        }
    }

    /// Runs go through a per-run monitor, recorded in a state directory
    /// the fixture owns.
    pub(crate) fn monitored() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("logist-host-state-")
            .tempdir()
            .expect("create a state directory");
        let mut fixture = Self::with(crate::durable::monitored(dir.path()));
        // A cycle through a monitor costs tens of milliseconds (two execs,
        // a fork, files): the suite's 10,000 cycles would take minutes. A
        // few hundred still show a descriptor, thread or memory leak.
        fixture.churn = Some(300);
        fixture.dirs.lock().unwrap().push(dir);
        fixture
    }

    /// A runtime with this fixture's settings, as its concrete type.
    pub(crate) fn host(&self) -> HostRuntime {
        let runtime = self.builder.clone().build().expect("build a HostRuntime");
        let mut cookies = self.cookies.lock().unwrap();
        cookies.push(format!("{}=", runtime.cookie_name()));
        // What durable runs carry instead (they outlive the runtime).
        cookies.push(format!("{}_DURABLE=", runtime.cookie_name()));
        drop(cookies);
        runtime
    }
}

impl ReattachFixture for HostFixture {
    fn adopting_runtime(&self) -> Box<dyn Runtime> {
        let runtime = HostFixture {
            builder: self.builder.clone().adopt(true),
            cookies: Mutex::new(Vec::new()),
            dirs: Mutex::new(Vec::new()),
            churn: None,
        }
        .host();
        let mut cookies = self.cookies.lock().unwrap();
        cookies.push(format!("{}=", runtime.cookie_name()));
        cookies.push(format!("{}_DURABLE=", runtime.cookie_name()));
        drop(cookies);
        Box::new(runtime)
    }
}

impl Fixture for HostFixture {
    fn runtime(&self) -> Box<dyn Runtime> {
        Box::new(self.host())
    }

    fn pid_alive(&self, pid: u32) -> bool {
        pid_alive(pid)
    }

    fn mock_agent(&self, args: &[&str]) -> CommandLine {
        let program = logist_testing::mock_program().expect("the mock agent program");
        let mut argv = vec![program.to_string_lossy().into_owned()];
        argv.extend(args.iter().map(|arg| (*arg).to_owned()));
        CommandLine::new(argv).expect("a valid command line")
    }

    fn churn_count(&self) -> usize {
        self.churn.unwrap_or(10_000)
    }

    fn scratch_dir(&self) -> PathBuf {
        let dir = tempfile::Builder::new()
            .prefix("logist-host-test-")
            .tempdir()
            .expect("create a scratch directory");
        let path = dir.path().to_owned();
        self.dirs.lock().unwrap().push(dir);
        path
    }

    fn leftovers(&self) -> Vec<String> {
        let cookies = self.cookies.lock().unwrap().clone();
        logist_testing::processes_with_env(&cookies)
    }
}

/// The path of one of this crate's example programs, built on demand.
pub(crate) fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe().expect("the test binary's path");
    let profile_dir = deps
        .parent()
        .and_then(|dir| dir.parent())
        .expect("target/<profile>/deps");
    let path = profile_dir.join("examples").join(name);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        #[expect(
            clippy::disallowed_methods,
            reason = "builds the example the test runs"
        )]
        let status = std::process::Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "logist-runtime-host",
                "--example",
                name,
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo");
        assert!(status.success(), "building example `{name}` failed");
    }
    path
}
