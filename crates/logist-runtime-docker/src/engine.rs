//! A small client of the Docker Engine API (which Podman also serves): the
//! dozen calls the runtime makes, over kept-alive connections from a pool,
//! with the API version negotiated once.

use std::io::{self, BufReader, Read};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;

use crate::error::EngineError;
use crate::host::DockerHost;
use crate::http::{self, BodyEnd, CLOSED_BEFORE_ANSWERING, Chunked, Head, encode};
use crate::transport::{self, Breaker, Reader, Writer};

/// The oldest API version used (Docker 20.10, Podman 3 and later).
const MIN_API: (u32, u32) = (1, 41);
/// The newest API version asked for; newer engines serve it too.
const MAX_API: (u32, u32) = (1, 47);
/// How long an ordinary call may wait for the engine's answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// Idle connections kept for reuse.
const POOL_SIZE: usize = 16;

/// A connection: buffered read half and write half.
pub(crate) struct Connection {
    pub(crate) reader: BufReader<Reader>,
    pub(crate) writer: Writer,
}

/// The body of a streaming answer (`logs?follow=1`), read as it arrives,
/// with the write half of its connection kept open (an ssh transport
/// closes when it is dropped).
pub(crate) struct BodyStream {
    body: Box<dyn Read + Send>,
    _writer: Writer,
    /// Breaks the connection from another thread.
    pub(crate) breaker: Option<Breaker>,
}

impl Read for BodyStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.body.read(buf)
    }
}

/// An answer: status, headers and body.
pub(crate) struct Reply {
    pub(crate) head: Head,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (`Null` when empty or not JSON).
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// File facts from `HEAD /containers/{id}/archive`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PathStat {
    /// Go's `os.FileMode` bits: permissions plus type flags.
    pub(crate) mode: u32,
    /// For a symbolic link, its target fully resolved inside the container.
    pub(crate) link_target: Option<String>,
}

impl PathStat {
    const MODE_DIR: u32 = 1 << 31;
    const MODE_SYMLINK: u32 = 1 << 27;
    const MODE_TYPE: u32 = 0xff00_0000 | (1 << 19);

    pub(crate) fn is_dir(&self) -> bool {
        self.mode & Self::MODE_DIR != 0
    }

    pub(crate) fn is_symlink(&self) -> bool {
        self.mode & Self::MODE_SYMLINK != 0
    }

    /// A regular file (no type bits).
    pub(crate) fn is_file(&self) -> bool {
        self.mode & Self::MODE_TYPE == 0
    }

    pub(crate) fn is_executable(&self) -> bool {
        self.mode & 0o111 != 0
    }
}

/// A connection pool to one engine, speaking one API version.
pub(crate) struct Engine {
    host: DockerHost,
    ssh_program: PathBuf,
    /// `/v1.41`-style prefix of every path.
    prefix: String,
    idle: Mutex<Vec<Connection>>,
}

impl Engine {
    /// Connects, asks the engine for its API versions and picks the newest
    /// both sides speak.
    pub(crate) fn connect(host: DockerHost, ssh_program: PathBuf) -> Result<Self, EngineError> {
        let mut engine = Engine {
            host,
            ssh_program,
            prefix: String::new(),
            idle: Mutex::new(Vec::new()),
        };
        let reply = engine.call("GET", "/version", None)?;
        let version = reply.json();
        let server = version["ApiVersion"]
            .as_str()
            .and_then(parse_version)
            .ok_or_else(|| EngineError::Status {
                status: reply.head.status,
                message: "the answer to /version has no ApiVersion".to_owned(),
            })?;
        if server < MIN_API {
            return Err(EngineError::Status {
                status: 400,
                message: format!(
                    "the engine speaks API {}.{}; this runtime needs {}.{} or later (Docker 20.10, Podman 3)",
                    server.0, server.1, MIN_API.0, MIN_API.1
                ),
            });
        }
        let chosen = server.min(MAX_API);
        engine.prefix = format!("/v{}.{}", chosen.0, chosen.1);
        tracing::debug!(host = %engine.host, api = %engine.prefix, "connected to the engine");
        Ok(engine)
    }

    pub(crate) fn host(&self) -> &DockerHost {
        &self.host
    }

    /// The API version in use, like `1.41`.
    pub(crate) fn api_version(&self) -> &str {
        self.prefix.trim_start_matches("/v")
    }

    /// True when the API in use is at least `major.minor`.
    pub(crate) fn api_at_least(&self, major: u32, minor: u32) -> bool {
        parse_version(self.api_version()).is_some_and(|version| version >= (major, minor))
    }

    fn dial(&self) -> Result<Connection, EngineError> {
        let (reader, writer) =
            transport::connect(&self.host, &self.ssh_program).map_err(|source| {
                EngineError::Connect {
                    host: self.host.to_string(),
                    source,
                }
            })?;
        Ok(Connection {
            reader: BufReader::new(reader),
            writer,
        })
    }

    fn io_error(&self, connection: Option<&Connection>, source: io::Error) -> EngineError {
        // An ssh child that failed says why on its stderr.
        let source = match connection.and_then(|c| c.reader.get_ref().ssh_stderr()) {
            Some(stderr) => io::Error::new(source.kind(), format!("{source}; ssh said: {stderr}")),
            None => source,
        };
        EngineError::Io {
            host: self.host.to_string(),
            source,
        }
    }

    /// One call. Non-2xx answers become [`EngineError::Status`] with the
    /// engine's message.
    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, EngineError> {
        self.call_with_timeout(method, path, body, Some(CALL_TIMEOUT))
    }

    /// Like [`call`](Self::call), waiting as long as the engine takes (for
    /// `wait`, which answers when the container exits).
    pub(crate) fn call_unbounded(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, EngineError> {
        self.call_with_timeout(method, path, body, None)
    }

    fn call_with_timeout(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        timeout: Option<Duration>,
    ) -> Result<Reply, EngineError> {
        let target = format!("{}{path}", self.prefix);
        let body = body.map(|value| value.to_string().into_bytes());
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let reused = pooled.is_some();
        let mut connection = match pooled {
            Some(connection) => connection,
            None => self.dial()?,
        };
        let result = exchange(&mut connection, method, &target, body.as_deref(), timeout);
        let (head, body_bytes, end) = match result {
            Ok(answer) => answer,
            // A kept-alive connection the engine closed meanwhile: the
            // request never reached it, so sending it again is safe.
            Err(error) if reused && is_stale(&error) => {
                connection = self.dial()?;
                exchange(&mut connection, method, &target, body.as_deref(), timeout)
                    .map_err(|error| self.io_error(Some(&connection), error))?
            }
            Err(error) => return Err(self.io_error(Some(&connection), error)),
        };
        if end == BodyEnd::Framed && head.keep_alive() {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < POOL_SIZE {
                idle.push(connection);
            }
        }
        let reply = Reply {
            head,
            body: body_bytes,
        };
        if (200..300).contains(&reply.head.status) {
            Ok(reply)
        } else {
            Err(EngineError::Status {
                status: reply.head.status,
                message: error_message(&reply),
            })
        }
    }

    /// Sends `method path` on a connection of its own (with `Upgrade: tcp`
    /// when `upgrade`) and reads the answer's head, with the call timeout.
    fn open(
        &self,
        method: &str,
        path: &str,
        upgrade: bool,
    ) -> Result<(Connection, http::Head), EngineError> {
        let target = format!("{}{path}", self.prefix);
        let mut connection = self.dial()?;
        let head = (|| {
            connection
                .reader
                .get_ref()
                .set_timeout(Some(CALL_TIMEOUT))?;
            http::write_request(&mut connection.writer, method, &target, None, upgrade)?;
            http::read_head(&mut connection.reader)
        })()
        .map_err(|error| self.io_error(Some(&connection), error))?;
        Ok((connection, head))
    }

    /// The engine's refusal, read from the body that follows `head`.
    fn refusal(&self, mut connection: Connection, head: http::Head, method: &str) -> EngineError {
        match http::read_body(&mut connection.reader, &head, method) {
            Ok((body, _)) => {
                let reply = Reply { head, body };
                EngineError::Status {
                    status: reply.head.status,
                    message: error_message(&reply),
                }
            }
            Err(error) => self.io_error(Some(&connection), error),
        }
    }

    /// `POST path` with `Upgrade: tcp`: the connection becomes the raw
    /// stream (attach), returned with anything already buffered.
    pub(crate) fn upgrade(&self, path: &str) -> Result<Connection, EngineError> {
        let (connection, head) = self.open("POST", path, true)?;
        // Old engines answer 200 and stream anyway; current ones 101.
        if head.status == 101 || head.status == 200 {
            connection
                .reader
                .get_ref()
                .set_timeout(None)
                .map_err(|error| self.io_error(None, error))?;
            return Ok(connection);
        }
        Err(self.refusal(connection, head, "POST"))
    }

    /// `GET path` on a connection of its own, whose body is returned to be
    /// read as it arrives (for answers that last, like `logs?follow=1`).
    pub(crate) fn stream(&self, path: &str) -> Result<BodyStream, EngineError> {
        let (connection, head) = self.open("GET", path, false)?;
        if !(200..300).contains(&head.status) {
            return Err(self.refusal(connection, head, "GET"));
        }
        connection
            .reader
            .get_ref()
            .set_timeout(None)
            .map_err(|error| self.io_error(None, error))?;
        let breaker = connection.reader.get_ref().breaker().ok();
        let body: Box<dyn Read + Send> = if head.chunked() {
            Box::new(Chunked::new(connection.reader))
        } else {
            Box::new(connection.reader)
        };
        Ok(BodyStream {
            body,
            _writer: connection.writer,
            breaker,
        })
    }

    /// Facts about `path` in container `container`, `None` when it does
    /// not exist.
    pub(crate) fn stat(
        &self,
        container: &str,
        path: &str,
    ) -> Result<Option<PathStat>, EngineError> {
        let call = format!("/containers/{container}/archive?path={}", encode(path));
        let reply = match self.call("HEAD", &call, None) {
            Ok(reply) => reply,
            Err(error) if error.status() == Some(404) => return Ok(None),
            Err(error) => return Err(error),
        };
        let header = reply
            .head
            .header("x-docker-container-path-stat")
            .unwrap_or_default();
        let json: Value = base64_decode(header)
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or(Value::Null);
        let Some(mode) = json["mode"].as_u64() else {
            return Err(EngineError::Status {
                status: reply.head.status,
                message: format!("no file facts for `{path}` in the engine's answer"),
            });
        };
        Ok(Some(PathStat {
            mode: u32::try_from(mode).unwrap_or(u32::MAX),
            link_target: json["linkTarget"]
                .as_str()
                .filter(|target| !target.is_empty())
                .map(str::to_owned),
        }))
    }
}

/// Sends one request and reads the whole answer.
fn exchange(
    connection: &mut Connection,
    method: &str,
    target: &str,
    body: Option<&[u8]>,
    timeout: Option<Duration>,
) -> io::Result<(Head, Vec<u8>, BodyEnd)> {
    connection.reader.get_ref().set_timeout(timeout)?;
    connection.writer.set_timeout(Some(CALL_TIMEOUT))?;
    http::write_request(&mut connection.writer, method, target, body, false)?;
    let head = http::read_head(&mut connection.reader)?;
    let (body, end) = http::read_body(&mut connection.reader, &head, method)?;
    Ok((head, body, end))
}

/// True for the errors of a kept-alive connection the engine had closed.
fn is_stale(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
    ) || (error.kind() == io::ErrorKind::UnexpectedEof
        && error.to_string() == CLOSED_BEFORE_ANSWERING)
}

/// The engine's `{"message": "..."}`, or the body as text.
fn error_message(reply: &Reply) -> String {
    match reply.json()["message"].as_str() {
        Some(message) => message.to_owned(),
        None => {
            let text = String::from_utf8_lossy(&reply.body).trim().to_owned();
            if text.is_empty() {
                format!("HTTP status {}", reply.head.status)
            } else {
                text
            }
        }
    }
}

/// `1.41` as `(1, 41)`.
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Standard base64 (with or without padding), as the engine encodes the
/// path-stat header.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use base64::alphabet::STANDARD;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const PADDING_OPTIONAL: GeneralPurpose = GeneralPurpose::new(
        &STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    PADDING_OPTIONAL.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_of_a_path_stat_header() {
        let header = "eyJuYW1lIjoic2giLCJzaXplIjoxMiwibW9kZSI6MTM0MjE4MjM5LCJtdGltZSI6IjIwMjYtMTEtMjNUMjI6NTE6MDNaIiwibGlua1RhcmdldCI6Ii9iaW4vYnVzeWJveCJ9";
        let json: Value = serde_json::from_slice(&base64_decode(header).unwrap()).unwrap();
        assert_eq!(json["linkTarget"], "/bin/busybox");
        assert_eq!(json["mode"], 134_218_239);
        assert_eq!(base64_decode("aGk=").unwrap(), b"hi");
        assert_eq!(base64_decode("aGk").unwrap(), b"hi");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert!(base64_decode("a*b").is_none());
    }

    #[test]
    fn file_modes_from_go() {
        let stat = |mode| PathStat {
            mode,
            link_target: None,
        };
        // Values the engine reported for /bin/sh, /bin/busybox, a text file
        // and a directory.
        assert!(stat(134_218_239).is_symlink());
        assert!(!stat(134_218_239).is_file());
        let busybox = stat(493);
        assert!(busybox.is_file() && busybox.is_executable());
        let text = stat(420);
        assert!(text.is_file() && !text.is_executable());
        let dir = stat(2_147_484_141);
        assert!(dir.is_dir() && !dir.is_file());
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(parse_version("1.41"), Some((1, 41)));
        assert!(parse_version("1.9").unwrap() < parse_version("1.41").unwrap());
        assert_eq!(parse_version("1"), None);
    }
}
