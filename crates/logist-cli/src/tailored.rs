//! The agents `logist` can run: the built-in mock agent, a plain command
//! (`logist exec`), and the adapters of `logist-agents`, tailored by the
//! command line.

use logist_core::{
    Agent, CommandLine, Environment, Error, FailurePattern, OutputFormat, PromptOnStdin,
    StopSequence, Verdict,
};

/// An agent adjusted by the command line: `argv[0]` replaced (the embedded
/// mock agent runs as `logist mock-agent`), extra arguments added before the
/// `--` that ends the options (or at the end), and environment settings
/// that win over the agent's own.
pub(crate) struct Tailored {
    inner: Box<dyn Agent>,
    relaunch: Option<Vec<String>>,
    extra: Vec<String>,
    env: Environment,
}

impl Tailored {
    pub(crate) fn new(inner: Box<dyn Agent>) -> Self {
        Self {
            inner,
            relaunch: None,
            extra: Vec::new(),
            env: Environment::inherit(),
        }
    }

    /// Runs the agent's program as this command line instead of `argv[0]`.
    pub(crate) fn relaunch(mut self, command: Vec<String>) -> Self {
        self.relaunch = Some(command);
        self
    }

    /// Adds arguments for the agent program.
    pub(crate) fn extra_args(mut self, extra: Vec<String>) -> Self {
        self.extra = extra;
        self
    }

    /// Settings that override the agent's environment.
    pub(crate) fn env(mut self, env: Environment) -> Self {
        self.env = env;
        self
    }
}

impl Tailored {
    /// The inner agent's command line with the relaunch and extra arguments.
    fn tailor(&self, command: CommandLine) -> Result<CommandLine, Error> {
        let mut argv = command.into_argv();
        if let Some(relaunch) = &self.relaunch {
            argv.splice(0..1, relaunch.iter().cloned());
        }
        let at = argv
            .iter()
            .position(|arg| arg == "--")
            .unwrap_or(argv.len());
        argv.splice(at..at, self.extra.iter().cloned());
        CommandLine::new(argv)
    }
}

impl Agent for Tailored {
    fn cmd(&self, prompt: &str) -> Result<CommandLine, Error> {
        self.tailor(self.inner.cmd(prompt)?)
    }
    fn prompt_on_stdin(&self, prompt: &str) -> Result<Option<PromptOnStdin>, Error> {
        let Some(piped) = self.inner.prompt_on_stdin(prompt)? else {
            return Ok(None);
        };
        Ok(Some(PromptOnStdin::new(
            self.tailor(piped.command)?,
            piped.input,
        )))
    }
    fn acp_command(&self) -> Result<Option<CommandLine>, Error> {
        self.inner
            .acp_command()?
            .map(|command| self.tailor(command))
            .transpose()
    }
    fn answers_on_pipe(&self) -> bool {
        self.inner.answers_on_pipe()
    }
    fn env(&self) -> Environment {
        self.inner.env().merge(&self.env)
    }
    fn stop_sequences(&self) -> Vec<StopSequence> {
        self.inner.stop_sequences()
    }
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn version(&self) -> &str {
        self.inner.version()
    }
    fn failure_patterns(&self) -> Vec<FailurePattern> {
        self.inner.failure_patterns()
    }
    fn verdict(&self, stdout_tail: &[u8]) -> Option<Verdict> {
        self.inner.verdict(stdout_tail)
    }
    fn output_format(&self) -> OutputFormat {
        self.inner.output_format()
    }
}

/// Any command, watched with the stop sequences given on the command line
/// (`logist exec`). It takes no prompt.
pub(crate) struct Exec {
    command: CommandLine,
    stops: Vec<StopSequence>,
}

impl Exec {
    pub(crate) fn new(command: CommandLine, stops: Vec<StopSequence>) -> Self {
        Self { command, stops }
    }
}

impl Agent for Exec {
    fn cmd(&self, _prompt: &str) -> Result<CommandLine, Error> {
        Ok(self.command.clone())
    }
    fn env(&self) -> Environment {
        Environment::inherit()
    }
    fn stop_sequences(&self) -> Vec<StopSequence> {
        self.stops.clone()
    }
    fn name(&self) -> &str {
        "exec"
    }
    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(argv: &[&str]) -> Box<dyn Agent> {
        Box::new(Exec::new(
            CommandLine::new(argv.iter().copied()).unwrap(),
            Vec::new(),
        ))
    }

    #[test]
    fn extra_args_go_before_the_end_of_options() {
        let agent = Tailored::new(fixed(&["a", "-p", "--", "P"]))
            .extra_args(vec!["--x".into(), "y".into()]);
        assert_eq!(
            agent.cmd("").unwrap().argv(),
            ["a", "-p", "--x", "y", "--", "P"]
        );
        let agent = Tailored::new(fixed(&["a", "--message=P"])).extra_args(vec!["--x".into()]);
        assert_eq!(agent.cmd("").unwrap().argv(), ["a", "--message=P", "--x"]);
    }

    #[test]
    fn relaunch_replaces_the_program_only() {
        let agent = Tailored::new(fixed(&["mock", "--scenario", "hang", "--", "P"]))
            .relaunch(vec!["/bin/logist".into(), "mock-agent".into()]);
        assert_eq!(
            agent.cmd("").unwrap().argv(),
            ["/bin/logist", "mock-agent", "--scenario", "hang", "--", "P"]
        );
    }

    #[test]
    fn the_stdin_form_is_tailored_too() {
        let mock = logist_mock::MockAgent::new(logist_mock::Scenario::Success).program("mock");
        let plain = Tailored::new(Box::new(mock.clone()));
        assert_eq!(plain.prompt_on_stdin("P").unwrap(), None);

        let agent = Tailored::new(Box::new(mock.stdin_prompt()))
            .relaunch(vec!["/bin/logist".into(), "mock-agent".into()])
            .extra_args(vec!["--delay-ms".into(), "0".into()]);
        let piped = agent.prompt_on_stdin("-P").unwrap().expect("offered");
        assert_eq!(
            piped.command.argv(),
            [
                "/bin/logist",
                "mock-agent",
                "--scenario",
                "success",
                "--prompt-stdin",
                "--delay-ms",
                "0"
            ]
        );
        assert_eq!(piped.input, b"-P");
    }

    #[test]
    fn command_line_environment_wins() {
        struct WithEnv;
        impl Agent for WithEnv {
            fn cmd(&self, _: &str) -> Result<CommandLine, Error> {
                CommandLine::new(["x"])
            }
            fn env(&self) -> Environment {
                Environment::inherit().set("NO_COLOR", "1").pass("API_KEY")
            }
            fn stop_sequences(&self) -> Vec<StopSequence> {
                Vec::new()
            }
            fn name(&self) -> &str {
                "with-env"
            }
            fn version(&self) -> &str {
                "1"
            }
        }
        let agent =
            Tailored::new(Box::new(WithEnv)).env(Environment::inherit().set("NO_COLOR", "0"));
        let env = Environment::clean().merge(&Agent::env(&agent));
        assert_eq!(env.vars()["NO_COLOR"], "0");
        assert!(env.passed().contains("API_KEY"));
    }
}
