//! `MockRuntime` against the part of the conformance suite that applies to
//! a runtime without operating-system processes: the core group, including
//! every mock scenario played without a process.

use std::path::PathBuf;

use logist_conformance::Fixture;
use logist_core::{CommandLine, Runtime};
use logist_mock::{MockRuntime, PROGRAM_NAME};

struct MockFixture;

impl Fixture for MockFixture {
    fn runtime(&self) -> Box<dyn Runtime> {
        Box::new(MockRuntime::new())
    }

    fn mock_agent(&self, args: &[&str]) -> CommandLine {
        // The mock runtime plays the program from its name alone.
        CommandLine::new(std::iter::once(PROGRAM_NAME).chain(args.iter().copied()))
            .expect("a valid command line")
    }

    fn pid_alive(&self, _pid: u32) -> bool {
        // No operating-system processes: nothing can be alive.
        false
    }

    fn scratch_dir(&self) -> PathBuf {
        std::env::temp_dir()
    }

    fn leftovers(&self) -> Vec<String> {
        // Nothing can outlive a process-free runtime.
        Vec::new()
    }
}

logist_conformance::core_tests!(MockFixture);
