//! [`MockAgent`]: the [`Agent`] for the mock program, and the lookup that
//! finds the program on disk.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use logist_core::{
    Agent, CommandLine, Environment, Error, FailureCause, FailurePattern, Pattern, PromptOnStdin,
    StopSequence,
};

use crate::error::LocateError;
use crate::scenario::{
    API_KEY_ENV, FloodStream, INTERACTIVE_STOP, PROGRAM_ENV, PROGRAM_NAME, Scenario,
};

/// The [`Agent`] whose program is `logist-mock-agent`, playing one
/// [`Scenario`].
///
/// `cmd(prompt)` is `[program, "--scenario", NAME, OPTIONS…, "--", prompt]`,
/// where the options are only those set with the builder methods. The
/// program is the one given to [`program`](Self::program), else the one
/// [`locate_program`] found when the agent was made with
/// [`new`](Self::new) (the only time the agent looks at the file system),
/// else the bare name `logist-mock-agent` (which a host runtime looks up on
/// `PATH` and [`MockRuntime`](crate::MockRuntime) plays without any file).
/// Finding nothing is therefore not an error of `cmd`: call
/// [`locate`](Self::locate) for the list of places searched.
///
/// With [`stdin_prompt`](Self::stdin_prompt), the agent also offers the
/// [`prompt_on_stdin`](Agent::prompt_on_stdin) form: the same options with
/// `--prompt-stdin` instead of `-- prompt`, and the prompt as the input.
///
/// ```
/// use logist_core::Agent;
/// use logist_mock::{MockAgent, Scenario};
///
/// let agent = MockAgent::new(Scenario::Flood)
///     .program("/opt/bin/logist-mock-agent")
///     .bytes(4096);
/// let cmd = agent.cmd("-n $(rm -rf ~)")?;
/// assert_eq!(
///     cmd.argv(),
///     ["/opt/bin/logist-mock-agent", "--scenario", "flood", "--bytes", "4096", "--", "-n $(rm -rf ~)"]
/// );
/// assert_eq!(agent.name(), "mock:flood");
/// # Ok::<(), logist_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MockAgent {
    scenario: Scenario,
    name: String,
    program: Option<PathBuf>,
    delay_ms: Option<u64>,
    bytes: Option<u64>,
    stream: Option<FloodStream>,
    stdin_prompt: bool,
}

impl MockAgent {
    /// An agent playing `scenario`, with the program's defaults for every
    /// option, running the program [`locate_program`] finds now.
    pub fn new(scenario: Scenario) -> Self {
        Self {
            scenario,
            name: format!("mock:{scenario}"),
            program: locate_program().ok(),
            delay_ms: None,
            bytes: None,
            stream: None,
            stdin_prompt: false,
        }
    }

    /// Runs this program instead of looking for one.
    #[must_use]
    pub fn program(mut self, path: impl Into<PathBuf>) -> Self {
        self.program = Some(path.into());
        self
    }

    /// Passes `--delay-ms`: the pause between steps.
    #[must_use]
    pub fn delay_ms(mut self, delay_ms: u64) -> Self {
        self.delay_ms = Some(delay_ms);
        self
    }

    /// Passes `--bytes`: how much `flood` writes.
    #[must_use]
    pub fn bytes(mut self, bytes: u64) -> Self {
        self.bytes = Some(bytes);
        self
    }

    /// Passes `--stream`: where `flood` writes.
    #[must_use]
    pub fn stream(mut self, stream: FloodStream) -> Self {
        self.stream = Some(stream);
        self
    }

    /// Offers the prompt on standard input too
    /// ([`Agent::prompt_on_stdin`]), as real agent programs that read a
    /// piped prompt do.
    ///
    /// ```
    /// use logist_core::Agent;
    /// use logist_mock::{MockAgent, Scenario};
    ///
    /// let agent = MockAgent::new(Scenario::Success).program("mock").stdin_prompt();
    /// let piped = agent.prompt_on_stdin("-rf /")?.expect("offered");
    /// assert_eq!(piped.command.argv(), ["mock", "--scenario", "success", "--prompt-stdin"]);
    /// assert_eq!(piped.input, b"-rf /");
    /// # Ok::<(), logist_core::Error>(())
    /// ```
    #[must_use]
    pub fn stdin_prompt(mut self) -> Self {
        self.stdin_prompt = true;
        self
    }

    /// The scenario.
    pub fn scenario(&self) -> Scenario {
        self.scenario
    }

    /// The program `cmd` runs: the override, or what [`locate_program`]
    /// found when the agent was made.
    ///
    /// # Errors
    ///
    /// When neither exists, [`LocateError`] from searching again, listing
    /// the places searched.
    pub fn locate(&self) -> Result<PathBuf, LocateError> {
        match &self.program {
            Some(program) => Ok(program.clone()),
            None => locate_program(),
        }
    }

    fn program_arg(&self) -> String {
        self.program
            .as_deref()
            .and_then(Path::to_str)
            .unwrap_or(PROGRAM_NAME)
            .to_owned()
    }
}

impl MockAgent {
    /// The program and the options set with the builder methods.
    fn options_argv(&self) -> Vec<String> {
        let mut argv = vec![
            self.program_arg(),
            "--scenario".to_owned(),
            self.scenario.to_string(),
        ];
        if let Some(delay_ms) = self.delay_ms {
            argv.extend(["--delay-ms".to_owned(), delay_ms.to_string()]);
        }
        if let Some(bytes) = self.bytes {
            argv.extend(["--bytes".to_owned(), bytes.to_string()]);
        }
        if let Some(stream) = self.stream {
            argv.extend(["--stream".to_owned(), stream.to_string()]);
        }
        argv
    }
}

impl Agent for MockAgent {
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        let mut argv = self.options_argv();
        argv.extend(["--".to_owned(), prompt.to_owned()]);
        CommandLine::new(argv)
    }

    fn prompt_on_stdin(&self, prompt: &str) -> Result<Option<PromptOnStdin>, Error> {
        if !self.stdin_prompt {
            return Ok(None);
        }
        let mut argv = self.options_argv();
        argv.push("--prompt-stdin".to_owned());
        Ok(Some(PromptOnStdin::new(CommandLine::new(argv)?, prompt)))
    }

    /// `[program, "--acp"]`: the program's ACP mode, where each prompt's
    /// first word picks the turn's behaviour (see [`crate::acp`]).
    fn acp_command(&self) -> Result<Option<CommandLine>, Error> {
        CommandLine::new([self.program_arg(), "--acp".to_owned()]).map(Some)
    }

    /// `NO_COLOR=1`, and [`API_KEY_ENV`] passed through by name.
    fn env(&self) -> Environment {
        Environment::inherit()
            .set("NO_COLOR", "1")
            .pass(API_KEY_ENV)
    }

    /// [`INTERACTIVE_STOP`], the `[y/N]` of the question.
    fn stop_sequences(&self) -> Vec<StopSequence> {
        vec![StopSequence::literal(INTERACTIVE_STOP)]
    }

    fn name(&self) -> &str {
        &self.name
    }

    /// This crate's version: the program is built from the same source.
    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    /// Patterns for the texts of `api_error`, `auth_error` and
    /// `context_full` (in the style real agents print), which match no
    /// other scenario's output.
    fn failure_patterns(&self) -> Vec<FailurePattern> {
        use FailureCause::{AuthFailed, ContextExhausted, RateLimited};
        vec![
            FailurePattern::new(RateLimited, Pattern::regex(r"\b429\b")),
            FailurePattern::new(RateLimited, Pattern::regex(r"(?i)\brate[ _-]?limit")),
            FailurePattern::new(AuthFailed, Pattern::regex(r"\b401\b")),
            FailurePattern::new(AuthFailed, Pattern::literal("authentication_error")),
            FailurePattern::new(AuthFailed, Pattern::regex(r"(?i)invalid (x-)?api[ -]?key")),
            FailurePattern::new(ContextExhausted, Pattern::literal("prompt is too long")),
            FailurePattern::new(
                ContextExhausted,
                Pattern::regex(r"(?i)context (window|length) exceeded"),
            ),
        ]
    }
}

/// Where [`locate_program`] looks, as data, so that the lookup can be
/// checked (and reused) with other inputs than this process's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lookup {
    /// The value of [`PROGRAM_ENV`]; an empty value counts as unset.
    pub env_var: Option<OsString>,
    /// The current executable, whose directory is searched.
    pub current_exe: Option<PathBuf>,
    /// The value of `PATH`.
    pub path: Option<OsString>,
}

impl Lookup {
    /// This process's environment variable, executable and `PATH`.
    pub fn from_env() -> Self {
        Self {
            env_var: std::env::var_os(PROGRAM_ENV),
            current_exe: std::env::current_exe().ok(),
            path: std::env::var_os("PATH"),
        }
    }

    /// Finds the program, in order:
    ///
    /// 1. the environment variable [`PROGRAM_ENV`], when set (then it is the
    ///    answer or the error: nothing else is searched);
    /// 2. the current executable's directory, and when that directory is
    ///    cargo's `deps/` (test binaries) or `examples/`, its parent
    ///    (`target/<profile>/`, where cargo puts binaries);
    /// 3. every directory of `PATH`.
    ///
    /// # Errors
    ///
    /// [`LocateError::EnvVar`] for a variable naming no executable file;
    /// [`LocateError::NotFound`] with every path checked.
    pub fn locate(&self) -> Result<PathBuf, LocateError> {
        if let Some(path) = self.env_var.as_deref().filter(|value| !value.is_empty()) {
            let path = PathBuf::from(path);
            return if is_executable_file(&path) {
                Ok(path)
            } else {
                Err(LocateError::EnvVar { path })
            };
        }
        let mut tried = Vec::new();
        if let Some(dir) = self.current_exe.as_deref().and_then(Path::parent) {
            tried.push(dir.join(PROGRAM_NAME));
            let cargo_subdir = dir
                .file_name()
                .is_some_and(|name| name == OsStr::new("deps") || name == OsStr::new("examples"));
            if let Some(parent) = dir.parent().filter(|_| cargo_subdir) {
                tried.push(parent.join(PROGRAM_NAME));
            }
        }
        if let Some(path) = &self.path {
            tried.extend(
                std::env::split_paths(path)
                    .filter(|dir| !dir.as_os_str().is_empty())
                    .map(|dir| dir.join(PROGRAM_NAME)),
            );
        }
        match tried.iter().find(|path| is_executable_file(path)) {
            Some(found) => Ok(found.clone()),
            None => Err(LocateError::NotFound { tried }),
        }
    }
}

/// Finds the `logist-mock-agent` program with this process's environment:
/// see [`Lookup::locate`] for the order.
///
/// # Errors
///
/// [`LocateError`] listing where it looked.
pub fn locate_program() -> Result<PathBuf, LocateError> {
    Lookup::from_env().locate()
}

/// A regular file (after following links) with an execute bit.
fn is_executable_file(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    struct Dirs {
        root: tempfile::TempDir,
    }

    impl Dirs {
        fn new() -> Self {
            Self {
                root: tempfile::tempdir().unwrap(),
            }
        }

        fn path(&self, relative: &str) -> PathBuf {
            self.root.path().join(relative)
        }

        /// Creates a file, executable or not, and its directories.
        fn file(&self, relative: &str, executable: bool) -> PathBuf {
            let path = self.path(relative);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, "#!/bin/sh\n").unwrap();
            let mode = if executable { 0o755 } else { 0o644 };
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            path
        }
    }

    fn lookup(dirs: &Dirs, env_var: Option<&str>, path: &[&str]) -> Lookup {
        Lookup {
            env_var: env_var.map(|relative| dirs.path(relative).into()),
            current_exe: Some(dirs.path("target/debug/deps/it-1234")),
            path: Some(std::env::join_paths(path.iter().map(|dir| dirs.path(dir))).unwrap()),
        }
    }

    #[test]
    fn lookup_order_env_var_then_sibling_then_parent_of_deps_then_path() {
        let dirs = Dirs::new();
        let on_path = dirs.file("bin/logist-mock-agent", true);
        let check = |expected: &Path| {
            let found = lookup(&dirs, None, &["empty", "bin"]).locate().unwrap();
            assert_eq!(found, expected);
        };
        check(&on_path);
        let in_profile = dirs.file("target/debug/logist-mock-agent", true);
        check(&in_profile);
        let in_deps = dirs.file("target/debug/deps/logist-mock-agent", true);
        check(&in_deps);
        let chosen = dirs.file("elsewhere/agent", true);
        let found = lookup(&dirs, Some("elsewhere/agent"), &["bin"])
            .locate()
            .unwrap();
        assert_eq!(found, chosen);
    }

    #[test]
    fn a_set_env_var_is_authoritative() {
        let dirs = Dirs::new();
        dirs.file("bin/logist-mock-agent", true);
        dirs.file("not-executable", false);
        for bad in ["missing", "not-executable", "bin"] {
            let error = lookup(&dirs, Some(bad), &["bin"]).locate().unwrap_err();
            assert!(
                matches!(&error, LocateError::EnvVar { path } if path.ends_with(bad)),
                "{error}"
            );
        }
        // An empty value counts as unset.
        let mut empty = lookup(&dirs, None, &["bin"]);
        empty.env_var = Some(OsString::new());
        assert!(empty.locate().is_ok());
    }

    #[test]
    fn not_found_lists_every_place_in_order() {
        let dirs = Dirs::new();
        dirs.file("bin/logist-mock-agent", false);
        let error = lookup(&dirs, None, &["bin", "usr/bin"])
            .locate()
            .unwrap_err();
        let LocateError::NotFound { tried } = &error else {
            panic!("expected NotFound, got {error}");
        };
        let expected: Vec<PathBuf> = [
            "target/debug/deps/logist-mock-agent",
            "target/debug/logist-mock-agent",
            "bin/logist-mock-agent",
            "usr/bin/logist-mock-agent",
        ]
        .iter()
        .map(|relative| dirs.path(relative))
        .collect();
        assert_eq!(tried, &expected);
        let message = error.to_string();
        assert!(
            message.starts_with(
                "cannot find the `logist-mock-agent` program: `LOGIST_MOCK_AGENT` is not set"
            ),
            "{message}"
        );
        assert!(message.contains("usr/bin/logist-mock-agent`"), "{message}");
        let nothing = Lookup::default().locate().unwrap_err();
        assert!(nothing.to_string().contains("no candidate"), "{nothing}");
    }

    #[test]
    fn a_plain_directory_is_not_deps() {
        let dirs = Dirs::new();
        dirs.file("target/logist-mock-agent", true);
        let lookup = Lookup {
            current_exe: Some(dirs.path("target/debug/it")),
            ..Lookup::default()
        };
        assert!(lookup.locate().is_err());
    }

    #[test]
    fn override_wins_and_cmd_falls_back_to_the_bare_name() {
        let agent = MockAgent::new(Scenario::Hang).program("/x/y");
        assert_eq!(agent.locate().unwrap(), Path::new("/x/y"));
        assert_eq!(agent.cmd("p").unwrap().program(), "/x/y");
        let unfound = MockAgent::new(Scenario::Hang).program_arg();
        assert!(
            unfound == PROGRAM_NAME || Path::new(&unfound).ends_with(PROGRAM_NAME),
            "{unfound}"
        );
    }
}
