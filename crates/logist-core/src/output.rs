//! Output of a process: whole logs, incremental reads, and the final result.

use std::borrow::Cow;
use std::fmt;

use crate::process::ExitStatus;

/// One of a process's output streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stream {
    /// Standard output (and all output of a process on a pseudo-terminal).
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// `"stdout"` or `"stderr"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Output retained by a runtime, as raw bytes.
///
/// Runtimes keep a bounded amount of output in memory. When the bound was
/// exceeded, the oldest bytes were discarded and [`dropped`](Self::dropped)
/// says how many of them would otherwise have been part of this answer;
/// [`Display`](fmt::Display) then starts with an explicit marker line. Bytes
/// that are not UTF-8 are kept as they are; only [`text`](Self::text) and
/// `Display` decode, lossily.
///
/// ```
/// use logist_core::Logs;
///
/// let logs = Logs::new(b"tail of it\n".to_vec(), 4096);
/// assert_eq!(logs.bytes(), b"tail of it\n");
/// assert_eq!(logs.to_string(), "[logist: 4096 earlier bytes dropped]\ntail of it\n");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Logs {
    data: Vec<u8>,
    dropped: u64,
}

impl Logs {
    /// Wraps retained bytes and the count of bytes discarded before them.
    pub fn new(data: Vec<u8>, dropped: u64) -> Self {
        Self { data, dropped }
    }

    /// The retained bytes, exactly as the process wrote them.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// Consumes the logs and returns the retained bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.data
    }

    /// How many earlier bytes were discarded by the memory bound.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The retained bytes decoded as UTF-8, invalid sequences replaced.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.data)
    }

    /// Number of retained bytes.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when no byte is retained.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

impl fmt::Display for Logs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dropped > 0 {
            writeln!(f, "[logist: {} earlier bytes dropped]", self.dropped)?;
        }
        f.write_str(&self.text())
    }
}

/// A piece of output from one stream, at a position of the combined log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputChunk {
    /// The stream the bytes came from.
    pub stream: Stream,
    /// Position of the first byte in the combined output of the process
    /// (stdout and stderr interleaved in arrival order, counting from 0 and
    /// including bytes since dropped).
    pub offset: u64,
    /// The bytes.
    pub data: Vec<u8>,
}

/// The answer to an incremental read,
/// [`Runtime::read_output`](crate::Runtime::read_output).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutputRead {
    /// The new output, in arrival order. Empty when the read timed out or
    /// the output had already ended.
    pub chunks: Vec<OutputChunk>,
    /// The position to read from next.
    pub next: u64,
    /// Bytes between the requested position and the first byte returned
    /// that were discarded by the memory bound before they could be read.
    pub missed: u64,
    /// True when the output is over and everything up to `next` has been
    /// returned. The output is over when the main process has exited and
    /// its output ended, or, if descendants still hold the output open,
    /// once a short leak window after the exit has passed (the same rule as
    /// [`Runtime::wait`](crate::Runtime::wait), so a watcher never hangs on a
    /// leaked pipe). Output such descendants write later is still retained
    /// and returned by later reads, which keep saying `finished`.
    pub finished: bool,
}

impl OutputRead {
    /// Builds a read result; for runtime implementations.
    pub fn new(chunks: Vec<OutputChunk>, next: u64, missed: u64, finished: bool) -> Self {
        Self {
            chunks,
            next,
            missed,
            finished,
        }
    }

    /// Total number of bytes in the chunks.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|chunk| chunk.data.len()).sum()
    }

    /// True when no byte was returned.
    pub fn is_empty(&self) -> bool {
        self.chunks.iter().all(|chunk| chunk.data.is_empty())
    }
}

/// The result of [`Runtime::wait`](crate::Runtime::wait): how the process
/// ended and what it wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Completion {
    /// Exit code or signal.
    pub status: ExitStatus,
    /// The combined output retained at the time `wait` returned.
    pub logs: Logs,
    /// True when a descendant still held the output pipes open after the
    /// process exited, so `wait` stopped waiting for end-of-output after a
    /// short window instead of hanging. The output of such descendants keeps
    /// being collected until they exit or are terminated.
    pub output_leaked: bool,
    /// True when the runtime knows the kernel's out-of-memory killer struck
    /// the process (a container runtime learns it from its engine; the
    /// status is then usually `Signal(9)`). False when it did not, or the
    /// runtime cannot tell.
    pub oom_killed: bool,
}

impl Completion {
    /// Builds a completion; for runtime implementations.
    pub fn new(status: ExitStatus, logs: Logs, output_leaked: bool) -> Self {
        Self {
            status,
            logs,
            output_leaked,
            oom_killed: false,
        }
    }

    /// Marks the completion as an out-of-memory kill (or not).
    #[must_use]
    pub fn with_oom_killed(mut self, oom_killed: bool) -> Self {
        self.oom_killed = oom_killed;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_keep_invalid_utf8_and_decode_lossily() {
        let logs = Logs::new(vec![b'o', b'k', 0xff, b'\n'], 0);
        assert_eq!(logs.bytes(), [b'o', b'k', 0xff, b'\n']);
        assert_eq!(logs.text(), "ok\u{fffd}\n");
        assert_eq!(logs.to_string(), "ok\u{fffd}\n");
        assert_eq!(logs.len(), 4);
        assert!(!logs.is_empty());
        assert_eq!(logs.into_bytes().len(), 4);
    }

    #[test]
    fn logs_marker_only_when_something_was_dropped() {
        assert_eq!(Logs::new(b"x".to_vec(), 0).to_string(), "x");
        assert_eq!(
            Logs::new(b"x".to_vec(), 1).to_string(),
            "[logist: 1 earlier bytes dropped]\nx"
        );
        assert!(Logs::default().is_empty());
    }

    #[test]
    fn output_read_counts_bytes_across_chunks() {
        let chunk = |stream, offset, data: &[u8]| OutputChunk {
            stream,
            offset,
            data: data.to_vec(),
        };
        let read = OutputRead::new(
            vec![
                chunk(Stream::Stdout, 10, b"abc"),
                chunk(Stream::Stderr, 13, b"de"),
            ],
            15,
            0,
            false,
        );
        assert_eq!(read.len(), 5);
        assert!(!read.is_empty());
        assert!(OutputRead::default().is_empty());
        assert_eq!(Stream::Stderr.to_string(), "stderr");
    }
}
