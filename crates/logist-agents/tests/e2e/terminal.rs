//! Stop-sequence tests of the real programs on a pseudo-terminal.
//!
//! Each program that shows a prompt on a terminal is started interactively
//! — its adapter's one-shot argv without the one-shot options and the
//! prompt — on a pseudo-terminal through `HostRuntime`, in a fresh working
//! directory and a fresh home, pointed at the fake model server so nothing
//! leaves 127.0.0.1, and watched by the `Sentinel` (policy `Fail`) with the
//! adapter's own stop sequences. The sentinel must report waiting-for-input
//! and terminate the whole process tree.
//!
//! Nobody answers the programs' terminal queries (cursor position, device
//! attributes, DECRQM, colours), as nobody does when Logist runs them: all
//! six draw without answers, after a short timeout of their own.
//!
//! With `LOGIST_E2E_SAVE_SCREENS=DIR`, each test writes the raw output up
//! to the end of the match to `DIR/<agent>.bin`: the recordings that the
//! `it` tests replay through the sentinel's observer
//! (`tests/it/samples/pty/`).

use super::*;

use logist_core::{CommandLine, TerminalSize};
use serde_json::json;

/// Wide enough that no question wraps (Aider's does at 80 columns).
const SIZE: TerminalSize = TerminalSize {
    rows: 50,
    cols: 200,
};

/// The longest a program may take to show its first prompt (Copilot
/// unpacks itself into a fresh home first, 7–10 s here).
const PROMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Stands for the prompt in the one-shot argv, to find and remove it.
const NO_PROMPT: &str = "logist-no-prompt-interactive";

/// How a program is run interactively.
struct Interactive {
    program: Program,
    /// Runs of arguments removed from the one-shot argv (each must be
    /// there): the options that make a run one-shot or headless.
    one_shot: &'static [&'static [&'static str]],
    /// Writes what the program needs in its home, beyond the adapter's
    /// `prepare_home`, to reach a prompt offline.
    setup: fn(&Path),
}

fn nothing(_home: &Path) {}

const CLAUDE_TTY: Interactive = Interactive {
    program: CLAUDE,
    one_shot: &[&["-p"], &["--output-format", "stream-json"], &["--verbose"]],
    // Without it Claude Code 2.1.197 starts the onboarding, which needs
    // the network, and exits 1 offline.
    setup: |home| {
        fs::write(
            home.join(".claude.json"),
            json!({"hasCompletedOnboarding": true}).to_string(),
        )
        .unwrap();
    },
};
const CODEX_TTY: Interactive = Interactive {
    program: CODEX,
    one_shot: &[
        &["exec"],
        &["--json"],
        &["--skip-git-repo-check"],
        &["--color", "never"],
    ],
    setup: nothing,
};
const GEMINI_TTY: Interactive = Interactive {
    program: GEMINI,
    // Without `--skip-trust` a fresh folder gets the trust dialog.
    one_shot: &[&["--skip-trust"], &["--output-format", "stream-json"]],
    setup: nothing,
};
const QWEN_TTY: Interactive = Interactive {
    program: QWEN,
    one_shot: &[&["--output-format", "stream-json"]],
    setup: nothing,
};
const AIDER_TTY: Interactive = Interactive {
    program: AIDER,
    // The one-shot tests add `--no-git`; without it Aider asks whether to
    // create a repository in the fresh directory.
    one_shot: &[&["--no-git"]],
    setup: nothing,
};
const COPILOT_TTY: Interactive = Interactive {
    program: COPILOT,
    one_shot: &[&["--output-format", "json"]],
    setup: nothing,
};

/// `argv` without `run` (which must be in it).
#[track_caller]
fn remove_run(argv: &mut Vec<String>, run: &[&str]) {
    let at = argv
        .windows(run.len())
        .position(|window| window.iter().map(String::as_str).eq(run.iter().copied()))
        .unwrap_or_else(|| panic!("{run:?} is not in the one-shot argv {argv:?}"));
    argv.drain(at..at + run.len());
}

/// The interactive argv: the one-shot argv without its one-shot options,
/// without the prompt (an argument of its own, or `--option=PROMPT`) and
/// without the `--` before it.
#[track_caller]
fn interactive_argv(adapter: &dyn AgentProgram, one_shot: &[&[&str]]) -> CommandLine {
    let mut argv = adapter.cmd(NO_PROMPT).expect("command line").into_argv();
    let at = argv
        .iter()
        .position(|arg| arg == NO_PROMPT || arg.ends_with(&format!("={NO_PROMPT}")))
        .unwrap_or_else(|| panic!("no prompt in {argv:?}"));
    argv.remove(at);
    if at > 0 && argv[at - 1] == "--" {
        argv.remove(at - 1);
    }
    for run in one_shot {
        remove_run(&mut argv, run);
    }
    CommandLine::new(argv).expect("a valid argv")
}

/// Runs the program interactively on a terminal and checks that the
/// sentinel finds it waiting with one of the adapter's stop sequences, and
/// that nothing of it is left running.
fn check_prompt(interactive: Interactive) {
    let program = interactive.program;
    let dir = tempfile::tempdir().unwrap();
    let (work, home) = (dir.path().join("work"), dir.path().join("home"));
    fs::create_dir_all(&work).unwrap();
    let server = FakeModel::start_with(Script::Answer).expect("fake model server starts");
    let config = AgentConfig::new()
        .program(program_path(program))
        .home(&home);
    let adapter = (program.build)(server.url(), config);
    adapter.validate().expect("configuration is supported");
    adapter.prepare_home().expect("home is prepared");
    (interactive.setup)(&home);
    let command = interactive_argv(adapter.as_ref(), interactive.one_shot);
    let env = resolved_env(adapter.as_ref(), "xterm-256color");
    let stops = adapter.stop_sequences();
    let waiting = adapter.waiting_texts();
    let agent = Arc::new(Fixed::new(adapter, command.clone(), env));

    let watched = watch(&agent, &work, Some(SIZE), PROMPT_TIMEOUT);

    let context = format!(
        "{command}\n{:.1}s\n--- screen (escapes removed, tail) ---\n{}",
        watched.took.as_secs_f64(),
        tail(&visible(&watched.stdout))
    );
    let Outcome::WaitingForInput { matched, .. } = &watched.outcome else {
        panic!(
            "{}: expected waiting for input, got {}\n{context}",
            agent.name(),
            watched.outcome
        );
    };
    assert_eq!(
        stops.get(matched.index),
        Some(&matched.pattern),
        "the match is not one of the adapter's stop sequences\n{context}"
    );
    let text = &waiting[matched.index];
    eprintln!(
        "{}: waiting ({} dialog, {}) after {:.1}s: {:?}",
        agent.name(),
        text.dialog,
        if matched.pattern.is_regex() {
            "regex"
        } else {
            "literal"
        },
        watched.took.as_secs_f64(),
        matched.text
    );
    if let Some(dir) = std::env::var_os("LOGIST_E2E_SAVE_SCREENS") {
        let end = usize::try_from(matched.end).expect("an offset in memory");
        let path = Path::new(&dir).join(format!("{}.bin", agent.name()));
        fs::write(&path, &watched.raw[..end])
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
    assert!(
        watched.survivors.is_empty(),
        "left running after the sentinel terminated it: {:?}\n{context}",
        watched.survivors
    );
}

/// `text` with escape sequences removed and carriage returns as line
/// breaks, roughly as a person would read it (for failure messages only).
fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            c if c.is_control() && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

#[test]
fn claude_code_waits_on_a_terminal() {
    check_prompt(CLAUDE_TTY);
}

#[test]
fn codex_waits_on_a_terminal() {
    check_prompt(CODEX_TTY);
}

#[test]
fn gemini_waits_on_a_terminal() {
    check_prompt(GEMINI_TTY);
}

#[test]
fn qwen_waits_on_a_terminal() {
    check_prompt(QWEN_TTY);
}

#[test]
fn aider_waits_on_a_terminal() {
    check_prompt(AIDER_TTY);
}

#[test]
fn copilot_waits_on_a_terminal() {
    check_prompt(COPILOT_TTY);
}
