//! Cline CLI's `--json` (JSON lines).
//!
//! Only the end of a run is parsed, as the Cline adapter's verdict reads it
//! (seen with Cline 3.0.65): `run_result` → [`TurnEnd`] (`finishReason`
//! `completed` is a normal end, anything else an error) and `run_aborted`
//! → [`TurnEnd`] (cancelled). No capture of Cline's other lines is kept
//! here (Cline needs `cline auth` and is not in the end-to-end tests), so
//! they pass through as raw events; use Cline's ACP mode for events.

use serde_json::Value;

use crate::dialects::{Seen, kind_field, string};
use crate::event::{Event, StopReason, TurnEnd};

/// The Cline dialect (no state between lines).
#[derive(Debug, Default)]
pub(crate) struct Cline;

impl Cline {
    pub(crate) fn event(&mut self, value: &Value, out: &mut Vec<Event>) -> Seen {
        let reason = match kind_field(value) {
            "run_result" if string(value, "finishReason").as_deref() == Some("completed") => {
                StopReason::EndTurn
            }
            "run_result" => StopReason::Error,
            "run_aborted" => StopReason::Cancelled,
            _ => return Seen::Unknown,
        };
        out.push(Event::TurnEnd(TurnEnd {
            reason,
            detail: string(value, "finishReason"),
            result: string(value, "message"),
            duration_ms: None,
        }));
        Seen::Known
    }
}
