//! Adapters that turn real coding-agent programs into
//! [`Agent`](logist_core::Agent)s. (Filled in by the agents issue.)
