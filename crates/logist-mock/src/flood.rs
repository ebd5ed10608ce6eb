//! The deterministic text of the `flood` scenario, computable without
//! running anything, and a streaming checksum to compare it with what a
//! runtime collected.
//!
//! The text is numbered lines of [`FLOOD_LINE_LEN`] bytes:
//!
//! ```text
//! flood 000000000000000000 abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL
//! flood 000000000000000001 abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL
//! ```
//!
//! cut after exactly `n` bytes (the last line may be partial). The program
//! and [`flood_bytes`] both use [`Flood`], so they cannot disagree.

use logist_core::Stream;

use crate::scenario::{FLOOD_WRITE_SIZE, FloodStream};

/// The length of one flood line, newline included.
pub const FLOOD_LINE_LEN: usize = 64;

const FLOOD_LINE_START: &[u8] = b"flood ";
const FLOOD_FILLER: &[u8] = b" abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL\n";

/// A generator of the first `n` bytes of flood text, filling buffers.
///
/// ```
/// use logist_mock::Flood;
///
/// let mut flood = Flood::new(70);
/// let mut buf = [0; 100];
/// assert_eq!(flood.fill(&mut buf), 70);
/// assert!(buf.starts_with(b"flood 000000000000000000 abc"));
/// assert_eq!(&buf[64..70], b"flood ");
/// assert_eq!(flood.fill(&mut buf), 0);
/// ```
#[derive(Clone, Debug)]
pub struct Flood {
    position: u64,
    end: u64,
}

impl Flood {
    /// The first `n` bytes of flood text.
    pub fn new(n: u64) -> Self {
        Self {
            position: 0,
            end: n,
        }
    }

    /// Bytes not yet produced.
    pub fn remaining(&self) -> u64 {
        self.end - self.position
    }

    /// Fills the start of `buf` with the next bytes and returns how many;
    /// 0 once all `n` bytes were produced.
    pub fn fill(&mut self, buf: &mut [u8]) -> usize {
        let count = usize::try_from(self.remaining()).map_or(buf.len(), |left| left.min(buf.len()));
        let mut written = 0;
        while written < count {
            let line = line(self.position / FLOOD_LINE_LEN as u64);
            let within = (self.position % FLOOD_LINE_LEN as u64) as usize;
            let take = (FLOOD_LINE_LEN - within).min(count - written);
            buf[written..written + take].copy_from_slice(&line[within..within + take]);
            written += take;
            self.position += take as u64;
        }
        written
    }
}

/// Line number `index` of the flood text.
fn line(index: u64) -> [u8; FLOOD_LINE_LEN] {
    let mut line = [0; FLOOD_LINE_LEN];
    let digits = FLOOD_LINE_LEN - FLOOD_LINE_START.len() - FLOOD_FILLER.len();
    line[..FLOOD_LINE_START.len()].copy_from_slice(FLOOD_LINE_START);
    let mut number = index;
    for slot in line[FLOOD_LINE_START.len()..FLOOD_LINE_START.len() + digits]
        .iter_mut()
        .rev()
    {
        *slot = b'0' + (number % 10) as u8;
        number /= 10;
    }
    line[FLOOD_LINE_LEN - FLOOD_FILLER.len()..].copy_from_slice(FLOOD_FILLER);
    line
}

/// The first `n` bytes of flood text, one byte at a time.
///
/// ```
/// let text: Vec<u8> = logist_mock::flood_bytes(128).collect();
/// assert_eq!(text.len(), 128);
/// assert!(text.ends_with(b"flood 000000000000000001 abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL\n"));
/// ```
pub fn flood_bytes(n: u64) -> impl Iterator<Item = u8> {
    let mut flood = Flood::new(n);
    let mut buf = [0; FLOOD_LINE_LEN];
    let mut filled = 0;
    let mut next = 0;
    std::iter::from_fn(move || {
        if next == filled {
            filled = flood.fill(&mut buf);
            next = 0;
        }
        (next < filled).then(|| {
            next += 1;
            buf[next - 1]
        })
    })
}

/// Performs the writes of the `flood` scenario: `n` bytes of flood text in
/// [`FLOOD_WRITE_SIZE`] pieces to `stream`; with [`FloodStream::Both`], `n`
/// bytes to each stream, alternating stdout and stderr write by write. The
/// program and [`MockRuntime`](crate::MockRuntime) both call this. Stops at
/// the first error.
///
/// # Errors
///
/// The first error `write` returns.
///
/// ```
/// use logist_core::Stream;
/// use logist_mock::{FloodStream, flood_bytes, write_flood};
///
/// let mut writes = Vec::new();
/// write_flood(100_000, FloodStream::Both, |stream, data| {
///     writes.push((stream, data.len()));
///     Ok::<(), ()>(())
/// })?;
/// assert_eq!(writes, [
///     (Stream::Stdout, 65536), (Stream::Stderr, 65536),
///     (Stream::Stdout, 34464), (Stream::Stderr, 34464),
/// ]);
/// # Ok::<(), ()>(())
/// ```
pub fn write_flood<E>(
    n: u64,
    stream: FloodStream,
    mut write: impl FnMut(Stream, &[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let targets: &[Stream] = match stream {
        FloodStream::Stdout => &[Stream::Stdout],
        FloodStream::Stderr => &[Stream::Stderr],
        FloodStream::Both => &[Stream::Stdout, Stream::Stderr],
    };
    let mut floods = vec![Flood::new(n); targets.len()];
    let mut buf = vec![0; FLOOD_WRITE_SIZE];
    for index in (0..targets.len()).cycle() {
        let filled = floods[index].fill(&mut buf);
        if filled == 0 {
            // Every copy has the same length, so they run out together.
            return Ok(());
        }
        write(targets[index], &buf[..filled])?;
    }
    Ok(())
}

/// The [`Checksum`] of the first `n` bytes of flood text.
pub fn flood_checksum(n: u64) -> u64 {
    let mut flood = Flood::new(n);
    let mut checksum = Checksum::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        let filled = flood.fill(&mut buf);
        if filled == 0 {
            return checksum.value();
        }
        checksum.update(&buf[..filled]);
    }
}

/// A streaming 64-bit FNV-1a checksum: feed it output as it arrives, in
/// pieces of any size, and compare with [`flood_checksum`].
///
/// ```
/// use logist_mock::{Checksum, flood_bytes, flood_checksum};
///
/// let text: Vec<u8> = flood_bytes(1000).collect();
/// let mut checksum = Checksum::new();
/// for piece in text.chunks(7) {
///     checksum.update(piece);
/// }
/// assert_eq!(checksum.value(), flood_checksum(1000));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checksum {
    state: u64,
    len: u64,
}

impl Default for Checksum {
    fn default() -> Self {
        Self::new()
    }
}

impl Checksum {
    /// The checksum of nothing.
    pub fn new() -> Self {
        Self {
            state: 0xcbf2_9ce4_8422_2325,
            len: 0,
        }
    }

    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.state ^= u64::from(byte);
            self.state = self.state.wrapping_mul(0x0100_0000_01b3);
        }
        self.len += bytes.len() as u64;
    }

    /// The checksum so far.
    pub fn value(&self) -> u64 {
        self.state
    }

    /// How many bytes were added.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when no byte was added.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered_and_fixed_width() {
        let text: Vec<u8> = flood_bytes(3 * FLOOD_LINE_LEN as u64).collect();
        let lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
        assert_eq!(lines.len(), 3);
        for (index, line) in lines.iter().enumerate() {
            assert_eq!(line.len(), FLOOD_LINE_LEN);
            let expected = format!("flood {index:018} abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL\n");
            assert_eq!(*line, expected.as_bytes());
        }
        // The largest line number still fits its 18 digits.
        assert!(line(u64::MAX / FLOOD_LINE_LEN as u64).starts_with(b"flood 288230376151711743 "));
    }

    #[test]
    fn fill_and_iterator_agree_across_odd_buffer_sizes() {
        let n = 10_000;
        let expected: Vec<u8> = flood_bytes(n).collect();
        assert_eq!(expected.len() as u64, n);
        for size in [1, 7, 63, 64, 65, 4096] {
            let mut flood = Flood::new(n);
            let mut got = Vec::new();
            let mut buf = vec![0; size];
            loop {
                let filled = flood.fill(&mut buf);
                if filled == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..filled]);
            }
            assert_eq!(got, expected, "buffer of {size}");
        }
        assert_eq!(flood_bytes(0).count(), 0);
    }

    #[test]
    fn checksum_depends_on_every_byte_and_the_length() {
        assert_ne!(flood_checksum(100), flood_checksum(101));
        let mut checksum = Checksum::new();
        checksum.update(b"a");
        assert_ne!(checksum.value(), Checksum::new().value());
        assert_eq!(checksum.len(), 1);
        // FNV-1a of "a", a published test vector.
        assert_eq!(checksum.value(), 0xaf63_dc4c_8601_ec8c);
    }
}
