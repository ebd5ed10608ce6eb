//! What watching costs, on `HostRuntime`: how soon a prompt is reported
//! after it is written, and that a silent agent costs no CPU while the
//! driver waits. Figures are printed (run with `--nocapture`, in release
//! for the real numbers); the assertions are generous bounds, so that the
//! tests do not depend on the machine's speed or load.

use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use logist_mock::Scenario;
use logist_sentinel::{Event, OnPrompt, Outcome, Policy};
use logist_testing::{NoSurvivors, Stat, alone};

use crate::runs::{Record, ShellAgent, eventually, host, mock, start, tagged, until};

/// How many prompts the latency is measured over.
const PROMPTS: usize = 100;

#[test]
fn a_prompt_is_reported_right_after_it_is_written() {
    let guard = NoSurvivors::new();
    let runtime = host();
    // Prints the question (without a newline) each time it reads a line.
    let agent = ShellAgent::new("while read -r _; do printf 'Proceed? [y/N]: '; done");
    // A short settle window, so that a hundred prompts take seconds: the
    // figure is the window plus the sentinel's own reaction.
    let settle = Duration::from_millis(50);
    let policy = Policy::new().on_prompt(OnPrompt::Wait).settle(settle);
    let mut run = start(&runtime, Arc::new(agent), tagged(&guard, policy), "x");
    let id = run.id().unwrap().clone();
    let mut latencies = Vec::with_capacity(PROMPTS);
    for _ in 0..PROMPTS {
        // From before the line is written, so the figure includes the
        // shell's own reaction: an upper bound on the driver's.
        let asked = Instant::now();
        runtime.write_stdin(&id, b"\n").unwrap();
        until(&mut run, |event| {
            matches!(event, Event::WaitingForInput { .. })
        });
        latencies.push(asked.elapsed());
    }
    runtime.close_stdin(&id).unwrap();
    let rest = Record::of(run);
    assert!(rest.outcome.is_success(), "{}", rest.outcome);
    assert!(rest.prompts().is_empty());

    latencies.sort_unstable();
    let p50 = latencies[PROMPTS / 2];
    let p99 = latencies[PROMPTS * 99 / 100 - 1];
    let max = latencies[PROMPTS - 1];
    eprintln!(
        "prompt latency over {PROMPTS} prompts (settle window {settle:?}): \
         p50 {p50:?}, p99 {p99:?}, max {max:?}"
    );
    // Never before the window ends, and not long after.
    assert!(latencies[0] >= settle, "min {:?}", latencies[0]);
    assert!(p99 < settle + Duration::from_secs(1), "p99 {p99:?}");
}

#[test]
fn a_silent_agent_costs_no_cpu() {
    let name = "cost::a_silent_agent_costs_no_cpu";
    if !alone(name) {
        return;
    }
    let guard = NoSurvivors::new();
    let runtime = host();
    // An idle limit far away: the driver's read has a timeout, and must
    // still sleep through it rather than poll.
    let policy = Policy::new().idle_timeout(Duration::from_secs(60));
    let mut run = start(
        &runtime,
        Arc::new(mock(Scenario::Hang)),
        tagged(&guard, policy),
        "x",
    );
    let mut text = String::new();
    until(&mut run, |event| {
        if let Event::Output(chunk) = event {
            text.push_str(&String::from_utf8_lossy(&chunk.data));
        }
        text.contains("Planning changes...\n")
    });
    let cancel = run.cancel_handle();
    let (tid_sender, tid) = mpsc::channel();
    let driver = std::thread::spawn(move || {
        tid_sender.send(thread_id()).unwrap();
        Record::of(run)
    });
    let driver_tid = tid.recv().unwrap();
    let reactor_tid = thread_named("logist-host-rea").expect("the runtime's reactor thread");
    eventually("the driver blocks", || {
        thread_state(driver_tid) == Some('S')
    });

    let cpu = process_cpu();
    let switches = [driver_tid, reactor_tid].map(wakeups);
    let started = Instant::now();
    // The measurement window: long enough that a driver polling every few
    // milliseconds would wake dozens of times.
    std::thread::sleep(Duration::from_millis(300));
    let silent = started.elapsed();
    let cpu = process_cpu() - cpu;
    let woke = [driver_tid, reactor_tid].map(wakeups);
    let woke = [woke[0] - switches[0], woke[1] - switches[1]];

    assert!(cancel.cancel().unwrap());
    let record = driver.join().unwrap();
    assert!(
        matches!(record.outcome, Outcome::Cancelled { .. }),
        "{}",
        record.outcome
    );
    eprintln!(
        "over {silent:?} of silence: {cpu:?} of CPU for the whole test process; \
         the driver thread woke {} times, the reactor thread {} times",
        woke[0], woke[1]
    );
    // The clock ticks of /proc/self/stat are 10 ms: a thread that never
    // wakes costs 0 to 1 of them; one polling every few milliseconds costs
    // tens, and hundreds of wakeups.
    assert!(cpu <= Duration::from_millis(50), "{cpu:?}");
    assert!(woke[0] <= 3, "the driver thread woke {} times", woke[0]);
    assert!(woke[1] <= 3, "the reactor thread woke {} times", woke[1]);
}

/// The CPU time of this whole process so far.
fn process_cpu() -> Duration {
    Stat::of_self().cpu()
}

/// The calling thread's id, as in `/proc/self/task`.
fn thread_id() -> u32 {
    let link = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
    link.file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.parse().ok())
        .expect("a thread id")
}

/// The id of the thread of this process with that (truncated) name.
fn thread_named(name: &str) -> Option<u32> {
    std::fs::read_dir("/proc/self/task")
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|tid| {
            std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
                .is_ok_and(|comm| comm.trim_end() == name)
        })
}

/// The state letter of one of this process's threads (`S` sleeping).
fn thread_state(tid: u32) -> Option<char> {
    Some(Stat::of_thread(tid)?.state)
}

/// How many times one of this process's threads was switched out, by its
/// own choice (it blocked) or not.
fn wakeups(tid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status"))
        .expect("the thread's status");
    status
        .lines()
        .filter(|line| line.contains("ctxt_switches:"))
        .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}
