//! [`Parser`]: live bytes of a program's stdout in, [`Event`]s out.

use serde_json::Value;

use logist_core::OutputFormat;

use crate::dialects::Dialect;
use crate::event::{Event, Raw, RawReason};
use crate::framing::{LineFramer, Piece};

/// The longest line a parser keeps whole by default: 8 MiB. Longer lines
/// (a tool result holding a whole file, a runaway program) pass through as
/// [`RawReason::Oversized`] pieces.
pub const DEFAULT_MAX_LINE: usize = 8 * 1024 * 1024;

/// Turns a program's stdout, as it arrives, into [`Event`]s.
///
/// Incremental: [`feed`](Self::feed) takes chunks cut anywhere (mid-line,
/// mid-character) and returns the events of every line completed so far;
/// [`finish`](Self::finish) ends the stream. Chunking never changes the
/// events. Memory is bounded by the line bound ([`DEFAULT_MAX_LINE`]).
///
/// Nothing is lost and nothing panics: a line that is not in the format (a
/// warning, truncated JSON, invalid UTF-8, a kind of event the parser does
/// not know, a line over the bound) comes out as a [`Raw`] event holding
/// its exact bytes. A recognised line that carries nothing worth an event
/// (a `turn.started`, a list of loaded skills) gives no event; each
/// dialect's docs list those.
///
/// ```
/// use logist_core::OutputFormat;
/// use logist_events::{Event, Parser};
///
/// let mut parser = Parser::new(OutputFormat::CodexJson);
/// let mut events = parser.feed(br#"{"type":"thread.started","thread_id":"t-1"}
/// {"type":"item.completed","item":{"id":"i","type":"agent_mess"#);
/// events.extend(parser.feed(b"age\",\"text\":\"hi\"}}\nnot json\n"));
/// events.extend(parser.finish());
/// assert!(matches!(&events[0], Event::Session(session) if session.id == "t-1"));
/// assert!(matches!(&events[1], Event::Message(message) if message.text == "hi"));
/// assert!(matches!(&events[2], Event::Raw(raw) if raw.data == b"not json\n"));
/// ```
#[derive(Debug)]
pub struct Parser {
    framer: LineFramer,
    dialect: Dialect,
    format: OutputFormat,
}

impl Parser {
    /// A parser for `format` with the default line bound.
    pub fn new(format: OutputFormat) -> Self {
        Self::with_max_line(format, DEFAULT_MAX_LINE)
    }

    /// A parser for `format` that keeps lines of up to `max_line` bytes
    /// (newline included) whole.
    pub fn with_max_line(format: OutputFormat, max_line: usize) -> Self {
        Self {
            framer: LineFramer::new(max_line),
            dialect: Dialect::new(format),
            format,
        }
    }

    /// The format this parser reads.
    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// Feeds the next bytes; returns the events of the lines they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        let mut events = Vec::new();
        self.feed_into(bytes, &mut events);
        events
    }

    /// Like [`feed`](Self::feed), appending to `events`.
    pub fn feed_into(&mut self, bytes: &[u8], events: &mut Vec<Event>) {
        let dialect = &mut self.dialect;
        self.framer
            .feed(bytes, &mut |piece| handle(dialect, piece, events));
    }

    /// Ends the stream: the events of a last line without a newline.
    pub fn finish(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        let dialect = &mut self.dialect;
        self.framer
            .finish(&mut |piece| handle(dialect, piece, &mut events));
        dialect.finish(&mut events);
        events
    }

    /// Bytes held for a line that has not ended yet (at most the bound).
    pub fn buffered(&self) -> usize {
        self.framer.buffered()
    }
}

fn handle(dialect: &mut Dialect, piece: Piece<'_>, events: &mut Vec<Event>) {
    match piece {
        Piece::Line(line) => dialect.line(line, events),
        Piece::Oversized(part) => events.push(raw(RawReason::Oversized, part)),
    }
}

/// A [`Raw`] event holding `bytes`.
pub(crate) fn raw(reason: RawReason, bytes: &[u8]) -> Event {
    Event::Raw(Raw {
        reason,
        data: bytes.to_vec(),
    })
}

/// A line without its line ending (`\n` or `\r\n`).
pub(crate) fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parses a JSON-lines line: `Ok(object)` for a JSON object, or why the
/// line stays raw (not JSON, malformed JSON, JSON that is not an object).
pub(crate) fn json_line(line: &[u8]) -> Result<Value, RawReason> {
    let text = trim_newline(line);
    let starts_like_json = text
        .iter()
        .find(|byte| !byte.is_ascii_whitespace())
        .is_some_and(|&byte| byte == b'{' || byte == b'[');
    if !starts_like_json {
        return Err(RawReason::Unparsed);
    }
    match serde_json::from_slice::<Value>(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(RawReason::Unknown),
        Err(_) => Err(RawReason::Malformed),
    }
}
