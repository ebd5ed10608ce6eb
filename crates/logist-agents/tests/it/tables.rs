//! The waiting-for-input and failure tables: every regular expression
//! compiles, every entry says where it comes from, and no stop sequence
//! matches what the programs print in a normal one-shot run (recorded here
//! from the real programs against the fake model server).

use regex::Regex;

use logist_agents::registry;
use logist_core::Pattern;

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

fn matches(pattern: &Pattern, text: &str) -> bool {
    match pattern {
        Pattern::Literal(literal) => text.contains(literal.as_str()),
        Pattern::Regex(regex) => Regex::new(regex).unwrap().is_match(text),
    }
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
    }
}

#[test]
fn stop_sequences_do_not_match_normal_one_shot_output() {
    for (name, output) in NORMAL_OUTPUT {
        let agent = registry::get(name, Default::default()).unwrap();
        // The run really is a normal one: it holds the known answer.
        assert!(output.contains("LOGIST-FAKE-OK"), "{name} sample");
        for stop in agent.stop_sequences() {
            assert!(
                !matches(&stop, output),
                "{name}: {stop} matches its normal output"
            );
        }
        for failure in agent.failure_patterns() {
            assert!(
                !matches(&failure.pattern, output),
                "{name}: failure {} {} matches its normal output",
                failure.cause,
                failure.pattern
            );
        }
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
        ("aider", "\n> "),
        ("aider", "\narchitect> "),
        (
            "claude-code",
            " ❯ 1. Yes\n   2. Yes, and don't ask again\n   3. No, and tell Claude what to do differently (esc)",
        ),
        ("codex", "Would you like to run the following command?"),
        ("gemini", "● 1. Yes, allow once\n  2. Yes, allow always"),
        ("amp", "Would you like to log in to Amp? [(y)es, (n)o]: "),
    ];
    for (name, screen) in screens {
        let agent = registry::get(name, Default::default()).unwrap();
        assert!(
            agent
                .stop_sequences()
                .iter()
                .any(|stop| matches(stop, screen)),
            "{name}: nothing matches {screen:?}"
        );
    }
}
