//! Removing terminal escape sequences and carriage-return redraws from one
//! output stream, chunk by chunk, so that patterns are matched against the
//! text a person would read.
//!
//! The [`Scrubber`] is a small state machine in the style of the VT500
//! parser: it keeps its state between chunks, so a sequence split anywhere
//! (even between `ESC` and `[`) is still recognised and removed. It never
//! buffers text: printable bytes come out as slices of the input, at once
//! (the one exception: a cursor move right within the line comes out as a
//! single space, since that is what a reader sees).

/// What the scrubber found in the raw bytes, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// Text, contiguous in the raw output from `offset`.
    Text {
        /// The bytes, exactly as written.
        bytes: &'a [u8],
        /// Position of the first byte in the combined output.
        offset: u64,
    },
    /// A line feed (alone, or after a carriage return) at `offset`.
    Newline {
        /// Position of the `\n` in the combined output.
        offset: u64,
    },
    /// The cursor went back to the start of the line or to another line (a
    /// carriage return not followed by `\n`, or a cursor-moving CSI
    /// sequence): what follows redraws the screen.
    Redraw,
}

/// Longest OSC, DCS, SOS, PM or APC string that is swallowed. A string that
/// is not terminated within this many bytes is abandoned and what follows is
/// text again, so one stray `ESC ]` cannot hide the rest of the output.
pub(crate) const MAX_STRING: usize = 4096;

/// The parser state between bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    /// Plain text.
    #[default]
    Ground,
    /// After `ESC`.
    Escape,
    /// After `ESC` and one or more intermediate bytes (`ESC ( B`).
    EscapeIntermediate,
    /// Inside `ESC [ ...`, before the final byte; `first` is the first
    /// numeric parameter so far (0 when absent), `in_first` whether it is
    /// still being read.
    Csi { first: u16, in_first: bool },
    /// Inside an OSC/DCS/SOS/PM/APC string; `len` bytes swallowed so far.
    String { len: usize },
    /// After `ESC` inside a string: `\` ends it (ST).
    StringEscape,
}

/// Removes escape sequences and turns line endings into [`Piece`]s.
///
/// Rules:
/// - CSI (`ESC [` … final byte), OSC (`ESC ]` … BEL or `ESC \`), DCS, SOS,
///   PM and APC strings, and the short `ESC` sequences (`ESC 7`, `ESC ( B`)
///   are removed. CAN and SUB abort a sequence, `ESC` inside one starts a new
///   one, and a non-ASCII byte inside a CSI aborts it and counts as text.
/// - CSI sequences that move the cursor to another line or column 1 (`A`,
///   `B`, `E`, `F`, `H`, `d`, `f`, and `G` to column 1) are a
///   [`Piece::Redraw`]; moving right within the line (`C`, or `G` to a later
///   column) is a gap, read as one space; moving left is nothing.
/// - `\n` and `\r\n` are a [`Piece::Newline`]; a `\r` followed by anything
///   else is a [`Piece::Redraw`], decided when that next byte arrives
///   (escape sequences in between do not count).
/// - Other control characters (BEL, backspace, NUL, DEL, …) are dropped;
///   tab is text. 8-bit C1 controls are not recognised: in UTF-8 output
///   those byte values are parts of characters.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scrubber {
    state: State,
    pending_cr: bool,
}

/// What a CSI sequence's final byte does to the line being read.
enum Move {
    /// The cursor goes to another line or to column 1: what follows
    /// redraws the screen.
    Redraw,
    /// The cursor moves right within the line (to a column after the
    /// first): a gap, read as one space.
    Gap,
    /// Nothing that matters to the text (colours, erasing, modes, moving
    /// left).
    None,
}

/// `first` is the sequence's first numeric parameter (0 when absent).
fn cursor_move(final_byte: u8, first: u16) -> Move {
    match final_byte {
        // To column `first` (CHA, HPA): column 1 is a redraw, any other a
        // gap.
        b'G' | b'`' if first <= 1 => Move::Redraw,
        b'G' | b'`' => Move::Gap,
        // Forward (CUF, HPR).
        b'C' | b'a' => Move::Gap,
        // Up, down, next/previous line, position, line.
        b'A' | b'B' | b'E' | b'F' | b'H' | b'd' | b'f' => Move::Redraw,
        _ => Move::None,
    }
}

impl Scrubber {
    /// Scrubs `data`, which starts at `offset` in the combined output,
    /// handing each piece to `sink` in order.
    ///
    /// Each state has its own step, which reads from the start of the
    /// slice it is given and returns how many bytes it consumed (zero when
    /// the byte must be read again in the state it moved to).
    pub(crate) fn feed<'a>(
        &mut self,
        data: &'a [u8],
        offset: u64,
        sink: &mut impl FnMut(Piece<'a>),
    ) {
        let mut i = 0;
        while i < data.len() {
            let at = offset + i as u64;
            let rest = &data[i..];
            i += match self.state {
                State::Ground => self.ground(rest, at, sink),
                State::Escape => self.escape(rest[0], at, sink),
                State::EscapeIntermediate => self.escape_intermediate(rest[0], at, sink),
                State::Csi { first, in_first } => self.csi(rest[0], first, in_first, at, sink),
                State::String { len } => self.string(rest, len),
                State::StringEscape => self.string_escape(rest[0]),
            };
        }
    }

    /// Plain text: a run of text bytes as one piece, or one control byte.
    fn ground<'a>(&mut self, data: &'a [u8], at: u64, sink: &mut impl FnMut(Piece<'a>)) -> usize {
        let run = data.iter().position(|&b| !is_text(b)).unwrap_or(data.len());
        if run == 0 {
            self.control(data[0], at, sink);
            return 1;
        }
        self.redraw_if_pending(sink);
        sink(Piece::Text {
            bytes: &data[..run],
            offset: at,
        });
        run
    }

    /// The byte after `ESC`.
    fn escape<'a>(&mut self, b: u8, at: u64, sink: &mut impl FnMut(Piece<'a>)) -> usize {
        match b {
            b'[' => {
                self.state = State::Csi {
                    first: 0,
                    in_first: true,
                };
            }
            b']' | b'P' | b'X' | b'^' | b'_' => self.state = State::String { len: 0 },
            0x20..=0x2f => self.state = State::EscapeIntermediate,
            0x30..=0x7e => self.state = State::Ground,
            0x80..=0xff => {
                // Not a sequence after all: the byte is text.
                self.state = State::Ground;
                return 0;
            }
            _ => self.control_in_sequence(b, at, sink),
        }
        1
    }

    /// A byte after `ESC` and intermediate bytes.
    fn escape_intermediate<'a>(
        &mut self,
        b: u8,
        at: u64,
        sink: &mut impl FnMut(Piece<'a>),
    ) -> usize {
        match b {
            0x20..=0x2f => {}
            0x30..=0x7e => self.state = State::Ground,
            0x80..=0xff => {
                self.state = State::Ground;
                return 0;
            }
            _ => self.control_in_sequence(b, at, sink),
        }
        1
    }

    /// A byte inside `ESC [ ...`: parameters, intermediates, or the final
    /// byte, which may move the cursor.
    fn csi<'a>(
        &mut self,
        b: u8,
        first: u16,
        in_first: bool,
        at: u64,
        sink: &mut impl FnMut(Piece<'a>),
    ) -> usize {
        match b {
            b'0'..=b'9' if in_first => {
                let digit = u16::from(b - b'0');
                self.state = State::Csi {
                    first: first.saturating_mul(10).saturating_add(digit),
                    in_first,
                };
            }
            0x20..=0x3f => {
                self.state = State::Csi {
                    first,
                    in_first: false,
                };
            }
            0x40..=0x7e => {
                self.state = State::Ground;
                self.cursor_moved(b, first, at, sink);
            }
            0x80..=0xff => {
                self.state = State::Ground;
                return 0;
            }
            _ => self.control_in_sequence(b, at, sink),
        }
        1
    }

    /// The pieces a CSI sequence's final byte stands for.
    fn cursor_moved<'a>(
        &mut self,
        final_byte: u8,
        first: u16,
        at: u64,
        sink: &mut impl FnMut(Piece<'a>),
    ) {
        match cursor_move(final_byte, first) {
            Move::Redraw => {
                self.pending_cr = false;
                sink(Piece::Redraw);
            }
            // Programs that place words with cursor moves (Claude Code puts
            // each word of a dialog at its column) leave a gap a reader
            // sees as a space.
            Move::Gap => {
                self.redraw_if_pending(sink);
                sink(Piece::Text {
                    bytes: b" ",
                    offset: at,
                });
            }
            Move::None => {}
        }
    }

    /// Inside an OSC, DCS, SOS, PM or APC string, `len` bytes swallowed
    /// so far: swallows up to its end, or gives up on it after
    /// [`MAX_STRING`] bytes.
    fn string(&mut self, data: &[u8], len: usize) -> usize {
        let budget = MAX_STRING - len;
        let limit = data.len().min(budget);
        match data[..limit]
            .iter()
            .position(|&b| matches!(b, 0x07 | 0x1b | 0x18 | 0x1a))
        {
            Some(end) => {
                self.state = match data[end] {
                    0x1b => State::StringEscape,
                    _ => State::Ground,
                };
                end + 1
            }
            None if limit == budget => {
                // Too long to be a real string: give up on it.
                self.state = State::Ground;
                limit
            }
            None => {
                self.state = State::String { len: len + limit };
                limit
            }
        }
    }

    /// After `ESC` inside a string: `\` ends it (ST); anything else
    /// starts a new sequence with this byte.
    fn string_escape(&mut self, b: u8) -> usize {
        if b == b'\\' {
            self.state = State::Ground;
            1
        } else {
            self.state = State::Escape;
            0
        }
    }

    /// Forgets any partial sequence and pending carriage return, after a gap
    /// in the output.
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }

    fn redraw_if_pending<'a>(&mut self, sink: &mut impl FnMut(Piece<'a>)) {
        if self.pending_cr {
            self.pending_cr = false;
            sink(Piece::Redraw);
        }
    }

    /// A control byte in ground state.
    fn control<'a>(&mut self, b: u8, at: u64, sink: &mut impl FnMut(Piece<'a>)) {
        match b {
            0x1b => self.state = State::Escape,
            b'\n' => {
                self.pending_cr = false;
                sink(Piece::Newline { offset: at });
            }
            b'\r' => self.pending_cr = true,
            // BEL, backspace, NUL, DEL and the rest change nothing visible
            // that matching can use.
            _ => {}
        }
    }

    /// A control byte inside an escape or CSI sequence: ESC restarts, CAN
    /// and SUB abort, and the others take effect as in ground state without
    /// ending the sequence (as terminals do).
    fn control_in_sequence<'a>(&mut self, b: u8, at: u64, sink: &mut impl FnMut(Piece<'a>)) {
        match b {
            0x1b => self.state = State::Escape,
            0x18 | 0x1a => self.state = State::Ground,
            b'\n' => {
                self.pending_cr = false;
                sink(Piece::Newline { offset: at });
            }
            b'\r' => self.pending_cr = true,
            _ => {}
        }
    }
}

/// Bytes that are text in ground state: printable ASCII, tab, and every
/// byte of a multi-byte (or invalid) UTF-8 sequence.
fn is_text(b: u8) -> bool {
    (b >= 0x20 && b != 0x7f) || b == b'\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders the pieces of `chunks`, fed in order, as one string: text as
    /// is, `⏎@N` for a newline at offset N, `↺` for a redraw.
    fn render(chunks: &[&[u8]]) -> String {
        let mut scrubber = Scrubber::default();
        let mut out = Vec::new();
        let mut offset = 0u64;
        for chunk in chunks {
            scrubber.feed(chunk, offset, &mut |piece| match piece {
                Piece::Text { bytes, offset: at } => {
                    assert!(at >= offset && at < offset + chunk.len() as u64);
                    let raw = &chunk[(at - offset) as usize..];
                    // Text is a slice of the input, except the one space a
                    // cursor move within the line stands for.
                    let gap = bytes == b" " && raw[0] != b' ';
                    assert!(gap || &raw[..bytes.len()] == bytes);
                    out.extend_from_slice(bytes);
                }
                Piece::Newline { offset } => out.extend(format!("⏎@{offset}").bytes()),
                Piece::Redraw => out.extend("↺".bytes()),
            });
            offset += chunk.len() as u64;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The same input fed whole and one byte at a time gives the same text.
    #[track_caller]
    fn check(input: &[u8], expected: &str) {
        assert_eq!(render(&[input]), expected, "whole");
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(render(&bytes), expected, "one byte at a time");
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            assert_eq!(render(&[a, b]), expected, "split at {split}");
        }
    }

    #[test]
    fn plain_text_passes_through() {
        check(b"hello world", "hello world");
        check(b"tab\there", "tab\there");
        check("caf\u{e9} \u{276f} 1. Yes".as_bytes(), "café ❯ 1. Yes");
    }

    #[test]
    fn colours_and_cursor_styles_are_removed() {
        check(b"\x1b[1;31mred\x1b[0m plain", "red plain");
        check(b"\x1b[38;2;255;0;0mX\x1b[39m", "X");
        check(b"\x1b[?25lhidden cursor\x1b[?25h", "hidden cursor");
        check(b"a\x1b[Kb\x1b[2Kc", "abc");
    }

    #[test]
    fn cursor_moves_to_another_line_or_column_one_are_redraws() {
        check(b"old\x1b[1Gnew", "old↺new");
        check(b"old\x1b[Gnew", "old↺new");
        check(b"one\x1b[2Atwo", "one↺two");
        check(b"x\x1b[10;1Hy", "x↺y");
        // Moving right within the line leaves a gap, a space to a reader;
        // moving left is nothing.
        check(b"a\x1b[3Cb\x1b[1Dc", "a bc");
        check(
            b"\x1b[2GQuick\x1b[8Gsafety\x1b[15Gcheck:",
            " Quick safety check:",
        );
        // Split anywhere, the parameter is still read.
        let mut scrubber = Scrubber::default();
        let mut text = Vec::new();
        for byte in b"a\x1b[12Gb" {
            scrubber.feed(std::slice::from_ref(byte), 0, &mut |piece| {
                if let Piece::Text { bytes, .. } = piece {
                    text.extend_from_slice(bytes);
                }
            });
        }
        assert_eq!(text, b"a b");
    }

    #[test]
    fn osc_strings_end_with_bel_or_st() {
        check(b"\x1b]0;window title\x07text", "text");
        check(b"\x1b]0;title\x1b\\text", "text");
        check(
            b"\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\ after",
            "link after",
        );
        check(b"\x1bPq#0;1;2\x1b\\dcs gone", "dcs gone");
    }

    #[test]
    fn short_escape_sequences_are_removed() {
        check(b"\x1b7saved\x1b8", "saved");
        check(b"\x1b(Bascii", "ascii");
        check(b"\x1b=keypad\x1b>", "keypad");
    }

    #[test]
    fn line_endings() {
        check(b"a\nb", "a⏎@1b");
        check(b"a\r\nb", "a⏎@2b");
        check(b"a\r\r\nb", "a⏎@3b");
        check(b"spinner\rprompt", "spinner↺prompt");
        // Escape sequences between `\r` and `\n` do not make it a redraw.
        check(b"a\r\x1b[K\nb", "a⏎@5b");
        // A final `\r` is only decided by what follows.
        check(b"a\r", "a");
    }

    #[test]
    fn broken_sequences_do_not_swallow_text() {
        // CAN aborts, ESC restarts, non-ASCII ends a CSI.
        check(b"\x1b[12\x18text", "text");
        check(b"\x1b[12\x1b[0mtext", "text");
        check("\x1b[1\u{e9}t".as_bytes(), "\u{e9}t");
        // A newline inside a CSI still counts, and the CSI goes on.
        check(b"a\x1b[1\n2mb", "a⏎@4b");
        // An OSC that never ends is abandoned after MAX_STRING bytes.
        let mut input = b"\x1b]0;".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_STRING - 2));
        input.extend(b"visible");
        assert_eq!(render(&[&input]), "visible");
        let bytes: Vec<&[u8]> = input.chunks(7).collect();
        assert_eq!(render(&bytes), "visible");
    }

    #[test]
    fn other_controls_are_dropped() {
        check(b"a\x07b\x08c\x00d\x7fe", "abcde");
    }

    #[test]
    fn reset_forgets_a_partial_sequence() {
        let mut scrubber = Scrubber::default();
        let mut text = Vec::new();
        scrubber.feed(b"\x1b[3", 0, &mut |_| {});
        scrubber.reset();
        scrubber.feed(b"1mx", 3, &mut |piece| {
            if let Piece::Text { bytes, .. } = piece {
                text.extend_from_slice(bytes);
            }
        });
        assert_eq!(text, b"1mx");
    }
}
