//! The subset of HTTP/1.1 the Engine API needs: requests with a JSON
//! body, responses framed by `Content-Length`, chunked encoding or the end
//! of the connection, and the `Upgrade: tcp` handshake of `attach`.
//!
//! Written by hand instead of taking an HTTP client crate: the engine is
//! one trusted peer that speaks a small, fixed part of the protocol, and a
//! general client would bring an async runtime or a large dependency tree
//! for what is a few hundred lines here.

use std::io::{self, BufRead, Read, Write};

/// Longest status or header line accepted.
const MAX_LINE: usize = 64 * 1024;
/// Most header lines accepted in one response.
const MAX_HEADERS: usize = 100;
/// Largest body accepted (an image pull's progress stream stays far below).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// The start of a response: status and headers.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) status: u16,
    /// Header names lowercased, values trimmed, in order.
    pub(crate) headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of header `name` (lowercase).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub(crate) fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"))
    }

    fn content_length(&self) -> io::Result<Option<usize>> {
        self.header("content-length")
            .map(|value| {
                value
                    .parse()
                    .map_err(|_| invalid(format!("bad Content-Length `{value}`")))
            })
            .transpose()
    }

    /// True when the server keeps the connection open after this response.
    pub(crate) fn keep_alive(&self) -> bool {
        !self
            .header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"))
    }
}

/// How the body of a response ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyEnd {
    /// Framed by a length or chunks: the connection can carry another
    /// request.
    Framed,
    /// Read until the server closed the connection.
    Closed,
}

/// Writes one request. `upgrade` asks for the raw stream of `attach`.
pub(crate) fn write_request(
    out: &mut impl Write,
    method: &str,
    target: &str,
    body: Option<&[u8]>,
    upgrade: bool,
) -> io::Result<()> {
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: docker\r\nUser-Agent: logist-runtime-docker/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if upgrade {
        head.push_str("Connection: Upgrade\r\nUpgrade: tcp\r\n");
    }
    match body {
        Some(body) => {
            head.push_str("Content-Type: application/json\r\n");
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        None if method == "POST" => head.push_str("Content-Length: 0\r\n"),
        None => {}
    }
    head.push_str("\r\n");
    // One write for head and body: small requests go out in one segment.
    let mut request = head.into_bytes();
    if let Some(body) = body {
        request.extend_from_slice(body);
    }
    out.write_all(&request)?;
    out.flush()
}

/// Reads a status line and headers. An end of stream before the first byte
/// is `UnexpectedEof` with the message `closed before answering`, which
/// callers treat as a stale kept-alive connection.
pub(crate) fn read_head(input: &mut impl BufRead) -> io::Result<Head> {
    let status_line = match read_line(input)? {
        Some(line) => line,
        None => {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                CLOSED_BEFORE_ANSWERING,
            ));
        }
    };
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let status = parts.next().and_then(|code| code.parse::<u16>().ok());
    let (true, Some(status)) = (version.starts_with("HTTP/1."), status) else {
        return Err(invalid(format!("bad status line `{status_line}`")));
    };
    let mut headers = Vec::new();
    loop {
        let line = read_line(input)?.ok_or_else(|| eof("in the headers"))?;
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(invalid("too many headers".to_owned()));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line `{line}`")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok(Head { status, headers })
}

/// The message of the error [`read_head`] returns for a connection closed
/// before any byte of an answer.
pub(crate) const CLOSED_BEFORE_ANSWERING: &str =
    "the engine closed the connection before answering";

/// Reads the body that follows `head` (none for `HEAD` requests and for
/// statuses that have none).
pub(crate) fn read_body(
    input: &mut impl BufRead,
    head: &Head,
    method: &str,
) -> io::Result<(Vec<u8>, BodyEnd)> {
    if method == "HEAD" || head.status < 200 || head.status == 204 || head.status == 304 {
        return Ok((Vec::new(), BodyEnd::Framed));
    }
    if head.chunked() {
        return read_chunked(input).map(|body| (body, BodyEnd::Framed));
    }
    if let Some(length) = head.content_length()? {
        if length > MAX_BODY {
            return Err(invalid(format!("a body of {length} bytes is too large")));
        }
        let mut body = vec![0; length];
        input.read_exact(&mut body)?;
        return Ok((body, BodyEnd::Framed));
    }
    let mut body = Vec::new();
    input.take(MAX_BODY as u64 + 1).read_to_end(&mut body)?;
    if body.len() > MAX_BODY {
        return Err(invalid("the body is too large".to_owned()));
    }
    Ok((body, BodyEnd::Closed))
}

fn read_chunked(input: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(input)?.ok_or_else(|| eof("in a chunk size"))?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| invalid(format!("bad chunk size `{line}`")))?;
        if size == 0 {
            // Trailers, then the final empty line.
            while !read_line(input)?
                .ok_or_else(|| eof("in the trailers"))?
                .is_empty()
            {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(invalid("the body is too large".to_owned()));
        }
        let start = body.len();
        body.resize(start + size, 0);
        input.read_exact(&mut body[start..])?;
        let end = read_line(input)?.ok_or_else(|| eof("after a chunk"))?;
        if !end.is_empty() {
            return Err(invalid("a chunk is longer than its size".to_owned()));
        }
    }
}

/// A chunked body read as it arrives, for answers that stream for as
/// long as something happens (`logs?follow=1`): each `read` returns bytes
/// of the current chunk, and `Ok(0)` after the last chunk.
pub(crate) struct Chunked<R> {
    input: R,
    /// Bytes of the current chunk not yet read.
    left: usize,
    done: bool,
}

impl<R: BufRead> Chunked<R> {
    /// The body that follows a head with `Transfer-Encoding: chunked`.
    pub(crate) fn new(input: R) -> Self {
        Self {
            input,
            left: 0,
            done: false,
        }
    }
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.left == 0 {
            if self.done {
                return Ok(0);
            }
            let line = read_line(&mut self.input)?.ok_or_else(|| eof("in a chunk size"))?;
            let size_text = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| invalid(format!("bad chunk size `{line}`")))?;
            if size == 0 {
                while !read_line(&mut self.input)?
                    .ok_or_else(|| eof("in the trailers"))?
                    .is_empty()
                {}
                self.done = true;
                return Ok(0);
            }
            self.left = size;
        }
        let want = buf.len().min(self.left);
        let read = self.input.read(&mut buf[..want])?;
        if read == 0 {
            return Err(eof("in a chunk"));
        }
        self.left -= read;
        if self.left == 0 {
            let end = read_line(&mut self.input)?.ok_or_else(|| eof("after a chunk"))?;
            if !end.is_empty() {
                return Err(invalid("a chunk is longer than its size".to_owned()));
            }
        }
        Ok(read)
    }
}

/// One line without its `\r\n` (or `\n`); `None` at the end of the stream
/// before any byte.
fn read_line(input: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let read = input.take(MAX_LINE as u64).read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(if line.len() >= MAX_LINE {
            invalid("a header line is too long".to_owned())
        } else {
            eof("in a line")
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| invalid("a header line is not UTF-8".to_owned()))
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn eof(place: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("the engine closed the connection {place}"),
    )
}

/// Percent-encodes a query parameter value.
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a chunked body through [`Chunked`] with reads of `size` bytes.
    fn stream(raw: &str, size: usize) -> io::Result<Vec<u8>> {
        let mut reader = Chunked::new(raw.as_bytes());
        let mut out = Vec::new();
        let mut buf = vec![0; size];
        loop {
            match reader.read(&mut buf)? {
                0 => return Ok(out),
                n => out.extend_from_slice(&buf[..n]),
            }
        }
    }

    #[test]
    fn a_chunked_stream_is_read_as_it_comes() {
        let raw =
            "5\r\nhello\r\n1;ext=1\r\n \r\nb\r\nworld\n\x00\x7fabc\r\n0\r\nX-Trailer: 1\r\n\r\n";
        for size in [1, 3, 64] {
            assert_eq!(
                stream(raw, size).unwrap(),
                b"hello world\n\x00\x7fabc",
                "reads of {size}"
            );
        }
        assert_eq!(stream("0\r\n\r\n", 8).unwrap(), b"");
    }

    #[test]
    fn a_broken_chunked_stream_is_an_error() {
        for raw in ["5\r\nhel", "zz\r\n", "2\r\nabc\r\n", "3\r\nabc\r\n"] {
            assert!(stream(raw, 8).is_err(), "{raw:?}");
        }
    }

    fn parse(raw: &str, method: &str) -> io::Result<(u16, Vec<u8>, BodyEnd)> {
        let mut input = raw.as_bytes();
        let head = read_head(&mut input)?;
        let (body, end) = read_body(&mut input, &head, method)?;
        Ok((head.status, body, end))
    }

    #[test]
    fn requests_carry_length_and_upgrade() {
        let mut out = Vec::new();
        write_request(&mut out, "POST", "/v1.41/x?a=1", Some(b"{}"), false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("POST /v1.41/x?a=1 HTTP/1.1\r\nHost: docker\r\n"));
        assert!(text.ends_with("Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"));

        let mut out = Vec::new();
        write_request(&mut out, "POST", "/attach", None, true).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Connection: Upgrade\r\nUpgrade: tcp\r\n"));
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
    }

    #[test]
    fn bodies_by_length_chunks_and_close() {
        let (status, body, end) =
            parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "GET").unwrap();
        assert_eq!(
            (status, body.as_slice(), end),
            (200, &b"hello"[..], BodyEnd::Framed)
        );

        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwait\r\n6;x=y\r\ning...\r\n0\r\nX-Trailer: 1\r\n\r\n";
        let (_, body, end) = parse(chunked, "POST").unwrap();
        assert_eq!(
            (body.as_slice(), end),
            (&b"waiting..."[..], BodyEnd::Framed)
        );

        let (_, body, end) = parse("HTTP/1.0 200 OK\r\n\r\nuntil close", "GET").unwrap();
        assert_eq!(
            (body.as_slice(), end),
            (&b"until close"[..], BodyEnd::Closed)
        );

        let (status, body, _) = parse(
            "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n",
            "HEAD",
        )
        .unwrap();
        assert_eq!((status, body.len()), (404, 0));
        let (status, body, _) = parse("HTTP/1.1 204 No Content\r\n\r\n", "POST").unwrap();
        assert_eq!((status, body.len()), (204, 0));
    }

    #[test]
    fn malformed_answers_are_errors() {
        let error = |raw: &str| parse(raw, "GET").unwrap_err().to_string();
        assert_eq!(error(""), CLOSED_BEFORE_ANSWERING);
        assert!(error("SSH-2.0-OpenSSH\r\n\r\n").contains("bad status line"));
        assert!(error("HTTP/1.1 200 OK\r\nno colon\r\n\r\n").contains("bad header line"));
        assert!(error("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").contains("Content-Length"));
        assert!(error("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort").contains("fill"));
        assert!(
            error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
                .contains("bad chunk size")
        );
        assert!(error("HTTP/1.1 200 OK\r\n").contains("in the headers"));
    }

    #[test]
    fn headers_are_case_insensitive() {
        let mut input: &[u8] =
            b"HTTP/1.1 101 UPGRADED\r\nCONNECTION: Upgrade\r\nX-Docker-Container-Path-Stat: e30=\r\n\r\nraw";
        let head = read_head(&mut input).unwrap();
        assert_eq!(head.status, 101);
        assert_eq!(head.header("x-docker-container-path-stat"), Some("e30="));
        assert!(head.keep_alive());
        assert_eq!(input, b"raw", "the upgraded stream is left unread");
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("SIGTERM"), "SIGTERM");
        assert_eq!(encode("/tmp/a b"), "%2Ftmp%2Fa%20b");
        assert_eq!(
            encode(r#"{"label":["x=y"]}"#),
            "%7B%22label%22%3A%5B%22x%3Dy%22%5D%7D"
        );
    }
}
