//! `logist agents`: the agents `logist run` knows, whether their programs
//! are installed, their versions, and the environment they need (names and
//! whether they are set; never values).

use std::io::Write;
use std::time::Duration;

use logist_agents::{AgentConfig, AgentProgram, Verification, installed_version, registry};
use logist_core::{Agent, Runtime};
use logist_mock::{MockAgent, Scenario};
use logist_runtime_host::HostRuntime;
use serde_json::json;

/// How long `--version` may take before the version is reported unknown.
const VERSION_TIMEOUT: Duration = Duration::from_secs(5);

use crate::CliError;
use crate::cli::AgentsArgs;

/// One agent as listed.
struct Listing {
    name: String,
    program: String,
    installed: bool,
    version: Result<String, String>,
    /// The version proven end to end, or why none was.
    verified: Result<String, String>,
    env: Vec<(String, bool)>,
}

/// The names `--agent` accepts.
pub(crate) fn names() -> Vec<String> {
    std::iter::once("mock".to_owned())
        .chain(registry::names().map(str::to_owned))
        .collect()
}

/// Every agent; installed programs are asked for their version, all at
/// once, each with a short timeout.
fn listings() -> Vec<Listing> {
    let mock = MockAgent::new(Scenario::Success);
    let mut listings = vec![Listing {
        name: "mock".into(),
        program: "logist mock-agent (built in)".into(),
        installed: true,
        version: Ok(mock.version().to_owned()),
        verified: Ok(mock.version().to_owned()),
        env: needed_env(&mock),
    }];
    let runtime = HostRuntime::new().ok();
    let adapters: Vec<(&str, Box<dyn AgentProgram>)> = registry::names()
        .map(|name| (name, registry::get(name, AgentConfig::new())))
        .filter_map(|(name, agent)| Some((name, agent.ok()?)))
        .collect();
    let installations = registry::installed();
    let versions: Vec<Result<String, String>> = std::thread::scope(|scope| {
        let probes: Vec<_> = adapters
            .iter()
            .map(|(name, agent)| {
                let installed = installations
                    .iter()
                    .any(|i| i.name == *name && i.path.is_some());
                let runtime = runtime.as_ref();
                scope.spawn(move || {
                    let runtime: &dyn Runtime = runtime.ok_or("no runtime to ask with")?;
                    if !installed {
                        return Err("not installed".to_owned());
                    }
                    installed_version(agent.as_ref(), runtime, VERSION_TIMEOUT)
                        .map_err(|error| logist_core::error_chain(&error).to_string())
                })
            })
            .collect();
        probes
            .into_iter()
            .map(|probe| {
                probe
                    .join()
                    .unwrap_or_else(|_| Err("the probe failed".to_owned()))
            })
            .collect()
    });
    for ((name, agent), version) in adapters.iter().zip(versions) {
        let installation = installations.iter().find(|i| i.name == *name);
        listings.push(Listing {
            name: (*name).to_owned(),
            program: agent.program().to_owned(),
            installed: installation.is_some_and(|i| i.path.is_some()),
            version,
            verified: match agent.verification() {
                Verification::EndToEnd { version } => Ok(version.to_owned()),
                Verification::DocsOnly { note } => Err(note.to_owned()),
            },
            env: needed_env(agent.as_ref()),
        });
    }
    listings
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

/// The version an adapter was written and tested for.
fn known_version(name: &str) -> Option<String> {
    if name == "mock" {
        return Some(env!("CARGO_PKG_VERSION").to_owned());
    }
    registry::get(name, AgentConfig::new())
        .ok()
        .map(|agent| agent.version().to_owned())
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
                    "version": l.version.as_ref().ok(),
                    "version_error": l.version.as_ref().err(),
                    "known_version": known_version(&l.name),
                    "verified_with": l.verified.as_ref().ok(),
                    "unverified_because": l.verified.as_ref().err(),
                    "env": l.env.iter().map(|(name, set)| json!({"name": name, "set": set})).collect::<Vec<_>>(),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::Value::Array(items))
    } else {
        let mut text = format!(
            "{:<14} {:<32} {:<10} {:<12} {:<14} ENVIRONMENT\n",
            "NAME", "PROGRAM", "INSTALLED", "VERSION", "VERIFIED WITH"
        );
        for l in &listings {
            let env: Vec<String> = l
                .env
                .iter()
                .map(|(name, set)| format!("{name} ({})", if *set { "set" } else { "not set" }))
                .collect();
            text.push_str(&format!(
                "{:<14} {:<32} {:<10} {:<12} {:<14} {}\n",
                l.name,
                l.program,
                if l.installed { "yes" } else { "no" },
                l.version.as_deref().unwrap_or("-"),
                // The reason is in `--json` and docs/cli.md.
                l.verified.as_deref().unwrap_or("unverified"),
                if env.is_empty() {
                    "-".to_owned()
                } else {
                    env.join(", ")
                },
            ));
        }
        out.write_all(text.as_bytes())
    };
    match result {
        // `logist agents | head`: the reader has seen enough.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(error) => Err(CliError::failed(format!(
            "cannot print the list: {}",
            logist_core::error_chain(&error)
        ))),
        Ok(()) => Ok(0),
    }
}
