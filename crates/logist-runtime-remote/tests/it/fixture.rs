//! `RemoteFixture`: a `HostRuntime` served on a Unix socket in a temporary
//! directory, and a `RemoteRuntime` connected to it, as one runtime.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use logist_conformance::Fixture;
use logist_core::{
    CommandLine, Completion, Error, Labels, Logs, OutputRead, ProcessId, ProcessInfo, Runtime,
    SpawnRequest, Stream,
};
use logist_runtime_host::HostRuntime;
use logist_runtime_remote::{Address, RemoteRuntime, Server, ServerHandle};

/// A client, its server and the server's runtime, dropped in that order.
pub(crate) struct Served {
    pub(crate) remote: Option<RemoteRuntime>,
    pub(crate) server: Option<ServerHandle>,
    pub(crate) _host: Arc<HostRuntime>,
    pub(crate) _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        drop(self.remote.take());
        drop(self.server.take());
    }
}

impl Served {
    fn rt(&self) -> &RemoteRuntime {
        self.remote.as_ref().expect("the client lives until drop")
    }
}

impl Runtime for Served {
    fn name(&self) -> &str {
        self.rt().name()
    }
    fn spawn(&self, request: &SpawnRequest) -> Result<ProcessId, Error> {
        self.rt().spawn(request)
    }
    fn is_alive(&self, id: &ProcessId) -> Result<bool, Error> {
        self.rt().is_alive(id)
    }
    fn get_logs(&self, id: &ProcessId, tail: Option<usize>) -> Result<Logs, Error> {
        self.rt().get_logs(id, tail)
    }
    fn get_stream_logs(
        &self,
        id: &ProcessId,
        stream: Stream,
        tail: Option<usize>,
    ) -> Result<Logs, Error> {
        self.rt().get_stream_logs(id, stream, tail)
    }
    fn read_output(
        &self,
        id: &ProcessId,
        from: u64,
        timeout: Option<Duration>,
    ) -> Result<OutputRead, Error> {
        self.rt().read_output(id, from, timeout)
    }
    fn terminate(&self, id: &ProcessId, force: bool) -> Result<bool, Error> {
        self.rt().terminate(id, force)
    }
    fn wait(&self, id: &ProcessId, timeout: Option<Duration>) -> Result<Completion, Error> {
        self.rt().wait(id, timeout)
    }
    fn write_stdin(&self, id: &ProcessId, data: &[u8]) -> Result<(), Error> {
        self.rt().write_stdin(id, data)
    }
    fn close_stdin(&self, id: &ProcessId) -> Result<(), Error> {
        self.rt().close_stdin(id)
    }
    fn info(&self, id: &ProcessId) -> Result<ProcessInfo, Error> {
        self.rt().info(id)
    }
    fn list(&self, selector: &Labels) -> Result<Vec<ProcessInfo>, Error> {
        self.rt().list(selector)
    }
    fn remove(&self, id: &ProcessId) -> Result<(), Error> {
        self.rt().remove(id)
    }
}

/// Serves a fresh `HostRuntime` for each check.
pub(crate) struct RemoteFixture {
    cookies: Mutex<Vec<String>>,
    dirs: Mutex<Vec<tempfile::TempDir>>,
}

impl RemoteFixture {
    pub(crate) fn new() -> Self {
        Self {
            cookies: Mutex::new(Vec::new()),
            dirs: Mutex::new(Vec::new()),
        }
    }

    /// A served host runtime and a client of it.
    pub(crate) fn served(&self) -> Served {
        let host = HostRuntime::builder().build().expect("build a HostRuntime");
        self.cookies
            .lock()
            .unwrap()
            .push(format!("{}=", host.cookie_name()));
        let host = Arc::new(host);
        let dir = tempfile::tempdir().expect("a temporary directory");
        let address = Address::Unix(dir.path().join("logist.sock"));
        let server = Server::new(Arc::clone(&host) as Arc<dyn Runtime>)
            .bind(&address)
            .expect("bind the server")
            .spawn();
        let remote = RemoteRuntime::builder(address).build().expect("connect");
        Served {
            remote: Some(remote),
            server: Some(server),
            _host: host,
            _dir: dir,
        }
    }
}

impl Fixture for RemoteFixture {
    fn runtime(&self) -> Box<dyn Runtime> {
        Box::new(self.served())
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
        self.dirs.lock().unwrap().push(dir);
        path
    }

    fn leftovers(&self) -> Vec<String> {
        let cookies = self.cookies.lock().unwrap().clone();
        logist_testing::processes_with_env(&cookies)
    }

    fn churn_count(&self) -> usize {
        // Three round trips a cycle; the host runtime's own suite runs the
        // full count.
        1_000
    }

    fn large_output_bytes(&self) -> u64 {
        32 * 1024 * 1024
    }
}
