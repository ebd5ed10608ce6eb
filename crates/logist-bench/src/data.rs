//! The text file W2 and W6 `cat`: 100-byte lines, generated once per size
//! and reused while its size is right.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};

/// Length of every line but possibly the last, newline included.
pub(crate) const LINE: usize = 100;

/// Makes `path` a file of exactly `size` bytes of numbered 100-byte text
/// lines (the last one shorter when `size` is not a multiple of 100, and
/// ending in a newline). An existing file of the right size is kept.
pub(crate) fn generate(path: &Path, size: u64) -> Result<()> {
    if path.metadata().is_ok_and(|meta| meta.len() == size) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // Written aside and renamed, so an interrupted run never leaves a
    // short file that looks finished.
    let partial = path.with_extension("partial");
    let file = File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut line = [0u8; LINE];
    let mut written = 0u64;
    let mut number = 0u64;
    while written < size {
        fill_line(&mut line, number);
        let left = usize::try_from(size - written).unwrap_or(usize::MAX);
        let piece = if left >= LINE {
            &line[..]
        } else {
            line[left - 1] = b'\n';
            &line[..left]
        };
        out.write_all(piece)?;
        written += piece.len() as u64;
        number += 1;
    }
    out.into_inner()
        .map_err(|error| error.into_error())?
        .sync_all()?;
    fs::rename(&partial, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// `0000000042 ` then letters, then a newline: 100 bytes.
fn fill_line(line: &mut [u8; LINE], number: u64) {
    let mut digits = number;
    for slot in line[..10].iter_mut().rev() {
        *slot = b'0' + (digits % 10) as u8;
        digits /= 10;
    }
    line[10] = b' ';
    for (index, slot) in line[11..LINE - 1].iter_mut().enumerate() {
        *slot = b'a' + ((number as usize + index) % 26) as u8;
    }
    line[LINE - 1] = b'\n';
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_have_the_exact_size_and_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        for size in [0, 1, 99, 100, 101, 12_345] {
            let path = dir.join(format!("{size}.txt"));
            generate(&path, size).unwrap();
            let data = fs::read(&path).unwrap();
            assert_eq!(data.len() as u64, size);
            if size > 0 {
                assert_eq!(data.last(), Some(&b'\n'));
            }
            let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
            let full = lines.iter().filter(|line| line.len() == LINE).count();
            assert_eq!(full as u64, size / LINE as u64, "size {size}");
        }
        let first = fs::read(dir.join("12345.txt")).unwrap();
        assert!(first.starts_with(b"0000000000 abcdefghij"));
        assert!(first[LINE..].starts_with(b"0000000001 bcdefghijk"));
    }
}
