//! Snapshots of every adapter's argv, environment (names only: values may
//! be secrets) and stop sequences, for representative configurations and
//! hostile prompts.

use std::fmt::Write as _;

use logist_agents::{AgentConfig, AgentProgram, Approval, registry};
use logist_core::Environment;

/// Prompts that a shell or an option parser would misread.
const HOSTILE: &[&str] = &[
    "-rf",
    "--help",
    "say \"hi\" and 'bye'",
    "line one\nline two",
    "$(touch x)",
    "",
];

/// The configurations every adapter is shown with.
fn configs() -> Vec<(&'static str, AgentConfig)> {
    vec![
        ("default", AgentConfig::new()),
        (
            "model, base URL, full auto",
            AgentConfig::new()
                .model("some-model")
                .base_url("http://127.0.0.1:8080/v1")
                .approval(Approval::FullAuto),
        ),
        ("auto edit", AgentConfig::new().approval(Approval::AutoEdit)),
        (
            "program path and extra args",
            AgentConfig::new()
                .program("/opt/agents/bin/tool")
                .args(["--verbose-extra", "value with space"]),
        ),
        ("isolated home", AgentConfig::new().home("/jobs/7/home")),
    ]
}

/// The environment as names: `set` names (values redacted), passed and
/// unset names.
fn describe_env(env: &Environment) -> String {
    let set: Vec<&str> = env.vars().keys().map(String::as_str).collect();
    let passed: Vec<&str> = env.passed().iter().map(String::as_str).collect();
    let unset: Vec<&str> = env.unset_names().iter().map(String::as_str).collect();
    format!(
        "  set: {}\n  pass: {}\n  unset: {}\n",
        set.join(" "),
        passed.join(" "),
        unset.join(" ")
    )
}

fn describe(name: &str) -> String {
    let mut out = String::new();
    for (label, config) in configs() {
        // Unsupported settings are reported by `validate`; the argv shows
        // what the adapter would run regardless.
        let agent = registry::all()
            .into_iter()
            .find(|agent| agent.name() == name)
            .map(|_| build(name, config.clone()))
            .unwrap();
        let validated = match agent.validate() {
            Ok(()) => String::new(),
            Err(error) => format!("  validate: {error}\n"),
        };
        writeln!(out, "[{label}]").unwrap();
        writeln!(out, "  argv: {}", agent.cmd("Fix the bug").unwrap()).unwrap();
        if let Some(piped) = agent.prompt_on_stdin("Fix the bug").unwrap() {
            let input = String::from_utf8(piped.input).unwrap();
            writeln!(out, "  stdin form: {} <<< {input:?}", piped.command).unwrap();
        }
        if let Some(cmd) = agent
            .prompt_file_cmd(std::path::Path::new("/run/prompt.txt"))
            .unwrap()
        {
            writeln!(out, "  prompt file form: {cmd}").unwrap();
        }
        out.push_str(&validated);
        out.push_str(&describe_env(&agent.env()));
    }
    let agent = build(name, AgentConfig::new());
    writeln!(out, "[hostile prompts]").unwrap();
    for prompt in HOSTILE {
        let argv = match agent.cmd(prompt) {
            Ok(cmd) => cmd.to_string(),
            Err(error) => format!("error: {error}"),
        };
        writeln!(out, "  {prompt:?} => {argv}").unwrap();
    }
    writeln!(out, "[stop sequences]").unwrap();
    for stop in agent.stop_sequences() {
        writeln!(out, "  {stop}").unwrap();
    }
    writeln!(out, "[failure patterns]").unwrap();
    for failure in agent.failure_patterns() {
        writeln!(out, "  {}: {}", failure.cause, failure.pattern).unwrap();
    }
    out
}

/// Builds without validation, so unsupported settings still show.
fn build(name: &str, config: AgentConfig) -> Box<dyn AgentProgram> {
    use logist_agents::*;
    match name {
        "claude-code" => Box::new(ClaudeCode::with_config(config)),
        "codex" => Box::new(Codex::with_config(config)),
        "gemini" => Box::new(Gemini::with_config(config)),
        "qwen" => Box::new(QwenCode::with_config(config)),
        "aider" => Box::new(Aider::with_config(config)),
        "copilot" => Box::new(Copilot::with_config(config)),
        "opencode" => Box::new(OpenCode::with_config(config)),
        "cline" => Box::new(Cline::with_config(config)),
        "goose" => Box::new(Goose::with_config(config)),
        "amp" => Box::new(Amp::with_config(config)),
        "cursor-agent" => Box::new(CursorAgent::with_config(config)),
        other => panic!("no adapter {other}"),
    }
}

#[test]
fn every_adapter_snapshot() {
    for name in registry::names() {
        insta::assert_snapshot!(name, describe(name));
    }
}

/// Whatever the prompt, it reaches the argv whole, exactly once, and in a
/// position no option parser reads as an option: after `--`, or as the
/// value of a `--flag=` element.
#[test]
fn hostile_prompts_stay_one_literal_argument() {
    for agent in registry::all() {
        for prompt in HOSTILE.iter().copied().chain(["-", "--", "-p", "a\tb\r\n"]) {
            let cmd = match agent.cmd(prompt) {
                Ok(cmd) => cmd,
                // Cline runs a subcommand for a one-word prompt argument.
                Err(logist_core::Error::InvalidCommand {
                    problem: logist_core::CommandProblem::PromptNotPassable { .. },
                }) if agent.name() == "cline" && !prompt.trim().contains(char::is_whitespace) => {
                    continue;
                }
                Err(error) => panic!("{}: {prompt:?}: {error}", agent.name()),
            };
            let args = cmd.args();
            let last = args.last().unwrap();
            let ok = if let Some((flag, value)) = last
                .split_once('=')
                .filter(|(flag, _)| flag.starts_with("--"))
            {
                value == prompt && !flag.contains(' ')
            } else {
                last == prompt && args[args.len() - 2] == "--"
            };
            assert!(ok, "{}: prompt {prompt:?} became {cmd}", agent.name());
            let occurrences = args.iter().filter(|arg| arg.contains(prompt)).count();
            assert!(
                prompt.len() < 3 || occurrences == 1,
                "{}: {cmd}",
                agent.name()
            );
        }
    }
}

/// The stdin forms carry the prompt byte for byte, and no argument holds
/// it; a prompt over Linux's limit for one argument is a typed error in
/// the argument form.
#[test]
fn large_prompts_go_on_stdin_or_fail_naming_the_limit() {
    let prompt = format!("-rf {}", "x".repeat(200 * 1024));
    for agent in registry::all() {
        if let Some(piped) = agent.prompt_on_stdin(&prompt).unwrap() {
            assert_eq!(piped.input, prompt.as_bytes(), "{}", agent.name());
            assert!(
                piped.command.args().iter().all(|arg| !arg.contains("xxxx")),
                "{}: {}",
                agent.name(),
                piped.command
            );
        } else {
            assert!(
                agent
                    .prompt_file_cmd(std::path::Path::new("/p"))
                    .unwrap()
                    .is_some(),
                "{}: neither stdin nor a prompt file",
                agent.name()
            );
        }
        let error = agent.cmd(&prompt).unwrap_err();
        assert!(
            matches!(
                error,
                logist_core::Error::InvalidCommand {
                    problem: logist_core::CommandProblem::ArgumentTooLong { .. }
                }
            ),
            "{}: {error}",
            agent.name()
        );
        assert!(error.to_string().contains("131071 bytes"), "{error}");
    }
}

#[test]
fn a_nul_in_the_prompt_is_a_typed_error() {
    for agent in registry::all() {
        let error = agent.cmd("a\0b").unwrap_err();
        assert!(
            matches!(error, logist_core::Error::InvalidCommand { .. }),
            "{}: {error:?}",
            agent.name()
        );
    }
}

/// API keys are passed by name, never set: no adapter holds a secret.
#[test]
fn keys_are_passed_never_set() {
    for agent in registry::all() {
        let env = agent.env();
        assert!(!env.passed().is_empty(), "{} passes no key", agent.name());
        for name in env.passed() {
            assert!(
                !env.vars().contains_key(name),
                "{} sets {name}",
                agent.name()
            );
        }
        for name in env.vars().keys() {
            assert!(
                !name.contains("KEY") && !name.contains("TOKEN"),
                "{} sets {name}",
                agent.name()
            );
        }
    }
}

/// The values behind the redacted snapshot: each base URL lands in the
/// program's own override, unchanged.
#[test]
fn base_urls_reach_each_programs_override() {
    let url = "http://127.0.0.1:9/v1";
    let config = AgentConfig::new().base_url(url);
    let env_var = |name: &str, var: &str| {
        let agent = build(name, config.clone());
        agent.env().vars().get(var).cloned()
    };
    assert_eq!(
        env_var("claude-code", "ANTHROPIC_BASE_URL").as_deref(),
        Some(url)
    );
    assert_eq!(
        env_var("gemini", "GOOGLE_GEMINI_BASE_URL").as_deref(),
        Some(url)
    );
    assert_eq!(env_var("qwen", "OPENAI_BASE_URL").as_deref(), Some(url));
    assert_eq!(
        env_var("copilot", "COPILOT_PROVIDER_BASE_URL").as_deref(),
        Some(url)
    );
    assert_eq!(env_var("goose", "OPENAI_HOST").as_deref(), Some(url));
    assert_eq!(env_var("amp", "AMP_URL").as_deref(), Some(url));
    let opencode = env_var("opencode", "OPENCODE_CONFIG_CONTENT").unwrap();
    let opencode: serde_json::Value = serde_json::from_str(&opencode).unwrap();
    assert_eq!(opencode["provider"]["logist"]["options"]["baseURL"], url);
    assert_eq!(
        opencode["provider"]["logist"]["options"]["apiKey"],
        "{env:OPENAI_API_KEY}"
    );

    let aider = build("aider", config.clone()).cmd("p").unwrap();
    let position = aider
        .args()
        .iter()
        .position(|a| a == "--openai-api-base")
        .unwrap();
    assert_eq!(aider.args()[position + 1], url);

    let hostile = "http://h/\"v1\\";
    let codex = build("codex", AgentConfig::new().base_url(hostile))
        .cmd("p")
        .unwrap();
    let provider = codex
        .args()
        .iter()
        .find(|a| a.starts_with("model_providers.logist="))
        .unwrap();
    assert_eq!(
        provider,
        r#"model_providers.logist={name="logist",base_url="http://h/\"v1\\",env_key="OPENAI_API_KEY",wire_api="responses"}"#
    );
}

#[test]
fn isolation_points_every_config_directory_into_the_home() {
    for agent in registry::all() {
        let agent = build(agent.name(), AgentConfig::new().home("/jobs/7/home"));
        let env = agent.env();
        assert_eq!(env.vars()["HOME"], "/jobs/7/home", "{}", agent.name());
        for (name, value) in env.vars() {
            if name.ends_with("_HOME") || name.starts_with("XDG_") {
                assert!(
                    value.starts_with("/jobs/7/home"),
                    "{}: {name}={value}",
                    agent.name()
                );
            }
        }
    }
}
