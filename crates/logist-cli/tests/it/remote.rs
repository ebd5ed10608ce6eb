//! `logist serve` and `--remote`: run and exec act on a server as they do
//! locally (exit codes, exact bytes, timeouts that stop the tree there).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};

use tempfile::TempDir;

use logist_testing::NoSurvivors;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::{code, logist, output, wait};

/// A `logist serve` on `listen`, the address it printed, and its state
/// directory (each server its own: one server owns a directory).
fn serve(guard: &NoSurvivors, listen: &str, token: Option<&str>) -> (Child, String, TempDir) {
    serve_with(guard, &["serve", "--listen", listen], token)
}

/// `logist ARGS` (a serve command), the address it printed, and its state
/// directory.
fn serve_with(guard: &NoSurvivors, args: &[&str], token: Option<&str>) -> (Child, String, TempDir) {
    let state = tempfile::tempdir().expect("a state directory");
    let (child, address) = serve_on(guard, args, token, state.path());
    (child, address, state)
}

/// `logist ARGS` on the state directory `state`, and the address it
/// printed.
fn serve_on(
    guard: &NoSurvivors,
    args: &[&str],
    token: Option<&str>,
    state: &Path,
) -> (Child, String) {
    let mut command = logist(guard, args);
    command
        .env_remove("LOGIST_TOKEN")
        .env("LOGIST_STATE_DIR", state)
        .stderr(Stdio::piped());
    if let Some(token) = token {
        command.env("LOGIST_TOKEN", token);
    }
    let mut child = command.spawn().expect("start logist serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().expect("a line").expect("readable");
    let address = first
        .strip_prefix("logist serve: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    // Keep draining stderr so the server never blocks on it.
    std::thread::spawn(move || lines.for_each(drop));
    (child, address)
}

fn stop(mut server: Child) {
    kill(Pid::from_raw(server.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(
        wait(&mut server).code(),
        Some(0),
        "serve exits 0 when stopped"
    );
}

#[test]
fn exec_through_a_unix_socket_server_keeps_exit_codes_bytes_and_timeouts() {
    let guard = NoSurvivors::new();
    let dir = tempfile::tempdir().unwrap();
    let socket = format!("unix:{}", dir.path().join("s.sock").display());
    let (server, address, _state) = serve(&guard, &socket, None);
    assert_eq!(address, socket);

    let mut command = logist(
        &guard,
        &[
            "exec",
            "--",
            "sh",
            "-c",
            "printf 'a\\0b\\377'; echo err >&2; exit 3",
        ],
    );
    command.env("LOGIST_REMOTE", &address);
    let out = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"a\0b\xff");
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("err\n"));

    // The timeout stops the whole tree on the server's side.
    let out = output(
        &guard,
        &[
            "exec",
            "--remote",
            &address,
            "--timeout",
            "1",
            "--grace",
            "1",
            "--",
            "sh",
            "-c",
            "sleep 300 & sleep 300",
        ],
    );
    assert_eq!(code(&out), 124, "{}", String::from_utf8_lossy(&out.stderr));

    // Waiting for input is detected there too.
    let out = output(
        &guard,
        &[
            "run",
            "--remote",
            &address,
            "--agent",
            "mock",
            "--scenario",
            "interactive",
            "--pty",
            "Apply it",
        ],
    );
    assert_eq!(code(&out), 122, "{}", String::from_utf8_lossy(&out.stderr));

    stop(server);
    drop(guard);
}

#[test]
fn serve_on_tcp_needs_a_token_and_clients_need_the_right_one() {
    let guard = NoSurvivors::new();
    let state = tempfile::tempdir().unwrap();
    let mut command = logist(&guard, &["serve", "--listen", "127.0.0.1:0"]);
    command
        .env_remove("LOGIST_TOKEN")
        .env("LOGIST_STATE_DIR", state.path());
    let out = command.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LOGIST_TOKEN"));

    let (server, address, _state) = serve(&guard, "127.0.0.1:0", Some("t0ken-for-tests"));
    assert!(address.starts_with("tcp://127.0.0.1:"), "{address}");

    let mut command = logist(&guard, &["exec", "--remote", &address, "--", "echo", "hi"]);
    command.env("LOGIST_TOKEN", "wrong");
    let out = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{stderr}");
    assert!(
        stderr.contains("401") && stderr.contains("LOGIST_TOKEN"),
        "{stderr}"
    );
    assert!(!stderr.contains("t0ken"), "{stderr}");

    let mut command = logist(&guard, &["exec", "--remote", &address, "--", "echo", "hi"]);
    command.env("LOGIST_TOKEN", "t0ken-for-tests");
    let out = command.output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"hi\n");

    stop(server);
    drop(guard);
}

#[test]
fn a_bad_remote_address_is_a_usage_error() {
    let guard = NoSurvivors::new();
    let out = output(&guard, &["exec", "--remote", "ftp://x", "--", "true"]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scheme"));
}

#[test]
fn serve_over_tls_with_the_authority_in_logist_tls_ca() {
    let guard = NoSurvivors::new();
    let dir = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        cert,
        "--tls-key",
        key,
    ];
    let (server, address, _state) = serve_with(&guard, &args, Some("tls-t0ken"));
    assert!(address.starts_with("tls://127.0.0.1:"), "{address}");

    let mut command = logist(
        &guard,
        &["exec", "--remote", &address, "--", "echo", "secure"],
    );
    command
        .env("LOGIST_TOKEN", "tls-t0ken")
        .env("LOGIST_TLS_CA", cert);
    let out = command.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"secure\n");

    let mut command = logist(
        &guard,
        &["exec", "--remote", &address, "--", "echo", "secure"],
    );
    command
        .env("LOGIST_TOKEN", "tls-t0ken")
        .env_remove("LOGIST_TLS_CA");
    let out = command.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LOGIST_TLS_CA"));

    stop(server);
    drop(guard);
}

#[test]
fn one_orchestrator_drives_several_servers_and_stopping_one_affects_only_its_runs() {
    use std::time::{Duration, Instant};

    use logist_core::{CommandLine, Error, Runtime};
    use logist_runtime_remote::RemoteRuntime;

    let guard = NoSurvivors::new();
    // Three machines: three loopback addresses, each with its own server.
    let mut machines = Vec::new();
    let mut states = Vec::new();
    for host in ["127.0.0.1", "127.0.0.2", "127.0.0.3"] {
        let (server, address, state) = serve(&guard, &format!("{host}:0"), Some("fleet-token"));
        states.push(state);
        let runtime = RemoteRuntime::builder(address.parse().unwrap())
            .token("fleet-token")
            .connect_timeout(Duration::from_secs(2))
            .reply_timeout(Duration::from_secs(1))
            .build()
            .expect("connect");
        machines.push((logist_testing::KillOnDrop::new(server), runtime));
    }
    // Attached runs: a server killed by SIGKILL takes their whole trees
    // with it (each run's monitor sees its owner go).
    let sleeper = guard.request(CommandLine::new(["sh", "-c", "echo up; exec sleep 300"]).unwrap());
    let runs: Vec<_> = machines
        .iter()
        .map(|(_, runtime)| runtime.spawn(&sleeper).expect("spawn"))
        .collect();
    let echo = |runtime: &RemoteRuntime, text: &str| -> Result<Vec<u8>, Error> {
        let id = runtime.spawn(&guard.request(CommandLine::new(["echo", text]).unwrap()))?;
        Ok(runtime.wait(&id, Some(crate::LONG))?.logs.into_bytes())
    };

    // SIGSTOP the second machine's server: its calls fail with a typed
    // error after the deadline, never hang; the others keep serving.
    let stopped = Pid::from_raw(machines[1].0.id() as i32);
    kill(stopped, Signal::SIGSTOP).unwrap();
    crate::eventually("the server is stopped", || {
        logist_testing::Stat::of(stopped.as_raw() as u32).is_some_and(|stat| stat.state == 'T')
    });
    let started = Instant::now();
    let error = machines[1]
        .1
        .is_alive(&runs[1])
        .expect_err("a stopped server");
    assert!(matches!(error, Error::Unavailable { .. }), "{error}");
    assert!(started.elapsed() < Duration::from_secs(30));
    for index in [0, 2] {
        assert_eq!(
            echo(&machines[index].1, "still here").unwrap(),
            b"still here\n"
        );
        assert!(machines[index].1.is_alive(&runs[index]).unwrap());
    }
    kill(stopped, Signal::SIGCONT).unwrap();
    assert!(
        machines[1].1.is_alive(&runs[1]).unwrap(),
        "it serves again once continued"
    );

    // SIGKILL it: its runs die with it (they are not durable), the other
    // machines' runs are untouched, and calls to it fail at once.
    let (mut killed, runtime) = machines.remove(1);
    killed.kill().unwrap();
    killed.wait().unwrap();
    drop(killed);
    assert!(matches!(
        runtime.is_alive(&runs[1]),
        Err(Error::Unavailable { .. })
    ));
    drop(runtime);
    for (index, (_, runtime)) in machines.iter().enumerate() {
        let run = &runs[if index == 0 { 0 } else { 2 }];
        assert!(runtime.is_alive(run).unwrap());
        assert_eq!(
            runtime
                .read_output(run, 0, Some(crate::LONG))
                .unwrap()
                .chunks[0]
                .data,
            b"up\n"
        );
        assert!(runtime.terminate(run, true).unwrap());
    }
    for (mut server, runtime) in machines {
        drop(runtime);
        kill(Pid::from_raw(server.id() as i32), Signal::SIGTERM).unwrap();
        assert_eq!(
            wait(&mut server).code(),
            Some(0),
            "serve exits 0 when stopped"
        );
    }
    // The killed server's sleeper died with it (parent-death signal); the
    // guard fails the test if anything survived.
    drop(guard);
}

#[test]
fn a_detached_run_outlives_a_server_killed_and_restarted_and_its_watchers_see_every_byte() {
    let guard = NoSurvivors::new();
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let listen = format!("unix:{}", dir.path().join("s.sock").display());
    let args = ["serve", "--listen", listen.as_str()];
    let (first, address) = serve_on(&guard, &args, None, state.path());
    let first = logist_testing::KillOnDrop::new(first);

    // 200 numbered lines, then it waits for the gate, says more on both
    // streams and exits 7.
    let gate = dir.path().join("gate");
    let script = format!(
        "i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done; \
         while [ ! -e '{}' ]; do sleep 0.02; done; echo after >&2; echo done; exit 7",
        gate.display()
    );
    let started = output(
        &guard,
        &[
            "exec", "--detach", "--remote", &address, "--", "sh", "-c", &script,
        ],
    );
    assert_eq!(code(&started), 0, "{}", crate::text(&started.stderr));
    let id = crate::text(&started.stdout).trim().to_owned();
    assert!(!id.is_empty() && !id.contains('\n'), "one id: {id:?}");

    // Watchers from other shells: they outlive the server's restart.
    let follow = logist(&guard, &["logs", "--follow", "--remote", &address, &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut waiter = logist(&guard, &["wait", "--remote", &address, &id])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    crate::eventually("the run printed its 200 lines", || {
        let out = output(&guard, &["logs", "--remote", &address, &id]);
        crate::text(&out.stdout).contains("line 199\n")
    });
    let ps = output(&guard, &["ps", "--json", "--remote", &address]);
    assert!(
        crate::text(&ps.stdout).contains(&format!("\"id\":\"{id}\"")),
        "{}",
        crate::text(&ps.stdout)
    );

    // SIGKILL the server; the run goes on. A new server on the same state
    // directory (and address) adopts it.
    let mut first = first;
    first.kill().unwrap();
    first.wait().unwrap();
    drop(first);
    let (second, _) = serve_on(&guard, &args, None, state.path());
    let second = logist_testing::KillOnDrop::new(second);
    assert!(second.id() > 0);
    std::fs::write(&gate, b"").unwrap();

    let followed = follow.wait_with_output().unwrap();
    assert_eq!(code(&followed), 0, "{}", crate::text(&followed.stderr));
    let expected: String = (0..200).map(|i| format!("line {i}\n")).collect::<String>() + "done\n";
    assert_eq!(crate::text(&followed.stdout), expected, "every byte, once");
    let said = crate::text(&followed.stderr);
    assert!(said.contains("after\n"), "{said}");
    // It did live through the outage (the run cannot end before it).
    assert!(said.contains("the server cannot be reached"), "{said}");
    assert_eq!(wait(&mut waiter).code(), Some(7), "the exact exit code");

    // The run is the adopted one: listed as exited, then removed.
    let ps = output(&guard, &["ps", "--all", "--json", "--remote", &address]);
    assert!(
        crate::text(&ps.stdout).contains("\"code\":7"),
        "{}",
        crate::text(&ps.stdout)
    );
    let removed = output(&guard, &["rm", "--remote", &address, &id]);
    assert_eq!(code(&removed), 0, "{}", crate::text(&removed.stderr));
    let gone = output(&guard, &["wait", "--remote", &address, &id]);
    assert_eq!(code(&gone), 2, "{}", crate::text(&gone.stderr));
    assert!(crate::text(&gone.stderr).contains(&format!("no run with id `{id}`")));
    let mut second = second;
    kill(Pid::from_raw(second.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(
        wait(&mut second).code(),
        Some(0),
        "serve exits 0 when stopped"
    );
}

/// `logist serve --runtime docker`: containers behind the server, and a
/// durable one outlives a SIGKILLed server and is adopted by the next.
/// Needs the engine and image of `cargo xtask docker` (a step of `cargo
/// xtask ci`), as the tests in `docker.rs` do.
#[test]
fn serve_runtime_docker_keeps_durable_containers_across_a_restart() {
    let guard = NoSurvivors::new();
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("unix:{}", dir.path().join("d.sock").display());
    let args = [
        "serve",
        "--listen",
        listen.as_str(),
        "--runtime",
        "docker",
        "--image",
        "logist-test-busybox:1",
    ];
    let (first, address) = serve_on(&guard, &args, None, dir.path());
    let first = logist_testing::KillOnDrop::new(first);

    let out = output(
        &guard,
        &["exec", "--remote", &address, "--", "echo", "in a container"],
    );
    assert_eq!(code(&out), 0, "{}", crate::text(&out.stderr));
    assert_eq!(crate::text(&out.stdout), "in a container\n");

    let script = "echo before; exec sleep 1000";
    let started = output(
        &guard,
        &[
            "exec", "--detach", "--remote", &address, "--", "sh", "-c", script,
        ],
    );
    assert_eq!(code(&started), 0, "{}", crate::text(&started.stderr));
    let id = crate::text(&started.stdout).trim().to_owned();
    crate::eventually("the container printed", || {
        crate::text(&output(&guard, &["logs", "--remote", &address, &id]).stdout) == "before\n"
    });

    let mut first = first;
    first.kill().unwrap();
    first.wait().unwrap();
    drop(first);
    let (second, _) = serve_on(&guard, &args, None, dir.path());
    let mut second = logist_testing::KillOnDrop::new(second);
    // The adopted container is the same one: its output from the start.
    let out = output(&guard, &["logs", "--remote", &address, &id]);
    assert_eq!(
        crate::text(&out.stdout),
        "before\n",
        "{}",
        crate::text(&out.stderr)
    );
    let stopped = output(&guard, &["stop", "--force", "--remote", &address, &id]);
    assert_eq!(code(&stopped), 0, "{}", crate::text(&stopped.stderr));
    let waited = output(&guard, &["wait", "--remote", &address, &id]);
    assert_eq!(code(&waited), 128 + 9, "{}", crate::text(&waited.stderr));
    let removed = output(&guard, &["rm", "--remote", &address, &id]);
    assert_eq!(code(&removed), 0, "{}", crate::text(&removed.stderr));
    kill(Pid::from_raw(second.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(
        wait(&mut second).code(),
        Some(0),
        "serve exits 0 when stopped"
    );
}

#[test]
fn attach_remote_relays_stdin_and_output_and_exits_with_the_run() {
    let guard = NoSurvivors::new();
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("unix:{}", dir.path().join("s.sock").display());
    let (server, address, _state) = serve(&guard, &listen, None);
    let started = output(
        &guard,
        &[
            "exec",
            "--detach",
            "--remote",
            &address,
            "--",
            "sh",
            "-c",
            "echo ready; read line; echo \"got $line\"; read rest; echo \"then $rest\"; exit 3",
        ],
    );
    assert_eq!(code(&started), 0, "{}", crate::text(&started.stderr));
    let id = crate::text(&started.stdout).trim().to_owned();
    crate::eventually("the run is ready", || {
        crate::text(&output(&guard, &["logs", "--remote", &address, &id]).stdout) == "ready\n"
    });
    // Two lines; the end of input closes the run's stdin.
    let out = crate::run_to_end(
        &mut logist(&guard, &["attach", "--replay", "--remote", &address, &id]),
        Some(b"hello\nworld\n"),
    );
    assert_eq!(code(&out), 3, "{}", crate::text(&out.stderr));
    assert_eq!(crate::text(&out.stdout), "ready\ngot hello\nthen world\n");
    stop(server);
}
