//! `logist-mock-agent`: a scripted stand-in for an AI coding agent. The
//! program lives in the library ([`logist_mock::program`]); see the crate
//! docs for the scenarios.

fn main() {
    let relaunch: Vec<std::ffi::OsString> = std::env::current_exe()
        .map(|exe| vec![exe.into_os_string()])
        .unwrap_or_default();
    std::process::exit(logist_mock::program::run(
        std::env::args_os().skip(1),
        &relaunch,
    ));
}
