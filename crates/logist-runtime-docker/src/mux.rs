//! Splitting the engine's multiplexed attach stream back into stdout and
//! stderr.
//!
//! Without a terminal the engine frames output: an 8-byte header (stream
//! type, three zero bytes, a big-endian payload length) and the payload.
//! Type 1 is stdout, 2 stderr; 0 (stdin) is reported as stdout, as the
//! Docker CLI does; 3 carries the engine's own error messages, which are
//! not output of the process and are only logged. With a terminal the
//! stream is raw bytes, all stdout.
//!
//! Payload bytes are handed on as soon as they arrive, even when a frame
//! is split across reads, so a prompt is visible at once.

use logist_core::Stream;

const HEADER_LEN: usize = 8;

/// Where the demuxer is in the stream.
#[derive(Debug)]
pub(crate) struct Demux {
    raw: bool,
    header: [u8; HEADER_LEN],
    header_len: usize,
    /// The current frame's stream (`None`: an engine message) and the
    /// payload bytes still to come.
    current: Option<Option<Stream>>,
    remaining: usize,
    /// The engine's own message being collected (type 3).
    message: Vec<u8>,
}

impl Demux {
    /// A demuxer for a multiplexed stream, or (`raw`) a terminal's.
    pub(crate) fn new(raw: bool) -> Self {
        Self {
            raw,
            header: [0; HEADER_LEN],
            header_len: 0,
            current: None,
            remaining: 0,
            message: Vec::new(),
        }
    }

    /// Feeds bytes read from the connection; calls `out` for every piece
    /// of output, in order.
    pub(crate) fn feed(&mut self, mut bytes: &[u8], mut out: impl FnMut(Stream, &[u8])) {
        if self.raw {
            if !bytes.is_empty() {
                out(Stream::Stdout, bytes);
            }
            return;
        }
        while !bytes.is_empty() {
            if self.remaining == 0 {
                let take = (HEADER_LEN - self.header_len).min(bytes.len());
                self.header[self.header_len..self.header_len + take]
                    .copy_from_slice(&bytes[..take]);
                self.header_len += take;
                bytes = &bytes[take..];
                if self.header_len < HEADER_LEN {
                    return;
                }
                self.header_len = 0;
                let length = u32::from_be_bytes([
                    self.header[4],
                    self.header[5],
                    self.header[6],
                    self.header[7],
                ]);
                self.remaining = length as usize;
                self.current = Some(match self.header[0] {
                    2 => Some(Stream::Stderr),
                    3 => None,
                    _ => Some(Stream::Stdout),
                });
                continue;
            }
            let take = self.remaining.min(bytes.len());
            let (payload, rest) = bytes.split_at(take);
            match self.current.flatten() {
                Some(stream) => out(stream, payload),
                None => self.message.extend_from_slice(payload),
            }
            self.remaining -= take;
            bytes = rest;
            if self.remaining == 0 && !self.message.is_empty() {
                tracing::warn!(
                    message = %String::from_utf8_lossy(&self.message).trim_end(),
                    "the engine reported an error on the attach stream"
                );
                self.message.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![kind, 0, 0, 0];
        frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        frame.extend_from_slice(payload);
        frame
    }

    fn collect(raw: bool, pieces: &[&[u8]]) -> Vec<(Stream, Vec<u8>)> {
        let mut demux = Demux::new(raw);
        let mut out: Vec<(Stream, Vec<u8>)> = Vec::new();
        for piece in pieces {
            demux.feed(piece, |stream, bytes| match out.last_mut() {
                Some((last, data)) if *last == stream => data.extend_from_slice(bytes),
                _ => out.push((stream, bytes.to_vec())),
            });
        }
        out
    }

    #[test]
    fn frames_split_anywhere_come_out_whole_and_in_order() {
        let mut stream = frame(1, b"Confirm? [y/N]: ");
        stream.extend(frame(2, b"warning\n"));
        stream.extend(frame(1, b"\xff\x00done\n"));
        stream.extend(frame(1, b""));
        let expected = vec![
            (Stream::Stdout, b"Confirm? [y/N]: ".to_vec()),
            (Stream::Stderr, b"warning\n".to_vec()),
            (Stream::Stdout, b"\xff\x00done\n".to_vec()),
        ];
        assert_eq!(collect(false, &[&stream]), expected);
        // Every split point, including inside headers.
        for cut in 0..stream.len() {
            let (a, b) = stream.split_at(cut);
            assert_eq!(collect(false, &[a, b]), expected, "cut at {cut}");
        }
        let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(collect(false, &bytewise), expected);
    }

    #[test]
    fn partial_payloads_are_passed_on_at_once() {
        let stream = frame(1, b"abcdef");
        let mut demux = Demux::new(false);
        let mut seen = Vec::new();
        demux.feed(&stream[..11], |_, bytes| seen.extend_from_slice(bytes));
        assert_eq!(seen, b"abc");
    }

    #[test]
    fn engine_messages_and_stdin_frames() {
        let mut stream = frame(3, b"exec failed\n");
        stream.extend(frame(0, b"echo"));
        assert_eq!(
            collect(false, &[&stream]),
            vec![(Stream::Stdout, b"echo".to_vec())]
        );
    }

    #[test]
    fn a_terminal_stream_is_raw_stdout() {
        let bytes = frame(2, b"not a frame");
        assert_eq!(collect(true, &[&bytes]), vec![(Stream::Stdout, bytes)]);
    }
}
