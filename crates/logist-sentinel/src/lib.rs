//! Watches one running coding agent: its output as it arrives, when it
//! waits for input, when it goes silent, when it exits, and how the run
//! ended.
//!
//! The crate has two layers:
//!
//! - [`Observer`], the sans-IO core: a pure state machine fed output chunks,
//!   the passage of time (as [`Instant`](std::time::Instant)s the caller
//!   reads) and the exit status, which answers with [`Event`]s and the
//!   [`Action`]s the driver must take. All the logic lives here.
//! - [`Sentinel`] and [`Run`], the driver, configured with [`RunOptions`]:
//!   spawns the agent through a
//!   [`Runtime`](logist_core::Runtime), blocks on
//!   [`read_output`](logist_core::Runtime::read_output) with a timeout taken
//!   from the observer's next deadline, feeds the observer and performs its
//!   actions. Events come out of [`Run`] as an iterator, or go to a callback
//!   with [`Sentinel::run`]; a [`CancelHandle`] stops the run from another
//!   thread.
//!
//! # What is matched
//!
//! Stop sequences ([`Agent::stop_sequences`](logist_core::Agent::stop_sequences))
//! and failure patterns ([`Agent::failure_patterns`](logist_core::Agent::failure_patterns))
//! are searched in the live output of each stream separately (stdout and
//! stderr; on a pseudo-terminal everything is stdout), after scrubbing:
//!
//! - **Escape sequences are removed**: CSI (`ESC [` … final byte, colours,
//!   cursor moves, erasing), OSC strings (`ESC ]` … BEL or `ESC \`: titles,
//!   hyperlinks), DCS, SOS, PM and APC strings, and short `ESC` sequences,
//!   also when split across chunks. An unterminated string is abandoned
//!   after 4096 bytes, so a stray `ESC ]` cannot hide the rest of the output.
//! - **Line endings**: `\r\n` is a line feed. A `\r` not followed by `\n`
//!   returns to the start of the line, and so does a CSI sequence that moves
//!   the cursor to another line or to column 1 (`A B E F G H d f`): what
//!   follows is a *redraw*, and no match spans a redraw. (Agents on a
//!   pseudo-terminal redraw their prompts this way.) Other control
//!   characters (BEL, backspace, NUL, DEL) are dropped; tab is text.
//! - **Literals** may span lines (write `\n` for a line end) and are found
//!   wherever they are split between chunks, even one byte at a time. A
//!   literal holding a `\r` not part of `\r\n`, an escape or another control
//!   character can never match and is refused.
//! - **Regular expressions** (the [`regex`](https://docs.rs/regex) syntax)
//!   see one line at a time, at most [`REGEX_WINDOW`] bytes of it: a longer
//!   line is cut every [`REGEX_WINDOW`] bytes as if the terminal wrapped it,
//!   and a match never crosses a cut. `^` matches at the start of the line
//!   (or cut), `$` at its end: at a line feed, a redraw, a cut or the end of
//!   the output — not at the end of the output *so far*, since more may
//!   follow. A prompt is usually the last thing printed, without a line
//!   feed, so **do not end a stop sequence with `$` or `\b`**: it would only
//!   be decided by the next byte. A regular expression that matches the
//!   empty text, matches nothing, or needs more than [`REGEX_WINDOW`] bytes
//!   is refused.
//! - **Which match is reported.** In each list, the match that *ends*
//!   first is found from the chunk that completes it (and reported at
//!   once without a settle window, see below); at equal ends, the one listed first; one whose end
//!   depends on what follows (`$`, `\b`) is decided when the next byte
//!   arrives and ranks after those ending at the same place. The search then
//!   goes on after the end of that match: matches of one list never overlap,
//!   so one prompt listed as a literal and as a regex is reported once.
//!   Matches do not depend on how the output was chunked.
//! - **Redrawn prompts are one prompt.** A stop sequence found again after
//!   a redraw, at the end of the same text on its line (the same pattern,
//!   ending at the same column, everything before it on the line drawn
//!   the same), with no line feed and no lost output in between, is the
//!   prompt still on screen: it is not reported (nor answered) again, and
//!   under [`OnPrompt::Wait`] the agent still counts as waiting. Anything
//!   else drawn over that part of the line, or a line feed (the echo of an
//!   answer on a terminal), makes the next match a new prompt. A prompt
//!   redrawn as part of a multi-line frame (lines separated by line feeds)
//!   is not recognised as the same one; [`Policy::max_answers`] bounds the
//!   answers then.
//! - **Cost.** Every clean byte is looked at a bounded number of times:
//!   literals go through one Aho-Corasick automaton, which re-reads only the
//!   last `longest literal − 1` bytes of a chunk; regular expressions run as
//!   one multi-pattern search over the current line (at most
//!   [`REGEX_WINDOW`] bytes) per chunk, and are located exactly only when
//!   that search says something matches. Old output is never re-scanned and
//!   memory stays bounded.
//!
//! # Settling: is the program really waiting?
//!
//! A stop sequence in the output does not prove the program waits: Aider
//! with its standard input at its end prints `Add .aider* to .gitignore
//! (recommended)? (Y)es/(N)o [Yes]:`, answers itself at once and goes on.
//! With a settle window ([`Policy::settle`], [`DEFAULT_SETTLE`] = 500 ms by
//! default; zero reports at once, from the stream alone) a stop sequence
//! found in the stream is only a candidate, and the idle timer waits for
//! its verdict:
//!
//! - **On pipes** a prompt is the last line a program prints before it
//!   reads. The program went on, and the candidate is dropped, once both
//!   visible text (not escape sequences, not white space) and a line feed
//!   have followed the match: Aider's `[Yes]: Added .aider* to
//!   .gitignore⏎`. Text on the prompt's own line alone is taken for the
//!   rest of the question (`Proceed? [y/N]: ` matched by `[y/N]`, however
//!   its writes were cut). The candidate is reported when the window has
//!   passed since the last output that drew it; one still pending when the
//!   output ends is dropped. A question followed by a line feed and more
//!   text (a two-line question ending in `> `) therefore counts only if a
//!   stop sequence matches its last line.
//! - **On a pseudo-terminal** ([`RunOptions::terminal`], or
//!   [`Observer::terminal`]) standard output is also drawn on a terminal
//!   screen (the `vt100` crate). Once the program has been quiet for the
//!   window after drawing (or, if it keeps drawing, four windows after a
//!   candidate was found), the screen's text is searched for the stop
//!   sequences, rows as a person reads them (a row the terminal wrapped
//!   goes on into the next; a row ends at its last character or at the
//!   cursor). The lowest match on the screen is the prompt, whatever escape
//!   sequences drew it; a dialog erased before the program went quiet is
//!   not. A prompt found on the screen with no candidate in the stream
//!   (words placed by cursor moves) is reported with `start` and `end` at
//!   the end of the output read so far. Found again at the next quiet
//!   moment on the same row with the same text before it, and not drawn
//!   anew in the stream, it is the prompt still shown: not reported again
//!   (under [`OnPrompt::Wait`] the agent still counts as waiting).
//!
//! A silent agent still costs nothing: the window is one more deadline,
//! set only after output, and the screen is searched once per quiet moment,
//! not per chunk. Whether the process is blocked reading its input (Linux's
//! `/proc/PID/wchan`) is not consulted: runtimes own the processes and the
//! [`Runtime`](logist_core::Runtime) trait does not say it.
//!
//! Offsets in [`Match`] are positions in the runtime's combined output (as
//! in [`OutputChunk::offset`](logist_core::OutputChunk::offset)): `start` is
//! the first matched byte, `end` is just after the byte that completed the
//! match.
//!
//! # Policies and outcomes
//!
//! A [`Policy`] sets an overall timeout, an idle timeout (no output at all
//! for that long: escape sequences count as output) and what to do on a
//! prompt ([`OnPrompt`]):
//!
//! - [`OnPrompt::Fail`] (the default): terminate the agent's process tree;
//!   the outcome is [`Outcome::WaitingForInput`].
//! - [`OnPrompt::Wait`]: report [`Event::WaitingForInput`] and keep
//!   watching; someone else answers through the runtime (standard input is
//!   piped for this policy). The idle timer is suspended from the prompt
//!   until the agent prints visible text again (waiting for a person is not
//!   hanging); the overall timeout still runs.
//! - [`OnPrompt::Answer`]: write the text to the agent's standard input
//!   (piped for this policy), report [`Event::Answered`], restart the idle
//!   timer and keep watching; after [`Policy::max_answers`] answers the next
//!   prompt is handled as `Fail`. Prompts found before the answer is
//!   written (in the same read: one dialog matching several stop
//!   sequences) are reported, and get that one answer.
//!
//! The first failure pattern found gives the [`FailureCause`](logist_core::FailureCause)
//! of a failed run. When the agent exits with 0, its
//! [`verdict`](logist_core::Agent::verdict) on the last
//! [`VERDICT_TAIL_LINES`] lines of stdout is asked for, and a
//! [`Verdict::Failed`](logist_core::Verdict::Failed) turns the run into a
//! failure. The final [`Outcome`] is one of: completed (with exit status,
//! cause and verdict), waiting for input, hung, timed out, cancelled, failed
//! to start, or the runtime failed.
//!
//! Nothing of the agent outlives its run: every stop goes through
//! [`Runtime::terminate`](logist_core::Runtime::terminate) (the whole
//! tree), and when the agent exits by itself but processes it started keep
//! its output open, the driver stops them too once the runtime's leak
//! window has passed ([`Event::OutputLeaked`]).
//!
//! # Example: the observer alone
//!
//! ```
//! use std::time::{Duration, Instant};
//! use logist_core::{ExitStatus, OutputChunk, ProcessId, StopSequence, Stream};
//! use logist_sentinel::{Action, DEFAULT_SETTLE, Event, Observer, OnPrompt, Outcome, Policy};
//!
//! let stops = [StopSequence::regex(r"\[[yY]/[nN]\]")];
//! let policy = Policy::new().on_prompt(OnPrompt::Answer("y\n".into()));
//! let mut observer = Observer::new(&stops, &[], policy)?;
//! let t0 = Instant::now();
//! observer.spawned(ProcessId::new("p-1"), t0);
//! observer.output(
//!     &OutputChunk { stream: Stream::Stdout, offset: 0, data: b"Apply patch? [Y/n] ".to_vec() },
//!     t0,
//! );
//! // A prompt counts once the program stayed at it for the settle window.
//! assert_eq!(observer.poll_action(), None);
//! let settled = t0 + DEFAULT_SETTLE;
//! observer.tick(settled);
//! assert_eq!(observer.poll_action(), Some(Action::Write(b"y\n".to_vec())));
//! observer.written(settled);
//! observer.exited(ExitStatus::Code(0), t0 + Duration::from_secs(1));
//! assert_eq!(observer.poll_action(), Some(Action::FetchVerdict { lines: 20 }));
//! observer.verdict(None);
//! assert!(observer.outcome().is_some_and(Outcome::is_success));
//! let answered = std::iter::from_fn(|| observer.poll_event())
//!     .filter(|event| matches!(event, Event::Answered { .. }))
//!     .count();
//! assert_eq!(answered, 1);
//! # Ok::<(), logist_sentinel::PatternError>(())
//! ```

mod ansi;
mod driver;
mod error;
mod matcher;
mod observer;
mod screen;

pub use driver::{CancelHandle, Launch, Run, RunOptions, Sentinel};
pub use error::{PatternError, PatternList};
pub use matcher::{Match, REGEX_WINDOW};
pub use observer::{
    Action, DEFAULT_SETTLE, Event, Observer, OnPrompt, Outcome, Policy, VERDICT_TAIL_LINES,
};

/// The README's example, compiled as a doc test so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
