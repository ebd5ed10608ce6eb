//! What only a remote runtime has: addresses, tokens, protocol versions,
//! outages and reconnection, bad frames, many connections.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::{Message, WebSocket};

use logist_core::{CommandLine, Error, Runtime, SpawnRequest, StdinMode, error_chain};
use logist_runtime_host::HostRuntime;
use logist_runtime_remote::{Address, RemoteRuntime, ServeError, Server, ServerHandle};

const LONG: Duration = Duration::from_secs(60);

fn host() -> Arc<HostRuntime> {
    Arc::new(HostRuntime::builder().build().expect("a host runtime"))
}

fn sh(script: &str) -> SpawnRequest {
    SpawnRequest::new(CommandLine::new(["sh", "-c", script]).unwrap())
}

fn serve_tcp(runtime: Arc<HostRuntime>, token: &str) -> ServerHandle {
    Server::new(runtime)
        .token(token)
        .bind(&"127.0.0.1:0".parse().unwrap())
        .expect("bind on loopback")
        .spawn()
}

fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + LONG;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn tcp_without_a_token_refuses_to_start_and_names_the_variable() {
    let error = Server::new(host())
        .bind(&"127.0.0.1:0".parse().unwrap())
        .expect_err("TCP needs a token");
    assert!(matches!(error, ServeError::TokenRequired { .. }));
    assert!(error.to_string().contains("LOGIST_TOKEN"), "{error}");
}

#[test]
fn tcp_with_the_right_token_runs_and_a_wrong_or_missing_one_runs_nothing() {
    let runtime = host();
    let server = serve_tcp(Arc::clone(&runtime), "s3cret-token");
    let address = server.address().clone();

    for token in [None, Some("wrong"), Some("s3cret-token-but-longer")] {
        let mut builder = RemoteRuntime::builder(address.clone());
        if let Some(token) = token {
            builder = builder.token(token);
        }
        let error = builder.build().expect_err("refused");
        let text = error_chain(&error).to_string();
        assert!(matches!(error, Error::Unavailable { .. }), "{text}");
        assert!(
            text.contains("401") && text.contains("LOGIST_TOKEN"),
            "{text}"
        );
        assert!(
            !text.contains("s3cret"),
            "the token must never be shown: {text}"
        );
    }
    assert!(runtime.list(&Default::default()).unwrap().is_empty());

    let remote = RemoteRuntime::builder(address)
        .token("s3cret-token")
        .build()
        .expect("the right token");
    let id = remote.spawn(&sh("printf 'over tcp'")).unwrap();
    let done = remote.wait(&id, Some(LONG)).unwrap();
    assert!(done.status.success());
    assert_eq!(done.logs.bytes(), b"over tcp");
}

#[test]
fn a_unix_socket_is_private_to_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    let server = Server::new(host())
        .bind(&Address::Unix(path.clone()))
        .unwrap()
        .spawn();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    server.shutdown();
    assert!(!path.exists(), "the socket file is removed at shutdown");
}

type RawHandshake =
    tungstenite::HandshakeError<tungstenite::ClientHandshake<std::os::unix::net::UnixStream>>;

/// A raw WebSocket to the server, offering `protocol`.
fn raw(
    address: &Address,
    protocol: &str,
) -> Result<WebSocket<std::os::unix::net::UnixStream>, Box<RawHandshake>> {
    let Address::Unix(path) = address else {
        panic!("a unix address")
    };
    let stream = std::os::unix::net::UnixStream::connect(path).unwrap();
    let mut request = "ws://logist/".into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_str(protocol).unwrap(),
    );
    tungstenite::client(request, stream)
        .map(|(socket, _)| socket)
        .map_err(Box::new)
}

fn unix_server() -> (ServerHandle, Arc<HostRuntime>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = host();
    let server = Server::new(Arc::clone(&runtime) as Arc<dyn Runtime>)
        .bind(&Address::Unix(dir.path().join("s.sock")))
        .unwrap()
        .spawn();
    (server, runtime, dir)
}

#[test]
fn another_protocol_version_is_refused_clearly() {
    let (server, _runtime, _dir) = unix_server();
    let refused = raw(server.address(), "logist.v0")
        .map(drop)
        .map_err(|error| *error);
    let Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) = refused
    else {
        panic!("the handshake should fail with an HTTP refusal")
    };
    assert_eq!(response.status(), 400);
    let body = String::from_utf8(response.body().clone().unwrap()).unwrap();
    assert!(
        body.contains("logist.v1") && body.contains("logist.v0"),
        "{body}"
    );
}

#[test]
fn malformed_and_oversized_messages_get_errors_and_the_server_keeps_serving() {
    let (server, _runtime, _dir) = unix_server();
    let mut socket = raw(server.address(), "logist.v1").expect("handshake");

    for garbage in [
        &b""[..],
        b"\xff\xff\xff\xffjunk",
        b"\0\0\0\x02{}",
        b"\0\0\0\x10{\"op\":\"nope\"}",
    ] {
        socket
            .send(Message::Binary(garbage.to_vec().into()))
            .unwrap();
        let Message::Binary(reply) = socket.read().unwrap() else {
            panic!("a binary reply")
        };
        let text = String::from_utf8_lossy(&reply);
        assert!(text.contains("\"kind\":\"protocol\""), "{text}");
    }
    socket.send(Message::Text("hello".into())).unwrap();
    let Message::Binary(reply) = socket.read().unwrap() else {
        panic!("a binary reply")
    };
    assert!(String::from_utf8_lossy(&reply).contains("text messages"));

    // A message over the limit closes that connection only.
    let huge = vec![0u8; 65 << 20];
    let _ = socket.send(Message::Binary(huge.into()));
    let closed = (0..4).any(|_| socket.read().is_err());
    assert!(closed, "the oversized message ends its connection");

    let remote = RemoteRuntime::builder(server.address().clone())
        .build()
        .unwrap();
    let id = remote.spawn(&sh("echo still serving")).unwrap();
    assert_eq!(
        remote.wait(&id, Some(LONG)).unwrap().logs.bytes(),
        b"still serving\n"
    );
}

#[test]
fn calls_during_an_outage_fail_typed_and_reads_resume_exactly_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let address = Address::Unix(dir.path().join("s.sock"));
    let runtime = host();
    let serve = || {
        Server::new(Arc::clone(&runtime) as Arc<dyn Runtime>)
            .bind(&address)
            .unwrap()
            .spawn()
    };
    let server = serve();
    let remote = RemoteRuntime::builder(address.clone())
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    // Numbered lines, a pause for a line on stdin, more numbered lines.
    let request = sh("i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo line-$i; done; \
                      read x; while [ $i -lt 6000 ]; do i=$((i+1)); echo line-$i; done; echo end-$x")
    .stdin(StdinMode::Piped);
    let id = remote.spawn(&request).unwrap();

    let mut seen = Vec::new();
    let mut next = 0;
    while !String::from_utf8_lossy(&seen).contains("line-3000\n") {
        let read = remote.read_output(&id, next, Some(LONG)).unwrap();
        for chunk in &read.chunks {
            seen.extend_from_slice(&chunk.data);
        }
        next = read.next;
    }

    server.shutdown();
    let started = Instant::now();
    let error = remote
        .read_output(&id, next, Some(LONG))
        .expect_err("no server");
    assert!(matches!(error, Error::Unavailable { .. }), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "an outage must not hang"
    );

    let _server = serve();
    remote.write_stdin(&id, b"now\n").unwrap();
    loop {
        let read = remote.read_output(&id, next, Some(LONG)).unwrap();
        for chunk in &read.chunks {
            assert_eq!(chunk.offset, next.max(chunk.offset), "no byte repeated");
            seen.extend_from_slice(&chunk.data);
        }
        next = read.next;
        if read.finished {
            break;
        }
    }
    let text = String::from_utf8(seen).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (last, numbered) = lines.split_last().unwrap();
    assert_eq!(*last, "end-now");
    for (index, line) in numbered.iter().enumerate() {
        assert_eq!(
            *line,
            format!("line-{}", index + 1),
            "every byte, once, in order"
        );
    }
    assert!(remote.wait(&id, Some(LONG)).unwrap().status.success());
}

#[test]
fn a_thousand_connections_opened_and_dropped_leave_nothing_on_the_server() {
    let (server, _runtime, _dir) = unix_server();
    for _ in 0..1000 {
        let remote = RemoteRuntime::builder(server.address().clone())
            .build()
            .unwrap();
        drop(remote);
    }
    for _ in 0..200 {
        // Dropped in the middle of the handshake.
        let Address::Unix(path) = server.address() else {
            unreachable!()
        };
        drop(std::os::unix::net::UnixStream::connect(path).unwrap());
    }
    eventually("every connection is closed on the server", || {
        server.connections() == 0
    });
}

#[test]
fn a_retried_spawn_with_the_same_key_starts_one_process() {
    // The client sends its key again only when a pooled connection failed;
    // the server must then answer with the first process. Simulate the lost
    // reply by sending the same spawn twice on a raw connection.
    let (server, runtime, _dir) = unix_server();
    let mut socket = raw(server.address(), "logist.v1").unwrap();
    let spawn = serde_json::json!({
        "op": "spawn",
        "key": "k-1",
        "request": {
            "argv": ["sleep", "60"], "inherit_env": true, "set_env": {}, "unset_env": [],
            "labels": {"t": "retry"}, "cwd": null, "piped_stdin": false, "terminal": null,
            "grace_ms": null
        }
    });
    let json = serde_json::to_vec(&spawn).unwrap();
    let mut message = (json.len() as u32).to_be_bytes().to_vec();
    message.extend_from_slice(&json);
    let mut ids = Vec::new();
    for _ in 0..2 {
        socket
            .send(Message::Binary(message.clone().into()))
            .unwrap();
        let Message::Binary(reply) = socket.read().unwrap() else {
            panic!("a reply")
        };
        ids.push(String::from_utf8_lossy(&reply[4..]).into_owned());
    }
    assert_eq!(ids[0], ids[1]);
    let selector = [("t".to_owned(), "retry".to_owned())].into();
    let running = runtime.list(&selector).unwrap();
    assert_eq!(running.len(), 1);
    runtime.terminate(&running[0].id, true).unwrap();
}

#[test]
fn no_server_at_the_address_is_a_typed_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let address = Address::Unix(dir.path().join("none.sock"));
    let error = RemoteRuntime::builder(address)
        .build()
        .expect_err("nothing there");
    let text = error_chain(&error).to_string();
    assert!(matches!(error, Error::Unavailable { .. }));
    assert!(
        text.contains("none.sock") && text.contains("logist serve"),
        "{text}"
    );
}

/// A self-signed certificate for 127.0.0.1, written as PEM files.
fn certificate(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("a self-signed certificate");
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

#[test]
fn tls_serves_a_client_that_trusts_the_certificate_and_refuses_others() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path(), "server");
    let (other, _) = certificate(dir.path(), "other");
    let server = Server::new(host())
        .token("tls-token")
        .tls(logist_runtime_remote::server_config(&cert, &key).unwrap())
        .bind(&"tls://127.0.0.1:0".parse().unwrap())
        .unwrap()
        .spawn();
    let address = server.address().clone();
    assert!(
        address.to_string().starts_with("tls://127.0.0.1:"),
        "{address}"
    );

    let remote = RemoteRuntime::builder(address.clone())
        .token("tls-token")
        .tls(logist_runtime_remote::client_config(&cert).unwrap())
        .build()
        .expect("a client trusting the server's certificate");
    let id = remote.spawn(&sh("printf 'over tls'")).unwrap();
    assert_eq!(
        remote.wait(&id, Some(LONG)).unwrap().logs.bytes(),
        b"over tls"
    );

    // Another authority: the certificate is not trusted.
    let error = RemoteRuntime::builder(address.clone())
        .token("tls-token")
        .tls(logist_runtime_remote::client_config(&other).unwrap())
        .build()
        .expect_err("an untrusted certificate");
    let text = error_chain(&error).to_string();
    assert!(text.to_lowercase().contains("certificate"), "{text}");

    // Plain TCP to a TLS server fails cleanly, and so does tls:// without
    // an authority to trust.
    let Address::Tls(host_port) = &address else {
        unreachable!()
    };
    let plain = RemoteRuntime::builder(Address::Tcp(host_port.clone()))
        .token("tls-token")
        .connect_timeout(Duration::from_secs(5))
        .build();
    assert!(matches!(plain, Err(Error::Unavailable { .. })));
    let text = error_chain(&RemoteRuntime::builder(address).build().unwrap_err()).to_string();
    assert!(text.contains("LOGIST_TLS_CA"), "{text}");
}

#[test]
fn unreadable_certificates_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let error = logist_runtime_remote::client_config(&missing).unwrap_err();
    assert!(error_chain(&error).to_string().contains("missing.pem"));
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let error = logist_runtime_remote::server_config(&empty, &empty).unwrap_err();
    let text = error_chain(&error).to_string();
    assert!(
        text.contains("empty.pem") && text.contains("CERTIFICATE"),
        "{text}"
    );
}
