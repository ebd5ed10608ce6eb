//! Engines elsewhere: `tcp://` through a forwarder on 127.0.0.1 that
//! relays to the local engine's socket (as a remote engine's port would),
//! and `ssh://` through a stand-in for `ssh` that runs `docker system
//! dial-stdio` here, exactly what ssh would run on the remote host.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;

use logist_conformance::{Fixture, LONG};
use logist_core::{Agent, ExitStatus, Runtime, SpawnRequest, StdinMode};
use logist_mock::{APPLIED, INTERACTIVE_PROMPT, MockAgent, Scenario};
use logist_runtime_docker::{DEFAULT_SOCKET, DockerHost, DockerRuntime};

use crate::fixture::{DockerFixture, MOCK_AGENT};

/// Relays TCP connections on 127.0.0.1 to the engine's Unix socket,
/// passing half-closes on. Stops when dropped.
struct Forwarder {
    port: u16,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Forwarder {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (connections, stop) = (Arc::clone(&connections), Arc::clone(&stop));
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    let Ok(engine) = UnixStream::connect(DEFAULT_SOCKET) else {
                        continue;
                    };
                    connections.fetch_add(1, Ordering::Relaxed);
                    relay(client, engine);
                }
            })
        };
        Self {
            port,
            connections,
            stop,
            acceptor: Some(acceptor),
        }
    }
}

/// Copies both ways on two threads, which end with the connection.
fn relay(client: TcpStream, engine: UnixStream) {
    let (client_in, engine_in) = (client.try_clone().unwrap(), engine.try_clone().unwrap());
    std::thread::spawn(move || pipe(client_in, engine, |stream| stream.shutdown(Shutdown::Write)));
    std::thread::spawn(move || pipe(engine_in, client, |stream| stream.shutdown(Shutdown::Write)));
}

fn pipe<R: Read, W: Write>(mut from: R, mut to: W, close: impl Fn(&W) -> io::Result<()>) {
    let mut buf = vec![0; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = close(&to);
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the acceptor so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// An interactive agent over `runtime`: question, answer, exit; then a
/// process that is terminated.
fn exercise(runtime: &DockerRuntime) {
    let agent = MockAgent::new(Scenario::Interactive).program(MOCK_AGENT);
    let id = runtime
        .spawn(&SpawnRequest::new(agent.cmd("remote").unwrap()).stdin(StdinMode::Piped))
        .unwrap();
    let (mut seen, mut next) = (Vec::new(), 0);
    while !seen.ends_with(INTERACTIVE_PROMPT.as_bytes()) {
        let read = runtime.read_output(&id, next, Some(LONG)).unwrap();
        assert!(!read.finished, "{}", String::from_utf8_lossy(&seen));
        seen.extend(read.chunks.into_iter().flat_map(|chunk| chunk.data));
        next = read.next;
    }
    runtime.write_stdin(&id, b"y\n").unwrap();
    runtime.close_stdin(&id).unwrap();
    let done = runtime.wait(&id, Some(LONG)).unwrap();
    assert_eq!(done.status, ExitStatus::Code(0));
    assert!(done.logs.text().ends_with(APPLIED));
    runtime.remove(&id).unwrap();

    let hang = MockAgent::new(Scenario::Hang).program(MOCK_AGENT);
    let id = runtime
        .spawn(&SpawnRequest::new(hang.cmd("remote").unwrap()))
        .unwrap();
    assert!(runtime.terminate(&id, false).unwrap());
    assert_eq!(
        runtime.wait(&id, Some(LONG)).unwrap().status,
        ExitStatus::Signal(15)
    );
}

#[test]
fn an_engine_over_tcp() {
    let fixture = DockerFixture::new();
    let forwarder = Forwarder::start();
    let host: DockerHost = format!("tcp://127.0.0.1:{}", forwarder.port)
        .parse()
        .unwrap();
    let runtime = fixture.builder().host(host).build().unwrap();
    assert_eq!(
        runtime.host().to_string(),
        format!("tcp://127.0.0.1:{}", forwarder.port)
    );
    exercise(&runtime);
    drop(runtime);
    assert!(
        // The pooled connection, and one attach per process.
        forwarder.connections.load(Ordering::Relaxed) >= 3,
        "the calls went through the forwarder"
    );
    assert!(fixture.leftovers().is_empty(), "{:?}", fixture.leftovers());
}

#[test]
fn an_engine_over_ssh() {
    let fixture = DockerFixture::new();
    let dir = tempfile::tempdir().unwrap();
    let ssh = dir.path().join("ssh");
    let args = dir.path().join("args");
    // What sshd would run on the remote host, run here; the arguments are
    // kept to check the command line.
    std::fs::write(
        &ssh,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\nexec docker system dial-stdio\n",
            args.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&ssh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let host: DockerHost = "ssh://agent@engine-7:2222".parse().unwrap();
    let runtime = fixture
        .builder()
        .host(host)
        .ssh_program(&ssh)
        .build()
        .unwrap();
    exercise(&runtime);
    drop(runtime);
    let args = std::fs::read_to_string(&args).unwrap();
    assert!(
        args.ends_with("-l\nagent\n-p\n2222\n--\nengine-7\ndocker\nsystem\ndial-stdio\n"),
        "{args}"
    );
    assert!(fixture.leftovers().is_empty(), "{:?}", fixture.leftovers());
}

#[test]
fn a_failing_ssh_says_what_ssh_said() {
    let dir = tempfile::tempdir().unwrap();
    let ssh = dir.path().join("ssh");
    std::fs::write(
        &ssh,
        "#!/bin/sh\necho 'ssh: connect to host engine-7 port 22: Connection refused' >&2\nexit 255\n",
    )
    .unwrap();
    std::fs::set_permissions(&ssh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let error = DockerRuntime::builder("logist-test-busybox:1")
        .host("ssh://engine-7".parse().unwrap())
        .ssh_program(&ssh)
        .build()
        .unwrap_err();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    assert!(message.contains("ssh://engine-7"), "{message}");
    assert!(message.contains("Connection refused"), "{message}");
}
