//! Testing Logist without a model or an agent program: a scripted mock agent
//! program (`logist-mock-agent`), the [`MockAgent`] that runs it, and a
//! process-free [`MockRuntime`].
//!
//! # The program
//!
//! ```text
//! logist-mock-agent [--scenario NAME] [--delay-ms N] [--bytes N] [--stream stdout|stderr|both] [--] PROMPT
//! logist-mock-agent [OPTIONS] --prompt-stdin
//! ```
//!
//! With `--prompt-stdin` the prompt is read from standard input, to its
//! end, before the scenario starts, as agents that take a piped prompt do.
//!
//! It writes like a real program: unbuffered writes to fds 1 and 2
//! (progress on stdout, warnings and errors on stderr), no randomness, a
//! pause of `--delay-ms` (default 5) between steps. A write error on stdout
//! or stderr (a closed pipe) ends it quietly with exit 1. Usage errors
//! (missing prompt, unknown option, unknown scenario, bad value) print
//! `logist-mock-agent: <problem>` and the usage on stderr and exit 2. It
//! needs nothing at run time beyond the kernel: no DNS, no locale, no
//! dynamic loading.
//!
//! | scenario | what it does | ends with |
//! |---|---|---|
//! | `success` (default) | `Reading prompt: <prompt>`, `Planning changes...`, `Editing src/lib.rs`, [`SUCCESS_WARNING`] on stderr, `Running tests... ok`, [`SUCCESS_SUMMARY`] | exit 0 |
//! | `hang` | two progress lines, then silence (sleeping) | killed |
//! | `api_error` | two progress lines, [`RATE_LIMIT_ERROR`] (HTTP 429) on stderr | exit 1 |
//! | `context_full` | three progress lines, [`CONTEXT_FULL_ERROR`] on stderr | exit 1 |
//! | `auth_error` | two progress lines, [`AUTH_ERROR`] (HTTP 401) on stderr | exit 1 |
//! | `interactive` | two progress lines, [`INTERACTIVE_PROMPT`] in one write without newline, reads a line: [`YES_ANSWERS`] print [`APPLIED`], anything else or end-of-file [`CANCELLED`] | exit 0 / exit 1 |
//! | `drip` | like `interactive`, the question written one byte per write with a pause between bytes | exit 0 / exit 1 |
//! | `flood` | `--bytes` (default 1 MiB, suffixes K/M/G) of [`flood_bytes`] to `--stream` in 64 KiB writes; `both` writes that much to each stream, alternating | exit 0 |
//! | `stubborn` | ignores SIGTERM, SIGINT, SIGHUP, *then* prints [`STUBBORN_READY`] | killed (SIGKILL) |
//! | `tree` | starts two grandchildren running `hang` (one in its process group, one in a new session, their output to `/dev/null`), prints `tree: child pid=<N>` and `tree: session child pid=<M>` (see [`parse_tree_pids`]), reaps them if they exit | killed |
//! | `crash` | [`CRASH_LINE`], core dumps off, raises SIGSEGV | signal 11 |
//! | `binary` | [`BINARY_OUTPUT`] (invalid UTF-8, NUL, a `€` split across two writes) | exit 0 |
//! | `env` | its environment, one `KEY=VALUE` per line, sorted by name, bytes as they are | exit 0 |
//! | `exit:N` | `exiting with N` | exit N (0–255) |
//!
//! Every scenario is one [`Script`] ([`Options::script`]); the program and
//! [`MockRuntime`] play the same scripts, so they cannot drift apart.
//!
//! With `--acp` first (`logist-mock-agent --acp [--auth] [--state DIR]`)
//! the program speaks the Agent Client Protocol instead, each prompt's
//! first word choosing the turn's behaviour: see [`acp`]. Only the program
//! has this mode; [`MockRuntime`] does not play it.
//!
//! # Finding the program
//!
//! [`MockAgent`] runs the program given to [`MockAgent::program`], else
//! what [`locate_program`] finds, in order: the environment variable
//! `LOGIST_MOCK_AGENT` (authoritative when set), the directory of the
//! current executable and, when that is cargo's `target/<profile>/deps/`,
//! its parent, then `PATH`. An installed CLI finds the program installed
//! next to it. (The workspace's own tests use `logist-testing`'s
//! `mock_program`, which also builds the program with cargo when it is
//! missing or older than its sources.)
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use logist_core::{Agent, ExitStatus, Runtime, SpawnRequest, StdinMode};
//! use logist_mock::{APPLIED, INTERACTIVE_PROMPT, MockAgent, MockRuntime, Scenario};
//!
//! let agent = MockAgent::new(Scenario::Interactive);
//! let runtime = MockRuntime::new();
//! let id = runtime.spawn(&SpawnRequest::new(agent.cmd("fix the bug")?).stdin(StdinMode::Piped))?;
//!
//! // Block until the question has arrived, then answer it.
//! let mut seen = Vec::new();
//! let mut from = 0;
//! while !seen.ends_with(INTERACTIVE_PROMPT.as_bytes()) {
//!     let read = runtime.read_output(&id, from, Some(Duration::from_secs(10)))?;
//!     from = read.next;
//!     seen.extend(read.chunks.into_iter().flat_map(|chunk| chunk.data));
//! }
//! runtime.write_stdin(&id, b"y\n")?;
//! let done = runtime.wait(&id, Some(Duration::from_secs(10)))?;
//! assert_eq!(done.status, ExitStatus::Code(0));
//! assert!(done.logs.text().ends_with(APPLIED));
//! # Ok::<(), logist_core::Error>(())
//! ```

pub mod acp;
mod agent;
mod args;
mod error;
mod flood;
pub mod program;
mod runtime;
mod scenario;
mod script;

pub use acp::{
    ACP_AUTH_METHOD, ACP_MEMORY_PREFIX, ACP_MODE_ASK, ACP_MODE_AUTO, ACP_NOISE, ACP_REPLY_PREFIX,
};
pub use agent::{Lookup, MockAgent, locate_program};
pub use args::{Parsed, USAGE, parse_args, program_script};
pub use error::{ArgsError, LocateError, ParseScenarioError};
pub use flood::{Checksum, FLOOD_LINE_LEN, Flood, flood_bytes, flood_checksum, write_flood};
pub use runtime::{MockConfig, MockRuntime};
pub use scenario::{
    API_KEY_ENV, APPLIED, AUTH_ERROR, BINARY_OUTPUT, BINARY_SPLIT, CANCELLED, CONTEXT_FULL_ERROR,
    CRASH_LINE, CRASH_SIGNAL, DEFAULT_DELAY_MS, DEFAULT_FLOOD_BYTES, FLOOD_WRITE_SIZE, FloodStream,
    INTERACTIVE_PROMPT, INTERACTIVE_STOP, MOCK_TREE_PIDS, Options, PROGRAM_ENV, PROGRAM_NAME,
    RATE_LIMIT_ERROR, STUBBORN_READY, SUCCESS_SUMMARY, SUCCESS_WARNING, Scenario,
    TREE_CHILD_PREFIX, TREE_SESSION_CHILD_PREFIX, YES_ANSWERS, parse_tree_pids, tree_marker,
};
pub use script::{LineBranch, Script, Step};

/// The README's examples, compiled and run as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
