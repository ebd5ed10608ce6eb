//! `prepare_home`: the files each program needs, written only when
//! isolation is asked for, merged into existing settings.

use std::fs;

use serde_json::{Value, json};

use logist_agents::{
    AgentConfig, AgentError, AgentProgram, Aider, ClaudeCode, Cline, Codex, Gemini, QwenCode,
    registry,
};

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn without_isolation_nothing_is_written() {
    for agent in registry::all() {
        assert_eq!(agent.prepare_home().unwrap(), None, "{}", agent.name());
    }
}

#[test]
fn each_program_gets_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let config = AgentConfig::new().home(&home);

    assert_eq!(
        Gemini::with_config(config.clone()).prepare_home().unwrap(),
        Some(home.clone())
    );
    let gemini = read_json(&home.join(".gemini/settings.json"));
    assert_eq!(gemini["security"]["auth"]["selectedType"], "gemini-api-key");
    assert_eq!(gemini["privacy"]["usageStatisticsEnabled"], false);

    QwenCode::with_config(config.clone())
        .prepare_home()
        .unwrap();
    let qwen = read_json(&home.join(".qwen/settings.json"));
    assert_eq!(qwen["security"]["auth"]["selectedType"], "openai");
    assert_eq!(qwen["telemetry"]["enabled"], false);

    Codex::with_config(config.clone()).prepare_home().unwrap();
    assert!(home.join(".codex").is_dir());

    Aider::with_config(config.clone()).prepare_home().unwrap();
    let cache = read_json(&home.join(".aider/caches/model_prices_and_context_window.json"));
    assert!(
        cache.as_object().is_some_and(|map| !map.is_empty()),
        "non-empty, or Aider downloads"
    );

    ClaudeCode::with_config(config).prepare_home().unwrap();
    assert!(home.is_dir());
}

#[test]
fn existing_settings_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join(".gemini/settings.json");
    fs::create_dir_all(settings.parent().unwrap()).unwrap();
    fs::write(
        &settings,
        r#"{"ui": {"theme": "dark"}, "general": {"vimMode": true}}"#,
    )
    .unwrap();
    Gemini::with_config(AgentConfig::new().home(dir.path()))
        .prepare_home()
        .unwrap();
    let merged = read_json(&settings);
    assert_eq!(merged["ui"], json!({"theme": "dark"}));
    assert_eq!(merged["general"]["vimMode"], true);
    assert_eq!(merged["general"]["enableAutoUpdate"], false);
    // Preparing twice changes nothing more.
    Gemini::with_config(AgentConfig::new().home(dir.path()))
        .prepare_home()
        .unwrap();
    assert_eq!(read_json(&settings), merged);
}

#[test]
fn broken_settings_and_unwritable_homes_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join(".qwen/settings.json");
    fs::create_dir_all(settings.parent().unwrap()).unwrap();
    fs::write(&settings, "[1, 2]").unwrap();
    let error = QwenCode::with_config(AgentConfig::new().home(dir.path()))
        .prepare_home()
        .unwrap_err();
    assert!(
        matches!(&error, AgentError::NotASettingsFile { path } if *path == settings),
        "{error}"
    );
    // The user's file is left alone.
    assert_eq!(fs::read_to_string(&settings).unwrap(), "[1, 2]");

    let file = dir.path().join("a-file");
    fs::write(&file, "").unwrap();
    let error = Codex::with_config(AgentConfig::new().home(file.join("home")))
        .prepare_home()
        .unwrap_err();
    assert!(matches!(error, AgentError::PrepareHome { .. }), "{error}");
    assert!(error.to_string().starts_with("cannot prepare `"), "{error}");
    assert!(std::error::Error::source(&error).is_some());
}

#[test]
fn cline_gets_its_provider_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = AgentConfig::new()
        .base_url("http://127.0.0.1:9/v1")
        .model("m");
    // Per run: a file named in the environment, the home untouched.
    let run = dir.path().join("run");
    fs::create_dir(&run).unwrap();
    let env = Cline::with_config(config.clone())
        .prepare_run(&run, Some(dir.path()))
        .unwrap();
    let path = &env.vars()["CLINE_PROVIDER_SETTINGS_PATH"];
    let settings = read_json(std::path::Path::new(path));
    let provider = &settings["providers"]["openai-compatible"];
    assert_eq!(provider["settings"]["baseUrl"], "http://127.0.0.1:9/v1");
    assert_eq!(provider["settings"]["model"], "m");
    assert!(provider["settings"].get("apiKey").is_none());
    assert_eq!(settings["lastUsedProvider"], "openai-compatible");
    // In an isolated home: the file Cline keeps there, and nothing per run.
    let home = dir.path().join("home");
    let isolated = Cline::with_config(config.home(&home));
    isolated.prepare_home().unwrap();
    let settings = read_json(&home.join(".cline/data/settings/providers.json"));
    assert_eq!(settings["lastUsedProvider"], "openai-compatible");
    assert!(isolated.prepare_run(&run, None).unwrap().vars().is_empty());
}

#[test]
fn prepare_run_writes_nothing_without_a_base_url() {
    let dir = tempfile::tempdir().unwrap();
    for agent in registry::all() {
        let env = agent.prepare_run(dir.path(), None).unwrap();
        assert!(env.vars().is_empty(), "{}", agent.name());
    }
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn gemini_carries_the_persons_settings_over_without_writing_them() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs::create_dir_all(home.join(".gemini/extensions")).unwrap();
    // Gemini CLI allows comments in its settings.
    let own = "{\n  // mine\n  \"ui\": {\"theme\": \"x\"} /* too */\n}";
    fs::write(home.join(".gemini/settings.json"), own).unwrap();
    let run = dir.path().join("run");
    fs::create_dir(&run).unwrap();
    let gemini = Gemini::with_config(AgentConfig::new().base_url("http://127.0.0.1:9"));
    let env = gemini.prepare_run(&run, Some(&home)).unwrap();
    let gemini_home = std::path::PathBuf::from(&env.vars()["GEMINI_CLI_HOME"]);
    let settings = read_json(&gemini_home.join(".gemini/settings.json"));
    assert_eq!(settings["ui"]["theme"], "x");
    assert_eq!(
        settings["security"]["auth"]["selectedType"],
        "gemini-api-key"
    );
    assert!(gemini_home.join(".gemini/extensions").is_symlink());
    assert_eq!(
        fs::read_to_string(home.join(".gemini/settings.json")).unwrap(),
        own
    );
    // A settings file that is not a JSON object is a typed error.
    fs::write(home.join(".gemini/settings.json"), "[1]").unwrap();
    let run = dir.path().join("run2");
    fs::create_dir(&run).unwrap();
    assert!(matches!(
        gemini.prepare_run(&run, Some(&home)),
        Err(AgentError::NotASettingsFile { .. })
    ));
}
