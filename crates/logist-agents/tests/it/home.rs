//! `prepare_home`: the files each program needs, written only when
//! isolation is asked for, merged into existing settings.

use std::fs;

use serde_json::{Value, json};

use logist_agents::{
    AgentConfig, AgentError, AgentProgram, Aider, ClaudeCode, Codex, Gemini, QwenCode, registry,
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
