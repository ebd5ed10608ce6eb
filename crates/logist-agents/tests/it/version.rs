//! `installed_version` through a scripted runtime: the answer, a failing
//! program, a hanging program (stopped and removed), and no version.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use logist_agents::{AgentConfig, ClaudeCode, VersionError, installed_version};
use logist_core::{
    Completion, Error, ExitStatus, Labels, Logs, OutputRead, ProcessId, ProcessInfo, Runtime,
    SpawnRequest, Stream,
};

/// What the scripted program does.
#[derive(Clone)]
enum Behaviour {
    Exits(i32, &'static str),
    Hangs,
}

/// A runtime whose one process behaves as scripted, recording what it was
/// asked.
struct ScriptedRuntime {
    behaviour: Behaviour,
    spawned: Mutex<Vec<SpawnRequest>>,
    terminated: Mutex<Vec<bool>>,
    live: Mutex<HashMap<ProcessId, ()>>,
}

impl ScriptedRuntime {
    fn new(behaviour: Behaviour) -> Self {
        Self {
            behaviour,
            spawned: Mutex::new(Vec::new()),
            terminated: Mutex::new(Vec::new()),
            live: Mutex::new(HashMap::new()),
        }
    }
}

impl Runtime for ScriptedRuntime {
    fn name(&self) -> &str {
        "scripted"
    }
    fn spawn(&self, request: &SpawnRequest) -> Result<ProcessId, Error> {
        self.spawned.lock().unwrap().push(request.clone());
        let id = ProcessId::new("scripted-1");
        self.live.lock().unwrap().insert(id.clone(), ());
        Ok(id)
    }
    fn is_alive(&self, _: &ProcessId) -> Result<bool, Error> {
        Ok(matches!(self.behaviour, Behaviour::Hangs))
    }
    fn get_logs(&self, _: &ProcessId, _: Option<usize>) -> Result<Logs, Error> {
        Ok(Logs::default())
    }
    fn get_stream_logs(&self, _: &ProcessId, _: Stream, _: Option<usize>) -> Result<Logs, Error> {
        Ok(Logs::default())
    }
    fn read_output(&self, _: &ProcessId, _: u64, _: Option<Duration>) -> Result<OutputRead, Error> {
        Ok(OutputRead::default())
    }
    fn terminate(&self, _: &ProcessId, force: bool) -> Result<bool, Error> {
        self.terminated.lock().unwrap().push(force);
        Ok(true)
    }
    fn wait(&self, id: &ProcessId, timeout: Option<Duration>) -> Result<Completion, Error> {
        match &self.behaviour {
            Behaviour::Exits(code, output) => Ok(Completion::new(
                ExitStatus::Code(*code),
                Logs::new(output.as_bytes().to_vec(), 0),
                false,
            )),
            Behaviour::Hangs => Err(Error::WaitTimeout {
                id: id.clone(),
                timeout: timeout.unwrap_or_default(),
            }),
        }
    }
    fn info(&self, id: &ProcessId) -> Result<ProcessInfo, Error> {
        Err(Error::unknown(id))
    }
    fn list(&self, _: &Labels) -> Result<Vec<ProcessInfo>, Error> {
        Ok(Vec::new())
    }
    fn remove(&self, id: &ProcessId) -> Result<(), Error> {
        self.live.lock().unwrap().remove(id);
        Ok(())
    }
}

fn probe(behaviour: Behaviour) -> (Result<String, VersionError>, ScriptedRuntime) {
    let runtime = ScriptedRuntime::new(behaviour);
    let agent = ClaudeCode::with_config(AgentConfig::new().program("/opt/claude"));
    let result = installed_version(&agent, &runtime, Duration::from_secs(10));
    (result, runtime)
}

#[test]
fn reads_the_version_and_cleans_up() {
    let (result, runtime) = probe(Behaviour::Exits(0, "2.1.197 (Claude Code)\n"));
    assert_eq!(result.unwrap(), "2.1.197");
    let spawned = runtime.spawned.lock().unwrap();
    assert_eq!(spawned[0].command.argv(), ["/opt/claude", "--version"]);
    // The adapter's environment comes along (its quiet switches).
    assert_eq!(spawned[0].env.vars()["DISABLE_AUTOUPDATER"], "1");
    assert!(runtime.live.lock().unwrap().is_empty(), "record removed");
    assert!(runtime.terminated.lock().unwrap().is_empty());
}

#[test]
fn failures_are_typed_and_name_the_program() {
    let (result, _) = probe(Behaviour::Exits(127, "sh: claude: not found\n"));
    let error = result.unwrap_err();
    assert!(matches!(
        error,
        VersionError::Failed {
            status: ExitStatus::Code(127),
            ..
        }
    ));
    assert_eq!(
        error.to_string(),
        "`/opt/claude --version` failed (exit code 127): sh: claude: not found"
    );

    let (result, _) = probe(Behaviour::Exits(0, "Claude Code (dev build)\n"));
    assert!(matches!(result, Err(VersionError::NoVersion { .. })));

    let (result, runtime) = probe(Behaviour::Hangs);
    let error = result.unwrap_err();
    assert!(matches!(error, VersionError::Timeout { .. }));
    assert_eq!(
        error.to_string(),
        "`/opt/claude --version` did not finish within 10s"
    );
    assert_eq!(*runtime.terminated.lock().unwrap(), [true]);
    assert!(runtime.live.lock().unwrap().is_empty(), "record removed");
}
