//! Where a server listens and a client connects: a Unix socket path or a
//! TCP host and port, and the byte stream over either.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use rustls::{ClientConnection, ServerConnection, StreamOwned};
use rustls_pki_types::ServerName;

/// A server's address.
///
/// Written `unix:PATH` for a Unix socket, `tcp://HOST:PORT` or plain
/// `HOST:PORT` for TCP, `tls://HOST:PORT` for TCP with TLS.
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
    /// `HOST:PORT` over TCP with TLS (a token is required; the client
    /// needs the certificate authority that signed the server's).
    Tls(String),
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
        let (host_port, tls) = match text.split_once("://") {
            Some(("tcp", rest)) => (rest, false),
            Some(("tls", rest)) => (rest, true),
            Some(_) => return Err(error("unknown scheme")),
            None => (text, false),
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
        Ok(if tls {
            Address::Tls(host_port.to_owned())
        } else {
            Address::Tcp(host_port.to_owned())
        })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
            Address::Tcp(host_port) => write!(f, "tcp://{host_port}"),
            Address::Tls(host_port) => write!(f, "tls://{host_port}"),
        }
    }
}

/// A connected byte stream: TCP, Unix, or TLS over TCP on either side.
#[derive(Debug)]
pub(crate) enum Transport {
    Tcp(TcpStream),
    Unix(UnixStream),
    TlsClient(Box<StreamOwned<ClientConnection, TcpStream>>),
    TlsServer(Box<StreamOwned<ServerConnection, TcpStream>>),
}

/// The host part of `HOST:PORT` (without an IPv6 address's brackets).
fn host_of(host_port: &str) -> &str {
    let host = host_port
        .rsplit_once(':')
        .map_or(host_port, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

fn connect_tcp(host_port: &str, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = None;
    for addr in host_port.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(error) => last = Some(error),
        }
    }
    Err(last
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the host name has no address")))
}

impl Transport {
    /// Connects to `address`, giving up on TCP after `timeout`; `tls` is
    /// the client configuration for a `tls://` address.
    pub(crate) fn connect(
        address: &Address,
        timeout: Duration,
        tls: Option<&Arc<ClientConfig>>,
    ) -> io::Result<Self> {
        match address {
            Address::Unix(path) => UnixStream::connect(path).map(Transport::Unix),
            Address::Tcp(host_port) => connect_tcp(host_port, timeout).map(Transport::Tcp),
            Address::Tls(host_port) => {
                let Some(config) = tls else {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "a tls:// address needs the certificate authority to trust (LOGIST_TLS_CA)",
                    ));
                };
                let name = ServerName::try_from(host_of(host_port).to_owned())
                    .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
                let connection =
                    ClientConnection::new(Arc::clone(config), name).map_err(io::Error::other)?;
                let stream = connect_tcp(host_port, timeout)?;
                Ok(Transport::TlsClient(Box::new(StreamOwned::new(
                    connection, stream,
                ))))
            }
        }
    }

    /// The TCP socket under a TCP or TLS stream.
    fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Transport::Tcp(stream) => Some(stream),
            Transport::TlsClient(stream) => Some(stream.get_ref()),
            Transport::TlsServer(stream) => Some(stream.get_ref()),
            Transport::Unix(_) => None,
        }
    }

    pub(crate) fn set_timeouts(&self, timeout: Option<Duration>) -> io::Result<()> {
        match (self, self.tcp()) {
            (Transport::Unix(stream), _) => {
                stream.set_read_timeout(timeout)?;
                stream.set_write_timeout(timeout)
            }
            (_, Some(stream)) => {
                stream.set_read_timeout(timeout)?;
                stream.set_write_timeout(timeout)
            }
            (_, None) => Ok(()),
        }
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match (self, self.tcp()) {
            (Transport::Unix(stream), _) => stream.set_nonblocking(nonblocking),
            (_, Some(stream)) => stream.set_nonblocking(nonblocking),
            (_, None) => Ok(()),
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
        let _ = match (self, self.tcp()) {
            (Transport::Unix(stream), _) => stream.shutdown(Shutdown::Both),
            (_, Some(stream)) => stream.shutdown(Shutdown::Both),
            (_, None) => Ok(()),
        };
    }

    /// A second handle on the socket, to shut it down from elsewhere (of a
    /// TLS stream: its TCP socket).
    pub(crate) fn try_clone(&self) -> io::Result<Self> {
        Ok(match self {
            Transport::Unix(stream) => Transport::Unix(stream.try_clone()?),
            Transport::Tcp(stream) => Transport::Tcp(stream.try_clone()?),
            Transport::TlsClient(stream) => Transport::Tcp(stream.get_ref().try_clone()?),
            Transport::TlsServer(stream) => Transport::Tcp(stream.get_ref().try_clone()?),
        })
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // A signal (SIGCHLD in a supervisor) interrupting a read is no
        // failure: tungstenite does not retry, so this does.
        loop {
            match self.read_once(buf) {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }
}

impl Transport {
    fn read_once(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(stream) => stream.read(buf),
            Transport::Unix(stream) => stream.read(buf),
            Transport::TlsClient(stream) => stream.read(buf),
            Transport::TlsServer(stream) => stream.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match self.write_once(buf) {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Tcp(stream) => stream.flush(),
            Transport::Unix(stream) => stream.flush(),
            Transport::TlsClient(stream) => stream.flush(),
            Transport::TlsServer(stream) => stream.flush(),
        }
    }
}

impl Transport {
    fn write_once(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(stream) => stream.write(buf),
            Transport::Unix(stream) => stream.write(buf),
            Transport::TlsClient(stream) => stream.write(buf),
            Transport::TlsServer(stream) => stream.write(buf),
        }
    }
}
