//! The control protocol between a client and a run's monitor.
//!
//! A frame is a little-endian `u32` length (of what follows), a kind byte
//! and the kind's fields, little-endian. The first frame on a connection
//! is [`Request::Hello`] with the client's version; the monitor answers
//! [`Reply::Hello`] with its own, or an error and closes the connection
//! when it cannot speak the client's version. After that a connection
//! carries requests, each answered by one reply, until it sends
//! [`Request::Subscribe`]: then the monitor pushes [`Reply::Data`] (and
//! [`Reply::Gap`]) frames as output is logged, and [`Reply::Exited`] once
//! the exit is recorded. The log on disk is the truth; a subscription is a
//! convenience that reads it for the client.

use std::io::{self, Read, Write};

use logist_core::ExitStatus;

use crate::log::Channel;

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// The largest frame either side accepts.
pub const MAX_FRAME: usize = 4 << 20;

/// Where a signal goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalTarget {
    /// The run's main process only.
    Leader,
    /// The run's process group.
    Group,
    /// Every process in the run's tree.
    Tree,
}

/// A client's request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// The first frame: the client's protocol version.
    Hello {
        /// The version.
        version: u32,
    },
    /// How is the run?
    Status,
    /// Read logged output from `from`, at most about `max` bytes.
    Read {
        /// The logical offset.
        from: u64,
        /// The most payload bytes wanted.
        max: u32,
    },
    /// Push output from `from` on, then the exit.
    Subscribe {
        /// The logical offset.
        from: u64,
    },
    /// Write to the run's stdin (answered once written).
    WriteStdin(Vec<u8>),
    /// Close the run's stdin.
    CloseStdin,
    /// Resize the run's terminal.
    Resize {
        /// Rows.
        rows: u16,
        /// Columns.
        cols: u16,
    },
    /// Send a signal.
    Signal {
        /// The signal number.
        signal: i32,
        /// To whom.
        target: SignalTarget,
    },
    /// Stop the whole tree: SIGTERM, then SIGKILL after `grace_ms`
    /// (the spec's grace when `None`).
    Terminate {
        /// The grace period in milliseconds.
        grace_ms: Option<u64>,
    },
}

/// Whether the run's main process has exited, as the monitor sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusReply {
    /// The run's main process.
    pub pid: i32,
    /// Its exit, once recorded.
    pub exit: Option<ExitStatus>,
    /// The log's logical end.
    pub log_end: u64,
}

/// The monitor's reply or push.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// The monitor's version and the run's main pid.
    Hello {
        /// The version.
        version: u32,
        /// The run's main process.
        pid: i32,
    },
    /// Done.
    Ok,
    /// Refused, with the reason.
    Error(String),
    /// See [`StatusReply`].
    Status(StatusReply),
    /// Output.
    Data {
        /// Where it came from.
        channel: Channel,
        /// Its logical offset.
        offset: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Output the monitor could not log.
    Gap {
        /// Its logical offset.
        offset: u64,
        /// How many bytes are missing.
        len: u64,
    },
    /// The end of a [`Request::Read`] answer.
    ReadEnd {
        /// The offset to read from next.
        next: u64,
    },
    /// The exit is recorded (`exit.json` holds the details).
    Exited {
        /// Code or signal.
        status: ExitStatus,
        /// The log's logical end at the exit.
        log_end: u64,
    },
}

/// Why a frame could not be decoded.
#[derive(Debug)]
pub(crate) struct Malformed(pub(crate) &'static str);

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Malformed> {
        if self.0.len() < n {
            return Err(Malformed("frame too short"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Malformed> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().map_err(|_| Malformed("short"))?,
        ))
    }
    fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| Malformed("short"))?,
        ))
    }
    fn i32(&mut self) -> Result<i32, Malformed> {
        Ok(self.u32()? as i32)
    }
    fn u64(&mut self) -> Result<u64, Malformed> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| Malformed("short"))?,
        ))
    }
    fn rest(self) -> Vec<u8> {
        self.0.to_vec()
    }
    fn status(&mut self) -> Result<Option<ExitStatus>, Malformed> {
        let tag = self.u8()?;
        let value = self.i32()?;
        match tag {
            0 => Ok(None),
            1 => Ok(Some(ExitStatus::Code(value))),
            2 => Ok(Some(ExitStatus::Signal(value))),
            _ => Err(Malformed("unknown status tag")),
        }
    }
}

fn put_status(out: &mut Vec<u8>, status: Option<ExitStatus>) {
    let (tag, value) = match status {
        None => (0u8, 0),
        Some(ExitStatus::Code(code)) => (1, code),
        Some(ExitStatus::Signal(signal)) => (2, signal),
    };
    out.push(tag);
    out.extend_from_slice(&value.to_le_bytes());
}

fn frame(kind: u8, body: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 0, kind];
    body(&mut out);
    let len = (out.len() - 4) as u32;
    out[..4].copy_from_slice(&len.to_le_bytes());
    out
}

/// Appends the frame of a [`Reply::Data`] carrying `bytes` to `out`,
/// without copying them into a reply first (the monitor's live path).
pub(crate) fn put_data(out: &mut Vec<u8>, channel: Channel, offset: u64, bytes: &[u8]) {
    out.reserve(DATA_HEADER_LEN + bytes.len());
    out.extend_from_slice(&data_header(channel, offset, bytes.len()));
    out.extend_from_slice(bytes);
}

/// The length of a `Data` frame's part before its bytes.
pub(crate) const DATA_HEADER_LEN: usize = 4 + 1 + 1 + 8;

/// What precedes `len` bytes of output in a `Data` frame: the frame's
/// length, the reply's tag, the channel and the offset.
pub(crate) fn data_header(channel: Channel, offset: u64, len: usize) -> [u8; DATA_HEADER_LEN] {
    let mut header = [0u8; DATA_HEADER_LEN];
    header[..4].copy_from_slice(&((1 + 1 + 8 + len) as u32).to_le_bytes());
    header[4] = 68;
    header[5] = channel.to_code();
    header[6..].copy_from_slice(&offset.to_le_bytes());
    header
}

impl Request {
    /// The request as one frame.
    pub(crate) fn encode(&self) -> Vec<u8> {
        match self {
            Request::Hello { version } => frame(1, |o| o.extend_from_slice(&version.to_le_bytes())),
            Request::Status => frame(2, |_| {}),
            Request::Read { from, max } => frame(3, |o| {
                o.extend_from_slice(&from.to_le_bytes());
                o.extend_from_slice(&max.to_le_bytes());
            }),
            Request::Subscribe { from } => frame(4, |o| o.extend_from_slice(&from.to_le_bytes())),
            Request::WriteStdin(bytes) => frame(5, |o| o.extend_from_slice(bytes)),
            Request::CloseStdin => frame(6, |_| {}),
            Request::Resize { rows, cols } => frame(7, |o| {
                o.extend_from_slice(&rows.to_le_bytes());
                o.extend_from_slice(&cols.to_le_bytes());
            }),
            Request::Signal { signal, target } => frame(8, |o| {
                o.extend_from_slice(&signal.to_le_bytes());
                o.push(match target {
                    SignalTarget::Leader => 0,
                    SignalTarget::Group => 1,
                    SignalTarget::Tree => 2,
                });
            }),
            Request::Terminate { grace_ms } => frame(9, |o| {
                o.extend_from_slice(&grace_ms.unwrap_or(u64::MAX).to_le_bytes());
            }),
        }
    }

    /// Decodes a frame's body (kind byte and fields).
    pub(crate) fn decode(body: &[u8]) -> Result<Self, Malformed> {
        let mut c = Cursor(body);
        Ok(match c.u8()? {
            1 => Request::Hello { version: c.u32()? },
            2 => Request::Status,
            3 => Request::Read {
                from: c.u64()?,
                max: c.u32()?,
            },
            4 => Request::Subscribe { from: c.u64()? },
            5 => Request::WriteStdin(c.rest()),
            6 => Request::CloseStdin,
            7 => Request::Resize {
                rows: c.u16()?,
                cols: c.u16()?,
            },
            8 => Request::Signal {
                signal: c.i32()?,
                target: match c.u8()? {
                    0 => SignalTarget::Leader,
                    1 => SignalTarget::Group,
                    2 => SignalTarget::Tree,
                    _ => return Err(Malformed("unknown signal target")),
                },
            },
            9 => Request::Terminate {
                grace_ms: Some(c.u64()?).filter(|&ms| ms != u64::MAX),
            },
            _ => return Err(Malformed("unknown request")),
        })
    }
}

impl Reply {
    /// The reply as one frame.
    pub(crate) fn encode(&self) -> Vec<u8> {
        match self {
            Reply::Hello { version, pid } => frame(64, |o| {
                o.extend_from_slice(&version.to_le_bytes());
                o.extend_from_slice(&pid.to_le_bytes());
            }),
            Reply::Ok => frame(65, |_| {}),
            Reply::Error(message) => frame(66, |o| o.extend_from_slice(message.as_bytes())),
            Reply::Status(status) => frame(67, |o| {
                o.extend_from_slice(&status.pid.to_le_bytes());
                put_status(o, status.exit);
                o.extend_from_slice(&status.log_end.to_le_bytes());
            }),
            Reply::Data {
                channel,
                offset,
                bytes,
            } => frame(68, |o| {
                o.push(channel.to_code());
                o.extend_from_slice(&offset.to_le_bytes());
                o.extend_from_slice(bytes);
            }),
            Reply::Gap { offset, len } => frame(69, |o| {
                o.extend_from_slice(&offset.to_le_bytes());
                o.extend_from_slice(&len.to_le_bytes());
            }),
            Reply::ReadEnd { next } => frame(70, |o| o.extend_from_slice(&next.to_le_bytes())),
            Reply::Exited { status, log_end } => frame(71, |o| {
                put_status(o, Some(*status));
                o.extend_from_slice(&log_end.to_le_bytes());
            }),
        }
    }

    /// Decodes a frame's body.
    pub(crate) fn decode(body: &[u8]) -> Result<Self, Malformed> {
        let mut c = Cursor(body);
        Ok(match c.u8()? {
            64 => Reply::Hello {
                version: c.u32()?,
                pid: c.i32()?,
            },
            65 => Reply::Ok,
            66 => Reply::Error(String::from_utf8_lossy(&c.rest()).into_owned()),
            67 => Reply::Status(StatusReply {
                pid: c.i32()?,
                exit: c.status()?,
                log_end: c.u64()?,
            }),
            68 => Reply::Data {
                channel: Channel::from_code(c.u8()?).ok_or(Malformed("unknown channel"))?,
                offset: c.u64()?,
                bytes: c.rest(),
            },
            69 => Reply::Gap {
                offset: c.u64()?,
                len: c.u64()?,
            },
            70 => Reply::ReadEnd { next: c.u64()? },
            71 => Reply::Exited {
                status: c.status()?.ok_or(Malformed("exit without status"))?,
                log_end: c.u64()?,
            },
            _ => return Err(Malformed("unknown reply")),
        })
    }
}

/// A reply whose output bytes are lent from the buffer its frame was read
/// into, so that following a run copies them once, into the reader's own
/// record.
pub(crate) enum LentReply<'a> {
    /// Output, borrowed.
    Data {
        channel: Channel,
        offset: u64,
        bytes: &'a [u8],
    },
    /// Anything else, decoded as usual.
    Other(Reply),
}

impl LentReply<'_> {
    /// Decodes a frame's body, lending a `Data` reply's bytes.
    pub(crate) fn decode(body: &[u8]) -> Result<LentReply<'_>, Malformed> {
        if body.first() != Some(&68) {
            return Reply::decode(body).map(LentReply::Other);
        }
        let mut c = Cursor(&body[1..]);
        let channel = Channel::from_code(c.u8()?).ok_or(Malformed("unknown channel"))?;
        let offset = c.u64()?;
        Ok(LentReply::Data {
            channel,
            offset,
            bytes: c.0,
        })
    }
}

/// Reads frames from a blocking stream through a buffer of its own: one
/// read brings in many small frames or a large part of a big one, nothing
/// is allocated per frame, and a read that times out in the middle of a
/// frame keeps what it has for the next call.
#[derive(Debug)]
pub(crate) struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl FrameReader {
    /// The buffer's first size; a larger frame grows it.
    const INITIAL: usize = 256 * 1024;

    pub(crate) fn new() -> Self {
        Self {
            buf: vec![0; Self::INITIAL],
            start: 0,
            end: 0,
        }
    }

    /// The next frame's body; `Ok(None)` at a clean end of stream (between
    /// frames).
    pub(crate) fn next(&mut self, stream: &mut impl Read) -> io::Result<Option<&[u8]>> {
        let body = loop {
            let have = self.end - self.start;
            let mut need = 4;
            if have >= 4 {
                let len = u32::from_le_bytes([
                    self.buf[self.start],
                    self.buf[self.start + 1],
                    self.buf[self.start + 2],
                    self.buf[self.start + 3],
                ]) as usize;
                if len == 0 || len > MAX_FRAME {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "bad frame length",
                    ));
                }
                if have >= 4 + len {
                    let body = self.start + 4..self.start + 4 + len;
                    self.start = body.end;
                    break body;
                }
                need = 4 + len;
            }
            // Room for the whole frame after what is buffered.
            if self.start + need > self.buf.len() {
                self.buf.copy_within(self.start..self.end, 0);
                self.end = have;
                self.start = 0;
                if need > self.buf.len() {
                    self.buf.resize(need, 0);
                }
            }
            match stream.read(&mut self.buf[self.end..]) {
                Ok(0) if have == 0 => return Ok(None),
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.end += n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        };
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        Ok(Some(&self.buf[body]))
    }
}

/// Reads one frame's body from a blocking stream; `Ok(None)` at a clean
/// end of stream.
pub(crate) fn read_frame(stream: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len == 0 || len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad frame length",
        ));
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    Ok(Some(body))
}

/// Writes one frame.
pub(crate) fn write_frame(stream: &mut impl Write, frame: &[u8]) -> io::Result<()> {
    stream.write_all(frame)
}

/// Splits complete frames off the front of `buf` (non-blocking side).
pub(crate) fn take_frame(buf: &mut Vec<u8>) -> Result<Option<Vec<u8>>, Malformed> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len == 0 || len > MAX_FRAME {
        return Err(Malformed("bad frame length"));
    }
    if buf.len() < 4 + len {
        return Ok(None);
    }
    let body = buf[4..4 + len].to_vec();
    buf.drain(..4 + len);
    Ok(Some(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream that hands out its bytes in pieces of the given sizes, a
    /// `WouldBlock` (a timeout) between any two pieces.
    struct Pieces {
        bytes: Vec<u8>,
        sizes: Vec<usize>,
        at: usize,
        blocked: bool,
    }

    impl Read for Pieces {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.blocked {
                self.blocked = false;
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.blocked = true;
            let size = self.sizes.pop().unwrap_or(usize::MAX);
            let n = size.min(out.len()).min(self.bytes.len() - self.at);
            out[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn the_frame_reader_keeps_frames_whole_across_pieces_and_timeouts() {
        let big = vec![7u8; FrameReader::INITIAL * 2 + 3];
        let mut bytes = Vec::new();
        put_data(&mut bytes, Channel::Stdout, 0, b"one");
        put_data(&mut bytes, Channel::Stderr, 3, &big);
        put_data(&mut bytes, Channel::Stdout, 3 + big.len() as u64, b"two");
        bytes.extend_from_slice(
            &Reply::Exited {
                status: ExitStatus::Code(3),
                log_end: 9,
            }
            .encode(),
        );
        // Odd piece sizes: frames and length prefixes split anywhere.
        let mut sizes: Vec<usize> = (0..200).map(|i| [1, 2, 5, 4093, 65_537][i % 5]).collect();
        sizes.reverse();
        let mut stream = Pieces {
            bytes,
            sizes,
            at: 0,
            blocked: false,
        };
        let mut reader = FrameReader::new();
        let mut got = Vec::new();
        loop {
            match reader.next(&mut stream) {
                Ok(Some(body)) => match LentReply::decode(body).unwrap() {
                    LentReply::Data {
                        channel,
                        offset,
                        bytes,
                    } => got.push(format!("{channel:?} {offset} {}", bytes.len())),
                    LentReply::Other(reply) => got.push(format!("{reply:?}")),
                },
                Ok(None) => break,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => panic!("{error}"),
            }
        }
        assert_eq!(
            got,
            [
                "Stdout 0 3".to_owned(),
                format!("Stderr 3 {}", big.len()),
                format!("Stdout {} 3", 3 + big.len()),
                "Exited { status: Code(3), log_end: 9 }".to_owned(),
            ]
        );
    }

    #[test]
    fn the_frame_reader_tells_a_cut_frame_from_a_clean_end() {
        let mut bytes = Vec::new();
        put_data(&mut bytes, Channel::Stdout, 0, b"whole");
        let whole = bytes.len();
        put_data(&mut bytes, Channel::Stdout, 5, b"cut short");
        bytes.truncate(whole + 6);
        let mut reader = FrameReader::new();
        let mut stream = io::Cursor::new(bytes);
        assert!(reader.next(&mut stream).unwrap().is_some());
        let error = reader.next(&mut stream).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        let mut empty = io::Cursor::new(Vec::new());
        assert!(FrameReader::new().next(&mut empty).unwrap().is_none());
        let mut bad = io::Cursor::new(vec![0, 0, 0, 0]);
        let error = FrameReader::new().next(&mut bad).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn frames_round_trip() {
        let requests = [
            Request::Hello { version: 7 },
            Request::Status,
            Request::Read { from: 5, max: 9 },
            Request::Subscribe { from: u64::MAX - 1 },
            Request::WriteStdin(b"abc".to_vec()),
            Request::CloseStdin,
            Request::Resize { rows: 3, cols: 4 },
            Request::Signal {
                signal: 15,
                target: SignalTarget::Tree,
            },
            Request::Terminate { grace_ms: Some(10) },
            Request::Terminate { grace_ms: None },
        ];
        for request in requests {
            let mut frame = request.encode();
            let body = take_frame(&mut frame).unwrap().unwrap();
            assert!(frame.is_empty());
            assert_eq!(Request::decode(&body).unwrap(), request);
        }
        let replies = [
            Reply::Hello { version: 1, pid: 2 },
            Reply::Ok,
            Reply::Error("no".into()),
            Reply::Status(StatusReply {
                pid: 3,
                exit: Some(ExitStatus::Signal(9)),
                log_end: 4,
            }),
            Reply::Data {
                channel: Channel::Stderr,
                offset: 5,
                bytes: vec![0, 255],
            },
            Reply::Gap { offset: 1, len: 2 },
            Reply::ReadEnd { next: 6 },
            Reply::Exited {
                status: ExitStatus::Code(-1),
                log_end: 7,
            },
        ];
        for reply in replies {
            let mut frame = reply.encode();
            let body = take_frame(&mut frame).unwrap().unwrap();
            assert_eq!(Reply::decode(&body).unwrap(), reply);
        }
    }

    #[test]
    fn put_data_is_a_data_frame() {
        let mut out = vec![9];
        put_data(&mut out, Channel::Pty, 1 << 40, b"hello");
        let reply = Reply::Data {
            channel: Channel::Pty,
            offset: 1 << 40,
            bytes: b"hello".to_vec(),
        };
        assert_eq!(out[1..], reply.encode());
    }
}
