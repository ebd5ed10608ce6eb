//! The command line of `logist-mock-agent`, parsed by hand, and
//! [`program_script`]: everything the program does for a given argv, as a
//! script. The program and [`MockRuntime`](crate::MockRuntime) both call it.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use crate::error::ArgsError;
use crate::scenario::{Options, PROGRAM_NAME, Scenario};
use crate::script::Script;

/// The program's help text.
pub const USAGE: &str = "\
usage: logist-mock-agent [--scenario NAME] [--delay-ms N] [--bytes N] [--stream stdout|stderr|both] [--] PROMPT
       logist-mock-agent [OPTIONS] --prompt-stdin

A scripted stand-in for an AI coding agent, for tests and demos.

options:
  --scenario NAME   what to do (default: success); one of
                    success, hang, api_error, context_full, auth_error,
                    interactive, drip, flood, stubborn, tree, crash,
                    binary, env, exit:N (N from 0 to 255)
  --delay-ms N      pause between steps in milliseconds (default: 5)
  --bytes N         how much `flood` writes, with an optional K, M or G
                    suffix (powers of 1024; default: 1M)
  --stream S        where `flood` writes: stdout, stderr or both (default: stdout)
  --prompt-stdin    read the prompt from standard input, to its end, instead
                    of taking a PROMPT argument
  -h, --help        print this help
  --                end of options: the next argument is the prompt, even
                    if it starts with `-`
";

/// What a command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Play a scenario.
    Run(Options),
    /// Print [`USAGE`] and exit 0.
    Help,
}

/// Parses the program's arguments (without the program name).
///
/// Options may be given as `--name value` or `--name=value`; a repeated
/// option takes its last value. `--` ends the options. A lone `-` is a
/// positional argument.
///
/// ```
/// use logist_mock::{Parsed, Scenario, parse_args};
///
/// let Parsed::Run(options) = parse_args(["--scenario", "exit:4", "--", "-rf /"])? else {
///     unreachable!()
/// };
/// assert_eq!(options.scenario, Scenario::Exit(4));
/// assert_eq!(options.prompt, b"-rf /");
/// # Ok::<(), logist_mock::ArgsError>(())
/// ```
///
/// # Errors
///
/// [`ArgsError`] naming what is wrong.
pub fn parse_args<I, S>(args: I) -> Result<Parsed, ArgsError>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let mut args = args.into_iter().map(Into::into);
    let mut options = Options::new(Scenario::Success, Vec::new());
    let mut prompt: Option<Vec<u8>> = None;
    while let Some(argument) = args.next() {
        let bytes = argument.as_encoded_bytes();
        if bytes == b"--" {
            for rest in args.by_ref() {
                positional(rest, &mut prompt)?;
            }
            break;
        }
        if !bytes.starts_with(b"-") || bytes == b"-" {
            positional(argument, &mut prompt)?;
            continue;
        }
        let text = utf8(argument)?;
        if text == "-h" || text == "--help" {
            return Ok(Parsed::Help);
        }
        if text == "--prompt-stdin" {
            options.prompt_from_stdin = true;
            continue;
        }
        let (name, inline) = match text.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_owned(), Some(value.to_owned()))
            }
            _ => (text, None),
        };
        if !["--scenario", "--delay-ms", "--bytes", "--stream"].contains(&name.as_str()) {
            return Err(ArgsError::UnknownOption { option: name });
        }
        let value = match inline {
            Some(value) => value,
            None => match args.next() {
                Some(value) => utf8(value)?,
                None => return Err(ArgsError::MissingValue { option: name }),
            },
        };
        let invalid = |expected| ArgsError::InvalidValue {
            option: name.clone(),
            value: value.clone(),
            expected,
        };
        match name.as_str() {
            "--scenario" => options.scenario = value.parse()?,
            "--delay-ms" => {
                options.delay_ms = value
                    .parse()
                    .map_err(|_| invalid("a whole number of milliseconds"))?;
            }
            "--bytes" => {
                options.bytes = parse_size(&value)
                    .ok_or_else(|| invalid("a byte count such as 4096, 64K, 1M or 1G"))?;
            }
            _ => {
                options.stream = value
                    .parse()
                    .map_err(|()| invalid("stdout, stderr or both"))?;
            }
        }
    }
    match (prompt, options.prompt_from_stdin) {
        (Some(prompt), false) => options.prompt = prompt,
        (None, true) => {}
        (None, false) => return Err(ArgsError::MissingPrompt),
        (Some(prompt), true) => {
            return Err(ArgsError::UnexpectedArgument {
                argument: String::from_utf8_lossy(&prompt).into_owned(),
            });
        }
    }
    Ok(Parsed::Run(options))
}

/// Everything the program does for these arguments (without the program
/// name): the scenario's script, the help text (exit 0), or a usage error
/// on stderr (exit 2).
///
/// ```
/// use logist_mock::{Step, program_script};
///
/// let script = program_script(["--scenario", "nope", "x"]);
/// assert_eq!(script.steps().last(), Some(&Step::Exit(2)));
/// ```
pub fn program_script<I, S>(args: I) -> Script
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    match parse_args(args) {
        Ok(Parsed::Run(options)) => options.script(),
        Ok(Parsed::Help) => Script::new().stdout(USAGE).exit(0),
        Err(error) => Script::new()
            .stderr(format!("{PROGRAM_NAME}: {error}\n\n{USAGE}"))
            .exit(2),
    }
}

/// Takes `argument` as the prompt, unless there already is one.
fn positional(argument: OsString, prompt: &mut Option<Vec<u8>>) -> Result<(), ArgsError> {
    if prompt.is_some() {
        return Err(ArgsError::UnexpectedArgument {
            argument: argument.to_string_lossy().into_owned(),
        });
    }
    *prompt = Some(argument.into_vec());
    Ok(())
}

/// The argument as UTF-8, or the typed error.
fn utf8(argument: OsString) -> Result<String, ArgsError> {
    argument
        .into_string()
        .map_err(|argument| ArgsError::NotUnicode {
            argument: argument.to_string_lossy().into_owned(),
        })
}

/// `4096`, `64K`, `1M`, `2G` (powers of 1024; `k`, `m`, `g` too).
fn parse_size(text: &str) -> Option<u64> {
    let (digits, unit) = match text.char_indices().last()? {
        (at, 'K' | 'k') => (&text[..at], 1 << 10),
        (at, 'M' | 'm') => (&text[..at], 1 << 20),
        (at, 'G' | 'g') => (&text[..at], 1 << 30),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::FloodStream;
    use crate::script::Step;

    #[track_caller]
    fn run(args: &[&str]) -> Options {
        match parse_args(args.iter().copied()) {
            Ok(Parsed::Run(options)) => options,
            other => panic!("expected options, got {other:?}"),
        }
    }

    #[track_caller]
    fn error(args: &[&str]) -> String {
        parse_args(args.iter().copied()).unwrap_err().to_string()
    }

    #[test]
    fn defaults() {
        assert_eq!(run(&["hello"]), Options::new(Scenario::Success, "hello"));
    }

    #[test]
    fn every_option_in_both_forms() {
        let options = run(&[
            "--scenario",
            "flood",
            "--delay-ms=40",
            "--bytes",
            "64K",
            "--stream=both",
            "p",
        ]);
        assert_eq!(options.scenario, Scenario::Flood);
        assert_eq!(options.delay_ms, 40);
        assert_eq!(options.bytes, 65536);
        assert_eq!(options.stream, FloodStream::Both);
        assert_eq!(
            run(&["--scenario=hang", "--scenario", "env", "p"]).scenario,
            Scenario::Env
        );
    }

    #[test]
    fn double_dash_lets_the_prompt_look_like_an_option() {
        assert_eq!(run(&["--", "--scenario"]).prompt, b"--scenario");
        assert_eq!(run(&["--", "-"]).prompt, b"-");
        assert_eq!(run(&["-"]).prompt, b"-");
        assert_eq!(run(&["--", ""]).prompt, b"");
        assert_eq!(run(&["--", "a=b"]).prompt, b"a=b");
    }

    #[test]
    fn prompt_stdin_takes_no_prompt_argument() {
        let options = run(&["--scenario", "interactive", "--prompt-stdin"]);
        assert!(options.prompt_from_stdin);
        assert_eq!(options.scenario, Scenario::Interactive);
        assert!(!run(&["p"]).prompt_from_stdin);
        assert_eq!(
            error(&["--prompt-stdin", "--", "-p"]),
            "unexpected argument `-p` (the prompt must be a single argument, or none with `--prompt-stdin`)"
        );
        // After `--` it is the prompt, not the option.
        assert_eq!(run(&["--", "--prompt-stdin"]).prompt, b"--prompt-stdin");
        // The script reads the prompt first, then plays the scenario.
        assert!(matches!(
            run(&["--prompt-stdin"]).script().steps(),
            [Step::ReadPrompt(options)] if !options.prompt_from_stdin
        ));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("2k"), Some(2048));
        assert_eq!(parse_size("3M"), Some(3 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        for bad in ["", "K", "-1", "1.5M", "1T", "+4", "99999999999999999999"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(error(&[]), "missing prompt");
        assert_eq!(error(&["--scenario", "hang"]), "missing prompt");
        assert_eq!(error(&["-x", "p"]), "unknown option `-x`");
        assert_eq!(error(&["--verbose=1", "p"]), "unknown option `--verbose`");
        assert_eq!(error(&["p", "--bytes"]), "option `--bytes` needs a value");
        assert_eq!(
            error(&["--delay-ms", "soon", "p"]),
            "invalid value `soon` for `--delay-ms` (expected a whole number of milliseconds)"
        );
        assert_eq!(
            error(&["--stream", "both!", "p"]),
            "invalid value `both!` for `--stream` (expected stdout, stderr or both)"
        );
        assert_eq!(
            error(&["a", "b"]),
            "unexpected argument `b` (the prompt must be a single argument, or none with `--prompt-stdin`)"
        );
        assert_eq!(
            error(&["--", "a", "b"]),
            "unexpected argument `b` (the prompt must be a single argument, or none with `--prompt-stdin`)"
        );
        assert!(
            error(&["--scenario", "x", "p"]).starts_with("unknown scenario `x` (known: success, ")
        );
        assert_eq!(
            error(&["--scenario", "exit:300", "p"]),
            "invalid exit code `300` in scenario `exit:300` (expected 0 to 255)"
        );
    }

    #[test]
    fn prompt_bytes_need_not_be_utf8_but_options_must() {
        let prompt = OsString::from_vec(vec![b'a', 0xff]);
        let Ok(Parsed::Run(options)) = parse_args([OsString::from("--"), prompt]) else {
            panic!("a non-UTF-8 prompt is accepted");
        };
        assert_eq!(options.prompt, [b'a', 0xff]);
        let bad = OsString::from_vec(vec![b'-', b'-', 0xff]);
        assert!(matches!(
            parse_args([bad, OsString::from("p")]),
            Err(ArgsError::NotUnicode { .. })
        ));
    }

    #[test]
    fn help_and_usage_errors_become_scripts() {
        assert_eq!(parse_args(["--help"]), Ok(Parsed::Help));
        assert_eq!(parse_args(["x", "-h"]), Ok(Parsed::Help));
        assert_eq!(program_script(["-h"]), Script::new().stdout(USAGE).exit(0));
        let usage_error = program_script(["--bogus"]);
        assert_eq!(
            usage_error,
            Script::new()
                .stderr(format!(
                    "logist-mock-agent: unknown option `--bogus`\n\n{USAGE}"
                ))
                .exit(2)
        );
    }
}
