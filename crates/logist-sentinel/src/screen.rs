//! The screen a person would see, for runs on a pseudo-terminal: a terminal
//! emulator (the `vt100` crate) fed the agent's output, searched for stop
//! sequences once the agent has been quiet for the settle window. A dialog
//! is then recognised whatever escape sequences drew it (words placed at
//! their columns, lines redrawn out of order, a frame drawn over the last).

use std::num::NonZeroU16;

use logist_core::{Pattern, Stream, TerminalSize};

use crate::error::{PatternError, PatternList};
use crate::matcher::{Hit, Match, PatternSet, Scanner};

/// A stop sequence found on the screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OnScreen {
    /// The match; its offsets are positions in the screen's text, not in
    /// the output.
    pub(crate) matched: Match,
    /// What identifies the prompt on the screen: the pattern, the row it
    /// ends on and that row's text up to the end of the match. Found again
    /// with the same key, it is the same prompt, still shown.
    pub(crate) key: (usize, usize, String),
}

/// A terminal screen fed the agent's standard output, and the stop
/// sequences to search it for.
pub(crate) struct Screen {
    parser: vt100::Parser,
    scanner: Scanner,
    /// The screen's text, rebuilt for each search.
    text: String,
    /// Where the next search's text starts in the scanner's positions: each
    /// search is a new stretch of text, after a gap.
    position: u64,
    hits: Vec<Hit>,
    /// True when output arrived since the last search.
    pub(crate) dirty: bool,
}

impl Screen {
    /// A blank screen of `size` (at least one row and one column) to be
    /// searched for `stops`.
    pub(crate) fn new(size: TerminalSize, stops: &[Pattern]) -> Result<Self, PatternError> {
        let set = PatternSet::new(PatternList::StopSequences, stops)?;
        let rows = NonZeroU16::new(size.rows).unwrap_or(NonZeroU16::MIN);
        let cols = NonZeroU16::new(size.cols).unwrap_or(NonZeroU16::MIN);
        Ok(Self {
            parser: vt100::Parser::new(rows, cols, 0),
            scanner: Scanner::new(vec![set]),
            text: String::new(),
            position: 0,
            hits: Vec::new(),
            dirty: false,
        })
    }

    /// The agent wrote `data` to the terminal.
    pub(crate) fn process(&mut self, data: &[u8]) {
        self.parser.process(data);
        self.dirty = true;
    }

    /// The last stop sequence (by where it ends) the screen shows now.
    pub(crate) fn search(&mut self) -> Option<OnScreen> {
        self.dirty = false;
        render(self.parser.screen(), &mut self.text);
        let text = &self.text;
        let start = self.position;
        self.scanner.gap();
        self.hits.clear();
        self.scanner
            .feed(Stream::Stdout, start, text.as_bytes(), &mut self.hits);
        self.scanner.finish(&mut self.hits);
        self.position = start + text.len() as u64 + 1;
        // The lowest on the screen: the latest question, below older ones.
        let hit = self.hits.last()?;
        let mut matched = hit.matched.clone();
        let end = usize::try_from(matched.end - start).ok()?.min(text.len());
        let before = &text[..end];
        let row_start = before.rfind('\n').map_or(0, |at| at + 1);
        let row = before.matches('\n').count();
        let key = (matched.index, row, before[row_start..].to_owned());
        matched.start -= start;
        matched.end -= start;
        Some(OnScreen { matched, key })
    }
}

/// Writes the text of `screen` into `text`, rows as a person reads them:
/// blank cells are spaces, each row ends at its last visible character (or
/// at the cursor, on the cursor's row: a prompt's trailing space is where
/// the cursor waits), and a row the terminal wrapped goes on into the next
/// without a line feed, so a wrapped prompt is one line.
fn render(screen: &vt100::Screen, text: &mut String) {
    text.clear();
    let (rows, cols) = screen.size();
    let (cursor_row, cursor_col) = screen.cursor_position();
    for row in 0..rows.get() {
        let row_start = text.len();
        let mut keep = row_start;
        for col in 0..cols.get() {
            let Some(cell) = screen.cell(row, col) else {
                break;
            };
            if cell.is_wide_continuation() {
                continue;
            }
            if row == cursor_row && col == cursor_col {
                keep = text.len();
            }
            match cell.contents() {
                "" => text.push(' '),
                contents => {
                    text.push_str(contents);
                    if !contents.trim().is_empty() {
                        keep = text.len();
                    }
                }
            }
        }
        if row == cursor_row && cursor_col >= cols.get() {
            keep = text.len();
        }
        if !screen.row_wrapped(row) {
            text.truncate(keep);
            text.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use logist_core::StopSequence;

    use super::*;

    fn screen(stops: &[StopSequence]) -> Screen {
        Screen::new(TerminalSize { rows: 10, cols: 40 }, stops).unwrap()
    }

    #[test]
    fn words_placed_by_cursor_moves_read_as_a_line() {
        let mut screen = screen(&[StopSequence::literal("Do you want to proceed?")]);
        // The words drawn right to left, each at its column.
        screen.process(b"\x1b[3;16Hproceed?\x1b[3;13Hto\x1b[3;8Hwant\x1b[3;4Hyou\x1b[3;1HDo");
        let found = screen.search().expect("the question is on the screen");
        assert_eq!(found.matched.text, "Do you want to proceed?");
        assert_eq!(found.key.1, 2);
        assert!(!screen.dirty);
    }

    #[test]
    fn a_prompt_erased_from_the_screen_is_not_found() {
        let mut screen = screen(&[StopSequence::literal("[y/N]")]);
        screen.process(b"Overwrite? [y/N] ");
        assert!(screen.search().is_some());
        screen.process(b"\r\x1b[2Kdone");
        assert_eq!(screen.search(), None);
    }

    #[test]
    fn the_same_prompt_redrawn_has_the_same_key() {
        let mut screen = screen(&[StopSequence::regex(r"\[[yY]/[nN]\]")]);
        screen.process(b"\x1b[5;1HApply? [y/N] ");
        let first = screen.search().unwrap();
        screen.process(b"\x1b[2J\x1b[5;1H\x1b[1mApply?\x1b[0m [y/N] ");
        let again = screen.search().unwrap();
        assert_eq!(first.key, again.key);
        screen.process(b"y\r\n\r\nApply? [y/N] ");
        assert_ne!(screen.search().unwrap().key, first.key);
    }

    #[test]
    fn a_prompt_wrapped_by_the_terminal_is_one_line() {
        let mut screen = screen(&[StopSequence::literal("(Y)es/(N)o [Yes]: ")]);
        let question = format!("{}? (Y)es/(N)o [Yes]: ", "x".repeat(30));
        screen.process(question.as_bytes());
        assert!(screen.search().is_some());
    }
}
