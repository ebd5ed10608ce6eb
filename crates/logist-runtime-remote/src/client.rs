//! [`RemoteRuntime`]: the [`Runtime`] contract, carried out by a server.
//!
//! Every call is one request and one reply on a pooled connection. Reads
//! name their offset, so a read after a dropped connection continues
//! exactly where the last one ended; calls during an outage fail with
//! [`Error::Unavailable`] after the connect or reply deadline, never hang.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::{Message, WebSocket};

use logist_core::{
    Completion, Error, Labels, Logs, OutputRead, ProcessId, ProcessInfo, Runtime, SpawnRequest,
    Stream,
};

use crate::address::{Address, Transport};
use crate::server::{MAX_BLOCK, MAX_MESSAGE};
use crate::wire::{self, PROTOCOL, Reply, Request, WireSpawn, millis};

/// How long `terminate` may take on the server: the grace period plus the
/// tree's teardown.
const TERMINATE_LIMIT: Duration = Duration::from_secs(300);

/// The most stdin bytes sent in one message.
const STDIN_CHUNK: usize = 4 << 20;

const NAME: &str = "remote";

/// A [`Runtime`] whose processes run where a `logist serve` server runs.
///
/// ```no_run
/// use logist_core::{CommandLine, Runtime, SpawnRequest};
/// use logist_runtime_remote::RemoteRuntime;
///
/// let runtime = RemoteRuntime::builder("tcp://127.0.0.1:7700".parse()?)
///     .token(std::env::var("LOGIST_TOKEN")?)
///     .build()?;
/// let id = runtime.spawn(&SpawnRequest::new(CommandLine::new(["uname", "-a"])?))?;
/// println!("{}", runtime.wait(&id, None)?.logs);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RemoteRuntime {
    address: Address,
    token: Option<String>,
    connect_timeout: Duration,
    reply_margin: Duration,
    keep_on_drop: bool,
    tls: Option<Arc<rustls::ClientConfig>>,
    idle: Mutex<Vec<WebSocket<Transport>>>,
    /// What this client spawned, stopped when it is dropped.
    spawned: Mutex<Vec<ProcessId>>,
    next_key: AtomicU64,
}

impl std::fmt::Debug for RemoteRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteRuntime")
            .field("address", &self.address)
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .finish_non_exhaustive()
    }
}

/// Settings for a [`RemoteRuntime`].
#[derive(Clone)]
pub struct RemoteRuntimeBuilder {
    address: Address,
    token: Option<String>,
    connect_timeout: Duration,
    reply_margin: Duration,
    keep_on_drop: bool,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for RemoteRuntimeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteRuntimeBuilder")
            .field("address", &self.address)
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .finish_non_exhaustive()
    }
}

impl RemoteRuntimeBuilder {
    /// The token the server requires (`LOGIST_TOKEN`; needed for TCP).
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The TLS configuration for a `tls://` address (see
    /// [`client_config`](crate::client_config): the authority to trust).
    #[must_use]
    pub fn tls(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// How long to try to connect before a call fails (5 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a reply may take beyond what its request may block on the
    /// server (15 s); past it the call fails with `Error::Unavailable` (a
    /// stopped or unreachable server).
    #[must_use]
    pub fn reply_timeout(mut self, margin: Duration) -> Self {
        self.reply_margin = margin;
        self
    }

    /// Leaves the processes this client started running when it is
    /// dropped (false: dropping stops them, as every runtime does, except
    /// durable ones, which outlive it by request).
    #[must_use]
    pub fn keep_on_drop(mut self, keep: bool) -> Self {
        self.keep_on_drop = keep;
        self
    }

    /// Connects once, so that a wrong address, token or protocol version
    /// is reported here rather than at the first call.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] naming the address, with the reason (no
    /// server there, the token refused, another protocol version).
    pub fn build(self) -> Result<RemoteRuntime, Error> {
        let runtime = RemoteRuntime {
            address: self.address,
            token: self.token,
            connect_timeout: self.connect_timeout,
            reply_margin: self.reply_margin,
            keep_on_drop: self.keep_on_drop,
            tls: self.tls,
            idle: Mutex::new(Vec::new()),
            spawned: Mutex::new(Vec::new()),
            next_key: AtomicU64::new(0),
        };
        let socket = runtime.dial()?;
        lock(&runtime.idle).push(socket);
        Ok(runtime)
    }
}

/// Whether a request may be sent again after its connection failed with
/// no reply: true when doing it twice is the same as doing it once.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    Safe,
    Never,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RemoteRuntime {
    /// Settings for a client of the server at `address`.
    pub fn builder(address: Address) -> RemoteRuntimeBuilder {
        RemoteRuntimeBuilder {
            address,
            token: None,
            connect_timeout: Duration::from_secs(5),
            reply_margin: Duration::from_secs(15),
            keep_on_drop: false,
            tls: None,
        }
    }

    /// The server's address.
    pub fn address(&self) -> &Address {
        &self.address
    }

    fn unavailable(
        &self,
        reason: String,
        fix: &str,
        source: Option<logist_core::BoxError>,
    ) -> Error {
        Error::Unavailable {
            runtime: NAME.to_owned(),
            reason,
            fix: fix.to_owned(),
            source,
        }
    }

    fn lost(&self, source: impl Into<logist_core::BoxError>) -> Error {
        self.unavailable(
            format!("the connection to the server at {} failed", self.address),
            "check that `logist serve` runs there and is reachable",
            Some(source.into()),
        )
    }

    /// A new connection, through the handshake.
    fn dial(&self) -> Result<WebSocket<Transport>, Error> {
        let stream = Transport::connect(&self.address, self.connect_timeout, self.tls.as_ref())
            .map_err(|source| {
                self.unavailable(
                    format!("cannot connect to the server at {}", self.address),
                    "check that `logist serve` runs there and the address is right",
                    Some(Box::new(source)),
                )
            })?;
        stream
            .set_timeouts(Some(self.connect_timeout + self.reply_margin))
            .map_err(|source| self.lost(source))?;
        let mut request = "ws://logist/"
            .into_client_request()
            .expect("a constant URL is a valid request");
        let headers = request.headers_mut();
        headers.insert("Sec-WebSocket-Protocol", HeaderValue::from_static(PROTOCOL));
        if let Some(token) = &self.token {
            let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                self.unavailable(
                    "the token is not valid in a header".to_owned(),
                    "use a token of visible ASCII characters",
                    None,
                )
            })?;
            headers.insert("Authorization", value);
        }
        let config = tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        match tungstenite::client::client_with_config(request, stream, Some(config)) {
            Ok((socket, _)) => Ok(socket),
            Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
                let status = response.status();
                let text = response
                    .body()
                    .as_deref()
                    .map(|body| String::from_utf8_lossy(body).into_owned())
                    .unwrap_or_default();
                let fix = if status.as_u16() == 401 {
                    "set LOGIST_TOKEN (or the client's token) to the server's token"
                } else {
                    "use a client and server of the same protocol version"
                };
                Err(self.unavailable(
                    format!(
                        "the server at {} refused the connection: {status}: {text}",
                        self.address
                    ),
                    fix,
                    None,
                ))
            }
            Err(tungstenite::HandshakeError::Failure(error)) => Err(self.lost(error)),
            Err(tungstenite::HandshakeError::Interrupted(_)) => Err(self.lost(
                std::io::Error::new(std::io::ErrorKind::TimedOut, "the handshake did not finish"),
            )),
        }
    }

    /// An idle connection that is still open, or a new one; and whether it
    /// came from the pool.
    fn checkout(&self) -> Result<(WebSocket<Transport>, bool), Error> {
        loop {
            let pooled = lock(&self.idle).pop();
            match pooled {
                Some(mut socket) => {
                    if !socket.get_mut().is_stale() {
                        return Ok((socket, true));
                    }
                }
                None => return Ok((self.dial()?, false)),
            }
        }
    }

    /// Sends one request and returns the reply's header and payload; a
    /// server error becomes the same [`Error`] the server's runtime gave.
    fn call(
        &self,
        request: &Request,
        payload: &[u8],
        retry: Retry,
        blocks: Duration,
    ) -> Result<(Reply, Vec<u8>), Error> {
        // Shared, not copied, by a retry.
        let message = tungstenite::Bytes::from(wire::encode(request, payload));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (mut socket, pooled) = self.checkout()?;
            let exchanged = socket
                .get_ref()
                .set_timeouts(Some(blocks + self.reply_margin))
                .map_err(tungstenite::Error::Io)
                .and_then(|()| exchange(&mut socket, message.clone()));
            match exchanged {
                Ok(mut reply) => {
                    lock(&self.idle).push(socket);
                    let (header, payload) =
                        wire::decode::<Reply>(&reply).map_err(|error| self.lost(error))?;
                    if let Reply::Error { error } = header {
                        return Err(error.into_error());
                    }
                    // The payload moves to the front of the reply's own
                    // buffer: no second allocation of megabytes of output.
                    let start = reply.len() - payload.len();
                    reply.drain(..start);
                    return Ok((header, reply));
                }
                // A pooled connection the server closed meanwhile: safe
                // requests go again on a fresh one.
                Err(_) if pooled && retry == Retry::Safe && attempt == 1 => continue,
                Err(error) => return Err(self.lost(error)),
            }
        }
    }

    fn unexpected(&self, reply: &Reply) -> Error {
        self.lost(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the server sent an unexpected reply: {reply:?}"),
        ))
    }

    fn bool_call(&self, request: &Request, retry: Retry, blocks: Duration) -> Result<bool, Error> {
        match self.call(request, &[], retry, blocks)? {
            (Reply::Bool { value }, _) => Ok(value),
            (other, _) => Err(self.unexpected(&other)),
        }
    }

    fn unit_call(&self, request: &Request, payload: &[u8], retry: Retry) -> Result<(), Error> {
        match self.call(request, payload, retry, Duration::ZERO)? {
            (Reply::Unit, _) => Ok(()),
            (other, _) => Err(self.unexpected(&other)),
        }
    }

    fn logs_call(&self, request: &Request) -> Result<Logs, Error> {
        match self.call(request, &[], Retry::Safe, Duration::ZERO)? {
            (Reply::Logs { dropped }, payload) => Ok(wire::logs(dropped, payload)),
            (other, _) => Err(self.unexpected(&other)),
        }
    }

    /// A unique key for a spawn, so that a retry starts nothing twice.
    fn spawn_key(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos());
        let count = self.next_key.fetch_add(1, Ordering::Relaxed);
        format!("{}-{now:x}-{count}", std::process::id())
    }
}

/// Sends `message` and reads the reply to it.
fn exchange(
    socket: &mut WebSocket<Transport>,
    message: tungstenite::Bytes,
) -> Result<Vec<u8>, tungstenite::Error> {
    socket.send(Message::Binary(message))?;
    loop {
        match socket.read()? {
            Message::Binary(reply) => return Ok(reply.into()),
            Message::Close(_) => return Err(tungstenite::Error::ConnectionClosed),
            _ => {}
        }
    }
}

fn id(id: &ProcessId) -> String {
    id.to_string()
}

impl Runtime for RemoteRuntime {
    fn name(&self) -> &str {
        NAME
    }

    fn spawn(&self, request: &SpawnRequest) -> Result<ProcessId, Error> {
        request.validate()?;
        let durable = request.durable;
        let request = Request::Spawn {
            key: self.spawn_key(),
            request: WireSpawn::from_request(request, |name| std::env::var(name).ok()),
        };
        match self.call(&request, &[], Retry::Safe, Duration::ZERO)? {
            (Reply::Id { id }, _) => {
                let id = ProcessId::new(id);
                // A durable run outlives this client by request.
                if !durable {
                    lock(&self.spawned).push(id.clone());
                }
                Ok(id)
            }
            (other, _) => Err(self.unexpected(&other)),
        }
    }

    fn is_alive(&self, process: &ProcessId) -> Result<bool, Error> {
        self.bool_call(
            &Request::IsAlive { id: id(process) },
            Retry::Safe,
            Duration::ZERO,
        )
    }

    fn get_logs(&self, process: &ProcessId, tail: Option<usize>) -> Result<Logs, Error> {
        self.logs_call(&Request::GetLogs {
            id: id(process),
            tail,
        })
    }

    fn get_stream_logs(
        &self,
        process: &ProcessId,
        stream: Stream,
        tail: Option<usize>,
    ) -> Result<Logs, Error> {
        self.logs_call(&Request::GetStreamLogs {
            id: id(process),
            stream: stream.into(),
            tail,
        })
    }

    fn read_output(
        &self,
        process: &ProcessId,
        from: u64,
        timeout: Option<Duration>,
    ) -> Result<OutputRead, Error> {
        // The server blocks at most MAX_BLOCK per request; a longer wait is
        // several requests, each from the same offset.
        let deadline = timeout.map(|timeout| Instant::now() + timeout);
        loop {
            let slice = deadline.map_or(MAX_BLOCK, |deadline| {
                deadline
                    .saturating_duration_since(Instant::now())
                    .min(MAX_BLOCK)
            });
            let request = Request::ReadOutput {
                id: id(process),
                from,
                timeout_ms: Some(millis(slice)),
            };
            let (reply, payload) = self.call(&request, &[], Retry::Safe, slice)?;
            let Reply::Output {
                chunks,
                next,
                missed,
                finished,
            } = reply
            else {
                return Err(self.unexpected(&reply));
            };
            let read = wire::output_read(chunks, next, missed, finished, &payload)
                .map_err(|error| self.lost(error))?;
            let expired = deadline.is_some_and(|deadline| Instant::now() >= deadline);
            if !read.chunks.is_empty() || read.finished || read.next != from || expired {
                return Ok(read);
            }
        }
    }

    fn terminate(&self, process: &ProcessId, force: bool) -> Result<bool, Error> {
        let request = Request::Terminate {
            id: id(process),
            force,
        };
        // Not retried: a second terminate would report "already exited".
        self.bool_call(&request, Retry::Never, TERMINATE_LIMIT)
    }

    fn wait(&self, process: &ProcessId, timeout: Option<Duration>) -> Result<Completion, Error> {
        let deadline = timeout.map(|timeout| Instant::now() + timeout);
        loop {
            let slice = deadline.map_or(MAX_BLOCK, |deadline| {
                deadline
                    .saturating_duration_since(Instant::now())
                    .min(MAX_BLOCK)
            });
            let request = Request::Wait {
                id: id(process),
                timeout_ms: Some(millis(slice)),
            };
            match self.call(&request, &[], Retry::Safe, slice) {
                Ok((
                    Reply::Completion {
                        status,
                        dropped,
                        output_leaked,
                        oom_killed,
                    },
                    payload,
                )) => {
                    return Ok(Completion::new(
                        status.into(),
                        wire::logs(dropped, payload),
                        output_leaked,
                    )
                    .with_oom_killed(oom_killed));
                }
                Ok((other, _)) => return Err(self.unexpected(&other)),
                Err(Error::WaitTimeout { .. })
                    if deadline.is_none_or(|deadline| Instant::now() < deadline) => {}
                Err(Error::WaitTimeout { id, .. }) => {
                    return Err(Error::WaitTimeout {
                        id,
                        timeout: timeout.unwrap_or_default(),
                    });
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn write_stdin(&self, process: &ProcessId, data: &[u8]) -> Result<(), Error> {
        for piece in data.chunks(STDIN_CHUNK) {
            self.unit_call(
                &Request::WriteStdin { id: id(process) },
                piece,
                Retry::Never,
            )?;
        }
        Ok(())
    }

    fn close_stdin(&self, process: &ProcessId) -> Result<(), Error> {
        self.unit_call(&Request::CloseStdin { id: id(process) }, &[], Retry::Never)
    }

    fn info(&self, process: &ProcessId) -> Result<ProcessInfo, Error> {
        match self.call(
            &Request::Info { id: id(process) },
            &[],
            Retry::Safe,
            Duration::ZERO,
        )? {
            (Reply::Info { info }, _) => info.into_info(),
            (other, _) => Err(self.unexpected(&other)),
        }
    }

    fn list(&self, selector: &Labels) -> Result<Vec<ProcessInfo>, Error> {
        let request = Request::List {
            selector: selector.clone(),
        };
        match self.call(&request, &[], Retry::Safe, Duration::ZERO)? {
            (Reply::List { infos }, _) => {
                infos.into_iter().map(wire::WireInfo::into_info).collect()
            }
            (other, _) => Err(self.unexpected(&other)),
        }
    }

    fn remove(&self, process: &ProcessId) -> Result<(), Error> {
        self.unit_call(&Request::Remove { id: id(process) }, &[], Retry::Never)?;
        lock(&self.spawned).retain(|spawned| spawned != process);
        Ok(())
    }
}

impl Drop for RemoteRuntime {
    fn drop(&mut self) {
        if self.keep_on_drop {
            return;
        }
        let spawned = std::mem::take(&mut *lock(&self.spawned));
        for process in spawned {
            match self.terminate(&process, true) {
                Ok(_) => {
                    let _ = self.remove(&process);
                }
                // The server is gone: nothing more can be stopped from here.
                Err(Error::Unavailable { .. }) => break,
                Err(_) => {}
            }
        }
    }
}
