//! Finding stop sequences and failure patterns in live output: each stream
//! is scrubbed ([`crate::ansi`]), and the clean text is searched
//! incrementally, without re-reading old output.
//!
//! # How a search proceeds
//!
//! Each stream keeps its clean text in a bounded buffer, with a map from
//! clean positions back to offsets in the raw combined output. Each pattern
//! list (a [`PatternSet`]) keeps, per stream, a [`Cursor`]: no match may
//! start before `from` (the end of the previous match, a redraw or a gap),
//! and every literal ending at or before `scanned` has been considered.
//!
//! After each piece of new text the set looks for the *first decided* match:
//! the one with the smallest end, and at equal ends the one listed first.
//! A regular expression with a look-around assertion at its end (`$`, `\b`)
//! is only decided once the byte after the match (or the end of its line) is
//! known; it then ranks just after every match ending at that same position.
//! The match is reported, `from` moves to its end, and the search repeats.
//! Every decision depends on the text alone, never on how it was chunked.
//!
//! Literals are found with one Aho-Corasick automaton; each search looks at
//! the new text plus the last `longest - 1` bytes before it, so a literal
//! split across chunks is found and nothing is re-read beyond that.
//! Regular expressions see one *segment*: the current line, cut every
//! [`REGEX_WINDOW`] bytes. One multi-pattern search per segment and chunk
//! tells whether any of them matches; only then is each matching expression
//! located (a binary search on the end of the searched span).

use std::collections::VecDeque;

use aho_corasick::{AhoCorasick, MatchKind};
use logist_core::{Pattern, Stream};
use regex_automata::{Input, meta};

use crate::ansi::{Piece, Scrubber};
use crate::error::{PatternError, PatternList};

/// How far back a regular expression sees: at most this many bytes of clean
/// text, all on the current line.
///
/// A line longer than this is cut into segments of this length (as if the
/// terminal wrapped it), and a regular-expression match never crosses a
/// segment boundary; `^` matches at the start of each segment and `$` at its
/// end. This bound is what keeps regular-expression matching linear in the
/// output. Literals are not bounded by it.
pub const REGEX_WINDOW: usize = 1024;

/// A stop sequence or failure pattern found in the output.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Match {
    /// The pattern, as the agent listed it.
    pub pattern: Pattern,
    /// Its position in the agent's list (from 0).
    pub index: usize,
    /// The stream it was found in.
    pub stream: Stream,
    /// Offset in the combined output of the first byte of the match.
    pub start: u64,
    /// Offset in the combined output just after the last byte of the match:
    /// the output up to here completes it. Escape sequences after the last
    /// matched character are not included.
    pub end: u64,
    /// The matched text, escape sequences removed (`\r\n` as `\n`), decoded
    /// lossily.
    pub text: String,
}

impl Match {
    /// A match found by the caller rather than by the sentinel's own
    /// matcher (for example a question a command line tool recognised on
    /// its own), so that it can be reported like any other.
    pub fn new(
        pattern: Pattern,
        stream: Stream,
        range: std::ops::Range<u64>,
        text: impl Into<String>,
    ) -> Self {
        Self {
            pattern,
            index: 0,
            stream,
            start: range.start,
            end: range.end,
            text: text.into(),
        }
    }
}

/// One list of patterns, compiled: literals in one automaton, regular
/// expressions in two groups.
pub(crate) struct PatternSet {
    patterns: Vec<Pattern>,
    literals: Option<Literals>,
    /// Regular expressions whose matches do not depend on what follows them.
    plain: Option<RegexGroup>,
    /// Regular expressions with a look-around assertion at their end.
    lookahead: Option<RegexGroup>,
    /// How many bytes of clean text the search may need to look back.
    history: usize,
}

struct Literals {
    automaton: AhoCorasick,
    /// The pattern index of each literal, by automaton pattern id.
    index: Vec<usize>,
    longest: usize,
}

struct RegexGroup {
    /// All of the group in one multi-pattern search; `None` for a group of
    /// one, where that one is searched directly.
    any: Option<(meta::Regex, meta::Cache)>,
    each: Vec<OneRegex>,
}

struct OneRegex {
    index: usize,
    regex: meta::Regex,
    cache: meta::Cache,
}

/// A decided match, in clean positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Found {
    end: u64,
    /// 0 when decided by its last byte, 1 when decided by what follows.
    rank: u8,
    index: usize,
    start: u64,
}

impl Found {
    fn key(&self) -> (u64, u8, usize) {
        (self.end, self.rank, self.index)
    }
}

fn earlier(best: Option<Found>, candidate: Option<Found>) -> Option<Found> {
    match (best, candidate) {
        (Some(a), Some(b)) => Some(if b.key() < a.key() { b } else { a }),
        (a, b) => a.or(b),
    }
}

impl PatternSet {
    /// Compiles `patterns`, checking each one.
    pub(crate) fn new(list: PatternList, patterns: &[Pattern]) -> Result<Self, PatternError> {
        let mut literal_texts = Vec::new();
        let mut literal_index = Vec::new();
        let mut plain = Vec::new();
        let mut lookahead = Vec::new();
        for (index, pattern) in patterns.iter().enumerate() {
            match pattern {
                Pattern::Literal(text) => {
                    literal_texts.push(check_literal(list, index, pattern, text)?);
                    literal_index.push(index);
                }
                Pattern::Regex(source) => {
                    let (regex, at_end) = compile_regex(list, index, pattern, source)?;
                    if at_end {
                        lookahead.push((index, source.as_str(), regex));
                    } else {
                        plain.push((index, source.as_str(), regex));
                    }
                }
            }
        }
        let literals = if literal_texts.is_empty() {
            None
        } else {
            let automaton = AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(&literal_texts)
                .map_err(|source| PatternError::TooLarge {
                    list,
                    source: Box::new(source),
                })?;
            let longest = literal_texts.iter().map(String::len).max().unwrap_or(1);
            Some(Literals {
                automaton,
                index: literal_index,
                longest,
            })
        };
        let history = REGEX_WINDOW.max(literals.as_ref().map_or(0, |l| l.longest));
        Ok(Self {
            patterns: patterns.to_vec(),
            literals,
            plain: RegexGroup::new(list, plain)?,
            lookahead: RegexGroup::new(list, lookahead)?,
            history,
        })
    }

    /// True when the list is empty: nothing can ever match.
    pub(crate) fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The first decided match in `line` that `cursor` allows, if any.
    /// `segment_ended` says whether the regex segment ends at `line.end()`.
    fn next_match(&mut self, line: &Line, cursor: &Cursor, segment_ended: bool) -> Option<Found> {
        let end = line.end();
        let mut best = None;
        if let Some(literals) = &self.literals {
            best = earlier(best, literals.first(line, cursor));
        }
        let segment_start = line.segment_start;
        let hay = line.slice(segment_start, end);
        let from = (cursor.from.max(segment_start) - segment_start) as usize;
        let to_clean = |(end, index, start): (usize, usize, usize), rank| Found {
            end: segment_start + end as u64,
            rank,
            index,
            start: segment_start + start as u64,
        };
        if let Some(group) = &mut self.plain {
            let found = group.earliest(hay, from, true).map(|f| to_clean(f, 0));
            best = earlier(best, found);
        }
        if let Some(group) = &mut self.lookahead {
            let found = group
                .earliest(hay, from, segment_ended)
                .map(|f| to_clean(f, 1));
            best = earlier(best, found);
        }
        best
    }

    fn to_match(&self, found: Found, line: &Line, stream: Stream) -> Match {
        Match {
            pattern: self.patterns[found.index].clone(),
            index: found.index,
            stream,
            start: line.raw(found.start),
            end: line.raw(found.end - 1) + 1,
            text: String::from_utf8_lossy(line.slice(found.start, found.end)).into_owned(),
        }
    }
}

/// Normalises a literal (`\r\n` to `\n`) and refuses what can never match.
fn check_literal(
    list: PatternList,
    index: usize,
    pattern: &Pattern,
    text: &str,
) -> Result<String, PatternError> {
    let text = text.replace("\r\n", "\n");
    if text.is_empty() {
        return Err(PatternError::MatchesEmpty {
            list,
            index,
            pattern: pattern.clone(),
        });
    }
    let removed = text
        .chars()
        .find(|&c| (c < ' ' && c != '\t' && c != '\n') || c == '\u{7f}');
    if let Some(c) = removed {
        let reason = match c {
            '\r' => "it holds a carriage return not followed by a line feed, which is removed \
                     from the output before matching"
                .to_owned(),
            '\u{1b}' => "it holds an escape character; escape sequences are removed from the \
                         output before matching"
                .to_owned(),
            _ => format!(
                "it holds the control character U+{:04X}, which is removed from the output \
                 before matching",
                u32::from(c)
            ),
        };
        return Err(PatternError::NeverMatches {
            list,
            index,
            pattern: pattern.clone(),
            reason,
        });
    }
    Ok(text)
}

/// Compiles a regular expression; the flag says whether it has a
/// look-around assertion at its end.
fn compile_regex(
    list: PatternList,
    index: usize,
    pattern: &Pattern,
    source: &str,
) -> Result<(meta::Regex, bool), PatternError> {
    let invalid = |source: Box<dyn std::error::Error + Send + Sync>| PatternError::InvalidRegex {
        list,
        index,
        pattern: pattern.clone(),
        source,
    };
    let never = |reason: String| PatternError::NeverMatches {
        list,
        index,
        pattern: pattern.clone(),
        reason,
    };
    // As in `regex::bytes`: the output is bytes, and `(?-u:.)` may match a
    // byte that is not UTF-8.
    let hir = regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(source)
        .map_err(|error| invalid(Box::new(error)))?;
    let properties = hir.properties();
    match properties.minimum_len() {
        None => return Err(never("no text matches it".to_owned())),
        Some(0) => {
            return Err(PatternError::MatchesEmpty {
                list,
                index,
                pattern: pattern.clone(),
            });
        }
        Some(len) if len > REGEX_WINDOW => {
            return Err(never(format!(
                "a match is at least {len} bytes long, and regular expressions see at most \
                 {REGEX_WINDOW} bytes of a line"
            )));
        }
        Some(_) => {}
    }
    let at_end = !properties.look_set_suffix_any().is_empty();
    let regex = meta::Regex::builder()
        .syntax(syntax_config())
        .build(source)
        .map_err(|error| invalid(Box::new(error)))?;
    Ok((regex, at_end))
}

/// The syntax of every regular expression: the `regex` crate's, with the
/// byte-oriented `utf8(false)` of `regex::bytes`.
fn syntax_config() -> regex_automata::util::syntax::Config {
    regex_automata::util::syntax::Config::new().utf8(false)
}

impl Literals {
    /// The earliest literal ending after `cursor.scanned` and starting at or
    /// after `cursor.from`; at equal ends, the one listed first.
    fn first(&self, line: &Line, cursor: &Cursor) -> Option<Found> {
        let end = line.end();
        let back = self.longest as u64 - 1;
        let from = cursor
            .from
            .max(cursor.scanned.saturating_sub(back))
            .max(line.base);
        if from >= end {
            return None;
        }
        let hay = line.slice(from, end);
        let mut first: Option<Found> = None;
        // Overlapping matches come in order of their end.
        for found in self.automaton.find_overlapping_iter(hay) {
            let found_end = from + found.end() as u64;
            if found_end <= cursor.scanned {
                continue;
            }
            if first.is_some_and(|f| found_end > f.end) {
                break;
            }
            let candidate = Found {
                end: found_end,
                rank: 0,
                index: self.index[found.pattern().as_usize()],
                start: from + found.start() as u64,
            };
            first = earlier(first, Some(candidate));
        }
        first
    }
}

impl RegexGroup {
    fn new(
        list: PatternList,
        members: Vec<(usize, &str, meta::Regex)>,
    ) -> Result<Option<Self>, PatternError> {
        if members.is_empty() {
            return Ok(None);
        }
        let any = if members.len() > 1 {
            let sources: Vec<&str> = members.iter().map(|(_, source, _)| *source).collect();
            let any = meta::Regex::builder()
                .syntax(syntax_config())
                .build_many(&sources)
                .map_err(|source| PatternError::TooLarge {
                    list,
                    source: Box::new(source),
                })?;
            let cache = any.create_cache();
            Some((any, cache))
        } else {
            None
        };
        let each = members
            .into_iter()
            .map(|(index, _, regex)| OneRegex {
                index,
                cache: regex.create_cache(),
                regex,
            })
            .collect();
        Ok(Some(Self { any, each }))
    }

    /// The earliest match in `hay` starting at or after `from`, as `(end,
    /// index, start)`. A match ending at the end of `hay` counts only when
    /// `end_is_known` (for expressions whose match depends on what follows).
    fn earliest(
        &mut self,
        hay: &[u8],
        from: usize,
        end_is_known: bool,
    ) -> Option<(usize, usize, usize)> {
        let len = hay.len();
        if from >= len {
            return None;
        }
        if let Some((any, cache)) = &mut self.any {
            let whole = Input::new(hay).range(from..len);
            if !any.is_match_with(cache, &whole) {
                return None;
            }
        }
        let mut best: Option<(usize, usize, usize)> = None;
        for one in &mut self.each {
            let Some((end, start)) = one.earliest(hay, from) else {
                continue;
            };
            if end == len && !end_is_known {
                continue;
            }
            if best.is_none_or(|(e, i, _)| (end, one.index) < (e, i)) {
                best = Some((end, one.index, start));
            }
        }
        best
    }
}

impl OneRegex {
    /// The smallest `end` such that a match lies within `from..end`, and the
    /// start of the leftmost such match. Look-around at `end` sees the byte
    /// after it, when `hay` has one.
    fn earliest(&mut self, hay: &[u8], from: usize) -> Option<(usize, usize)> {
        let (regex, cache) = (&self.regex, &mut self.cache);
        let mut matches_within =
            |end: usize| regex.is_match_with(cache, &Input::new(hay).range(from..end));
        if !matches_within(hay.len()) {
            return None;
        }
        // No match fits in `from..from` (expressions that match the empty
        // text are refused), and one fits in `from..hay.len()`: a match that
        // fits in a span fits in every longer one, so bisect.
        let (mut lo, mut hi) = (from, hay.len());
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if matches_within(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        let start = regex
            .search_with(cache, &Input::new(hay).range(from..hi))
            .map_or(from, |found| found.start());
        Some((hi, start))
    }
}

/// Where a pattern list's search stands in one stream, in clean positions.
#[derive(Clone, Copy, Debug, Default)]
struct Cursor {
    /// No match may start before this.
    from: u64,
    /// Every literal ending here or earlier has been considered.
    scanned: u64,
}

/// The recent clean text of one stream.
#[derive(Debug, Default)]
struct Line {
    /// Clean bytes; `text[0]` is at clean position `base`.
    text: Vec<u8>,
    base: u64,
    /// `(clean position, raw offset)` at the start of each run of clean
    /// bytes that are contiguous in the raw output.
    spans: VecDeque<(u64, u64)>,
    /// Clean position where the current regex segment starts.
    segment_start: u64,
}

impl Line {
    fn end(&self) -> u64 {
        self.base + self.text.len() as u64
    }

    fn segment_len(&self) -> usize {
        (self.end() - self.segment_start) as usize
    }

    fn push(&mut self, bytes: &[u8], raw: u64) {
        let pos = self.end();
        let contiguous = self
            .spans
            .back()
            .is_some_and(|&(clean, offset)| offset + (pos - clean) == raw);
        if !contiguous {
            self.spans.push_back((pos, raw));
        }
        self.text.extend_from_slice(bytes);
    }

    fn slice(&self, from: u64, to: u64) -> &[u8] {
        &self.text[(from - self.base) as usize..(to - self.base) as usize]
    }

    /// The raw offset of the clean byte at `pos`.
    fn raw(&self, pos: u64) -> u64 {
        let after = self.spans.partition_point(|&(clean, _)| clean <= pos);
        let (clean, offset) = self.spans[after.saturating_sub(1)];
        offset + (pos - clean)
    }

    /// Drops old text, keeping at least `keep` bytes (and the segment).
    fn compact(&mut self, keep: usize) {
        if self.text.len() <= 2 * keep + 8192 {
            return;
        }
        let drop = self.text.len() - keep;
        self.text.drain(..drop);
        self.base += drop as u64;
        while self.spans.len() > 1 && self.spans[1].0 <= self.base {
            self.spans.pop_front();
        }
    }
}

/// A match of the pattern list at position `set` of a [`Scanner`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    pub(crate) set: usize,
    pub(crate) matched: Match,
    /// True when this is the previous match of the list redrawn in place:
    /// the same pattern, ending at the same column of a line whose text up
    /// to there is the same, with only redraws (no line feed, no gap)
    /// since. A program that redraws its screen shows one prompt many
    /// times; it still asks once.
    pub(crate) repeat: bool,
}

/// The last match of one list in one stream, as the line showed it: what
/// a redraw must show again, up to the same column, to be a repeat.
#[derive(Debug)]
struct Shown {
    index: usize,
    /// The clean text of the line from its start to the end of the match.
    line: Vec<u8>,
}

impl Shown {
    /// False once `bytes`, drawn at `column` of a line, differ from what
    /// was shown there.
    fn agrees(&self, column: u64, bytes: &[u8]) -> bool {
        let Ok(column) = usize::try_from(column) else {
            return true;
        };
        let Some(shown) = self.line.get(column..) else {
            return true;
        };
        let n = shown.len().min(bytes.len());
        shown[..n] == bytes[..n]
    }
}

/// Scrubs and searches both output streams for several pattern lists.
pub(crate) struct Scanner {
    sets: Vec<Slot>,
    streams: [StreamState; 2],
    history: usize,
}

struct Slot {
    set: PatternSet,
    active: bool,
}

struct StreamState {
    stream: Stream,
    scrubber: Scrubber,
    line: Line,
    cursors: Vec<Cursor>,
    /// Clean position where the line on screen starts: after the last line
    /// feed or redraw (unlike the regex segment, never cut).
    line_start: u64,
    /// Per list, its last match while the line it is on may be redrawn.
    shown: Vec<Option<Shown>>,
}

impl StreamState {
    fn new(stream: Stream, sets: usize) -> Self {
        Self {
            stream,
            scrubber: Scrubber::default(),
            line: Line::default(),
            cursors: vec![Cursor::default(); sets],
            line_start: 0,
            shown: std::iter::repeat_with(|| None).take(sets).collect(),
        }
    }
}

impl Scanner {
    pub(crate) fn new(sets: Vec<PatternSet>) -> Self {
        let history = sets.iter().map(|set| set.history).max().unwrap_or(0);
        let count = sets.len();
        Self {
            sets: sets
                .into_iter()
                .map(|set| Slot {
                    active: !set.is_empty(),
                    set,
                })
                .collect(),
            streams: [
                StreamState::new(Stream::Stdout, count),
                StreamState::new(Stream::Stderr, count),
            ],
            history,
        }
    }

    /// Stops searching for the list at `set`.
    pub(crate) fn deactivate(&mut self, set: usize) {
        if let Some(slot) = self.sets.get_mut(set) {
            slot.active = false;
        }
    }

    /// Feeds output of `stream` starting at `offset` in the combined output.
    /// Matches are appended to `hits` in the order of their end. Returns
    /// where the output's visible text (not escape sequences, not white
    /// space) ends: the offset just after its last visible byte, `None`
    /// when it had none; always `None` once no list is searched any more.
    pub(crate) fn feed(
        &mut self,
        stream: Stream,
        offset: u64,
        data: &[u8],
        hits: &mut Vec<Hit>,
    ) -> Option<u64> {
        if self.sets.iter().all(|slot| !slot.active) {
            // Nothing left to look for (and so nobody waits for visible text).
            return None;
        }
        let first_hit = hits.len();
        let history = self.history;
        let sets = &mut self.sets;
        let state = &mut self.streams[stream_index(stream)];
        let StreamState {
            stream,
            scrubber,
            line,
            cursors,
            line_start,
            shown,
        } = state;
        let stream = *stream;
        let mut visible = None;
        scrubber.feed(data, offset, &mut |piece| match piece {
            Piece::Text {
                mut bytes,
                mut offset,
            } => {
                if let Some(last) = bytes.iter().rposition(|b| !b.is_ascii_whitespace()) {
                    visible = Some(offset + last as u64 + 1);
                }
                let column = line.end() - *line_start;
                for slot in shown.iter_mut() {
                    if slot.as_ref().is_some_and(|s| !s.agrees(column, bytes)) {
                        *slot = None;
                    }
                }
                while !bytes.is_empty() {
                    let room = REGEX_WINDOW - line.segment_len();
                    let (now, rest) = bytes.split_at(room.min(bytes.len()));
                    line.push(now, offset);
                    offset += now.len() as u64;
                    bytes = rest;
                    if line.segment_len() == REGEX_WINDOW {
                        scan(stream, line, *line_start, cursors, shown, sets, true, hits);
                        line.segment_start = line.end();
                    }
                }
            }
            Piece::Newline { offset } => {
                scan(stream, line, *line_start, cursors, shown, sets, true, hits);
                line.push(b"\n", offset);
                line.segment_start = line.end();
                *line_start = line.end();
                shown.fill_with(|| None);
            }
            Piece::Redraw => {
                scan(stream, line, *line_start, cursors, shown, sets, true, hits);
                restart(line, cursors);
                *line_start = line.end();
            }
        });
        scan(stream, line, *line_start, cursors, shown, sets, false, hits);
        line.compact(history);
        hits[first_hit..].sort_by_key(|hit| (hit.matched.end, hit.set));
        visible
    }

    /// The output ended: every line ends, so expressions waiting for what
    /// follows a match are decided.
    pub(crate) fn finish(&mut self, hits: &mut Vec<Hit>) {
        let first_hit = hits.len();
        for state in &mut self.streams {
            scan(
                state.stream,
                &state.line,
                state.line_start,
                &mut state.cursors,
                &mut state.shown,
                &mut self.sets,
                true,
                hits,
            );
            restart(&mut state.line, &mut state.cursors);
            state.line_start = state.line.end();
        }
        hits[first_hit..].sort_by_key(|hit| hit.matched.end);
    }

    /// Output was lost: nothing matches across the gap, and a match waiting
    /// for what follows it is dropped.
    pub(crate) fn gap(&mut self) {
        for state in &mut self.streams {
            state.scrubber.reset();
            restart(&mut state.line, &mut state.cursors);
            state.line_start = state.line.end();
            state.shown.fill_with(|| None);
        }
    }
}

fn stream_index(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

/// Starts a new segment at the end of the text that no match may span.
fn restart(line: &mut Line, cursors: &mut [Cursor]) {
    let end = line.end();
    line.segment_start = end;
    for cursor in cursors {
        *cursor = Cursor {
            from: end,
            scanned: end,
        };
    }
}

/// Reports every decided match of every active list in `line`, whose
/// line on screen starts at `line_start`.
#[expect(
    clippy::too_many_arguments,
    reason = "the parts of one stream's state, borrowed apart from the lists"
)]
fn scan(
    stream: Stream,
    line: &Line,
    line_start: u64,
    cursors: &mut [Cursor],
    shown: &mut [Option<Shown>],
    sets: &mut [Slot],
    segment_ended: bool,
    hits: &mut Vec<Hit>,
) {
    let lists = sets
        .iter_mut()
        .zip(cursors.iter_mut())
        .zip(shown.iter_mut());
    for (index, ((slot, cursor), shown)) in lists.enumerate() {
        if slot.active {
            while let Some(found) = slot.set.next_match(line, cursor, segment_ended) {
                cursor.from = found.end;
                cursor.scanned = found.end;
                // Every byte of the line up to here agreed with the shown
                // line (or `shown` was cleared), so the same pattern ending
                // at the same column is the same text redrawn.
                let on_line = found.start >= line_start;
                let repeat = on_line
                    && shown.as_ref().is_some_and(|s| {
                        s.index == found.index && s.line.len() as u64 == found.end - line_start
                    });
                if !repeat {
                    *shown = (on_line && line_start >= line.base).then(|| Shown {
                        index: found.index,
                        line: line.slice(line_start, found.end).to_vec(),
                    });
                }
                hits.push(Hit {
                    set: index,
                    matched: slot.set.to_match(found, line, stream),
                    repeat,
                });
            }
        }
        cursor.scanned = line.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(patterns: &[Pattern]) -> PatternSet {
        PatternSet::new(PatternList::StopSequences, patterns).unwrap()
    }

    #[test]
    fn literal_automaton_reports_every_pattern_ending_at_a_position() {
        // The matcher relies on standard (overlapping) match states holding
        // the patterns of their suffixes too.
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(["xab", "b", "ab"])
            .unwrap();
        let found: Vec<(usize, usize)> = automaton
            .find_overlapping_iter("xab")
            .map(|m| (m.pattern().as_usize(), m.end()))
            .collect();
        let mut at_three: Vec<usize> = found.iter().map(|(p, _)| *p).collect();
        at_three.sort_unstable();
        assert_eq!(at_three, [0, 1, 2]);
        assert!(found.iter().all(|(_, end)| *end == 3));
    }

    #[test]
    fn line_maps_clean_positions_to_raw_offsets() {
        let mut line = Line::default();
        line.push(b"ab", 10);
        line.push(b"cd", 12);
        line.push(b"ef", 20);
        assert_eq!(line.spans.len(), 2);
        let raw: Vec<u64> = (0..6).map(|pos| line.raw(pos)).collect();
        assert_eq!(raw, [10, 11, 12, 13, 20, 21]);
    }

    #[test]
    fn compaction_keeps_the_tail_and_its_offsets() {
        let mut line = Line::default();
        let keep = 16;
        for i in 0..10_000u64 {
            // Every byte its own span: worst case for the map.
            line.push(b"x", i * 2);
            line.compact(keep);
        }
        assert!(line.text.len() <= 2 * keep + 8192);
        assert!(line.spans.len() <= line.text.len() + 1);
        assert_eq!(line.raw(9_999), 19_998);
        assert_eq!(line.raw(line.base), line.base * 2);
    }

    #[test]
    fn regex_bisection_finds_the_earliest_end() {
        let mut set = set(&[Pattern::regex(r"ab+")]);
        let group = set.plain.as_mut().unwrap();
        assert_eq!(group.earliest(b"xxabbbb", 0, true), Some((4, 0, 2)));
        assert_eq!(group.earliest(b"xxabbbb", 3, true), None);
        // Look-behind sees the text before `from`.
        let mut set = self::set(&[Pattern::regex(r"\bword")]);
        let group = set.plain.as_mut().unwrap();
        assert_eq!(group.earliest(b"sword word", 1, true), Some((10, 0, 6)));
    }

    #[test]
    fn trailing_assertions_wait_for_the_next_byte() {
        let mut set = set(&[Pattern::regex(r"429\b")]);
        assert!(set.plain.is_none());
        let group = set.lookahead.as_mut().unwrap();
        assert_eq!(group.earliest(b"error 429", 0, false), None);
        assert_eq!(group.earliest(b"error 429", 0, true), Some((9, 0, 6)));
        assert_eq!(group.earliest(b"error 4290", 0, true), None);
        assert_eq!(group.earliest(b"error 429 ", 0, false), Some((9, 0, 6)));
    }
}
