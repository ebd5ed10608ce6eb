//! Where a server listens and a client connects: a Unix socket path or a
//! TCP host and port, and the byte stream over either.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// A server's address.
///
/// Written `unix:PATH` for a Unix socket, `tcp://HOST:PORT` or plain
/// `HOST:PORT` for TCP.
///
/// ```
/// use logist_runtime_remote::Address;
///
/// let unix: Address = "unix:/run/logist.sock".parse()?;
/// assert_eq!(unix, Address::Unix("/run/logist.sock".into()));
/// let tcp: Address = "tcp://127.0.0.1:7700".parse()?;
/// assert_eq!(tcp, Address::Tcp("127.0.0.1:7700".into()));
/// assert_eq!(tcp.to_string(), "tcp://127.0.0.1:7700");
/// assert!("ftp://x".parse::<Address>().is_err());
/// # Ok::<(), logist_runtime_remote::AddressError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// A Unix domain socket at this path (no token; the file's mode is the
    /// access control).
    Unix(PathBuf),
    /// `HOST:PORT` over TCP (a token is required).
    Tcp(String),
}

/// An address that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid server address `{given}`: {why} (expected unix:PATH, tcp://HOST:PORT or HOST:PORT)"
)]
pub struct AddressError {
    given: String,
    why: &'static str,
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = |why| AddressError {
            given: text.to_owned(),
            why,
        };
        if let Some(path) = text.strip_prefix("unix:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(error("the socket path is empty"));
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        let host_port = match text.split_once("://") {
            Some(("tcp", rest)) => rest,
            Some(_) => return Err(error("unknown scheme")),
            None => text,
        };
        let Some((host, port)) = host_port.rsplit_once(':') else {
            return Err(error("no port"));
        };
        if host.is_empty() {
            return Err(error("no host"));
        }
        if port.parse::<u16>().is_err() {
            return Err(error("the port is not a number from 0 to 65535"));
        }
        Ok(Address::Tcp(host_port.to_owned()))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
            Address::Tcp(host_port) => write!(f, "tcp://{host_port}"),
        }
    }
}

/// A connected byte stream, TCP or Unix.
#[derive(Debug)]
pub(crate) enum Transport {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Transport {
    /// Connects to `address`, giving up on TCP after `timeout`.
    pub(crate) fn connect(address: &Address, timeout: Duration) -> io::Result<Self> {
        match address {
            Address::Unix(path) => UnixStream::connect(path).map(Transport::Unix),
            Address::Tcp(host_port) => {
                let mut last = None;
                for addr in host_port.to_socket_addrs()? {
                    match TcpStream::connect_timeout(&addr, timeout) {
                        Ok(stream) => {
                            stream.set_nodelay(true)?;
                            return Ok(Transport::Tcp(stream));
                        }
                        Err(error) => last = Some(error),
                    }
                }
                Err(last.unwrap_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, "the host name has no address")
                }))
            }
        }
    }

    pub(crate) fn set_timeouts(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Transport::Tcp(stream) => {
                stream.set_read_timeout(timeout)?;
                stream.set_write_timeout(timeout)
            }
            Transport::Unix(stream) => {
                stream.set_read_timeout(timeout)?;
                stream.set_write_timeout(timeout)
            }
        }
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match self {
            Transport::Tcp(stream) => stream.set_nonblocking(nonblocking),
            Transport::Unix(stream) => stream.set_nonblocking(nonblocking),
        }
    }

    /// True when an idle connection can no longer be used: the peer closed
    /// it, or sent something unasked (a server sends only replies, so any
    /// byte waiting on an idle connection is its closing handshake).
    pub(crate) fn is_stale(&mut self) -> bool {
        if self.set_nonblocking(true).is_err() {
            return true;
        }
        let mut byte = [0u8; 1];
        let stale = !matches!(self.read(&mut byte), Err(error) if error.kind() == io::ErrorKind::WouldBlock);
        stale || self.set_nonblocking(false).is_err()
    }

    pub(crate) fn shutdown(&self) {
        let _ = match self {
            Transport::Tcp(stream) => stream.shutdown(Shutdown::Both),
            Transport::Unix(stream) => stream.shutdown(Shutdown::Both),
        };
    }

    pub(crate) fn try_clone(&self) -> io::Result<Self> {
        Ok(match self {
            Transport::Tcp(stream) => Transport::Tcp(stream.try_clone()?),
            Transport::Unix(stream) => Transport::Unix(stream.try_clone()?),
        })
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(stream) => stream.read(buf),
            Transport::Unix(stream) => stream.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(stream) => stream.write(buf),
            Transport::Unix(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Tcp(stream) => stream.flush(),
            Transport::Unix(stream) => stream.flush(),
        }
    }
}
