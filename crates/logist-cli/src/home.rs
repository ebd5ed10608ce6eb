//! What `logist run` prepares so that an adapter works in any environment,
//! a fresh home included, without writing the person's own files: a
//! private directory for one run holding the settings files a program reads
//! only from files ([`AgentProgram::prepare_run`]) and, for a program that
//! takes a prompt file (Aider), the prompt. The directory is removed when
//! the run is over.
//!
//! The person's `HOME` stays the program's home, so their logins and
//! settings are used; nothing is written there by `logist`.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use logist_agents::AgentProgram;
use logist_core::{
    Agent, CommandLine, Environment, Error, FailurePattern, OutputFormat, PromptOnStdin,
    StopSequence, Verdict,
};

use crate::CliError;

/// A private directory for one run, removed with everything in it when
/// dropped.
pub(crate) struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Creates `logist-run-<pid>-<n>` in the temporary directory, readable
    /// by this user only.
    fn create() -> Result<Self, CliError> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "logist-run-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|error| {
                CliError::failed(format!(
                    "cannot create the run directory `{}`: {error}",
                    path.display()
                ))
            })?;
        Ok(Self { path })
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if let Err(error) = fs::remove_dir_all(&self.path) {
            tracing::warn!(path = %self.path.display(), %error, "cannot remove the run directory");
        }
    }
}

/// An adapter ready for one run: its environment completed with what was
/// prepared, and, for a program that takes a prompt file, the command line
/// that reads it. Keep `dir` until the run is over.
pub(crate) struct Prepared {
    /// The agent to run.
    pub(crate) agent: Box<dyn Agent>,
    /// The run's directory, if one was needed.
    pub(crate) dir: Option<RunDir>,
}

/// Prepares `adapter` for running `prompt` on this host: the settings the
/// program reads only from files, and the prompt file when the program takes
/// one and no stdin form. `on_host` is false for a container, which sees no
/// host directory: nothing is prepared then.
pub(crate) fn prepare(
    adapter: Box<dyn AgentProgram>,
    prompt: &str,
    on_host: bool,
) -> Result<Prepared, CliError> {
    if !on_host {
        return Ok(Prepared {
            agent: adapter,
            dir: None,
        });
    }
    let dir = RunDir::create()?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let env = adapter
        .prepare_run(dir.path(), home.as_deref())
        .map_err(|error| {
            CliError::failed(format!(
                "cannot prepare {}: {}",
                adapter.name(),
                logist_core::error_chain(&error)
            ))
        })?;
    let prompt_file = if adapter.prompt_on_stdin(prompt).ok().flatten().is_none() {
        let path = dir.path().join("prompt.txt");
        match adapter.prompt_file_cmd(&path) {
            Ok(Some(command)) => {
                write_private(&path, prompt.as_bytes())?;
                Some(command)
            }
            Ok(None) => None,
            Err(error) => return Err(CliError::usage(format!("{error}"))),
        }
    } else {
        None
    };
    let used = !env.vars().is_empty()
        || !env.passed().is_empty()
        || !env.unset_names().is_empty()
        || prompt_file.is_some();
    Ok(Prepared {
        agent: Box::new(PreparedAgent {
            inner: adapter,
            env,
            prompt_file,
        }),
        // Nothing in it: no need to keep it.
        dir: used.then_some(dir),
    })
}

/// Writes `bytes` to a new file at `path`, readable by this user only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(bytes))
        .map_err(|error| {
            CliError::failed(format!(
                "cannot write the prompt to `{}`: {error}",
                path.display()
            ))
        })
}

/// An adapter with its run prepared: the prepared environment merged over
/// its own, and the prompt-file command line (for the one prompt it was
/// prepared with) instead of the argument form.
struct PreparedAgent {
    inner: Box<dyn AgentProgram>,
    env: Environment,
    prompt_file: Option<CommandLine>,
}

impl Agent for PreparedAgent {
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        match &self.prompt_file {
            Some(command) => Ok(command.clone()),
            None => self.inner.cmd(prompt),
        }
    }
    fn prompt_on_stdin(&self, prompt: &str) -> Result<Option<PromptOnStdin>, Error> {
        self.inner.prompt_on_stdin(prompt)
    }
    fn answers_on_pipe(&self) -> bool {
        self.inner.answers_on_pipe()
    }
    fn env(&self) -> Environment {
        self.inner.env().merge(&self.env)
    }
    fn stop_sequences(&self) -> Vec<StopSequence> {
        self.inner.stop_sequences()
    }
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn version(&self) -> &str {
        self.inner.version()
    }
    fn failure_patterns(&self) -> Vec<FailurePattern> {
        self.inner.failure_patterns()
    }
    fn verdict(&self, stdout_tail: &[u8]) -> Option<Verdict> {
        self.inner.verdict(stdout_tail)
    }
    fn acp_command(&self) -> Result<Option<CommandLine>, Error> {
        self.inner.acp_command()
    }
    fn output_format(&self) -> OutputFormat {
        self.inner.output_format()
    }
}

#[cfg(test)]
mod tests {
    use logist_agents::{AgentConfig, Aider, Cline, Gemini};

    use super::*;

    /// What `agent` says through every provided method of `Agent` that a
    /// wrapper passes on unchanged (all but `cmd` and `env`, which the
    /// wrappers change on purpose). A provided method added to `Agent`
    /// belongs here too: a wrapper that does not forward it would answer
    /// with the trait's default and hide the adapter's answer.
    fn says(agent: &dyn Agent) -> String {
        let verdict_line = br#"{"type":"run_result","finishReason":"completed"}"#;
        format!(
            "{} {} {:?} {:?} {:?} {:?} {} {:?} {:?}",
            agent.name(),
            agent.version(),
            agent.stop_sequences(),
            agent.failure_patterns(),
            agent.verdict(verdict_line),
            agent.output_format(),
            agent.answers_on_pipe(),
            agent.acp_command().unwrap().map(CommandLine::into_argv),
            agent
                .prompt_on_stdin("fix the bug please")
                .unwrap()
                .map(|piped| piped.command.into_argv()),
        )
    }

    #[test]
    fn the_wrappers_pass_on_everything_the_adapter_says() {
        // Cline answers differently from the defaults in every method.
        let bare = says(&Cline::new());
        let prepared = prepare(Box::new(Cline::new()), "fix the bug please", true).unwrap();
        assert_eq!(says(prepared.agent.as_ref()), bare);
        let tailored = crate::tailored::Tailored::new(prepared.agent);
        assert_eq!(says(&tailored), bare);
        assert!(!Cline::new().answers_on_pipe() && bare.contains("ClineJson"));
    }

    #[test]
    fn aider_reads_the_prompt_from_a_private_file_removed_after_the_run() {
        let prompt = format!("-rf {}", "x".repeat(200 * 1024));
        let prepared = prepare(Box::new(Aider::new()), &prompt, true).unwrap();
        let dir = prepared
            .dir
            .as_ref()
            .expect("a run directory")
            .path()
            .to_owned();
        let argv = prepared.agent.cmd(&prompt).unwrap().into_argv();
        let file = dir.join("prompt.txt");
        assert_eq!(
            argv.last().unwrap(),
            &format!("--message-file={}", file.display())
        );
        assert_eq!(fs::read_to_string(&file).unwrap(), prompt);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        drop(prepared);
        assert!(!dir.exists());
    }

    #[test]
    fn gemini_with_a_base_url_gets_its_own_settings_home() {
        let config = AgentConfig::new().base_url("http://127.0.0.1:9");
        let prepared = prepare(Box::new(Gemini::with_config(config)), "hi", true).unwrap();
        let dir = prepared
            .dir
            .as_ref()
            .expect("a run directory")
            .path()
            .to_owned();
        let env = Environment::clean().merge(&prepared.agent.env());
        let home = PathBuf::from(&env.vars()["GEMINI_CLI_HOME"]);
        assert!(home.starts_with(&dir));
        let settings = fs::read_to_string(home.join(".gemini/settings.json")).unwrap();
        assert!(settings.contains("gemini-api-key"), "{settings}");
        // Nothing to prepare without a base URL.
        let plain = prepare(Box::new(Gemini::new()), "hi", true).unwrap();
        assert!(plain.dir.is_none());
        drop(prepared);
        assert!(!dir.exists());
    }

    #[test]
    fn nothing_is_prepared_for_a_container() {
        let config = AgentConfig::new().base_url("http://127.0.0.1:9");
        let prepared = prepare(Box::new(Cline::with_config(config)), "hi there", false).unwrap();
        assert!(prepared.dir.is_none());
        let env = Environment::clean().merge(&prepared.agent.env());
        assert!(!env.vars().contains_key("CLINE_PROVIDER_SETTINGS_PATH"));
    }
}
