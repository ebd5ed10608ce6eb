//! Property tests: how the output is chunked never changes what is found,
//! and on plain text the literal matches are those of a naive reference.

use std::time::Instant;

use logist_core::{OutputChunk, ProcessId, StopSequence, Stream};
use logist_sentinel::{Event, Match, Observer, OnPrompt};
use proptest::prelude::*;

use crate::support::immediate;

/// Pieces of output, chosen to build prompts, break them, and surround them
/// with terminal noise.
const FRAGMENTS: &[&[u8]] = &[
    b"Continue?",
    b" [y/N]",
    b"[y/",
    b"N]",
    b"ok",
    b"x",
    b" ",
    b"\n",
    b"\r",
    b"\r\n",
    b"\x1b[31m",
    b"\x1b[0m",
    b"\x1b[1G",
    b"\x1b]0;title\x07",
    b"\x1b]8;;u\x1b\\",
    b"\x1b",
    b"[",
    b"\xff",
    "\u{276f} 1. Yes".as_bytes(),
    b"429",
    b"Password:",
];

fn stop_sequences() -> Vec<StopSequence> {
    vec![
        StopSequence::literal("Continue? [y/N]"),
        StopSequence::literal("[y/N]"),
        StopSequence::regex(r"\[y/N\]"),
        StopSequence::regex(r"^\u{276f} \d+\. Yes"),
        StopSequence::regex(r"\b429\b"),
        StopSequence::literal("N]\nok"),
        StopSequence::regex(r"Password:\s*$"),
        StopSequence::literal("y/N"),
    ]
}

/// Feeds `chunks` to an observer that waits on every prompt, and returns
/// the prompts.
fn prompts(stops: &[StopSequence], chunks: &[OutputChunk]) -> Vec<Match> {
    let mut observer = Observer::new(stops, &[], immediate().on_prompt(OnPrompt::Wait)).unwrap();
    let now = Instant::now();
    observer.spawned(ProcessId::new("prop"), now);
    let mut found = Vec::new();
    for chunk in chunks {
        observer.output(chunk, now);
        while let Some(event) = observer.poll_event() {
            if let Event::WaitingForInput { matched, .. } = event {
                found.push(matched);
            }
        }
    }
    found
}

/// Output as runs of one stream each: `(stream, bytes)`.
fn output() -> impl Strategy<Value = Vec<(Stream, Vec<u8>)>> {
    let run = (
        prop_oneof![4 => Just(Stream::Stdout), 1 => Just(Stream::Stderr)],
        prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40),
    )
        .prop_map(|(stream, fragments)| (stream, fragments.concat()));
    prop::collection::vec(run, 1..4)
}

/// The runs as whole chunks, at consecutive offsets.
fn whole(runs: &[(Stream, Vec<u8>)]) -> Vec<OutputChunk> {
    let mut offset = 0;
    runs.iter()
        .map(|(stream, data)| {
            let chunk = OutputChunk {
                stream: *stream,
                offset,
                data: data.clone(),
            };
            offset += data.len() as u64;
            chunk
        })
        .collect()
}

/// The same chunks cut at the given points (taken modulo each length).
fn split(chunks: &[OutputChunk], cuts: &[usize]) -> Vec<OutputChunk> {
    let mut pieces = Vec::new();
    for chunk in chunks {
        let len = chunk.data.len();
        let mut points: Vec<usize> = cuts.iter().map(|cut| cut % (len + 1)).collect();
        points.extend([0, len]);
        points.sort_unstable();
        points.dedup();
        for pair in points.windows(2) {
            pieces.push(OutputChunk {
                stream: chunk.stream,
                offset: chunk.offset + pair[0] as u64,
                data: chunk.data[pair[0]..pair[1]].to_vec(),
            });
        }
    }
    pieces
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn chunking_never_changes_the_matches(
        runs in output(),
        cuts in prop::collection::vec(0usize..4096, 0..24),
    ) {
        let stops = stop_sequences();
        let chunks = whole(&runs);
        let expected = prompts(&stops, &chunks);
        prop_assert_eq!(prompts(&stops, &split(&chunks, &cuts)), expected.clone());
        // And one byte at a time.
        let every: Vec<usize> = (0..4096).collect();
        prop_assert_eq!(prompts(&stops, &split(&chunks, &every)), expected);
    }

    #[test]
    fn literals_on_plain_text_match_a_naive_reference(
        text in "[ab\\[\\]/yN ]{0,60}",
        literals in prop::collection::vec("[ab\\[\\]/yN ]{1,4}", 1..5),
        cuts in prop::collection::vec(0usize..64, 0..8),
    ) {
        let stops: Vec<StopSequence> = literals.iter().map(StopSequence::literal).collect();
        let chunks = split(&whole(&[(Stream::Stdout, text.clone().into_bytes())]), &cuts);
        let found: Vec<(usize, u64, u64)> = prompts(&stops, &chunks)
            .iter()
            .map(|m| (m.index, m.start, m.end))
            .collect();
        prop_assert_eq!(found, reference(&text, &literals));
    }
}

/// Non-overlapping matches by earliest end, ties to the first listed, each
/// search starting where the previous match ended: `(index, start, end)`.
fn reference(text: &str, literals: &[String]) -> Vec<(usize, u64, u64)> {
    let text = text.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    for end in 1..=text.len() {
        let hit = literals.iter().enumerate().find(|(_, literal)| {
            let literal = literal.as_bytes();
            end >= from + literal.len() && text[..end].ends_with(literal)
        });
        if let Some((index, literal)) = hit {
            found.push((index, (end - literal.len()) as u64, end as u64));
            from = end;
        }
    }
    found
}
