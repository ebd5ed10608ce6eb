//! `logist agents`: the agents `logist run` knows, whether their programs
//! are installed, their versions, and the environment they need (names and
//! whether they are set; never values).

use std::io::Write;

use logist_core::Agent;
use logist_mock::{MockAgent, Scenario};
use serde_json::json;

use crate::CliError;
use crate::cli::AgentsArgs;

/// One agent as listed.
struct Listing {
    name: String,
    program: String,
    installed: bool,
    version: Option<String>,
    env: Vec<(String, bool)>,
}

/// The names `--agent` accepts.
pub(crate) fn names() -> Vec<String> {
    listings().into_iter().map(|listing| listing.name).collect()
}

fn listings() -> Vec<Listing> {
    let mock = MockAgent::new(Scenario::Success);
    vec![Listing {
        name: "mock".into(),
        program: "logist mock-agent (built in)".into(),
        installed: true,
        version: Some(mock.version().to_owned()),
        env: needed_env(&mock),
    }]
}

/// The variables an agent passes through from our environment, and
/// whether each is set here.
fn needed_env(agent: &dyn Agent) -> Vec<(String, bool)> {
    agent
        .env()
        .passed()
        .iter()
        .map(|name| (name.clone(), std::env::var_os(name).is_some()))
        .collect()
}

/// Prints the list.
pub(crate) fn list(args: &AgentsArgs) -> Result<u8, CliError> {
    let listings = listings();
    let mut out = std::io::stdout().lock();
    let result = if args.json {
        let items: Vec<_> = listings
            .iter()
            .map(|l| {
                json!({
                    "name": l.name,
                    "program": l.program,
                    "installed": l.installed,
                    "version": l.version,
                    "env": l.env.iter().map(|(name, set)| json!({"name": name, "set": set})).collect::<Vec<_>>(),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::Value::Array(items))
    } else {
        let mut text = format!(
            "{:<14} {:<32} {:<10} {:<12} ENVIRONMENT\n",
            "NAME", "PROGRAM", "INSTALLED", "VERSION"
        );
        for l in &listings {
            let env: Vec<String> = l
                .env
                .iter()
                .map(|(name, set)| format!("{name} ({})", if *set { "set" } else { "not set" }))
                .collect();
            text.push_str(&format!(
                "{:<14} {:<32} {:<10} {:<12} {}\n",
                l.name,
                l.program,
                if l.installed { "yes" } else { "no" },
                l.version.as_deref().unwrap_or("-"),
                if env.is_empty() {
                    "-".to_owned()
                } else {
                    env.join(", ")
                },
            ));
        }
        out.write_all(text.as_bytes())
    };
    result.map_err(|error| CliError::failed(format!("cannot print the list: {error}")))?;
    Ok(0)
}
