//! Cross-crate tests: the workspace's crates used together, the way an
//! orchestrator uses them.

mod contract;
mod mock_scenarios;
