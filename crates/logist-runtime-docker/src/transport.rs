//! Byte streams to the engine: a Unix socket, a TCP socket, or the pipes of
//! an `ssh … docker system dial-stdio` child (what the Docker CLI runs for
//! `ssh://` hosts). Each connection splits into a read half and a write
//! half, so one thread can block reading a container's output while
//! another writes its standard input, and the write half can be closed
//! alone (end-of-file for the container's stdin).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::host::DockerHost;

/// How long connecting to a TCP engine may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The read half of a connection.
#[derive(Debug)]
pub(crate) enum Reader {
    Unix(UnixStream),
    Tcp(TcpStream),
    Ssh {
        stdout: ChildStdout,
        child: Arc<SshChild>,
    },
}

/// The write half of a connection.
#[derive(Debug)]
pub(crate) enum Writer {
    Unix(UnixStream),
    Tcp(TcpStream),
    Ssh {
        stdin: Option<ChildStdin>,
        /// Keeps ssh running while this half lives.
        _child: Arc<SshChild>,
    },
}

/// A handle that can break a connection from another thread, unblocking a
/// reader blocked on it.
#[derive(Debug)]
pub(crate) enum Breaker {
    Unix(UnixStream),
    Tcp(TcpStream),
    Ssh(Arc<SshChild>),
}

/// The ssh child behind an `ssh://` connection; killed and reaped when the
/// last half of the connection is dropped.
#[derive(Debug)]
pub(crate) struct SshChild {
    child: Mutex<Child>,
}

impl SshChild {
    fn kill(&self) {
        let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = child.kill();
        let _ = child.wait();
    }

    /// What ssh printed on stderr (for the message of a failed
    /// connection, which is of no further use: ssh is stopped first, so
    /// the read cannot block).
    pub(crate) fn stderr(&self) -> String {
        let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = child.kill();
        let _ = child.wait();
        let mut text = String::new();
        if let Some(stderr) = child.stderr.as_mut() {
            let _ = stderr.take(4096).read_to_string(&mut text);
        }
        text.trim().to_owned()
    }
}

impl Drop for SshChild {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Opens a connection to the engine at `host`. `ssh_program` is the ssh
/// client to run for `ssh://` hosts.
pub(crate) fn connect(host: &DockerHost, ssh_program: &Path) -> io::Result<(Reader, Writer)> {
    match host {
        DockerHost::Unix(path) => {
            let stream = UnixStream::connect(path)?;
            Ok((Reader::Unix(stream.try_clone()?), Writer::Unix(stream)))
        }
        DockerHost::Tcp { host, port } => {
            let mut last = None;
            for addr in (host.as_str(), *port).to_socket_addrs()? {
                match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                    Ok(stream) => {
                        stream.set_nodelay(true)?;
                        return Ok((Reader::Tcp(stream.try_clone()?), Writer::Tcp(stream)));
                    }
                    Err(error) => last = Some(error),
                }
            }
            Err(last.unwrap_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("`{host}` has no address"))
            }))
        }
        DockerHost::Ssh { user, host, port } => {
            connect_ssh(ssh_program, user.as_deref(), host, *port)
        }
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "the ssh transport runs ssh, exactly as the Docker CLI does for ssh:// hosts"
)]
fn connect_ssh(
    program: &Path,
    user: Option<&str>,
    host: &str,
    port: Option<u16>,
) -> io::Result<(Reader, Writer)> {
    let mut command = Command::new(program);
    command.args(["-T", "-o", "ConnectTimeout=30", "-o", "BatchMode=yes"]);
    if let Some(user) = user {
        command.args(["-l", user]);
    }
    if let Some(port) = port {
        command.args(["-p", &port.to_string()]);
    }
    command
        .args(["--", host, "docker", "system", "dial-stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot run `{}`: {error}", program.display()),
        )
    })?;
    let stdin = child.stdin.take().expect("stdin was piped");
    let stdout = child.stdout.take().expect("stdout was piped");
    let child = Arc::new(SshChild {
        child: Mutex::new(child),
    });
    Ok((
        Reader::Ssh {
            stdout,
            child: Arc::clone(&child),
        },
        Writer::Ssh {
            stdin: Some(stdin),
            _child: child,
        },
    ))
}

impl Reader {
    /// Limits how long one read may block (`None`: forever). Not available
    /// on ssh pipes, where reads block until ssh answers or exits.
    pub(crate) fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Reader::Unix(stream) => stream.set_read_timeout(timeout),
            Reader::Tcp(stream) => stream.set_read_timeout(timeout),
            Reader::Ssh { .. } => Ok(()),
        }
    }

    /// A handle that breaks this connection from another thread.
    pub(crate) fn breaker(&self) -> io::Result<Breaker> {
        Ok(match self {
            Reader::Unix(stream) => Breaker::Unix(stream.try_clone()?),
            Reader::Tcp(stream) => Breaker::Tcp(stream.try_clone()?),
            Reader::Ssh { child, .. } => Breaker::Ssh(Arc::clone(child)),
        })
    }

    /// What ssh said on stderr, for a connection that failed.
    pub(crate) fn ssh_stderr(&self) -> Option<String> {
        match self {
            Reader::Ssh { child, .. } => Some(child.stderr()).filter(|text| !text.is_empty()),
            _ => None,
        }
    }
}

impl Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Reader::Unix(stream) => stream.read(buf),
            Reader::Tcp(stream) => stream.read(buf),
            Reader::Ssh { stdout, .. } => stdout.read(buf),
        }
    }
}

impl Writer {
    /// Closes the write direction only: the engine reads end-of-file, and
    /// the read half keeps working.
    pub(crate) fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Writer::Unix(stream) => ignore_not_connected(stream.shutdown(Shutdown::Write)),
            Writer::Tcp(stream) => ignore_not_connected(stream.shutdown(Shutdown::Write)),
            Writer::Ssh { stdin, .. } => {
                drop(stdin.take());
                Ok(())
            }
        }
    }

    /// Limits how long one write may block (`None`: forever).
    pub(crate) fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Writer::Unix(stream) => stream.set_write_timeout(timeout),
            Writer::Tcp(stream) => stream.set_write_timeout(timeout),
            Writer::Ssh { .. } => Ok(()),
        }
    }
}

fn ignore_not_connected(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(error) if error.kind() == io::ErrorKind::NotConnected => Ok(()),
        other => other,
    }
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Writer::Unix(stream) => stream.write(buf),
            Writer::Tcp(stream) => stream.write(buf),
            Writer::Ssh { stdin, .. } => match stdin {
                Some(stdin) => stdin.write(buf),
                None => Err(io::ErrorKind::BrokenPipe.into()),
            },
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Writer::Unix(stream) => stream.flush(),
            Writer::Tcp(stream) => stream.flush(),
            Writer::Ssh { stdin, .. } => stdin.as_mut().map_or(Ok(()), Write::flush),
        }
    }
}

impl Breaker {
    /// Breaks the connection: blocked reads and writes on it return.
    pub(crate) fn break_now(&self) {
        match self {
            Breaker::Unix(stream) => {
                let _ = stream.shutdown(Shutdown::Both);
            }
            Breaker::Tcp(stream) => {
                let _ = stream.shutdown(Shutdown::Both);
            }
            Breaker::Ssh(child) => child.kill(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::os::unix::net::UnixListener;

    use super::*;

    #[test]
    fn halves_work_apart_and_half_close_reaches_the_peer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engine.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let peer = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut received = Vec::new();
            (&stream).read_to_end(&mut received).unwrap();
            (&stream).write_all(b"got it\n").unwrap();
            received
        });
        let (reader, mut writer) = connect(&DockerHost::Unix(path), Path::new("ssh")).unwrap();
        writer.write_all(b"hello").unwrap();
        writer.shutdown().unwrap();
        writer.shutdown().unwrap();
        let mut line = String::new();
        BufReader::new(reader).read_line(&mut line).unwrap();
        assert_eq!(line, "got it\n");
        assert_eq!(peer.join().unwrap(), b"hello");
    }

    #[test]
    fn a_missing_socket_is_an_error() {
        let error = connect(
            &DockerHost::Unix("/nonexistent/logist.sock".into()),
            Path::new("ssh"),
        )
        .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn a_missing_ssh_program_is_an_error_naming_it() {
        let host = DockerHost::Ssh {
            user: None,
            host: "example".into(),
            port: None,
        };
        let error = connect(&host, Path::new("/nonexistent/ssh")).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/ssh"), "{error}");
    }
}
