//! The waiting-for-input and failure tables: every pattern is one the
//! sentinel accepts, every entry says where it comes from, no stop sequence
//! matches what the programs print in a normal one-shot run (recorded here
//! from the real programs against the fake model server), and the dialogs
//! the tables describe are found — by the sentinel's own matcher, fed the
//! text as live output, so that what counts is what a run would report.

use std::time::Instant;

use regex::Regex;

use logist_agents::registry;
use logist_core::{OutputChunk, Pattern, ProcessId, Stream, TerminalSize};
use logist_sentinel::{DEFAULT_SETTLE, Event, Observer, OnPrompt, Policy};

/// Normal output of verified programs, recorded with the versions pinned in
/// `cargo xtask e2e` (stdout then stderr).
const NORMAL_OUTPUT: &[(&str, &str)] = &[
    ("claude-code", include_str!("samples/claude-ok.txt")),
    ("codex", include_str!("samples/codex-ok.txt")),
    ("gemini", include_str!("samples/gemini-ok.txt")),
    ("qwen", include_str!("samples/qwen-ok.txt")),
    ("aider", include_str!("samples/aider-ok.txt")),
    ("copilot", include_str!("samples/copilot-ok.txt")),
];

/// What the sentinel reports for `output` with `agent`'s stop sequences
/// and failure patterns: the texts of the stop sequences and of the
/// failure patterns it found. `ended` tells whether the output is over (a
/// finished run) or the program is still there, on a terminal of 50 rows
/// and 200 columns (a prompt on screen, where nothing follows the last byte
/// yet; found once the settle window has passed).
fn sentinel_finds(agent: &str, output: &[u8], ended: bool) -> (Vec<String>, Vec<String>) {
    let agent = registry::get(agent, Default::default()).unwrap();
    let policy = Policy::new().on_prompt(OnPrompt::Wait);
    let mut observer =
        Observer::new(&agent.stop_sequences(), &agent.failure_patterns(), policy).unwrap();
    if !ended {
        let size = TerminalSize {
            rows: 50,
            cols: 200,
        };
        observer = observer.terminal(size).unwrap();
    }
    let now = Instant::now();
    observer.spawned(ProcessId::new("sample"), now);
    observer.output(
        &OutputChunk {
            stream: Stream::Stdout,
            offset: 0,
            data: output.to_vec(),
        },
        now,
    );
    if ended {
        observer.output_ended(now);
    } else {
        observer.tick(now + DEFAULT_SETTLE);
    }
    let (mut stops, mut failures) = (Vec::new(), Vec::new());
    while let Some(event) = observer.poll_event() {
        match event {
            Event::WaitingForInput { matched, .. } => stops.push(matched.pattern.to_string()),
            Event::FailureRecognised { matched, .. } => {
                failures.push(matched.pattern.to_string());
            }
            _ => {}
        }
    }
    (stops, failures)
}

#[test]
fn every_regex_compiles_and_every_entry_has_a_source() {
    for agent in registry::all() {
        for text in agent.waiting_texts() {
            assert!(!text.text.is_empty() && !text.source.is_empty() && !text.seen_in.is_empty());
            assert!(!text.dialog.is_empty(), "{}: {text:?}", agent.name());
            if text.regex {
                Regex::new(text.text).unwrap_or_else(|e| panic!("{}: {e}", agent.name()));
            }
        }
        assert_eq!(agent.stop_sequences().len(), agent.waiting_texts().len());
        for failure in agent.failure_patterns() {
            if let Pattern::Regex(regex) = &failure.pattern {
                Regex::new(regex).unwrap_or_else(|e| panic!("{}: {e}", agent.name()));
            }
        }
        // The sentinel refuses a pattern it cannot use, and then refuses
        // to start the run at all.
        if let Err(error) = Observer::new(
            &agent.stop_sequences(),
            &agent.failure_patterns(),
            Policy::new(),
        ) {
            panic!("{}: the sentinel refuses a pattern: {error}", agent.name());
        }
    }
}

#[test]
fn stop_sequences_do_not_match_normal_one_shot_output() {
    for (name, output) in NORMAL_OUTPUT {
        // The run really is a normal one: it holds the known answer.
        assert!(output.contains("LOGIST-FAKE-OK"), "{name} sample");
        let (stops, failures) = sentinel_finds(name, output.as_bytes(), true);
        assert!(
            stops.is_empty(),
            "{name}: {stops:?} match its normal output"
        );
        assert!(
            failures.is_empty(),
            "{name}: failure patterns {failures:?} match its normal output"
        );
    }
}

/// The dialog texts the tables promise match the screens they describe:
/// first screens captured here on a terminal (tmux, fresh home and
/// directory, the pinned versions), then screens from public sources.
#[test]
fn stop_sequences_match_the_dialogs_they_describe() {
    let screens: &[(&str, &str)] = &[
        (
            "claude-code",
            " Quick safety check: Is this a project you created or one you trust? (Like your own code, a well-known open source\n ❯ 1. Yes, I trust this folder\n   2. No, exit\n Enter to confirm · Esc to cancel",
        ),
        (
            "codex",
            "› Ask Codex to do anything\n\n  fake-model default · /tmp/w",
        ),
        (
            "gemini",
            " │ Do you trust the files in this folder?        │\n │ ● 1. Trust folder (w)   │",
        ),
        (
            "qwen",
            ">   Type your message or @path/to/file\n  ? for shortcuts",
        ),
        ("qwen", "Select Authentication Method"),
        (
            "copilot",
            "│ Confirm folder trust │\n│ Do you trust the files in this folder? │\n│ ❯ 1. Yes │",
        ),
        (
            "aider",
            "No git repo found, create one to track aider's changes (recommended)? (Y)es/(N)o [Yes]: ",
        ),
        // The same question on an 80-column terminal under `script`: wrapped.
        (
            "aider",
            "No git repo found, create one to track aider's changes (recommended)? (Y)es/(N)\no [Yes]: ",
        ),
        ("aider", "Create new file? (Y)es/(N)o [Yes]: "),
        (
            "aider",
            "Run shell command? (Y)es/(N)o/(D)on't ask again [Yes]: ",
        ),
        ("aider", "\narchitect> "),
        (
            "claude-code",
            " ❯ 1. Yes\n   2. Yes, and don't ask again\n   3. No, and tell Claude what to do differently (esc)",
        ),
        ("codex", "Would you like to run the following command?"),
        ("gemini", "● 1. Yes, allow once\n  2. Yes, allow always"),
        ("amp", "Would you like to log in to Amp? [(y)es, (n)o]: "),
        // Headless refusals of a tool that needs permission (`--approval
        // ask` without a terminal), recorded here from the real programs.
        (
            "claude-code",
            r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","content":"Claude requested permissions to write to /tmp/w/hello.txt, but you haven't granted it yet.","is_error":true}]}}"#,
        ),
        (
            "copilot",
            r#"{"type":"tool.execution_complete","data":{"success":false,"error":{"message":"Permission denied because no interactive user response was available. Retry in an interactive session"}}}"#,
        ),
        (
            "opencode",
            "! permission requested: edit (hello.txt); auto-rejecting\n",
        ),
        (
            "cline",
            r#"   ⎿ error: {"error":"Tool \"editor\" requires approval in a TTY session -- NOT a tool or system failure."}"#,
        ),
    ];
    for (name, screen) in screens {
        // As a terminal receives it: each line back at column 1.
        let drawn = screen.replace('\n', "\r\n");
        let (stops, _) = sentinel_finds(name, drawn.as_bytes(), false);
        assert!(!stops.is_empty(), "{name}: nothing matches {screen:?}");
    }
}

/// Raw output of the pinned programs on a pseudo-terminal (50 rows, 200
/// columns, fresh home and directory), as `HostRuntime` read it, up to the
/// end of the first match; recorded by the end-to-end tests with
/// `LOGIST_E2E_SAVE_SCREENS`. Claude Code places each word of its dialog
/// with a cursor move (`CSI n G`), which the sentinel reads as a space.
const PTY_SCREENS: &[(&str, &[u8], &str)] = &[
    (
        "claude-code",
        include_bytes!("samples/pty/claude-code.bin"),
        "\"Quick safety check: Is this a project you created or one you trust\"",
    ),
    (
        "codex",
        include_bytes!("samples/pty/codex.bin"),
        "\"Ask Codex to do anything\"",
    ),
    (
        "gemini",
        include_bytes!("samples/pty/gemini.bin"),
        "\"Type your message or @path/to/file\"",
    ),
    (
        "qwen",
        include_bytes!("samples/pty/qwen.bin"),
        "\"Type your message or @path/to/file\"",
    ),
    (
        "aider",
        include_bytes!("samples/pty/aider.bin"),
        r"/\[(Yes|No)\]: /",
    ),
    (
        "copilot",
        include_bytes!("samples/pty/copilot.bin"),
        "\"Confirm folder trust\"",
    ),
];

/// The recordings end where the prompt was recognised: the same stop
/// sequence is found there, while the program is still waiting.
#[test]
fn stop_sequences_match_real_terminal_output() {
    for (name, screen, expected) in PTY_SCREENS {
        let (stops, _) = sentinel_finds(name, screen, false);
        assert_eq!(stops.first().map(String::as_str), Some(*expected), "{name}");
    }
}

/// Aider's bare chat prompt is not a stop sequence: a model's quoted line
/// looks the same.
#[test]
fn a_quoted_line_is_not_aiders_prompt() {
    let reply = b"The docs say:\n\n> Use the force\n\nTokens: 5 sent, 9 received.\n";
    assert_eq!(sentinel_finds("aider", reply, true), (vec![], vec![]));
}
