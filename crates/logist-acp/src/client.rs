//! The client: starts an agent in ACP mode through a [`Runtime`], speaks
//! JSON-RPC over its stdin and stdout, and runs sessions and turns.
//!
//! One reader thread per client reads the runtime's output with blocking
//! [`Runtime::read_output`] calls (no polling: a silent agent costs no CPU),
//! cuts stdout into bounded lines and parses them; the caller's thread
//! writes requests, answers the agent's requests and calls the caller's
//! callback. The two meet in a bounded channel, so a flood of updates waits
//! in the runtime's own bounded buffer rather than in memory here.

use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use logist_core::{ExitStatus, ProcessId, Runtime, SpawnRequest, StdinMode, Stream};

use crate::error::{AcpError, Limit, Stopped};
use crate::framing::{Frame, LineFramer};
use crate::policy::{Answer, PermissionPolicy, PermissionRequest};
use crate::rpc::{self, AUTH_REQUIRED, METHOD_NOT_FOUND, Message, RequestId};
use crate::session::{AcpEvent, AgentInfo, SessionModes, SessionUpdate, StopReason};

/// The ACP protocol version this client speaks.
pub const PROTOCOL_VERSION: u64 = 1;

/// Limits and bounds of a client.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AcpConfig {
    /// The longest line read from the agent's stdout; longer lines are
    /// reported as [`AcpEvent::Oversized`] and discarded.
    pub line_limit: usize,
    /// How long `initialize`, `session/new`, `session/load` and
    /// `session/resume` may take (each).
    pub request_timeout: Duration,
    /// How long a turn may go without a message from the agent.
    pub inactivity: Duration,
    /// How long a turn may take in all; `None` for no cap.
    pub turn_cap: Option<Duration>,
    /// How long the agent has to answer `session/cancel` before its process
    /// tree is terminated.
    pub cancel_grace: Duration,
    /// How many parsed messages may wait between the reader and the caller.
    pub queue: usize,
    /// The session mode to switch each session to once it is opened
    /// (`session/set_mode`, sent only when this is set and the session is
    /// in another mode); `None` leaves the agent's default. Some agents
    /// run tools without asking in their default mode (codex-acp's
    /// `agent`, claude-agent-acp's `auto`), so a permission policy sees
    /// their requests only in a mode that asks.
    pub session_mode: Option<String>,
}

impl Default for AcpConfig {
    /// 8 MiB lines, 60 s requests, 10 min of inactivity, a 2 h turn cap,
    /// 10 s to honour a cancel, 1024 queued messages, the agent's default
    /// session mode.
    fn default() -> Self {
        Self {
            line_limit: 8 << 20,
            request_timeout: Duration::from_secs(60),
            inactivity: Duration::from_secs(600),
            turn_cap: Some(Duration::from_secs(7200)),
            cancel_grace: Duration::from_secs(10),
            queue: 1024,
            session_mode: None,
        }
    }
}

impl AcpConfig {
    /// Sets [`line_limit`](Self::line_limit).
    #[must_use]
    pub fn line_limit(mut self, bytes: usize) -> Self {
        self.line_limit = bytes;
        self
    }

    /// Sets [`request_timeout`](Self::request_timeout).
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets [`inactivity`](Self::inactivity).
    #[must_use]
    pub fn inactivity(mut self, timeout: Duration) -> Self {
        self.inactivity = timeout;
        self
    }

    /// Sets [`turn_cap`](Self::turn_cap).
    #[must_use]
    pub fn turn_cap(mut self, cap: Option<Duration>) -> Self {
        self.turn_cap = cap;
        self
    }

    /// Sets [`cancel_grace`](Self::cancel_grace).
    #[must_use]
    pub fn cancel_grace(mut self, grace: Duration) -> Self {
        self.cancel_grace = grace;
        self
    }

    /// Sets [`session_mode`](Self::session_mode): each session opened is
    /// switched to the mode with this id.
    #[must_use]
    pub fn session_mode(mut self, mode: impl Into<String>) -> Self {
        self.session_mode = Some(mode.into());
        self
    }
}

/// What the reader thread hands to the caller's thread.
enum Inbound {
    Message(Message),
    Event(AcpEvent),
    /// A [`Canceller`] asked to cancel (the request itself is in the
    /// client's `cancel_requests`; this only wakes the loop).
    Cancel,
    /// The output ended.
    Closed,
    /// The runtime failed to read.
    ReadFailed(logist_core::Error),
}

/// Sends `session/cancel` for one session from any thread, for instance a
/// signal handler's, while the turn runs on another.
#[derive(Clone, Debug)]
pub struct Canceller {
    inbound: SyncSender<Inbound>,
    requests: Arc<Mutex<Vec<String>>>,
    session_id: String,
}

impl std::fmt::Debug for Inbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Inbound")
    }
}

impl Canceller {
    /// Asks the running turn to cancel. The request is recorded even when
    /// the client's queue is full (a flood of updates), and acted on at the
    /// next message. Returns false when the client is gone.
    pub fn cancel(&self) -> bool {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(self.session_id.clone());
        !matches!(
            self.inbound.try_send(Inbound::Cancel),
            Err(TrySendError::Disconnected(_))
        )
    }
}

/// A connection to one agent process speaking ACP.
///
/// Dropping the client terminates the agent's process tree (politely: the
/// runtime's SIGTERM, grace period, SIGKILL); [`shutdown`](Self::shutdown)
/// first closes its stdin and gives it a moment to exit on its own. Either
/// way the process stays known to the runtime, with its output, until the
/// caller removes it.
pub struct AcpClient {
    runtime: Arc<dyn Runtime>,
    id: ProcessId,
    write_lock: Mutex<()>,
    inbound: Receiver<Inbound>,
    inbound_tx: SyncSender<Inbound>,
    reader: Option<JoinHandle<()>>,
    next_id: i64,
    config: AcpConfig,
    policy: PermissionPolicy,
    agent: AgentInfo,
    /// The modes the last session answer listed.
    modes: Option<SessionModes>,
    closed: bool,
    /// Set when the policy answered [`Answer::Cancel`].
    cancel_turn: bool,
    /// Set once [`shutdown`](Self::shutdown) terminated the tree.
    terminated: bool,
    /// Sessions a [`Canceller`] asked to cancel.
    cancel_requests: Arc<Mutex<Vec<String>>>,
    /// Events the agent sent outside a turn, for the next one.
    held: Vec<AcpEvent>,
    /// Held events dropped over [`HELD_EVENTS`].
    held_dropped: u64,
}

/// How many events sent outside a turn are held for the next one.
const HELD_EVENTS: usize = 1024;

/// How a call ends when a limit passes.
#[derive(Clone, Copy)]
struct Limits {
    inactivity: Option<Duration>,
    total: Option<Duration>,
}

/// A call in progress, for the message loop.
struct Call<'a> {
    method: &'a str,
    id: i64,
    limits: Limits,
    /// The session whose turn this is: limits then cancel before they
    /// terminate.
    session: Option<&'a str>,
    /// Updates are history (during `session/load`).
    history: bool,
}

impl AcpClient {
    /// Starts the agent with `request` (its stdin is made a pipe and any
    /// terminal dropped: ACP needs clean pipes) and initializes the
    /// connection, advertising no file-system and no terminal capability.
    ///
    /// # Errors
    ///
    /// [`AcpError::Runtime`] when the spawn fails; the errors of a request
    /// (the agent refused `initialize`, exited, or stayed silent past
    /// [`AcpConfig::request_timeout`], after which it is terminated).
    pub fn start(
        runtime: Arc<dyn Runtime>,
        mut request: SpawnRequest,
        policy: PermissionPolicy,
        config: AcpConfig,
    ) -> Result<Self, AcpError> {
        request.stdin = StdinMode::Piped;
        request.terminal = None;
        let id = runtime
            .spawn(&request)
            .map_err(|source| AcpError::Runtime {
                context: "starting the agent",
                source,
            })?;
        let (tx, rx) = sync_channel(config.queue.max(1));
        let reader = {
            let runtime = Arc::clone(&runtime);
            let id = id.clone();
            let tx = tx.clone();
            let limit = config.line_limit;
            std::thread::Builder::new()
                .name("logist-acp-reader".into())
                .spawn(move || read_loop(runtime.as_ref(), &id, limit, &tx))
        };
        let reader = match reader {
            Ok(reader) => reader,
            Err(source) => {
                let _ = runtime.terminate(&id, true);
                return Err(AcpError::Runtime {
                    context: "starting the reader thread",
                    source: logist_core::Error::Io {
                        context: "spawning a thread".into(),
                        source,
                    },
                });
            }
        };
        let mut client = Self {
            runtime,
            id,
            write_lock: Mutex::new(()),
            inbound: rx,
            inbound_tx: tx,
            reader: Some(reader),
            next_id: 0,
            config,
            policy,
            agent: AgentInfo::from_result(Value::Null),
            modes: None,
            closed: false,
            cancel_turn: false,
            terminated: false,
            cancel_requests: Arc::new(Mutex::new(Vec::new())),
            held: Vec::new(),
            held_dropped: 0,
        };
        let params = json!({
            "protocolVersion": PROTOCOL_VERSION,
            "clientCapabilities": {
                "fs": {"readTextFile": false, "writeTextFile": false},
                "terminal": false,
            },
            "clientInfo": {"name": "logist", "title": "Logist", "version": env!("CARGO_PKG_VERSION")},
        });
        let result = client.request("initialize", params)?;
        client.agent = AgentInfo::from_result(result);
        Ok(client)
    }

    /// What the agent said about itself.
    pub fn agent(&self) -> &AgentInfo {
        &self.agent
    }

    /// The agent's process id in the runtime (its logs stay there).
    pub fn process_id(&self) -> &ProcessId {
        &self.id
    }

    /// Authenticates with one of the agent's
    /// [`auth_methods`](AgentInfo::auth_methods).
    ///
    /// # Errors
    ///
    /// As for any request.
    pub fn authenticate(&mut self, method_id: &str) -> Result<(), AcpError> {
        self.request("authenticate", json!({"methodId": method_id}))
            .map(drop)
    }

    /// Opens a new session working in `cwd` (an absolute path) and returns
    /// its id; switches it to [`AcpConfig::session_mode`] when that is set.
    ///
    /// # Errors
    ///
    /// [`AcpError::AuthRequired`] when the agent needs a login first; the
    /// errors of any request; [`AcpError::BadResponse`] without a session id;
    /// [`AcpError::UnknownMode`] when the agent does not list the mode
    /// asked for.
    pub fn new_session(&mut self, cwd: &Path) -> Result<String, AcpError> {
        let result = self.request("session/new", json!({"cwd": cwd, "mcpServers": []}))?;
        let id = result
            .get("sessionId")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| AcpError::BadResponse {
                method: "session/new".into(),
                field: "sessionId",
            })?;
        self.opened(&id, &result)?;
        Ok(id)
    }

    /// The session modes the agent listed when the last session was
    /// opened, loaded or resumed (kept current by
    /// [`set_session_mode`](Self::set_session_mode)); `None` when it listed
    /// none.
    pub fn session_modes(&self) -> Option<&SessionModes> {
        self.modes.as_ref()
    }

    /// Switches a session to the mode `mode` (`session/set_mode`).
    ///
    /// # Errors
    ///
    /// [`AcpError::UnknownMode`] (nothing is sent) when `mode` is not among
    /// the modes the agent listed for the last session opened; the errors
    /// of any request.
    pub fn set_session_mode(&mut self, session_id: &str, mode: &str) -> Result<(), AcpError> {
        let available = self
            .modes
            .as_ref()
            .map(|modes| modes.available.clone())
            .unwrap_or_default();
        if !available.iter().any(|id| id == mode) {
            return Err(AcpError::UnknownMode {
                mode: mode.to_owned(),
                available,
            });
        }
        self.request(
            "session/set_mode",
            json!({"sessionId": session_id, "modeId": mode}),
        )?;
        if let Some(modes) = &mut self.modes {
            modes.current = mode.to_owned();
        }
        Ok(())
    }

    /// Records the modes a session answer listed and switches the session
    /// to [`AcpConfig::session_mode`] when it is in another one.
    fn opened(&mut self, session_id: &str, result: &Value) -> Result<(), AcpError> {
        self.modes = SessionModes::from_result(result);
        let Some(mode) = self.config.session_mode.clone() else {
            return Ok(());
        };
        if self
            .modes
            .as_ref()
            .is_some_and(|modes| modes.current == mode)
        {
            return Ok(());
        }
        self.set_session_mode(session_id, &mode)
    }

    /// Loads an earlier session; the agent replays its history as updates
    /// (given to `on_event` with `history: true`) before it answers. Then
    /// switches it to [`AcpConfig::session_mode`] when that is set.
    ///
    /// # Errors
    ///
    /// [`AcpError::Unsupported`] when the agent does not advertise
    /// `loadSession`; the errors of any request; [`AcpError::UnknownMode`].
    pub fn load_session(
        &mut self,
        session_id: &str,
        cwd: &Path,
        mut on_event: impl FnMut(AcpEvent),
    ) -> Result<(), AcpError> {
        if !self.agent.load_session {
            return Err(AcpError::Unsupported {
                method: "session/load",
            });
        }
        self.take_events().into_iter().for_each(&mut on_event);
        let id = self.send_request(
            "session/load",
            json!({"sessionId": session_id, "cwd": cwd, "mcpServers": []}),
        )?;
        let call = Call {
            method: "session/load",
            id,
            limits: self.request_limits(),
            session: None,
            history: true,
        };
        let result = self.run(&call, &mut on_event)?;
        self.opened(session_id, &result)
    }

    /// Reattaches to an earlier session without a replay, then switches it
    /// to [`AcpConfig::session_mode`] when that is set.
    ///
    /// # Errors
    ///
    /// [`AcpError::Unsupported`] when the agent does not advertise
    /// `sessionCapabilities.resume`; the errors of any request;
    /// [`AcpError::UnknownMode`].
    pub fn resume_session(&mut self, session_id: &str, cwd: &Path) -> Result<(), AcpError> {
        if !self.agent.resume_session {
            return Err(AcpError::Unsupported {
                method: "session/resume",
            });
        }
        let result = self.request(
            "session/resume",
            json!({"sessionId": session_id, "cwd": cwd, "mcpServers": []}),
        )?;
        self.opened(session_id, &result)
    }

    /// Continues a session in a new process: `session/resume` where the
    /// agent offers it, else (or when the agent answers "method not found"
    /// to it) `session/load`, whose replay goes to `on_event` as history.
    ///
    /// # Errors
    ///
    /// [`AcpError::Unsupported`] when the agent offers neither.
    pub fn continue_session(
        &mut self,
        session_id: &str,
        cwd: &Path,
        on_event: impl FnMut(AcpEvent),
    ) -> Result<(), AcpError> {
        if !self.agent.resume_session {
            return self.load_session(session_id, cwd, on_event);
        }
        match self.resume_session(session_id, cwd) {
            // Some agents advertise `resume` without implementing it (Qwen
            // Code 0.15.10): fall back to `load` when they offer that.
            Err(AcpError::Refused { source, .. })
                if source.code == METHOD_NOT_FOUND && self.agent.load_session =>
            {
                self.load_session(session_id, cwd, on_event)
            }
            other => other,
        }
    }

    /// Runs one turn: sends `text` as the prompt and calls `on_event` for
    /// everything that happens until the agent answers with a stop reason.
    ///
    /// Permission requests are answered by the policy. When no message
    /// arrives for [`AcpConfig::inactivity`], or the turn takes longer than
    /// [`AcpConfig::turn_cap`], the client sends `session/cancel`, waits
    /// [`AcpConfig::cancel_grace`] for the answer, then terminates the
    /// agent's process tree.
    ///
    /// # Errors
    ///
    /// [`AcpError::Timeout`] after a limit; [`AcpError::PermissionPending`]
    /// when the policy says [`Answer::Wait`]; [`AcpError::CancelIgnored`]
    /// when a [`Canceller`]'s cancel went unanswered; the errors of any
    /// request.
    pub fn prompt(
        &mut self,
        session_id: &str,
        text: &str,
        mut on_event: impl FnMut(AcpEvent),
    ) -> Result<StopReason, AcpError> {
        self.take_events().into_iter().for_each(&mut on_event);
        // A cancel asked for before this turn began was for an earlier one.
        self.cancel_requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        let id = self.send_request(
            "session/prompt",
            json!({"sessionId": session_id, "prompt": [{"type": "text", "text": text}]}),
        )?;
        let call = Call {
            method: "session/prompt",
            id,
            limits: Limits {
                inactivity: Some(self.config.inactivity),
                total: self.config.turn_cap,
            },
            session: Some(session_id),
            history: false,
        };
        let result = self.run(&call, &mut on_event)?;
        result
            .get("stopReason")
            .and_then(Value::as_str)
            .map(StopReason::from_wire)
            .ok_or_else(|| AcpError::BadResponse {
                method: "session/prompt".into(),
                field: "stopReason",
            })
    }

    /// A handle that cancels the running turn of `session_id` from another
    /// thread.
    pub fn canceller(&self, session_id: &str) -> Canceller {
        Canceller {
            inbound: self.inbound_tx.clone(),
            requests: Arc::clone(&self.cancel_requests),
            session_id: session_id.to_owned(),
        }
    }

    /// Ends the connection: closes the agent's stdin, gives it the cancel
    /// grace period to exit, then terminates its tree (and whatever it left
    /// running). Returns its exit status.
    ///
    /// # Errors
    ///
    /// [`AcpError::Runtime`] when the runtime cannot stop it.
    pub fn shutdown(mut self) -> Result<ExitStatus, AcpError> {
        let _ = self.runtime.close_stdin(&self.id);
        let status = match self.runtime.wait(&self.id, Some(self.config.cancel_grace)) {
            Ok(done) => Ok(done.status),
            Err(logist_core::Error::WaitTimeout { .. }) => {
                self.terminate()?;
                self.runtime
                    .wait(&self.id, Some(self.config.cancel_grace))
                    .map(|done| done.status)
                    .map_err(|source| AcpError::Runtime {
                        context: "waiting for the agent to exit",
                        source,
                    })
            }
            Err(source) => Err(AcpError::Runtime {
                context: "waiting for the agent to exit",
                source,
            }),
        };
        // Whatever the agent left running in its tree goes too.
        let _ = self.terminate();
        self.terminated = true;
        status
    }

    fn request_limits(&self) -> Limits {
        Limits {
            inactivity: None,
            total: Some(self.config.request_timeout),
        }
    }

    /// Sends a request outside a turn and waits for its answer; what the
    /// agent sends meanwhile (a session's commands or mode, right after
    /// `session/new`) is held for the next turn (see
    /// [`take_events`](Self::take_events)).
    fn request(&mut self, method: &str, params: Value) -> Result<Value, AcpError> {
        let id = self.send_request(method, params)?;
        let call = Call {
            method,
            id,
            limits: self.request_limits(),
            session: None,
            history: false,
        };
        let mut held = Vec::new();
        let result = self.run(&call, &mut |event| held.push(event));
        self.hold(held);
        result
    }

    /// Keeps `events` for the next turn, at most [`HELD_EVENTS`]: an agent
    /// that floods outside a turn loses its oldest, counted in one
    /// [`AcpEvent::Dropped`].
    fn hold(&mut self, events: Vec<AcpEvent>) {
        self.held.extend(events);
        let over = self.held.len().saturating_sub(HELD_EVENTS);
        if over > 0 {
            self.held.drain(..over);
            self.held_dropped += over as u64;
        }
    }

    /// The events the agent sent outside a turn (while `initialize`,
    /// `session/new`, `session/resume` or `session/set_mode` were answered),
    /// oldest first; they are no longer held. [`prompt`](Self::prompt) and
    /// [`load_session`](Self::load_session) give the held events to their
    /// callback first, so a caller that only prompts sees them all.
    pub fn take_events(&mut self) -> Vec<AcpEvent> {
        let mut events = Vec::new();
        if self.held_dropped > 0 {
            events.push(AcpEvent::Dropped {
                count: std::mem::take(&mut self.held_dropped),
            });
        }
        events.append(&mut self.held);
        events
    }

    fn send_request(&mut self, method: &str, params: Value) -> Result<i64, AcpError> {
        self.next_id += 1;
        let id = self.next_id;
        self.write(&rpc::request_line(id, method, params), method)?;
        Ok(id)
    }

    fn write(&self, line: &[u8], method: &str) -> Result<(), AcpError> {
        let _guard = self
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.runtime
            .write_stdin(&self.id, line)
            .map_err(|source| match source {
                logist_core::Error::StdinClosed { .. } => AcpError::AgentExited {
                    method: method.to_owned(),
                    status: self.exit_status(),
                },
                source => AcpError::Runtime {
                    context: "writing to the agent",
                    source,
                },
            })
    }

    fn exit_status(&self) -> Option<ExitStatus> {
        self.runtime
            .wait(&self.id, Some(Duration::from_secs(2)))
            .ok()
            .map(|done| done.status)
    }

    fn terminate(&self) -> Result<(), AcpError> {
        self.runtime
            .terminate(&self.id, false)
            .map(drop)
            .map_err(|source| AcpError::Runtime {
                context: "terminating the agent",
                source,
            })
    }

    /// The message loop: until the answer to `call` arrives, a limit
    /// passes, or the agent's output ends.
    fn run(
        &mut self,
        call: &Call<'_>,
        on_event: &mut dyn FnMut(AcpEvent),
    ) -> Result<Value, AcpError> {
        let start = Instant::now();
        let mut last_message = start;
        // Set once `session/cancel` was sent: why, and until when to wait.
        let mut cancelling: Option<(Option<Limit>, Instant)> = None;
        loop {
            if self.closed {
                return Err(self.exited(call.method));
            }
            let requested = std::mem::take(
                &mut *self
                    .cancel_requests
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            if let Some(session) = call.session
                && cancelling.is_none()
                && requested.iter().any(|id| id == session)
            {
                self.send_cancel(session)?;
                on_event(AcpEvent::Cancelling { limit: None });
                cancelling = Some((None, Instant::now() + self.config.cancel_grace));
            }
            let now = Instant::now();
            let wait = match cancelling {
                Some((_, until)) => until.saturating_duration_since(now),
                None => self
                    .next_limit(call.limits, start, last_message)
                    .map_or(Duration::MAX, |(_, at)| at.saturating_duration_since(now)),
            };
            let inbound = if wait == Duration::MAX {
                self.inbound
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected)
            } else {
                self.inbound.recv_timeout(wait)
            };
            match inbound {
                Ok(Inbound::Message(message)) => {
                    last_message = Instant::now();
                    if let Some(answer) =
                        self.dispatch(call, message, cancelling.is_some(), on_event)?
                    {
                        return match (answer, cancelling) {
                            (Ok(result), Some((Some(limit), _))) => {
                                let _ = result;
                                Err(AcpError::Timeout {
                                    method: call.method.to_owned(),
                                    limit,
                                    stopped: Stopped::Cancelled,
                                })
                            }
                            (answer, _) => answer,
                        };
                    }
                    // The policy answered `Answer::Cancel`: cancel the turn.
                    if std::mem::take(&mut self.cancel_turn)
                        && let (Some(session), None) = (call.session, cancelling)
                    {
                        self.send_cancel(session)?;
                        on_event(AcpEvent::Cancelling { limit: None });
                        cancelling = Some((None, Instant::now() + self.config.cancel_grace));
                    }
                }
                Ok(Inbound::Event(event)) => on_event(event),
                // The request is taken at the top of the loop.
                Ok(Inbound::Cancel) => {}
                Ok(Inbound::Closed) | Err(RecvTimeoutError::Disconnected) => {
                    self.closed = true;
                }
                Ok(Inbound::ReadFailed(source)) => {
                    self.closed = true;
                    return Err(AcpError::Runtime {
                        context: "reading the agent's output",
                        source,
                    });
                }
                Err(RecvTimeoutError::Timeout) => match cancelling {
                    Some((limit, _)) => {
                        self.terminate()?;
                        return Err(match limit {
                            Some(limit) => AcpError::Timeout {
                                method: call.method.to_owned(),
                                limit,
                                stopped: Stopped::Terminated,
                            },
                            None => AcpError::CancelIgnored,
                        });
                    }
                    None => {
                        let Some((limit, _)) = self.next_limit(call.limits, start, last_message)
                        else {
                            continue;
                        };
                        if Instant::now() < self.limit_at(limit, start, last_message) {
                            continue;
                        }
                        match call.session {
                            Some(session) => {
                                self.send_cancel(session)?;
                                on_event(AcpEvent::Cancelling { limit: Some(limit) });
                                cancelling =
                                    Some((Some(limit), Instant::now() + self.config.cancel_grace));
                            }
                            None => {
                                self.terminate()?;
                                return Err(AcpError::Timeout {
                                    method: call.method.to_owned(),
                                    limit,
                                    stopped: Stopped::Terminated,
                                });
                            }
                        }
                    }
                },
            }
        }
    }

    /// The limit that passes first, and when.
    fn next_limit(
        &self,
        limits: Limits,
        start: Instant,
        last_message: Instant,
    ) -> Option<(Limit, Instant)> {
        let idle = limits
            .inactivity
            .map(|d| (Limit::Inactivity(d), last_message + d));
        let total = limits.total.map(|d| (Limit::Total(d), start + d));
        match (idle, total) {
            (Some(a), Some(b)) => Some(if a.1 <= b.1 { a } else { b }),
            (a, b) => a.or(b),
        }
    }

    fn limit_at(&self, limit: Limit, start: Instant, last_message: Instant) -> Instant {
        match limit {
            Limit::Inactivity(d) => last_message + d,
            Limit::Total(d) => start + d,
        }
    }

    fn send_cancel(&self, session: &str) -> Result<(), AcpError> {
        self.write(
            &rpc::notification_line("session/cancel", json!({"sessionId": session})),
            "session/cancel",
        )
    }

    fn exited(&self, method: &str) -> AcpError {
        AcpError::AgentExited {
            method: method.to_owned(),
            status: self.exit_status(),
        }
    }

    /// Handles one message; `Some` when it is the answer to `call`.
    fn dispatch(
        &mut self,
        call: &Call<'_>,
        message: Message,
        cancelling: bool,
        on_event: &mut dyn FnMut(AcpEvent),
    ) -> Result<Option<Result<Value, AcpError>>, AcpError> {
        match message {
            Message::Response { id, outcome } => {
                if id != RequestId::Number(call.id) {
                    on_event(AcpEvent::UnexpectedResponse { id });
                    return Ok(None);
                }
                Ok(Some(outcome.map_err(|source| {
                    if source.code == AUTH_REQUIRED {
                        AcpError::AuthRequired {
                            method: call.method.to_owned(),
                            source,
                        }
                    } else {
                        AcpError::Refused {
                            method: call.method.to_owned(),
                            source,
                        }
                    }
                })))
            }
            Message::Notification { method, params } => {
                if method == "session/update" {
                    on_event(AcpEvent::Update {
                        update: SessionUpdate::from_params(&params),
                        history: call.history,
                    });
                } else {
                    on_event(AcpEvent::UnknownNotification { method });
                }
                Ok(None)
            }
            Message::Request { id, method, params } if method == "session/request_permission" => {
                let request = PermissionRequest::from_params(&params);
                let answer = if cancelling || self.cancel_turn {
                    // The spec: on cancel, answer every pending request `cancelled`.
                    None
                } else {
                    Some(self.policy.decide(&request))
                };
                if answer == Some(Answer::Wait) {
                    return Err(AcpError::PermissionPending {
                        request: Box::new(request),
                    });
                }
                if answer == Some(Answer::Cancel) {
                    self.cancel_turn = true;
                }
                let chosen = answer.and_then(|answer| request.pick(answer).cloned());
                let outcome = match &chosen {
                    Some(option) => json!({"outcome": "selected", "optionId": option.id}),
                    None => json!({"outcome": "cancelled"}),
                };
                self.write(
                    &rpc::result_line(&id, json!({"outcome": outcome})),
                    call.method,
                )?;
                on_event(AcpEvent::Permission {
                    request,
                    answer: answer.unwrap_or(Answer::Cancel),
                    chosen,
                });
                Ok(None)
            }
            Message::Request { id, method, .. } => {
                self.write(
                    &rpc::error_line(
                        &id,
                        METHOD_NOT_FOUND,
                        &format!("method not found: {method}"),
                    ),
                    call.method,
                )?;
                on_event(AcpEvent::UnknownRequest { method });
                Ok(None)
            }
            Message::Invalid { reason } => {
                // Already reported as noise by the reader, which has the line.
                let _ = reason;
                Ok(None)
            }
        }
    }
}

impl Drop for AcpClient {
    fn drop(&mut self) {
        // Also after the agent exited: whatever it left running in its
        // tree goes with it (`terminate` is quick when nothing is left).
        if !self.terminated {
            let _ = self.runtime.terminate(&self.id, false);
        }
        // The reader ends when the output does, which terminating ensures;
        // joining could still block on a runtime that never finishes the
        // output, so the thread is left to end on its own.
        drop(self.reader.take());
    }
}

impl std::fmt::Debug for AcpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcpClient")
            .field("runtime", &self.runtime.name())
            .field("id", &self.id)
            .field("agent", &self.agent.name)
            .finish_non_exhaustive()
    }
}

/// The reader thread: output to messages and events, until the output ends.
fn read_loop(runtime: &dyn Runtime, id: &ProcessId, limit: usize, tx: &SyncSender<Inbound>) {
    let mut framer = LineFramer::new(limit);
    let mut from = 0;
    loop {
        let read = match runtime.read_output(id, from, None) {
            Ok(read) => read,
            Err(source) => {
                let _ = tx.send(Inbound::ReadFailed(source));
                return;
            }
        };
        let mut out = Vec::new();
        if read.missed > 0 {
            framer.lose(read.missed);
            out.push(Inbound::Event(AcpEvent::Missed { bytes: read.missed }));
        }
        for chunk in read.chunks {
            match chunk.stream {
                Stream::Stdout => framer.push(&chunk.data, |frame| out.push(inbound(frame))),
                Stream::Stderr => out.push(Inbound::Event(AcpEvent::Stderr { data: chunk.data })),
            }
        }
        from = read.next;
        if read.finished {
            out.extend(framer.end().map(inbound));
            out.push(Inbound::Closed);
        }
        for item in out {
            if tx.send(item).is_err() {
                return;
            }
        }
        if read.finished {
            return;
        }
    }
}

fn inbound(frame: Frame) -> Inbound {
    match frame {
        Frame::Line(line) => {
            if line.iter().all(u8::is_ascii_whitespace) {
                return Inbound::Event(AcpEvent::Noise {
                    line,
                    reason: "blank line",
                });
            }
            match rpc::parse_line(&line) {
                Some(Message::Invalid { reason }) => {
                    Inbound::Event(AcpEvent::Noise { line, reason })
                }
                Some(message) => Inbound::Message(message),
                None => Inbound::Event(AcpEvent::Noise {
                    line,
                    reason: "not JSON",
                }),
            }
        }
        Frame::Oversized { head, len } => Inbound::Event(AcpEvent::Oversized { head, len }),
        Frame::Unterminated(line) => Inbound::Event(AcpEvent::Noise {
            line,
            reason: "unterminated line at the end of the output",
        }),
    }
}
