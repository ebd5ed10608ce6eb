//! The server: a listening socket on 127.0.0.1, one thread per connection,
//! routing to the wire formats, and the record of every request.

use std::io::{BufReader, BufWriter};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde_json::{Value, json};

use crate::conversation::{Api, decide};
use crate::http::{self, ChunkedResponse, ReadError, Request};
use crate::{FakeModelError, RecordedRequest, Script, SentUsage, anthropic, gemini, openai};

/// A running fake model server. Stops (closing every connection and
/// joining its threads) when dropped.
#[derive(Debug)]
pub struct FakeModel {
    addr: SocketAddr,
    url: String,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    script: Script,
    requests: Mutex<Vec<RecordedRequest>>,
    usage: Mutex<Vec<SentUsage>>,
    connections: Mutex<Vec<(TcpStream, JoinHandle<()>)>>,
    stopping: AtomicBool,
    next_id: AtomicU64,
}

/// Locks a mutex, carrying on after a panic elsewhere: the data (a list of
/// records) stays consistent whatever a panicking thread was doing.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeModel {
    /// Starts a server that answers every request ([`Script::Answer`]) on
    /// 127.0.0.1 and a free port.
    ///
    /// # Errors
    ///
    /// [`FakeModelError`] when the socket or thread cannot be created.
    pub fn start() -> Result<Self, FakeModelError> {
        Self::start_with(Script::Answer)
    }

    /// Starts a server following `script` on 127.0.0.1 and a free port.
    ///
    /// # Errors
    ///
    /// [`FakeModelError`] when the socket or thread cannot be created.
    pub fn start_with(script: Script) -> Result<Self, FakeModelError> {
        Self::start_on("127.0.0.1:0", script)
    }

    /// Starts a server following `script` on `addr` (`127.0.0.1:0` picks a
    /// free port).
    ///
    /// # Errors
    ///
    /// [`FakeModelError`] when the socket or thread cannot be created.
    pub fn start_on(addr: &str, script: Script) -> Result<Self, FakeModelError> {
        let bind_error = |source| FakeModelError::Bind {
            addr: addr.to_owned(),
            source,
        };
        let listener = TcpListener::bind(addr).map_err(bind_error)?;
        let local = listener.local_addr().map_err(bind_error)?;
        let shared = Arc::new(Shared {
            script,
            requests: Mutex::new(Vec::new()),
            usage: Mutex::new(Vec::new()),
            connections: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("fake-model-accept".into())
                .spawn(move || accept_loop(&listener, &shared))
                .map_err(|source| FakeModelError::Thread { source })?
        };
        Ok(Self {
            addr: local,
            url: format!("http://{local}"),
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// The base URL, `http://127.0.0.1:<port>`, without a trailing slash or
    /// path: append `/v1` where a program wants it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// The token counts sent in every answer that reported usage, oldest
    /// first: what a program's own usage report should add up to.
    pub fn usage_sent(&self) -> Vec<SentUsage> {
        lock(&self.shared.usage).clone()
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept with a connection of our own.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let connections = std::mem::take(&mut *lock(&self.shared.connections));
        for (stream, _) in &connections {
            let _ = stream.shutdown(Shutdown::Both);
        }
        for (_, handle) in connections {
            let _ = handle.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let Ok(registered) = stream.try_clone() else {
            continue;
        };
        let worker = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name("fake-model-conn".into())
            .spawn(move || serve_connection(stream, &worker));
        if let Ok(handle) = spawned {
            let mut connections = lock(&shared.connections);
            // Forget connections that are over, so a long run does not pile
            // up handles.
            connections.retain(|(_, handle)| !handle.is_finished());
            connections.push((registered, handle));
        }
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    if let Ok(handle) = stream.try_clone() {
        serve_requests(stream, shared);
        // The server keeps a clone of every stream (to shut it down when
        // dropped), so dropping ours would not close the connection.
        let _ = handle.shutdown(Shutdown::Both);
    }
}

fn serve_requests(stream: TcpStream, shared: &Shared) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = BufWriter::new(stream);
    loop {
        let request = match http::read_request(&mut reader, &mut writer) {
            Ok(Some(request)) => request,
            Ok(None) | Err(ReadError::Io) => return,
            Err(ReadError::Bad(reason)) => {
                let body = error_body(400, &reason);
                let _ =
                    http::write_response(&mut writer, 400, "application/json", &body, false, true);
                return;
            }
        };
        lock(&shared.requests).push(RecordedRequest {
            method: request.method.clone(),
            target: request.target.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        });
        let close = request.wants_close() || shared.stopping.load(Ordering::SeqCst);
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let response = route(&request, &shared.script, id);
        if let Some(usage) = usage_of(&response) {
            lock(&shared.usage).push(usage);
        }
        if write(&mut writer, &request, response, close).is_err() || close {
            return;
        }
    }
}

/// What to send back.
#[derive(Debug)]
pub(crate) enum Response {
    /// A whole body.
    Full {
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// Server-sent events, each sent (and flushed) as one chunk.
    Events(Vec<Vec<u8>>),
}

impl Response {
    pub(crate) fn json(value: Value) -> Self {
        Response::Full {
            status: 200,
            content_type: "application/json",
            body: value.to_string().into_bytes(),
        }
    }

    pub(crate) fn sse(events: Vec<Vec<u8>>) -> Self {
        Response::Events(events)
    }

    fn error(status: u16, message: &str) -> Self {
        Response::Full {
            status,
            content_type: "application/json",
            body: error_body(status, message),
        }
    }
}

/// A model call refused by [`Script::Fail`], in the shape of `api`.
fn refusal(api: Api, status: u16, message: &str) -> Response {
    let (anthropic, openai, google) = match status {
        429 => (
            "rate_limit_error",
            "rate_limit_exceeded",
            "RESOURCE_EXHAUSTED",
        ),
        401 => ("authentication_error", "invalid_api_key", "UNAUTHENTICATED"),
        403 => (
            "permission_error",
            "insufficient_permissions",
            "PERMISSION_DENIED",
        ),
        400 => (
            "invalid_request_error",
            "context_length_exceeded",
            "INVALID_ARGUMENT",
        ),
        _ => ("api_error", "server_error", "INTERNAL"),
    };
    let body = match api {
        Api::Anthropic => {
            json!({"type": "error", "error": {"type": anthropic, "message": message}})
        }
        Api::ChatCompletions | Api::Responses => {
            json!({"error": {"message": message, "type": openai, "code": openai, "param": null}})
        }
        Api::Gemini => json!({"error": {"code": status, "message": message, "status": google}}),
    };
    Response::Full {
        status,
        content_type: "application/json",
        body: body.to_string().into_bytes(),
    }
}

/// An error body that each client family can read: OpenAI's and Gemini's
/// `error.message`, Anthropic's `type: error`.
fn error_body(status: u16, message: &str) -> Vec<u8> {
    json!({"type": "error", "error": {"type": "invalid_request_error", "code": status,
                                       "message": message, "status": "INVALID_ARGUMENT"}})
    .to_string()
    .into_bytes()
}

/// One server-sent event with an `event:` line.
pub(crate) fn sse_event(name: Option<&str>, data: &Value) -> Vec<u8> {
    match name {
        Some(name) => format!("event: {name}\ndata: {data}\n\n").into_bytes(),
        None => sse_data(data),
    }
}

/// One server-sent event with only a `data:` line.
pub(crate) fn sse_data(data: &Value) -> Vec<u8> {
    format!("data: {data}\n\n").into_bytes()
}

/// The usage an answer reports: the input count it gives and the last
/// output count (Anthropic streams say 1 at the start, the total at the
/// end). `None` for answers without usage fields (errors, model lists).
fn usage_of(response: &Response) -> Option<SentUsage> {
    fn find(value: &Value, usage: &mut Option<SentUsage>) {
        let Value::Object(map) = value else {
            if let Value::Array(items) = value {
                items.iter().for_each(|item| find(item, usage));
            }
            return;
        };
        for (key, value) in map {
            let (input, output) = match key.as_str() {
                "usage" => (
                    value
                        .get("input_tokens")
                        .or_else(|| value.get("prompt_tokens")),
                    value
                        .get("output_tokens")
                        .or_else(|| value.get("completion_tokens")),
                ),
                "usageMetadata" => (
                    value.get("promptTokenCount"),
                    value.get("candidatesTokenCount"),
                ),
                _ => {
                    find(value, usage);
                    continue;
                }
            };
            let entry = usage.get_or_insert_with(SentUsage::default);
            if let Some(input) = input.and_then(Value::as_u64) {
                entry.input_tokens = input;
            }
            if let Some(output) = output.and_then(Value::as_u64) {
                entry.output_tokens = output;
            }
        }
    }
    let payloads: Vec<Value> = match response {
        Response::Full {
            status: 200, body, ..
        } => serde_json::from_slice(body).into_iter().collect(),
        Response::Full { .. } => Vec::new(),
        Response::Events(events) => events
            .iter()
            .flat_map(|event| event.split(|&byte| byte == b'\n'))
            .filter_map(|line| line.strip_prefix(b"data: "))
            .filter_map(|data| serde_json::from_slice(data).ok())
            .collect(),
    };
    let mut usage = None;
    payloads
        .iter()
        .for_each(|payload| find(payload, &mut usage));
    usage
}

/// A plausible token count for usage fields: a quarter of the JSON length.
pub(crate) fn token_estimate(value: &Value) -> u64 {
    (value.to_string().len() as u64 / 4).max(1)
}

fn write(
    writer: &mut BufWriter<TcpStream>,
    request: &Request,
    response: Response,
    close: bool,
) -> std::io::Result<()> {
    let head_only = request.method == "HEAD";
    match response {
        Response::Full {
            status,
            content_type,
            body,
        } => http::write_response(writer, status, content_type, &body, head_only, close),
        Response::Events(events) => {
            let mut stream = ChunkedResponse::start(writer, "text/event-stream", close)?;
            for event in events {
                stream.send(&event)?;
            }
            stream.finish()
        }
    }
}

/// The models every list answers with, in a shape both OpenAI clients
/// (`object`, `owned_by`) and Anthropic clients (`type`, `display_name`)
/// accept.
fn model_object(id: &str) -> Value {
    json!({"id": id, "object": "model", "type": "model", "created": 0,
           "created_at": "2025-01-01T00:00:00Z", "owned_by": "logist", "display_name": id})
}

fn route(request: &Request, script: &Script, id: u64) -> Response {
    let path = request.path();
    match request.method.as_str() {
        // A connectivity probe (Claude Code sends `HEAD /` first).
        "HEAD" => {
            return Response::Full {
                status: 200,
                content_type: "text/plain",
                body: Vec::new(),
            };
        }
        "GET" => {
            return if path == "/" {
                Response::json(json!({"status": "ok", "server": "logist-fake-model"}))
            } else if path.ends_with("/models") && path.contains("v1beta") {
                gemini::models()
            } else if path.ends_with("/models") {
                Response::json(json!({
                    "object": "list", "data": [model_object("fake-model")],
                    "has_more": false, "first_id": "fake-model", "last_id": "fake-model",
                }))
            } else if let Some((_, model)) = path.rsplit_once("/models/") {
                Response::json(model_object(model))
            } else {
                Response::error(404, &format!("no route for GET {path}"))
            };
        }
        "POST" => {}
        other => return Response::error(405, &format!("method {other} not supported")),
    }
    let body: Value = match serde_json::from_slice(&request.body) {
        Ok(body) => body,
        Err(error) => {
            let encoding = request.header("content-encoding").unwrap_or("none");
            return Response::error(
                400,
                &format!("body is not JSON (content-encoding {encoding}): {error}"),
            );
        }
    };
    if let Some((_, call)) = path.rsplit_once("/models/") {
        let (model, method) = call.split_once(':').unwrap_or((call, ""));
        if let (Script::Fail { status, message }, "generateContent" | "streamGenerateContent") =
            (script, method)
        {
            return refusal(Api::Gemini, *status, message);
        }
        return match method {
            "generateContent" | "streamGenerateContent" => {
                let conversation = gemini::conversation(&body);
                let turn = decide(script, Api::Gemini, &conversation);
                let stream = method == "streamGenerateContent";
                gemini::respond(&body, model, &turn, stream, id)
            }
            "countTokens" => gemini::count_tokens(&body),
            "embedContent" => gemini::embed(&body, false),
            "batchEmbedContents" => gemini::embed(&body, true),
            _ => Response::error(404, &format!("no route for POST {path}")),
        };
    }
    if let Script::Fail { status, message } = script {
        let api = if path.ends_with("/messages") {
            Some(Api::Anthropic)
        } else if path.ends_with("/chat/completions") {
            Some(Api::ChatCompletions)
        } else if path.ends_with("/responses") {
            Some(Api::Responses)
        } else {
            None
        };
        if let Some(api) = api {
            return refusal(api, *status, message);
        }
    }
    if path.ends_with("/messages/count_tokens") {
        anthropic::count_tokens(&body)
    } else if path.ends_with("/messages") {
        let turn = decide(script, Api::Anthropic, &anthropic::conversation(&body));
        anthropic::respond(&body, &turn, id)
    } else if path.ends_with("/chat/completions") {
        let turn = decide(
            script,
            Api::ChatCompletions,
            &openai::chat_conversation(&body),
        );
        openai::chat(&body, &turn, id)
    } else if path.ends_with("/responses") {
        let turn = decide(
            script,
            Api::Responses,
            &openai::responses_conversation(&body),
        );
        openai::responses(&body, &turn, id)
    } else if path.ends_with("/embeddings") {
        openai::embeddings(&body)
    } else {
        Response::error(404, &format!("no route for POST {path}"))
    }
}
