//! Splitting live bytes into lines, with a bound on a line's length.
//!
//! Bytes arrive in chunks of any size, cut anywhere. A line is handed on
//! once its newline arrives (or at the end of the stream); a line longer
//! than the bound is handed on in pieces as it arrives, so memory stays
//! bounded whatever the program prints, and no byte is dropped.

/// A piece of the stream, handed to the caller of [`LineFramer::feed`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// A whole line, with its newline (none for the last line of a stream
    /// that does not end with one).
    Line(&'a [u8]),
    /// Part of a line longer than the bound, in order; the last part of
    /// such a line holds its newline.
    Oversized(&'a [u8]),
}

/// Splits bytes into lines of at most `max_line` bytes.
#[derive(Debug)]
pub(crate) struct LineFramer {
    /// The start of the current line, when it has not ended yet.
    partial: Vec<u8>,
    /// The longest line kept whole.
    max_line: usize,
    /// True while the rest of an oversized line is passed on.
    oversized: bool,
}

impl LineFramer {
    /// A framer that keeps lines of up to `max_line` bytes whole (at least
    /// one byte).
    pub(crate) fn new(max_line: usize) -> Self {
        Self {
            partial: Vec::new(),
            max_line: max_line.max(1),
            oversized: false,
        }
    }

    /// Bytes held for a line that has not ended: never more than the bound.
    pub(crate) fn buffered(&self) -> usize {
        self.partial.len()
    }

    /// Feeds `bytes`, handing every complete line (and every piece of an
    /// oversized one) to `sink` in order.
    pub(crate) fn feed(&mut self, mut bytes: &[u8], sink: &mut impl FnMut(Piece<'_>)) {
        while !bytes.is_empty() {
            let Some(newline) = memchr::memchr(b'\n', bytes) else {
                self.hold(bytes, sink);
                return;
            };
            let (line, rest) = bytes.split_at(newline + 1);
            bytes = rest;
            if self.oversized {
                self.oversized = false;
                sink(Piece::Oversized(line));
            } else if self.partial.is_empty() && line.len() <= self.max_line {
                // The common case: a whole line in one chunk, no copy.
                sink(Piece::Line(line));
            } else if self.partial.len() + line.len() <= self.max_line {
                self.partial.extend_from_slice(line);
                sink(Piece::Line(&self.partial));
                self.partial.clear();
            } else {
                if !self.partial.is_empty() {
                    sink(Piece::Oversized(&self.partial));
                    self.partial.clear();
                }
                sink(Piece::Oversized(line));
            }
        }
    }

    /// Ends the stream: a last line without a newline is handed on.
    pub(crate) fn finish(&mut self, sink: &mut impl FnMut(Piece<'_>)) {
        if !self.partial.is_empty() {
            sink(Piece::Line(&self.partial));
            self.partial.clear();
        }
        self.oversized = false;
        // Give back the memory a long line took.
        self.partial.shrink_to(0);
    }

    /// Keeps the start of a line, or passes it on when it is too long.
    fn hold(&mut self, bytes: &[u8], sink: &mut impl FnMut(Piece<'_>)) {
        if self.oversized {
            sink(Piece::Oversized(bytes));
        } else if self.partial.len() + bytes.len() <= self.max_line {
            self.partial.extend_from_slice(bytes);
        } else {
            if !self.partial.is_empty() {
                sink(Piece::Oversized(&self.partial));
                self.partial.clear();
            }
            sink(Piece::Oversized(bytes));
            self.oversized = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` and returns what came out, pieces tagged `L:` (line)
    /// or `O:` (oversized).
    #[track_caller]
    fn check(max: usize, chunks: &[&str], expected: &[&str]) {
        let mut framer = LineFramer::new(max);
        let mut out = Vec::new();
        let mut sink = |piece: Piece<'_>| {
            out.push(match piece {
                Piece::Line(line) => format!("L:{}", String::from_utf8_lossy(line)),
                Piece::Oversized(part) => format!("O:{}", String::from_utf8_lossy(part)),
            });
        };
        for chunk in chunks {
            framer.feed(chunk.as_bytes(), &mut sink);
            assert!(framer.buffered() <= max);
        }
        framer.finish(&mut sink);
        assert_eq!(out, expected);
    }

    #[test]
    fn lines_cut_anywhere_come_out_whole() {
        check(100, &["a\nb", "c\n", "d"], &["L:a\n", "L:bc\n", "L:d"]);
        check(100, &["\n\n"], &["L:\n", "L:\n"]);
    }

    #[test]
    fn long_lines_pass_in_pieces_and_the_next_line_is_whole() {
        check(4, &["abcdefgh\nok\n"], &["O:abcdefgh\n", "L:ok\n"]);
        check(
            4,
            &["ab", "cdef", "gh", "i\nok"],
            &["O:ab", "O:cdef", "O:gh", "O:i\n", "L:ok"],
        );
        check(4, &["abcd\n"], &["O:abcd\n"]);
        check(5, &["abcd\n"], &["L:abcd\n"]);
    }
}
