//! Adapters that run real coding-agent programs as Logist
//! [`Agent`](logist_core::Agent)s: Claude Code, Codex CLI, Gemini CLI,
//! Qwen Code, Aider, GitHub Copilot CLI, OpenCode, Cline, Goose, Amp and
//! Cursor Agent.
//!
//! Each adapter turns a prompt into the program's non-interactive command
//! line (the prompt one literal argument that can never be read as an
//! option), names the environment it needs (API keys passed by name,
//! telemetry and update checks off), lists the texts it shows when waiting
//! for a human, and reads its structured output where it has one.
//! Settings come from one [`AgentConfig`]; the [`registry`] finds adapters
//! by name and tells which programs are installed.
//!
//! ```
//! use logist_agents::{AgentConfig, AgentProgram, Approval, ClaudeCode};
//! use logist_core::{Agent, Environment};
//!
//! let agent = ClaudeCode::with_config(
//!     AgentConfig::new()
//!         .base_url("http://127.0.0.1:8080")
//!         .approval(Approval::AutoEdit),
//! );
//! let cmd = agent.cmd("-rf \"$(whoami)\"")?;
//! assert_eq!(cmd.args().last().map(String::as_str), Some("-rf \"$(whoami)\""));
//! assert_eq!(cmd.args()[cmd.args().len() - 2], "--");
//!
//! // API keys are passed by name; values never appear in the adapter.
//! let env = Environment::clean().pass("PATH").merge(&agent.env());
//! assert!(env.passed().contains("ANTHROPIC_API_KEY"));
//! assert_eq!(env.vars()["ANTHROPIC_BASE_URL"], "http://127.0.0.1:8080");
//! # Ok::<(), logist_core::Error>(())
//! ```
//!
//! # What was verified
//!
//! Claude Code 2.1.197, Codex 0.169.0, Gemini CLI 0.61.0, Qwen Code
//! 0.15.10, Aider 0.86.2, Copilot CLI 1.0.102, OpenCode 1.18.33 and Cline
//! 3.0.65 are run by the end-to-end tests (`cargo xtask e2e`) offline
//! against `logist-fake-model`: one-shot under the sentinel (which must not
//! take their normal output for a prompt), and through the `logist` binary
//! in a clean environment, as root and as an unprivileged user (a reply to
//! a hostile prompt, a 200 KB prompt, a file written under `FullAuto`, and
//! `Ask`). All but OpenCode and Cline also run interactively on a
//! pseudo-terminal, where the sentinel must find them waiting with the
//! adapter's own stop sequences. Goose, Amp and Cursor Agent say in their
//! docs what was and was not checked ([`AgentProgram::verification`]).
//!
//! # Large prompts
//!
//! Every adapter but Aider's gives the prompt on stdin
//! ([`Agent::prompt_on_stdin`](logist_core::Agent::prompt_on_stdin))
//! whenever the caller leaves stdin free: no size limit, no option parser.
//! Aider takes a prompt file ([`AgentProgram::prompt_file_cmd`]). The
//! argument form ([`Agent::cmd`](logist_core::Agent::cmd), for a terminal
//! or an answering policy) is capped by Linux at 131071 bytes, and a longer
//! prompt is a typed error naming the limit. OpenCode rewrites an argument
//! prompt (its words quoted); Cline rejects a one-word argument prompt and
//! runs a subcommand for one naming it, so its `cmd` refuses those.

mod adapter;
mod adapters;
mod config;
mod error;
pub mod registry;
mod version;

pub use adapter::{AgentProgram, FailureText, Verification, WaitingText, check_resume};
pub use adapters::aider::Aider;
pub use adapters::amp::Amp;
pub use adapters::claude::ClaudeCode;
pub use adapters::cline::Cline;
pub use adapters::codex::Codex;
pub use adapters::copilot::Copilot;
pub use adapters::cursor::CursorAgent;
pub use adapters::gemini::Gemini;
pub use adapters::goose::Goose;
pub use adapters::opencode::OpenCode;
pub use adapters::qwen::QwenCode;
pub use config::{AgentConfig, Approval};
pub use error::{AgentError, VersionError};
pub use version::{installed_version, parse_version};

/// The program of the ACP bridge for Codex, npm `@agentclientprotocol/codex-acp`
/// ([`Codex`]'s [`acp_command`](logist_core::Agent::acp_command)).
pub const CODEX_ACP_PROGRAM: &str = "codex-acp";

/// The program of the ACP bridge for Claude Code, npm
/// `@agentclientprotocol/claude-agent-acp` ([`ClaudeCode`]'s
/// [`acp_command`](logist_core::Agent::acp_command)).
pub const CLAUDE_ACP_PROGRAM: &str = "claude-agent-acp";

/// The waiting-for-input and failure tables of each program, as data.
pub mod tables {
    pub use crate::adapters::aider::{FAILURES as AIDER_FAILURES, WAITING as AIDER_WAITING};
    pub use crate::adapters::amp::{FAILURES as AMP_FAILURES, WAITING as AMP_WAITING};
    pub use crate::adapters::claude::{FAILURES as CLAUDE_FAILURES, WAITING as CLAUDE_WAITING};
    pub use crate::adapters::cline::{FAILURES as CLINE_FAILURES, WAITING as CLINE_WAITING};
    pub use crate::adapters::codex::{FAILURES as CODEX_FAILURES, WAITING as CODEX_WAITING};
    pub use crate::adapters::copilot::{FAILURES as COPILOT_FAILURES, WAITING as COPILOT_WAITING};
    pub use crate::adapters::cursor::{FAILURES as CURSOR_FAILURES, WAITING as CURSOR_WAITING};
    pub use crate::adapters::gemini::{FAILURES as GEMINI_FAILURES, WAITING as GEMINI_WAITING};
    pub use crate::adapters::goose::{FAILURES as GOOSE_FAILURES, WAITING as GOOSE_WAITING};
    pub use crate::adapters::opencode::{
        FAILURES as OPENCODE_FAILURES, WAITING as OPENCODE_WAITING,
    };
    pub use crate::adapters::qwen::{FAILURES as QWEN_FAILURES, WAITING as QWEN_WAITING};
}

/// The README's examples, compiled and run as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
