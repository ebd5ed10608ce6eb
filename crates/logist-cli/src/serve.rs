//! `logist serve` (this machine's host runtime served to remote callers)
//! and `--remote` (run and exec acting on such a server).

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;

use logist_core::{Runtime, error_chain};
use logist_runtime_remote::{
    Address, RemoteRuntime, ServeError, Server, client_config, server_config,
};

use crate::CliError;
use crate::cli::{RuntimeKind, ServeArgs, Shared};
use crate::signals::Signals;
use logist_runtime_docker::{DockerHost, DockerRuntime};

/// The variable that holds the token of a TCP server, for both sides.
const TOKEN: &str = "LOGIST_TOKEN";

/// How long a stopping server waits for its connections to let go of the
/// runtime before it exits.
const RELEASE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// The variable that names the PEM file a client trusts for tls://.
const TLS_CA: &str = "LOGIST_TLS_CA";

fn address(text: &str, what: &str) -> Result<Address, CliError> {
    text.parse()
        .map_err(|error| CliError::usage(format!("{what}: {}", error_chain(&error))))
}

/// The token from the environment; an empty one counts as none.
fn token() -> Option<String> {
    std::env::var(TOKEN).ok().filter(|token| !token.is_empty())
}

/// The runtime of `--remote URL`.
pub(crate) fn remote_runtime(url: &str, shared: &Shared) -> Result<Arc<dyn Runtime>, CliError> {
    if shared.runtime != RuntimeKind::Host || shared.image.is_some() {
        return Err(CliError::usage(
            "--remote runs on the server's runtime: --runtime and --image do not apply",
        ));
    }
    if shared.log_file.is_some() {
        return Err(CliError::usage(
            "--log-file needs the local host runtime; with --remote, use --json or redirect the output",
        ));
    }
    Ok(Arc::new(remote_client(url)?))
}

/// A client of the server at `url` (`--remote`, `LOGIST_REMOTE`), with
/// `LOGIST_TOKEN` and, for tls://, `LOGIST_TLS_CA`.
pub(crate) fn remote_client(url: &str) -> Result<RemoteRuntime, CliError> {
    let address = address(url, "--remote (LOGIST_REMOTE)")?;
    let tls = matches!(address, Address::Tls(_));
    let mut builder = RemoteRuntime::builder(address);
    if let Some(token) = token() {
        builder = builder.token(token);
    }
    if tls {
        let authority = std::env::var_os(TLS_CA).ok_or_else(|| {
            CliError::usage(format!(
                "a tls:// server needs {TLS_CA}: the PEM file of the authority (or certificate) to trust"
            ))
        })?;
        let config = client_config(Path::new(&authority))
            .map_err(|error| CliError::usage(format!("{TLS_CA}: {}", error_chain(&error))))?;
        builder = builder.tls(config);
    }
    builder.build().map_err(|error| {
        CliError::failed(format!(
            "cannot use the remote runtime: {}",
            error_chain(&error)
        ))
    })
}

/// The host runtime `logist serve` serves: runs through per-run monitors
/// in the state directory, which it owns and whose runs it adopts.
fn served_host(args: &ServeArgs, state: Option<&Path>) -> Result<Arc<dyn Runtime>, CliError> {
    if args.image.is_some() {
        return Err(CliError::usage("--image needs --runtime docker"));
    }
    let state = crate::state_dir::open(state)
        .map_err(|error| CliError::failed(error_chain(&error).to_string()))?;
    // The server owns the directory: it takes over the runs recorded
    // there (a restart loses none) and no second server can.
    crate::state_dir::monitored_host(&state, args.grace, true)
}

/// The Docker runtime `logist serve --runtime docker` serves. Its
/// containers carry `logist.serve=<listen address>`, and a server started
/// again on that address adopts the durable ones (the engine keeps them).
fn served_docker(args: &ServeArgs) -> Result<Arc<dyn Runtime>, CliError> {
    let image = args
        .image
        .as_deref()
        .ok_or_else(|| CliError::usage("--runtime docker needs --image IMAGE"))?;
    let host =
        DockerHost::from_env().map_err(|error| CliError::usage(error_chain(&error).to_string()))?;
    let runtime = DockerRuntime::builder(image)
        .host(host)
        .network(&args.network)
        .grace(args.grace)
        .label(SERVE_LABEL, &args.listen)
        .adopt(true)
        .build()
        .map_err(|error| {
            CliError::failed(format!(
                "cannot start the docker runtime: {}",
                error_chain(&error)
            ))
        })?;
    Ok(Arc::new(runtime))
}

/// The label that names the server a container belongs to.
const SERVE_LABEL: &str = "logist.serve";

/// `logist serve`: serves until SIGINT, SIGTERM or SIGHUP, then stops the
/// attached runs it started and exits 0. Durable runs (`--detach`) go on,
/// and the next server on the same state directory adopts them; attached
/// runs die with the server however it ends (their monitors see it go).
pub(crate) fn serve(
    args: &ServeArgs,
    signals: &Signals,
    state: Option<&Path>,
) -> Result<u8, CliError> {
    let address = address(&args.listen, "--listen")?;
    let runtime = match args.runtime {
        RuntimeKind::Host => served_host(args, state)?,
        RuntimeKind::Docker => served_docker(args)?,
    };
    let mut server = Server::new(Arc::clone(&runtime));
    if let Some(token) = token() {
        server = server.token(token);
    }
    if args.group_access {
        server = server.socket_mode(0o660);
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let config = server_config(cert, key).map_err(|error| {
            CliError::usage(format!("--tls-cert/--tls-key: {}", error_chain(&error)))
        })?;
        server = server.tls(config);
    }
    let listener = server.bind(&address).map_err(|error| match error {
        ServeError::TlsRequired { .. } => CliError::usage(error_chain(&error).to_string()),
        ServeError::TokenRequired { .. } => CliError::usage(format!(
            "{}: set {TOKEN} to a secret the clients share, or listen on unix:PATH",
            error_chain(&error)
        )),
        _ => CliError::failed(error_chain(&error).to_string()),
    })?;
    eprintln!("logist serve: listening on {}", listener.address());
    let handle = listener.spawn();

    let (stop, stopped) = mpsc::channel();
    signals.watch(
        move |_signal| {
            let _ = stop.send(());
        },
        || {},
    );
    let _ = stopped.recv();
    eprintln!("logist serve: stopping");
    handle.shutdown();
    // Connection threads let go of the runtime as they see the shutdown;
    // dropping it then stops every attached run, each tree with its grace
    // period, and leaves the durable ones to the next server. Should a
    // connection thread hold on, this process's exit closes the attached
    // runs' owner pipes and their monitors kill the trees.
    let deadline = std::time::Instant::now() + RELEASE_PATIENCE;
    while Arc::strong_count(&runtime) > 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    drop(runtime);
    Ok(0)
}
