//! Hostile streams: truncated JSON, a 100 MB line, invalid UTF-8, floods,
//! and any chunking. Every byte comes out (in an event or a recognised
//! line), memory stays bounded, nothing panics.

use logist_core::OutputFormat;
use logist_events::{Event, Parser, RawReason};
use proptest::prelude::*;

use crate::parse;

/// The bytes of the raw events, in order.
fn raw_bytes(events: &[Event]) -> Vec<u8> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Raw(raw) => Some(raw.data.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect()
}

fn reasons(events: &[Event]) -> Vec<RawReason> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Raw(raw) => Some(raw.reason),
            _ => None,
        })
        .collect()
}

#[test]
fn truncated_json_is_malformed_raw() {
    let input = b"{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s\"}\n{\"type\":\"assistant\",\"mess";
    let events = parse(OutputFormat::ClaudeStreamJson, input, 0);
    assert!(matches!(&events[0], Event::Session(session) if session.id == "s"));
    assert_eq!(reasons(&events), [RawReason::Malformed]);
    assert_eq!(raw_bytes(&events), b"{\"type\":\"assistant\",\"mess");
}

#[test]
fn unknown_and_non_json_lines_are_raw() {
    let input = b"warning: noise\n{\"type\":\"brand_new\"}\n[1,2]\n\n";
    for format in OutputFormat::ALL
        .iter()
        .copied()
        .filter(|f| f.is_structured())
    {
        let events = parse(format, input, 0);
        assert_eq!(raw_bytes(&events), input, "{format}");
        assert_eq!(
            reasons(&events),
            [
                RawReason::Unparsed,
                RawReason::Unknown,
                RawReason::Unknown,
                RawReason::Unparsed
            ],
            "{format}"
        );
    }
}

#[test]
fn invalid_utf8_is_kept_exactly() {
    let input = b"{\"type\":\"result\",\"x\":\"\xff\xfe\"}\nplain \xc3\n";
    for format in OutputFormat::ALL.iter().copied() {
        let events = parse(format, input, 0);
        assert_eq!(raw_bytes(&events), input, "{format}");
        let json = events[0].to_json();
        assert!(json["base64"].is_string(), "{format}: {json}");
    }
}

#[test]
fn a_100_mb_line_passes_in_bounded_pieces() {
    const MAX: usize = 1 << 20;
    let mut parser = Parser::with_max_line(OutputFormat::ClaudeStreamJson, MAX);
    let chunk = vec![b'x'; 64 * 1024];
    let mut total = 0usize;
    let mut first = true;
    while total < 100 * 1024 * 1024 {
        let piece: &[u8] = if first {
            b"{\"type\":\"assistant\",\"a\":\""
        } else {
            &chunk
        };
        first = false;
        let events = parser.feed(piece);
        total += piece.len();
        assert!(parser.buffered() <= MAX);
        for event in &events {
            assert!(
                matches!(event, Event::Raw(raw) if raw.reason == RawReason::Oversized && raw.data.len() <= 64 * 1024 + MAX)
            );
        }
    }
    let events =
        parser.feed(b"\"}\n{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"after\"}\n");
    assert!(matches!(events.last(), Some(Event::Session(session)) if session.id == "after"));
    assert_eq!(reasons(&events[..events.len() - 1]), [RawReason::Oversized]);
    assert!(parser.finish().is_empty());
}

#[test]
fn a_flood_of_lines_gives_one_event_each() {
    let line = b"{\"type\":\"assistant\",\"message\":{\"id\":\"m\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}}\n";
    let input: Vec<u8> = line.repeat(100_000);
    let events = parse(OutputFormat::ClaudeStreamJson, &input, 65536);
    assert_eq!(events.len(), 100_000);
    assert!(
        events
            .iter()
            .all(|event| matches!(event, Event::Message(_)))
    );
}

#[test]
fn an_unterminated_last_line_is_parsed_at_the_end() {
    let mut parser = Parser::new(OutputFormat::CodexJson);
    assert!(
        parser
            .feed(b"{\"type\":\"thread.started\",\"thread_id\":\"t\"}")
            .is_empty()
    );
    assert!(matches!(&parser.finish()[..], [Event::Session(session)] if session.id == "t"));
}

/// One line from each capture kind, plus noise, to shuffle and chunk.
const LINES: &[&[u8]] = &[
    b"{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s\",\"model\":\"m\"}\n",
    b"{\"type\":\"assistant\",\"message\":{\"id\":\"m\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"Write\",\"input\":{\"file_path\":\"/a\"}}]}}\n",
    b"{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}\n",
    b"{\"type\":\"item.completed\",\"item\":{\"id\":\"i\",\"type\":\"agent_message\",\"text\":\"\xc3\xa9t\xc3\xa9\"}}\n",
    b"{\"type\":\"message\",\"role\":\"assistant\",\"content\":\"x\",\"delta\":true}\n",
    b"{\"type\":\"agent_event\",\"event\":{\"type\":\"content_start\",\"contentType\":\"text\",\"text\":\"\xc3\xa9\"}}\n",
    b"{\"type\":\"run_result\",\"finishReason\":\"completed\",\"text\":\"ok\"}\n",
    b"not json at all \xe2\x82\xac\n",
    b"{\"truncated\":\n",
    b"\xff\xfe\n",
    b"\n",
];

proptest! {
    #[test]
    fn chunking_does_not_change_the_events(
        picks in proptest::collection::vec(0..LINES.len(), 0..40),
        cuts in proptest::collection::vec(1usize..50, 1..20),
        format in 0..OutputFormat::ALL.len(),
        unterminated in any::<bool>(),
    ) {
        let format = OutputFormat::ALL[format];
        let mut input: Vec<u8> = picks.iter().flat_map(|&i| LINES[i].iter().copied()).collect();
        if unterminated {
            input.pop();
        }
        let whole = parse(format, &input, 0);
        let mut parser = Parser::with_max_line(format, 64);
        let mut bounded = Vec::new();
        let mut parts = Parser::new(format);
        let mut chunked = Vec::new();
        let mut rest = input.as_slice();
        for cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at((*cut).min(rest.len()));
            parts.feed_into(piece, &mut chunked);
            parser.feed_into(piece, &mut bounded);
            rest = tail;
        }
        chunked.extend(parts.finish());
        bounded.extend(parser.finish());
        prop_assert_eq!(&chunked, &whole);
        // With a small bound, long lines become raw pieces; the bytes of
        // unparsed lines are all still there, in order.
        let raw = raw_bytes(&bounded);
        prop_assert!(raw.len() <= input.len());
    }
}
