//! The conformance suite of the Logist [`Runtime`] contract: the checks
//! every runtime crate runs against itself.
//!
//! The contract is written in the docs of [`logist_core::Runtime`]; this
//! crate turns it into executable checks. A runtime crate implements
//! [`Fixture`] (how to make a fresh runtime, how to tell whether a process
//! it started is still alive, what it left behind) and expands the test
//! macros in one of its test files:
//!
//! ```rust,no_run
//! use std::path::PathBuf;
//!
//! use logist_conformance::Fixture;
//! use logist_core::{CommandLine, Runtime};
//! use logist_mock::{MockRuntime, PROGRAM_NAME};
//!
//! /// How the suite runs your runtime; here, the mock one.
//! struct MockFixture;
//!
//! impl Fixture for MockFixture {
//!     fn runtime(&self) -> Box<dyn Runtime> {
//!         Box::new(MockRuntime::new())
//!     }
//!     fn mock_agent(&self, args: &[&str]) -> CommandLine {
//!         // The mock agent program, as your runtime's processes see it.
//!         CommandLine::new(std::iter::once(PROGRAM_NAME).chain(args.iter().copied())).unwrap()
//!     }
//!     fn pid_alive(&self, _pid: u32) -> bool {
//!         false // is this pid, as printed inside a process, alive?
//!     }
//!     fn scratch_dir(&self) -> PathBuf {
//!         std::env::temp_dir() // a directory your processes see at the same path
//!     }
//!     fn leftovers(&self) -> Vec<String> {
//!         Vec::new() // anything your runtimes left running
//!     }
//! }
//!
//! logist_conformance::core_tests!(MockFixture);       // any runtime
//! // logist_conformance::shell_tests!(MyFixture);     // processes with a POSIX shell
//! // logist_conformance::process_tests!(MyFixture);   // real process trees
//! ```
//!
//! Each macro generates one `#[test]` per check, so a failure names the
//! check. Every check runs on a fresh runtime, which is dropped at the end;
//! then [`Fixture::leftovers`] must be empty, so every check also verifies
//! that the runtime left nothing running.
//!
//! The checks run the mock agent program of `logist-mock` (whose scenarios
//! write known bytes: prompts without newlines, byte-by-byte drips,
//! floods, non-UTF-8, processes that ignore SIGTERM or spawn grandchildren)
//! and ordinary POSIX tools (`sh`, `sleep`, `cat`, `printf`, `head`, `env`,
//! `pwd`).
//!
//! - [`core_tests!`]: for any runtime, even a process-free one: ids, exit
//!   statuses, terminate (polite, stubborn, twice, after exit), wait
//!   timeouts, concurrency, labels, removal, and the mock scenarios
//!   (interactive prompt and answers, drip, binary bytes, exact floods on
//!   one and both streams, environment).
//! - [`shell_tests!`]: byte-exact shell scripts: signals, prompts without
//!   newlines, split sequences, non-UTF-8, both pipes full, interleaving,
//!   tails, incremental reads, stdin.
//! - [`process_tests!`]: real processes: whole-tree termination (including
//!   descendants that left the process group), a grandchild holding the
//!   output open, spawn errors, environment and working directory,
//!   resources after thousands of spawns, large outputs with bounded
//!   memory, and dropping the runtime with children running. The two
//!   checks that measure the whole test process (resources, memory) run in
//!   a copy of the test binary of their own under `cargo test`, where tests
//!   are threads of one process; under cargo-nextest they run directly.
//! - [`reattach_tests!`]: for runtimes that offer durable runs
//!   ([`SpawnRequest::durable`]): a later instance on the same backing
//!   state adopts them, with their output from offset 0 (including what
//!   was printed while no instance existed), stdin, `terminate`, the
//!   exact exit status, labels and listing. The fixture also implements
//!   [`ReattachFixture`] (the factory of instances); see [`reattach`].
//!
//! [`Runtime`]: logist_core::Runtime

mod alone;
pub mod checks;
mod harness;
pub mod reattach;

pub use alone::alone;
pub use reattach::ReattachFixture;

use std::path::PathBuf;

use logist_core::{CommandLine, Runtime, SpawnRequest};

pub use harness::{Harness, LONG, spawn_blocked};

/// What the suite needs to know about the runtime under test.
pub trait Fixture: Send + Sync {
    /// A fresh runtime for one check, with its default settings (the checks
    /// set per-process grace periods where they need short ones).
    fn runtime(&self) -> Box<dyn Runtime>;

    /// A command that runs `script` with a POSIX shell.
    fn shell(&self, script: &str) -> CommandLine {
        CommandLine::new(["sh", "-c", script]).expect("a shell command line is valid")
    }

    /// The mock agent program (`logist-mock-agent`) with these arguments,
    /// as the runtime's processes see it.
    fn mock_agent(&self, args: &[&str]) -> CommandLine;

    /// A command that exits at once with `code`.
    fn exits_with(&self, code: i32) -> CommandLine {
        self.mock_agent(&["--scenario", &format!("exit:{code}"), "--", "conformance"])
    }

    /// A command that runs until it is killed and dies of SIGTERM.
    fn runs_until_killed(&self) -> CommandLine {
        self.mock_agent(&["--scenario", "hang", "--", "conformance"])
    }

    /// True while the process with this pid, as printed by `$!` or `$$`
    /// inside a process of the runtime, is alive (and not a zombie).
    fn pid_alive(&self, pid: u32) -> bool;

    /// The session id of the process with this pid (both as seen inside
    /// the runtime's processes, like [`pid_alive`](Self::pid_alive)), or
    /// `None` when it is gone. By default read from `/proc/<pid>/stat`,
    /// which is right where the runtime's processes share this process's
    /// pid namespace (a host runtime). A runtime whose processes have their
    /// own namespace (containers) translates.
    fn session_of(&self, pid: u32) -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Field 6 (session), counted after the command name's `)`.
        stat.rsplit(')')
            .next()?
            .split_whitespace()
            .nth(3)?
            .parse()
            .ok()
    }

    /// Sends `signal` (a name, like `STOP`) to the process with this pid,
    /// as seen inside the runtime's processes, and returns once it was
    /// delivered. By default another process of `runtime` runs `kill
    /// -SIGNAL pid`, which reaches it where the runtime's processes share
    /// one pid namespace (a host); a fixture whose processes each have
    /// their own (containers) delivers it another way.
    ///
    /// # Panics
    ///
    /// When the signal could not be sent.
    fn send_signal(&self, runtime: &dyn Runtime, pid: u32, signal: &str) {
        let request = SpawnRequest::new(self.shell(&format!("kill -{signal} {pid}")));
        let id = runtime.spawn(&request).expect("spawn `kill`");
        let done = runtime.wait(&id, Some(LONG)).expect("wait for `kill`");
        assert!(
            done.status.success(),
            "kill -{signal} {pid} failed with {}: {}",
            done.status,
            done.logs
        );
    }

    /// A directory that exists, is empty, and is seen by processes of the
    /// runtime at the same path (for working-directory checks and files).
    fn scratch_dir(&self) -> PathBuf;

    /// Anything runtimes made by this fixture left running, described for
    /// a failure message. Called after a check dropped its runtime.
    fn leftovers(&self) -> Vec<String>;

    /// How many spawn/wait/remove cycles the resource check runs.
    fn churn_count(&self) -> usize {
        10_000
    }

    /// How many cycles the resource check runs first, unmeasured, to warm
    /// up allocator pools, connection pools and lazily started threads.
    fn churn_warmup(&self) -> usize {
        100
    }

    /// Bytes written by the large-output check.
    fn large_output_bytes(&self) -> u64 {
        100 * 1024 * 1024
    }
}

/// Expands to one `#[test]` per check of [`checks::core`], each run on
/// `$fixture` (an expression evaluated per test). Any runtime can run these,
/// even one without operating-system processes.
#[macro_export]
macro_rules! core_tests {
    ($fixture:expr) => {
        $crate::__tests!($fixture; core;
            unknown_ids_are_errors_everywhere,
            exit_codes_are_reported,
            terminate_polite,
            terminate_after_exit_and_twice,
            wait_timeout_leaves_process_running,
            wait_from_many_threads,
            concurrent_calls_on_many_processes,
            labels_info_list_and_remove,
            scenario_success_streams,
            scenario_exit_and_crash,
            scenario_interactive_prompt_and_answers,
            scenario_drip_arrives_in_pieces,
            scenario_binary_bytes_are_exact,
            scenario_flood_is_exact,
            scenario_flood_both_streams,
            scenario_stubborn_needs_the_kill,
            scenario_env_is_what_was_asked,
        );
    };
}

/// Expands to one `#[test]` per check of [`checks::shell`]: runtimes whose
/// processes have a POSIX shell.
#[macro_export]
macro_rules! shell_tests {
    ($fixture:expr) => {
        $crate::__tests!($fixture; shell;
            death_by_signal_is_reported,
            prompt_without_newline_is_visible_at_once,
            sequence_split_across_writes_arrives_whole,
            non_utf8_bytes_are_kept,
            stdout_and_stderr_full_at_once_do_not_deadlock,
            streams_are_kept_apart_and_interleaved,
            tail_returns_last_lines,
            incremental_reads_resume_block_and_finish,
            stdin_is_null_by_default,
            stdin_can_be_written_and_closed,
            terminate_stubborn_escalates_after_grace,
        );
    };
}

/// Expands to one `#[test]` per check of [`checks::process`]: runtimes of
/// real operating-system processes.
#[macro_export]
macro_rules! process_tests {
    ($fixture:expr) => {
        $crate::__tests!($fixture; process;
            terminate_kills_the_whole_tree,
            scenario_tree_is_terminated,
            terminate_reaches_descendants_outside_the_group,
            group_members_ignoring_term_are_killed_after_grace,
            stopped_processes_are_terminated,
            grandchild_holding_the_pipe_does_not_hang_wait,
            spawn_errors_are_typed,
            environment_inherit_clean_and_pass,
            working_directory_is_used,
            arguments_are_passed_literally,
            drop_stops_every_process,
        );
        // These measure the whole test process: each runs in a process of
        // its own, so that tests running beside it under `cargo test`
        // (threads of one process) do not count.
        $crate::__tests_alone!($fixture; process;
            large_output_is_exact_or_counted_with_bounded_memory,
            resources_return_after_many_spawns,
        );
    };
}

/// Expands to one `#[test]` per check of [`reattach`], each run on
/// `$fixture` (an expression evaluated per test, implementing
/// [`ReattachFixture`]): runtimes that offer durable runs.
///
/// `reattach_tests!(fixture; attached_teardown)` also checks that an
/// attached (not durable) run does not survive its instance being dropped
/// ([`reattach::attached_runs_end_with_their_owner`]), for runtimes where
/// that holds.
#[macro_export]
macro_rules! reattach_tests {
    ($fixture:expr) => {
        $crate::__reattach_tests!($fixture;
            output_is_replayed_after_adoption,
            stdin_reaches_an_adopted_run,
            terminate_stops_an_adopted_run,
            exit_status_is_exact_after_adoption,
            adopted_runs_are_listed_with_their_labels,
        );
    };
    ($fixture:expr; attached_teardown) => {
        $crate::reattach_tests!($fixture);
        $crate::__reattach_tests!($fixture; attached_runs_end_with_their_owner);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __reattach_tests {
    ($fixture:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                $crate::reattach::$check(&$fixture);
            }
        )*
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __tests {
    ($fixture:expr; $group:ident; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                $crate::checks::$group::$check(&$fixture);
            }
        )*
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __tests_alone {
    ($fixture:expr; $group:ident; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                if $crate::alone(module_path!(), stringify!($check)) {
                    $crate::checks::$group::$check(&$fixture);
                }
            }
        )*
    };
}

/// The README's examples, compiled and run as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
