//! End-to-end tests: the real agent programs, installed by `cargo xtask
//! e2e`, run offline against the fake model server through each adapter's
//! argv and environment.
//!
//! The one-shot runs here are watched by the sentinel with the adapter's
//! own stop sequences and failure patterns, neither of which may match a
//! normal run; [`terminal`] starts the programs interactively on a
//! pseudo-terminal, where the sentinel must find them waiting; [`cli`] runs
//! them through the `logist` binary as a person would, as root and as an
//! unprivileged user.
//!
//! Built only with `--features e2e`. The program paths come from
//! `LOGIST_E2E_<PROGRAM>` variables and the `PATH` they need (for Node.js)
//! from `LOGIST_E2E_PATH`; a missing variable fails the test with a message
//! saying to run `cargo xtask e2e`.

mod acp;
mod binary;
mod cli;
mod events;
mod run;
mod terminal;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use logist_agents::{
    AgentConfig, AgentProgram, Aider, Approval, ClaudeCode, Cline, Codex, Copilot, Gemini,
    OpenCode, QwenCode,
};
use logist_core::{Agent, Environment, Verdict};
use logist_fake_model::{ANSWER_PREFIX, FakeModel, Script};
use logist_sentinel::Outcome;

use run::{Fixed, Watched, run_agent, watch};

/// A prompt no shell or option parser may touch: a leading dash, quotes,
/// command substitutions, an option name and a newline.
const HOSTILE: &str = "-rf \"double\" 'single' $(touch pwned) `touch pwned2` --help\nsecond line";

/// Generous: the slowest program (Aider) takes 5–8 s on two busy cores.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The model name given to programs that need one.
const MODEL: &str = "fake-model";

/// One of the programs under test.
#[derive(Clone, Copy)]
struct Program {
    /// `LOGIST_E2E_<VAR>` holds its path.
    var: &'static str,
    /// Builds the adapter for a server URL and a home directory.
    build: fn(&str, AgentConfig) -> Box<dyn AgentProgram>,
    /// The approval that lets it write a file.
    writes_with: Approval,
}

const CLAUDE: Program = Program {
    var: "CLAUDE",
    build: |url, config| Box::new(ClaudeCode::with_config(config.base_url(url))),
    writes_with: Approval::AutoEdit,
};
const CODEX: Program = Program {
    var: "CODEX",
    build: |url, config| {
        Box::new(Codex::with_config(
            config.base_url(format!("{url}/v1")).model(MODEL),
        ))
    },
    writes_with: Approval::AutoEdit,
};
const GEMINI: Program = Program {
    var: "GEMINI",
    build: |url, config| Box::new(Gemini::with_config(config.base_url(url))),
    writes_with: Approval::FullAuto,
};
const QWEN: Program = Program {
    var: "QWEN",
    build: |url, config| {
        Box::new(QwenCode::with_config(
            config.base_url(format!("{url}/v1")).model(MODEL),
        ))
    },
    writes_with: Approval::FullAuto,
};
const AIDER: Program = Program {
    var: "AIDER",
    build: |url, config| {
        Box::new(Aider::with_config(
            config
                .base_url(format!("{url}/v1"))
                .model(format!("openai/{MODEL}"))
                // A fresh directory is not a git repository; do not make one.
                .arg("--no-git"),
        ))
    },
    writes_with: Approval::AutoEdit,
};
/// Aider in a git repository: no `--no-git`.
const AIDER_IN_GIT: Program = Program {
    var: "AIDER",
    // The adapter passes `--no-gitignore`; `--gitignore` after it brings
    // back Aider's question about `.gitignore`, which this program is for.
    build: |url, config| {
        Box::new(Aider::with_config(
            config
                .base_url(format!("{url}/v1"))
                .model(format!("openai/{MODEL}"))
                .arg("--gitignore"),
        ))
    },
    writes_with: Approval::AutoEdit,
};
const COPILOT: Program = Program {
    var: "COPILOT",
    build: |url, config| {
        Box::new(Copilot::with_config(
            config.base_url(format!("{url}/v1")).model(MODEL),
        ))
    },
    writes_with: Approval::AutoEdit,
};
/// Given its prompt on stdin ([`Agent::prompt_on_stdin`]).
const OPENCODE: Program = Program {
    var: "OPENCODE",
    build: |url, config| {
        Box::new(OpenCode::with_config(
            config.base_url(format!("{url}/v1")).model(MODEL),
        ))
    },
    writes_with: Approval::FullAuto,
};

const CLINE: Program = Program {
    var: "CLINE",
    build: |url, config| {
        Box::new(Cline::with_config(
            config.base_url(format!("{url}/v1")).model(MODEL),
        ))
    },
    writes_with: Approval::FullAuto,
};

/// The caller's environment as the adapters see it: only `PATH` and the
/// fake keys exist, so `Environment::pass` is exercised for real.
fn caller_env(name: &str) -> Option<String> {
    match name {
        "PATH" => Some(std::env::var("LOGIST_E2E_PATH").unwrap_or_else(|_| {
            panic!("LOGIST_E2E_PATH is not set: run the end-to-end tests with `cargo xtask e2e`")
        })),
        "ANTHROPIC_API_KEY"
        | "OPENAI_API_KEY"
        | "GEMINI_API_KEY"
        | "COPILOT_PROVIDER_API_KEY"
        | "CLINE_API_KEY" => Some("sk-logist-fake-key".to_owned()),
        _ => None,
    }
}

fn program_path(program: Program) -> String {
    let var = format!("LOGIST_E2E_{}", program.var);
    std::env::var(&var).unwrap_or_else(|_| {
        panic!("{var} is not set: run the end-to-end tests with `cargo xtask e2e`")
    })
}

/// What one run produced.
struct Ran {
    agent: Arc<Fixed>,
    server: FakeModel,
    watched: Watched,
}

/// The environment `agent` runs with: `PATH`, a terminal type and a locale,
/// then the adapter's own, resolved against the fake caller environment.
fn resolved_env(agent: &dyn AgentProgram, term: &str) -> BTreeMap<String, String> {
    Environment::clean()
        .pass("PATH")
        .set("TERM", term)
        .set("LANG", "C.UTF-8")
        .merge(&agent.env())
        .resolve_with([], caller_env)
}

/// Runs `program` on `prompt` in a fresh home and working directory, on
/// pipes, watched by the sentinel with the adapter's own stop sequences and
/// failure patterns.
fn run_program(
    program: Program,
    script: Script,
    approval: Approval,
    prompt: &str,
    work: &Path,
    home: &Path,
) -> Ran {
    run_session(program, script, approval, prompt, work, home, None)
}

/// [`run_program`], continuing the session `resume` when given.
fn run_session(
    program: Program,
    script: Script,
    approval: Approval,
    prompt: &str,
    work: &Path,
    home: &Path,
    resume: Option<&str>,
) -> Ran {
    let server = FakeModel::start_with(script).expect("fake model server starts");
    let mut config = AgentConfig::new()
        .program(program_path(program))
        .approval(approval)
        .home(home);
    if let Some(session) = resume {
        config = config.resume(session);
    }
    let adapter = (program.build)(server.url(), config);
    adapter.validate().expect("configuration is supported");
    adapter.prepare_home().expect("home is prepared");
    let env = resolved_env(adapter.as_ref(), "dumb");
    // The form the sentinel picks on pipes: stdin when the adapter offers it.
    let agent = Arc::new(
        match adapter.prompt_on_stdin(prompt).expect("command line") {
            Some(piped) => Fixed::piped(adapter, piped, env),
            None => {
                let command = adapter.cmd(prompt).expect("command line");
                Fixed::new(adapter, command, env)
            }
        },
    );
    let watched = watch(&agent, work, None, TIMEOUT);
    Ran {
        agent,
        server,
        watched,
    }
}

impl Ran {
    #[track_caller]
    fn assert_succeeded(&self) {
        let context = self.context();
        let watched = &self.watched;
        // The adapter's stop sequences must not take a normal one-shot run
        // for a prompt, nor its failure patterns for a failure.
        assert!(
            !matches!(watched.outcome, Outcome::WaitingForInput { .. }),
            "a stop sequence matched a normal run: {}\n{context}",
            watched.outcome
        );
        assert!(
            watched.failures.is_empty(),
            "failure patterns matched a normal run: {:?}\n{context}",
            watched.failures
        );
        assert!(
            watched.outcome.is_success(),
            "outcome: {}\n{context}",
            watched.outcome
        );
        assert!(
            watched.stdout.contains(ANSWER_PREFIX),
            "no answer in stdout\n{context}"
        );
        let adapter = &self.agent.adapter;
        let verdict = adapter.verdict(watched.stdout.as_bytes());
        assert!(
            matches!(verdict, None | Some(Verdict::Succeeded)),
            "verdict {verdict:?}\n{context}"
        );
        if adapter.name() != "aider" {
            assert_eq!(verdict, Some(Verdict::Succeeded), "{context}");
        }
        assert!(
            watched.survivors.is_empty(),
            "left running after a normal exit: {:?}\n{context}",
            watched.survivors
        );
    }

    #[track_caller]
    fn assert_server_saw(&self, prompt: &str) {
        let requests = self.server.requests();
        assert!(
            requests
                .iter()
                .any(|request| request.contains_string(prompt)),
            "no request carried the prompt unchanged; paths: {:?}\n{}",
            requests
                .iter()
                .map(|r| r.target.as_str())
                .collect::<Vec<_>>(),
            self.context()
        );
    }

    fn context(&self) -> String {
        format!(
            "{} (argv elided), {:.1}s\n--- stdout (tail) ---\n{}\n--- stderr (tail) ---\n{}",
            self.agent.name(),
            self.watched.took.as_secs_f64(),
            tail(&self.watched.stdout),
            tail(&self.watched.stderr)
        )
    }
}

/// The last 3000 characters of `text`.
fn tail(text: &str) -> String {
    let skip = text.chars().count().saturating_sub(3000);
    text.chars().skip(skip).collect()
}

/// The reply test: a hostile prompt reaches the model unchanged, the known
/// answer comes back, and no shell ran the prompt's substitutions.
fn check_reply(program: Program) {
    let dir = tempfile::tempdir().unwrap();
    let (work, home) = (dir.path().join("work"), dir.path().join("home"));
    fs::create_dir_all(&work).unwrap();
    let ran = run_program(
        program,
        Script::Answer,
        Approval::Ask,
        HOSTILE,
        &work,
        &home,
    );
    events::capture(&ran, events::Kind::Reply);
    ran.assert_succeeded();
    ran.assert_server_saw(HOSTILE);
    events::check(&ran, events::Kind::Reply);
    assert!(!work.join("pwned").exists() && !work.join("pwned2").exists());
}

/// The tool test: the model asks for a file write, the program performs it
/// in its working directory, and answers after the tool's result.
fn check_write(program: Program) {
    let dir = tempfile::tempdir().unwrap();
    let (work, home) = (dir.path().join("work"), dir.path().join("home"));
    fs::create_dir_all(&work).unwrap();
    let target = work.join("hello.txt");
    let content = "written by a tool: \"quoted\" $(not run)";
    let script = Script::WriteFile {
        path: target.clone(),
        content: content.to_owned(),
    };
    let prompt = "Create hello.txt";
    let ran = run_program(program, script, program.writes_with, prompt, &work, &home);
    events::capture(&ran, events::Kind::Write);
    ran.assert_succeeded();
    ran.assert_server_saw(prompt);
    let written = fs::read_to_string(&target)
        .unwrap_or_else(|e| panic!("{} not written ({e})\n{}", target.display(), ran.context()));
    assert_eq!(written.trim_end_matches('\n'), content, "{}", ran.context());
    events::check(&ran, events::Kind::Write);
}

/// The resume test: a second run given the first run's session id (from
/// its `session` event) continues it: the model receives the first
/// prompt again, as conversation history.
fn check_resume(program: Program) {
    let dir = tempfile::tempdir().unwrap();
    let (work, home) = (dir.path().join("work"), dir.path().join("home"));
    fs::create_dir_all(&work).unwrap();
    let first = "Remember the word LOGIST-FIRST-PROMPT";
    let ran = run_program(program, Script::Answer, Approval::Ask, first, &work, &home);
    ran.assert_succeeded();
    let session = events::session_id(&ran);
    let second = "Which word did I ask you to remember?";
    let resumed = run_session(
        program,
        Script::Answer,
        Approval::Ask,
        second,
        &work,
        &home,
        Some(&session),
    );
    resumed.assert_succeeded();
    resumed.assert_server_saw(second);
    resumed.assert_server_saw(first);
    assert_eq!(
        events::session_id(&resumed),
        session,
        "the resumed run reports the same session\n{}",
        resumed.context()
    );
}

/// A write the program's own settings refuse (`Approval::Ask` in print
/// mode): no file, and the refusal reported as a permission decision.
#[test]
fn claude_code_reports_a_refused_write() {
    let dir = tempfile::tempdir().unwrap();
    let (work, home) = (dir.path().join("work"), dir.path().join("home"));
    fs::create_dir_all(&work).unwrap();
    let target = work.join("hello.txt");
    let script = Script::WriteFile {
        path: target.clone(),
        content: "never written".to_owned(),
    };
    let ran = run_program(
        CLAUDE,
        script,
        Approval::Ask,
        "Create hello.txt",
        &work,
        &home,
    );
    events::capture_as(&ran, "claude-code-denied");
    assert!(!target.exists(), "{}", ran.context());
    events::check_denied(&ran);
}

#[test]
fn claude_code_resumes_a_session() {
    check_resume(CLAUDE);
}

#[test]
fn codex_resumes_a_session() {
    check_resume(CODEX);
}

#[test]
fn gemini_resumes_a_session() {
    check_resume(GEMINI);
}

#[test]
fn qwen_resumes_a_session() {
    check_resume(QWEN);
}

#[test]
fn copilot_resumes_a_session() {
    check_resume(COPILOT);
}

#[test]
fn opencode_resumes_a_session() {
    check_resume(OPENCODE);
}

#[test]
fn claude_code_answers_a_hostile_prompt() {
    check_reply(CLAUDE);
}

#[test]
fn claude_code_writes_a_file() {
    check_write(CLAUDE);
}

#[test]
fn codex_answers_a_hostile_prompt() {
    check_reply(CODEX);
}

#[test]
fn codex_writes_a_file() {
    check_write(CODEX);
}

#[test]
fn gemini_answers_a_hostile_prompt() {
    check_reply(GEMINI);
}

#[test]
fn gemini_writes_a_file() {
    check_write(GEMINI);
}

#[test]
fn qwen_answers_a_hostile_prompt() {
    check_reply(QWEN);
}

#[test]
fn qwen_writes_a_file() {
    check_write(QWEN);
}

#[test]
fn aider_answers_a_hostile_prompt() {
    check_reply(AIDER);
}

#[test]
fn aider_writes_a_file() {
    check_write(AIDER);
}

/// Aider in a git repository whose `.gitignore` lacks `.aider*` asks
/// `Add .aider* to .gitignore (recommended)? (Y)es/(N)o [Yes]:`, and with
/// standard input at its end answers itself at once and goes on. The
/// question matches Aider's stop sequences, but the program never waits
/// there: the sentinel's settle window must not take it for waiting.
#[test]
fn aider_answering_its_own_question_is_not_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let (work, home) = (dir.path().join("work"), dir.path().join("home"));
    fs::create_dir_all(&work).unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    let env = BTreeMap::from([("PATH".to_owned(), path)]);
    let (status, stdout, stderr) = run::run_agent(
        &["git".to_owned(), "init".to_owned(), "--quiet".to_owned()],
        &env,
        &work,
        TIMEOUT,
    );
    assert_eq!(status, run::Status::Code(0), "git init: {stdout}{stderr}");
    fs::write(work.join(".gitignore"), "target/\n").unwrap();
    let ran = run_program(
        AIDER_IN_GIT,
        Script::Answer,
        Approval::Ask,
        "Say hello",
        &work,
        &home,
    );
    assert!(
        ran.watched.stdout.contains("Add .aider* to .gitignore"),
        "Aider did not ask about .gitignore, so this test shows nothing\n{}",
        ran.context()
    );
    ran.assert_succeeded();
}

#[test]
fn copilot_answers_a_hostile_prompt() {
    check_reply(COPILOT);
}

#[test]
fn copilot_writes_a_file() {
    check_write(COPILOT);
}

#[test]
fn opencode_answers_a_hostile_prompt_given_on_stdin() {
    check_reply(OPENCODE);
}

#[test]
fn opencode_writes_a_file() {
    check_write(OPENCODE);
}

/// `installed_version` is exercised in unit tests with a scripted runtime;
/// here the adapters' pinned versions are compared with what `cargo xtask
/// e2e` installed, through each program's own `--version` output.
#[test]
fn installed_programs_are_the_pinned_versions() {
    for (program, agent) in [
        (
            CLAUDE,
            (CLAUDE.build)("http://127.0.0.1:9", AgentConfig::new()),
        ),
        (
            CODEX,
            (CODEX.build)("http://127.0.0.1:9", AgentConfig::new()),
        ),
        (
            GEMINI,
            (GEMINI.build)("http://127.0.0.1:9", AgentConfig::new()),
        ),
        (QWEN, (QWEN.build)("http://127.0.0.1:9", AgentConfig::new())),
        (
            AIDER,
            (AIDER.build)("http://127.0.0.1:9", AgentConfig::new()),
        ),
        (
            COPILOT,
            (COPILOT.build)("http://127.0.0.1:9", AgentConfig::new()),
        ),
        (
            OPENCODE,
            (OPENCODE.build)("http://127.0.0.1:9", AgentConfig::new()),
        ),
        (
            CLINE,
            (CLINE.build)("http://127.0.0.1:9", AgentConfig::new()),
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = program_path(program);
        let env: BTreeMap<String, String> = Environment::clean()
            .pass("PATH")
            .set("HOME", dir.path().to_string_lossy())
            .resolve_with([], caller_env);
        let argv = [path.clone(), "--version".to_owned()];
        let (status, stdout, stderr) = run_agent(&argv, &env, dir.path(), TIMEOUT);
        assert!(
            status.success(),
            "{path} --version: {status:?}\n{stdout}\n{stderr}"
        );
        assert_eq!(
            logist_agents::parse_version(&stdout).as_deref(),
            Some(agent.version()),
            "{path} --version printed {stdout:?}"
        );
    }
}
