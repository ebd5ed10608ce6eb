//! `logist run --acp`: the agent in its Agent Client Protocol mode, driven
//! by `logist-acp` instead of watched on its screen. Permission requests
//! are answered by `--on-permission`; the reply streams to stdout (or, with
//! `--json`, every event of the `logist-events` model, one JSON line each,
//! with its `time` as in print mode).

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use clap::{Args, ValueEnum};

use logist_acp::{
    AcpClient, AcpConfig, AcpError, AcpEvent, Answer, Limit, PermissionPolicy, PermissionRequest,
    StopReason,
};
use logist_core::{Agent, Error, Runtime, SpawnRequest};
use logist_events::{Decider, Event};

use crate::cli::Shared;
use crate::signals::Signals;
use crate::{CliError, exit, run};

/// The ACP options of `logist run`.
#[derive(Debug, Args)]
pub(crate) struct AcpArgs {
    /// Run the agent in its Agent Client Protocol mode (JSON-RPC on its
    /// stdin and stdout) instead of its print mode.
    #[arg(long)]
    pub(crate) acp: bool,
    /// With --acp, how to answer the agent's permission requests: allow,
    /// deny, or ask (on a terminal the person decides; elsewhere the run
    /// stops as waiting for input, exit 122).
    #[arg(
        long,
        value_enum,
        value_name = "POLICY",
        default_value = "ask",
        requires = "acp"
    )]
    pub(crate) on_permission: OnPermission,
    /// With --acp, the session mode to switch to (`session/set_mode`), one
    /// of the ids the agent lists; some agents run tools without asking in
    /// their default mode (codex-acp: use `read-only`; claude-agent-acp:
    /// `default`).
    #[arg(long, value_name = "MODE", requires = "acp")]
    pub(crate) acp_mode: Option<String>,
}

/// What a second signal kills: the runtime and the agent's id, emptied
/// when the run is over so the signal thread does not keep the runtime.
type Target = (Arc<dyn Runtime>, logist_core::ProcessId);

/// `--on-permission`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum OnPermission {
    /// Allow each request once.
    Allow,
    /// Refuse each request.
    Deny,
    /// Ask the person on a terminal; elsewhere, stop as waiting for input.
    Ask,
}

/// Runs `prompt` as one ACP turn of `agent` (in a new session, or in the
/// session `resume` names) and returns the exit code.
pub(crate) fn run(
    agent: &dyn Agent,
    prompt: &str,
    shared: &Shared,
    acp: &AcpArgs,
    resume: Option<&str>,
    mount: Option<&Path>,
    signals: &Signals,
) -> Result<u8, CliError> {
    let command = agent
        .acp_command()
        .map_err(|error| CliError::usage(format!("{error}")))?
        .ok_or_else(|| {
            CliError::usage(format!(
                "agent `{}` has no ACP mode; drop --acp (see docs/acp.md for the agents that have one)",
                agent.name()
            ))
        })?;
    let cwd = session_dir(shared)?;
    let runtime = run::build_runtime(shared, mount)?;
    let mut request = SpawnRequest::new(command)
        .env(run::base_env(shared).merge(&agent.env()))
        .grace(shared.grace);
    if let Some(dir) = &shared.cwd {
        request = request.cwd(dir);
    }
    let mut config =
        AcpConfig::default().cancel_grace(shared.grace.max(std::time::Duration::from_secs(1)));
    if let Some(idle) = shared.idle_timeout {
        config = config.inactivity(idle);
    }
    if let Some(timeout) = shared.timeout {
        config = config.turn_cap(Some(timeout)).request_timeout(timeout);
    }
    if let Some(mode) = &acp.acp_mode {
        config = config.session_mode(mode.clone());
    }
    let person = acp.on_permission == OnPermission::Ask && io::stdin().is_terminal();
    let policy = match acp.on_permission {
        OnPermission::Allow => PermissionPolicy::new(Answer::AllowOnce),
        OnPermission::Deny => PermissionPolicy::new(Answer::Reject),
        OnPermission::Ask if person => PermissionPolicy::new(Answer::Reject).callback(ask_person),
        OnPermission::Ask => PermissionPolicy::new(Answer::Wait),
    };
    let printer = Printer {
        json: shared.json,
        decider: if person {
            Decider::Person
        } else {
            Decider::Policy
        },
        wrote_text: std::cell::Cell::new(false),
    };

    let mut client = match AcpClient::start(Arc::clone(&runtime), request, policy, config) {
        Ok(client) => client,
        Err(error) => return Ok(printer.failed(&error, None)),
    };
    // `--resume ID` continues the session through ACP (`session/resume`,
    // else `session/load`, whose replayed history is not shown again).
    let session = match resume {
        Some(id) => client
            .continue_session(id, &cwd, |_| {})
            .map(|()| id.to_owned()),
        None => client.new_session(&cwd),
    };
    let session = match session {
        Ok(session) => session,
        Err(error) => return Ok(printer.failed(&error, None)),
    };
    printer.events(&[logist_acp::session_event(&session)]);

    let interrupted = Arc::new(AtomicI32::new(0));
    let target: Arc<Mutex<Option<Target>>> = Arc::new(Mutex::new(Some((
        Arc::clone(&runtime),
        client.process_id().clone(),
    ))));
    {
        let canceller = client.canceller(&session);
        let flag = Arc::clone(&interrupted);
        let again = Arc::clone(&target);
        signals.watch(
            move |signal| {
                flag.store(signal, Ordering::SeqCst);
                canceller.cancel();
            },
            move || {
                let forced = again.lock().unwrap_or_else(PoisonError::into_inner).clone();
                if let Some((runtime, id)) = forced {
                    let _ = runtime.terminate(&id, true);
                }
            },
        );
    }

    let result = client.prompt(&session, prompt, |event| printer.acp_event(&event));
    let signal = match interrupted.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    };
    let code = match result {
        Ok(reason) => {
            printer.events(&[logist_acp::turn_end_event(&reason)]);
            printer.end_text();
            match (reason, signal) {
                (StopReason::EndTurn, None) => 0,
                (_, Some(signal)) => exit::interrupted(signal),
                _ => 1,
            }
        }
        Err(error) => printer.failed(&error, signal),
    };
    let _ = client.shutdown();
    target.lock().unwrap_or_else(PoisonError::into_inner).take();
    Ok(code)
}

/// The session's working directory: `--cwd` or this one, absolute (ACP
/// requires absolute paths).
fn session_dir(shared: &Shared) -> Result<PathBuf, CliError> {
    let dir = match &shared.cwd {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().map_err(|error| {
            CliError::failed(format!("cannot read the current directory: {error}"))
        })?,
    };
    std::path::absolute(&dir).map_err(|error| {
        CliError::usage(format!("--cwd `{}` cannot be used: {error}", dir.display()))
    })
}

/// Asks the person at the terminal about one request.
fn ask_person(request: &PermissionRequest) -> Answer {
    let what = request.title.as_deref().unwrap_or(&request.tool_call_id);
    let mut err = io::stderr().lock();
    let _ = write!(
        err,
        "logist: the agent asks to run {what} ({}). Allow? [y]es once, [a]lways, [N]o: ",
        request.kind
    );
    let _ = err.flush();
    drop(err);
    let mut line = String::new();
    match io::stdin().lock().read_line(&mut line) {
        Ok(n) if n > 0 => match line.trim() {
            "y" | "Y" | "yes" => Answer::AllowOnce,
            "a" | "A" | "always" => Answer::AllowAlways,
            _ => Answer::Reject,
        },
        _ => Answer::Reject,
    }
}

/// Shows the run: readable text, or JSON events.
struct Printer {
    json: bool,
    decider: Decider,
    /// Whether reply text went to stdout, so the end adds one newline.
    wrote_text: std::cell::Cell<bool>,
}

impl Printer {
    fn acp_event(&self, event: &AcpEvent) {
        if let AcpEvent::Stderr { data } = event
            && !self.json
        {
            let mut err = io::stderr().lock();
            let _ = err.write_all(data).and_then(|()| err.flush());
            return;
        }
        let mut events = event.to_events();
        for event in &mut events {
            if let Event::PermissionDecision(decision) = event {
                decision.by = self.decider;
            }
        }
        self.events(&events);
    }

    fn events(&self, events: &[Event]) {
        for event in events {
            if self.json {
                // The same lines, with the same `time`, as print mode's.
                crate::view::print_json(event.to_json());
            } else {
                self.readable(event);
            }
        }
    }

    fn readable(&self, event: &Event) {
        match event {
            Event::Message(message) if message.role == logist_events::Role::Assistant => {
                self.wrote_text.set(true);
                let mut out = io::stdout().lock();
                let _ = out
                    .write_all(message.text.as_bytes())
                    .and_then(|()| out.flush());
            }
            // A status change without a title adds nothing to the line of
            // the call and the line of its result.
            Event::ToolCall(call)
                if !call.name.is_empty()
                    && !matches!(
                        call.status,
                        logist_events::ToolStatus::Completed | logist_events::ToolStatus::Failed
                    ) =>
            {
                note(&format!(
                    "tool {} {}{}",
                    serde_json::to_value(call.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    call.name,
                    call.key_argument()
                        .map(|arg| format!(" ({arg})"))
                        .unwrap_or_default()
                ))
            }
            Event::ToolResult(result) => note(&format!(
                "tool {}: {}",
                result.id,
                if result.status == logist_events::ToolStatus::Completed {
                    "completed"
                } else {
                    "failed"
                }
            )),
            Event::PermissionDecision(decision) => note(&format!(
                "permission for {}: {}",
                decision.id,
                serde_json::to_value(decision.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            )),
            Event::Raw(raw) => {
                let mut err = io::stderr().lock();
                let _ = err.write_all(&raw.data).and_then(|()| err.flush());
            }
            Event::Error(error) => note(&error.message),
            _ => {}
        }
    }

    /// Ends the reply's last line on a terminal-friendly newline.
    fn end_text(&self) {
        if !self.json && self.wrote_text.replace(false) {
            let mut out = io::stdout().lock();
            let _ = out.write_all(b"\n").and_then(|()| out.flush());
        }
    }

    /// Reports a failed turn and returns its exit code.
    fn failed(&self, error: &AcpError, signal: Option<i32>) -> u8 {
        if self.json {
            self.events(&logist_acp::error_events(error));
        } else {
            self.end_text();
            note(&format!("error: {}", logist_core::error_chain(error)));
        }
        if let Some(signal) = signal {
            return exit::interrupted(signal);
        }
        match error {
            AcpError::PermissionPending { .. } => exit::WAITING_FOR_INPUT,
            AcpError::UnknownMode { .. } => exit::USAGE,
            AcpError::Timeout {
                limit: Limit::Inactivity(_),
                ..
            } => exit::HUNG,
            AcpError::Timeout {
                limit: Limit::Total(_),
                ..
            } => exit::TIMED_OUT,
            AcpError::Runtime {
                source: Error::ProgramNotFound { .. },
                ..
            } => exit::NOT_FOUND,
            AcpError::Runtime {
                source: Error::NotExecutable { .. },
                ..
            } => exit::NOT_EXECUTABLE,
            AcpError::Runtime {
                context: "starting the agent",
                ..
            } => exit::FAILED_TO_START,
            _ => 1,
        }
    }
}

fn note(text: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "logist: {text}").and_then(|()| err.flush());
}
