//! Every program's family of waiting dialogs, reconstructed from the
//! templates in its shipped source (the pinned versions under
//! `/var/cache/logist-e2e`; see `docs/waiting-texts.md`) with varied
//! inserted names, paths and commands, drawn in frames of varied widths
//! (the program wrapping long rows inside its box) and on terminals of
//! varied widths (the terminal wrapping them), is recognised by the
//! sentinel; every waiting text is what recognises at least one of them;
//! and neither the programs' ordinary output (recorded from the real
//! programs) nor a model's prose quoting the dialogs is taken for one.

use std::time::Instant;

use logist_agents::registry;
use logist_core::{OutputChunk, Pattern, ProcessId, Stream, TerminalSize};
use logist_sentinel::{DEFAULT_SETTLE, Event, Observer, OnPrompt, Policy};

/// Names a program inserts into its dialogs: files, paths, commands,
/// hosts and tools, short and long, with spaces, quotes and non-ASCII.
const NAMES: &[&str] = &[
    "hello.txt",
    "src/deeply/nested/module/with_a_rather_long_name_indeed.rs",
    "/tmp/ünïcode dir/файл — copy (2).txt",
    "npm test -- --watch=false",
    "docs.example.com",
];

/// Frame widths (columns, borders included) a dialog is drawn in.
const WIDTHS: &[usize] = &[44, 80, 140];

/// How a program draws its dialogs.
#[derive(Clone, Copy)]
enum Chrome {
    /// A rounded box: `╭──╮`, `│ row │`, `╰──╯`.
    Boxed,
    /// Rows indented by two spaces, a rule above (Claude Code 2.x, Codex).
    Ruled,
    /// Plain lines, as a line-mode program prints them: the terminal,
    /// not the program, wraps them.
    Plain,
}

/// One reconstructed dialog: the program, its rows (as the program
/// composes them, before wrapping) and how it draws them.
struct Dialog {
    agent: &'static str,
    chrome: Chrome,
    rows: Vec<String>,
}

fn dialog(agent: &'static str, chrome: Chrome, rows: &[&str]) -> Dialog {
    Dialog {
        agent,
        chrome,
        rows: rows.iter().map(|row| (*row).to_owned()).collect(),
    }
}

/// The last path component, as Claude Code shows a file in its question.
fn base(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// The dialogs of every program for one inserted `name`, each as the
/// program's source composes it (the string each row comes from is in the
/// adapter's waiting text `source`).
fn dialogs(name: &str) -> Vec<Dialog> {
    let b = base(name);
    let first = name.split(' ').next().unwrap_or(name);
    use Chrome::{Boxed, Plain, Ruled};
    vec![
        // Claude Code 2.1.197.
        dialog(
            "claude-code",
            Ruled,
            &[
                "Bash command",
                &format!("  {name}"),
                "  Run the tests",
                "Do you want to proceed?",
                "❯ 1. Yes",
                &format!("  2. Yes, and don't ask again for {first} commands in /home/u/project"),
                "  3. No, and tell Claude what to do differently (esc)",
            ],
        ),
        dialog(
            "claude-code",
            Ruled,
            &[
                "Edit file",
                &format!(" {name}"),
                "  12 -    return 1;",
                "  12 +    return 2;",
                &format!("Do you want to make this edit to {b}?"),
                "❯ 1. Yes",
                "  2. Yes, allow all edits during this session (shift+tab)",
                "  3. No, and tell Claude what to do differently (esc)",
            ],
        ),
        dialog(
            "claude-code",
            Ruled,
            &[
                "Create file",
                &format!("Do you want to create {b}?"),
                "❯ 1. Yes",
                "  2. Yes, allow all edits during this session (shift+tab)",
                "  3. No, and tell Claude what to do differently (esc)",
            ],
        ),
        dialog(
            "claude-code",
            Ruled,
            &[
                "Create file",
                &format!(" {name}"),
                &format!("Do you want to create {b}?"),
                "  1. Yes",
                "  2. Yes, allow all edits during this session (shift+tab)",
                "❯ 3. No",
                "",
                "Esc to cancel · Tab to amend",
            ],
        ),
        dialog(
            "claude-code",
            Ruled,
            &[
                "Overwrite file",
                &format!("Do you want to overwrite {b}?"),
                "  1. Yes",
                "❯ 2. No",
            ],
        ),
        dialog(
            "claude-code",
            Ruled,
            &[
                "Fetch",
                &format!("Claude wants to fetch content from {name}"),
                "Do you want to allow Claude to fetch this content?",
                "  1. Yes",
                &format!("❯ 2. Yes, and don't ask again for {name}"),
                "  3. No, and tell Claude what to do differently (esc)",
            ],
        ),
        dialog(
            "claude-code",
            Ruled,
            &[
                "Tool use",
                &format!("  fs - read_file(path: \"{name}\") (MCP)"),
                "Do you want to proceed?",
                "  1. Yes",
                &format!("  2. Yes, and don't ask again for fs - read_file commands in {name}"),
                "❯ 3. No",
                "     and tell Claude what to do differently",
            ],
        ),
        dialog(
            "claude-code",
            Ruled,
            &[
                "Read directory",
                &format!("  Yes, and always allow access to {name} from this project"),
                "  Deny, and tell Claude what to do differently (esc)",
            ],
        ),
        dialog(
            "claude-code",
            Boxed,
            &[
                "Accessing workspace:",
                &format!("/home/u/{name}"),
                "Quick safety check: Is this a project you created or one you trust? (Like your own code, a well-known open source project, or work from your team). If not, take a moment to review what's in this folder first.",
                "❯ 1. Yes, I trust this folder",
                "  2. No, exit",
                "Enter to confirm · Esc to cancel",
            ],
        ),
        dialog(
            "claude-code",
            Boxed,
            &[
                "WARNING: Claude Code running in Bypass Permissions mode",
                "❯ 1. No, exit",
                "  2. Yes, I accept",
            ],
        ),
        dialog(
            "claude-code",
            Boxed,
            &[
                &format!("Which file should I change, {b} or another one?"),
                "❯ 1. This one",
                "  2. Another",
                "Enter to select · ↑/↓ to navigate · Esc to cancel",
            ],
        ),
        // Codex 0.169.0.
        dialog(
            "codex",
            Ruled,
            &[
                "Would you like to run the following command?",
                "  Reason: run the project's tests",
                &format!("  $ {name}"),
                "› 1. Yes, just this once (y)",
                &format!(
                    "  2. Yes, and don't ask again for commands that start with `{first}` (p)"
                ),
                "  3. No, and tell Codex what to do differently (esc)",
            ],
        ),
        dialog(
            "codex",
            Ruled,
            &[
                "Would you like to make the following edits?",
                &format!("  {name} (+3 -1)"),
                "› 1. Yes, just this once (y)",
                "  2. Yes, and don't ask again for these files (a)",
                "  3. No, and tell Codex what to do differently (esc)",
            ],
        ),
        dialog(
            "codex",
            Ruled,
            &[
                "Would you like to grant these permissions?",
                &format!("  write: {name}"),
                "  1. Yes, grant these permissions for this turn",
                "  2. Yes, and allow these permissions for this session",
                "› 3. No, continue without permissions",
            ],
        ),
        dialog(
            "codex",
            Ruled,
            &[
                &format!("  Network access to {name}"),
                "  1. Yes, and allow this host for this conversation",
                "  2. Yes, and allow this host in the future",
                "› 3. No, and block this host in the future",
            ],
        ),
        dialog(
            "codex",
            Ruled,
            &[
                &format!("  You are in /home/u/{name}"),
                "  Trust this folder? Codex can read, edit, and run files here, subject to your permission settings.",
                "› 1. Yes, continue",
                "  2. No, quit",
            ],
        ),
        dialog(
            "codex",
            Ruled,
            &[
                "  Hooks need review",
                &format!("  {name}"),
                "› 1. Trust all and continue",
                "  2. Continue without trusting",
            ],
        ),
        dialog(
            "codex",
            Ruled,
            &[
                "Approve app tool call?",
                &format!("  {b}.run"),
                "› 1. Yes",
                "  2. No",
            ],
        ),
        dialog(
            "codex",
            Ruled,
            &[
                "  Welcome to Codex",
                "› 1. Sign in with ChatGPT",
                "  2. Sign in with Device Code",
                "  3. Provide your own API key",
            ],
        ),
        dialog(
            "codex",
            Ruled,
            &[
                "  Full access carries a higher risk.",
                "› 1. Yes, continue anyway",
                "  2. Go back without enabling full access",
            ],
        ),
        // Gemini CLI 0.61.0.
        dialog(
            "gemini",
            Boxed,
            &[
                &format!("? WriteFile Writing to {name}"),
                "  1 + hello",
                "Apply this change?",
                "● 1. Allow once",
                "  2. Allow for this session",
                "  3. Allow for this file in all future sessions",
                "  4. Modify with external editor",
                "  5. No, suggest changes (esc)",
            ],
        ),
        dialog(
            "gemini",
            Boxed,
            &[
                &format!("? Shell {name}"),
                &format!("Allow execution of: '{first}'?"),
                "● 1. Allow once",
                "  2. Allow for this session",
                "  3. Allow this command for all future sessions",
                "  4. No, suggest changes (esc)",
            ],
        ),
        dialog(
            "gemini",
            Boxed,
            &[
                &format!("Allow execution of MCP tool \"{b}\" from server \"fs\"?"),
                "● 1. Allow once",
                "  2. Allow tool for this session",
                "  3. Allow all server tools for this session",
                "  4. No, suggest changes (esc)",
            ],
        ),
        dialog(
            "gemini",
            Boxed,
            &[
                &format!("? WebFetch {name}"),
                "Do you want to proceed?",
                "  1. Allow once",
                "  2. Allow for all future sessions",
                "● 3. No, suggest changes (esc)",
            ],
        ),
        dialog(
            "gemini",
            Boxed,
            &[
                "Do you trust the files in this folder?",
                &format!(
                    "Trusting a folder allows Gemini to execute commands it suggests in {name}."
                ),
                "● 1. Trust folder (w)",
                "  2. Trust parent folder (tmp)",
                "  3. Don't trust",
            ],
        ),
        dialog(
            "gemini",
            Boxed,
            &[
                "Do you trust the following folders being added to this workspace?",
                &format!("- {name}"),
            ],
        ),
        dialog(
            "gemini",
            Boxed,
            &[
                "A potential loop was detected",
                "● 1. Disable loop detection for this session",
                "  2. Keep loop detection enabled (esc)",
            ],
        ),
        dialog(
            "gemini",
            Boxed,
            &[
                "Ready to start implementation?",
                &format!("Plan: {name}"),
                "● 1. Yes, automatically accept edits",
                "  2. Yes, manually accept edits",
            ],
        ),
        dialog(
            "gemini",
            Boxed,
            &[
                "Get started",
                "How would you like to authenticate for this project?",
                "● 1. Login with Google",
                "  2. Use Gemini API Key",
            ],
        ),
        dialog(
            "gemini",
            Boxed,
            &[" Waiting for authentication... (Press Esc or Ctrl+C to cancel)"],
        ),
        dialog(
            "gemini",
            Boxed,
            &[
                "Gemini Code Assist for individuals Privacy Notice",
                "Allow Google to use this data to develop and improve our products and services?",
                "● 1. Yes",
                "  2. No",
            ],
        ),
        dialog(
            "gemini",
            Boxed,
            &["How would you like to proceed?", &format!("  {name}")],
        ),
        // Qwen Code 0.15.10.
        dialog(
            "qwen",
            Boxed,
            &[
                &format!("? WriteFile Writing to {name}"),
                "Apply this change?",
                "● 1. Yes, allow once",
                "  2. Always allow in this project",
                "  3. Always allow for this user",
                "  4. No, suggest changes (esc)",
            ],
        ),
        dialog(
            "qwen",
            Boxed,
            &[
                &format!("? Shell {name}"),
                &format!("Allow execution of: '{first}'?"),
                "● 1. Yes, allow once",
                "  2. Always allow run_shell_command in this project",
                "  3. No, suggest changes (esc)",
            ],
        ),
        dialog(
            "qwen",
            Plain,
            &[
                &format!("  ? Edit {name}"),
                "  ⠏ Waiting for user confirmation...",
            ],
        ),
        dialog(
            "qwen",
            Boxed,
            &[
                &format!("? WebFetch {name}"),
                "Do you want to proceed?",
                "  1. Yes, allow once",
                "  2. Yes, allow always",
                "● 3. No (esc)",
            ],
        ),
        dialog(
            "qwen",
            Boxed,
            &[
                "Do you trust this folder?",
                &format!(
                    "Trusting a folder allows Qwen Code to execute commands it suggests in {name}."
                ),
                "● 1. Trust folder (w)",
                "  2. Trust parent folder (tmp)",
                "  3. Don't trust (esc)",
            ],
        ),
        dialog(
            "qwen",
            Boxed,
            &[
                "Would you like to proceed?",
                &format!("Plan: {name}"),
                "● 1. Yes, and auto-accept edits",
                "  2. Yes, and manually approve edits",
                "  3. No, keep planning (esc)",
            ],
        ),
        dialog(
            "qwen",
            Boxed,
            &[
                "Select Authentication Method",
                "● 1. Qwen OAuth",
                "  2. OpenAI",
            ],
        ),
        dialog(
            "qwen",
            Boxed,
            &[
                "Waiting for Qwen OAuth authentication...",
                &format!("  {name}"),
            ],
        ),
        // Copilot CLI 1.0.102.
        dialog(
            "copilot",
            Boxed,
            &[
                "Run command",
                &format!("  {name}"),
                "Do you want to run this command?",
                "❯ 1. Yes",
                &format!("  2. Yes, and don't ask again for `{first}` in this folder"),
                "  3. No, and tell Copilot what to do differently (Esc)",
            ],
        ),
        dialog(
            "copilot",
            Boxed,
            &[
                &format!("Tool call: {b}"),
                "Do you want to allow this tool call?",
                "  1. Yes",
                &format!("❯ 2. Yes, and approve \"{b}\" for the rest of the session"),
                "  3. No, and tell Copilot what to do differently (Esc)",
            ],
        ),
        dialog(
            "copilot",
            Boxed,
            &[
                "Edit file",
                &format!("Do you want to edit {name}?"),
                "  1. Yes",
                "  2. Yes, and don't ask again for file operations when in this folder",
                "❯ 3. No, and tell Copilot what to do differently (Esc)",
            ],
        ),
        dialog(
            "copilot",
            Boxed,
            &[
                "Allow path access",
                &format!("  {name}"),
                "Do you want to allow this?",
                "  1. Yes",
                "❯ 2. Something else, and tell Copilot what to do differently",
            ],
        ),
        dialog(
            "copilot",
            Boxed,
            &[
                "Confirm folder trust",
                &format!("  {name}"),
                "Do you trust the files in this folder?",
                "❯ 1. Yes",
                "  2. Yes, and remember this folder for future sessions",
                "  3. No (Esc)",
            ],
        ),
        // OpenCode 1.18.33.
        dialog(
            "opencode",
            Ruled,
            &[
                "△ Permission required",
                &format!("  → Edit {name}"),
                "   Allow once   Allow always   Reject          ⇆ select  enter confirm",
            ],
        ),
        dialog(
            "opencode",
            Ruled,
            &[
                &format!("  ← Access external directory {name}"),
                "   Allow once   Allow always   Reject",
            ],
        ),
        dialog(
            "opencode",
            Ruled,
            &[
                "△ Reject permission",
                "  Tell OpenCode what to do differently",
            ],
        ),
        // Cline 3.0.65.
        dialog(
            "cline",
            Boxed,
            &[
                "Cline needs permission",
                "Approve tool call?",
                &format!("  editor {name}"),
                "[y] Approve  [n] Deny",
            ],
        ),
        dialog(
            "cline",
            Plain,
            &[&format!(
                "Approve \"execute_command\" {{\"command\":\"{first}\"}} [y/N] "
            )],
        ),
        dialog(
            "cline",
            Boxed,
            &["Cline is asking a question", &format!("Which file, {b}?")],
        ),
    ]
}

/// Aider 0.86.2's questions: every `confirm_ask` call site's text, with
/// the options it composes (`aider/io.py`).
fn aider_questions(name: &str) -> Vec<String> {
    let questions = [
        "Add URL to the chat?".to_owned(),
        "Add command output to the chat?".to_owned(),
        "Add file to the chat?".to_owned(),
        "Add .aider* to .gitignore (recommended)?".to_owned(),
        "Add 12.5k tokens of command output to the chat?".to_owned(),
        "Allow collection of anonymous analytics to help improve aider?".to_owned(),
        "Allow edits to file that has not been added to the chat?".to_owned(),
        "Attempt to fix lint errors?".to_owned(),
        "Create new file?".to_owned(),
        format!("Fix lint errors in {name}?"),
        "Login to OpenRouter or create a free account?".to_owned(),
        format!("No files matched 'x'. Do you want to create {name}?"),
        "No git repo found, create one to track aider's changes (recommended)?".to_owned(),
        "Run shell command?".to_owned(),
        "Try to proceed anyway?".to_owned(),
    ];
    let options = [
        " (Y)es/(N)o [Yes]: ",
        " (Y)es/(N)o [No]: ",
        " (Y)es/(N)o/(A)ll/(S)kip all [Yes]: ",
        " (Y)es/(N)o/(A)ll/(S)kip all/(D)on't ask again [Yes]: ",
        " (Y)es/(N)o/(D)on't ask again [Yes]: ",
    ];
    questions
        .iter()
        .flat_map(|question| {
            options
                .iter()
                .map(move |options| format!("{name}\n{question}{options}"))
        })
        .collect()
}

/// `text` wrapped at word boundaries into rows of at most `width`
/// characters (a word longer than a row is cut), as the programs' layout
/// engines wrap a row inside their frame.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut rows = Vec::new();
    let indent: String = text.chars().take_while(|c| *c == ' ').collect();
    let mut row = indent.clone();
    for word in text.split(' ').filter(|word| !word.is_empty()) {
        let len = row.chars().count();
        let needed = if len > indent.len() { 1 } else { 0 } + word.chars().count();
        if len + needed > width && len > indent.len() {
            rows.push(std::mem::replace(&mut row, indent.clone()));
        }
        if row.chars().count() > indent.len() {
            row.push(' ');
        }
        row.push_str(word);
        while row.chars().count() > width {
            let head: String = row.chars().take(width).collect();
            let tail: String = row.chars().skip(width).collect();
            rows.push(head);
            row = tail;
        }
    }
    rows.push(row);
    rows
}

/// The dialog drawn in a frame `width` columns wide, as bytes a terminal
/// receives (each row back at column 1), below a line of earlier output.
fn draw(dialog: &Dialog, width: usize) -> Vec<u8> {
    let inner = width.saturating_sub(4).max(8);
    let mut lines = vec!["Earlier output of the session.".to_owned(), String::new()];
    match dialog.chrome {
        Chrome::Boxed => {
            lines.push(format!("╭{}╮", "─".repeat(inner + 2)));
            for row in &dialog.rows {
                for part in wrap(row, inner) {
                    let pad = inner.saturating_sub(part.chars().count());
                    lines.push(format!("│ {part}{} │", " ".repeat(pad)));
                }
            }
            lines.push(format!("╰{}╯", "─".repeat(inner + 2)));
        }
        Chrome::Ruled => {
            lines.push("─".repeat(width));
            for row in &dialog.rows {
                lines.extend(wrap(row, inner).into_iter().map(|part| format!(" {part}")));
            }
        }
        Chrome::Plain => lines.extend(dialog.rows.iter().cloned()),
    }
    let mut text = lines.join("\r\n");
    // The last row of a line-mode question has no line end (the cursor
    // waits after it); a frame's last row has one.
    if !matches!(dialog.chrome, Chrome::Plain) {
        text.push_str("\r\n");
    }
    text.into_bytes()
}

/// The stop sequences the sentinel reports for `output`, read with
/// `stops` while the program is still there: on a terminal `cols` wide
/// (the screen path), or on pipes when `cols` is `None`; the settle window
/// passes after the last byte.
fn found(stops: &[Pattern], output: &[u8], cols: Option<u16>) -> Vec<String> {
    let policy = Policy::new().on_prompt(OnPrompt::Wait);
    let mut observer = Observer::new(stops, &[], policy).unwrap();
    if let Some(cols) = cols {
        observer = observer.terminal(TerminalSize { rows: 60, cols }).unwrap();
    }
    let now = Instant::now();
    observer.spawned(ProcessId::new("dialog"), now);
    observer.output(
        &OutputChunk {
            stream: Stream::Stdout,
            offset: 0,
            data: output.to_vec(),
        },
        now,
    );
    observer.tick(now + DEFAULT_SETTLE);
    let mut stops = Vec::new();
    while let Some(event) = observer.poll_event() {
        if let Event::WaitingForInput { matched, .. } = event {
            stops.push(matched.pattern.to_string());
        }
    }
    stops
}

fn stops_of(agent: &str) -> Vec<Pattern> {
    registry::get(agent, Default::default())
        .unwrap()
        .stop_sequences()
}

/// Every reconstructed screen, as (program, description, bytes, terminal
/// width or pipes).
fn corpus() -> Vec<(&'static str, String, Vec<u8>, Option<u16>)> {
    let mut screens = Vec::new();
    for name in NAMES {
        for dialog in dialogs(name) {
            for &width in WIDTHS {
                let label = format!("{:?} at {width} columns", dialog.rows);
                // A line-mode program's rows wrap at the terminal's width.
                let cols = match dialog.chrome {
                    Chrome::Plain => u16::try_from(width).unwrap(),
                    _ => 200,
                };
                screens.push((dialog.agent, label, draw(&dialog, width), Some(cols)));
            }
        }
        // Aider's questions vary by text and options more than by name.
        let aider = if NAMES[..2].contains(name) {
            aider_questions(name)
        } else {
            Vec::new()
        };
        for question in aider {
            let bytes = question.replace('\n', "\r\n").into_bytes();
            // On pipes, and on terminals narrow enough to wrap it.
            screens.push(("aider", question.clone(), bytes.clone(), None));
            for cols in [40, 200] {
                screens.push((
                    "aider",
                    format!("{question} at {cols}"),
                    bytes.clone(),
                    Some(cols),
                ));
            }
        }
    }
    screens
}

#[test]
fn every_reconstructed_dialog_is_recognised() {
    let corpus = corpus();
    let mut missed = Vec::new();
    for (agent, label, bytes, cols) in &corpus {
        if found(&stops_of(agent), bytes, *cols).is_empty() {
            missed.push(format!("{agent}: {label}"));
        }
    }
    assert!(
        missed.is_empty(),
        "{} of {} dialog screens not recognised:\n{}",
        missed.len(),
        corpus.len(),
        missed.join("\n")
    );
    // The corpus covers every program with a waiting table built from
    // its source.
    for agent in [
        "claude-code",
        "codex",
        "gemini",
        "qwen",
        "copilot",
        "opencode",
        "cline",
        "aider",
    ] {
        assert!(corpus.iter().any(|(a, ..)| *a == agent), "{agent}");
    }
}

/// Each waiting text built from a program's source recognises at least one
/// reconstructed dialog on its own: none is dead weight, and a pattern
/// broken by an edit fails here.
#[test]
fn every_source_derived_waiting_text_recognises_a_dialog() {
    let corpus = corpus();
    for agent in [
        "claude-code",
        "codex",
        "gemini",
        "qwen",
        "copilot",
        "opencode",
        "cline",
        "aider",
    ] {
        let program = registry::get(agent, Default::default()).unwrap();
        for text in program.waiting_texts() {
            // Texts seen only in third-party material, older versions or
            // headless refusals are checked in `tables`.
            let derived = text.source.contains(" bundle")
                || text.source.contains(" binary")
                || text.source.contains("cli.js")
                || text.source.contains("cli-main.js")
                || text.source.contains("io.py confirm_ask");
            if !derived {
                continue;
            }
            let stop = [text.stop_sequence()];
            let hit = corpus
                .iter()
                .filter(|(a, ..)| *a == agent)
                .any(|(_, _, bytes, cols)| !found(&stop, bytes, *cols).is_empty());
            assert!(
                hit,
                "{agent}: {} recognises no reconstructed dialog",
                text.text
            );
        }
    }
}

/// What the programs print in ordinary runs, recorded from the pinned
/// programs against the fake model server (replies and file-writing tool
/// calls), read on pipes and drawn on a terminal: no stop sequence.
#[test]
fn ordinary_output_is_never_a_dialog() {
    let fixtures: &[(&str, &str)] = &[
        ("claude-code", include_str!("samples/claude-ok.txt")),
        ("codex", include_str!("samples/codex-ok.txt")),
        ("gemini", include_str!("samples/gemini-ok.txt")),
        ("qwen", include_str!("samples/qwen-ok.txt")),
        ("aider", include_str!("samples/aider-ok.txt")),
        ("copilot", include_str!("samples/copilot-ok.txt")),
        (
            "claude-code",
            include_str!("../../../logist-events/tests/fixtures/claude-code-reply.out"),
        ),
        (
            "claude-code",
            include_str!("../../../logist-events/tests/fixtures/claude-code-write.out"),
        ),
        (
            "codex",
            include_str!("../../../logist-events/tests/fixtures/codex-reply.out"),
        ),
        (
            "codex",
            include_str!("../../../logist-events/tests/fixtures/codex-write.out"),
        ),
        (
            "gemini",
            include_str!("../../../logist-events/tests/fixtures/gemini-reply.out"),
        ),
        (
            "gemini",
            include_str!("../../../logist-events/tests/fixtures/gemini-write.out"),
        ),
        (
            "qwen",
            include_str!("../../../logist-events/tests/fixtures/qwen-reply.out"),
        ),
        (
            "qwen",
            include_str!("../../../logist-events/tests/fixtures/qwen-write.out"),
        ),
        (
            "copilot",
            include_str!("../../../logist-events/tests/fixtures/copilot-reply.out"),
        ),
        (
            "copilot",
            include_str!("../../../logist-events/tests/fixtures/copilot-write.out"),
        ),
        (
            "opencode",
            include_str!("../../../logist-events/tests/fixtures/opencode-reply.out"),
        ),
        (
            "opencode",
            include_str!("../../../logist-events/tests/fixtures/opencode-write.out"),
        ),
        (
            "aider",
            include_str!("../../../logist-events/tests/fixtures/aider-reply.out"),
        ),
        (
            "aider",
            include_str!("../../../logist-events/tests/fixtures/aider-write.out"),
        ),
    ];
    for (agent, output) in fixtures {
        assert!(
            output.contains("LOGIST-FAKE-OK") || output.contains("hello"),
            "{agent} fixture"
        );
        let drawn = output.replace('\n', "\r\n");
        for (bytes, cols) in [(output.as_bytes(), None), (drawn.as_bytes(), Some(120))] {
            let stops = found(&stops_of(agent), bytes, cols);
            assert!(stops.is_empty(), "{agent}: {stops:?} match ordinary output");
        }
    }
}

/// A model's answer that quotes the dialogs in prose, or writes numbered
/// lists, questions and markdown that look like them, as a program shows
/// it on its screen and prints it on pipes: no stop sequence of any
/// program matches. (A row that *starts* with a dialog's question is the
/// accepted risk: see docs/waiting-texts.md.)
#[test]
fn prose_about_dialogs_is_not_a_dialog() {
    let prose = [
        "⏺ Claude Code asks \"Do you want to proceed?\" before it runs a command.",
        "  When Codex shows Would you like to run the following command? you can answer.",
        "  The options are 1. Yes and 2. No, chosen with the arrow keys.",
        "  1. Yes, the function returns early.",
        "  2. No, it does not allow once the lock is held.",
        "  The docs say: > Do you want to continue?",
        "  [1]: https://example.com/docs",
        "  Aider answers (Y)es/(N)o questions by itself when stdin is closed.",
        "  Reply [Yes] or [No] in the chat.",
        "  Permissions: use Allow once or Allow always in the settings.",
        "  I trust this folder's tests. Should I apply this change now",
        "  We could tell the model what to do differently next time.",
        "  Select the authentication method in the settings file.",
        "  Press Esc to cancel the current turn (esc).",
        "  The prompt said: Approve tool call? and the model refused.",
    ];
    let text = prose.join("\r\n") + "\r\n";
    for agent in registry::all() {
        let stops = agent.stop_sequences();
        for (bytes, cols) in [(text.as_bytes(), Some(200)), (text.as_bytes(), None)] {
            let hits = found(&stops, bytes, cols);
            assert!(hits.is_empty(), "{}: {hits:?} match prose", agent.name());
        }
    }
}

/// Screens captured here from the pinned programs on a pseudo-terminal (50
/// rows, 200 columns, fresh home and directory, default approval, the fake
/// model server asking for a file-writing tool call), raw as the terminal
/// received them for 25–30 s: each is recognised, and each of the patterns
/// named (by a part of its text) recognises it on its own.
#[test]
fn captured_screens_are_recognised() {
    let screens: &[(&str, &[u8], &[&str])] = &[
        (
            "claude-code",
            include_bytes!("../fixtures/screens/claude-create.bin"),
            &[
                r"Do\s+you\s+want\s+to",
                r"❯\s*1\.\s+Yes",
                r"Tab\s+to\s+amend",
            ],
        ),
        (
            "claude-code",
            include_bytes!("../fixtures/screens/claude-api-key.bin"),
            &[r"use\s+this\s+API\s+key"],
        ),
        (
            "gemini",
            include_bytes!("../fixtures/screens/gemini-edit.bin"),
            &[
                "Apply this change?",
                r"Yes,\s+a|A)llow\s+once",
                r"\d\.\s+[^\n]{1,60}\(esc\)",
                r"for\s+(?:this\s+session",
            ],
        ),
        (
            "gemini",
            include_bytes!("../fixtures/screens/gemini-trust.bin"),
            &[
                r"Do\s+you\s+trust\s+(?:the\s+files",
                r"Trust\s+(?:parent\s+)?folder",
            ],
        ),
        (
            "qwen",
            include_bytes!("../fixtures/screens/qwen-edit.bin"),
            &[
                "Apply this change?",
                r"Yes,\s+allow\s+(?:once|always)",
                r"user\s+confirmation",
            ],
        ),
        (
            "cline",
            include_bytes!("../fixtures/screens/cline-approve.bin"),
            &[r#"Approve "[^"\n]{1,80}""#],
        ),
        (
            "opencode",
            include_bytes!("../fixtures/screens/opencode-edit.bin"),
            &["Permission required", r"Allow\s+once\s+Allow\s+always"],
        ),
    ];
    for (agent, screen, expected) in screens {
        let stops = found(&stops_of(agent), screen, Some(200));
        assert!(!stops.is_empty(), "{agent}: nothing recognised");
        let program = registry::get(agent, Default::default()).unwrap();
        for part in *expected {
            let text = program
                .waiting_texts()
                .iter()
                .find(|text| text.text.contains(part))
                .unwrap_or_else(|| panic!("{agent}: no waiting text contains {part:?}"));
            let alone = found(&[text.stop_sequence()], screen, Some(200));
            assert!(
                !alone.is_empty(),
                "{agent}: {} does not recognise the screen",
                text.text
            );
        }
    }
}

/// In a print-mode run (pipes), a dialog's words inside an event line (a
/// tool result quoting a file that holds them) are followed by the rest
/// of the line and its line feed: the program went on, and the settle
/// window drops the candidate. The same words ending the output (a
/// program really stopped at them) are reported.
#[test]
fn dialog_words_inside_an_event_line_are_not_waiting() {
    let quoted = concat!(
        r#"{"type":"user","message":{"content":[{"type":"tool_result","content":"#,
        r#""3. No, and tell Claude what to do differently (esc)\n  2. Yes, and don't ask again for"}]}}"#,
        "\n",
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Done."}]}}"#,
        "\n",
    );
    assert_eq!(
        found(&stops_of("claude-code"), quoted.as_bytes(), None),
        Vec::<String>::new()
    );
    let stopped = "  3. No, and tell Claude what to do differently (esc)";
    assert!(!found(&stops_of("claude-code"), stopped.as_bytes(), None).is_empty());
}
