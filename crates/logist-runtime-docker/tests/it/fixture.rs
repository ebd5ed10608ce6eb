//! `DockerFixture`: how the conformance suite and the Docker tests make
//! runtimes, see into their containers, and clean up after themselves.
//!
//! Everything here observes the engine independently of the code under
//! test: through the `docker` CLI and this machine's `/proc`. Each fixture
//! labels its containers with a tag of its own and force-removes whatever
//! carries it when dropped, pass or fail.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use logist_conformance::{Fixture, LONG, ReattachFixture};
use logist_core::{CommandLine, Runtime};
use logist_runtime_docker::{DockerRuntime, DockerRuntimeBuilder};

/// The test image `cargo xtask docker` builds: busybox-static, no C
/// library.
pub(crate) const IMAGE: &str = "logist-test-busybox:1";
/// An image with nothing in it but empty directories.
pub(crate) const EMPTY_IMAGE: &str = "logist-test-empty:1";
/// A variable the test image sets.
pub(crate) const IMAGE_VAR: &str = "LOGIST_TEST_IMAGE_VAR";
/// Where the fixture's runtimes mount the static mock agent.
pub(crate) const MOCK_AGENT: &str = "/usr/local/bin/logist-mock-agent";
/// The label that marks a fixture's containers.
pub(crate) const TEST_LABEL: &str = "logist.test";

const SETUP_HINT: &str = "run `cargo xtask docker` (it installs and starts the engine and builds the test image and the static mock agent)";

static COUNT: AtomicUsize = AtomicUsize::new(0);

/// Runs the `docker` CLI and returns its output.
#[expect(
    clippy::disallowed_methods,
    reason = "tests observe the engine through the docker CLI, independently of the runtime"
)]
pub(crate) fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("cannot run `docker`: {error}; {SETUP_HINT}"))
}

/// The statically linked mock agent `cargo xtask docker` builds.
pub(crate) fn static_mock_agent() -> PathBuf {
    let path = std::env::var_os("LOGIST_DOCKER_MOCK_AGENT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/docker/logist-mock-agent")
        });
    std::fs::canonicalize(&path).unwrap_or_else(|error| {
        panic!(
            "no static mock agent at {}: {error}; {SETUP_HINT}",
            path.display()
        )
    })
}

/// Makes Docker runtimes for one test and finds what they left behind.
pub(crate) struct DockerFixture {
    tag: String,
    image: &'static str,
    /// The workspace: mounted read-write at the same path.
    base: PathBuf,
    dirs: AtomicUsize,
    /// Container id → its pid namespace (`pid:[inode]`).
    namespaces: Mutex<HashMap<String, String>>,
}

impl DockerFixture {
    /// A fixture for the busybox test image. Fails the test, loudly, when
    /// the engine or the image is missing.
    pub(crate) fn new() -> Self {
        Self::with_image(IMAGE)
    }

    pub(crate) fn with_image(image: &'static str) -> Self {
        let version = docker(&["version", "--format", "{{.Server.APIVersion}}"]);
        assert!(
            version.status.success(),
            "the Docker engine does not answer ({}); {SETUP_HINT}",
            String::from_utf8_lossy(&version.stderr).trim()
        );
        assert!(
            docker(&["image", "inspect", image]).status.success(),
            "the test image `{image}` is missing; {SETUP_HINT}"
        );
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        let tag = format!(
            "{}-{}-{nanos:x}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let base = std::env::temp_dir().join(format!("logist-docker-test-{tag}"));
        std::fs::create_dir_all(&base).expect("create the workspace directory");
        Self {
            tag,
            image,
            base,
            dirs: AtomicUsize::new(0),
            namespaces: Mutex::new(HashMap::new()),
        }
    }

    /// The fixture's tag, the value of [`TEST_LABEL`] on its containers.
    pub(crate) fn tag(&self) -> &str {
        &self.tag
    }

    /// The workspace directory, the same path inside and outside.
    pub(crate) fn workspace(&self) -> &Path {
        &self.base
    }

    /// Settings for a runtime of this fixture: its image, its label, the
    /// workspace, and the static mock agent on the containers' `PATH`.
    pub(crate) fn builder(&self) -> DockerRuntimeBuilder {
        DockerRuntime::builder(self.image)
            .label(TEST_LABEL, &self.tag)
            .workspace(&self.base, &self.base)
            .program(static_mock_agent())
    }

    /// A runtime with this fixture's settings, as its concrete type.
    pub(crate) fn docker(&self) -> DockerRuntime {
        self.builder()
            .build()
            .unwrap_or_else(|error| panic!("build a DockerRuntime: {error}; {SETUP_HINT}"))
    }

    /// Ids of this fixture's containers (`all`: running or not).
    pub(crate) fn containers(&self, all: bool) -> Vec<String> {
        let filter = format!("label={TEST_LABEL}={}", self.tag);
        let mut args = vec!["ps", "-q", "--no-trunc", "--filter", &filter];
        if all {
            args.push("-a");
        }
        let output = docker(&args);
        assert!(
            output.status.success(),
            "docker ps failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The pid namespaces of this fixture's running containers.
    fn live_namespaces(&self) -> Vec<String> {
        let mut known = self.namespaces.lock().unwrap();
        let mut found = Vec::new();
        for id in self.containers(false) {
            if let Some(ns) = known.get(&id) {
                found.push(ns.clone());
                continue;
            }
            let output = docker(&["inspect", "--format", "{{.State.Pid}}", &id]);
            let pid = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            if let Ok(link) = std::fs::read_link(format!("/proc/{pid}/ns/pid")) {
                let ns = link.to_string_lossy().into_owned();
                known.insert(id, ns.clone());
                found.push(ns);
            }
        }
        found
    }

    /// The host pid of the live (not zombie) process that has pid `pid`
    /// inside one of this fixture's containers.
    pub(crate) fn host_pid(&self, pid: u32) -> Option<u32> {
        let namespaces = self.live_namespaces();
        if namespaces.is_empty() {
            return None;
        }
        let entries = std::fs::read_dir("/proc").ok()?;
        entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .find(|&host| {
                let Some(status) = Status::read(host) else {
                    return false;
                };
                status.inner_pid() == Some(pid)
                    && !matches!(status.state, 'Z' | 'X')
                    && std::fs::read_link(format!("/proc/{host}/ns/pid"))
                        .is_ok_and(|ns| namespaces.contains(&ns.to_string_lossy().into_owned()))
            })
    }
}

/// The fields of `/proc/<pid>/status` the fixture needs.
struct Status {
    state: char,
    /// The pid in each namespace, outermost first.
    ns_pids: Vec<u32>,
}

impl Status {
    fn read(pid: u32) -> Option<Self> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let field = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
        };
        Some(Self {
            state: field("State")?.chars().next()?,
            ns_pids: field("NSpid")?
                .split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect(),
        })
    }

    /// The pid inside a container: the innermost of at least two.
    fn inner_pid(&self) -> Option<u32> {
        (self.ns_pids.len() >= 2).then(|| *self.ns_pids.last().unwrap())
    }
}

impl Fixture for DockerFixture {
    fn runtime(&self) -> Box<dyn Runtime> {
        Box::new(self.docker())
    }

    fn mock_agent(&self, args: &[&str]) -> CommandLine {
        // Mounted there by DockerRuntimeBuilder::program; by its full path,
        // like the host fixture, so a clean environment without PATH finds
        // it too.
        CommandLine::new(std::iter::once(MOCK_AGENT).chain(args.iter().copied()))
            .expect("a valid command line")
    }

    /// Real: a process with this pid inside one of the fixture's running
    /// containers (a stopped container has no process). Pids repeat
    /// across containers, so a pid alive in any of the test's containers
    /// counts, which can only make "is gone" checks stricter.
    fn pid_alive(&self, pid: u32) -> bool {
        self.host_pid(pid).is_some()
    }

    /// The host's `/proc` shows sessions as host pids: translate both ways.
    fn session_of(&self, pid: u32) -> Option<u32> {
        let host = self.host_pid(pid)?;
        let session = logist_testing::Stat::of(host)?.session;
        Status::read(session)?.inner_pid()
    }

    /// Each container has its own pid namespace, so no process of the
    /// runtime can signal another container's: the test signals the
    /// process from the host, and waits until a stop has taken effect.
    fn send_signal(&self, _runtime: &dyn Runtime, pid: u32, signal: &str) {
        use nix::sys::signal::{Signal, kill};
        let host = self
            .host_pid(pid)
            .unwrap_or_else(|| panic!("no pid {pid} in this test's containers"));
        let signal: Signal = format!("SIG{signal}").parse().expect("a signal name");
        kill(nix::unistd::Pid::from_raw(host as i32), signal).expect("kill");
        if signal == Signal::SIGSTOP {
            let deadline = Instant::now() + LONG;
            while Status::read(host).is_some_and(|status| status.state != 'T') {
                assert!(Instant::now() < deadline, "pid {pid} did not stop");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    fn scratch_dir(&self) -> PathBuf {
        let dir = self.base.join(format!(
            "scratch-{}",
            self.dirs.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        dir
    }

    /// Every container of this fixture still on the engine, running or not.
    fn leftovers(&self) -> Vec<String> {
        let filter = format!("label={TEST_LABEL}={}", self.tag);
        let output = docker(&[
            "ps",
            "-a",
            "--filter",
            &filter,
            "--format",
            "{{.Names}} ({{.Status}})",
        ]);
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// A cycle costs a container: about 0.35 s of the engine's time on the
    /// test machine (starting it, with containerd's shim and runc, is most
    /// of it), so 15 cycles, not 10,000, keep the check near ten seconds.
    /// What is lost: the check's 16 MiB memory threshold now catches only
    /// leaks of about a megabyte per cycle (10,000 cycles catch 2 kB);
    /// leaked descriptors and threads are still caught one by one.
    fn churn_count(&self) -> usize {
        15
    }

    /// The pools a cycle uses (one kept-alive connection, one reader
    /// thread at a time) are warm after the first cycle.
    fn churn_warmup(&self) -> usize {
        5
    }
}

/// A new runtime with the fixture's settings adopts the durable
/// containers carrying the fixture's label (its builder label).
impl ReattachFixture for DockerFixture {
    fn adopting_runtime(&self) -> Box<dyn Runtime> {
        Box::new(
            self.builder()
                .adopt(true)
                .build()
                .unwrap_or_else(|error| panic!("build an adopting DockerRuntime: {error}")),
        )
    }

    /// The engine ends a container's stdin only with an attach connection
    /// of a container created with `StdinOnce`, which a durable container
    /// cannot be (its stdin would end with its runtime).
    fn closes_adopted_stdin(&self) -> bool {
        false
    }
}

impl Drop for DockerFixture {
    fn drop(&mut self) {
        // Not `containers`, which panics: a panic while unwinding aborts.
        let filter = format!("label={TEST_LABEL}={}", self.tag);
        let listed = docker(&["ps", "-aq", "--no-trunc", "--filter", &filter]);
        let left: Vec<String> = String::from_utf8_lossy(&listed.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        if !left.is_empty() {
            let mut args = vec!["rm", "--force", "--volumes"];
            args.extend(left.iter().map(String::as_str));
            let output = docker(&args);
            if !output.status.success() {
                eprintln!(
                    "cannot remove containers of test {}: {}",
                    self.tag,
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}
