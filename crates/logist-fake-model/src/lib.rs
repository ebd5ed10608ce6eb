//! A fake model server for Logist's tests: real agent programs (Claude
//! Code, Codex, Gemini CLI, Qwen Code, Aider, …) talk to it instead of a
//! model provider, on 127.0.0.1, and it answers with a known text.
//!
//! It speaks enough of four wire formats for those programs to complete a
//! turn: the **Anthropic Messages API**, **OpenAI Chat Completions**, the
//! **OpenAI Responses API** and the **Gemini API**, streamed (server-sent
//! events) or not, plus the side endpoints the programs probe (`HEAD /`,
//! model lists, token counting, embeddings). The answer is
//! `LOGIST-FAKE-OK <the user's prompt>` ([`ANSWER_PREFIX`]). Every request
//! is recorded, so a test can check that the prompt arrived unchanged.
//!
//! With [`Script::WriteFile`], the model first asks for a file-writing tool
//! call (in each program's own tool: see [`TOOLS`]) and answers only after
//! it sees the tool's result.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//!
//! use logist_fake_model::FakeModel;
//!
//! let server = FakeModel::start()?;
//! let body = r#"{"model":"m","messages":[{"role":"user","content":"-rf $(x)"}]}"#;
//! let mut stream = TcpStream::connect(server.addr())?;
//! write!(
//!     stream,
//!     "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
//!     body.len()
//! )?;
//! let mut response = String::new();
//! stream.read_to_string(&mut response)?;
//! assert!(response.contains("LOGIST-FAKE-OK -rf $(x)"));
//! assert!(server.requests()[0].contains_string("-rf $(x)"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Why hand-written HTTP
//!
//! The server needs keep-alive, chunked streaming with a flush per event,
//! and nothing else; about 250 lines of `std` do that with full control over
//! when bytes leave. An async stack (hyper, axum) would bring a runtime and
//! dozens of crates into the test build for no gain, and `tiny_http` hides
//! the flushing the event streams depend on.

mod anthropic;
mod conversation;
mod gemini;
mod http;
mod openai;
mod schema;
mod server;

use std::borrow::Cow;
use std::io;
use std::path::PathBuf;

pub use conversation::{ANSWER_PREFIX, TOOLS, ToolShape};
pub use server::FakeModel;

/// What the fake model does when asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Script {
    /// Answer every request with [`ANSWER_PREFIX`] and the user's prompt.
    #[default]
    Answer,
    /// First ask the program to write `content` to the file `path` with its
    /// own file-writing tool; answer as [`Script::Answer`] once the
    /// conversation holds a tool result (or when the program offers no
    /// known tool).
    WriteFile {
        /// The file to create. Absolute, since some programs' tools refuse
        /// relative paths; programs without tools (Aider) get it as written
        /// in the edit block.
        path: PathBuf,
        /// What to write into it.
        content: String,
    },
    /// Refuse every model call (not the side endpoints) with this HTTP
    /// status and message, in each API's error shape: 429 is reported as a
    /// rate limit, 401 as an invalid key, 400 as an oversized prompt.
    Fail {
        /// The HTTP status.
        status: u16,
        /// The error message.
        message: String,
    },
}

/// The token counts the server reported in one answer to a model call,
/// as its usage fields said them (Anthropic `input_tokens`/`output_tokens`,
/// OpenAI `prompt_tokens`/`completion_tokens` or `input_tokens`/
/// `output_tokens`, Gemini `promptTokenCount`/`candidatesTokenCount`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SentUsage {
    /// Input (prompt) tokens.
    pub input_tokens: u64,
    /// Output (completion) tokens, the last count the answer gave.
    pub output_tokens: u64,
}

/// A request the server received, as it arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, `HEAD`, …
    pub method: String,
    /// The request target: path and query, e.g. `/v1/messages?beta=true`.
    pub target: String,
    /// The headers, in order (API keys included: they are fake).
    pub headers: Vec<(String, String)>,
    /// The body, undecoded.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The body as text, invalid UTF-8 replaced.
    pub fn body_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The body parsed as JSON, when it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// True when some string in the JSON body contains `text` exactly, after
    /// JSON unescaping. This is how a test checks that a prompt reached the
    /// model unchanged: quotes, newlines and `$(…)` included.
    pub fn contains_string(&self, text: &str) -> bool {
        fn walk(value: &serde_json::Value, text: &str) -> bool {
            match value {
                serde_json::Value::String(s) => s.contains(text),
                serde_json::Value::Array(items) => items.iter().any(|item| walk(item, text)),
                serde_json::Value::Object(map) => map.values().any(|item| walk(item, text)),
                _ => false,
            }
        }
        self.json().is_some_and(|json| walk(&json, text))
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FakeModelError {
    /// Binding the listening socket failed.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why the operating system refused.
        #[source]
        source: io::Error,
    },
    /// Starting the accept thread failed.
    #[error("cannot start the server thread")]
    Thread {
        /// Why.
        #[source]
        source: io::Error,
    },
}
