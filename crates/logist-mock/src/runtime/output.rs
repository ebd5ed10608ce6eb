//! The bounded output buffer of one mock process: every write kept as a
//! chunk of the combined log, the oldest bytes dropped (and counted) past
//! the memory limit.

use std::collections::VecDeque;

use logist_core::{Logs, OutputChunk, OutputRead, Stream};

/// Retained output of one process.
#[derive(Debug)]
pub(crate) struct Output {
    chunks: VecDeque<OutputChunk>,
    /// Position of the first retained byte (= bytes dropped so far).
    start: u64,
    /// Position after the last byte written (= bytes written so far).
    end: u64,
    limit: usize,
    /// Bytes dropped so far, per stream (stdout, stderr).
    dropped: [u64; 2],
}

impl Output {
    /// An empty buffer keeping at most `limit` bytes (at least 1).
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            chunks: VecDeque::new(),
            start: 0,
            end: 0,
            limit: limit.max(1),
            dropped: [0; 2],
        }
    }

    /// Appends one write, then drops the oldest bytes beyond the limit.
    pub(crate) fn push(&mut self, stream: Stream, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.chunks.push_back(OutputChunk {
            stream,
            offset: self.end,
            data: data.to_vec(),
        });
        self.end += data.len() as u64;
        let mut excess = (self.end - self.start).saturating_sub(self.limit as u64);
        while excess > 0 {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            let len = front.data.len() as u64;
            let cut = len.min(excess);
            self.dropped[index(front.stream)] += cut;
            self.start += cut;
            excess -= cut;
            if cut == len {
                self.chunks.pop_front();
            } else {
                front.data.drain(..cut as usize);
                front.offset += cut;
            }
        }
    }

    /// The combined log, or one stream's, or their last `tail` lines.
    pub(crate) fn logs(&self, stream: Option<Stream>, tail: Option<usize>) -> Logs {
        let dropped = match stream {
            None => self.start,
            Some(stream) => self.dropped[index(stream)],
        };
        let pieces = self
            .chunks
            .iter()
            .filter(|chunk| stream.is_none_or(|stream| chunk.stream == stream))
            .map(|chunk| chunk.data.as_slice());
        let (data, complete) = last_lines(pieces, tail);
        // A tail found inside the retained bytes lost nothing; one that ran
        // into the start may have lost lines to the bound.
        Logs::new(data, if complete { 0 } else { dropped })
    }

    /// Everything at or after `from`, when there is something to say:
    /// bytes, or bytes the bound dropped before they could be read. `None`
    /// when a reader must wait.
    pub(crate) fn read_from(&self, from: u64, ended: bool) -> Option<OutputRead> {
        let missed = self.start.saturating_sub(from);
        let from = from.max(self.start);
        if from >= self.end && missed == 0 && !ended {
            return None;
        }
        let first = self
            .chunks
            .partition_point(|chunk| chunk.offset + chunk.data.len() as u64 <= from);
        let chunks: Vec<OutputChunk> = self
            .chunks
            .range(first..)
            .map(|chunk| {
                let skip = from.saturating_sub(chunk.offset) as usize;
                OutputChunk {
                    stream: chunk.stream,
                    offset: chunk.offset + skip as u64,
                    data: chunk.data[skip..].to_vec(),
                }
            })
            .collect();
        Some(OutputRead::new(chunks, from.max(self.end), missed, ended))
    }
}

fn index(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

/// The last `tail` lines of the concatenated pieces (all of them for
/// `None`), walking backwards so the cost follows the size of the answer.
/// A final line without a newline counts as a line. The flag is true when
/// the answer did not need the first retained byte (the tail was complete
/// without running into the start).
fn last_lines<'a, I>(pieces: I, tail: Option<usize>) -> (Vec<u8>, bool)
where
    I: DoubleEndedIterator<Item = &'a [u8]>,
{
    let Some(wanted) = tail else {
        return (pieces.flatten().copied().collect(), false);
    };
    if wanted == 0 {
        return (Vec::new(), true);
    }
    let mut taken: Vec<&[u8]> = Vec::new();
    let mut newlines = 0;
    let mut last_byte = true;
    for piece in pieces.rev() {
        let mut cut = None;
        for (at, &byte) in piece.iter().enumerate().rev() {
            // The newline ending the very last line does not start a line.
            if byte == b'\n' && !last_byte {
                newlines += 1;
                if newlines == wanted {
                    cut = Some(at + 1);
                    break;
                }
            }
            last_byte = false;
        }
        match cut {
            Some(at) => {
                taken.push(&piece[at..]);
                return (concat_reversed(taken), true);
            }
            None => taken.push(piece),
        }
    }
    (concat_reversed(taken), false)
}

fn concat_reversed(pieces: Vec<&[u8]>) -> Vec<u8> {
    pieces.into_iter().rev().flatten().copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_tail(pieces: &[&str], tail: usize, expected: &str) {
        let (data, _) = last_lines(pieces.iter().map(|piece| piece.as_bytes()), Some(tail));
        assert_eq!(
            String::from_utf8(data).unwrap(),
            expected,
            "{pieces:?} tail {tail}"
        );
    }

    #[test]
    fn tails_count_a_final_partial_line() {
        check_tail(&["a\nb\nc"], 1, "c");
        check_tail(&["a\nb\nc"], 2, "b\nc");
        check_tail(&["a\nb\nc\n"], 1, "c\n");
        check_tail(&["a\nb\nc\n"], 2, "b\nc\n");
        check_tail(&["a\nb\nc\n"], 3, "a\nb\nc\n");
        check_tail(&["a\nb\nc\n"], 9, "a\nb\nc\n");
        check_tail(&["a\n\n\n"], 2, "\n\n");
        check_tail(&["a\nb\n"], 0, "");
        check_tail(&[], 3, "");
    }

    #[test]
    fn tails_cross_chunk_boundaries() {
        check_tail(&["a\nb", "b\nc", "c\n"], 2, "bb\ncc\n");
        check_tail(&["x\n", "y\n", "z"], 2, "y\nz");
        check_tail(&["x\n", "\n"], 1, "\n");
    }

    #[test]
    fn the_bound_drops_oldest_bytes_and_counts_them_per_stream() {
        let mut output = Output::new(8);
        output.push(Stream::Stdout, b"12345");
        output.push(Stream::Stderr, b"abcdef");
        assert_eq!(output.logs(None, None), Logs::new(b"45abcdef".to_vec(), 3));
        assert_eq!(
            output.logs(Some(Stream::Stdout), None),
            Logs::new(b"45".to_vec(), 3)
        );
        assert_eq!(
            output.logs(Some(Stream::Stderr), None),
            Logs::new(b"abcdef".to_vec(), 0)
        );
        output.push(Stream::Stdout, b"0123456789");
        assert_eq!(output.logs(None, None), Logs::new(b"23456789".to_vec(), 13));
        assert_eq!(
            output.logs(Some(Stream::Stderr), None),
            Logs::new(Vec::new(), 6)
        );

        let read = output.read_from(0, false).unwrap();
        assert_eq!(read.missed, 13);
        assert_eq!(read.next, 21);
        assert_eq!(read.chunks[0].offset, 13);
        assert_eq!(read.chunks[0].data, b"23456789");
    }

    #[test]
    fn a_tail_inside_retained_bytes_drops_nothing() {
        let mut output = Output::new(6);
        output.push(Stream::Stdout, b"old\nab\ncd\n");
        assert_eq!(output.logs(None, Some(1)), Logs::new(b"cd\n".to_vec(), 0));
        assert_eq!(
            output.logs(None, Some(3)),
            Logs::new(b"ab\ncd\n".to_vec(), 4)
        );
    }

    #[test]
    fn reads_clip_chunks_and_wait_at_the_end() {
        let mut output = Output::new(100);
        output.push(Stream::Stdout, b"hello ");
        output.push(Stream::Stderr, b"world");
        let read = output.read_from(3, false).unwrap();
        let parts: Vec<(Stream, u64, &[u8])> = read
            .chunks
            .iter()
            .map(|chunk| (chunk.stream, chunk.offset, chunk.data.as_slice()))
            .collect();
        assert_eq!(
            parts,
            [
                (Stream::Stdout, 3, &b"lo "[..]),
                (Stream::Stderr, 6, &b"world"[..])
            ]
        );
        assert_eq!((read.next, read.missed, read.finished), (11, 0, false));
        assert!(output.read_from(11, false).is_none());
        assert!(output.read_from(6, false).unwrap().chunks[0].data == b"world");
        let done = output.read_from(11, true).unwrap();
        assert!(done.chunks.is_empty() && done.finished && done.next == 11);
        let beyond = output.read_from(20, true).unwrap();
        assert!(beyond.chunks.is_empty() && beyond.next == 20);
    }
}
