//! Every scenario of the real `logist-mock-agent`, run as a process.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, getpgid, getsid};

use logist_mock::{
    APPLIED, BINARY_OUTPUT, BINARY_SPLIT, CANCELLED, CRASH_LINE, Checksum, INTERACTIVE_PROMPT,
    STUBBORN_READY, USAGE, flood_checksum, parse_tree_pids,
};
use logist_testing::NoSurvivors;

use crate::{PROGRAM, Running, contains, run};

#[test]
fn success() {
    let done = run(&["--", "-add a --flag to `main`"]);
    assert!(done.status.success());
    insta::assert_snapshot!(done.render());
}

#[test]
fn default_scenario_is_success() {
    let plain = run(&["hello"]);
    let explicit = run(&["--scenario", "success", "hello"]);
    assert_eq!(plain.render(), explicit.render());
}

#[test]
fn api_error() {
    let done = run(&["--scenario", "api_error", "p"]);
    assert_eq!(done.status.code(), Some(1));
    insta::assert_snapshot!(done.render());
}

#[test]
fn context_full() {
    let done = run(&["--scenario", "context_full", "p"]);
    assert_eq!(done.status.code(), Some(1));
    insta::assert_snapshot!(done.render());
}

#[test]
fn auth_error() {
    let done = run(&["--scenario=auth_error", "p"]);
    assert_eq!(done.status.code(), Some(1));
    insta::assert_snapshot!(done.render());
}

#[test]
fn exit_codes() {
    for code in [0, 3, 255] {
        let done = run(&["--scenario", &format!("exit:{code}"), "p"]);
        assert_eq!(done.status.code(), Some(code));
        assert_eq!(done.stdout, format!("exiting with {code}\n").as_bytes());
        assert!(done.stderr.is_empty());
    }
}

#[test]
fn usage_errors_exit_2_with_a_clear_message() {
    let cases: &[&[&str]] = &[
        &[],
        &["--scenario", "hang"],
        &["--frobnicate", "p"],
        &["--scenario", "nope", "p"],
        &["--scenario", "exit:256", "p"],
        &["--bytes", "lots", "p"],
        &["one", "two"],
        &["p", "--delay-ms"],
    ];
    let mut firsts = Vec::new();
    for args in cases {
        let done = run(args);
        assert_eq!(done.status.code(), Some(2), "{args:?}");
        assert!(done.stdout.is_empty(), "{args:?}");
        let stderr = String::from_utf8(done.stderr).unwrap();
        let (first, rest) = stderr.split_once('\n').unwrap();
        assert_eq!(rest, format!("\n{USAGE}"), "{args:?}");
        firsts.push(format!("{args:?} => {first}"));
    }
    insta::assert_snapshot!(firsts.join("\n"));
}

#[test]
fn help_goes_to_stdout() {
    let done = run(&["--help"]);
    assert!(done.status.success());
    assert_eq!(done.stdout, USAGE.as_bytes());
    assert!(done.stderr.is_empty());
}

#[test]
fn hang_prints_progress_then_nothing_until_killed() {
    let guard = NoSurvivors::new();
    let mut running = Running::start(&guard, &["--scenario", "hang", "p"], false);
    running.wait_for_stdout(b"Planning changes...\n");
    std::thread::sleep(Duration::from_millis(100));
    assert!(running.is_running());
    let done = running.kill();
    assert_eq!(done.status.signal(), Some(9));
    insta::assert_snapshot!(done.render());
}

/// Answers the question and returns what the program did.
fn answer(scenario: &str, reply: Option<&[u8]>) -> crate::Finished {
    let guard = NoSurvivors::new();
    let mut running = Running::start(
        &guard,
        &["--scenario", scenario, "--delay-ms", "1", "p"],
        true,
    );
    running.wait_for_stdout(INTERACTIVE_PROMPT.as_bytes());
    // The question is asked once, with nothing after it yet.
    assert!(running.is_running());
    let mut stdin = running.stdin();
    if let Some(reply) = reply {
        stdin.write_all(reply).unwrap();
    }
    drop(stdin);
    running.finish()
}

#[test]
fn interactive_asks_in_one_write_and_obeys_the_answer() {
    for (reply, code, last) in [
        (Some(&b"y\n"[..]), 0, APPLIED),
        (Some(b"Y\n"), 0, APPLIED),
        (Some(b"yes\r\n"), 0, APPLIED),
        (Some(b"n\n"), 1, CANCELLED),
        (Some(b"yes please\n"), 1, CANCELLED),
        (Some(b""), 1, CANCELLED),
        (None, 1, CANCELLED),
    ] {
        let done = answer("interactive", reply);
        assert_eq!(done.status.code(), Some(code), "{reply:?}");
        let expected =
            format!("Reading prompt: p\nPlanning changes...\n{INTERACTIVE_PROMPT}{last}");
        assert_eq!(String::from_utf8(done.stdout).unwrap(), expected);
        // One write of the whole question: some read ends with all of it
        // (it may share the read with the line before).
        assert!(
            done.stdout_reads
                .iter()
                .any(|read| read.ends_with(INTERACTIVE_PROMPT.as_bytes())),
            "{:?}",
            done.stdout_reads
        );
    }
}

#[test]
fn interactive_with_stdin_from_dev_null_cancels() {
    let done = run(&["--scenario", "interactive", "p"]);
    assert_eq!(done.status.code(), Some(1));
    assert!(
        done.stdout
            .ends_with(format!("{INTERACTIVE_PROMPT}{CANCELLED}").as_bytes())
    );
}

#[test]
fn drip_writes_the_question_one_byte_at_a_time() {
    let guard = NoSurvivors::new();
    let mut running = Running::start(
        &guard,
        &["--scenario", "drip", "--delay-ms", "20", "p"],
        true,
    );
    running.wait_for_stdout(INTERACTIVE_PROMPT.as_bytes());
    running.stdin().write_all(b"y\n").unwrap();
    let done = running.finish();
    assert_eq!(done.status.code(), Some(0));
    assert!(
        done.stdout
            .ends_with(format!("{INTERACTIVE_PROMPT}{APPLIED}").as_bytes())
    );
    // Each byte is its own write 20 ms after the last, so a reader waiting
    // on the pipe sees many separate reads of it (a busy machine may merge
    // a few).
    let prompt_reads = done
        .stdout_reads
        .iter()
        .filter(|read| read.len() == 1 && INTERACTIVE_PROMPT.as_bytes().contains(&read[0]))
        .count();
    assert!(
        prompt_reads >= INTERACTIVE_PROMPT.len() / 3,
        "only {prompt_reads} one-byte reads: {:?}",
        done.stdout_reads
    );
}

#[test]
fn flood_default_is_one_mib_of_known_text_on_stdout() {
    let done = run(&["--scenario", "flood", "p"]);
    assert!(done.status.success());
    assert_eq!(done.stdout.len(), 1 << 20);
    assert!(done.stderr.is_empty());
    let mut checksum = Checksum::new();
    checksum.update(&done.stdout);
    assert_eq!(checksum.value(), flood_checksum(1 << 20));
}

#[test]
fn flood_to_both_streams_fills_both_pipes() {
    let done = run(&[
        "--scenario",
        "flood",
        "--bytes",
        "300K",
        "--stream",
        "both",
        "p",
    ]);
    assert!(done.status.success());
    for stream in [&done.stdout, &done.stderr] {
        assert_eq!(stream.len(), 300 * 1024);
        let mut checksum = Checksum::new();
        checksum.update(stream);
        assert_eq!(checksum.value(), flood_checksum(300 * 1024));
    }
    let stderr_only = run(&[
        "--scenario",
        "flood",
        "--bytes",
        "100",
        "--stream",
        "stderr",
        "p",
    ]);
    assert!(stderr_only.stdout.is_empty());
    assert_eq!(
        stderr_only.stderr,
        logist_mock::flood_bytes(100).collect::<Vec<_>>()
    );
}

#[test]
fn a_closed_stdout_ends_the_program_quietly_with_exit_1() {
    let guard = NoSurvivors::new();
    let mut command = guard.command(PROGRAM);
    command
        .args(["--scenario", "flood", "--bytes", "64M", "p"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = logist_testing::KillOnDrop::new(command.spawn().unwrap());
    drop(child.stdout.take());
    let status = child
        .wait_timeout(crate::DEADLINE)
        .unwrap()
        .expect("the program ends");
    assert_eq!(status.code(), Some(1));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(stderr, "", "no panic, no message");
}

#[test]
fn stubborn_ignores_term_int_and_hup_once_ready() {
    let guard = NoSurvivors::new();
    let mut running = Running::start(&guard, &["--scenario", "stubborn", "p"], false);
    running.wait_for_stdout(STUBBORN_READY.as_bytes());
    let pid = Pid::from_raw(running.pid() as i32);
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        kill(pid, signal).unwrap();
    }
    // Delivery is immediate; a process that did not ignore them would be
    // gone well within this.
    std::thread::sleep(Duration::from_millis(200));
    assert!(running.is_running(), "stubborn died of a polite signal");
    kill(pid, Signal::SIGKILL).unwrap();
    let done = running.finish();
    assert_eq!(done.status.signal(), Some(9));
    assert_eq!(done.stdout, STUBBORN_READY.as_bytes());
}

#[test]
fn tree_starts_two_grandchildren_one_in_its_own_session() {
    let guard = NoSurvivors::new();
    let mut running = Running::start(&guard, &["--scenario", "tree", "p"], false);
    running.wait_until_stdout("both marker lines", |out| {
        out.ends_with(b"\n") && parse_tree_pids(out).len() == 2
    });
    let pids = parse_tree_pids(running.stdout_so_far());
    let [child, session_child] = pids[..] else {
        panic!("expected two pids, got {pids:?}");
    };
    let parent = Pid::from_raw(running.pid() as i32);
    let child = Pid::from_raw(child as i32);
    let session_child = Pid::from_raw(session_child as i32);

    // Same process group as the tree for one, a session of its own for
    // the other (it leads it).
    assert_eq!(
        getpgid(Some(child)).unwrap(),
        getpgid(Some(parent)).unwrap()
    );
    assert_eq!(getsid(Some(session_child)).unwrap(), session_child);
    assert_ne!(
        getsid(Some(session_child)).unwrap(),
        getsid(Some(parent)).unwrap()
    );

    // All three carry the guard's tag; the grandchildren run `hang`.
    let survivors = guard.survivors();
    let found: Vec<i32> = survivors.iter().map(|s| s.pid as i32).collect();
    for pid in [parent, child, session_child] {
        assert!(
            found.contains(&pid.as_raw()),
            "{pid} not among {survivors:?}"
        );
    }
    for grandchild in survivors.iter().filter(|s| s.pid as i32 != parent.as_raw()) {
        assert!(
            grandchild.command.contains("--scenario hang"),
            "{grandchild}"
        );
    }

    let done = running.kill();
    let shown = String::from_utf8(done.stdout).unwrap();
    let redacted = regex::Regex::new(r"pid=\d+")
        .unwrap()
        .replace_all(&shown, "pid=[pid]");
    insta::assert_snapshot!(redacted);

    // The grandchildren outlive their parent: the guard kills them.
    let killed: Vec<i32> = guard
        .kill_survivors()
        .iter()
        .map(|s| s.pid as i32)
        .collect();
    assert_eq!(killed, sorted([child.as_raw(), session_child.as_raw()]));
    assert!(guard.survivors().is_empty());
}

fn sorted(mut pids: [i32; 2]) -> Vec<i32> {
    pids.sort_unstable();
    pids.to_vec()
}

#[test]
fn crash_dies_by_sigsegv_without_a_core_file() {
    let done = run(&["--scenario", "crash", "p"]);
    assert_eq!(done.status.signal(), Some(11));
    assert!(!done.status.core_dumped());
    assert_eq!(done.stdout, CRASH_LINE.as_bytes());
}

#[test]
fn binary_writes_exact_bytes_in_two_writes() {
    let done = run(&["--scenario", "binary", "--delay-ms", "100", "p"]);
    assert!(done.status.success());
    assert_eq!(done.stdout, BINARY_OUTPUT);
    // The pause splits `€`: a reader waiting on the pipe gets the first
    // write alone.
    assert!(
        done.stdout_reads
            .first()
            .is_some_and(|read| read.len() <= BINARY_SPLIT),
        "{:?}",
        done.stdout_reads
    );
}

#[test]
fn env_prints_the_environment_sorted_with_raw_bytes() {
    use std::os::unix::ffi::OsStrExt;
    let guard = NoSurvivors::new();
    let mut command = guard.command(PROGRAM);
    command
        .env_clear()
        .env("ZED", "last")
        .env("ALPHA", "a=b c")
        .env("RAW", std::ffi::OsStr::from_bytes(b"\xff\xfe"))
        .args(["--scenario", "env", "p"]);
    let done = Running::start_command(command, false).finish();
    assert!(done.status.success());
    // `env_clear` also removed the guard's tag: nothing else is present.
    let expected = b"ALPHA=a=b c\nRAW=\xff\xfe\nZED=last\n";
    assert_eq!(
        done.stdout,
        expected,
        "{:?}",
        String::from_utf8_lossy(&done.stdout)
    );
    assert!(contains(&done.stdout, b"\xff\xfe"));
}
