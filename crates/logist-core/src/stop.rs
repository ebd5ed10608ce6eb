//! Text patterns in an agent's output: stop sequences (waiting for a human)
//! and failure patterns (why a run failed).

use std::fmt;

/// Text to look for in an agent's output: a literal string or a regular
/// expression.
///
/// As a [`StopSequence`] it is text that means the agent is waiting for
/// input. Regular expressions use
/// the syntax of the [`regex`](https://docs.rs/regex) crate; they are checked
/// by the component that matches them (the sentinel), which reports an
/// invalid pattern as an error naming it. Matching is done on output with
/// terminal escape sequences removed.
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
pub enum Pattern {
    /// Matches this exact text.
    Literal(String),
    /// Matches this regular expression.
    Regex(String),
}

/// Text that means an agent is waiting for input.
pub type StopSequence = Pattern;

impl Pattern {
    /// A literal pattern.
    pub fn literal(text: impl Into<String>) -> Self {
        Self::Literal(text.into())
    }

    /// A regular-expression pattern.
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
impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Literal(text) => write!(f, "{text:?}"),
            Self::Regex(pattern) => write!(f, "/{pattern}/"),
        }
    }
}

/// Why an agent run failed, as far as its output tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureCause {
    /// The model provider refused because of a rate or usage limit (HTTP 429).
    RateLimited,
    /// The API key or login was missing, invalid or expired.
    AuthFailed,
    /// The conversation no longer fits in the model's context window.
    ContextExhausted,
}

impl FailureCause {
    /// `rate_limited`, `auth_failed` or `context_exhausted`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureCause::RateLimited => "rate_limited",
            FailureCause::AuthFailed => "auth_failed",
            FailureCause::ContextExhausted => "context_exhausted",
        }
    }
}

impl fmt::Display for FailureCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pattern that, found in an agent's output, tells why it failed.
///
/// ```
/// use logist_core::{FailureCause, FailurePattern, Pattern};
///
/// let limited = FailurePattern::new(FailureCause::RateLimited, Pattern::regex(r"\b429\b"));
/// assert_eq!(limited.cause, FailureCause::RateLimited);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FailurePattern {
    /// The cause this pattern indicates.
    pub cause: FailureCause,
    /// What to look for.
    pub pattern: Pattern,
}

impl FailurePattern {
    /// Pairs a cause with a pattern.
    pub fn new(cause: FailureCause, pattern: Pattern) -> Self {
        Self { cause, pattern }
    }
}

/// How a run went according to the agent program's own structured output,
/// for programs whose exit code cannot be trusted alone (Claude Code can exit
/// 0 with `"is_error": true` in its final result).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The program reported success.
    Succeeded,
    /// The program reported a failure.
    Failed {
        /// The cause, when the report says.
        cause: Option<FailureCause>,
        /// The program's own words, for people.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_causes_have_stable_names() {
        let names: Vec<String> = [
            FailureCause::RateLimited,
            FailureCause::AuthFailed,
            FailureCause::ContextExhausted,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(names, ["rate_limited", "auth_failed", "context_exhausted"]);
    }

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
