//! Parses a captured output file and prints its events as JSON lines:
//! `cargo run -p logist-events --example parse -- FORMAT FILE`.

use logist_core::OutputFormat;
use logist_events::Parser;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(format), Some(file)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: parse FORMAT FILE (FORMAT: claude-stream-json, codex-json, …)");
        std::process::exit(2);
    };
    let Some(format) = OutputFormat::ALL
        .iter()
        .copied()
        .find(|known| known.as_str() == format)
    else {
        eprintln!("unknown format {format}");
        std::process::exit(2);
    };
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("cannot read {file}: {error}");
            std::process::exit(1);
        }
    };
    let mut parser = Parser::new(format);
    let mut events = parser.feed(&bytes);
    events.extend(parser.finish());
    for event in events {
        println!("{}", event.to_json());
    }
}
