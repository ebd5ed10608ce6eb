//! Errors: the engine client's own, and how engine failures become the
//! core [`Error`] a caller can act on.

use std::io;

use logist_core::{BoxError, Error};

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

/// What to do when the engine does not answer.
const START_ENGINE: &str = "start the Docker engine (dockerd) or Podman's API service, or point DOCKER_HOST at a running one";

/// `Unavailable` for an engine that cannot be reached or used. The reason
/// names the engine once; the source is the cause below it (the operating
/// system's error, or the engine's refusal).
pub(crate) fn connect_error(host: &DockerHost, error: EngineError) -> Error {
    let (reason, fix, source): (String, &str, BoxError) = match error {
        EngineError::Connect { source, .. } if source.kind() == io::ErrorKind::PermissionDenied => {
            (
                format!("no permission to use the engine's socket at {host}"),
                "give your user access to the socket: add it to the `docker` group (`sudo usermod -aG docker $USER`, then log in again), or point DOCKER_HOST at an engine you may use (rootless Docker, Podman's user socket)",
                Box::new(source),
            )
        }
        EngineError::Connect { source, .. } => (
            format!("cannot reach the engine at {host}"),
            START_ENGINE,
            Box::new(source),
        ),
        EngineError::Io { source, .. } => (
            format!("the engine at {host} did not answer"),
            START_ENGINE,
            Box::new(source),
        ),
        refusal @ EngineError::Status { .. } => (
            format!("the engine at {host} cannot be used"),
            "see the engine's answer; check its version and configuration",
            Box::new(refusal),
        ),
    };
    Error::Unavailable {
        runtime: "docker".to_owned(),
        reason,
        fix: fix.to_owned(),
        source: Some(source),
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

/// An engine failure: an unreachable engine is `Unavailable`; a refusal or
/// a connection lost during the call is `Backend` with `context`, the
/// engine's error (its HTTP status and message) as the source.
pub(crate) fn engine_error(
    host: &DockerHost,
    error: EngineError,
    context: impl FnOnce() -> String,
) -> Error {
    match error {
        EngineError::Connect { .. } => connect_error(host, error),
        other => Error::backend("docker", context(), other),
    }
}

#[cfg(test)]
mod tests {
    use logist_core::error_chain;

    use super::*;

    fn unix() -> DockerHost {
        DockerHost::Unix("/run/docker.sock".into())
    }

    fn connect(kind: io::ErrorKind, text: &str) -> EngineError {
        EngineError::Connect {
            host: unix().to_string(),
            source: io::Error::new(kind, text),
        }
    }

    #[track_caller]
    fn check(error: Error, expected: &str) {
        assert_eq!(error_chain(&error).to_string(), expected);
    }

    #[test]
    fn an_unreachable_engine_is_named_once_with_the_os_error() {
        check(
            connect_error(
                &unix(),
                connect(
                    io::ErrorKind::NotFound,
                    "No such file or directory (os error 2)",
                ),
            ),
            &format!(
                "the docker runtime is unavailable: cannot reach the engine at unix:///run/docker.sock ({START_ENGINE}): No such file or directory (os error 2)"
            ),
        );
    }

    #[test]
    fn a_socket_without_permission_says_so_and_how_to_fix_it() {
        let error = connect_error(
            &unix(),
            connect(
                io::ErrorKind::PermissionDenied,
                "Permission denied (os error 13)",
            ),
        );
        let text = error_chain(&error).to_string();
        assert!(
            text.contains("no permission to use the engine's socket at unix:///run/docker.sock"),
            "{text}"
        );
        assert!(text.contains("`docker` group"), "{text}");
        assert!(
            text.ends_with(": Permission denied (os error 13)"),
            "{text}"
        );
        assert!(!text.contains("start the Docker engine"), "{text}");
    }

    #[test]
    fn refusals_keep_the_engine_status_and_message() {
        let refusal = EngineError::Status {
            status: 409,
            message: "container name already in use".to_owned(),
        };
        let error = engine_error(&unix(), refusal, || {
            "removing the container of `docker-1`".to_owned()
        });
        assert!(matches!(error, Error::Backend { .. }));
        check(
            error,
            "the docker runtime failed while removing the container of `docker-1`: the engine answered 409: container name already in use",
        );
    }
}
