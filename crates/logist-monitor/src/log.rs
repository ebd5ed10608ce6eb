//! A run's log on disk: append-only segments of framed records.
//!
//! Every read from the run's output becomes one record: a 24-byte header
//! (magic `b"LR"`, channel, flags, payload length, the logical offset of
//! the payload's first byte, the wall-clock time in nanoseconds) and the
//! payload, appended with one `write`. The logical offset counts output
//! bytes across all channels since the run started, so it is the same
//! offset a runtime's `read_output` uses. A segment file is named after
//! the logical offset it starts at (`00000000000000000000.seg`), so
//! offsets stay valid when segments rotate or old ones are removed.
//!
//! Readers stop at an incomplete record at the end of the newest segment
//! (it is being written); anything else that is not a record is reported
//! as [`LogError::Corrupt`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::LogError;

/// The record header's length in bytes.
pub const HEADER_LEN: usize = 24;
const MAGIC: [u8; 2] = *b"LR";
/// The longest payload one record carries.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// Where a record's bytes came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Channel {
    /// The run's standard output pipe.
    Stdout,
    /// The run's standard error pipe.
    Stderr,
    /// The run's pseudo-terminal (standard output and error merged).
    Pty,
    /// Bytes the monitor read but could not write (disk full): the record's
    /// payload is the count, as 8 little-endian bytes, and the logical
    /// offset advances by that count.
    Gap,
}

impl Channel {
    fn code(self) -> u8 {
        match self {
            Channel::Stdout => 1,
            Channel::Stderr => 2,
            Channel::Pty => 3,
            Channel::Gap => 4,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Channel::Stdout,
            2 => Channel::Stderr,
            3 => Channel::Pty,
            4 => Channel::Gap,
            _ => return None,
        })
    }

    pub(crate) fn to_code(self) -> u8 {
        self.code()
    }

    /// The `logist_core::Stream` these bytes count as (`None` for a gap).
    pub fn stream(self) -> Option<logist_core::Stream> {
        match self {
            Channel::Stdout | Channel::Pty => Some(logist_core::Stream::Stdout),
            Channel::Stderr => Some(logist_core::Stream::Stderr),
            Channel::Gap => None,
        }
    }
}

/// One piece of the log as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Where the bytes came from.
    pub channel: Channel,
    /// The logical offset of the first byte.
    pub offset: u64,
    /// The bytes (empty for a [`Channel::Gap`], whose length is `gap`).
    pub bytes: Vec<u8>,
    /// For a gap, how many bytes are missing.
    pub gap: u64,
}

impl Chunk {
    /// How far this chunk advances the logical offset.
    pub fn len(&self) -> u64 {
        if self.channel == Channel::Gap {
            self.gap
        } else {
            self.bytes.len() as u64
        }
    }

    /// True when it advances the offset by nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Appends records to a run's log directory, rotating segments.
#[derive(Debug)]
pub struct LogWriter {
    dir: PathBuf,
    file: File,
    /// Flush a segment to the disk before starting the next one.
    sync_segments: bool,
    segment_len: u64,
    segment_max: u64,
    end: u64,
    lost: u64,
    lost_total: u64,
}

impl LogWriter {
    /// Opens `dir` for appending, creating it and its first segment; an
    /// existing log is continued after its last complete record.
    ///
    /// `segment_max` is the size past which a new segment is started.
    pub fn open(dir: &Path, segment_max: u64) -> Result<Self, LogError> {
        let io = |path: &Path, source| LogError::Io {
            path: path.to_owned(),
            source,
        };
        fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let reader = LogReader::new(dir);
        let segments = reader.segments()?;
        let (path, base) = match segments.last() {
            Some(&base) => (segment_path(dir, base), base),
            None => (segment_path(dir, 0), 0),
        };
        let (len, end) = if segments.is_empty() {
            (0, 0)
        } else {
            reader.scan_end(&path, base)?
        };
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        // Cut a torn tail so the next record starts where a reader expects.
        file.set_len(len).map_err(|e| io(&path, e))?;
        let mut writer = Self {
            dir: dir.to_owned(),
            file,
            sync_segments: true,
            segment_len: len,
            segment_max: segment_max.max(HEADER_LEN as u64 + 1),
            end,
            lost: 0,
            lost_total: 0,
        };
        writer
            .file
            .seek(SeekFrom::Start(len))
            .map_err(|e| io(&path, e))?;
        Ok(writer)
    }

    /// Whether a full segment is flushed to the disk before the next one
    /// starts (the default): for a log that must survive power loss. It
    /// costs the writer a wait for the disk every segment.
    #[must_use]
    pub fn sync_segments(mut self, sync: bool) -> Self {
        self.sync_segments = sync;
        self
    }

    /// The logical offset the next byte will get.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// How many bytes could not be written, in total.
    pub fn lost_bytes(&self) -> u64 {
        self.lost_total
    }

    /// Appends `bytes` from `channel`. A failed write (disk full) does not
    /// stop the log: the bytes are counted and recorded as a gap once
    /// writing works again. Returns the write error, if any, for the caller
    /// to report once.
    pub fn append(&mut self, channel: Channel, bytes: &[u8]) -> io::Result<()> {
        for piece in bytes.chunks(MAX_PAYLOAD) {
            if self.lost > 0 {
                let lost = self.lost;
                match self.write_record(Channel::Gap, self.end - lost, &lost.to_le_bytes()) {
                    Ok(()) => self.lost = 0,
                    Err(error) => {
                        self.lose(piece.len());
                        return Err(error);
                    }
                }
            }
            if let Err(error) = self.write_record(channel, self.end, piece) {
                self.lose(piece.len());
                return Err(error);
            }
            self.end += piece.len() as u64;
        }
        Ok(())
    }

    /// Flushes the current segment to the disk.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn lose(&mut self, len: usize) {
        self.lost += len as u64;
        self.lost_total += len as u64;
        self.end += len as u64;
    }

    fn write_record(&mut self, channel: Channel, offset: u64, payload: &[u8]) -> io::Result<()> {
        let record_len = (HEADER_LEN + payload.len()) as u64;
        if self.segment_len > 0 && self.segment_len + record_len > self.segment_max {
            let path = segment_path(&self.dir, offset);
            if self.sync_segments {
                self.file.sync_data()?;
            }
            self.file = OpenOptions::new().create(true).append(true).open(&path)?;
            self.segment_len = 0;
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let mut header = [0u8; HEADER_LEN];
        header[..2].copy_from_slice(&MAGIC);
        header[2] = channel.code();
        header[4..8].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        header[8..16].copy_from_slice(&offset.to_le_bytes());
        header[16..24].copy_from_slice(&nanos.to_le_bytes());
        // One writev: no copy of the payload, and one system call per record.
        if let Err(error) = write_all_vectored(&mut self.file, &header, payload) {
            // Cut a partial record so the segment stays readable.
            let _ = self.file.set_len(self.segment_len);
            let _ = self.file.seek(SeekFrom::Start(self.segment_len));
            return Err(error);
        }
        self.segment_len += record_len;
        Ok(())
    }
}

/// Writes `header` then `payload`, retrying short writes.
fn write_all_vectored(file: &mut File, header: &[u8], payload: &[u8]) -> io::Result<()> {
    let mut slices = [io::IoSlice::new(header), io::IoSlice::new(payload)];
    let mut slices: &mut [io::IoSlice<'_>] = &mut slices;
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => io::IoSlice::advance_slices(&mut slices, n),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Reads a run's log from any logical offset.
#[derive(Debug)]
pub struct LogReader {
    dir: PathBuf,
    /// The segments' base offsets as last listed, oldest first: the
    /// directory is listed again only when a read finds nothing past the
    /// last of them, starts before the first, or misses a segment file.
    known: Vec<u64>,
    /// Where the last read stopped: (segment base, file position, offset).
    cursor: Option<(u64, u64, u64)>,
}

impl LogReader {
    /// A reader of the log in `dir` (which need not exist yet).
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            known: Vec::new(),
            cursor: None,
        }
    }

    /// The segments' base offsets, oldest first.
    pub fn segments(&self) -> Result<Vec<u64>, LogError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(LogError::Io {
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut bases = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| LogError::Io {
                path: self.dir.clone(),
                source,
            })?;
            let name = entry.file_name();
            if let Some(base) = name
                .to_str()
                .and_then(|name| name.strip_suffix(".seg"))
                .and_then(|stem| stem.parse::<u64>().ok())
            {
                bases.push(base);
            }
        }
        bases.sort_unstable();
        Ok(bases)
    }

    /// The first offset still on disk (0 unless old segments were removed).
    pub fn earliest(&self) -> Result<u64, LogError> {
        Ok(self.segments()?.first().copied().unwrap_or(0))
    }

    /// The offset after the last complete record.
    pub fn end(&self) -> Result<u64, LogError> {
        match self.segments()?.last() {
            Some(&base) => Ok(self.scan_end(&segment_path(&self.dir, base), base)?.1),
            None => Ok(0),
        }
    }

    /// Reads from logical offset `from`, at most about `max` bytes of
    /// payload (at least one record when there is one). Returns the chunks,
    /// the first trimmed to start at `from`; an empty list means nothing
    /// past `from` is on disk yet.
    ///
    /// The segment list is kept between reads: a read stops at the end of
    /// the last segment it knows of, and the directory is listed again when
    /// that leaves it with nothing (the writer may have started a newer
    /// segment), when `from` is before the first known segment, when a
    /// known segment's file is gone, or when the last known segment ends in
    /// an incomplete record (which is corrupt if a newer segment exists).
    pub fn read(&mut self, from: u64, max: usize) -> Result<Vec<Chunk>, LogError> {
        let mut listed = false;
        if self.known.first().is_none_or(|&first| first > from) {
            self.known = self.segments()?;
            listed = true;
        }
        loop {
            let Some(index) = self.known.iter().rposition(|&base| base <= from) else {
                return match self.known.first() {
                    Some(&earliest) => Err(LogError::Expired {
                        offset: from,
                        earliest,
                    }),
                    None => Ok(Vec::new()),
                };
            };
            match self.read_known(index, from, max, listed)? {
                Some(chunks) if listed || !chunks.is_empty() => return Ok(chunks),
                // Nothing past the last known segment, or one is gone.
                _ => {
                    self.known = self.segments()?;
                    listed = true;
                }
            }
        }
    }

    /// Reads the known segments from `self.known[index]` on; `None` when a
    /// segment file is missing or the last one ends in an incomplete record
    /// and the list was not just made (so it is made again). A segment
    /// found missing right after listing counts as empty.
    fn read_known(
        &mut self,
        index: usize,
        from: u64,
        max: usize,
        listed: bool,
    ) -> Result<Option<Vec<Chunk>>, LogError> {
        let mut chunks = Vec::new();
        let mut total = 0usize;
        let mut offset = from;
        for (i, &base) in self.known.iter().enumerate().skip(index) {
            let last = i + 1 == self.known.len();
            let path = segment_path(&self.dir, base);
            let start = match self.cursor {
                Some((b, position, at)) if b == base && at <= offset => (position, at),
                _ => (0, base),
            };
            let more = read_segment(
                &path,
                start,
                offset,
                max - total.min(max),
                last,
                &mut chunks,
            )?;
            // An incomplete record is only allowed at the end of the log:
            // make sure no newer segment came since the list was made.
            if (more.missing || more.torn) && !listed {
                return Ok(None);
            }
            total = chunks.iter().map(|c| c.bytes.len()).sum();
            if let Some(chunk) = chunks.last() {
                offset = chunk.offset + chunk.len();
            }
            self.cursor = Some((base, more.position, more.offset));
            if total >= max || !more.at_end {
                break;
            }
        }
        Ok(Some(chunks))
    }

    /// Finds (byte length of complete records, logical end) of a segment.
    fn scan_end(&self, path: &Path, base: u64) -> Result<(u64, u64), LogError> {
        // Nothing is at or past offset u64::MAX, so this only walks headers.
        let read = read_segment(path, (0, base), u64::MAX, usize::MAX, true, &mut Vec::new())?;
        Ok((read.position, read.offset))
    }
}

/// The file of the segment starting at `base`.
pub fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.seg"))
}

/// Where a read of one segment stopped.
struct SegmentRead {
    /// The file position after the last record read.
    position: u64,
    /// The logical offset after the last record read.
    offset: u64,
    /// The segment was read to its end (or to an incomplete last record).
    at_end: bool,
    /// The segment's file does not exist.
    missing: bool,
    /// It ends with an incomplete record (allowed in the newest segment).
    torn: bool,
}

/// Reads records of one segment starting at file position `start.0`
/// (whose logical offset is `start.1`), appending the parts at or after
/// `from` to `out` until `max` payload bytes are collected.
fn read_segment(
    path: &Path,
    start: (u64, u64),
    from: u64,
    max: usize,
    last: bool,
    out: &mut Vec<Chunk>,
) -> Result<SegmentRead, LogError> {
    let io = |source| LogError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Ok(SegmentRead {
                position: start.0,
                offset: start.1,
                at_end: true,
                missing: true,
                torn: false,
            });
        }
        Err(error) => return Err(io(error)),
    };
    let size = file.metadata().map_err(io)?.len();
    let (mut position, mut offset) = start;
    file.seek(SeekFrom::Start(position)).map_err(io)?;
    let mut reader = io::BufReader::with_capacity(64 * 1024, file);
    let mut collected = 0usize;
    let mut torn = false;
    let corrupt = |position, reason| LogError::Corrupt {
        path: path.to_owned(),
        position,
        reason,
    };
    while position < size {
        if collected >= max {
            return Ok(SegmentRead {
                position,
                offset,
                at_end: false,
                missing: false,
                torn: false,
            });
        }
        if size - position < HEADER_LEN as u64 {
            if last {
                torn = true;
                break;
            }
            return Err(corrupt(position, "truncated record header"));
        }
        let mut header = [0u8; HEADER_LEN];
        reader.read_exact(&mut header).map_err(io)?;
        if header[..2] != MAGIC {
            return Err(corrupt(position, "bad record magic"));
        }
        let channel =
            Channel::from_code(header[2]).ok_or_else(|| corrupt(position, "unknown channel"))?;
        let len = u32::from_le_bytes(header[4..8].try_into().unwrap_or_default()) as u64;
        let record_offset = u64::from_le_bytes(header[8..16].try_into().unwrap_or_default());
        if record_offset != offset {
            return Err(corrupt(position, "record offset out of sequence"));
        }
        if size - position - (HEADER_LEN as u64) < len {
            if last {
                torn = true;
                break;
            }
            return Err(corrupt(position, "truncated record payload"));
        }
        let advance = if channel == Channel::Gap {
            if len != 8 {
                return Err(corrupt(position, "gap record of wrong length"));
            }
            let mut count = [0u8; 8];
            reader.read_exact(&mut count).map_err(io)?;
            u64::from_le_bytes(count)
        } else {
            len
        };
        let next = offset + advance;
        if next > from {
            if channel == Channel::Gap {
                out.push(Chunk {
                    channel,
                    offset: offset.max(from),
                    bytes: Vec::new(),
                    gap: next - offset.max(from),
                });
            } else {
                let mut payload = vec![0u8; len as usize];
                reader.read_exact(&mut payload).map_err(io)?;
                let skip = from.saturating_sub(offset) as usize;
                payload.drain(..skip);
                collected += payload.len();
                out.push(Chunk {
                    channel,
                    offset: offset + skip as u64,
                    bytes: payload,
                    gap: 0,
                });
            }
        } else if channel != Channel::Gap {
            reader.seek_relative(len as i64).map_err(io)?;
        }
        position += HEADER_LEN as u64 + len;
        offset = next;
    }
    Ok(SegmentRead {
        position,
        offset,
        at_end: true,
        missing: false,
        torn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(dir: &Path, from: u64) -> Vec<u8> {
        let mut reader = LogReader::new(dir);
        let mut out = Vec::new();
        let mut at = from;
        loop {
            let chunks = reader.read(at, 100).unwrap();
            if chunks.is_empty() {
                return out;
            }
            for chunk in chunks {
                assert_eq!(chunk.offset, at);
                at += chunk.len();
                out.extend_from_slice(&chunk.bytes);
            }
        }
    }

    #[test]
    fn offsets_survive_rotation_and_reads_start_anywhere() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = LogWriter::open(dir.path(), 200).unwrap();
        let mut expected = Vec::new();
        for i in 0..50u8 {
            let piece: Vec<u8> = (0..(i as usize % 37 + 1)).map(|j| i ^ j as u8).collect();
            let channel = if i % 3 == 0 {
                Channel::Stderr
            } else {
                Channel::Stdout
            };
            writer.append(channel, &piece).unwrap();
            expected.extend_from_slice(&piece);
        }
        assert_eq!(writer.end(), expected.len() as u64);
        assert!(LogReader::new(dir.path()).segments().unwrap().len() > 3);
        for from in [0, 1, 17, 200, 611, expected.len() as u64 - 1] {
            assert_eq!(read_all(dir.path(), from), expected[from as usize..]);
        }
        assert_eq!(
            LogReader::new(dir.path()).end().unwrap(),
            expected.len() as u64
        );
    }

    #[test]
    fn a_torn_tail_is_invisible_and_cut_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = LogWriter::open(dir.path(), 1 << 20).unwrap();
        writer.append(Channel::Stdout, b"hello").unwrap();
        drop(writer);
        let path = segment_path(dir.path(), 0);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"LR\x01\x00\x09\x00").unwrap();
        assert_eq!(read_all(dir.path(), 0), b"hello");
        let mut writer = LogWriter::open(dir.path(), 1 << 20).unwrap();
        writer.append(Channel::Stdout, b" world").unwrap();
        assert_eq!(read_all(dir.path(), 0), b"hello world");
    }

    #[test]
    fn garbage_in_the_middle_is_reported_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = LogWriter::open(dir.path(), 1 << 20).unwrap();
        writer.append(Channel::Stdout, b"hello").unwrap();
        writer.append(Channel::Stdout, b"world").unwrap();
        let path = segment_path(dir.path(), 0);
        let mut bytes = fs::read(&path).unwrap();
        bytes[HEADER_LEN + 5] = b'X';
        fs::write(&path, bytes).unwrap();
        let error = LogReader::new(dir.path()).read(0, 1000).unwrap_err();
        assert!(
            matches!(error, LogError::Corrupt { position: 29, .. }),
            "{error}"
        );
    }

    #[test]
    fn a_failing_disk_leaves_a_gap_and_the_offsets_stay_right() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = LogWriter::open(dir.path(), 1 << 20).unwrap();
        writer.append(Channel::Stdout, b"before ").unwrap();
        let real = std::mem::replace(
            &mut writer.file,
            OpenOptions::new().write(true).open("/dev/full").unwrap(),
        );
        writer.append(Channel::Stderr, b"lost").unwrap_err();
        writer.append(Channel::Stdout, b"also lost").unwrap_err();
        assert_eq!(writer.lost_bytes(), 13);
        writer.file = real;
        writer.append(Channel::Stdout, b"after").unwrap();
        assert_eq!(writer.end(), 7 + 13 + 5);
        let chunks = LogReader::new(dir.path()).read(0, 1000).unwrap();
        let summary: Vec<_> = chunks
            .iter()
            .map(|c| (c.channel, c.offset, c.len()))
            .collect();
        assert_eq!(
            summary,
            [
                (Channel::Stdout, 0, 7),
                (Channel::Gap, 7, 13),
                (Channel::Stdout, 20, 5)
            ]
        );
        assert_eq!(chunks[2].bytes, b"after");
    }

    #[test]
    fn a_kept_reader_follows_rotation_and_removal() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = LogWriter::open(dir.path(), 40).unwrap();
        let mut reader = LogReader::new(dir.path());
        assert!(reader.read(0, 100).unwrap().is_empty());
        writer.append(Channel::Stdout, b"0123456789").unwrap();
        let mut at = 0;
        let mut seen = Vec::new();
        for round in 0..6u8 {
            // Each append past the first rotates: a segment the reader
            // has not listed yet.
            writer.append(Channel::Stderr, &[b'a' + round; 10]).unwrap();
            loop {
                let chunks = reader.read(at, 1000).unwrap();
                if chunks.is_empty() {
                    break;
                }
                for chunk in chunks {
                    assert_eq!(chunk.offset, at);
                    at += chunk.len();
                    seen.extend_from_slice(&chunk.bytes);
                }
            }
            assert_eq!(at, writer.end());
        }
        assert_eq!(&seen[..10], b"0123456789");
        assert_eq!(&seen[60..], b"ffffffffff");
        // The kept reader notices a removed segment.
        fs::remove_file(segment_path(dir.path(), 0)).unwrap();
        fs::remove_file(segment_path(dir.path(), 10)).unwrap();
        let error = reader.read(5, 10).unwrap_err();
        assert!(
            matches!(
                error,
                LogError::Expired {
                    offset: 5,
                    earliest: 20
                }
            ),
            "{error}"
        );
        let error = reader.read(12, 10).unwrap_err();
        assert!(matches!(error, LogError::Expired { .. }), "{error}");
        assert_eq!(reader.read(20, 10).unwrap()[0].bytes, b"bbbbbbbbbb");
    }

    #[test]
    fn a_torn_tail_before_a_newer_segment_is_corrupt_for_a_kept_reader() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = LogWriter::open(dir.path(), 1 << 20).unwrap();
        writer.append(Channel::Stdout, b"hello").unwrap();
        let mut reader = LogReader::new(dir.path());
        assert_eq!(reader.read(0, 100).unwrap()[0].bytes, b"hello");
        // A torn record, then a newer segment: the torn one is no longer
        // the end of the log.
        let path = segment_path(dir.path(), 0);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"LR\x01\x00\x09\x00").unwrap();
        fs::write(segment_path(dir.path(), 5), b"").unwrap();
        let error = reader.read(0, 100).unwrap_err();
        assert!(
            matches!(error, LogError::Corrupt { position: 29, .. }),
            "{error}"
        );
    }

    #[test]
    fn removed_segments_report_the_earliest_offset() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = LogWriter::open(dir.path(), 40).unwrap();
        for _ in 0..4 {
            writer.append(Channel::Stdout, b"0123456789").unwrap();
        }
        fs::remove_file(segment_path(dir.path(), 0)).unwrap();
        let reader = LogReader::new(dir.path());
        assert_eq!(reader.earliest().unwrap(), 10);
        let error = LogReader::new(dir.path()).read(3, 10).unwrap_err();
        assert!(matches!(
            error,
            LogError::Expired {
                offset: 3,
                earliest: 10
            }
        ));
        assert_eq!(read_all(dir.path(), 10), b"012345678901234567890123456789");
    }
}
