//! The bounded in-memory record of a process's output.
//!
//! Output is kept as a queue of chunks, each tagged with its stream and its
//! offset in the combined output (stdout and stderr interleaved in arrival
//! order). Consecutive bytes of the same stream are appended to the last
//! chunk up to [`CHUNK_LEN`], so a program that writes one byte at a time
//! does not cost one allocation per byte. When the retained bytes exceed the
//! cap, the oldest bytes are dropped and counted, overall and per stream.
//!
//! A large read (at least half a chunk, as a fast producer gives) is handed
//! over whole instead, by [`OutputBuffer::push_owned`], and the chunk the
//! cap evicts comes back for the next read: a fast stream's bytes are copied
//! once, from the pipe into the buffer, and its memory is reused rather
//! than freed and faulted in again.
//!
//! Costs: appending is amortised O(bytes); a read from an offset finds its
//! chunk by binary search; a tail of N lines walks chunks backwards and scans
//! only the bytes it returns (plus part of one chunk).

use std::collections::VecDeque;

use logist_core::{Logs, OutputChunk, Stream};

/// Largest chunk the buffer builds by appending; also the unit of eviction.
pub const CHUNK_LEN: usize = 64 * 1024;
/// Reads at least this long are handed over whole by `push_owned`.
pub const HANDOVER_LEN: usize = CHUNK_LEN / 2;
/// Copies of the logs at least this long have their memory faulted in at
/// once rather than page by page.
const PREFAULT_LEN: usize = 256 * 1024;

#[derive(Debug)]
struct Chunk {
    stream: Stream,
    /// Offset of `data[0]` in the combined output.
    offset: u64,
    data: Vec<u8>,
}

impl Chunk {
    fn end(&self) -> u64 {
        self.offset + self.data.len() as u64
    }
}

/// Retained output of one process.
#[derive(Debug)]
pub struct OutputBuffer {
    chunks: VecDeque<Chunk>,
    cap: usize,
    retained: usize,
    /// Total bytes ever appended (the offset of the next byte).
    end: u64,
    /// Bytes dropped by the cap, per stream (index by `stream_index`).
    dropped: [u64; 2],
    /// Bytes ever appended, per stream.
    produced: [u64; 2],
}

fn stream_index(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

impl OutputBuffer {
    /// An empty buffer retaining at most `cap` bytes (at least one byte).
    pub fn new(cap: usize) -> Self {
        Self {
            chunks: VecDeque::new(),
            cap: cap.max(1),
            retained: 0,
            end: 0,
            dropped: [0, 0],
            produced: [0, 0],
        }
    }

    /// Bytes `stream` has produced so far, dropped ones included.
    pub fn produced(&self, stream: Stream) -> u64 {
        self.produced[stream_index(stream)]
    }

    /// Offset of the next byte to arrive: the total produced so far.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Offset of the oldest retained byte.
    pub fn start(&self) -> u64 {
        self.chunks.front().map_or(self.end, |chunk| chunk.offset)
    }

    /// Bytes dropped so far, all streams.
    pub fn dropped_total(&self) -> u64 {
        self.dropped[0] + self.dropped[1]
    }

    /// Appends bytes that arrived on `stream`, then enforces the cap.
    pub fn push(&mut self, stream: Stream, mut bytes: &[u8]) {
        self.produced[stream_index(stream)] += bytes.len() as u64;
        while !bytes.is_empty() {
            let room = match self.chunks.back() {
                Some(last) if last.stream == stream && last.data.len() < CHUNK_LEN => {
                    CHUNK_LEN - last.data.len()
                }
                _ => {
                    let capacity = bytes.len().clamp(256, CHUNK_LEN);
                    self.chunks.push_back(Chunk {
                        stream,
                        offset: self.end,
                        data: Vec::with_capacity(capacity),
                    });
                    CHUNK_LEN
                }
            };
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            let last = self.chunks.back_mut().expect("a chunk was just ensured");
            // Grow by doubling, but never past CHUNK_LEN, so the memory held
            // stays close to the bytes retained.
            let needed = last.data.len() + now.len();
            if needed > last.data.capacity() {
                let target = (last.data.capacity() * 2).clamp(needed, CHUNK_LEN.max(needed));
                last.data.reserve_exact(target - last.data.len());
            }
            last.data.extend_from_slice(now);
            self.retained += now.len();
            self.end += now.len() as u64;
            bytes = rest;
        }
        self.enforce_cap();
    }

    /// Appends `data` (at least [`HANDOVER_LEN`] and at most [`CHUNK_LEN`]
    /// bytes, read from `stream`) as a chunk of its own, without copying it,
    /// then enforces the cap. Returns a chunk the cap evicted, with room for
    /// [`CHUNK_LEN`] bytes, for the next read to overwrite: its old bytes
    /// are left in place, so it need not be zeroed again.
    ///
    /// Spare capacity beyond a quarter chunk is given back first, so the
    /// memory held stays within a third of the bytes retained.
    pub fn push_owned(&mut self, stream: Stream, mut data: Vec<u8>) -> Option<Vec<u8>> {
        debug_assert!((HANDOVER_LEN..=CHUNK_LEN).contains(&data.len()));
        if data.capacity() - data.len() > CHUNK_LEN / 4 {
            data.shrink_to_fit();
        }
        let len = data.len();
        self.produced[stream_index(stream)] += len as u64;
        self.chunks.push_back(Chunk {
            stream,
            offset: self.end,
            data,
        });
        self.retained += len;
        self.end += len as u64;
        self.enforce_cap()
    }

    /// Drops the oldest bytes beyond the cap; returns a chunk that was
    /// evicted whole and has room for [`CHUNK_LEN`] bytes (but not much
    /// more), if there was one.
    fn enforce_cap(&mut self) -> Option<Vec<u8>> {
        let mut evicted = None;
        while self.retained > self.cap {
            let excess = self.retained - self.cap;
            let front = self
                .chunks
                .front_mut()
                .expect("retained bytes live in chunks");
            let index = stream_index(front.stream);
            if front.data.len() <= excess {
                let len = front.data.len();
                let chunk = self.chunks.pop_front().expect("the front chunk exists");
                if evicted.is_none() && (CHUNK_LEN..=2 * CHUNK_LEN).contains(&chunk.data.capacity())
                {
                    evicted = Some(chunk.data);
                }
                self.retained -= len;
                self.dropped[index] += len as u64;
            } else {
                front.data.drain(..excess);
                front.offset += excess as u64;
                self.retained -= excess;
                self.dropped[index] += excess as u64;
            }
        }
        evicted
    }

    /// Advances the output by `len` bytes that never reached the buffer
    /// (a supervisor could not keep them, or they are skipped on purpose),
    /// so that offsets stay those of the process's whole output. They count
    /// as produced and dropped, on `stream`.
    pub fn skip(&mut self, stream: Stream, len: u64) {
        self.produced[stream_index(stream)] += len;
        self.dropped[stream_index(stream)] += len;
        self.end += len;
    }

    /// Frees every retained byte (the process is being removed).
    pub fn clear(&mut self) {
        for chunk in self.chunks.drain(..) {
            self.dropped[stream_index(chunk.stream)] += chunk.data.len() as u64;
        }
        self.retained = 0;
    }

    /// Output from offset `from`, at most about `max` bytes (whole chunks
    /// may be split). Returns the chunks, the offset to read from next, and
    /// how many requested bytes had already been dropped.
    pub fn read_from(&self, from: u64, max: usize) -> (Vec<OutputChunk>, u64, u64) {
        let start = self.start();
        let (from, missed) = if from < start {
            (start, start - from)
        } else {
            (from, 0)
        };
        let mut out = Vec::new();
        let mut next = from;
        let mut budget = max.max(1);
        let first = self.chunks.partition_point(|chunk| chunk.end() <= from);
        for chunk in self.chunks.range(first..) {
            if budget == 0 {
                break;
            }
            let skip = usize::try_from(from.saturating_sub(chunk.offset)).unwrap_or(usize::MAX);
            let available = &chunk.data[skip.min(chunk.data.len())..];
            let take = &available[..available.len().min(budget)];
            if take.is_empty() {
                continue;
            }
            out.push(OutputChunk {
                stream: chunk.stream,
                offset: chunk.offset + skip as u64,
                data: take.to_vec(),
            });
            budget -= take.len();
            next = chunk.offset + (skip + take.len()) as u64;
        }
        (out, next, missed)
    }

    /// The retained combined output, or its last `tail` lines.
    pub fn logs(&self, tail: Option<usize>) -> Logs {
        self.collect(None, tail)
    }

    /// The retained output of one stream, or its last `tail` lines.
    pub fn stream_logs(&self, stream: Stream, tail: Option<usize>) -> Logs {
        self.collect(Some(stream), tail)
    }

    fn collect(&self, only: Option<Stream>, tail: Option<usize>) -> Logs {
        let wanted = |chunk: &&Chunk| only.is_none_or(|stream| chunk.stream == stream);
        let dropped = match only {
            None => self.dropped_total(),
            Some(stream) => self.dropped[stream_index(stream)],
        };
        let Some(lines) = tail else {
            let len = self
                .chunks
                .iter()
                .filter(wanted)
                .map(|c| c.data.len())
                .sum();
            let mut data = Vec::with_capacity(len);
            if len >= PREFAULT_LEN {
                let _ = crate::prefault_spare(&mut data);
            }
            for chunk in self.chunks.iter().filter(wanted) {
                data.extend_from_slice(&chunk.data);
            }
            return Logs::new(data, dropped);
        };
        if lines == 0 {
            return Logs::new(Vec::new(), 0);
        }
        // Walk backwards counting line ends. A newline that ends the output
        // terminates the last line rather than starting an empty one.
        let mut pieces: Vec<&[u8]> = Vec::new();
        let mut newlines = 0;
        let mut at_end = true;
        let mut complete = false;
        'chunks: for chunk in self.chunks.iter().rev().filter(wanted) {
            let data = chunk.data.as_slice();
            let mut cut = data.len();
            while let Some(pos) = data[..cut].iter().rposition(|&b| b == b'\n') {
                if at_end && pos + 1 == data.len() {
                    at_end = false;
                    cut = pos;
                    continue;
                }
                at_end = false;
                newlines += 1;
                if newlines == lines {
                    pieces.push(&data[pos + 1..]);
                    complete = true;
                    break 'chunks;
                }
                cut = pos;
            }
            if !data.is_empty() {
                at_end = false;
            }
            pieces.push(data);
        }
        let mut data = Vec::with_capacity(pieces.iter().map(|piece| piece.len()).sum());
        for piece in pieces.iter().rev() {
            data.extend_from_slice(piece);
        }
        // Lines that began before the oldest retained byte were cut short.
        Logs::new(data, if complete { 0 } else { dropped })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer(cap: usize, writes: &[(Stream, &str)]) -> OutputBuffer {
        let mut buffer = OutputBuffer::new(cap);
        for (stream, text) in writes {
            buffer.push(*stream, text.as_bytes());
        }
        buffer
    }

    #[track_caller]
    fn check_tail(output: &str, n: usize, expected: &str) {
        // The same text written whole, byte by byte, and interleaved with
        // stderr must give the same stdout tail.
        let whole = buffer(1 << 20, &[(Stream::Stdout, output)]);
        assert_eq!(whole.logs(Some(n)).text(), expected, "whole, tail {n}");
        let mut bytewise = OutputBuffer::new(1 << 20);
        for byte in output.as_bytes() {
            bytewise.push(Stream::Stdout, std::slice::from_ref(byte));
            bytewise.push(Stream::Stderr, b"e\n");
        }
        assert_eq!(
            bytewise.stream_logs(Stream::Stdout, Some(n)).text(),
            expected,
            "interleaved, tail {n}"
        );
    }

    #[test]
    fn tail_counts_lines_from_the_end() {
        check_tail("a\nb\nc\n", 1, "c\n");
        check_tail("a\nb\nc\n", 2, "b\nc\n");
        check_tail("a\nb\nc\n", 3, "a\nb\nc\n");
        check_tail("a\nb\nc\n", 10, "a\nb\nc\n");
        check_tail("a\nb\nc", 1, "c");
        check_tail("a\nb\nc", 2, "b\nc");
        check_tail("a\n\n\nb\n", 2, "\nb\n");
        check_tail("\n", 1, "\n");
        check_tail("", 3, "");
        check_tail("abc", 0, "");
        check_tail("Confirm? [y/N]: ", 1, "Confirm? [y/N]: ");
    }

    #[test]
    fn combined_log_keeps_arrival_order() {
        let buffer = buffer(
            1024,
            &[
                (Stream::Stdout, "out1 "),
                (Stream::Stderr, "err1 "),
                (Stream::Stdout, "out2"),
            ],
        );
        assert_eq!(buffer.logs(None).text(), "out1 err1 out2");
        assert_eq!(buffer.stream_logs(Stream::Stdout, None).text(), "out1 out2");
        assert_eq!(buffer.stream_logs(Stream::Stderr, None).text(), "err1 ");
        assert_eq!(buffer.end(), 14);
    }

    #[test]
    fn cap_drops_oldest_bytes_and_counts_them() {
        let buffer = buffer(8, &[(Stream::Stdout, "0123456789"), (Stream::Stderr, "ab")]);
        let logs = buffer.logs(None);
        assert_eq!(logs.text(), "456789ab");
        assert_eq!(logs.dropped(), 4);
        assert_eq!(buffer.start(), 4);
        assert_eq!(buffer.stream_logs(Stream::Stdout, None).dropped(), 4);
        assert_eq!(buffer.stream_logs(Stream::Stderr, None).dropped(), 0);
        // The only line began before the oldest retained byte.
        assert_eq!(buffer.logs(Some(1)).dropped(), 4);
        // A tail whose lines all fit in what is retained misses nothing.
        let lines = buffer_with_lines();
        assert_eq!(lines.logs(Some(2)).text(), "c\nd\n");
        assert_eq!(lines.logs(Some(2)).dropped(), 0);
    }

    fn buffer_with_lines() -> OutputBuffer {
        buffer(6, &[(Stream::Stdout, "a\nb\nc\nd\n")])
    }

    #[test]
    fn tail_reaching_past_the_cap_reports_the_loss() {
        let buffer = buffer(6, &[(Stream::Stdout, "line1\nline2\nline3\n")]);
        let logs = buffer.logs(Some(5));
        assert_eq!(logs.text(), "line3\n");
        assert_eq!(logs.dropped(), 12);
    }

    #[test]
    fn reads_resume_from_any_offset() {
        let mut buffer = OutputBuffer::new(1 << 20);
        buffer.push(Stream::Stdout, b"hello ");
        buffer.push(Stream::Stderr, b"world");
        let (chunks, next, missed) = buffer.read_from(0, 1 << 20);
        assert_eq!((next, missed), (11, 0));
        assert_eq!(chunks.len(), 2);
        assert_eq!((chunks[1].stream, chunks[1].offset), (Stream::Stderr, 6));

        let (chunks, next, _) = buffer.read_from(3, 1 << 20);
        assert_eq!(chunks[0].data, b"lo ");
        assert_eq!(chunks[0].offset, 3);
        assert_eq!(next, 11);

        let (chunks, next, _) = buffer.read_from(11, 1 << 20);
        assert!(chunks.is_empty());
        assert_eq!(next, 11);

        // A bounded read returns a prefix and where to continue.
        let (chunks, next, _) = buffer.read_from(0, 4);
        assert_eq!(chunks[0].data, b"hell");
        assert_eq!(next, 4);
    }

    #[test]
    fn reads_behind_the_cap_count_what_was_missed() {
        let buffer = buffer(4, &[(Stream::Stdout, "abcdefgh")]);
        let (chunks, next, missed) = buffer.read_from(2, 100);
        assert_eq!(missed, 2);
        assert_eq!(chunks[0].data, b"efgh");
        assert_eq!(chunks[0].offset, 4);
        assert_eq!(next, 8);
    }

    #[test]
    fn small_writes_share_chunks_and_large_ones_split() {
        let mut buffer = OutputBuffer::new(1 << 30);
        for _ in 0..1000 {
            buffer.push(Stream::Stdout, b"x");
        }
        assert_eq!(buffer.chunks.len(), 1);
        buffer.push(Stream::Stdout, &vec![b'y'; 3 * CHUNK_LEN]);
        assert!(
            buffer
                .chunks
                .iter()
                .all(|chunk| chunk.data.len() <= CHUNK_LEN)
        );
        assert_eq!(buffer.logs(None).len(), 1000 + 3 * CHUNK_LEN);
        let offsets_consistent = buffer
            .chunks
            .iter()
            .zip(buffer.chunks.iter().skip(1))
            .all(|(a, b)| a.end() == b.offset);
        assert!(offsets_consistent);
    }

    #[test]
    fn handed_over_chunks_keep_order_offsets_and_the_cap() {
        let cap = 4 * CHUNK_LEN;
        let mut buffer = OutputBuffer::new(cap);
        let mut expected = Vec::new();
        let mut recycled = 0;
        for round in 0..20u8 {
            let len = if round % 2 == 0 {
                CHUNK_LEN
            } else {
                HANDOVER_LEN + 7
            };
            let mut data = Vec::with_capacity(CHUNK_LEN);
            data.resize(len, b'a' + round);
            expected.extend_from_slice(&data);
            if let Some(chunk) = buffer.push_owned(Stream::Stdout, data) {
                assert!(chunk.capacity() >= CHUNK_LEN);
                recycled += 1;
            }
            buffer.push(Stream::Stderr, b"e");
            expected.push(b'e');
        }
        assert!(recycled > 0, "evicted chunks come back for reuse");
        let logs = buffer.logs(None);
        assert_eq!(logs.len(), cap);
        assert_eq!(logs.dropped() as usize, expected.len() - cap);
        assert_eq!(logs.bytes(), &expected[expected.len() - cap..]);
        let (chunks, next, _) = buffer.read_from(buffer.start(), usize::MAX);
        assert_eq!(next as usize, expected.len());
        let offsets_consistent = chunks
            .iter()
            .zip(chunks.iter().skip(1))
            .all(|(a, b)| a.offset + a.data.len() as u64 == b.offset);
        assert!(offsets_consistent);
        // Half-full handed-over chunks gave their spare room back.
        let capacity: usize = buffer.chunks.iter().map(|c| c.data.capacity()).sum();
        assert!(
            capacity <= cap + cap / 3 + 2 * CHUNK_LEN,
            "capacity {capacity}"
        );
    }

    #[test]
    fn clear_frees_everything_but_keeps_the_count() {
        let mut buffer = buffer(100, &[(Stream::Stdout, "abc")]);
        buffer.clear();
        assert!(buffer.logs(None).is_empty());
        assert_eq!(buffer.dropped_total(), 3);
        assert_eq!(buffer.end(), 3);
    }

    #[test]
    fn memory_stays_bounded_under_a_flood() {
        let mut buffer = OutputBuffer::new(256 * 1024);
        let block = vec![b'z'; 10_000];
        for _ in 0..10_000 {
            buffer.push(Stream::Stdout, &block);
        }
        assert_eq!(buffer.retained, 256 * 1024);
        let capacity: usize = buffer
            .chunks
            .iter()
            .map(|chunk| chunk.data.capacity())
            .sum();
        assert!(
            capacity <= 256 * 1024 + 2 * CHUNK_LEN,
            "capacity {capacity}"
        );
        assert_eq!(buffer.dropped_total(), 100_000_000 - 256 * 1024);
    }
}
