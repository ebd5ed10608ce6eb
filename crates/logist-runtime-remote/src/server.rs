//! The server: any [`Runtime`] served to remote callers, one thread per
//! connection, one request at a time on each.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use subtle::ConstantTimeEq;
use tungstenite::handshake::server::{
    ErrorResponse, Request as HttpRequest, Response as HttpResponse,
};
use tungstenite::http::{HeaderValue, StatusCode};
use tungstenite::{Message, WebSocket};

use logist_core::{Error, ProcessId, Runtime, Stream};

use crate::address::{Address, Transport};
use crate::wire::{
    self, PROTOCOL, Reply, Request, WireError, WireInfo, completion_reply, output_reply,
};

/// The longest a single `read_output` or `wait` blocks on the server; a
/// client wanting longer asks again. It bounds how long a connection
/// thread stays busy after its client went away.
pub(crate) const MAX_BLOCK: Duration = Duration::from_secs(30);

/// How long a connection may stay idle, or take for its handshake, before
/// the server closes it (a vanished client must not hold a thread forever).
const IDLE_LIMIT: Duration = Duration::from_secs(300);
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// The largest message a peer may send.
pub(crate) const MAX_MESSAGE: usize = 64 << 20;

/// How many spawn keys the server remembers for retried spawns.
const SPAWN_KEYS: usize = 4096;

/// Why the server cannot start or stopped serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A TCP listener without a token would run anything for anyone who
    /// can reach the port.
    #[error("serving on TCP ({address}) needs a token (LOGIST_TOKEN); a Unix socket needs none")]
    TokenRequired {
        /// The address that was asked for.
        address: Address,
    },
    /// A `tls://` address without a certificate and key.
    #[error("serving on {address} needs a certificate and key (--tls-cert, --tls-key)")]
    TlsRequired {
        /// The address that was asked for.
        address: Address,
    },
    /// The address cannot be listened on.
    #[error("cannot listen on {address}")]
    Listen {
        /// The address that was asked for.
        address: Address,
        /// Why the operating system refused.
        #[source]
        source: io::Error,
    },
}

/// Serves a [`Runtime`] over WebSocket: `logist serve` in a library.
///
/// Build it around a runtime, [`bind`](Server::bind) it to an address and
/// run it (blocking) or [`spawn`](Listener::spawn) it on a thread.
pub struct Server {
    runtime: Arc<dyn Runtime>,
    token: Option<Vec<u8>>,
    socket_mode: u32,
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("runtime", &self.runtime.name())
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

impl Server {
    /// A server for `runtime`, without a token (Unix sockets only).
    pub fn new(runtime: Arc<dyn Runtime>) -> Self {
        Self {
            runtime,
            token: None,
            socket_mode: 0o600,
            tls: None,
        }
    }

    /// Serves TCP connections over TLS with this configuration (see
    /// [`server_config`](crate::server_config)); the address clients use is
    /// then `tls://HOST:PORT`.
    #[must_use]
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Requires every connection to present this token
    /// (`Authorization: Bearer TOKEN`); required for TCP.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into().into_bytes());
        self
    }

    /// The mode of a Unix socket file (0600: only the owner; 0660 lets the
    /// file's group connect too).
    #[must_use]
    pub fn socket_mode(mut self, mode: u32) -> Self {
        self.socket_mode = mode;
        self
    }

    /// Listens on `address`. A Unix socket is created with the socket mode
    /// before anyone can connect; a stale socket file there is replaced.
    ///
    /// # Errors
    ///
    /// [`ServeError::TokenRequired`] for TCP without a token,
    /// [`ServeError::Listen`] when the address cannot be used.
    pub fn bind(self, address: &Address) -> Result<Listener, ServeError> {
        let listen_error = |source| ServeError::Listen {
            address: address.clone(),
            source,
        };
        let (socket, bound) = match address {
            Address::Tcp(host_port) | Address::Tls(host_port) => {
                if self.token.is_none() {
                    return Err(ServeError::TokenRequired {
                        address: address.clone(),
                    });
                }
                if matches!(address, Address::Tls(_)) && self.tls.is_none() {
                    return Err(ServeError::TlsRequired {
                        address: address.clone(),
                    });
                }
                let listener = TcpListener::bind(host_port.as_str()).map_err(listen_error)?;
                let local = listener.local_addr().map_err(listen_error)?;
                let bound = if self.tls.is_some() {
                    Address::Tls(local.to_string())
                } else {
                    Address::Tcp(local.to_string())
                };
                (Socket::Tcp(listener), bound)
            }
            Address::Unix(path) => {
                let listener = bind_unix(path, self.socket_mode).map_err(listen_error)?;
                (Socket::Unix(listener, path.clone()), address.clone())
            }
        };
        Ok(Listener {
            shared: Arc::new(Shared {
                runtime: self.runtime,
                token: self.token,
                tls: self.tls,
                spawn_keys: Mutex::new(SpawnKeys::default()),
                connections: Mutex::new(HashMap::new()),
                next_connection: AtomicU64::new(0),
                stopping: AtomicBool::new(false),
            }),
            socket,
            address: bound,
        })
    }
}

/// Binds a Unix socket under a temporary name, sets its mode, then renames
/// it into place, so no client ever sees it with a wider mode.
fn bind_unix(path: &PathBuf, mode: u32) -> io::Result<UnixListener> {
    let mut staging = path.clone().into_os_string();
    staging.push(format!(".{}.tmp", std::process::id()));
    let staging = PathBuf::from(staging);
    let _ = fs::remove_file(&staging);
    let listener = UnixListener::bind(&staging)?;
    let placed = fs::set_permissions(&staging, fs::Permissions::from_mode(mode))
        .and_then(|()| fs::rename(&staging, path));
    if let Err(error) = placed {
        let _ = fs::remove_file(&staging);
        return Err(error);
    }
    Ok(listener)
}

enum Socket {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

impl Socket {
    /// A second descriptor of the listening socket, to wake its accept.
    fn try_clone_fd(&self) -> Option<OwnedFd> {
        match self {
            Socket::Tcp(listener) => listener.as_fd().try_clone_to_owned().ok(),
            Socket::Unix(listener, _) => listener.as_fd().try_clone_to_owned().ok(),
        }
    }
}

/// What the connection threads share.
struct Shared {
    runtime: Arc<dyn Runtime>,
    token: Option<Vec<u8>>,
    tls: Option<Arc<rustls::ServerConfig>>,
    spawn_keys: Mutex<SpawnKeys>,
    /// Open connections, so that shutting down closes them.
    connections: Mutex<HashMap<u64, Transport>>,
    next_connection: AtomicU64,
    stopping: AtomicBool,
}

/// The ids of recent spawns by their client-chosen key: a client that lost
/// the reply to a spawn asks again with the same key and gets the same
/// process instead of a second one.
#[derive(Default)]
struct SpawnKeys {
    by_key: HashMap<String, Arc<Mutex<Option<ProcessId>>>>,
    order: VecDeque<String>,
}

impl SpawnKeys {
    fn slot(&mut self, key: &str) -> Arc<Mutex<Option<ProcessId>>> {
        if let Some(slot) = self.by_key.get(key) {
            return Arc::clone(slot);
        }
        if self.order.len() == SPAWN_KEYS
            && let Some(oldest) = self.order.pop_front()
        {
            self.by_key.remove(&oldest);
        }
        self.order.push_back(key.to_owned());
        Arc::clone(self.by_key.entry(key.to_owned()).or_default())
    }
}

/// A bound server, not yet accepting.
pub struct Listener {
    shared: Arc<Shared>,
    socket: Socket,
    address: Address,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("address", &self.address)
            .finish()
    }
}

impl Listener {
    /// The address clients connect to (for TCP port 0: the chosen port).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// Accepts connections until the process ends.
    pub fn run(self) {
        self.accept_loop();
    }

    /// Accepts connections on a thread of its own until the handle is shut
    /// down or dropped.
    pub fn spawn(self) -> ServerHandle {
        let shared = Arc::clone(&self.shared);
        let address = self.address.clone();
        let wake = self.socket.try_clone_fd();
        let thread = thread::Builder::new()
            .name("logist-serve".into())
            .spawn(move || self.accept_loop())
            .expect("spawning the accept thread");
        ServerHandle {
            shared,
            address,
            wake,
            thread: Some(thread),
        }
    }

    fn accept_loop(self) {
        loop {
            let accepted = match &self.socket {
                Socket::Tcp(listener) => listener.accept().and_then(|(stream, _)| {
                    let _ = stream.set_nodelay(true);
                    match &self.shared.tls {
                        Some(config) => {
                            let connection = rustls::ServerConnection::new(Arc::clone(config))
                                .map_err(io::Error::other)?;
                            Ok(Transport::TlsServer(Box::new(rustls::StreamOwned::new(
                                connection, stream,
                            ))))
                        }
                        None => Ok(Transport::Tcp(stream)),
                    }
                }),
                Socket::Unix(listener, _) => {
                    listener.accept().map(|(stream, _)| Transport::Unix(stream))
                }
            };
            if self.shared.stopping.load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = accepted else {
                // Out of descriptors or a connection reset before accept:
                // keep serving the others.
                thread::sleep(Duration::from_millis(10));
                continue;
            };
            let shared = Arc::clone(&self.shared);
            let spawned = thread::Builder::new()
                .name("logist-serve-conn".into())
                .spawn(move || serve_connection(&shared, stream));
            if spawned.is_err() {
                // No thread for it: the stream was moved into the closure
                // and is closed with it.
                thread::sleep(Duration::from_millis(10));
            }
        }
        if let Socket::Unix(_, path) = &self.socket {
            let _ = fs::remove_file(path);
        }
    }
}

/// A server running on its own thread; dropping it stops the server and
/// closes its connections (the runtime and its processes stay with their
/// owner).
#[derive(Debug)]
pub struct ServerHandle {
    shared: Arc<Shared>,
    address: Address,
    /// The listening socket, shut down to end a blocked accept (even when
    /// its socket file was removed meanwhile).
    wake: Option<OwnedFd>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("runtime", &self.runtime.name())
            .finish()
    }
}

impl ServerHandle {
    /// The address clients connect to.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// How many connections are open now.
    pub fn connections(&self) -> usize {
        lock(&self.shared.connections).len()
    }

    /// Stops accepting, closes every connection, and waits for the accept
    /// thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // On Linux, shutting a listening socket down ends a blocked accept.
        if let Some(listener) = &self.wake {
            let _ =
                nix::sys::socket::shutdown(listener.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        }
        for (_, connection) in lock(&self.shared.connections).drain() {
            connection.shutdown();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One connection: the handshake (protocol version and token), then
/// requests until the client closes it.
fn serve_connection(shared: &Shared, stream: Transport) {
    if stream.set_timeouts(Some(HANDSHAKE_LIMIT)).is_err() {
        return;
    }
    let number = shared.next_connection.fetch_add(1, Ordering::Relaxed);
    if let Ok(clone) = stream.try_clone() {
        lock(&shared.connections).insert(number, clone);
    }
    let config = tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let accepted = tungstenite::accept_hdr_with_config(
        stream,
        |request: &HttpRequest, response| check_handshake(shared, request, response),
        Some(config),
    );
    if let Ok(mut socket) = accepted
        && socket.get_ref().set_timeouts(Some(IDLE_LIMIT)).is_ok()
    {
        serve_requests(shared, &mut socket);
    }
    lock(&shared.connections).remove(&number);
}

fn serve_requests(shared: &Shared, socket: &mut WebSocket<Transport>) {
    loop {
        let reply = match socket.read() {
            Ok(Message::Binary(message)) => handle(shared, &message),
            Ok(Message::Text(_)) => {
                refusal("protocol", "text messages are not part of the protocol")
            }
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        if socket.send(Message::Binary(reply.into())).is_err() {
            break;
        }
    }
}

/// Accepts the handshake only for this protocol version and, when the
/// server has one, the right token (compared in constant time, never
/// logged).
fn check_handshake(
    shared: &Shared,
    request: &HttpRequest,
    mut response: HttpResponse,
) -> Result<HttpResponse, ErrorResponse> {
    let refuse = |status: StatusCode, text: String| {
        let mut refusal = ErrorResponse::new(Some(text));
        *refusal.status_mut() = status;
        refusal
    };
    let offered: Vec<&str> = request
        .headers()
        .get_all("Sec-WebSocket-Protocol")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    if !offered.contains(&PROTOCOL) {
        let offered = if offered.is_empty() {
            "none".to_owned()
        } else {
            offered.join(", ")
        };
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            format!(
                "this server speaks {PROTOCOL}; the client offered {offered}: use client and server of the same protocol version"
            ),
        ));
    }
    if let Some(token) = &shared.token {
        let given = request
            .headers()
            .get("Authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or("");
        if !bool::from(given.as_bytes().ct_eq(token)) {
            return Err(refuse(
                StatusCode::UNAUTHORIZED,
                "a valid token is required: set LOGIST_TOKEN to the server's token".to_owned(),
            ));
        }
    }
    response
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(PROTOCOL));
    Ok(response)
}

/// An error reply for a message that is not a request of this protocol.
fn refusal(kind: &str, message: &str) -> Vec<u8> {
    let error = WireError {
        kind: kind.to_owned(),
        message: message.to_owned(),
        ..WireError::default()
    };
    wire::encode(&Reply::Error { error }, &[])
}

/// Runs one request against the runtime and encodes its reply.
fn handle(shared: &Shared, message: &[u8]) -> Vec<u8> {
    let (request, payload) = match wire::decode::<Request>(message) {
        Ok(decoded) => decoded,
        Err(error) => {
            let text = logist_core::error_chain(&error).to_string();
            return refusal("protocol", &format!("malformed request: {text}"));
        }
    };
    match run(shared, request, payload) {
        Ok((reply, payload)) => wire::encode(&reply, &payload),
        Err(error) => wire::encode(
            &Reply::Error {
                error: WireError::from_error(&error),
            },
            &[],
        ),
    }
}

fn bounded(timeout_ms: Option<u64>) -> Duration {
    timeout_ms.map_or(MAX_BLOCK, |ms| Duration::from_millis(ms).min(MAX_BLOCK))
}

fn run(shared: &Shared, request: Request, payload: &[u8]) -> Result<(Reply, Vec<u8>), Error> {
    let runtime = &*shared.runtime;
    let none = |reply| Ok((reply, Vec::new()));
    match request {
        Request::Spawn { key, request } => {
            let slot = lock(&shared.spawn_keys).slot(&key);
            let mut slot = lock(&slot);
            let id = match &*slot {
                Some(id) => id.clone(),
                None => {
                    let id = runtime.spawn(&request.into_request()?)?;
                    *slot = Some(id.clone());
                    id
                }
            };
            none(Reply::Id { id: id.to_string() })
        }
        Request::IsAlive { id } => none(Reply::Bool {
            value: runtime.is_alive(&ProcessId::new(id))?,
        }),
        Request::GetLogs { id, tail } => {
            let logs = runtime.get_logs(&ProcessId::new(id), tail)?;
            Ok((
                Reply::Logs {
                    dropped: logs.dropped(),
                },
                logs.into_bytes(),
            ))
        }
        Request::GetStreamLogs { id, stream, tail } => {
            let logs = runtime.get_stream_logs(&ProcessId::new(id), Stream::from(stream), tail)?;
            Ok((
                Reply::Logs {
                    dropped: logs.dropped(),
                },
                logs.into_bytes(),
            ))
        }
        Request::ReadOutput {
            id,
            from,
            timeout_ms,
        } => {
            let read = runtime.read_output(&ProcessId::new(id), from, Some(bounded(timeout_ms)))?;
            Ok(output_reply(&read))
        }
        Request::Terminate { id, force } => none(Reply::Bool {
            value: runtime.terminate(&ProcessId::new(id), force)?,
        }),
        Request::Wait { id, timeout_ms } => {
            let done = runtime.wait(&ProcessId::new(id), Some(bounded(timeout_ms)))?;
            Ok(completion_reply(&done))
        }
        Request::WriteStdin { id } => {
            runtime.write_stdin(&ProcessId::new(id), payload)?;
            none(Reply::Unit)
        }
        Request::CloseStdin { id } => {
            runtime.close_stdin(&ProcessId::new(id))?;
            none(Reply::Unit)
        }
        Request::Info { id } => none(Reply::Info {
            info: WireInfo::from(&runtime.info(&ProcessId::new(id))?),
        }),
        Request::List { selector } => none(Reply::List {
            infos: runtime
                .list(&selector)?
                .iter()
                .map(WireInfo::from)
                .collect(),
        }),
        Request::Remove { id } => {
            runtime.remove(&ProcessId::new(id))?;
            none(Reply::Unit)
        }
    }
}
