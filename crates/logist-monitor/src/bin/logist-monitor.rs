//! The `logist-monitor` program: one per run, started by
//! `logist_monitor::start`; see the library's documentation.

fn main() {
    std::process::exit(logist_monitor::monitor_main(std::env::args_os().skip(1)));
}
