//! Chaos: an owner process starts durable runs and is SIGKILLed at a random
//! moment (maybe in the middle of a start); a fresh runtime adopts what is
//! there, and every run's output, exit status and teardown must be exact.
//!
//! Each cycle re-executes this test binary as the owner (the `owner` test
//! below does the owner's part when `LOGIST_CHAOS_OWNER` is set). Runs of
//! four kinds, in turn: chatty output with a known text, a prompt without
//! a newline answered through stdin, a tree that ignores SIGTERM, and a
//! `setsid env -i` escapee. `LOGIST_CHAOS_CYCLES` (default 4) and
//! `LOGIST_CHAOS_RUNS` (default 4) make it larger.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use logist_core::{
    CommandLine, Error, ExitStatus, ProcessId, ProcessState, Runtime, SpawnRequest, StdinMode,
};
use logist_runtime_host::HostRuntime;
use logist_testing::{KillOnDrop, LONG, NoSurvivors, eventually, pid_alive};

use crate::durable::monitored;

const OWNER_ENV: &str = "LOGIST_CHAOS_OWNER";
const WORK_ENV: &str = "LOGIST_CHAOS_WORK";
const RUNS_ENV: &str = "LOGIST_CHAOS_RUNS";
/// Set for an owner whose runs are attached rather than durable.
const ATTACHED_ENV: &str = "LOGIST_CHAOS_ATTACHED";
/// Set for an owner with a default runtime (the keeper, no state directory).
const DEFAULT_ENV: &str = "LOGIST_CHAOS_DEFAULT";
const CHATTY_LINES: usize = 500;

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// The script of run `index`; its first word names its kind.
fn script(index: usize, work: &Path) -> String {
    let work = work.display();
    match index % 4 {
        0 => format!(
            ": kind=chatty; i=0; while [ $i -lt {CHATTY_LINES} ]; do echo \"line $i of run {index}\"; i=$((i+1)); done; exit 3"
        ),
        1 => ": kind=prompt; printf 'Continue? [y/N] '; read a; echo \"answer=$a\"; exit 4"
            .to_owned(),
        2 => format!(
            ": kind=stubborn; trap '' TERM; echo $$ > {work}/main-{index}.pid; echo started; sleep 300"
        ),
        _ => format!(
            ": kind=escapee; setsid env -i sh -c 'trap \"\" TERM; echo $$ > {work}/escapee-{index}.pid; exec sleep 300' & echo forked; sleep 300"
        ),
    }
}

fn chatty_text(index: usize) -> String {
    (0..CHATTY_LINES)
        .map(|i| format!("line {i} of run {index}\n"))
        .collect()
}

/// The owner's part, in the re-executed test binary: start the runs,
/// report each id on stdout, then wait to be killed.
#[test]
fn owner() {
    let Some(state) = std::env::var_os(OWNER_ENV) else {
        return;
    };
    let work = PathBuf::from(std::env::var_os(WORK_ENV).expect("the work directory"));
    let runs = env_count(RUNS_ENV, 4);
    let rt = if std::env::var_os(DEFAULT_ENV).is_some() {
        HostRuntime::new().unwrap()
    } else {
        monitored(Path::new(&state)).build().unwrap()
    };
    for index in 0..runs {
        let request =
            SpawnRequest::new(CommandLine::new(["sh", "-c", &script(index, &work)]).unwrap())
                .cwd(&work)
                .stdin(StdinMode::Piped)
                .grace(Duration::from_millis(200))
                .durable(std::env::var_os(ATTACHED_ENV).is_none());
        let id = rt.spawn(&request).unwrap();
        // On a line of its own: the harness's own "test … " has no newline.
        println!("\nchaos-run {id}");
    }
    loop {
        std::thread::park();
    }
}

/// A small xorshift generator: the moments need not be unpredictable,
/// only varied (the seed is printed, so a failure can be replayed).
struct Moments(u64);

impl Moments {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[test]
fn sigkilled_owners_leave_runs_that_are_adopted_exactly() {
    if std::env::var_os(OWNER_ENV).is_some() {
        return;
    }
    let cycles = env_count("LOGIST_CHAOS_CYCLES", 4);
    let runs = env_count(RUNS_ENV, 4);
    let seed = std::env::var("LOGIST_CHAOS_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("chaos: {cycles} cycles of {runs} runs, LOGIST_CHAOS_SEED={seed}");
    let mut moments = Moments(seed);
    let monitor = logist_testing::monitor_program().expect("the monitor program");
    for cycle in 0..cycles {
        let kill_after = moments.below(runs as u64 + 1);
        let delay = Duration::from_micros(moments.below(3000));
        one_cycle(cycle, runs, &monitor, kill_after as usize, delay);
    }
}

fn one_cycle(cycle: usize, runs: usize, monitor: &Path, kill_after: usize, delay: Duration) {
    let guard = NoSurvivors::new();
    let temp = tempfile::Builder::new()
        .prefix("logist-chaos-")
        .tempdir()
        .unwrap();
    let (state, work) = (temp.path().join("state"), temp.path().join("work"));
    fs::create_dir(&work).unwrap();

    let mut command = guard.command(std::env::current_exe().unwrap());
    command
        .args([
            "chaos::owner",
            "--exact",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(OWNER_ENV, &state)
        .env(WORK_ENV, &work)
        .env(RUNS_ENV, runs.to_string())
        .env("LOGIST_MONITOR", monitor)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut owner = KillOnDrop::new(command.spawn().expect("run the owner"));
    let mut lines = BufReader::new(owner.stdout.take().unwrap()).lines();
    let mut reported = Vec::new();
    while reported.len() < kill_after {
        let line = lines.next().expect("the owner reports").unwrap();
        if let Some(id) = line.strip_prefix("chaos-run ") {
            reported.push(ProcessId::new(id));
        }
    }
    std::thread::sleep(delay);
    owner.kill().unwrap();
    owner.wait().unwrap();
    drop(lines);

    let rt = monitored(&state).adopt(true).build().unwrap();
    let adopted = rt.list(&Default::default()).unwrap();
    let context = format!("cycle {cycle}, killed after {kill_after} runs + {delay:?}");
    for id in &reported {
        assert!(
            adopted.iter().any(|info| &info.id == id),
            "{context}: reported run {id} adopted"
        );
    }
    assert!(adopted.len() <= runs, "{context}: {adopted:?}");
    for info in &adopted {
        check_run(&rt, info, &context);
    }
    assert!(rt.list(&Default::default()).unwrap().is_empty());
    drop(rt);
}

fn check_run(rt: &dyn Runtime, info: &logist_core::ProcessInfo, context: &str) {
    let id = &info.id;
    let script = info.command.argv()[2].clone();
    let context = format!("{context}, run {id} ({})", &script[..script.len().min(20)]);
    if info.state == ProcessState::Lost {
        // The owner died between writing the run's spec and starting its
        // monitor: nothing ran, nothing is invented.
        assert!(
            matches!(rt.wait(id, Some(LONG)), Err(Error::Lost { .. })),
            "{context}"
        );
        rt.remove(id).unwrap();
        return;
    }
    let (status, text) = if script.starts_with(": kind=chatty") {
        (ExitStatus::Code(3), chatty_text(chatty_index(&script)))
    } else if script.starts_with(": kind=prompt") {
        read_until(rt, id, "Continue? [y/N] ", &context);
        rt.write_stdin(id, b"y\n").unwrap();
        (ExitStatus::Code(4), "Continue? [y/N] answer=y\n".to_owned())
    } else if script.starts_with(": kind=stubborn") {
        read_until(rt, id, "started\n", &context);
        assert!(rt.terminate(id, false).unwrap(), "{context}");
        (ExitStatus::Signal(libc::SIGKILL), "started\n".to_owned())
    } else {
        read_until(rt, id, "forked\n", &context);
        let path = script
            .split("echo $$ > ")
            .nth(1)
            .and_then(|rest| rest.split(';').next())
            .map(PathBuf::from)
            .expect("the escapee's pid file");
        eventually("the escapee wrote its pid", || {
            fs::read_to_string(&path).is_ok_and(|t| t.ends_with('\n'))
        });
        let escapee = Some(
            fs::read_to_string(&path)
                .unwrap()
                .trim()
                .parse::<u32>()
                .unwrap(),
        );
        assert!(rt.terminate(id, false).unwrap(), "{context}");
        if let Some(pid) = escapee {
            assert!(!pid_alive(pid), "{context}: the escapee {pid} is stopped");
        }
        (ExitStatus::Signal(libc::SIGTERM), "forked\n".to_owned())
    };
    let done = rt.wait(id, Some(LONG)).unwrap();
    assert_eq!(done.status, status, "{context}");
    let all = read_all(rt, id);
    assert_eq!(all.len(), text.len(), "{context}: byte count");
    assert_eq!(
        checksum(all.as_bytes()),
        checksum(text.as_bytes()),
        "{context}"
    );
    assert_eq!(all, text, "{context}");
    rt.remove(id).unwrap();
}

fn chatty_index(script: &str) -> usize {
    let rest = script
        .split("of run ")
        .nth(1)
        .expect("the chatty run's index");
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().expect("the chatty run's index")
}

/// FNV-1a, enough to name a difference.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn read_until(rt: &dyn Runtime, id: &ProcessId, wanted: &str, context: &str) {
    let deadline = Instant::now() + LONG;
    let (mut text, mut next) = (Vec::new(), 0);
    while !String::from_utf8_lossy(&text).contains(wanted) {
        assert!(
            Instant::now() < deadline,
            "{context}: waiting for {wanted:?} in {:?}",
            String::from_utf8_lossy(&text)
        );
        let read = rt
            .read_output(id, next, Some(Duration::from_millis(200)))
            .unwrap();
        for chunk in &read.chunks {
            text.extend_from_slice(&chunk.data);
        }
        next = read.next;
        assert!(!read.finished, "{context}: ended before {wanted:?}");
    }
}

/// Every byte of the run's output from offset 0.
fn read_all(rt: &dyn Runtime, id: &ProcessId) -> String {
    let mut bytes = Vec::new();
    let mut next = 0;
    loop {
        let read = rt.read_output(id, next, Some(LONG)).unwrap();
        assert_eq!(read.missed, 0);
        for chunk in &read.chunks {
            bytes.extend_from_slice(&chunk.data);
        }
        next = read.next;
        if read.finished {
            return String::from_utf8(bytes).unwrap();
        }
    }
}

/// Starts an owner of four attached runs (through monitors in a fresh
/// state directory, or with `default` through a default runtime's
/// keeper), SIGKILLs it once the stubborn run and the `setsid env -i`
/// escapee are up, and checks that their trees are gone within five
/// seconds. Returns the temporary directory and the state directory in
/// it; `None` in the re-executed owner, where the test has nothing to do.
fn sigkill_an_owner_of_attached_runs(default: bool) -> Option<(tempfile::TempDir, PathBuf)> {
    if std::env::var_os(OWNER_ENV).is_some() {
        return None;
    }
    let temp = tempfile::Builder::new()
        .prefix("logist-chaos-")
        .tempdir()
        .unwrap();
    let (state, work) = (temp.path().join("state"), temp.path().join("work"));
    fs::create_dir(&work).unwrap();
    let guard = NoSurvivors::new();
    let monitor = logist_testing::monitor_program().expect("the monitor program");
    let mut command = guard.command(std::env::current_exe().unwrap());
    command
        .args([
            "chaos::owner",
            "--exact",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(OWNER_ENV, &state)
        .env(WORK_ENV, &work)
        .env(RUNS_ENV, "4")
        .env(ATTACHED_ENV, "1")
        .env("LOGIST_MONITOR", monitor)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if default {
        command.env(DEFAULT_ENV, "1");
    }
    let mut owner = KillOnDrop::new(command.spawn().expect("run the owner"));
    let pid = |name: &str| {
        let path = work.join(name);
        eventually(&format!("{name} written"), || {
            fs::read_to_string(&path).is_ok_and(|t| t.ends_with('\n'))
        });
        fs::read_to_string(&path)
            .unwrap()
            .trim()
            .parse::<u32>()
            .unwrap()
    };
    let (stubborn, escapee) = (pid("main-2.pid"), pid("escapee-3.pid"));
    assert!(pid_alive(stubborn) && pid_alive(escapee));
    owner.kill().unwrap();
    owner.wait().unwrap();
    let killed = Instant::now();
    logist_testing::eventually_within(
        Duration::from_secs(5),
        "the attached trees are gone",
        || !pid_alive(stubborn) && !pid_alive(escapee) && guard.survivors().is_empty(),
    );
    eprintln!(
        "attached trees gone {:?} after the owner's SIGKILL",
        killed.elapsed()
    );
    Some((temp, state))
}

/// The same for a default runtime: its keeper takes the trees.
#[test]
fn a_sigkilled_owner_takes_a_default_runtimes_runs_with_it() {
    sigkill_an_owner_of_attached_runs(true);
}

/// An owner SIGKILLed with attached runs takes them with it, whole trees
/// (escapees with a cleared environment included), at once; the records
/// left behind say how they ended.
#[test]
fn a_sigkilled_owner_takes_its_attached_runs_with_it() {
    let Some((_temp, state)) = sigkill_an_owner_of_attached_runs(false) else {
        return;
    };

    // A crashed owner leaves the records: the next one reads how they ended.
    let rt = monitored(&state).adopt(true).build().unwrap();
    let infos = rt.list(&Default::default()).unwrap();
    assert_eq!(infos.len(), 4, "{infos:?}");
    for info in &infos {
        let script = &info.command.argv()[2];
        let done = rt.wait(&info.id, Some(LONG)).unwrap();
        if script.starts_with(": kind=chatty") {
            assert_eq!(done.status, ExitStatus::Code(3));
        } else {
            assert_eq!(done.status, ExitStatus::Signal(libc::SIGKILL), "{script}");
        }
        rt.remove(&info.id).unwrap();
    }
}
