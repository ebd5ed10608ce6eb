//! Stop sequences: the texts that mean an agent is waiting for a human.

use std::fmt;

/// Text that, when it appears in an agent's output, means the agent is
/// waiting for input: a literal string or a regular expression.
///
/// This is the seed's `Union[str, str]` made explicit. Regular expressions
/// use the syntax of the [`regex`](https://docs.rs/regex) crate; they are
/// checked by the component that matches them (the sentinel), which reports
/// an invalid pattern as an error naming it.
///
/// ```
/// use logist_core::StopSequence;
///
/// let confirm = StopSequence::literal("[y/N]");
/// let numbered = StopSequence::regex(r"❯ \d+\. Yes");
/// assert_eq!(confirm.pattern(), "[y/N]");
/// assert!(numbered.is_regex());
/// assert_eq!(numbered.to_string(), r"/❯ \d+\. Yes/");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StopSequence {
    /// Matches this exact text.
    Literal(String),
    /// Matches this regular expression.
    Regex(String),
}

impl StopSequence {
    /// A literal stop sequence.
    pub fn literal(text: impl Into<String>) -> Self {
        Self::Literal(text.into())
    }

    /// A regular-expression stop sequence.
    pub fn regex(pattern: impl Into<String>) -> Self {
        Self::Regex(pattern.into())
    }

    /// The text or pattern.
    pub fn pattern(&self) -> &str {
        match self {
            Self::Literal(text) | Self::Regex(text) => text,
        }
    }

    /// True for a regular expression.
    pub fn is_regex(&self) -> bool {
        matches!(self, Self::Regex(_))
    }
}

/// Literals are shown quoted, regular expressions between slashes.
impl fmt::Display for StopSequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Literal(text) => write!(f, "{text:?}"),
            Self::Regex(pattern) => write!(f, "/{pattern}/"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_regex_are_distinct() {
        let literal = StopSequence::literal("a.b");
        let regex = StopSequence::regex("a.b");
        assert_ne!(literal, regex);
        assert_eq!(literal.pattern(), regex.pattern());
        assert!(!literal.is_regex());
        assert_eq!(literal.to_string(), r#""a.b""#);
        assert_eq!(regex.to_string(), "/a.b/");
    }
}
