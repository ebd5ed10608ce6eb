//! The table of what each adapter supports (`docs/events.md`) is checked
//! against the code: the print-mode format is the adapter's
//! `output_format()`, resume its `resumes()`, and usage and cost whether
//! the parsed capture of the real program's runs (`logist-events`'
//! fixtures) carries them.

use std::path::{Path, PathBuf};

use logist_agents::{AgentConfig, registry};
use logist_events::{Event, Parser};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The table's rows, as cells.
fn rows() -> Vec<Vec<String>> {
    let docs = std::fs::read_to_string(root().join("docs/events.md")).unwrap();
    let start = docs
        .find("<!-- support-table:start -->")
        .expect("start marker");
    let end = docs.find("<!-- support-table:end -->").expect("end marker");
    docs[start..end]
        .lines()
        .filter(|line| line.starts_with('|'))
        .skip(2)
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_owned())
                .collect()
        })
        .collect()
}

fn yes(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// What the captures of `name`'s runs report: `(usage, cost)`, or `None`
/// when there is no capture.
fn captured(name: &str, agent: &dyn logist_core::Agent) -> Option<(bool, bool)> {
    let fixtures = root().join("crates/logist-events/tests/fixtures");
    let mut found = None;
    for kind in ["reply", "write"] {
        let Ok(bytes) = std::fs::read(fixtures.join(format!("{name}-{kind}.out"))) else {
            continue;
        };
        let mut parser = Parser::new(agent.output_format());
        let mut events = parser.feed(&bytes);
        events.extend(parser.finish());
        let (usage, cost) = found.get_or_insert((false, false));
        for event in events {
            if let Event::Usage(reported) = event {
                *usage |= reported.input_tokens.is_some() || reported.output_tokens.is_some();
                *cost |= reported.cost.is_some();
            }
        }
    }
    found
}

#[test]
fn the_support_table_is_true() {
    let rows = rows();
    let mut names: Vec<&str> = rows.iter().map(|row| row[0].as_str()).collect();
    names.sort_unstable();
    let mut known: Vec<&str> = registry::names().collect();
    known.sort_unstable();
    assert_eq!(names, known, "one row per adapter");
    for row in &rows {
        let name = row[0].as_str();
        let agent = registry::get(name, AgentConfig::new()).unwrap();
        let expected_usage_cost = match captured(name, agent.as_ref()) {
            Some((usage, cost)) => (yes(usage), yes(cost)),
            None => ("n/a", "n/a"),
        };
        assert_eq!(
            (
                row[1].as_str(),
                row[2].as_str(),
                row[3].as_str(),
                row[4].as_str()
            ),
            (
                agent.output_format().as_str(),
                yes(agent.resumes()),
                expected_usage_cost.0,
                expected_usage_cost.1
            ),
            "row of {name}: print mode, resume, usage, cost"
        );
        let acp = match agent.acp_command().unwrap() {
            None => "no",
            Some(command) if command.program().ends_with("-acp") => "yes (bridge)",
            Some(_) => "yes",
        };
        assert_eq!(row[5], acp, "row of {name}: ACP");
    }
}
