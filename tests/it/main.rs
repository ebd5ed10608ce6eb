//! Cross-crate tests: the workspace's crates used together, the way an
//! orchestrator uses them.

mod contract;
mod links;
mod mock_scenarios;
