//! Asking an installed program for its version, through a
//! [`Runtime`], and reading the number out of the
//! answer.

use std::time::Duration;

use logist_core::{CommandLine, Environment, Error, Runtime, SpawnRequest};

use crate::adapter::AgentProgram;
use crate::error::VersionError;

/// How much of the program's output an error message quotes.
const QUOTED: usize = 200;

/// Runs `<program> --version` with `runtime` and returns the version
/// number it prints (`2.1.197` from `2.1.197 (Claude Code)`, `0.169.0` from
/// `codex-cli 0.169.0`).
///
/// The program runs with the caller's environment plus the adapter's
/// ([`Agent::env`](logist_core::Agent::env)), stdin from `/dev/null`, and
/// is stopped when it takes longer than `timeout`. Its record is removed
/// from the runtime afterwards, whatever happened.
///
/// # Errors
///
/// [`VersionError::Run`] when the runtime cannot start or wait for it,
/// [`VersionError::Timeout`], [`VersionError::Failed`] for an unsuccessful
/// exit, [`VersionError::NoVersion`] when the output holds no version.
pub fn installed_version(
    agent: &dyn AgentProgram,
    runtime: &dyn Runtime,
    timeout: Duration,
) -> Result<String, VersionError> {
    let program = agent.program().to_owned();
    let run_error = |source| VersionError::Run {
        program: program.clone(),
        source,
    };
    let command = CommandLine::new([program.as_str(), "--version"]).map_err(run_error)?;
    let request = SpawnRequest::new(command).env(Environment::inherit().merge(&agent.env()));
    let id = runtime.spawn(&request).map_err(run_error)?;
    let waited = runtime.wait(&id, Some(timeout));
    if matches!(waited, Err(Error::WaitTimeout { .. })) {
        let _ = runtime.terminate(&id, true);
    }
    let _ = runtime.remove(&id);
    let completion = match waited {
        Ok(completion) => completion,
        Err(Error::WaitTimeout { .. }) => return Err(VersionError::Timeout { program, timeout }),
        Err(source) => return Err(run_error(source)),
    };
    let output = completion.logs.text().into_owned();
    let quoted: String = output.trim().chars().take(QUOTED).collect();
    if !completion.status.success() {
        return Err(VersionError::Failed {
            program,
            status: completion.status,
            output: quoted,
        });
    }
    parse_version(&output).ok_or(VersionError::NoVersion {
        program,
        output: quoted,
    })
}

/// The first version number in `text`: digits and dots with at least one
/// dot, plus a pre-release or build suffix (`1.0.0-beta.2`), with no
/// trailing dot.
///
/// ```
/// use logist_agents::parse_version;
///
/// assert_eq!(parse_version("2.1.197 (Claude Code)").as_deref(), Some("2.1.197"));
/// assert_eq!(parse_version("GitHub Copilot CLI 1.0.102.").as_deref(), Some("1.0.102"));
/// assert_eq!(parse_version("aider 0.86.2\n").as_deref(), Some("0.86.2"));
/// assert_eq!(parse_version("v1.2.3-rc.1+abc").as_deref(), Some("1.2.3-rc.1+abc"));
/// assert_eq!(parse_version("no number 42"), None);
/// ```
pub fn parse_version(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        if !bytes[start].is_ascii_digit()
            || (start > 0 && bytes[start - 1].is_ascii_alphanumeric() && bytes[start - 1] != b'v')
        {
            start += 1;
            continue;
        }
        let mut end = start;
        let mut dots = 0;
        while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.') {
            if bytes[end] == b'.' {
                dots += 1;
            }
            end += 1;
        }
        let mut number = &text[start..end];
        while let Some(stripped) = number.strip_suffix('.') {
            number = stripped;
            dots -= 1;
        }
        if dots == 0 || number.contains("..") {
            start = end.max(start + 1);
            continue;
        }
        // A suffix: `-rc.1`, `+build`, made of alphanumerics, dots and dashes.
        let mut suffix_end = start + number.len();
        if suffix_end == end && end < bytes.len() && (bytes[end] == b'-' || bytes[end] == b'+') {
            let mut cursor = end + 1;
            while cursor < bytes.len()
                && (bytes[cursor].is_ascii_alphanumeric() || b".-+".contains(&bytes[cursor]))
            {
                cursor += 1;
            }
            let suffix = text[end..cursor].trim_end_matches(['.', '-', '+']);
            if suffix.len() > 1 {
                suffix_end = end + suffix.len();
            }
        }
        return Some(text[start..suffix_end].to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[track_caller]
    fn check(text: &str, expected: Option<&str>) {
        assert_eq!(parse_version(text).as_deref(), expected, "{text:?}");
    }

    #[test]
    fn versions_as_the_programs_print_them() {
        check("2.1.197 (Claude Code)\n", Some("2.1.197"));
        check("codex-cli 0.169.0\n", Some("0.169.0"));
        check("0.61.0\n", Some("0.61.0"));
        check("aider 0.86.2\n", Some("0.86.2"));
        check(
            "GitHub Copilot CLI 1.0.102.\nRun 'copilot update'",
            Some("1.0.102"),
        );
        check(
            "0.0.1790142911-g7618fb (released 2026-09-23T05:55:11.000Z, 2mo ago)",
            Some("0.0.1790142911-g7618fb"),
        );
        check("3.0.65\n", Some("3.0.65"));
    }

    #[test]
    fn numbers_that_are_not_versions_are_skipped() {
        check("x86_64 build 42, then 1.2", Some("1.2"));
        check("v2.0.0-", Some("2.0.0"));
        check("1..2 and 3.", None);
        check("", None);
        check("node20 v3.4", Some("3.4"));
    }
}
