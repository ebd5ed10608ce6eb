//! Errors: the engine client's own, and how engine failures become the
//! core [`Error`] a caller can act on.

use std::io;

use logist_core::Error;

use crate::host::DockerHost;

/// Why a call to the engine failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EngineError {
    /// No connection could be made.
    #[error("cannot connect to the engine at {host}")]
    Connect {
        host: String,
        #[source]
        source: io::Error,
    },
    /// The connection failed during the call.
    #[error("lost the connection to the engine at {host}")]
    Io {
        host: String,
        #[source]
        source: io::Error,
    },
    /// The engine refused, with its message.
    #[error("the engine answered {status}: {message}")]
    Status { status: u16, message: String },
}

impl EngineError {
    /// The HTTP status of a refusal.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            EngineError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The engine's message of a refusal.
    pub(crate) fn message(&self) -> Option<&str> {
        match self {
            EngineError::Status { message, .. } => Some(message),
            _ => None,
        }
    }

    /// As an `io::Error`, for the `source` of a core error.
    pub(crate) fn into_io(self) -> io::Error {
        match self {
            EngineError::Connect { source, .. } | EngineError::Io { source, .. } => source,
            EngineError::Status { .. } => io::Error::other(self.to_string()),
        }
    }
}

/// An [`Error::Unavailable`] of the docker runtime.
pub(crate) fn unavailable(reason: impl Into<String>, fix: impl Into<String>) -> Error {
    Error::Unavailable {
        runtime: "docker".to_owned(),
        reason: reason.into(),
        fix: fix.into(),
        source: None,
    }
}

/// `Unavailable` for an engine that cannot be reached or used.
pub(crate) fn connect_error(host: &DockerHost, error: EngineError) -> Error {
    let reason = match &error {
        EngineError::Status { message, .. } => {
            format!("the engine at {host} cannot be used: {message}")
        }
        _ => format!("cannot reach the engine at {host}"),
    };
    let refused = matches!(
        &error,
        EngineError::Connect { source, .. } if source.kind() == io::ErrorKind::PermissionDenied
    );
    let fix = if refused {
        // The engine may well run: this user may not use its socket.
        "get access to the engine's socket (for Docker: join the `docker` group and log in \
         again), run as a user who has it, or point DOCKER_HOST at an engine you may use"
    } else {
        "start the Docker engine (dockerd) or Podman's API service, or point DOCKER_HOST at a \
         running one"
    };
    Error::Unavailable {
        runtime: "docker".to_owned(),
        reason,
        fix: fix.to_owned(),
        source: Some(Box::new(error)),
    }
}

/// `Unavailable` for an image the engine does not have.
pub(crate) fn missing_image(image: &str, host: &DockerHost) -> Error {
    unavailable(
        format!("image `{image}` is not on the engine at {host}"),
        format!(
            "pull or build it first (`docker pull {image}`), or enable pulling with DockerRuntimeBuilder::pull(true)"
        ),
    )
}

/// True when the engine refused a container because of a bind mount.
pub(crate) fn mount_problem(error: &EngineError) -> bool {
    error
        .message()
        .is_some_and(|message| message.contains("mount") || message.contains("bind source"))
}

/// An engine failure outside `spawn`: an unreachable engine is
/// `Unavailable`, anything else `Io` with `context`.
pub(crate) fn engine_error(
    host: &DockerHost,
    error: EngineError,
    context: impl FnOnce() -> String,
) -> Error {
    match error {
        EngineError::Connect { .. } => connect_error(host, error),
        other => Error::io(context(), other.into_io()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(kind: io::ErrorKind, fix_mentions: &str) {
        let host: DockerHost = "unix:///run/docker.sock".parse().unwrap();
        let error = EngineError::Connect {
            host: host.to_string(),
            source: io::Error::from(kind),
        };
        let error = connect_error(&host, error);
        let text = logist_core::error_chain(&error).to_string();
        assert!(text.contains(fix_mentions), "{text}");
    }

    #[test]
    fn the_fix_fits_why_the_engine_cannot_be_reached() {
        check(io::ErrorKind::NotFound, "start the Docker engine");
        check(io::ErrorKind::ConnectionRefused, "start the Docker engine");
        check(io::ErrorKind::PermissionDenied, "`docker` group");
    }
}
