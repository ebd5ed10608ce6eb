//! Live partial lines of an adopted container.
//!
//! An adopted container's output comes from the engine's log, which is
//! exact but holds a line back until it ends: a prompt without a newline
//! would stay invisible while the program waits for the answer. So an
//! adopted running container also gets an attach connection for its
//! output, which sees every byte at once but only from the moment it was
//! made. [`Tails`] puts the two together without giving up exactness:
//!
//! - The log stays the record: every byte comes from it, in its order.
//! - What the attach connection saw after its last newline (the line being
//!   written) is shown ahead of the log only when it is safe to place: the
//!   attach connection has seen a newline on that stream, everything it saw
//!   up to that newline is exactly the end of what the log has delivered
//!   (so the log has caught up and the tail follows it directly), and the
//!   attach connection has been quiet for a moment (so the log is not
//!   about to deliver a line the attach connection already passed).
//! - Bytes shown ahead (*provisional*) are matched against the log when it
//!   delivers the line, and not added twice. A mismatch (which the rules
//!   above make unlikely: it needs the log to lag the attach connection by
//!   the quiet period while the output repeats itself) is logged as a
//!   warning, and the log's bytes are added after what was shown.
//!
//! Nothing is shown early for a line that began before the attach
//! connection existed (its beginning is in neither source).

use logist_core::Stream;

/// Bytes kept of what each source delivered, for comparing their ends.
const WINDOW: usize = 64 * 1024;

/// The state of both streams (a terminal's output is all stdout).
#[derive(Debug, Default)]
pub(crate) struct Tails {
    streams: [Tail; 2],
}

#[derive(Debug, Default)]
struct Tail {
    /// What the attach connection delivered up to its last newline (the
    /// last [`WINDOW`] bytes), contiguous.
    complete: Vec<u8>,
    /// The attach connection saw a newline since it began (or since a
    /// reset): `tail` is then a whole line's beginning.
    seen_newline: bool,
    /// What the attach connection delivered after its last newline.
    tail: Vec<u8>,
    /// Bytes of `tail` already shown.
    shown: usize,
    /// Bytes shown ahead of the log, not yet delivered by it.
    provisional: Vec<u8>,
    /// What the log delivered (the last [`WINDOW`] bytes).
    logged: Vec<u8>,
}

impl Tails {
    /// The log delivered `bytes` on `stream`. Returns how many of them,
    /// from the start, were shown already and must not be added again.
    pub(crate) fn logged(&mut self, stream: Stream, bytes: &[u8]) -> usize {
        let tail = &mut self.streams[index(stream)];
        keep_last(&mut tail.logged, bytes);
        if tail.provisional.is_empty() {
            return 0;
        }
        let matched = tail
            .provisional
            .iter()
            .zip(bytes)
            .take_while(|(shown, logged)| shown == logged)
            .count();
        if matched < tail.provisional.len() && matched < bytes.len() {
            tracing::warn!(
                shown = tail.provisional.len() - matched,
                "bytes shown ahead of the engine's log did not match it; its bytes follow them"
            );
            tail.provisional.clear();
        } else {
            tail.provisional.drain(..matched);
        }
        matched
    }

    /// The attach connection delivered `bytes` on `stream`.
    pub(crate) fn attached(&mut self, stream: Stream, bytes: &[u8]) {
        let tail = &mut self.streams[index(stream)];
        match bytes.iter().rposition(|&byte| byte == b'\n') {
            Some(newline) => {
                let mut line = std::mem::take(&mut tail.tail);
                line.extend_from_slice(&bytes[..=newline]);
                keep_last(&mut tail.complete, &line);
                tail.tail = bytes[newline + 1..].to_vec();
                tail.shown = 0;
                tail.seen_newline = true;
            }
            None => tail.tail.extend_from_slice(bytes),
        }
        if tail.tail.len() > WINDOW {
            // A line this long is logged in pieces (the engine's limit is
            // 16 KiB): start again at the next newline.
            tail.tail.clear();
            tail.complete.clear();
            tail.shown = 0;
            tail.seen_newline = false;
        }
    }

    /// The bytes to show now, ahead of the log, per stream: call when the
    /// attach connection has been quiet for a moment.
    pub(crate) fn ready(&mut self) -> Vec<(Stream, Vec<u8>)> {
        let mut out = Vec::new();
        for (i, stream) in [Stream::Stdout, Stream::Stderr].into_iter().enumerate() {
            let tail = &mut self.streams[i];
            if tail.seen_newline
                && tail.tail.len() > tail.shown
                && tail.logged.ends_with(&tail.complete)
            {
                let bytes = tail.tail[tail.shown..].to_vec();
                tail.provisional.extend_from_slice(&bytes);
                tail.shown = tail.tail.len();
                out.push((stream, bytes));
            }
        }
        out
    }
}

fn index(stream: Stream) -> usize {
    usize::from(stream == Stream::Stderr)
}

/// Appends `bytes` to `kept`, keeping its last [`WINDOW`] bytes.
fn keep_last(kept: &mut Vec<u8>, bytes: &[u8]) {
    kept.extend_from_slice(bytes);
    if kept.len() > WINDOW {
        kept.drain(..kept.len() - WINDOW);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use Stream::{Stderr, Stdout};

    /// What a reader of the record sees: the log's bytes minus what was
    /// shown ahead, plus what was shown ahead.
    #[derive(Default)]
    struct Seen {
        tails: Tails,
        out: Vec<u8>,
    }

    impl Seen {
        fn log(&mut self, stream: Stream, bytes: &[u8]) {
            let skip = self.tails.logged(stream, bytes);
            self.out.extend_from_slice(&bytes[skip..]);
        }
        fn attach(&mut self, stream: Stream, bytes: &[u8]) {
            self.tails.attached(stream, bytes);
        }
        fn quiet(&mut self) {
            for (_, bytes) in self.tails.ready() {
                self.out.extend_from_slice(&bytes);
            }
        }
    }

    #[test]
    fn a_prompt_after_a_newline_is_shown_then_not_repeated() {
        let mut s = Seen::default();
        s.log(Stdout, b"old\n");
        s.attach(Stdout, b"new\nContinue? ");
        s.quiet();
        assert_eq!(s.out, b"old\n", "the log has not delivered `new` yet");
        s.log(Stdout, b"new\n");
        s.quiet();
        assert_eq!(s.out, b"old\nnew\nContinue? ");
        s.quiet();
        assert_eq!(s.out, b"old\nnew\nContinue? ", "shown once");
        s.attach(Stdout, b"y");
        s.quiet();
        s.attach(Stdout, b"es\nnext\n");
        s.log(Stdout, b"Continue? yes\n");
        s.log(Stdout, b"next\n");
        s.quiet();
        assert_eq!(s.out, b"old\nnew\nContinue? yes\nnext\n");
    }

    #[test]
    fn a_line_begun_before_the_attach_is_not_shown_early() {
        let mut s = Seen::default();
        s.log(Stdout, b"old\n");
        s.attach(Stdout, b"tinue? ");
        s.quiet();
        assert_eq!(s.out, b"old\n");
        s.log(Stdout, b"Continue? \n");
        assert_eq!(s.out, b"old\nContinue? \n");
    }

    #[test]
    fn the_log_must_end_with_what_the_attach_saw() {
        let mut s = Seen::default();
        s.attach(Stderr, b"a\nb\n> ");
        s.log(Stderr, b"a\n");
        s.quiet();
        assert_eq!(s.out, b"a\n");
        s.log(Stderr, b"b\n");
        s.quiet();
        assert_eq!(s.out, b"a\nb\n> ");
        s.log(Stderr, b"> ok\n");
        assert_eq!(s.out, b"a\nb\n> ok\n");
    }

    #[test]
    fn streams_are_apart() {
        let mut s = Seen::default();
        s.attach(Stdout, b"x\n$ ");
        s.attach(Stderr, b"warn");
        s.log(Stdout, b"x\n");
        s.quiet();
        assert_eq!(s.out, b"x\n$ ", "stderr has no newline yet");
    }

    #[test]
    fn a_mismatch_keeps_every_logged_byte() {
        let mut s = Seen::default();
        s.attach(Stdout, b"a\nxy");
        s.log(Stdout, b"a\n");
        s.quiet();
        s.log(Stdout, b"xz\n");
        assert_eq!(s.out, b"a\nxyz\n", "x matched, z follows the shown y");
    }

    #[test]
    fn a_very_long_line_starts_again_at_the_next_newline() {
        let mut s = Seen::default();
        s.attach(Stdout, b"a\n");
        s.attach(Stdout, &vec![b'.'; WINDOW + 1]);
        s.log(Stdout, b"a\n");
        s.quiet();
        assert_eq!(s.out, b"a\n");
        s.attach(Stdout, b"\n? ");
        s.log(Stdout, &vec![b'.'; WINDOW + 1]);
        s.log(Stdout, b"\n");
        s.quiet();
        let mut expected = b"a\n".to_vec();
        expected.extend(vec![b'.'; WINDOW + 1]);
        expected.extend_from_slice(b"\n? ");
        assert_eq!(s.out, expected);
    }
}
