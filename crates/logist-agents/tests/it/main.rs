//! Tests of the adapters without running any program: argv and environment
//! snapshots, the waiting and failure tables, verdicts on recorded output,
//! the registry, version probing through a scripted runtime, and home
//! preparation.

mod acp;
mod dialogs;
mod home;
mod registry;
mod resume;
mod snapshots;
mod support;
mod tables;
mod verdicts;
mod version;
