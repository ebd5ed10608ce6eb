//! What every adapter has beyond [`Agent`]: its settings, the program it
//! runs, the texts it shows when waiting for a human (as a table with
//! provenance), and the files an isolated home needs; plus the helpers the
//! adapters share.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use logist_core::{
    Agent, Environment, FailureCause, FailurePattern, Pattern, StopSequence, Verdict,
};

use crate::config::AgentConfig;
use crate::error::AgentError;

/// An [`Agent`] for a real program, with the settings it was built from.
///
/// Object safe: the [registry](crate::registry) hands out
/// `Box<dyn AgentProgram>`.
pub trait AgentProgram: Agent {
    /// The settings this adapter was built with.
    fn config(&self) -> &AgentConfig;

    /// The program's usual name, looked up on `PATH` when
    /// [`AgentConfig::program`] is not set: `claude`, `aider`, ….
    fn default_program(&self) -> &'static str;

    /// The program that [`cmd`](Agent::cmd) runs: the configured one, or
    /// the usual name.
    fn program(&self) -> &str {
        self.config()
            .program
            .as_deref()
            .unwrap_or(self.default_program())
    }

    /// The texts the program shows when it waits for a human, with where
    /// each was seen. [`stop_sequences`](Agent::stop_sequences) is this
    /// table's patterns.
    fn waiting_texts(&self) -> &'static [WaitingText];

    /// What was checked of this adapter against the real program, for
    /// people choosing an agent.
    fn verification(&self) -> Verification;

    /// Whether the program can continue an earlier session
    /// ([`AgentConfig::resume`]); the default is no.
    fn resumes(&self) -> bool {
        false
    }

    /// Checks that the program can honour every setting of the
    /// configuration. [`cmd`](Agent::cmd) and [`env`](Agent::env) skip a
    /// setting the program has no way to take; this says so instead.
    /// [`registry::get`](crate::registry::get) calls it. The default
    /// checks [`AgentConfig::resume`] against [`resumes`](Self::resumes);
    /// an adapter that overrides it calls [`check_resume`] too.
    ///
    /// # Errors
    ///
    /// [`AgentError::Unsupported`] naming the setting.
    fn validate(&self) -> Result<(), AgentError> {
        check_resume(self)
    }

    /// Writes what the program needs in the isolated home directory
    /// ([`AgentConfig::home`]): its settings files, turning off telemetry
    /// and update checks and selecting the API-key login where the program
    /// reads that from a file. Existing settings files are kept and only the
    /// adapter's keys are set. Returns the home directory, or `None` (and
    /// does nothing) when no isolation was asked for.
    ///
    /// This is the only method that touches the file system; call it once
    /// before running the program.
    ///
    /// # Errors
    ///
    /// [`AgentError::PrepareHome`] when a file cannot be written,
    /// [`AgentError::NotASettingsFile`] when an existing settings file is
    /// not a JSON object, [`AgentError::NonUtf8Home`] for a home path that
    /// cannot be passed in the environment.
    fn prepare_home(&self) -> Result<Option<PathBuf>, AgentError>;
}

/// [`AgentError::Unsupported`] for a [`resume`](AgentConfig::resume)
/// setting the program cannot honour.
///
/// # Errors
///
/// [`AgentError::Unsupported`] naming the `resume` setting.
pub fn check_resume<A: AgentProgram + ?Sized>(agent: &A) -> Result<(), AgentError> {
    if agent.config().resume.is_some() && !agent.resumes() {
        return Err(AgentError::Unsupported {
            agent: agent.name().to_owned(),
            setting: "resume",
            reason: "the program has no way to continue a session from the command line",
        });
    }
    Ok(())
}

/// How far an adapter was checked against the real program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    /// The end-to-end tests run this version offline against the fake
    /// model server: a reply, a hostile prompt, and a file written by a
    /// tool call.
    EndToEnd {
        /// The program version.
        version: &'static str,
    },
    /// Built from the program's public documentation and `--help` only;
    /// never run against a model here.
    DocsOnly {
        /// What was and was not checked.
        note: &'static str,
    },
}

/// A text a program shows when it waits for a human, with its provenance.
///
/// Kept as data so that each entry says which program version showed it
/// and where that was read or seen; strings drift between versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitingText {
    /// The text, or a regular expression when `regex` is true.
    pub text: &'static str,
    /// True when `text` is a regular expression (`regex` crate syntax).
    pub regex: bool,
    /// What the program is asking: `trust`, `permission`, `login`, `idle`,
    /// ….
    pub dialog: &'static str,
    /// The program version it was seen in.
    pub seen_in: &'static str,
    /// Where it was read or seen.
    pub source: &'static str,
}

impl WaitingText {
    /// The text as a stop sequence.
    pub fn stop_sequence(&self) -> StopSequence {
        if self.regex {
            Pattern::regex(self.text)
        } else {
            Pattern::literal(self.text)
        }
    }
}

/// A text in a program's output that tells why a run failed, with its
/// provenance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureText {
    /// The cause the text indicates.
    pub cause: FailureCause,
    /// The text (matched literally, case-sensitively), or a regular
    /// expression when `regex` is true.
    pub text: &'static str,
    /// True when `text` is a regular expression.
    pub regex: bool,
    /// Where it was read or seen.
    pub source: &'static str,
}

impl FailureText {
    /// The text as a failure pattern.
    pub fn failure_pattern(&self) -> FailurePattern {
        let pattern = if self.regex {
            Pattern::regex(self.text)
        } else {
            Pattern::literal(self.text)
        };
        FailurePattern::new(self.cause, pattern)
    }
}

/// The stop sequences of a table.
pub(crate) fn stop_sequences(table: &[WaitingText]) -> Vec<StopSequence> {
    table.iter().map(WaitingText::stop_sequence).collect()
}

/// The failure patterns of a table.
pub(crate) fn failure_patterns(table: &[FailureText]) -> Vec<FailurePattern> {
    table.iter().map(FailureText::failure_pattern).collect()
}

/// The cause named by the first literal entry of `table` found in
/// `message`. (Regular expressions are left to the component that matches
/// output, which has a regex engine.)
pub(crate) fn classify(message: &str, table: &[FailureText]) -> Option<FailureCause> {
    table
        .iter()
        .find(|entry| !entry.regex && message.contains(entry.text))
        .map(|entry| entry.cause)
}

/// The cause an HTTP status means, when it means one.
pub(crate) fn cause_of_status(status: u64) -> Option<FailureCause> {
    match status {
        429 => Some(FailureCause::RateLimited),
        401 | 403 => Some(FailureCause::AuthFailed),
        _ => None,
    }
}

/// The environment every adapter starts from: colour off, and the isolated
/// home when one is configured.
pub(crate) fn base_env(config: &AgentConfig) -> Environment {
    let env = Environment::inherit().set("NO_COLOR", "1");
    match &config.home {
        Some(home) => {
            let home = home.to_string_lossy();
            env.set("HOME", home.as_ref())
                .set("XDG_CONFIG_HOME", format!("{home}/.config"))
                .set("XDG_CACHE_HOME", format!("{home}/.cache"))
                .set("XDG_DATA_HOME", format!("{home}/.local/share"))
                .set("XDG_STATE_HOME", format!("{home}/.local/state"))
        }
        None => env,
    }
}

/// Passes every name in `names`.
pub(crate) fn pass_all(env: Environment, names: &[&str]) -> Environment {
    names.iter().fold(env, |env, name| env.pass(*name))
}

/// Creates the configured home directory; `None` when there is none.
pub(crate) fn create_home(
    agent: &str,
    config: &AgentConfig,
) -> Result<Option<PathBuf>, AgentError> {
    let Some(home) = &config.home else {
        return Ok(None);
    };
    if home.to_str().is_none() {
        return Err(AgentError::NonUtf8Home { path: home.clone() });
    }
    create_dir(agent, home)?;
    Ok(Some(home.clone()))
}

/// Creates a directory and its parents.
pub(crate) fn create_dir(agent: &str, dir: &Path) -> Result<(), AgentError> {
    fs::create_dir_all(dir).map_err(|source| AgentError::PrepareHome {
        agent: agent.to_owned(),
        path: dir.to_owned(),
        source,
    })
}

/// Writes a file, creating its directory.
pub(crate) fn write_file(agent: &str, path: &Path, contents: &str) -> Result<(), AgentError> {
    if let Some(parent) = path.parent() {
        create_dir(agent, parent)?;
    }
    fs::write(path, contents).map_err(|source| AgentError::PrepareHome {
        agent: agent.to_owned(),
        path: path.to_owned(),
        source,
    })
}

/// Sets `settings` (a JSON object) in the JSON file at `path`, object by
/// object, keeping every other key already there.
pub(crate) fn merge_settings(agent: &str, path: &Path, settings: Value) -> Result<(), AgentError> {
    let mut current = match fs::read(path) {
        Ok(bytes) => serde_json::from_slice::<Value>(&bytes)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| AgentError::NotASettingsFile {
                path: path.to_owned(),
            })?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Value::Object(Default::default())
        }
        Err(source) => {
            return Err(AgentError::PrepareHome {
                agent: agent.to_owned(),
                path: path.to_owned(),
                source,
            });
        }
    };
    merge(&mut current, settings);
    let text = serde_json::to_string_pretty(&current).unwrap_or_default();
    write_file(agent, path, &format!("{text}\n"))
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                match into.get_mut(&key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value);
                    }
                    _ => {
                        into.insert(key, value);
                    }
                }
            }
        }
        (into, from) => *into = from,
    }
}

/// The last line of `tail` that is a JSON object accepted by `pick`,
/// searching from the end. Lines that are not JSON (a program's stray
/// warnings) are skipped.
pub(crate) fn last_json_line(tail: &[u8], pick: impl Fn(&Value) -> bool) -> Option<Value> {
    let text = String::from_utf8_lossy(tail);
    text.lines()
        .rev()
        .filter(|line| line.trim_start().starts_with('{'))
        .filter_map(|line| serde_json::from_str::<Value>(line.trim()).ok())
        .find(|value| pick(value))
}

/// The `type` field of a JSON event.
pub(crate) fn event_type(value: &Value) -> Option<&str> {
    value.get("type").and_then(Value::as_str)
}

/// Reads the final `{"type": "result", "is_error": …}` event that Claude
/// Code (and programs copying its stream-json format: Qwen Code, Cursor
/// Agent, Amp) print last.
pub(crate) fn result_verdict(stdout_tail: &[u8], table: &[FailureText]) -> Option<Verdict> {
    let result = last_json_line(stdout_tail, |event| event_type(event) == Some("result"))?;
    let is_error = match result.get("is_error").and_then(Value::as_bool) {
        Some(is_error) => is_error,
        // Amp says `subtype: "error_…"` without `is_error`.
        None => result
            .get("subtype")
            .and_then(Value::as_str)
            .is_some_and(|subtype| subtype.starts_with("error")),
    };
    // Qwen Code 0.15.10 reports an API failure as a successful result
    // whose whole text is `[API Error: 401 …]` (and exits 0).
    let api_error = result
        .get("result")
        .and_then(Value::as_str)
        .and_then(|text| text.trim_start().strip_prefix("[API Error: "));
    if let (false, Some(rest)) = (is_error, api_error) {
        let status: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let message = result["result"].as_str().unwrap_or_default().to_owned();
        let cause = status
            .parse()
            .ok()
            .and_then(cause_of_status)
            .or_else(|| classify(&message, table));
        return Some(Verdict::Failed { cause, message });
    }
    if !is_error {
        return Some(Verdict::Succeeded);
    }
    let message = ["result", "error", "subtype"]
        .iter()
        .find_map(|key| match result.get(*key) {
            Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
            Some(Value::Object(object)) => object
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        })
        .unwrap_or_else(|| "the program reported an error".to_owned());
    let cause = result
        .get("api_error_status")
        .and_then(Value::as_u64)
        .and_then(cause_of_status)
        .or_else(|| classify(&message, table));
    Some(Verdict::Failed { cause, message })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_keeps_other_keys() {
        let mut current = json!({"a": {"x": 1, "y": 2}, "b": [1], "c": "keep"});
        merge(&mut current, json!({"a": {"y": 3, "z": 4}, "b": {"n": 1}}));
        assert_eq!(
            current,
            json!({"a": {"x": 1, "y": 3, "z": 4}, "b": {"n": 1}, "c": "keep"})
        );
    }

    #[test]
    fn last_json_line_skips_noise_and_partial_lines() {
        let tail = b"{\"type\":\"a\",\"n\":1}\nwarning: noise\n{\"type\":\"a\",\"n\":2}\n{\"type\":\"b\"}\n{\"type\":\"a\",\"n";
        let found = last_json_line(tail, |v| event_type(v) == Some("a")).unwrap();
        assert_eq!(found["n"], 2);
        assert!(last_json_line(b"nothing here", |_| true).is_none());
    }

    #[test]
    fn status_codes_name_causes() {
        assert_eq!(cause_of_status(429), Some(FailureCause::RateLimited));
        assert_eq!(cause_of_status(401), Some(FailureCause::AuthFailed));
        assert_eq!(cause_of_status(500), None);
    }
}
