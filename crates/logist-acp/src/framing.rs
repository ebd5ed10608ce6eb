//! Cutting the agent's standard output into lines, with a bound on the
//! length of one line, so that a huge or unterminated line never costs
//! more than the bound in memory.

/// What the framer found in the bytes it was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// One complete line, without its newline (and without a final `\r`).
    Line(Vec<u8>),
    /// A line longer than the bound: its first bytes (at most the bound)
    /// and its full length. Its remaining bytes were discarded.
    Oversized {
        /// The first bytes of the line, at most the bound.
        head: Vec<u8>,
        /// The length of the whole line in bytes, newline excluded.
        len: u64,
    },
    /// Bytes before the end of the stream that no newline ended.
    Unterminated(Vec<u8>),
}

/// A line splitter that never holds more than `limit` bytes of one line.
#[derive(Debug)]
pub struct LineFramer {
    limit: usize,
    line: Vec<u8>,
    /// Bytes of the current line beyond the bound, which were discarded.
    overflow: u64,
}

impl LineFramer {
    /// A framer for lines of at most `limit` bytes (at least 1).
    pub fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            line: Vec::new(),
            overflow: 0,
        }
    }

    /// Feeds `bytes` and calls `emit` for every line they complete.
    pub fn push(&mut self, mut bytes: &[u8], mut emit: impl FnMut(Frame)) {
        while !bytes.is_empty() {
            let (part, rest, ended) = match memchr_newline(bytes) {
                Some(at) => (&bytes[..at], &bytes[at + 1..], true),
                None => (bytes, &[][..], false),
            };
            self.take(part);
            if ended {
                emit(self.finish());
            }
            bytes = rest;
        }
    }

    /// Ends the stream: the bytes of an unfinished line, if any.
    pub fn end(&mut self) -> Option<Frame> {
        if self.line.is_empty() && self.overflow == 0 {
            return None;
        }
        let len = self.line.len() as u64 + self.overflow;
        let head = std::mem::take(&mut self.line);
        let frame = if self.overflow > 0 {
            Frame::Oversized { head, len }
        } else {
            Frame::Unterminated(head)
        };
        self.overflow = 0;
        Some(frame)
    }

    /// Forgets the line in progress, after the stream lost bytes in its
    /// middle: the rest of that line can no longer be trusted, so it is
    /// counted as oversized-and-discarded up to the next newline.
    pub fn lose(&mut self, missed: u64) {
        // Mark the line as overflowing so the next newline ends it as an
        // `Oversized` frame instead of gluing two halves together.
        self.overflow = self.overflow.saturating_add(missed.max(1));
    }

    /// The bytes held for the line in progress.
    pub fn held(&self) -> usize {
        self.line.len()
    }

    fn take(&mut self, part: &[u8]) {
        let room = self.limit.saturating_sub(self.line.len());
        if self.overflow > 0 || part.len() > room {
            let kept = if self.overflow > 0 { 0 } else { room };
            self.line.extend_from_slice(&part[..kept]);
            self.overflow = self.overflow.saturating_add((part.len() - kept) as u64);
        } else {
            self.line.extend_from_slice(part);
        }
    }

    fn finish(&mut self) -> Frame {
        let mut line = std::mem::take(&mut self.line);
        if self.overflow > 0 {
            let len = line.len() as u64 + self.overflow;
            self.overflow = 0;
            return Frame::Oversized { head: line, len };
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Frame::Line(line)
    }
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(limit: usize, pushes: &[&[u8]], expected: &[Frame]) {
        let mut framer = LineFramer::new(limit);
        let mut frames = Vec::new();
        for push in pushes {
            framer.push(push, |frame| frames.push(frame));
            assert!(framer.held() <= limit);
        }
        frames.extend(framer.end());
        assert_eq!(frames, expected);
    }

    fn line(text: &str) -> Frame {
        Frame::Line(text.as_bytes().to_vec())
    }

    #[test]
    fn lines_split_across_pushes_are_joined() {
        check(
            64,
            &[b"{\"a\":", b"1}\n{\"b\"", b":2}\r\n"],
            &[line("{\"a\":1}"), line("{\"b\":2}")],
        );
    }

    #[test]
    fn a_line_over_the_bound_keeps_its_head_and_length() {
        check(
            4,
            &[b"abcdefgh", b"ij\nok\n"],
            &[
                Frame::Oversized {
                    head: b"abcd".to_vec(),
                    len: 10,
                },
                line("ok"),
            ],
        );
    }

    #[test]
    fn an_unterminated_tail_is_reported_at_the_end() {
        check(
            64,
            &[b"one\ntw"],
            &[line("one"), Frame::Unterminated(b"tw".to_vec())],
        );
    }

    #[test]
    fn an_unterminated_oversized_tail_is_oversized() {
        check(
            2,
            &[b"abcdef"],
            &[Frame::Oversized {
                head: b"ab".to_vec(),
                len: 6,
            }],
        );
    }

    #[test]
    fn lost_bytes_poison_the_line_in_progress_only() {
        let mut framer = LineFramer::new(64);
        let mut frames = Vec::new();
        framer.push(b"{\"half", |f| frames.push(f));
        framer.lose(10);
        framer.push(b"tail\"}\n{}\n", |f| frames.push(f));
        assert_eq!(
            frames,
            [
                Frame::Oversized {
                    head: b"{\"half".to_vec(),
                    len: 6 + 10 + 6,
                },
                line("{}"),
            ]
        );
    }
}
