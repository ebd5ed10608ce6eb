//! Turning an [`Environment`] into what the engine can do.
//!
//! The engine always starts a container with the image's variables plus
//! `PATH`, `HOSTNAME` and `HOME` (and `TERM` on a terminal), and the API
//! cannot remove any of them: variables sent at create time only add or
//! override. So an environment that *inherits* becomes the list of
//! variables set or passed; one that is *clean*, or removes names, also
//! runs the program through the image's `env -u NAME … -- program`, which
//! removes them before the program starts. Only names go on that command
//! line, never values, so a secret passed by name appears nowhere but in
//! the container's environment (where `docker inspect` shows variables as
//! it always does).

use std::collections::{BTreeMap, BTreeSet};

use logist_core::Environment;

/// Variables the engine adds to every container.
const ENGINE_VARS: [&str; 3] = ["PATH", "HOSTNAME", "HOME"];

/// The `PATH` an engine gives a container whose image sets none.
pub(crate) const ENGINE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where the C library's `execvp` looks when `PATH` is unset.
const EXECVP_DEFAULT_PATH: &str = "/bin:/usr/bin";

/// How to start a process with a given environment.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct EnvPlan {
    /// `NAME=VALUE` entries for the container's configuration.
    pub(crate) vars: Vec<String>,
    /// Names the `env` wrapper must remove; empty when no wrapper is needed.
    pub(crate) unset: Vec<String>,
    /// The `PATH` the program is looked up in.
    pub(crate) search_path: String,
}

/// Plans `env` for an image whose own variables are `image` (name to
/// value), reading passed names through `caller`.
pub(crate) fn plan(
    env: &Environment,
    image: &BTreeMap<String, String>,
    terminal: bool,
    caller: impl Fn(&str) -> Option<String>,
) -> EnvPlan {
    // Only what is set or passed: the engine supplies the base itself.
    let explicit = env.resolve_with(std::iter::empty(), caller);
    let unset: BTreeSet<String> = if env.inherits() {
        env.unset_names()
            .iter()
            .filter(|name| !explicit.contains_key(*name))
            .cloned()
            .collect()
    } else {
        let mut engine: BTreeSet<String> =
            ENGINE_VARS.iter().map(|&name| name.to_owned()).collect();
        if terminal {
            engine.insert("TERM".to_owned());
        }
        engine
            .into_iter()
            .chain(image.keys().cloned())
            .filter(|name| !explicit.contains_key(name))
            .collect()
    };
    let search_path = match explicit.get("PATH") {
        Some(path) => path.clone(),
        None if unset.contains("PATH") => EXECVP_DEFAULT_PATH.to_owned(),
        None => image
            .get("PATH")
            .cloned()
            .unwrap_or_else(|| ENGINE_PATH.to_owned()),
    };
    EnvPlan {
        vars: explicit
            .into_iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect(),
        unset: unset.into_iter().collect(),
        search_path,
    }
}

/// The argv that removes `unset` from the environment and then runs
/// `argv`, through the image's `env` program. `None` when the program's
/// name would be read by `env` as an assignment or an option.
pub(crate) fn wrap(env_program: &str, unset: &[String], argv: &[String]) -> Option<Vec<String>> {
    let program = argv.first()?;
    if program.contains('=') || program == "-" {
        return None;
    }
    let mut wrapped = vec![env_program.to_owned()];
    for name in unset {
        wrapped.push("-u".to_owned());
        wrapped.push(name.clone());
    }
    wrapped.push("--".to_owned());
    wrapped.extend(argv.iter().cloned());
    Some(wrapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("PATH".to_owned(), "/opt/bin:/bin".to_owned()),
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
        ])
    }

    fn caller(name: &str) -> Option<String> {
        match name {
            "API_KEY" => Some("sk-secret".to_owned()),
            "PATH" => Some("/host/bin".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn inheriting_sends_only_what_is_set_or_passed() {
        let env = Environment::inherit()
            .set("NO_COLOR", "1")
            .pass("API_KEY")
            .pass("UNSET_HERE");
        let plan = plan(&env, &image(), false, caller);
        assert_eq!(plan.vars, ["API_KEY=sk-secret", "NO_COLOR=1"]);
        assert!(plan.unset.is_empty(), "no wrapper");
        assert_eq!(plan.search_path, "/opt/bin:/bin");
    }

    #[test]
    fn removing_a_name_needs_the_wrapper() {
        let env = Environment::inherit().unset("LANG").unset("PATH");
        let plan = plan(&env, &image(), false, caller);
        assert!(plan.vars.is_empty());
        assert_eq!(plan.unset, ["LANG", "PATH"]);
        assert_eq!(plan.search_path, "/bin:/usr/bin");
    }

    #[test]
    fn clean_removes_the_image_and_engine_variables_it_does_not_set() {
        let env = Environment::clean().pass("API_KEY").set("HOME", "/work");
        let plan = plan(&env, &image(), true, caller);
        assert_eq!(plan.vars, ["API_KEY=sk-secret", "HOME=/work"]);
        assert_eq!(plan.unset, ["HOSTNAME", "LANG", "PATH", "TERM"]);
        assert_eq!(plan.search_path, "/bin:/usr/bin");

        let with_path = Environment::clean().pass("PATH");
        let plan = super::plan(&with_path, &BTreeMap::new(), false, caller);
        assert_eq!(plan.unset, ["HOME", "HOSTNAME"]);
        assert_eq!(plan.search_path, "/host/bin");
    }

    #[test]
    fn the_wrapper_carries_names_never_values() {
        let argv = ["agent".to_owned(), "-p".to_owned(), "A=B".to_owned()];
        let wrapped = wrap("/usr/bin/env", &["HOME".to_owned()], &argv).unwrap();
        assert_eq!(
            wrapped,
            ["/usr/bin/env", "-u", "HOME", "--", "agent", "-p", "A=B"]
        );
        assert_eq!(wrap("/usr/bin/env", &[], &["A=B".to_owned()]), None);
        assert_eq!(wrap("/usr/bin/env", &[], &["-".to_owned()]), None);
    }
}
