//! The mock agent's ACP mode: `logist-mock-agent --acp [OPTIONS]` speaks
//! the Agent Client Protocol (JSON-RPC 2.0, one message per line) on stdin
//! and stdout, with scripted behaviours chosen per turn by the prompt's
//! first word, so one process can play many scenarios in a row.
//!
//! | prompt | what the turn does | stop reason |
//! |---|---|---|
//! | anything else | streams [`ACP_REPLY_PREFIX`] + the prompt in three chunks, then [`ACP_MEMORY_PREFIX`] + the session's earlier prompts joined by ` \| ` when there are any | `end_turn` |
//! | `write PATH TEXT` | a `tool_call` (kind `edit`), a permission request (allow once, allow always, reject); when allowed writes TEXT to PATH (relative to the session's cwd) and completes the call, else fails it | `end_turn` (`cancelled` when the permission was answered `cancelled`) |
//! | `fail` | a `tool_call` (kind `execute`) whose update is `failed` | `end_turn` |
//! | `wait` | one chunk, then waits for `session/cancel` | `cancelled` |
//! | `silent` | nothing; never answers, ignores `session/cancel` | — |
//! | `big N` | one message chunk whose text is N bytes (`K`/`M` suffixes) | `end_turn` |
//! | `noise` | non-JSON lines on stdout between two chunks | `end_turn` |
//! | `crash` | one chunk, half a message without newline, exit 3 | — |
//! | `flood N` | N message chunks as fast as it can write | `end_turn` |
//! | `stamp N MS` | N chunks, each with `_meta.sentNanos` (Unix time of the write, ns), MS ms apart | `end_turn` |
//! | `ask` | calls the client's `fs/read_text_file`; replies with the error code it got | `end_turn` |
//! | `garbage` | a response to a request never sent (twice), a truncated line, invalid UTF-8, an array | `end_turn` |
//!
//! Options: `--auth` requires `authenticate` with method [`ACP_AUTH_METHOD`]
//! before `session/new` (else error `-32000`); `--state DIR` keeps each
//! session's prompts in `DIR/<session id>`, so `session/load` (which
//! replays them) and `session/resume` work from a new process. Both
//! capabilities are advertised. Each session answer lists two modes,
//! [`ACP_MODE_ASK`] (the default: `write` asks permission) and
//! [`ACP_MODE_AUTO`] (`write` writes without asking); `session/set_mode`
//! switches between them and refuses any other id with "invalid params".
//! Unknown methods get "method not found".

use std::ffi::OsString;
use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// The start of the reply to an ordinary prompt.
pub const ACP_REPLY_PREFIX: &str = "You said: ";

/// The start of the chunk listing the session's earlier prompts.
pub const ACP_MEMORY_PREFIX: &str = "Earlier you said: ";

/// The authentication method `--auth` requires.
pub const ACP_AUTH_METHOD: &str = "mock-login";

/// The session mode in which `write` asks permission (the default).
pub const ACP_MODE_ASK: &str = "ask";

/// The session mode in which `write` writes without asking.
pub const ACP_MODE_AUTO: &str = "auto";

/// What `noise` writes on stdout (a line that is not JSON).
pub const ACP_NOISE: &str = "mock: this line is not JSON";

/// The protocol state of one mock process.
struct Agent {
    auth_required: bool,
    authenticated: bool,
    state_dir: Option<PathBuf>,
    sessions: Vec<Session>,
    next_session: u32,
    input: io::StdinLock<'static>,
}

struct Session {
    id: String,
    cwd: PathBuf,
    prompts: Vec<String>,
    /// True in [`ACP_MODE_AUTO`].
    auto: bool,
}

/// The `modes` of a session answer.
fn modes(auto: bool) -> Value {
    json!({
        "currentModeId": if auto { ACP_MODE_AUTO } else { ACP_MODE_ASK },
        "availableModes": [
            {"id": ACP_MODE_ASK, "name": "Ask", "description": "Ask before every edit"},
            {"id": ACP_MODE_AUTO, "name": "Auto", "description": "Edit without asking"},
        ],
    })
}

/// Why a turn stops early.
enum Abort {
    /// Stdin ended or stdout broke: exit quietly.
    Gone,
    /// Exit the process with this code now.
    Exit(i32),
}

/// Runs ACP mode with `args` (after `--acp`) and returns the exit code.
pub fn run(args: &[OsString]) -> i32 {
    let mut auth_required = false;
    let mut state_dir = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--auth") => auth_required = true,
            Some("--state") => match args.next() {
                Some(dir) => state_dir = Some(PathBuf::from(dir)),
                None => return usage("--state needs a directory"),
            },
            _ => return usage(&format!("unknown ACP option {arg:?}")),
        }
    }
    let mut agent = Agent {
        auth_required,
        authenticated: false,
        state_dir,
        sessions: Vec::new(),
        next_session: 0,
        input: io::stdin().lock(),
    };
    loop {
        let Some(message) = agent.read() else {
            return 0;
        };
        match agent.handle(&message) {
            Ok(()) => {}
            Err(Abort::Gone) => return 0,
            Err(Abort::Exit(code)) => return code,
        }
    }
}

fn usage(problem: &str) -> i32 {
    let _ = writeln!(io::stderr(), "logist-mock-agent: {problem}");
    2
}

fn send(value: &Value) -> Result<(), Abort> {
    let mut line = serde_json::to_vec(value).map_err(|_| Abort::Gone)?;
    line.push(b'\n');
    raw(&line)
}

fn raw(bytes: &[u8]) -> Result<(), Abort> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|_| Abort::Gone)
}

fn respond(id: &Value, result: Value) -> Result<(), Abort> {
    send(&json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

fn fail(id: &Value, code: i64, message: &str) -> Result<(), Abort> {
    send(&json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}))
}

fn update(session: &str, update: Value) -> Result<(), Abort> {
    send(&json!({
        "jsonrpc": "2.0",
        "method": "session/update",
        "params": {"sessionId": session, "update": update},
    }))
}

fn chunk(session: &str, kind: &str, text: &str) -> Result<(), Abort> {
    update(
        session,
        json!({"sessionUpdate": kind, "content": {"type": "text", "text": text}}),
    )
}

impl Agent {
    /// The next JSON message on stdin; lines that are not JSON are skipped.
    fn read(&mut self) -> Option<Value> {
        loop {
            let mut line = Vec::new();
            match self.input.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
            if let Ok(value) = serde_json::from_slice(&line) {
                return Some(value);
            }
        }
    }

    fn handle(&mut self, message: &Value) -> Result<(), Abort> {
        let Some(method) = message.get("method").and_then(Value::as_str) else {
            return Ok(()); // A stray response: nothing was asked.
        };
        let params = message.get("params").cloned().unwrap_or(Value::Null);
        let Some(id) = message.get("id") else {
            return Ok(()); // Notifications outside a turn (a late cancel).
        };
        match method {
            "initialize" => respond(
                id,
                json!({
                    "protocolVersion": 1,
                    "agentCapabilities": {
                        "loadSession": true,
                        "sessionCapabilities": {"resume": {}},
                        "promptCapabilities": {},
                    },
                    "authMethods": if self.auth_required {
                        json!([{"id": ACP_AUTH_METHOD, "name": "Mock login"}])
                    } else {
                        json!([])
                    },
                    "agentInfo": {"name": "logist-mock-agent", "version": env!("CARGO_PKG_VERSION")},
                }),
            ),
            "authenticate" => {
                if params.get("methodId").and_then(Value::as_str) == Some(ACP_AUTH_METHOD) {
                    self.authenticated = true;
                    respond(id, json!({}))
                } else {
                    fail(id, -32602, "unknown authentication method")
                }
            }
            "session/new" => {
                if self.auth_required && !self.authenticated {
                    return fail(id, -32000, "Authentication required");
                }
                self.next_session += 1;
                let session = Session {
                    id: format!("mock-{}-{}", std::process::id(), self.next_session),
                    cwd: cwd_of(&params),
                    prompts: Vec::new(),
                    auto: false,
                };
                let session_id = session.id.clone();
                self.sessions.push(session);
                respond(id, json!({"sessionId": session_id, "modes": modes(false)}))
            }
            "session/set_mode" => {
                let session_id = params.get("sessionId").and_then(Value::as_str);
                let Some(session) = self
                    .sessions
                    .iter_mut()
                    .find(|s| Some(s.id.as_str()) == session_id)
                else {
                    return fail(id, -32002, "unknown session");
                };
                let auto = match params.get("modeId").and_then(Value::as_str) {
                    Some(ACP_MODE_ASK) => false,
                    Some(ACP_MODE_AUTO) => true,
                    _ => return fail(id, -32602, "unknown mode"),
                };
                session.auto = auto;
                let session_id = session.id.clone();
                update(
                    &session_id,
                    json!({"sessionUpdate": "current_mode_update", "currentModeId": if auto { ACP_MODE_AUTO } else { ACP_MODE_ASK }}),
                )?;
                respond(id, json!({}))
            }
            "session/load" | "session/resume" => self.reopen(id, method, &params),
            "session/prompt" => self.prompt(id, &params),
            _ => fail(id, -32601, &format!("method not found: {method}")),
        }
    }

    fn reopen(&mut self, id: &Value, method: &str, params: &Value) -> Result<(), Abort> {
        let session_id = params
            .get("sessionId")
            .and_then(Value::as_str)
            .unwrap_or("");
        let known = self.sessions.iter().position(|s| s.id == session_id);
        let prompts = match known {
            Some(index) => self.sessions[index].prompts.clone(),
            None => match self.load_state(session_id) {
                Some(prompts) => prompts,
                None => return fail(id, -32002, &format!("unknown session {session_id}")),
            },
        };
        if method == "session/load" {
            for prompt in &prompts {
                chunk(session_id, "user_message_chunk", prompt)?;
                chunk(
                    session_id,
                    "agent_message_chunk",
                    &format!("{ACP_REPLY_PREFIX}{prompt}"),
                )?;
            }
        }
        let auto = known.is_some_and(|index| self.sessions[index].auto);
        if known.is_none() {
            self.sessions.push(Session {
                id: session_id.to_owned(),
                cwd: cwd_of(params),
                prompts,
                auto: false,
            });
        }
        respond(id, json!({"modes": modes(auto)}))
    }

    fn state_file(&self, session_id: &str) -> Option<PathBuf> {
        let safe = !session_id.is_empty()
            && session_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        Some(self.state_dir.as_ref()?.join(session_id)).filter(|_| safe)
    }

    fn load_state(&self, session_id: &str) -> Option<Vec<String>> {
        let text = std::fs::read_to_string(self.state_file(session_id)?).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn save_state(&self, index: usize) {
        let session = &self.sessions[index];
        if let Some(file) = self.state_file(&session.id) {
            let _ = std::fs::write(file, json!(session.prompts).to_string());
        }
    }

    fn prompt(&mut self, id: &Value, params: &Value) -> Result<(), Abort> {
        let session_id = params
            .get("sessionId")
            .and_then(Value::as_str)
            .unwrap_or("");
        let Some(index) = self.sessions.iter().position(|s| s.id == session_id) else {
            return fail(id, -32002, &format!("unknown session {session_id}"));
        };
        let text: String = params
            .get("prompt")
            .and_then(Value::as_array)
            .map(|blocks| {
                blocks
                    .iter()
                    .filter_map(|b| b.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        let session_id = session_id.to_owned();
        let stop = self.turn(index, &session_id, &text)?;
        self.sessions[index].prompts.push(text);
        self.save_state(index);
        match stop {
            Some(stop) => respond(id, json!({"stopReason": stop})),
            None => Ok(()),
        }
    }

    /// Plays one turn; the stop reason, or `None` to never answer.
    fn turn(
        &mut self,
        index: usize,
        session: &str,
        text: &str,
    ) -> Result<Option<&'static str>, Abort> {
        let mut words = text.split_whitespace();
        let first = words.next().unwrap_or("");
        match first {
            "write" => {
                let path = words.next().unwrap_or("out.txt").to_owned();
                let body = text
                    .splitn(3, char::is_whitespace)
                    .nth(2)
                    .unwrap_or("")
                    .to_owned();
                if self.write_tool(index, session, &path, &body)? {
                    return Ok(Some("cancelled"));
                }
            }
            "fail" => {
                update(
                    session,
                    json!({"sessionUpdate": "tool_call", "toolCallId": "call-fail", "title": "Run `false`", "kind": "execute", "status": "in_progress", "rawInput": {"command": "false"}}),
                )?;
                update(
                    session,
                    json!({"sessionUpdate": "tool_call_update", "toolCallId": "call-fail", "status": "failed", "content": [{"type": "content", "content": {"type": "text", "text": "command exited with 1"}}]}),
                )?;
                chunk(session, "agent_message_chunk", "The command failed.")?;
            }
            "wait" => {
                chunk(session, "agent_message_chunk", "Working until cancelled...")?;
                self.until_cancel(session)?;
                return Ok(Some("cancelled"));
            }
            "silent" => {
                while self.read().is_some() {}
                return Err(Abort::Gone);
            }
            "big" => {
                let size = words.next().and_then(parse_size).unwrap_or(1 << 20);
                chunk(session, "agent_message_chunk", &"x".repeat(size))?;
            }
            "noise" => {
                chunk(session, "agent_message_chunk", "before noise")?;
                raw(format!("{ACP_NOISE}\n\n").as_bytes())?;
                chunk(session, "agent_message_chunk", "after noise")?;
            }
            "crash" => {
                chunk(session, "agent_message_chunk", "about to crash")?;
                raw(br#"{"jsonrpc":"2.0","method":"session/upd"#)?;
                return Err(Abort::Exit(3));
            }
            "flood" => {
                let count = words.next().and_then(|w| w.parse().ok()).unwrap_or(1000);
                for n in 0..count {
                    chunk(session, "agent_message_chunk", &format!("{n} "))?;
                }
            }
            "stamp" => {
                let count: u32 = words.next().and_then(|w| w.parse().ok()).unwrap_or(100);
                let pause = words.next().and_then(|w| w.parse().ok()).unwrap_or(1);
                for n in 0..count {
                    let nanos = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_nanos());
                    update(
                        session,
                        json!({"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": format!("{n} ")}, "_meta": {"sentNanos": nanos.to_string()}}),
                    )?;
                    std::thread::sleep(Duration::from_millis(pause));
                }
            }
            "ask" => {
                send(
                    &json!({"jsonrpc": "2.0", "id": "mock-ask", "method": "fs/read_text_file", "params": {"sessionId": session, "path": "/etc/hostname"}}),
                )?;
                let code = loop {
                    let Some(message) = self.read() else {
                        return Err(Abort::Gone);
                    };
                    if message.get("id") == Some(&json!("mock-ask"))
                        && message.get("method").is_none()
                    {
                        break message.pointer("/error/code").and_then(Value::as_i64);
                    }
                };
                let code = code.map_or_else(|| "none".to_owned(), |c| c.to_string());
                chunk(
                    session,
                    "agent_message_chunk",
                    &format!("client answered {code}"),
                )?;
            }
            "garbage" => {
                raw(b"{\"jsonrpc\":\"2.0\",\"id\":999,\"result\":{}}\n")?;
                raw(b"{\"jsonrpc\":\"2.0\",\"id\":999,\"result\":{}}\n")?;
                raw(b"{\"jsonrpc\":\"2.0\",\"method\":\"session/update\",\"params\":{\"sess\n")?;
                raw(b"\xff\xfe not utf-8 \xc3\x28\n")?;
                raw(b"[1,2,3]\n")?;
                chunk(session, "agent_message_chunk", "after garbage")?;
            }
            _ => {
                let reply = format!("{ACP_REPLY_PREFIX}{text}");
                let third = reply.len() / 3;
                let cut = |at: usize| {
                    (at..=reply.len())
                        .find(|&i| reply.is_char_boundary(i))
                        .unwrap_or(reply.len())
                };
                let (a, b) = (cut(third), cut(2 * third));
                for part in [&reply[..a], &reply[a..b], &reply[b..]] {
                    chunk(session, "agent_message_chunk", part)?;
                }
                let earlier = &self.sessions[index].prompts;
                if !earlier.is_empty() {
                    chunk(
                        session,
                        "agent_message_chunk",
                        &format!("\n{ACP_MEMORY_PREFIX}{}", earlier.join(" | ")),
                    )?;
                }
            }
        }
        Ok(Some("end_turn"))
    }

    fn write_tool(
        &mut self,
        index: usize,
        session: &str,
        path: &str,
        body: &str,
    ) -> Result<bool, Abort> {
        let call = "call-write";
        update(
            session,
            json!({"sessionUpdate": "tool_call", "toolCallId": call, "title": format!("Write {path}"), "kind": "edit", "status": "pending", "rawInput": {"path": path, "content": body}}),
        )?;
        let outcome = if self.sessions[index].auto {
            json!({"outcome": "selected", "optionId": "allow"})
        } else {
            self.ask_permission(session, call, path)?
        };
        let allowed = outcome.get("outcome") == Some(&json!("selected"))
            && matches!(
                outcome.get("optionId").and_then(Value::as_str),
                Some("allow" | "always")
            );
        let target = self.sessions[index].cwd.join(path);
        let written = allowed && std::fs::write(&target, body).is_ok();
        let (status, text) = match (allowed, written) {
            (true, true) => ("completed", format!("wrote {}", target.display())),
            (true, false) => ("failed", format!("could not write {}", target.display())),
            (false, _) => ("failed", "permission denied".to_owned()),
        };
        update(
            session,
            json!({"sessionUpdate": "tool_call_update", "toolCallId": call, "status": status, "content": [{"type": "content", "content": {"type": "text", "text": text}}]}),
        )?;
        // A permission answered `cancelled` ends the turn as cancelled.
        if outcome.get("outcome") == Some(&json!("cancelled")) {
            return Ok(true);
        }
        chunk(session, "agent_message_chunk", &text)?;
        Ok(false)
    }

    /// Asks the client's permission for the write; returns the outcome.
    fn ask_permission(&mut self, session: &str, call: &str, path: &str) -> Result<Value, Abort> {
        send(&json!({
            "jsonrpc": "2.0", "id": "mock-permission", "method": "session/request_permission",
            "params": {
                "sessionId": session,
                "toolCall": {"toolCallId": call, "title": format!("Write {path}"), "kind": "edit", "rawInput": {"path": path}},
                "options": [
                    {"optionId": "allow", "name": "Allow", "kind": "allow_once"},
                    {"optionId": "always", "name": "Always allow", "kind": "allow_always"},
                    {"optionId": "reject", "name": "Reject", "kind": "reject_once"},
                ],
            },
        }))?;
        let outcome = loop {
            let Some(message) = self.read() else {
                return Err(Abort::Gone);
            };
            if message.get("id") == Some(&json!("mock-permission"))
                && message.get("method").is_none()
            {
                break message
                    .pointer("/result/outcome")
                    .cloned()
                    .unwrap_or(Value::Null);
            }
        };
        Ok(outcome)
    }

    /// Reads until `session/cancel` for `session`, answering other requests
    /// with "method not found".
    fn until_cancel(&mut self, session: &str) -> Result<(), Abort> {
        loop {
            let Some(message) = self.read() else {
                return Err(Abort::Gone);
            };
            let method = message.get("method").and_then(Value::as_str);
            if method == Some("session/cancel")
                && message.pointer("/params/sessionId").and_then(Value::as_str) == Some(session)
            {
                return Ok(());
            }
            if let (Some(method), Some(id)) = (method, message.get("id")) {
                fail(id, -32601, &format!("method not found: {method}"))?;
            }
        }
    }
}

fn cwd_of(params: &Value) -> PathBuf {
    params
        .get("cwd")
        .and_then(Value::as_str)
        .map_or_else(|| PathBuf::from("."), PathBuf::from)
}

fn parse_size(text: &str) -> Option<usize> {
    let (digits, scale) = match text.as_bytes().last()? {
        b'K' | b'k' => (&text[..text.len() - 1], 1 << 10),
        b'M' | b'm' => (&text[..text.len() - 1], 1 << 20),
        _ => (text, 1),
    };
    digits.parse::<usize>().ok()?.checked_mul(scale)
}

/// Whether the program's arguments ask for ACP mode (`--acp` first).
pub fn is_acp(args: &[OsString]) -> bool {
    args.first().is_some_and(|arg| arg == "--acp")
}
