//! The scenarios of the mock agent program, the texts they print (the
//! contract other crates test against), and the script each one plays.
//!
//! [`Options::script`] is the single description of what every scenario
//! does. The program `logist-mock-agent` plays it with real writes, sleeps
//! and signals; [`MockRuntime`](crate::MockRuntime) plays the very same
//! script in memory, so the two cannot drift apart.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::error::ParseScenarioError;
use crate::script::{LineBranch, Script, Step};

/// The program's file name: what [`MockRuntime`](crate::MockRuntime)
/// recognises and what the lookup searches for.
pub const PROGRAM_NAME: &str = "logist-mock-agent";

/// The environment variable that names the program explicitly (checked
/// before any other place; see [`locate_program`](crate::locate_program)).
pub const PROGRAM_ENV: &str = "LOGIST_MOCK_AGENT";

/// A fake API key variable that [`MockAgent`](crate::MockAgent) passes
/// through by name, the way real agents pass their keys.
pub const API_KEY_ENV: &str = "LOGIST_MOCK_API_KEY";

/// The pause between steps when `--delay-ms` is not given, in milliseconds.
pub const DEFAULT_DELAY_MS: u64 = 5;

/// How many bytes `flood` writes when `--bytes` is not given (1 MiB).
pub const DEFAULT_FLOOD_BYTES: u64 = 1024 * 1024;

/// `success`: the warning line written to stderr.
pub const SUCCESS_WARNING: &str =
    "mock-agent: a scripted warning on stderr (not from your build)\n";

/// `success`: the final summary line written to stdout.
pub const SUCCESS_SUMMARY: &str = "Done: 1 file changed, 3 tests passed.\n";

/// `api_error`: the error written to stderr (HTTP 429, as Claude Code prints
/// it).
pub const RATE_LIMIT_ERROR: &str = "API Error: 429 {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"Number of request tokens has exceeded your per-minute rate limit\"}}\n";

/// `context_full`: the error written to stderr.
pub const CONTEXT_FULL_ERROR: &str = "API Error: 400 {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"prompt is too long: 210000 tokens > 200000 maximum\"}}\nError: context window exceeded\n";

/// `auth_error`: the error written to stderr (HTTP 401).
pub const AUTH_ERROR: &str = "API Error: 401 {\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\"invalid x-api-key\"}}\nInvalid API key · Please run /login\n";

/// `interactive` and `drip`: the question, written without a newline.
pub const INTERACTIVE_PROMPT: &str = "Confirm changes? [y/N]: ";

/// The part of [`INTERACTIVE_PROMPT`] that says "waiting for input": the
/// stop sequence [`MockAgent`](crate::MockAgent) declares.
pub const INTERACTIVE_STOP: &str = "[y/N]";

/// The answers (one line, line ending removed) that `interactive` and
/// `drip` accept as "yes"; anything else, or end-of-file, cancels.
pub const YES_ANSWERS: [&str; 3] = ["y", "Y", "yes"];

/// `interactive` and `drip`: printed after a "yes" answer, before exit 0.
pub const APPLIED: &str = "Applied changes.\n";

/// `interactive` and `drip`: printed after any other answer or
/// end-of-file, before exit 1.
pub const CANCELLED: &str = "Cancelled.\n";

/// `stubborn`: printed once SIGTERM, SIGINT and SIGHUP are ignored, so a
/// test that has seen it knows a polite termination will not work.
pub const STUBBORN_READY: &str = "stubborn: ignoring SIGTERM\n";

/// `tree`: the start of the line naming the grandchild in the program's own
/// process group.
pub const TREE_CHILD_PREFIX: &str = "tree: child pid=";

/// `tree`: the start of the line naming the grandchild in its own session.
pub const TREE_SESSION_CHILD_PREFIX: &str = "tree: session child pid=";

/// `tree` in [`MockRuntime`](crate::MockRuntime): the pids its marker lines
/// show. Both are above Linux's largest possible pid (`PID_MAX_LIMIT`,
/// 4194304), so no real process has them and a test that kills them by
/// mistake harms nothing.
pub const MOCK_TREE_PIDS: [u32; 2] = [4_194_305, 4_194_306];

/// `crash`: the line printed before dying by SIGSEGV.
pub const CRASH_LINE: &str = "crash: dereferencing a dangling pointer\n";

/// `crash`: the signal the program dies by (SIGSEGV).
pub const CRASH_SIGNAL: i32 = 11;

/// `binary`: every byte the scenario writes. Holds invalid UTF-8 (`0xff`,
/// `0xfe`), a NUL byte and a multi-byte `€` that is split across two writes
/// at [`BINARY_SPLIT`].
pub const BINARY_OUTPUT: &[u8] =
    b"binary: raw bytes follow\n\xff\xfe\x00 not utf-8\nprice: 5 \xe2\x82\xac\n";

/// `binary`: the first write ends before this index, which falls inside the
/// three bytes of `€`; the second write starts here after a pause.
pub const BINARY_SPLIT: usize = 49;

/// The size of each write of `flood` (64 KiB).
pub const FLOOD_WRITE_SIZE: usize = 64 * 1024;

/// One behaviour of the mock agent program.
///
/// `FromStr` and `Display` round-trip the names used on the command line:
///
/// ```
/// use logist_mock::Scenario;
///
/// let scenario: Scenario = "exit:3".parse()?;
/// assert_eq!(scenario, Scenario::Exit(3));
/// assert_eq!(scenario.to_string(), "exit:3");
/// assert_eq!("api_error".parse::<Scenario>()?, Scenario::ApiError);
/// assert!("exit:256".parse::<Scenario>().is_err());
/// # Ok::<(), logist_mock::ParseScenarioError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Progress lines, one warning on stderr, a summary, exit 0.
    #[default]
    Success,
    /// Two progress lines, then silence until killed.
    Hang,
    /// Progress, then an HTTP 429 rate-limit error on stderr, exit 1.
    ApiError,
    /// Progress, then a context-window error on stderr, exit 1.
    ContextFull,
    /// Progress, then an HTTP 401 invalid-key error on stderr, exit 1.
    AuthError,
    /// Asks [`INTERACTIVE_PROMPT`] in one write and reads one line.
    Interactive,
    /// Like `Interactive`, writing the question one byte per write.
    Drip,
    /// Writes `--bytes` bytes of [`flood_bytes`](crate::flood_bytes) as fast
    /// as it can, in 64 KiB writes.
    Flood,
    /// Ignores SIGTERM, SIGINT and SIGHUP, prints [`STUBBORN_READY`], then
    /// waits until killed.
    Stubborn,
    /// Starts two grandchildren (one in its own session), prints their pids,
    /// and waits until killed.
    Tree,
    /// Prints [`CRASH_LINE`] and dies by SIGSEGV without a core file.
    Crash,
    /// Writes [`BINARY_OUTPUT`] in two writes, exit 0.
    Binary,
    /// Prints its environment, sorted, one `KEY=VALUE` per line, exit 0.
    Env,
    /// Prints `exiting with N` and exits with code N.
    Exit(u8),
}

impl Scenario {
    /// Every scenario without a parameter, in the order of the docs.
    pub const ALL: [Scenario; 13] = [
        Scenario::Success,
        Scenario::Hang,
        Scenario::ApiError,
        Scenario::ContextFull,
        Scenario::AuthError,
        Scenario::Interactive,
        Scenario::Drip,
        Scenario::Flood,
        Scenario::Stubborn,
        Scenario::Tree,
        Scenario::Crash,
        Scenario::Binary,
        Scenario::Env,
    ];

    /// Every scenario name as a help text shows it, `exit:N` last.
    pub const NAMES: [&'static str; 14] = [
        "success",
        "hang",
        "api_error",
        "context_full",
        "auth_error",
        "interactive",
        "drip",
        "flood",
        "stubborn",
        "tree",
        "crash",
        "binary",
        "env",
        "exit:N",
    ];

    /// The name without a parameter: `exit` for `exit:N`.
    pub fn base_name(self) -> &'static str {
        match self {
            Scenario::Success => "success",
            Scenario::Hang => "hang",
            Scenario::ApiError => "api_error",
            Scenario::ContextFull => "context_full",
            Scenario::AuthError => "auth_error",
            Scenario::Interactive => "interactive",
            Scenario::Drip => "drip",
            Scenario::Flood => "flood",
            Scenario::Stubborn => "stubborn",
            Scenario::Tree => "tree",
            Scenario::Crash => "crash",
            Scenario::Binary => "binary",
            Scenario::Env => "env",
            Scenario::Exit(_) => "exit",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scenario::Exit(code) => write!(f, "exit:{code}"),
            other => f.write_str(other.base_name()),
        }
    }
}

impl FromStr for Scenario {
    type Err = ParseScenarioError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if let Some(code) = name.strip_prefix("exit:") {
            // Only the canonical decimal form, so that names round-trip:
            // no sign, no leading zero.
            let canonical = code.bytes().all(|byte| byte.is_ascii_digit())
                && (code == "0" || !code.starts_with('0'));
            return match code.parse::<u8>() {
                Ok(code) if canonical => Ok(Scenario::Exit(code)),
                _ => Err(ParseScenarioError::BadExitCode {
                    value: code.to_owned(),
                }),
            };
        }
        Scenario::ALL
            .into_iter()
            .find(|scenario| scenario.base_name() == name)
            .ok_or_else(|| ParseScenarioError::Unknown {
                name: name.to_owned(),
            })
    }
}

/// Where `flood` writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FloodStream {
    /// Everything to stdout.
    #[default]
    Stdout,
    /// Everything to stderr.
    Stderr,
    /// `--bytes` bytes to each stream, alternating writes, so both pipes
    /// fill at once.
    Both,
}

impl FloodStream {
    /// `stdout`, `stderr` or `both`.
    pub fn as_str(self) -> &'static str {
        match self {
            FloodStream::Stdout => "stdout",
            FloodStream::Stderr => "stderr",
            FloodStream::Both => "both",
        }
    }
}

impl fmt::Display for FloodStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FloodStream {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "stdout" => Ok(FloodStream::Stdout),
            "stderr" => Ok(FloodStream::Stderr),
            "both" => Ok(FloodStream::Both),
            _ => Err(()),
        }
    }
}

/// Everything the program's command line chooses: what
/// [`parse_args`](crate::parse_args) returns.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// `--scenario` (default `success`).
    pub scenario: Scenario,
    /// `--delay-ms`: the pause between steps (default
    /// [`DEFAULT_DELAY_MS`]).
    pub delay_ms: u64,
    /// `--bytes`: how much `flood` writes (default [`DEFAULT_FLOOD_BYTES`]).
    pub bytes: u64,
    /// `--stream`: where `flood` writes (default stdout).
    pub stream: FloodStream,
    /// The prompt, as the bytes of the argument (the program accepts any
    /// bytes; [`MockAgent`](crate::MockAgent) passes UTF-8).
    pub prompt: Vec<u8>,
    /// `--prompt-stdin`: the prompt is read from standard input, to its
    /// end, when the script starts ([`Step::ReadPrompt`]).
    pub prompt_from_stdin: bool,
}

impl Options {
    /// Options with every default and this scenario and prompt.
    pub fn new(scenario: Scenario, prompt: impl Into<Vec<u8>>) -> Self {
        Self {
            scenario,
            delay_ms: DEFAULT_DELAY_MS,
            bytes: DEFAULT_FLOOD_BYTES,
            stream: FloodStream::Stdout,
            prompt: prompt.into(),
            prompt_from_stdin: false,
        }
    }

    /// The pause between steps.
    pub fn delay(&self) -> Duration {
        Duration::from_millis(self.delay_ms)
    }

    /// What the program does with these options, step by step.
    ///
    /// ```
    /// use logist_mock::{Options, Scenario, Step};
    ///
    /// let script = Options::new(Scenario::Exit(3), "hi").script();
    /// assert_eq!(script.steps().last(), Some(&Step::Exit(3)));
    /// ```
    pub fn script(&self) -> Script {
        if self.prompt_from_stdin {
            let mut options = self.clone();
            options.prompt_from_stdin = false;
            return Script::new().step(Step::ReadPrompt(Box::new(options)));
        }
        let delay = self.delay();
        let reading = [b"Reading prompt: ".as_slice(), &self.prompt, b"\n"].concat();
        let progress = Script::new()
            .stdout(reading)
            .pause(delay)
            .stdout("Planning changes...\n")
            .pause(delay);
        match self.scenario {
            Scenario::Success => progress
                .stdout("Editing src/lib.rs\n")
                .pause(delay)
                .stderr(SUCCESS_WARNING)
                .pause(delay)
                .stdout("Running tests... ok\n")
                .pause(delay)
                .stdout(SUCCESS_SUMMARY)
                .exit(0),
            Scenario::Hang => progress.hang(),
            Scenario::ApiError => progress.stderr(RATE_LIMIT_ERROR).exit(1),
            Scenario::ContextFull => progress
                .stdout("Reading 412 files into context...\n")
                .pause(delay)
                .stderr(CONTEXT_FULL_ERROR)
                .exit(1),
            Scenario::AuthError => progress.stderr(AUTH_ERROR).exit(1),
            Scenario::Interactive => progress.stdout(INTERACTIVE_PROMPT).then(confirmation()),
            Scenario::Drip => {
                let mut script = progress;
                for (index, byte) in INTERACTIVE_PROMPT.bytes().enumerate() {
                    if index > 0 {
                        script = script.pause(delay);
                    }
                    script = script.stdout([byte]);
                }
                script.then(confirmation())
            }
            Scenario::Flood => Script::new()
                .step(Step::Flood {
                    bytes: self.bytes,
                    stream: self.stream,
                })
                .exit(0),
            Scenario::Stubborn => Script::new().ignore_term().stdout(STUBBORN_READY).hang(),
            Scenario::Tree => Script::new()
                .step(Step::SpawnTree {
                    delay_ms: self.delay_ms,
                    prompt: self.prompt.clone(),
                })
                .hang(),
            Scenario::Crash => Script::new()
                .stdout(CRASH_LINE)
                .pause(delay)
                .signal(CRASH_SIGNAL),
            Scenario::Binary => Script::new()
                .stdout(&BINARY_OUTPUT[..BINARY_SPLIT])
                .pause(delay)
                .stdout(&BINARY_OUTPUT[BINARY_SPLIT..])
                .exit(0),
            Scenario::Env => Script::new().step(Step::PrintEnv).exit(0),
            Scenario::Exit(code) => Script::new()
                .stdout(format!("exiting with {code}\n"))
                .exit(i32::from(code)),
        }
    }
}

/// Reads the answer to [`INTERACTIVE_PROMPT`] and acts on it.
fn confirmation() -> Script {
    Script::new().read_line(
        LineBranch::new()
            .on(YES_ANSWERS, Script::new().stdout(APPLIED).exit(0))
            .otherwise(Script::new().stdout(CANCELLED).exit(1)),
    )
}

/// The pids in the two marker lines of the `tree` scenario
/// ([`TREE_CHILD_PREFIX`], [`TREE_SESSION_CHILD_PREFIX`]), in the order
/// they appear. Other lines, and marker lines whose pid does not parse, are
/// skipped; a final line without a newline counts.
///
/// ```
/// use logist_mock::parse_tree_pids;
///
/// let output = b"tree: child pid=4242\ntree: session child pid=4243\n";
/// assert_eq!(parse_tree_pids(output), [4242, 4243]);
/// ```
pub fn parse_tree_pids(output: &[u8]) -> Vec<u32> {
    output
        .split(|&byte| byte == b'\n')
        .filter_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let rest = line
                .strip_prefix(TREE_CHILD_PREFIX.as_bytes())
                .or_else(|| line.strip_prefix(TREE_SESSION_CHILD_PREFIX.as_bytes()))?;
            std::str::from_utf8(rest).ok()?.parse().ok()
        })
        .collect()
}

/// The marker line the `tree` scenario prints for one grandchild, newline
/// included: [`TREE_SESSION_CHILD_PREFIX`] when `session`, else
/// [`TREE_CHILD_PREFIX`], then the pid.
///
/// ```
/// assert_eq!(logist_mock::tree_marker(true, 7), "tree: session child pid=7\n");
/// ```
pub fn tree_marker(session: bool, pid: u32) -> String {
    let prefix = if session {
        TREE_SESSION_CHILD_PREFIX
    } else {
        TREE_CHILD_PREFIX
    };
    format!("{prefix}{pid}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for scenario in Scenario::ALL
            .into_iter()
            .chain([Scenario::Exit(0), Scenario::Exit(255)])
        {
            let name = scenario.to_string();
            assert_eq!(name.parse::<Scenario>().unwrap(), scenario, "{name}");
        }
        let listed: Vec<String> = Scenario::ALL.iter().map(ToString::to_string).collect();
        assert_eq!(listed, Scenario::NAMES[..13]);
    }

    #[test]
    fn bad_names_are_typed_errors() {
        let error = |name: &str| name.parse::<Scenario>().unwrap_err();
        assert_eq!(
            error("sucess"),
            ParseScenarioError::Unknown {
                name: "sucess".into()
            }
        );
        for bad in [
            "exit:", "exit:256", "exit:-1", "exit:+3", "exit:x", "exit:03",
        ] {
            assert!(
                matches!(error(bad), ParseScenarioError::BadExitCode { .. }),
                "{bad}"
            );
        }
        assert_eq!(
            error("nope").to_string(),
            "unknown scenario `nope` (known: success, hang, api_error, context_full, auth_error, \
             interactive, drip, flood, stubborn, tree, crash, binary, env, exit:N)"
        );
    }

    #[test]
    fn binary_split_falls_inside_the_euro_sign() {
        let euro = "€".as_bytes();
        let at = BINARY_OUTPUT
            .windows(euro.len())
            .position(|window| window == euro)
            .unwrap();
        assert!(at < BINARY_SPLIT && BINARY_SPLIT < at + euro.len());
        assert!(String::from_utf8(BINARY_OUTPUT.to_vec()).is_err());
        assert!(BINARY_OUTPUT.contains(&0) && BINARY_OUTPUT.contains(&0xff));
    }

    #[test]
    fn tree_pids_are_parsed_from_marker_lines_only() {
        let output = format!(
            "noise pid=1\n{}{}tree: child pid=oops\n{}",
            tree_marker(false, 10),
            tree_marker(true, 11),
            "tree: child pid=12"
        );
        assert_eq!(parse_tree_pids(output.as_bytes()), [10, 11, 12]);
        assert!(parse_tree_pids(b"").is_empty());
    }
}
