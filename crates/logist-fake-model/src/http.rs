//! Just enough HTTP/1.1 for the fake model server: reading requests
//! (`Content-Length` or chunked bodies, `Expect: 100-continue`), writing
//! whole responses, and writing chunked streams for server-sent events.
//! Connections are kept alive unless the client asks otherwise.

use std::io::{self, BufRead, Read, Write};

/// The largest request head (request line and headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// The largest request body accepted. Agent programs send their whole
/// conversation and tool list; a few hundred KiB is typical.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// A parsed request.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) method: String,
    /// The request target as sent: path and query.
    pub(crate) target: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Request {
    /// The value of the first header named `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The path without the query.
    pub(crate) fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The query string, without `?`; empty when there is none.
    #[cfg(test)]
    pub(crate) fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, query)| query)
    }

    /// True when the client asked to close the connection after this
    /// exchange (or speaks HTTP/1.0 without keep-alive).
    pub(crate) fn wants_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"))
    }
}

/// Why a request could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The connection failed or closed in the middle of a request: nothing
    /// to answer, the connection is dropped.
    Io,
    /// The request is not HTTP we understand; answer 400 and close.
    Bad(String),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Io
    }
}

/// Reads one request. `Ok(None)` means the client closed the connection
/// cleanly between requests.
pub(crate) fn read_request(
    reader: &mut impl BufRead,
    writer: &mut impl Write,
) -> Result<Option<Request>, ReadError> {
    let mut head_len = 0;
    let Some(request_line) = read_line(reader, &mut head_len)? else {
        return Ok(None);
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad(format!(
            "malformed request line {request_line:?}"
        )));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ReadError::Bad(format!("unsupported version {version:?}")));
    }
    let mut headers = Vec::new();
    loop {
        let Some(line) = read_line(reader, &mut head_len)? else {
            return Err(ReadError::Io);
        };
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ReadError::Bad(format!("malformed header line {line:?}")));
        };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut request = Request {
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
        body: Vec::new(),
    };
    if version == "HTTP/1.0"
        && !request
            .header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("keep-alive"))
    {
        request.headers.push(("Connection".into(), "close".into()));
    }
    if request
        .header("expect")
        .is_some_and(|value| value.eq_ignore_ascii_case("100-continue"))
    {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        writer.flush()?;
    }
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"));
    request.body = if chunked {
        read_chunked(reader)?
    } else if let Some(length) = request.header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| ReadError::Bad(format!("bad content-length {length:?}")))?;
        if length > MAX_BODY {
            return Err(ReadError::Bad(format!(
                "body of {length} bytes is too large"
            )));
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    } else {
        Vec::new()
    };
    Ok(Some(request))
}

/// Reads a CRLF- (or LF-) terminated line of the request head.
fn read_line(reader: &mut impl BufRead, head_len: &mut usize) -> Result<Option<String>, ReadError> {
    let mut line = Vec::new();
    let read = reader
        .take((MAX_HEAD - *head_len + 1) as u64)
        .read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    *head_len += read;
    if *head_len > MAX_HEAD {
        return Err(ReadError::Bad("request head is too large".into()));
    }
    if !line.ends_with(b"\n") {
        return Err(ReadError::Io);
    }
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| ReadError::Bad("request head is not UTF-8".into()))
}

fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    let mut head_len = 0;
    loop {
        let Some(size_line) = read_line(reader, &mut head_len)? else {
            return Err(ReadError::Io);
        };
        let size = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| ReadError::Bad(format!("bad chunk size {size_line:?}")))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                match read_line(reader, &mut head_len)? {
                    Some(line) if line.is_empty() => return Ok(body),
                    Some(_) => {}
                    None => return Err(ReadError::Io),
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(ReadError::Bad("chunked body is too large".into()));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf)?;
        if &crlf != b"\r\n" {
            return Err(ReadError::Bad("chunk not followed by CRLF".into()));
        }
        head_len = 0;
    }
}

/// The reason phrase for the status codes this server uses.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        _ => "Unknown",
    }
}

/// Writes a whole response with a `Content-Length`. For `HEAD`, pass
/// `head_only` so the body is announced but not sent.
pub(crate) fn write_response(
    writer: &mut impl Write,
    status: u16,
    content_type: &str,
    body: &[u8],
    head_only: bool,
    close: bool,
) -> io::Result<()> {
    let connection = if close { "close" } else { "keep-alive" };
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
        reason(status),
        body.len()
    );
    writer.write_all(head.as_bytes())?;
    if !head_only {
        writer.write_all(body)?;
    }
    writer.flush()
}

/// A response body sent in chunks as it is produced (server-sent events).
pub(crate) struct ChunkedResponse<'a, W: Write> {
    writer: &'a mut W,
}

impl<'a, W: Write> ChunkedResponse<'a, W> {
    /// Writes the head of a chunked `200` response.
    pub(crate) fn start(writer: &'a mut W, content_type: &str, close: bool) -> io::Result<Self> {
        let connection = if close { "close" } else { "keep-alive" };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nConnection: {connection}\r\n\r\n"
        );
        writer.write_all(head.as_bytes())?;
        writer.flush()?;
        Ok(Self { writer })
    }

    /// Sends one chunk and flushes it, so the client sees it at once.
    pub(crate) fn send(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        write!(self.writer, "{:x}\r\n", data.len())?;
        self.writer.write_all(data)?;
        self.writer.write_all(b"\r\n")?;
        self.writer.flush()
    }

    /// Sends the last (empty) chunk.
    pub(crate) fn finish(self) -> io::Result<()> {
        self.writer.write_all(b"0\r\n\r\n")?;
        self.writer.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Result<Option<Request>, ReadError> {
        let mut out = Vec::new();
        read_request(&mut io::BufReader::new(raw), &mut out)
    }

    #[test]
    fn reads_content_length_and_chunked_bodies() {
        let request = parse(
            b"POST /v1/messages?beta=true HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        )
        .unwrap()
        .unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.path(), "/v1/messages");
        assert_eq!(request.query(), "beta=true");
        assert_eq!(request.body, b"hello");
        assert!(!request.wants_close());

        let request = parse(
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: t\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(request.body, b"abcde");
    }

    #[test]
    fn clean_close_is_not_an_error_and_garbage_is() {
        assert!(parse(b"").unwrap().is_none());
        assert!(matches!(parse(b"NONSENSE\r\n\r\n"), Err(ReadError::Bad(_))));
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
            Err(ReadError::Bad(_))
        ));
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nHost"),
            Err(ReadError::Io)
        ));
    }

    #[test]
    fn http_1_0_closes_and_expect_continue_is_answered() {
        let request = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(request.wants_close());
        let mut out = Vec::new();
        let raw: &[u8] = b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx";
        let request = read_request(&mut io::BufReader::new(raw), &mut out)
            .unwrap()
            .unwrap();
        assert_eq!(request.body, b"x");
        assert_eq!(out, b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn chunked_response_framing() {
        let mut out = Vec::new();
        let mut response = ChunkedResponse::start(&mut out, "text/event-stream", false).unwrap();
        response.send(b"data: 1\n\n").unwrap();
        response.send(b"").unwrap();
        response.finish().unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(
            text.ends_with("\r\n\r\n9\r\ndata: 1\n\n\r\n0\r\n\r\n"),
            "{text}"
        );
    }
}
