//! One module per agent program.

pub(crate) mod aider;
pub(crate) mod amp;
pub(crate) mod claude;
pub(crate) mod cline;
pub(crate) mod codex;
pub(crate) mod copilot;
pub(crate) mod cursor;
pub(crate) mod gemini;
pub(crate) mod goose;
pub(crate) mod opencode;
pub(crate) mod qwen;

/// Declares an adapter struct holding an [`AgentConfig`](crate::AgentConfig),
/// with `new` and `with_config`.
macro_rules! adapter {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct $name {
            config: $crate::AgentConfig,
        }

        impl $name {
            /// The adapter with default settings: the usual program name,
            /// its default model and API, [`Approval::Ask`](crate::Approval::Ask),
            /// no isolation.
            pub fn new() -> Self {
                Self::default()
            }

            /// The adapter with these settings.
            pub fn with_config(config: $crate::AgentConfig) -> Self {
                Self { config }
            }
        }
    };
}

pub(crate) use adapter;
