//! `DockerRuntime` against the conformance suite, in containers of the
//! busybox test image with the static mock agent mounted.
//!
//! All of `core_tests!` and `shell_tests!` run. Of `process_tests!`, two
//! checks cannot hold for a container and are replaced by tests of what
//! holds instead (in `container.rs`):
//!
//! - `grandchild_holding_the_pipe_does_not_hang_wait` expects a background
//!   process to outlive its parent and hold the output open. In a
//!   container the engine's init exits with the main process and the
//!   kernel then kills every process in the container's pid namespace, so
//!   nothing can outlive it (see `descendants_end_with_the_main_process`).
//! - `group_members_ignoring_term_are_killed_after_grace` expects a member
//!   that ignores SIGTERM to live until the grace period ends. In a
//!   container it dies, by SIGKILL from the kernel, the moment the main
//!   process exits (see `members_end_with_the_main_process_at_once`).

use crate::fixture::DockerFixture;

logist_conformance::core_tests!(DockerFixture::new());
logist_conformance::shell_tests!(DockerFixture::new());

/// One `#[test]` per named check of `logist_conformance::checks::process`.
macro_rules! process_checks {
    ($($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                logist_conformance::checks::process::$check(&DockerFixture::new());
            }
        )*
    };
    // Checks that measure the whole test process run in a process of
    // their own (under `cargo test`, tests are threads of one process).
    (alone: $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                if logist_conformance::alone(module_path!(), stringify!($check)) {
                    logist_conformance::checks::process::$check(&DockerFixture::new());
                }
            }
        )*
    };
}

process_checks!(
    terminate_kills_the_whole_tree,
    scenario_tree_is_terminated,
    terminate_reaches_descendants_outside_the_group,
    stopped_processes_are_terminated,
    spawn_errors_are_typed,
    environment_inherit_clean_and_pass,
    working_directory_is_used,
    arguments_are_passed_literally,
    drop_stops_every_process,
);
process_checks!(alone:
    large_output_is_exact_or_counted_with_bounded_memory,
    resources_return_after_many_spawns,
);
