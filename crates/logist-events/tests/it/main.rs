//! Integration tests of `logist-events`: the parsers on output captured
//! from the real programs ([`fixtures`]) and on hostile streams
//! ([`hostile`]).

mod fixtures;
mod hostile;

use logist_core::OutputFormat;
use logist_events::{Event, Parser};

/// Parses `bytes` fed in chunks of `chunk` bytes (all at once when 0).
pub(crate) fn parse(format: OutputFormat, bytes: &[u8], chunk: usize) -> Vec<Event> {
    let mut parser = Parser::new(format);
    let mut events = Vec::new();
    if chunk == 0 {
        parser.feed_into(bytes, &mut events);
    } else {
        for piece in bytes.chunks(chunk) {
            parser.feed_into(piece, &mut events);
        }
    }
    events.extend(parser.finish());
    events
}
