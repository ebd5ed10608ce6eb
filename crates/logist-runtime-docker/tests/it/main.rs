//! Integration tests of `DockerRuntime` against a real engine: the
//! conformance suite, the mock agent's scenarios, container-specific
//! behaviour, and remote engines. They need what `cargo xtask docker`
//! sets up, and fail (never skip) without it.

mod conformance;
mod container;
mod durable;
mod fixture;
mod reattach;
mod remote;
mod scenarios;
