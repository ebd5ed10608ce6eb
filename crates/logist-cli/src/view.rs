//! How `logist run` shows an agent's run: readably by default (the agent's
//! text, one line per tool call, permissions, usage in the summary), the
//! program's own bytes with `--raw`, or normalized JSON events with
//! `--json`. The program's stdout is parsed with the parser its adapter
//! names ([`Agent::output_format`](logist_core::Agent::output_format)).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use logist_core::OutputFormat;
use logist_events::{
    Decider, Event, Message, Outcome as Decision, Parser, RawReason, Role, StopReason, ToolCall,
    ToolResult, ToolStatus, Usage,
};
use serde_json::Value;

/// What `logist run` prints of the program's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// For people: the agent's text and one line per tool call.
    Readable,
    /// The program's bytes, unchanged.
    Raw,
    /// Normalized JSON events, one per line.
    Json,
}

/// Renders the program's stdout in one [`Mode`].
pub(crate) struct View {
    mode: Mode,
    /// `None` when the output is shown as it is (plain text, `--raw`).
    parser: Option<Parser>,
    render: Render,
}

impl View {
    /// A view of a program that prints `format`.
    pub(crate) fn new(format: OutputFormat, mode: Mode) -> Self {
        let parse = mode != Mode::Raw && format != OutputFormat::Text;
        Self {
            mode,
            parser: parse.then(|| Parser::new(format)),
            render: Render::default(),
        }
    }

    /// Shows a chunk of the program's stdout. Returns false when the view
    /// does not parse the output and the caller shows it as before.
    pub(crate) fn stdout(&mut self, data: &[u8]) -> bool {
        let Some(parser) = &mut self.parser else {
            return false;
        };
        let events = parser.feed(data);
        self.show(&events);
        true
    }

    /// Ends the output: the events of an unfinished last line, and tool
    /// calls that got no result.
    pub(crate) fn finish(&mut self) {
        let Some(parser) = &mut self.parser else {
            return;
        };
        let events = parser.finish();
        self.show(&events);
        if self.mode == Mode::Readable {
            self.render.unanswered();
            // Streamed text may end without a newline; the summary follows.
            if self.render.mid_line {
                self.render.write(b"\n");
            }
        }
    }

    /// What the run reported, for the closing summary: session, tokens,
    /// cost, how the turn ended.
    pub(crate) fn summary(&self) -> Option<String> {
        self.parser.as_ref()?;
        let render = &self.render;
        let mut parts = Vec::new();
        if let Some(session) = &render.session {
            parts.push(format!("session {session}"));
        }
        if let Some(usage) = &render.usage {
            let mut tokens = format!(
                "tokens {} in, {} out",
                number(usage.input_tokens),
                number(usage.output_tokens)
            );
            if let Some(cached) = usage.cached_input_tokens.filter(|&cached| cached > 0) {
                let _ = write!(tokens, ", {cached} cached");
            }
            parts.push(tokens);
            if let Some(cost) = &usage.cost {
                parts.push(format!("cost {:.4} {}", cost.amount, cost.currency));
            }
        }
        if let Some(reason) = render.turn_end {
            parts.push(format!("turn ended: {}", reason_name(reason)));
        }
        if render.hidden > 0 {
            parts.push(format!(
                "{} unrecognised output lines not shown (see --raw)",
                render.hidden
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    fn show(&mut self, events: &[Event]) {
        for event in events {
            self.render.record(event);
            match self.mode {
                Mode::Json => print_json(event.to_json()),
                Mode::Readable => self.render.readable(event),
                Mode::Raw => {}
            }
        }
    }
}

/// The state of the readable rendering, and what the summary reports.
#[derive(Default)]
struct Render {
    /// The last character printed to stdout was not a newline.
    mid_line: bool,
    /// Message ids whose pieces were printed (their whole form is not).
    streamed: HashSet<String>,
    /// Calls waiting for their result.
    calls: HashMap<String, ToolCall>,
    /// Order of the calls waiting, to report them in order.
    order: Vec<String>,
    printed_text: bool,
    session: Option<String>,
    usage: Option<Usage>,
    turn_end: Option<StopReason>,
    final_text: Option<String>,
    hidden: u64,
}

impl Render {
    /// Keeps what the summary needs.
    fn record(&mut self, event: &Event) {
        match event {
            Event::Session(session) => self.session = Some(session.id.clone()),
            Event::Usage(usage) => add_usage(&mut self.usage, usage),
            Event::TurnEnd(end) => {
                self.turn_end = Some(end.reason);
                self.final_text.clone_from(&end.result);
            }
            _ => {}
        }
    }

    fn readable(&mut self, event: &Event) {
        match event {
            Event::Message(message) if message.role == Role::Assistant => self.message(message),
            Event::ToolCall(call) => {
                if !self.calls.contains_key(&call.id) {
                    self.order.push(call.id.clone());
                }
                self.calls.insert(call.id.clone(), call.clone());
            }
            Event::ToolResult(result) => self.result(result),
            Event::Permission(permission) => {
                let what = permission
                    .tool_call
                    .as_ref()
                    .map(describe)
                    .unwrap_or_else(|| permission.id.clone());
                self.line(&format!("? permission asked: {what}"));
            }
            Event::PermissionDecision(decision) => {
                let what = decision
                    .tool_call
                    .as_ref()
                    .or_else(|| self.calls.get(&decision.id))
                    .map(describe)
                    .unwrap_or_else(|| decision.id.clone());
                let verdict = if decision.outcome.is_allowed() {
                    "allowed"
                } else if decision.outcome == Decision::Cancelled {
                    "cancelled"
                } else {
                    "denied"
                };
                let by = match decision.by {
                    Decider::Policy => "by policy",
                    Decider::Person => "by you",
                    Decider::Program => "by the agent's settings",
                };
                self.line(&format!("! permission {verdict} {by}: {what}"));
            }
            Event::Plan(plan) => {
                let mut text = String::from("plan:");
                for entry in &plan.entries {
                    let mark = match entry.status {
                        logist_events::PlanStatus::Completed => "x",
                        logist_events::PlanStatus::InProgress => ">",
                        logist_events::PlanStatus::Pending => " ",
                    };
                    let _ = write!(text, "\n  [{mark}] {}", entry.content);
                }
                self.line(&text);
            }
            Event::Error(error) => {
                let kind = if error.fatal { "error" } else { "warning" };
                self.line(&format!("! agent {kind}: {}", error.message));
            }
            Event::TurnEnd(end) => {
                // A program that says its answer only at the end.
                if !self.printed_text
                    && let Some(text) = &end.result
                {
                    self.text(text);
                }
            }
            Event::Raw(raw) => match raw.reason {
                RawReason::Unparsed => self.write(&raw.data),
                RawReason::Unknown | RawReason::Malformed | RawReason::Oversized => {
                    self.hidden += 1;
                }
            },
            _ => {}
        }
    }

    fn message(&mut self, message: &Message) {
        if message.delta {
            if let Some(id) = &message.id {
                self.streamed.insert(id.clone());
            }
            self.text(&message.text);
        } else if message
            .id
            .as_ref()
            .is_none_or(|id| !self.streamed.contains(id))
        {
            self.text(&message.text);
            if !message.text.ends_with('\n') {
                self.write(b"\n");
            }
        }
    }

    fn text(&mut self, text: &str) {
        self.printed_text |= !text.trim().is_empty();
        self.write(text.as_bytes());
    }

    fn result(&mut self, result: &ToolResult) {
        let call = self.calls.remove(&result.id);
        self.order.retain(|id| id != &result.id);
        let what = call
            .as_ref()
            .map(describe)
            .unwrap_or_else(|| format!("tool {}", result.id));
        let status = match result.status {
            ToolStatus::Failed => match &result.error {
                Some(error) => format!("failed: {}", first_line(error)),
                None => "failed".to_owned(),
            },
            _ => "done".to_owned(),
        };
        let files = if result.files.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                result
                    .files
                    .iter()
                    .map(|file| {
                        let kind = format!("{:?}", file.kind).to_lowercase();
                        format!("{kind} {}", file.path)
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        self.line(&format!("● {what} → {status}{files}"));
    }

    /// Calls that never got a result.
    fn unanswered(&mut self) {
        for id in std::mem::take(&mut self.order) {
            if let Some(call) = self.calls.remove(&id) {
                self.line(&format!("● {} → no result", describe(&call)));
            }
        }
    }

    /// Prints a line of ours, on a line of its own.
    fn line(&mut self, text: &str) {
        if self.mid_line {
            self.write(b"\n");
        }
        self.write(format!("{text}\n").as_bytes());
    }

    fn write(&mut self, data: &[u8]) {
        if let Some(&last) = data.last() {
            self.mid_line = last != b'\n';
        }
        let mut out = io::stdout().lock();
        // A closed stdout only ends our printing, never the supervision.
        let _ = out.write_all(data).and_then(|()| out.flush());
    }
}

/// `Write /work/hello.txt`: the tool and its key argument.
fn describe(call: &ToolCall) -> String {
    match call.key_argument() {
        Some(argument) => format!("{} {}", call.name, first_line(argument)),
        None => call.name.clone(),
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > 120 {
        let cut: String = line.chars().take(117).collect();
        format!("{cut}...")
    } else {
        line.to_owned()
    }
}

/// Totals replace, per-turn reports add up.
fn add_usage(total: &mut Option<Usage>, usage: &Usage) {
    let Some(sum) = total.as_mut().filter(|_| !usage.cumulative) else {
        *total = Some(usage.clone());
        return;
    };
    let add = |a: &mut Option<u64>, b: Option<u64>| {
        if let Some(b) = b {
            *a = Some(a.unwrap_or(0) + b);
        }
    };
    add(&mut sum.input_tokens, usage.input_tokens);
    add(&mut sum.output_tokens, usage.output_tokens);
    add(&mut sum.cached_input_tokens, usage.cached_input_tokens);
    match (&mut sum.cost, &usage.cost) {
        (Some(sum), Some(cost)) if sum.currency == cost.currency => sum.amount += cost.amount,
        (sum @ None, Some(cost)) => *sum = Some(cost.clone()),
        _ => {}
    }
}

fn number(count: Option<u64>) -> String {
    count.map_or_else(|| "?".to_owned(), |count| count.to_string())
}

fn reason_name(reason: StopReason) -> String {
    serde_json::to_value(reason)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{reason:?}"))
}

/// Prints one JSON event line on stdout, with the time it is printed.
pub(crate) fn print_json(mut value: Value) {
    if let Value::Object(map) = &mut value {
        map.insert("time".to_owned(), Value::String(now()));
    }
    let mut stdout = io::stdout().lock();
    // A closed stdout only ends our printing, never the supervision.
    let _ = writeln!(stdout, "{value}").and_then(|()| stdout.flush());
}

/// The time now, RFC 3339 in UTC with milliseconds.
fn now() -> String {
    rfc3339(SystemTime::now())
}

fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        let check = |secs: u64, millis: u64, expected: &str| {
            let time = UNIX_EPOCH + Duration::from_millis(secs * 1000 + millis);
            assert_eq!(rfc3339(time), expected);
        };
        check(0, 0, "1970-01-01T00:00:00.000Z");
        check(951_782_400, 5, "2000-02-29T00:00:00.005Z");
        check(1_796_659_326, 471, "2026-12-07T16:02:06.471Z");
    }

    #[test]
    fn per_turn_usage_adds_up_and_totals_replace() {
        let turn = |input| Usage {
            input_tokens: Some(input),
            output_tokens: Some(1),
            ..Usage::default()
        };
        let mut total = None;
        add_usage(&mut total, &turn(10));
        add_usage(&mut total, &turn(5));
        assert_eq!(total.as_ref().unwrap().input_tokens, Some(15));
        let run = Usage {
            cumulative: true,
            ..turn(40)
        };
        add_usage(&mut total, &run);
        assert_eq!(total.unwrap().input_tokens, Some(40));
    }
}
