//! Errors of the sentinel: patterns that cannot be matched, reported before
//! anything is spawned.

use std::fmt;

use logist_core::{BoxError, Pattern};

/// Which of an agent's pattern lists a pattern came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PatternList {
    /// [`Agent::stop_sequences`](logist_core::Agent::stop_sequences).
    StopSequences,
    /// [`Agent::failure_patterns`](logist_core::Agent::failure_patterns).
    FailurePatterns,
}

impl fmt::Display for PatternList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PatternList::StopSequences => "stop sequence",
            PatternList::FailurePatterns => "failure pattern",
        })
    }
}

/// A stop sequence or failure pattern that cannot be used.
///
/// Every variant names the list, the pattern's position in it (from 0) and
/// the pattern itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// The regular expression does not compile.
    #[error("{list} {index}: invalid regular expression {pattern}")]
    InvalidRegex {
        /// The list the pattern is in.
        list: PatternList,
        /// Its position in the list.
        index: usize,
        /// The pattern.
        pattern: Pattern,
        /// What the regular-expression compiler said.
        #[source]
        source: BoxError,
    },

    /// The pattern matches the empty text, so it would match everywhere.
    #[error("{list} {index}: {pattern} matches the empty text, so it would match everywhere")]
    MatchesEmpty {
        /// The list the pattern is in.
        list: PatternList,
        /// Its position in the list.
        index: usize,
        /// The pattern.
        pattern: Pattern,
    },

    /// The pattern can never match the text the sentinel matches against.
    #[error("{list} {index}: {pattern} can never match: {reason}")]
    NeverMatches {
        /// The list the pattern is in.
        list: PatternList,
        /// Its position in the list.
        index: usize,
        /// The pattern.
        pattern: Pattern,
        /// Why, for people.
        reason: String,
    },

    /// The literals of a list could not be compiled together (too many or
    /// too long for the matcher).
    #[error("the {list}s cannot be compiled together")]
    TooLarge {
        /// The list concerned.
        list: PatternList,
        /// What the matcher said.
        #[source]
        source: BoxError,
    },
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::fmt::Write as _;

    use super::*;
    use crate::matcher::PatternSet;

    fn render(error: &PatternError) -> String {
        let mut out = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            write!(out, "\n  caused by: {cause}").unwrap();
            source = cause.source();
        }
        out
    }

    fn error_for(list: PatternList, patterns: &[Pattern]) -> String {
        match PatternSet::new(list, patterns) {
            Ok(_) => "no error".to_owned(),
            Err(error) => render(&error),
        }
    }

    #[test]
    fn error_messages() {
        let cases = [
            (
                PatternList::StopSequences,
                vec![Pattern::literal("ok"), Pattern::regex("[y/")],
            ),
            (
                PatternList::FailurePatterns,
                vec![Pattern::regex(r"\p{Klingon}")],
            ),
            (PatternList::StopSequences, vec![Pattern::literal("")]),
            (PatternList::StopSequences, vec![Pattern::regex("x*")]),
            (PatternList::StopSequences, vec![Pattern::literal("a\rb")]),
            (
                PatternList::StopSequences,
                vec![Pattern::literal("\x1b[1mbold")],
            ),
            (
                PatternList::StopSequences,
                vec![Pattern::literal("ding\x07")],
            ),
            (
                PatternList::FailurePatterns,
                vec![Pattern::regex(r"[^\s\S]")],
            ),
            (PatternList::StopSequences, vec![Pattern::regex(".{5000}")]),
        ];
        let rendered: Vec<String> = cases
            .iter()
            .map(|(list, patterns)| error_for(*list, patterns))
            .collect();
        insta::assert_snapshot!(rendered.join("\n"));
    }

    #[test]
    fn errors_are_send_sync_and_static() {
        fn assert_bounds<T: Send + Sync + 'static>() {}
        assert_bounds::<PatternError>();
    }
}
