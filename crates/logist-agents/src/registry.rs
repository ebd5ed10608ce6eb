//! Every adapter by name: look one up, list them all, and tell which
//! programs are installed (by searching `PATH`, without starting anything).

use std::env;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::adapter::AgentProgram;
use crate::adapters::{
    aider, amp, claude, cline, codex, copilot, cursor, gemini, goose, opencode, qwen,
};
use crate::config::AgentConfig;
use crate::error::AgentError;

/// A constructor of one adapter.
type Build = fn(AgentConfig) -> Box<dyn AgentProgram>;

/// Every adapter: its name and constructor, in a stable order (verified
/// end to end first).
const ADAPTERS: &[(&str, Build)] = &[
    ("claude-code", |c| {
        Box::new(claude::ClaudeCode::with_config(c))
    }),
    ("codex", |c| Box::new(codex::Codex::with_config(c))),
    ("gemini", |c| Box::new(gemini::Gemini::with_config(c))),
    ("qwen", |c| Box::new(qwen::QwenCode::with_config(c))),
    ("aider", |c| Box::new(aider::Aider::with_config(c))),
    ("copilot", |c| Box::new(copilot::Copilot::with_config(c))),
    ("opencode", |c| Box::new(opencode::OpenCode::with_config(c))),
    ("cline", |c| Box::new(cline::Cline::with_config(c))),
    ("goose", |c| Box::new(goose::Goose::with_config(c))),
    ("amp", |c| Box::new(amp::Amp::with_config(c))),
    ("cursor-agent", |c| {
        Box::new(cursor::CursorAgent::with_config(c))
    }),
];

/// The names of every adapter, as [`Agent::name`](logist_core::Agent::name)
/// returns them.
pub fn names() -> impl Iterator<Item = &'static str> {
    ADAPTERS.iter().map(|(name, _)| *name)
}

/// The adapter named `name`, built with `config` and
/// [validated](AgentProgram::validate).
///
/// ```
/// use logist_agents::{AgentConfig, registry};
///
/// let agent = registry::get("codex", AgentConfig::new().model("gpt-5"))?;
/// assert_eq!(agent.name(), "codex");
/// assert!(registry::get("vim", AgentConfig::new()).is_err());
/// # Ok::<(), logist_agents::AgentError>(())
/// ```
///
/// # Errors
///
/// [`AgentError::UnknownAgent`] listing the known names;
/// [`AgentError::Unsupported`] when the program cannot take a setting.
pub fn get(name: &str, config: AgentConfig) -> Result<Box<dyn AgentProgram>, AgentError> {
    let (_, build) = ADAPTERS
        .iter()
        .find(|(known, _)| *known == name)
        .ok_or_else(|| AgentError::UnknownAgent {
            name: name.to_owned(),
            known: names().collect::<Vec<_>>().join(", "),
        })?;
    let agent = build(config);
    agent.validate()?;
    Ok(agent)
}

/// Every adapter with default settings.
pub fn all() -> Vec<Box<dyn AgentProgram>> {
    ADAPTERS
        .iter()
        .map(|(_, build)| build(AgentConfig::new()))
        .collect()
}

/// Whether one adapter's program is installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installation {
    /// The adapter's name.
    pub name: &'static str,
    /// The program looked for.
    pub program: String,
    /// Where it was found; `None` when it is not installed.
    pub path: Option<PathBuf>,
}

/// Where each adapter's program is, searching the `PATH` of this process.
pub fn installed() -> Vec<Installation> {
    installed_in(env::var_os("PATH").as_deref())
}

/// Where each adapter's program is, searching `path` (a `PATH`-style list
/// of directories; `None` searches nothing).
pub fn installed_in(path: Option<&OsStr>) -> Vec<Installation> {
    all()
        .iter()
        .zip(names())
        .map(|(agent, name)| Installation {
            name,
            program: agent.program().to_owned(),
            path: find_program(agent.program(), path),
        })
        .collect()
}

/// Finds `program` the way a shell would: a name containing `/` is a path
/// (relative to the current directory), any other name is looked up in
/// each directory of `path` in order. Only executable regular files (or
/// links to them) count.
pub fn find_program(program: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    if program.is_empty() {
        return None;
    }
    if program.contains('/') {
        let candidate = PathBuf::from(program);
        return is_executable(&candidate).then_some(candidate);
    }
    env::split_paths(path?)
        .map(|dir| {
            // An empty entry means the current directory.
            let dir = if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir
            };
            dir.join(program)
        })
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}
