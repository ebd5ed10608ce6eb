//! Adoption: a runtime built with [`adopt`](crate::DockerRuntimeBuilder::adopt)
//! takes over the durable containers an earlier runtime left on the
//! engine, found by label, and serves them as if it had started them.
//!
//! For each container the engine's log (the `local` driver, which durable
//! containers are created with) is read from its start and then followed,
//! on one connection, until the container stops: offset 0 is the first
//! byte the program wrote, and no byte is read twice or skipped between
//! the past and the present. Then the exit status comes from the engine
//! as for any container. A running container with an open stdin gets a
//! stdin-only attach connection, so `write_stdin` reaches it, and an
//! output-only one that shows the line being written before the log has it
//! (`live.rs`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};

use logist_core::{CommandLine, Error, Labels, ProcessId, SpawnRequest};
use logist_output::{Record, RecordSettings};

use crate::container::{Container, Live, status_from_engine};
use crate::error::engine_error;
use crate::host::DockerHost;
use crate::http::encode;
use crate::owner::{OWNER_LABEL, Owner, owner};
use crate::runtime::{
    COMMAND_LABEL, DURABLE_LABEL, DockerRuntime, GRACE_LABEL, LABELS_LABEL, PROCESS_LABEL,
    STARTED_LABEL,
};

impl DockerRuntime {
    /// Adopts every durable container that carries this runtime's
    /// builder labels, oldest first. A container that cannot be adopted
    /// (its labels are damaged, it was never started, it vanished) is
    /// skipped with a warning; the others are adopted.
    ///
    /// Returns how many were adopted.
    pub(crate) fn adopt_containers(&self) -> Result<usize, Error> {
        let mut filters = vec![format!("{DURABLE_LABEL}=true")];
        filters.extend(
            self.config
                .labels
                .iter()
                .map(|(key, value)| format!("{key}={value}")),
        );
        let query = json!({ "label": filters }).to_string();
        let list = format!("/containers/json?all=1&filters={}", encode(&query));
        let reply = self.engine.call("GET", &list, None).map_err(|error| {
            engine_error(self.engine.host(), error, || {
                "listing the durable containers to adopt".to_owned()
            })
        })?;
        let mut found: Vec<(i64, String)> = reply
            .json()
            .as_array()
            .map(|containers| {
                containers
                    .iter()
                    .filter_map(|c| Some((c["Created"].as_i64()?, c["Id"].as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        self.remove_orphans();
        let mut adopted = 0;
        for (_, container_id) in found {
            match self.adopt(&container_id) {
                Ok(Some(id)) => {
                    tracing::info!(%id, container = %container_id, "adopted");
                    adopted += 1;
                }
                Ok(None) => {}
                Err(error) => {
                    let error = logist_core::error_chain(&error);
                    tracing::warn!(container = %container_id, %error, "cannot adopt a durable container; left as it is");
                }
            }
        }
        Ok(adopted)
    }

    /// Removes the attached containers carrying this runtime's builder
    /// labels whose owner is known to be gone (`owner.rs`): their owner
    /// died without dropping its runtime. Failures are warnings.
    fn remove_orphans(&self) {
        let mut filters = vec![OWNER_LABEL.to_owned()];
        filters.extend(
            self.config
                .labels
                .iter()
                .map(|(key, value)| format!("{key}={value}")),
        );
        let query = json!({ "label": filters }).to_string();
        let list = format!("/containers/json?all=1&filters={}", encode(&query));
        let containers = match self.engine.call("GET", &list, None) {
            Ok(reply) => reply.json(),
            Err(error) => {
                tracing::warn!(%error, "cannot list attached containers whose owner may be gone");
                return;
            }
        };
        for container in containers.as_array().into_iter().flatten() {
            let (Some(container_id), Some(label)) = (
                container["Id"].as_str(),
                container["Labels"][OWNER_LABEL].as_str(),
            ) else {
                continue;
            };
            if container["Labels"][DURABLE_LABEL].as_str() == Some("true")
                || owner(label) != Owner::Gone
            {
                continue;
            }
            let call = format!("/containers/{container_id}?force=1&v=1");
            match self.engine.call("DELETE", &call, None) {
                Ok(_) => {
                    tracing::info!(container = %container_id, owner = label, "removed an attached container whose owner is gone");
                }
                Err(error) if error.status() == Some(404) => {}
                Err(error) => {
                    tracing::warn!(container = %container_id, %error, "cannot remove an attached container whose owner is gone");
                }
            }
        }
    }

    /// Adopts one container; `None` when there is nothing to adopt (it
    /// vanished, or was created and never started).
    fn adopt(&self, container_id: &str) -> Result<Option<ProcessId>, Error> {
        let inspect =
            match self
                .engine
                .call("GET", &format!("/containers/{container_id}/json"), None)
            {
                Ok(reply) => reply.json(),
                Err(error) if error.status() == Some(404) => return Ok(None),
                Err(error) => {
                    return Err(engine_error(self.engine.host(), error, || {
                        format!("inspecting container {container_id}")
                    }));
                }
            };
        let state = &inspect["State"];
        if state["Status"].as_str() == Some("created") {
            tracing::warn!(container = %container_id, "a durable container that was never started (its spawn did not finish); not adopted");
            return Ok(None);
        }
        let labels = &inspect["Config"]["Labels"];
        let spec = Spec::from_labels(labels).map_err(|reason| {
            Error::backend(
                "docker",
                format!("the labels of durable container {container_id} are damaged"),
                reason,
            )
        })?;
        if self.containers.get(&spec.id).is_ok() {
            // Adopted already (the runtime never adopts twice; defensive).
            return Ok(None);
        }
        let running = state["Running"].as_bool() == Some(true);
        let on_terminal = inspect["Config"]["Tty"].as_bool() == Some(true);
        let stdin_open = inspect["Config"]["OpenStdin"].as_bool() == Some(true);
        let memory_limited = inspect["HostConfig"]["Memory"]
            .as_i64()
            .is_some_and(|memory| memory > 0);

        let mut request = SpawnRequest::new(spec.command).durable(true);
        request.labels = spec.labels;
        request.grace = spec.grace;
        let settings = RecordSettings {
            grace: self.config.grace,
            output_cap: self.config.output_cap,
        };
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed) + 1;
        // One stream: the engine's log carries both.
        let mut record = Record::new(spec.id.clone(), seq, &request, settings, 1, false);
        if let Some(started) = spec.started {
            record.started_at = started;
        }
        if !running {
            // Known now, from the engine: `info` and `list` say so at once,
            // while `wait` still waits for the log's replay to end.
            let code = state["ExitCode"].as_i64().unwrap_or(-1);
            let mut record_state = record.lock();
            record_state.exited(status_from_engine(code));
            record_state.oom_killed = state["OOMKilled"].as_bool() == Some(true);
        }
        let container = Arc::new(Container {
            record,
            container_id: container_id.to_owned(),
            durable: true,
            on_terminal,
            stdin: Mutex::new(None),
            stdin_reader: Mutex::new(None),
            parked: Mutex::new(None),
            breaker: Mutex::new(None),
            reader: Mutex::new(None),
            abandoned: AtomicBool::new(false),
            host_pid: OnceLock::new(),
            memory_limited,
            kill_sent: AtomicBool::new(false),
            // Reads time out to notice quiet; ssh pipes cannot.
            live: (running && !matches!(self.engine.host(), DockerHost::Ssh { .. }))
                .then(Live::default),
        });

        if running && stdin_open {
            // Input only: the output comes from the log.
            let attach = format!("/containers/{container_id}/attach?stream=1&stdin=1");
            match self.engine.upgrade(&attach) {
                Ok(connection) => {
                    *container
                        .stdin
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = Some(connection.writer);
                    *container
                        .stdin_reader
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = Some(connection.reader);
                }
                Err(error) => {
                    tracing::warn!(id = %spec.id, %error, "cannot attach to the stdin of an adopted container; its stdin counts as closed");
                }
            }
        }
        if container.live.is_some() {
            // Output only, for the line being written (`live.rs`); made
            // before the log is read, so that it sees every byte the log
            // has not delivered yet.
            let attach = format!("/containers/{container_id}/attach?stream=1&stdout=1&stderr=1");
            let started = self
                .engine
                .upgrade(&attach)
                .map_err(|error| error.to_string())
                .and_then(|connection| {
                    container
                        .start_live(connection.reader, on_terminal)
                        .map_err(|error| error.to_string())
                });
            if let Err(error) = started {
                tracing::warn!(id = %spec.id, %error, "cannot attach to the output of an adopted container; a line without a newline shows once it ends");
            }
        }
        let logs = format!("/containers/{container_id}/logs?follow=1&stdout=1&stderr=1");
        let started = self
            .engine
            .stream(&logs)
            .map_err(|error| {
                engine_error(self.engine.host(), error, || {
                    format!("reading the log of durable container {container_id}")
                })
            })
            .and_then(|mut stream| {
                let breaker = stream.breaker.take();
                container
                    .start_reader(
                        Arc::clone(&self.engine),
                        Box::new(stream),
                        breaker,
                        on_terminal,
                    )
                    .map_err(|error| Error::io("starting a reader thread", error))
            });
        if let Err(error) = started {
            // Ends the connections made so far (the live reader's too).
            container.abandon();
            return Err(error);
        }
        self.containers.insert(container);
        Ok(Some(spec.id))
    }
}

/// What a durable container's labels say about its request.
struct Spec {
    id: ProcessId,
    command: CommandLine,
    labels: Labels,
    grace: Option<Duration>,
    started: Option<std::time::SystemTime>,
}

impl Spec {
    fn from_labels(labels: &Value) -> Result<Self, String> {
        let text = |name: &str| {
            labels[name]
                .as_str()
                .ok_or_else(|| format!("no label `{name}`"))
        };
        let id = ProcessId::new(text(PROCESS_LABEL)?);
        let argv: Vec<String> = serde_json::from_str::<Value>(text(COMMAND_LABEL)?)
            .ok()
            .and_then(|argv| {
                argv.as_array()?
                    .iter()
                    .map(|arg| arg.as_str().map(str::to_owned))
                    .collect()
            })
            .ok_or_else(|| format!("label `{COMMAND_LABEL}` is not a JSON array of strings"))?;
        let command =
            CommandLine::new(argv).map_err(|error| format!("label `{COMMAND_LABEL}`: {error}"))?;
        let labels: Labels = serde_json::from_str::<Value>(text(LABELS_LABEL)?)
            .ok()
            .and_then(|labels| {
                labels
                    .as_object()?
                    .iter()
                    .map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
                    .collect()
            })
            .ok_or_else(|| format!("label `{LABELS_LABEL}` is not a JSON object of strings"))?;
        let millis = |name: &str| text(name).ok().and_then(|ms| ms.parse::<u64>().ok());
        Ok(Self {
            id,
            command,
            labels,
            grace: millis(GRACE_LABEL).map(Duration::from_millis),
            started: millis(STARTED_LABEL).map(|ms| UNIX_EPOCH + Duration::from_millis(ms)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The id, argv and labels a container's labels give.
    type Expected<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)]);

    #[track_caller]
    fn check(labels: Value, expected: Result<Expected<'_>, &str>) {
        let spec = Spec::from_labels(&labels);
        match (spec, expected) {
            (Ok(spec), Ok((id, argv, pairs))) => {
                assert_eq!(spec.id.as_str(), id);
                assert_eq!(spec.command.argv(), argv);
                let labels: Labels = pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect();
                assert_eq!(spec.labels, labels);
            }
            (Err(error), Err(expected)) => assert!(error.contains(expected), "{error}"),
            (spec, expected) => panic!("got {:?}, expected {expected:?}", spec.map(|spec| spec.id)),
        }
    }

    #[test]
    fn a_durable_containers_labels_give_its_request() {
        check(
            json!({
                PROCESS_LABEL: "docker-abc-1",
                COMMAND_LABEL: r#"["sh","-c","echo hi"]"#,
                LABELS_LABEL: r#"{"job":"42"}"#,
                GRACE_LABEL: "1500",
                STARTED_LABEL: "1700000000000",
            }),
            Ok(("docker-abc-1", &["sh", "-c", "echo hi"], &[("job", "42")])),
        );
        let spec = Spec::from_labels(&json!({
            PROCESS_LABEL: "p",
            COMMAND_LABEL: r#"["true"]"#,
            LABELS_LABEL: "{}",
            GRACE_LABEL: "1500",
            STARTED_LABEL: "1700000000000",
        }))
        .unwrap();
        assert_eq!(spec.grace, Some(Duration::from_millis(1500)));
        assert_eq!(
            spec.started,
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
    }

    #[test]
    fn damaged_labels_are_reported() {
        check(json!({}), Err("no label `logist.process`"));
        check(
            json!({PROCESS_LABEL: "p", COMMAND_LABEL: "sh", LABELS_LABEL: "{}"}),
            Err("not a JSON array"),
        );
        check(
            json!({PROCESS_LABEL: "p", COMMAND_LABEL: "[]", LABELS_LABEL: "{}"}),
            Err("label `logist.command`"),
        );
        check(
            json!({PROCESS_LABEL: "p", COMMAND_LABEL: r#"["a"]"#, LABELS_LABEL: r#"{"a":1}"#}),
            Err("not a JSON object"),
        );
    }
}
