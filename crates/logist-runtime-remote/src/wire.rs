//! The protocol's messages: one request and one reply per WebSocket binary
//! message, each a JSON header followed by raw bytes (output, logs, stdin
//! data), so bulk bytes are never escaped or base64-encoded.
//!
//! A message is `[header length: u32, big-endian][header: JSON][payload]`.
//! The header's types mirror `logist-core`'s, which have no serde of their
//! own (the core stays free of dependencies); the conversions live here.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use logist_core::{
    CommandLine, CommandProblem, Completion, Environment, Error, ExitStatus, Labels, Logs,
    OutputChunk, OutputRead, ProcessId, ProcessInfo, ProcessState, SpawnRequest, StdinMode, Stream,
    TerminalSize,
};

/// The protocol version this crate speaks, offered and accepted as the
/// WebSocket subprotocol `logist.v1`.
pub const PROTOCOL: &str = "logist.v1";

/// A request from a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Request {
    /// `Runtime::spawn`. `key` makes a retried spawn start nothing twice.
    Spawn {
        key: String,
        request: WireSpawn,
    },
    IsAlive {
        id: String,
    },
    GetLogs {
        id: String,
        tail: Option<usize>,
    },
    GetStreamLogs {
        id: String,
        stream: WireStream,
        tail: Option<usize>,
    },
    ReadOutput {
        id: String,
        from: u64,
        timeout_ms: Option<u64>,
    },
    Terminate {
        id: String,
        force: bool,
    },
    Wait {
        id: String,
        timeout_ms: Option<u64>,
    },
    /// The data is the payload.
    WriteStdin {
        id: String,
    },
    CloseStdin {
        id: String,
    },
    Info {
        id: String,
    },
    List {
        selector: Labels,
    },
    Remove {
        id: String,
    },
}

/// A reply from the server; bytes (output, logs) travel in the payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub(crate) enum Reply {
    Id {
        id: String,
    },
    Bool {
        value: bool,
    },
    Unit,
    Logs {
        dropped: u64,
    },
    Output {
        chunks: Vec<WireChunk>,
        next: u64,
        missed: u64,
        finished: bool,
    },
    Completion {
        status: WireStatus,
        dropped: u64,
        output_leaked: bool,
        oom_killed: bool,
    },
    Info {
        info: WireInfo,
    },
    List {
        infos: Vec<WireInfo>,
    },
    Error {
        error: WireError,
    },
}

/// A [`SpawnRequest`] on the wire. Names the caller passes with
/// [`Environment::pass`] are resolved by the client (they are the caller's
/// variables) and arrive here as values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireSpawn {
    pub(crate) argv: Vec<String>,
    pub(crate) inherit_env: bool,
    pub(crate) set_env: BTreeMap<String, String>,
    pub(crate) unset_env: Vec<String>,
    pub(crate) labels: Labels,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) piped_stdin: bool,
    pub(crate) terminal: Option<(u16, u16)>,
    pub(crate) grace_ms: Option<u64>,
    /// Absent from older clients: attached.
    #[serde(default)]
    pub(crate) durable: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WireStream {
    Stdout,
    Stderr,
}

/// One chunk of a read; its bytes are the next `len` bytes of the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireChunk {
    pub(crate) stream: WireStream,
    pub(crate) offset: u64,
    pub(crate) len: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WireStatus {
    Code(i32),
    Signal(i32),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireInfo {
    pub(crate) id: String,
    pub(crate) pid: Option<u32>,
    pub(crate) argv: Vec<String>,
    pub(crate) labels: Labels,
    /// `None` while running (or lost).
    pub(crate) exited: Option<WireStatus>,
    /// The run's supervisor died without recording its end; absent from
    /// older servers.
    #[serde(default)]
    pub(crate) lost: bool,
    /// Nanoseconds since the Unix epoch.
    pub(crate) started_at_ns: u64,
}

/// A [`logist_core::Error`] on the wire: its variant, the fields a caller
/// acts on, and its causes as text (with the OS error number when the
/// first cause was one), so the client rebuilds the same variant.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireError {
    pub(crate) kind: String,
    pub(crate) message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) fix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) index: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) os_error: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) causes: Vec<String>,
}

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    #[error("the message is shorter than its header length says")]
    Truncated,
    #[error("the message header is not valid JSON of this protocol")]
    Header(#[source] serde_json::Error),
    #[error("the reply's chunks add up to more bytes than it carries")]
    ShortPayload,
}

/// `[len][header][payload]` as one message.
pub(crate) fn encode<T: Serialize>(header: &T, payload: &[u8]) -> Vec<u8> {
    let json = serde_json::to_vec(header).expect("protocol headers always serialize");
    let mut message = Vec::with_capacity(4 + json.len() + payload.len());
    let len = u32::try_from(json.len()).expect("a header is far below 4 GiB");
    message.extend_from_slice(&len.to_be_bytes());
    message.extend_from_slice(&json);
    message.extend_from_slice(payload);
    message
}

/// Splits a message into its header and payload.
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(
    message: &[u8],
) -> Result<(T, &[u8]), FrameError> {
    let (len, rest) = message
        .split_first_chunk::<4>()
        .ok_or(FrameError::Truncated)?;
    let len = u32::from_be_bytes(*len) as usize;
    if rest.len() < len {
        return Err(FrameError::Truncated);
    }
    let (json, payload) = rest.split_at(len);
    let header = serde_json::from_slice(json).map_err(FrameError::Header)?;
    Ok((header, payload))
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl WireSpawn {
    /// The request as the client sends it; passed names are read with
    /// `caller`.
    pub(crate) fn from_request(
        request: &SpawnRequest,
        caller: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let mut set_env = BTreeMap::new();
        for name in request.env.passed() {
            if let Some(value) = caller(name) {
                set_env.insert(name.clone(), value);
            }
        }
        set_env.extend(
            request
                .env
                .vars()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        Self {
            argv: request.command.argv().to_vec(),
            inherit_env: request.env.inherits(),
            set_env,
            unset_env: request.env.unset_names().iter().cloned().collect(),
            labels: request.labels.clone(),
            cwd: request.cwd.clone(),
            piped_stdin: request.stdin == StdinMode::Piped,
            terminal: request.terminal.map(|size| (size.rows, size.cols)),
            grace_ms: request.grace.map(millis),
            durable: request.durable,
        }
    }

    /// The request as the server runs it.
    pub(crate) fn into_request(self) -> Result<SpawnRequest, Error> {
        let mut env = if self.inherit_env {
            Environment::inherit()
        } else {
            Environment::clean()
        };
        for name in self.unset_env {
            env = env.unset(name);
        }
        for (name, value) in self.set_env {
            env = env.set(name, value);
        }
        let mut request = SpawnRequest::new(CommandLine::new(self.argv)?).env(env);
        request.labels = self.labels;
        request.cwd = self.cwd;
        if self.piped_stdin {
            request = request.stdin(StdinMode::Piped);
        }
        if let Some((rows, cols)) = self.terminal {
            request = request.terminal(TerminalSize { rows, cols });
        }
        if let Some(grace) = self.grace_ms {
            request = request.grace(Duration::from_millis(grace));
        }
        Ok(request.durable(self.durable))
    }
}

impl From<Stream> for WireStream {
    fn from(stream: Stream) -> Self {
        match stream {
            Stream::Stdout => WireStream::Stdout,
            Stream::Stderr => WireStream::Stderr,
        }
    }
}

impl From<WireStream> for Stream {
    fn from(stream: WireStream) -> Self {
        match stream {
            WireStream::Stdout => Stream::Stdout,
            WireStream::Stderr => Stream::Stderr,
        }
    }
}

impl From<ExitStatus> for WireStatus {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Code(code) => WireStatus::Code(code),
            ExitStatus::Signal(signal) => WireStatus::Signal(signal),
        }
    }
}

impl From<WireStatus> for ExitStatus {
    fn from(status: WireStatus) -> Self {
        match status {
            WireStatus::Code(code) => ExitStatus::Code(code),
            WireStatus::Signal(signal) => ExitStatus::Signal(signal),
        }
    }
}

impl From<&ProcessInfo> for WireInfo {
    fn from(info: &ProcessInfo) -> Self {
        let started_at_ns = info
            .started_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
            });
        Self {
            id: info.id.to_string(),
            pid: info.pid,
            argv: info.command.argv().to_vec(),
            labels: info.labels.clone(),
            exited: match info.state {
                ProcessState::Running | ProcessState::Lost => None,
                ProcessState::Exited(status) => Some(status.into()),
            },
            lost: info.state == ProcessState::Lost,
            started_at_ns,
        }
    }
}

impl WireInfo {
    pub(crate) fn into_info(self) -> Result<ProcessInfo, Error> {
        Ok(ProcessInfo::new(
            ProcessId::new(self.id),
            self.pid,
            CommandLine::new(self.argv)?,
            self.labels,
            match (self.exited, self.lost) {
                (Some(status), _) => ProcessState::Exited(status.into()),
                (None, true) => ProcessState::Lost,
                (None, false) => ProcessState::Running,
            },
            UNIX_EPOCH + Duration::from_nanos(self.started_at_ns),
        ))
    }
}

/// Output bytes and their chunk headers, for a reply.
pub(crate) fn output_reply(read: &OutputRead) -> (Reply, Vec<u8>) {
    let mut payload = Vec::with_capacity(read.len());
    let chunks = read
        .chunks
        .iter()
        .map(|chunk| {
            payload.extend_from_slice(&chunk.data);
            WireChunk {
                stream: chunk.stream.into(),
                offset: chunk.offset,
                len: chunk.data.len(),
            }
        })
        .collect();
    let reply = Reply::Output {
        chunks,
        next: read.next,
        missed: read.missed,
        finished: read.finished,
    };
    (reply, payload)
}

/// The [`OutputRead`] a reply describes.
pub(crate) fn output_read(
    chunks: Vec<WireChunk>,
    next: u64,
    missed: u64,
    finished: bool,
    payload: &[u8],
) -> Result<OutputRead, FrameError> {
    let mut rest = payload;
    let mut out = Vec::with_capacity(chunks.len());
    for chunk in chunks {
        if rest.len() < chunk.len {
            return Err(FrameError::ShortPayload);
        }
        let (data, tail) = rest.split_at(chunk.len);
        rest = tail;
        out.push(OutputChunk {
            stream: chunk.stream.into(),
            offset: chunk.offset,
            data: data.to_vec(),
        });
    }
    Ok(OutputRead::new(out, next, missed, finished))
}

/// The reply for a [`Completion`]; the logs are the payload.
pub(crate) fn completion_reply(done: &Completion) -> (Reply, Vec<u8>) {
    let reply = Reply::Completion {
        status: done.status.into(),
        dropped: done.logs.dropped(),
        output_leaked: done.output_leaked,
        oom_killed: done.oom_killed,
    };
    (reply, done.logs.bytes().to_vec())
}

pub(crate) fn logs(dropped: u64, payload: Vec<u8>) -> Logs {
    Logs::new(payload, dropped)
}

impl WireError {
    /// The wire form of `error`.
    pub(crate) fn from_error(error: &Error) -> Self {
        let mut wire = WireError {
            message: error.to_string(),
            ..WireError::default()
        };
        let mut cause = std::error::Error::source(error);
        if let Some(io) = cause.and_then(|c| c.downcast_ref::<io::Error>()) {
            wire.os_error = io.raw_os_error();
        }
        while let Some(inner) = cause {
            wire.causes.push(inner.to_string());
            cause = inner.source();
        }
        let kind = match error {
            Error::UnknownProcess { id } => {
                wire.id = Some(id.to_string());
                "unknown_process"
            }
            Error::InvalidCommand { problem } => {
                let (name, index, detail) = match problem {
                    CommandProblem::EmptyArgv => (None, None, "empty_argv"),
                    CommandProblem::EmptyProgram => (None, None, "empty_program"),
                    CommandProblem::NulInArgument { index } => {
                        (None, Some(*index), "nul_in_argument")
                    }
                    CommandProblem::InvalidEnvName { name } => {
                        (Some(name.clone()), None, "invalid_env_name")
                    }
                    CommandProblem::NulInEnvValue { name } => {
                        (Some(name.clone()), None, "nul_in_env_value")
                    }
                    _ => (None, None, "other"),
                };
                wire.name = name;
                wire.index = index;
                wire.detail = Some(detail.to_owned());
                "invalid_command"
            }
            Error::ProgramNotFound { program } => {
                wire.name = Some(program.clone());
                "program_not_found"
            }
            Error::NotExecutable { program, .. } => {
                wire.name = Some(program.clone());
                "not_executable"
            }
            Error::WorkingDirectory { path, .. } => {
                wire.name = Some(path.to_string_lossy().into_owned());
                "working_directory"
            }
            Error::Spawn { program, .. } => {
                wire.name = Some(program.clone());
                "spawn"
            }
            Error::WaitTimeout { id, timeout } => {
                wire.id = Some(id.to_string());
                wire.timeout_ms = Some(millis(*timeout));
                "wait_timeout"
            }
            Error::StillRunning { id } => {
                wire.id = Some(id.to_string());
                "still_running"
            }
            Error::StdinClosed { id } => {
                wire.id = Some(id.to_string());
                "stdin_closed"
            }
            Error::Lost { id, reason } => {
                wire.id = Some(id.to_string());
                wire.detail = Some(reason.clone());
                "lost"
            }
            Error::Unsupported { runtime, feature } => {
                wire.name = Some(runtime.clone());
                wire.detail = Some(feature.clone());
                "unsupported"
            }
            Error::Unavailable {
                runtime,
                reason,
                fix,
                ..
            } => {
                wire.name = Some(runtime.clone());
                wire.detail = Some(reason.clone());
                wire.fix = Some(fix.clone());
                "unavailable"
            }
            Error::Backend {
                runtime, context, ..
            } => {
                wire.name = Some(runtime.clone());
                wire.detail = Some(context.clone());
                "backend"
            }
            Error::Io { context, .. } => {
                wire.detail = Some(context.clone());
                "io"
            }
            _ => "other",
        };
        wire.kind = kind.to_owned();
        wire
    }

    /// The error the server reported, rebuilt as the same variant where it
    /// is one this crate knows; anything else is an [`Error::Backend`]
    /// carrying the server's message.
    pub(crate) fn into_error(self) -> Error {
        let id = || ProcessId::new(self.id.clone().unwrap_or_default());
        let name = || self.name.clone().unwrap_or_default();
        let detail = || self.detail.clone().unwrap_or_default();
        match self.kind.as_str() {
            "unknown_process" => Error::UnknownProcess { id: id() },
            "invalid_command" => {
                let problem = match self.detail.as_deref() {
                    Some("empty_argv") => CommandProblem::EmptyArgv,
                    Some("empty_program") => CommandProblem::EmptyProgram,
                    Some("nul_in_argument") => CommandProblem::NulInArgument {
                        index: self.index.unwrap_or_default(),
                    },
                    Some("invalid_env_name") => CommandProblem::InvalidEnvName { name: name() },
                    Some("nul_in_env_value") => CommandProblem::NulInEnvValue { name: name() },
                    _ => return self.backend(),
                };
                Error::InvalidCommand { problem }
            }
            "program_not_found" => Error::ProgramNotFound { program: name() },
            "not_executable" => Error::NotExecutable {
                program: name(),
                source: self.io_cause(),
            },
            "working_directory" => Error::WorkingDirectory {
                path: PathBuf::from(name()),
                source: self.io_cause(),
            },
            "spawn" => Error::Spawn {
                program: name(),
                source: self.io_cause(),
            },
            "wait_timeout" => Error::WaitTimeout {
                id: id(),
                timeout: Duration::from_millis(self.timeout_ms.unwrap_or_default()),
            },
            "still_running" => Error::StillRunning { id: id() },
            "stdin_closed" => Error::StdinClosed { id: id() },
            "lost" => Error::Lost {
                id: id(),
                reason: detail(),
            },
            "unsupported" => Error::Unsupported {
                runtime: name(),
                feature: detail(),
            },
            "unavailable" => Error::Unavailable {
                runtime: name(),
                reason: detail(),
                fix: self.fix.clone().unwrap_or_default(),
                source: self.cause_chain().map(|cause| Box::new(cause) as _),
            },
            "io" => Error::Io {
                context: detail(),
                source: self.io_cause(),
            },
            _ => self.backend(),
        }
    }

    fn backend(&self) -> Error {
        Error::backend(
            "remote",
            "serving the request",
            RemoteCause::new(&self.message, &self.causes),
        )
    }

    /// The first cause as an `io::Error` (with its OS error number when the
    /// server had one), keeping the deeper causes as its source.
    fn io_cause(&self) -> io::Error {
        let chain = self.cause_chain();
        match (self.os_error, chain) {
            (Some(code), _) => io::Error::from_raw_os_error(code),
            (None, Some(chain)) => io::Error::other(chain),
            (None, None) => io::Error::other("no cause was reported"),
        }
    }

    fn cause_chain(&self) -> Option<RemoteCause> {
        let (first, rest) = self.causes.split_first()?;
        Some(RemoteCause::new(first, rest))
    }
}

/// An error message the server reported, with its own causes.
#[derive(Debug, Clone)]
pub(crate) struct RemoteCause {
    message: String,
    source: Option<Box<RemoteCause>>,
}

impl RemoteCause {
    fn new(message: &str, causes: &[String]) -> Self {
        Self {
            message: message.to_owned(),
            source: causes
                .split_first()
                .map(|(first, rest)| Box::new(RemoteCause::new(first, rest))),
        }
    }
}

impl std::fmt::Display for RemoteCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RemoteCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|cause| cause as _)
    }
}

/// Nanoseconds since the epoch, for ordering in tests.
#[cfg(test)]
fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_round_trips_header_and_payload() {
        let request = Request::WriteStdin {
            id: "host-1".into(),
        };
        let message = encode(&request, b"\x00\xffbytes");
        let (back, payload): (Request, _) = decode(&message).unwrap();
        assert_eq!(back, request);
        assert_eq!(payload, b"\x00\xffbytes");
    }

    #[test]
    fn malformed_messages_are_errors_not_panics() {
        assert!(matches!(decode::<Request>(b""), Err(FrameError::Truncated)));
        assert!(matches!(
            decode::<Request>(b"\0\0\0\x09{}"),
            Err(FrameError::Truncated)
        ));
        assert!(matches!(
            decode::<Request>(b"\0\0\0\x02{}"),
            Err(FrameError::Header(_))
        ));
        let unknown = encode(&serde_json::json!({"op": "format_disk"}), b"");
        assert!(matches!(
            decode::<Request>(&unknown),
            Err(FrameError::Header(_))
        ));
        let short = output_read(
            vec![WireChunk {
                stream: WireStream::Stdout,
                offset: 0,
                len: 10,
            }],
            10,
            0,
            false,
            b"short",
        );
        assert!(matches!(short, Err(FrameError::ShortPayload)));
    }

    #[test]
    fn errors_keep_their_variant_fields_and_causes() {
        let errors = [
            Error::unknown(&ProcessId::new("host-9")),
            Error::ProgramNotFound {
                program: "claude".into(),
            },
            Error::WorkingDirectory {
                path: "/etc/passwd".into(),
                source: io::Error::from_raw_os_error(20),
            },
            Error::WaitTimeout {
                id: ProcessId::new("host-9"),
                timeout: Duration::from_millis(250),
            },
            Error::InvalidCommand {
                problem: CommandProblem::InvalidEnvName { name: "A=B".into() },
            },
            Error::unsupported("host", "pseudo-terminals"),
            Error::StdinClosed {
                id: ProcessId::new("host-9"),
            },
            Error::Lost {
                id: ProcessId::new("host-9"),
                reason: "its monitor died".into(),
            },
        ];
        for error in errors {
            let back = WireError::from_error(&error).into_error();
            assert_eq!(
                logist_core::error_chain(&back).to_string(),
                logist_core::error_chain(&error).to_string()
            );
            assert_eq!(
                std::mem::discriminant(&back),
                std::mem::discriminant(&error)
            );
        }
    }

    #[test]
    fn a_spawn_request_round_trips_with_passed_variables_resolved() {
        let request = SpawnRequest::new(CommandLine::new(["sh", "-c", "echo $A $B"]).unwrap())
            .env(Environment::clean().set("A", "1").pass("B").unset("C"))
            .label("job", "7")
            .cwd("/tmp")
            .stdin(StdinMode::Piped)
            .terminal(TerminalSize {
                rows: 30,
                cols: 100,
            })
            .grace(Duration::from_millis(700));
        let wire =
            WireSpawn::from_request(&request, |name| (name == "B").then(|| "two".to_owned()));
        let back = wire.into_request().unwrap();
        let expected = request.clone().env(
            Environment::clean()
                .set("A", "1")
                .set("B", "two")
                .unset("C"),
        );
        assert_eq!(back, expected);
    }

    #[test]
    fn process_info_round_trips() {
        let info = ProcessInfo::new(
            ProcessId::new("host-1"),
            Some(42),
            CommandLine::new(["true"]).unwrap(),
            Labels::from([("a".to_owned(), "b".to_owned())]),
            ProcessState::Exited(ExitStatus::Signal(9)),
            UNIX_EPOCH + Duration::from_nanos(now_ns()),
        );
        assert_eq!(WireInfo::from(&info).into_info().unwrap(), info);
    }
}
