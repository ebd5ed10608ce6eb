//! Where the engine is: `DOCKER_HOST` parsed into a Unix socket, a TCP
//! address or an ssh destination, the three forms the Docker CLI accepts
//! for a Linux engine.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use logist_core::Error;

use crate::error::unavailable;

/// The socket of a local engine when `DOCKER_HOST` is not set.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// The port of `tcp://host` when none is given (the engine's plain-HTTP
/// port).
const DEFAULT_TCP_PORT: u16 = 2375;

/// The address of a Docker (or Podman) engine, as written in `DOCKER_HOST`.
///
/// ```
/// use logist_runtime_docker::DockerHost;
///
/// let local: DockerHost = "unix:///var/run/docker.sock".parse()?;
/// assert_eq!(local, DockerHost::Unix("/var/run/docker.sock".into()));
///
/// let remote: DockerHost = "tcp://10.0.0.7".parse()?;
/// assert_eq!(remote.to_string(), "tcp://10.0.0.7:2375");
///
/// let ssh: DockerHost = "ssh://agent@build-3:2222".parse()?;
/// assert_eq!(
///     ssh,
///     DockerHost::Ssh { user: Some("agent".into()), host: "build-3".into(), port: Some(2222) }
/// );
///
/// assert!("npipe:////./pipe/docker_engine".parse::<DockerHost>().is_err());
/// # Ok::<(), logist_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DockerHost {
    /// A Unix socket on this machine: `unix:///var/run/docker.sock`.
    Unix(PathBuf),
    /// An unencrypted TCP address: `tcp://host:port` (port 2375 when
    /// omitted). Only for trusted networks; TLS is not supported.
    Tcp {
        /// Host name or IP address.
        host: String,
        /// Port.
        port: u16,
    },
    /// A remote engine reached through `ssh [user@]host docker system
    /// dial-stdio`, as the Docker CLI does: `ssh://[user@]host[:port]`.
    /// Needs `ssh` here and the `docker` CLI on the remote host.
    Ssh {
        /// Remote user, when given.
        user: Option<String>,
        /// Remote host.
        host: String,
        /// ssh port, when given.
        port: Option<u16>,
    },
}

impl Default for DockerHost {
    fn default() -> Self {
        DockerHost::Unix(PathBuf::from(DEFAULT_SOCKET))
    }
}

impl DockerHost {
    /// The engine named by this process's `DOCKER_HOST`, or the local
    /// socket when it is unset or empty.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when `DOCKER_HOST` cannot be parsed, or names
    /// a TLS engine (`DOCKER_TLS_VERIFY` set), which this runtime does not
    /// support.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through
    /// `lookup` (for tests and for callers with their own environment).
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let host = match lookup("DOCKER_HOST").filter(|value| !value.is_empty()) {
            None => DockerHost::default(),
            Some(value) => value.parse()?,
        };
        let tls = lookup("DOCKER_TLS_VERIFY").is_some_and(|value| !value.is_empty());
        if tls && matches!(host, DockerHost::Tcp { .. }) {
            return Err(unavailable(
                format!("DOCKER_TLS_VERIFY is set for `{host}`, and TLS is not supported"),
                "reach the engine through ssh:// or a Unix socket, or unset DOCKER_TLS_VERIFY for an engine on a trusted network",
            ));
        }
        Ok(host)
    }
}

impl FromStr for DockerHost {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let invalid = |why: &str| {
            unavailable(
                format!("DOCKER_HOST `{text}` is not a valid engine address: {why}"),
                "use unix:///path/to/docker.sock, tcp://host:port or ssh://[user@]host[:port]",
            )
        };
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(invalid("no scheme"));
        };
        match scheme {
            "unix" => {
                if !rest.starts_with('/') {
                    return Err(invalid("the socket path must be absolute"));
                }
                Ok(DockerHost::Unix(PathBuf::from(rest)))
            }
            "tcp" | "http" => {
                let authority = rest.trim_end_matches('/');
                if authority.contains('/') {
                    return Err(invalid("a path after the address is not supported"));
                }
                let (host, port) = split_port(authority).map_err(&invalid)?;
                if host.is_empty() {
                    return Err(invalid("no host"));
                }
                Ok(DockerHost::Tcp {
                    host,
                    port: port.unwrap_or(DEFAULT_TCP_PORT),
                })
            }
            "ssh" => {
                let authority = rest.trim_end_matches('/');
                if authority.contains('/') {
                    return Err(invalid("a path after the host is not supported"));
                }
                let (user, host_port) = match authority.rsplit_once('@') {
                    Some((user, host_port)) if !user.is_empty() => {
                        (Some(user.to_owned()), host_port)
                    }
                    Some(_) => return Err(invalid("empty user name")),
                    None => (None, authority),
                };
                let (host, port) = split_port(host_port).map_err(&invalid)?;
                if host.is_empty() || host.starts_with('-') {
                    return Err(invalid("no usable host"));
                }
                Ok(DockerHost::Ssh { user, host, port })
            }
            "https" => Err(invalid("TLS is not supported")),
            _ => Err(invalid("the scheme must be unix, tcp or ssh")),
        }
    }
}

/// Splits `host:port` (or `[v6]:port`, or a bare host).
fn split_port(authority: &str) -> Result<(String, Option<u16>), &'static str> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed `[` in the address")?;
        return match after.strip_prefix(':') {
            None if after.is_empty() => Ok((host.to_owned(), None)),
            None => Err("unexpected text after `]`"),
            Some(port) => Ok((host.to_owned(), Some(parse_port(port)?))),
        };
    }
    match authority.rsplit_once(':') {
        None => Ok((authority.to_owned(), None)),
        Some((host, port)) => Ok((host.to_owned(), Some(parse_port(port)?))),
    }
}

fn parse_port(port: &str) -> Result<u16, &'static str> {
    port.parse::<u16>()
        .ok()
        .filter(|&port| port > 0)
        .ok_or("the port is not a number from 1 to 65535")
}

impl fmt::Display for DockerHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DockerHost::Unix(path) => write!(f, "unix://{}", path.display()),
            DockerHost::Tcp { host, port } if host.contains(':') => {
                write!(f, "tcp://[{host}]:{port}")
            }
            DockerHost::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            DockerHost::Ssh { user, host, port } => {
                f.write_str("ssh://")?;
                if let Some(user) = user {
                    write!(f, "{user}@")?;
                }
                f.write_str(host)?;
                if let Some(port) = port {
                    write!(f, ":{port}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expected: &str) {
        match text.parse::<DockerHost>() {
            Ok(host) => assert_eq!(host.to_string(), expected, "{text}"),
            Err(error) => assert_eq!(error.to_string(), expected, "{text}"),
        }
    }

    #[test]
    fn addresses_parse_and_print() {
        check("unix:///var/run/docker.sock", "unix:///var/run/docker.sock");
        check(
            "unix:///run/user/1000/podman/podman.sock",
            "unix:///run/user/1000/podman/podman.sock",
        );
        check("tcp://127.0.0.1:2375", "tcp://127.0.0.1:2375");
        check("tcp://engine-7", "tcp://engine-7:2375");
        check("tcp://engine-7/", "tcp://engine-7:2375");
        check("http://127.0.0.1:9999", "tcp://127.0.0.1:9999");
        check("tcp://[::1]:2375", "tcp://[::1]:2375");
        check("ssh://build-3", "ssh://build-3");
        check("ssh://agent@build-3:2222", "ssh://agent@build-3:2222");
    }

    #[test]
    fn bad_addresses_say_what_is_wrong() {
        let fix = "(use unix:///path/to/docker.sock, tcp://host:port or ssh://[user@]host[:port])";
        let cases = [
            ("/var/run/docker.sock", "no scheme"),
            ("unix://docker.sock", "the socket path must be absolute"),
            ("tcp://:2375", "no host"),
            ("tcp://host:0", "the port is not a number from 1 to 65535"),
            (
                "tcp://host:http",
                "the port is not a number from 1 to 65535",
            ),
            (
                "tcp://host:2375/v1.41",
                "a path after the address is not supported",
            ),
            (
                "ssh://host/run/docker.sock",
                "a path after the host is not supported",
            ),
            ("ssh://@host", "empty user name"),
            ("ssh://-oProxyCommand=x", "no usable host"),
            ("https://host:2376", "TLS is not supported"),
            (
                "npipe:////./pipe/docker_engine",
                "the scheme must be unix, tcp or ssh",
            ),
        ];
        for (text, why) in cases {
            check(
                text,
                &format!(
                    "the docker runtime is unavailable: DOCKER_HOST `{text}` is not a valid engine address: {why} {fix}"
                ),
            );
        }
    }

    #[test]
    fn environment_lookup() {
        let lookup = |pairs: &'static [(&'static str, &'static str)]| {
            DockerHost::from_lookup(move |name| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            })
        };
        assert_eq!(lookup(&[]).unwrap(), DockerHost::default());
        assert_eq!(
            lookup(&[("DOCKER_HOST", "")]).unwrap(),
            DockerHost::default()
        );
        assert_eq!(
            lookup(&[("DOCKER_HOST", "tcp://127.0.0.1:7777")]).unwrap(),
            DockerHost::Tcp {
                host: "127.0.0.1".into(),
                port: 7777
            }
        );
        let tls = lookup(&[
            ("DOCKER_HOST", "tcp://127.0.0.1:2376"),
            ("DOCKER_TLS_VERIFY", "1"),
        ])
        .unwrap_err();
        assert!(tls.to_string().contains("TLS is not supported"), "{tls}");
        // TLS settings do not matter for a Unix socket.
        assert!(lookup(&[("DOCKER_TLS_VERIFY", "1")]).is_ok());
    }
}
