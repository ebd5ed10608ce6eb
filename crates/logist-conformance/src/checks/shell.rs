//! Checks written as POSIX shell scripts, for byte-exact control over
//! what a process writes and when.

use std::time::{Duration, Instant};

use logist_core::{Error, ExitStatus, SpawnRequest, StdinMode, Stream};

use crate::Fixture;
use crate::harness::{Harness, LONG, spawn_blocked};

/// Death by a signal is told apart from an exit code.
pub fn death_by_signal_is_reported(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    for signal in [9, 15, 11] {
        let id = h.spawn_sh(&format!("kill -{signal} $$"));
        assert_eq!(h.wait(&id).status, ExitStatus::Signal(signal));
    }
}

/// A question printed without a newline is readable while the process
/// waits for the answer.
pub fn prompt_without_newline_is_visible_at_once(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let request = SpawnRequest::new(
        h.sh("printf 'Confirm changes? [y/N]: '; read answer; echo \"got $answer\""),
    )
    .stdin(StdinMode::Piped);
    let id = h.spawn(&request);
    let seen = h.read_until(&id, |out| out.ends_with(b"[y/N]: "));
    assert_eq!(seen, b"Confirm changes? [y/N]: ");
    assert!(
        h.rt().is_alive(&id).unwrap(),
        "still waiting for the answer"
    );
    assert!(
        h.rt()
            .get_logs(&id, None)
            .unwrap()
            .text()
            .ends_with("[y/N]: ")
    );
    h.rt().write_stdin(&id, b"y\n").unwrap();
    let done = h.wait(&id);
    assert!(done.status.success());
    assert_eq!(done.logs.text(), "Confirm changes? [y/N]: got y\n");
}

/// A sequence written in pieces, with pauses, arrives complete and in
/// order, and chunk offsets are contiguous.
pub fn sequence_split_across_writes_arrives_whole(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let id = h.spawn_sh("printf 'Con'; sleep 0.05; printf 'firm? [y'; sleep 0.05; printf '/N]: '");
    let mut next = 0;
    let mut data = Vec::new();
    let mut reads = 0;
    loop {
        let read = h.rt().read_output(&id, next, Some(LONG)).unwrap();
        for chunk in &read.chunks {
            assert_eq!(chunk.offset, data.len() as u64, "chunks are contiguous");
            data.extend_from_slice(&chunk.data);
        }
        reads += usize::from(!read.chunks.is_empty());
        next = read.next;
        if read.finished {
            break;
        }
    }
    assert_eq!(data, b"Confirm? [y/N]: ");
    assert!(
        reads >= 2,
        "the pieces arrived in {reads} read(s); expected them apart"
    );
    assert!(h.wait(&id).status.success());
}

/// Bytes that are not UTF-8, NUL bytes, and a character split across two
/// writes come back exactly as written.
pub fn non_utf8_bytes_are_kept(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let id = h.spawn_sh(r"printf 'a\377\376\000b\342\202'; sleep 0.05; printf '\254\n'");
    let done = h.wait(&id);
    let expected = b"a\xff\xfe\x00b\xe2\x82\xac\n";
    assert_eq!(done.logs.bytes(), expected);
    assert_eq!(
        h.rt()
            .get_stream_logs(&id, Stream::Stdout, None)
            .unwrap()
            .bytes(),
        expected
    );
    assert_eq!(h.rt().get_logs(&id, Some(1)).unwrap().bytes(), expected);
}

/// A child that fills stdout and stderr at the same time is drained on both
/// (no deadlock when one pipe is full while the other is read).
pub fn stdout_and_stderr_full_at_once_do_not_deadlock(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let id =
        h.spawn_sh("head -c 2000000 /dev/zero >&2 & head -c 2000000 /dev/zero; wait; echo done");
    let done = h.wait(&id);
    assert!(done.status.success());
    let stdout = h.rt().get_stream_logs(&id, Stream::Stdout, None).unwrap();
    let stderr = h.rt().get_stream_logs(&id, Stream::Stderr, None).unwrap();
    // On stdout, not in the combined log: the last stderr bytes may still
    // be in transit (in their pipe, or in a container engine's copier)
    // when `done` is written, so which comes last there is not defined.
    assert!(stdout.bytes().ends_with(b"done\n"));
    assert_eq!(stdout.len() as u64 + stdout.dropped(), 2_000_005);
    assert_eq!(stderr.len() as u64 + stderr.dropped(), 2_000_000);
}

/// Each stream is available alone, and the combined log keeps arrival order.
pub fn streams_are_kept_apart_and_interleaved(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    // Pauses between streams: two pipes written microseconds apart may be
    // read in either order, and the combined log is in order of arrival.
    let id = h.spawn_sh("echo out1; sleep 0.1; echo err1 >&2; sleep 0.1; echo out2");
    let done = h.wait(&id);
    assert_eq!(done.logs.text(), "out1\nerr1\nout2\n");
    assert_eq!(
        h.rt()
            .get_stream_logs(&id, Stream::Stdout, None)
            .unwrap()
            .text(),
        "out1\nout2\n"
    );
    assert_eq!(
        h.rt()
            .get_stream_logs(&id, Stream::Stderr, None)
            .unwrap()
            .text(),
        "err1\n"
    );
    let read = h.rt().read_output(&id, 0, Some(LONG)).unwrap();
    let streams: Vec<Stream> = read.chunks.iter().map(|chunk| chunk.stream).collect();
    assert_eq!(streams, [Stream::Stdout, Stream::Stderr, Stream::Stdout]);
}

/// `tail = n` returns the last n lines; a final line without a newline
/// counts as a line.
pub fn tail_returns_last_lines(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    // Pauses between streams: two pipes written microseconds apart may be
    // read in either order, and the combined log is in order of arrival.
    let id = h.spawn_sh(
        "printf 'one\\ntwo\\nthree\\n'; sleep 0.1; printf 'err\\n' >&2; sleep 0.1; printf 'four'",
    );
    h.wait(&id);
    let tail = |n| h.rt().get_logs(&id, Some(n)).unwrap().text().into_owned();
    assert_eq!(tail(0), "");
    assert_eq!(tail(1), "four");
    assert_eq!(tail(2), "err\nfour");
    assert_eq!(tail(100), "one\ntwo\nthree\nerr\nfour");
    let stdout_tail = h
        .rt()
        .get_stream_logs(&id, Stream::Stdout, Some(2))
        .unwrap();
    assert_eq!(stdout_tail.text(), "three\nfour");
}

/// Reads resume from any position, block until output arrives, time out
/// without error, and report the end.
pub fn incremental_reads_resume_block_and_finish(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let request =
        SpawnRequest::new(h.sh("echo first; read line; echo \"$line\"")).stdin(StdinMode::Piped);
    let id = h.spawn(&request);
    let first = h.read_until(&id, |out| out == b"first\n");
    assert_eq!(first, b"first\n");

    // Nothing new: a short timeout returns empty, not finished, no error.
    let started = Instant::now();
    let idle = h
        .rt()
        .read_output(&id, 6, Some(Duration::from_millis(100)))
        .unwrap();
    assert!(idle.chunks.is_empty() && !idle.finished);
    assert_eq!(idle.next, 6);
    assert!(
        started.elapsed() >= Duration::from_millis(90),
        "the read blocked until its timeout"
    );
    let poll = h.rt().read_output(&id, 6, Some(Duration::ZERO)).unwrap();
    assert!(poll.chunks.is_empty() && !poll.finished);

    // A blocked read wakes when output arrives.
    std::thread::scope(|scope| {
        let reader = spawn_blocked(scope, || h.rt().read_output(&id, 6, Some(LONG)).unwrap());
        assert!(
            !reader.is_finished(),
            "the read blocks while nothing is new"
        );
        h.rt().write_stdin(&id, b"second\n").unwrap();
        let read = reader.join().unwrap();
        assert!(!read.chunks.is_empty(), "the woken read returns the output");
        assert_eq!(read.chunks[0].offset, 6);
        let data: Vec<u8> = read.chunks.iter().flat_map(|c| c.data.clone()).collect();
        assert!(b"second\n".starts_with(&data), "{data:?}");
    });
    h.wait(&id);

    // Positions are stable after exit; reading at the end says finished.
    let from_three = h.rt().read_output(&id, 3, Some(LONG)).unwrap();
    let bytes: Vec<u8> = from_three
        .chunks
        .iter()
        .flat_map(|c| c.data.clone())
        .collect();
    assert_eq!(bytes, b"st\nsecond\n");
    assert_eq!(from_three.next, 13);
    assert!(from_three.finished);
    let at_end = h.rt().read_output(&id, 13, None).unwrap();
    assert!(at_end.chunks.is_empty() && at_end.finished && at_end.missed == 0);
}

/// Without a writable stdin, a program reading it sees end-of-file at once
/// instead of waiting for input that never comes.
pub fn stdin_is_null_by_default(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let id = h.spawn_sh("cat; read x || echo eof");
    let done = h.wait(&id);
    assert_eq!(done.logs.text(), "eof\n");
    match h.rt().write_stdin(&id, b"late") {
        Err(Error::StdinClosed { .. }) => {}
        other => panic!("write to a process without stdin: {other:?}"),
    }
}

/// A writable stdin takes bytes and end-of-file; after close, writes fail
/// with `StdinClosed`; closing twice is fine.
pub fn stdin_can_be_written_and_closed(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let id = h.spawn(&SpawnRequest::new(h.sh("cat")).stdin(StdinMode::Piped));
    h.rt().write_stdin(&id, b"hello ").unwrap();
    h.rt().write_stdin(&id, b"\xffworld\n").unwrap();
    h.rt().close_stdin(&id).unwrap();
    h.rt().close_stdin(&id).unwrap();
    match h.rt().write_stdin(&id, b"more") {
        Err(Error::StdinClosed { .. }) => {}
        other => panic!("write after close: {other:?}"),
    }
    let done = h.wait(&id);
    assert!(done.status.success());
    assert_eq!(done.logs.bytes(), b"hello \xffworld\n");
}

/// A process that ignores SIGTERM is killed once the grace period ends.
pub fn terminate_stubborn_escalates_after_grace(fixture: &dyn Fixture) {
    let h = Harness::new(fixture);
    let grace = Duration::from_millis(300);
    let request =
        SpawnRequest::new(h.sh("trap '' TERM; echo ready; while :; do sleep 1; done")).grace(grace);
    let id = h.spawn(&request);
    h.read_until(&id, |out| out.ends_with(b"ready\n"));
    let started = Instant::now();
    assert!(h.rt().terminate(&id, false).unwrap());
    assert!(
        started.elapsed() >= grace,
        "SIGKILL came before the grace period ended"
    );
    assert!(!h.rt().is_alive(&id).unwrap());
    assert_eq!(h.wait(&id).status, ExitStatus::Signal(9));
}
