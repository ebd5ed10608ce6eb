//! The exit codes of `logist`, one place for all of them.

use logist_core::{Error, ExitStatus, Verdict};
use logist_sentinel::Outcome;

/// `logist wait`/`attach`: the run is lost (its monitor ended without
/// recording how the run exited); never an invented code.
pub(crate) const LOST: u8 = 121;
/// Usage error: bad arguments, unknown agent, bad pattern.
pub(crate) const USAGE: u8 = 2;
/// The agent waited for input and `--on-input fail` was in force.
pub(crate) const WAITING_FOR_INPUT: u8 = 122;
/// No output for the idle limit.
pub(crate) const HUNG: u8 = 123;
/// The overall timeout passed.
pub(crate) const TIMED_OUT: u8 = 124;
/// The command could not be started (other than the two below).
pub(crate) const FAILED_TO_START: u8 = 125;
/// The program exists but is not executable.
pub(crate) const NOT_EXECUTABLE: u8 = 126;
/// The program was not found.
pub(crate) const NOT_FOUND: u8 = 127;

/// The help text's table, kept next to the values it describes.
pub(crate) const TABLE: &str = "\
Exit codes:
  N        the command's own exit code when it exits by itself
  1        the command exited 0 but its agent reported a failure
  128+N    the command died by signal N
  2        usage error (bad arguments, unknown agent, bad pattern, unknown run id)
  121      the run is lost: its monitor died without recording its exit (wait, attach)
  122      the command waited for input (--on-input fail)
  123      the command was silent for the idle limit (--idle-timeout)
  124      the overall timeout passed (--timeout)
  125      the command could not be started, or supervising it failed
  126      the program is not executable
  127      the program was not found
  130      interrupted by Ctrl-C (128+N for another signal to logist)";

/// What a signal to `logist` itself makes it return.
pub(crate) fn interrupted(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(u8::MAX)
}

/// The code for a status: its own exit code, or 128 + the signal.
pub(crate) fn status_code(status: ExitStatus) -> u8 {
    match status {
        ExitStatus::Code(code) => (code & 0xff) as u8,
        ExitStatus::Signal(signal) => u8::try_from(128 + signal).unwrap_or(u8::MAX),
    }
}

/// The exit code for a run's outcome. `signal` is the signal that
/// interrupted `logist`, if one did.
pub(crate) fn for_outcome(outcome: &Outcome, signal: Option<i32>) -> u8 {
    match outcome {
        Outcome::Completed {
            status, verdict, ..
        } => {
            if outcome.is_success() {
                0
            } else if status.success() && matches!(verdict, Some(Verdict::Failed { .. })) {
                1
            } else {
                status_code(*status)
            }
        }
        Outcome::WaitingForInput { .. } => WAITING_FOR_INPUT,
        Outcome::Hung { .. } => HUNG,
        Outcome::TimedOut { .. } => TIMED_OUT,
        Outcome::Cancelled { .. } => interrupted(signal.unwrap_or(2)),
        Outcome::FailedToStart { error } => match error.as_ref() {
            Error::ProgramNotFound { .. } => NOT_FOUND,
            Error::NotExecutable { .. } => NOT_EXECUTABLE,
            _ => FAILED_TO_START,
        },
        _ => FAILED_TO_START,
    }
}

/// The outcome's name in `--json` output.
pub(crate) fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Completed { .. } if outcome.is_success() => "completed",
        Outcome::Completed { .. } => "failed",
        Outcome::WaitingForInput { .. } => "waiting_for_input",
        Outcome::Hung { .. } => "hung",
        Outcome::TimedOut { .. } => "timed_out",
        Outcome::Cancelled { .. } => "interrupted",
        Outcome::FailedToStart { .. } => "failed_to_start",
        _ => "failed",
    }
}
