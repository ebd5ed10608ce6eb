//! `MockAgent`: its command lines reach the real program intact, its
//! patterns classify the program's real output, and the program is found.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use logist_core::{Agent, Environment, FailureCause, Pattern};
use logist_mock::{
    API_KEY_ENV, FloodStream, INTERACTIVE_PROMPT, Lookup, MockAgent, PROGRAM_ENV, Scenario,
};
use logist_testing::{NoSurvivors, build_mock_program, mock_agent, mock_program};

use crate::{Finished, PROGRAM, Running, run};

const HOSTILE_PROMPTS: &[&str] = &[
    "-rf /",
    "--scenario=crash",
    "--",
    "it's \"quoted\" and 'single'",
    "line one\nline two\n",
    "$(touch /tmp/pwned) `id` ${HOME}",
    "; echo hi | cat > x &",
    "",
    " leading and trailing spaces ",
    "ünïcödé ✓ \u{1b}[31mred",
];

fn agent() -> MockAgent {
    MockAgent::new(Scenario::Success).program(PROGRAM)
}

/// Runs the agent's command line with `std::process`.
fn run_agent(agent: &MockAgent, prompt: &str, piped_stdin: bool) -> Finished {
    let guard = NoSurvivors::new();
    let cmd = agent.cmd(prompt).unwrap();
    let mut command = guard.command(cmd.program());
    command.args(cmd.args());
    Running::start_command(command, piped_stdin).finish()
}

#[test]
fn hostile_prompts_are_one_literal_argument_after_double_dash() {
    for &prompt in HOSTILE_PROMPTS {
        let cmd = agent().cmd(prompt).unwrap();
        assert_eq!(cmd.argv(), [PROGRAM, "--scenario", "success", "--", prompt]);
        // And the program receives exactly that prompt.
        let done = run_agent(&agent(), prompt, false);
        assert!(done.status.success(), "{prompt:?}: {}", done.render());
        let expected = format!("Reading prompt: {prompt}\n");
        assert!(
            done.stdout.starts_with(expected.as_bytes()),
            "{prompt:?}: {}",
            done.render()
        );
    }
    assert!(agent().cmd("a\0b").is_err(), "a NUL byte cannot be passed");
}

#[test]
fn options_appear_only_when_set_in_a_fixed_order() {
    let cmd = MockAgent::new(Scenario::Flood)
        .program("/bin/mock")
        .stream(FloodStream::Both)
        .bytes(1000)
        .delay_ms(0)
        .cmd("p")
        .unwrap();
    assert_eq!(
        cmd.argv(),
        [
            "/bin/mock",
            "--scenario",
            "flood",
            "--delay-ms",
            "0",
            "--bytes",
            "1000",
            "--stream",
            "both",
            "--",
            "p"
        ]
    );
    let done = run_agent(
        &MockAgent::new(Scenario::Flood)
            .program(PROGRAM)
            .bytes(1000)
            .stream(FloodStream::Stderr),
        "p",
        false,
    );
    assert_eq!((done.stdout.len(), done.stderr.len()), (0, 1000));
}

#[test]
fn names_and_version() {
    let names: Vec<String> = Scenario::ALL
        .into_iter()
        .chain([Scenario::Exit(42)])
        .map(|scenario| MockAgent::new(scenario).name().to_owned())
        .collect();
    insta::assert_snapshot!(names.join("\n"));
    assert_eq!(agent().version(), env!("CARGO_PKG_VERSION"));
    assert_eq!(agent().scenario(), Scenario::Success);
}

#[test]
fn environment_sets_no_color_and_passes_the_key_by_name() {
    let env = agent().env();
    assert!(env.inherits());
    let resolved = Environment::clean().merge(&env).resolve_with([], |name| {
        (name == API_KEY_ENV).then(|| "sk-test".to_owned())
    });
    assert_eq!(
        resolved.into_iter().collect::<Vec<_>>(),
        [
            ("LOGIST_MOCK_API_KEY".to_owned(), "sk-test".to_owned()),
            ("NO_COLOR".to_owned(), "1".to_owned())
        ]
    );
    // The key's value is never written into the agent's environment.
    assert!(!format!("{env:?}").contains("sk-test"));
}

fn matches(pattern: &Pattern, text: &str) -> bool {
    match pattern {
        Pattern::Literal(literal) => text.contains(literal.as_str()),
        Pattern::Regex(regex) => regex::Regex::new(regex)
            .unwrap_or_else(|error| panic!("invalid pattern {pattern}: {error}"))
            .is_match(text),
    }
}

/// Everything the scenario prints (stdout then stderr), stdin at EOF.
fn output_of(scenario: Scenario) -> String {
    let done = run_agent(
        &MockAgent::new(scenario).program(PROGRAM).delay_ms(0),
        "fix it",
        false,
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&done.stderr)
    )
}

#[test]
fn failure_patterns_classify_the_real_outputs_and_nothing_else() {
    let patterns = agent().failure_patterns();
    let kinds: BTreeSet<bool> = patterns.iter().map(|p| p.pattern.is_regex()).collect();
    assert_eq!(kinds.len(), 2, "both literal and regex patterns are used");
    let cases = [
        (Scenario::ApiError, Some(FailureCause::RateLimited)),
        (Scenario::AuthError, Some(FailureCause::AuthFailed)),
        (Scenario::ContextFull, Some(FailureCause::ContextExhausted)),
        (Scenario::Success, None),
        (Scenario::Interactive, None),
        (Scenario::Drip, None),
        (Scenario::Crash, None),
        (Scenario::Binary, None),
        (Scenario::Exit(1), None),
        (Scenario::Flood, None),
    ];
    for (scenario, expected) in cases {
        let output = output_of(scenario);
        let causes: BTreeSet<String> = patterns
            .iter()
            .filter(|failure| matches(&failure.pattern, &output))
            .map(|failure| failure.cause.to_string())
            .collect();
        let expected: BTreeSet<String> = expected.iter().map(ToString::to_string).collect();
        assert_eq!(causes, expected, "{scenario}: {output:?}");
    }
}

#[test]
fn stop_sequences_match_the_question_and_nothing_else() {
    let stops = agent().stop_sequences();
    assert!(!stops.is_empty());
    for scenario in [Scenario::Interactive, Scenario::Drip] {
        // The output up to the question, as a watcher sees it before answering.
        let output = output_of(scenario);
        let asked = &output[..output.find(INTERACTIVE_PROMPT).unwrap() + INTERACTIVE_PROMPT.len()];
        assert!(
            stops.iter().any(|stop| matches(stop, asked)),
            "{scenario}: {asked:?}"
        );
    }
    for scenario in [
        Scenario::Success,
        Scenario::ApiError,
        Scenario::AuthError,
        Scenario::ContextFull,
        Scenario::Binary,
        Scenario::Flood,
    ] {
        let output = output_of(scenario);
        assert!(
            !stops.iter().any(|stop| matches(stop, &output)),
            "{scenario}"
        );
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    a.canonicalize().unwrap() == b.canonicalize().unwrap()
}

#[test]
fn lookup_finds_the_program_beside_the_test_binary() {
    // This test binary is in `target/<profile>/deps/`; cargo put the
    // program in `target/<profile>/`.
    let sibling = Lookup {
        env_var: None,
        current_exe: std::env::current_exe().ok(),
        path: None,
    };
    assert!(same_file(&sibling.locate().unwrap(), Path::new(PROGRAM)));
    // The environment variable comes first.
    let chosen = Lookup {
        env_var: Some("/bin/sh".into()),
        ..sibling.clone()
    };
    assert_eq!(chosen.locate().unwrap(), Path::new("/bin/sh"));
    // The builder's program comes before both.
    let pinned = MockAgent::new(Scenario::Hang).program("/opt/agent");
    assert_eq!(pinned.locate().unwrap(), Path::new("/opt/agent"));
    // PATH last.
    let dir = Path::new(PROGRAM).parent().unwrap();
    let on_path = Lookup {
        env_var: None,
        current_exe: Some(PathBuf::from("/nonexistent/bin/logist")),
        path: Some(std::env::join_paths(["/nonexistent/a", dir.to_str().unwrap()]).unwrap()),
    };
    assert!(same_file(&on_path.locate().unwrap(), Path::new(PROGRAM)));
    assert_eq!(PROGRAM_ENV, "LOGIST_MOCK_AGENT");
}

#[test]
fn test_helpers_find_or_build_a_working_program() {
    let found = mock_program().unwrap();
    let done = run_agent(&mock_agent(Scenario::Exit(7)).unwrap(), "p", false);
    assert_eq!(done.status.code(), Some(7));
    // Building with cargo (a no-op here: the tests' build made it) reports
    // the same program.
    let built = build_mock_program().unwrap();
    assert!(
        same_file(&built, &found) || same_file(&built, Path::new(PROGRAM)),
        "{built:?} {found:?}"
    );
    assert_eq!(run(&["--scenario", "exit:0", "p"]).status.code(), Some(0));
}
