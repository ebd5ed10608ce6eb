//! Faulting in fresh memory at once, the one operating-system call of this
//! crate.
//!
//! Fresh memory is otherwise faulted in one page at a time as it is first
//! written, which on a virtual machine costs microseconds per page: filling
//! an 8 MiB output buffer, or copying it out for `wait`, took 2,048 such
//! faults. Best effort: other systems, and Linux before 5.14, leave the
//! pages to be faulted in as before.

/// Faults in, with one call, the pages that `buf`'s spare capacity covers
/// (those wholly inside it), as writing to them would. Its contents do not
/// change.
///
/// # Errors
///
/// The operating system's refusal: `EINVAL` from kernels before 5.14, which
/// do not know the request; the pages are then faulted in as they are
/// written, as without this call.
#[cfg(target_os = "linux")]
#[expect(unsafe_code, reason = "madvise has no safe wrapper in std")]
pub fn prefault_spare(buf: &mut Vec<u8>) -> std::io::Result<()> {
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = usize::try_from(page)
        .ok()
        .filter(|size| size.is_power_of_two())
        .ok_or_else(|| std::io::Error::other("no page size"))?;
    let spare = buf.spare_capacity_mut();
    let start = spare.as_mut_ptr() as usize;
    let first = start.next_multiple_of(page);
    let end = (start + spare.len()) & !(page - 1);
    if end <= first {
        return Ok(());
    }
    // SAFETY: `[first, end)` lies inside the allocation `buf` owns, which the
    // `&mut` borrow keeps to ourselves. MADV_POPULATE_WRITE only fills page
    // tables as a write would (zero pages where none were present, which
    // fresh anonymous memory reads as anyway); it changes no byte of memory
    // and no Rust-visible state.
    let result = unsafe {
        libc::madvise(
            first as *mut libc::c_void,
            end - first,
            libc::MADV_POPULATE_WRITE,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Elsewhere: nothing to do.
///
/// # Errors
///
/// Never.
#[cfg(not(target_os = "linux"))]
pub fn prefault_spare(_buf: &mut Vec<u8>) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Resident KiB of the mapping that holds `address`, from
    /// `/proc/self/smaps`: only the test's own buffer (large allocations
    /// get a mapping of their own), not the whole process, which other
    /// tests running on threads of it change at the same time.
    fn resident_kib_of_mapping(address: usize) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((start, end)) = range.split_once('-')
                && let (Ok(start), Ok(end)) = (
                    usize::from_str_radix(start, 16),
                    usize::from_str_radix(end, 16),
                )
            {
                inside = (start..end).contains(&address);
            } else if inside && let Some(rest) = line.strip_prefix("Rss:") {
                return rest.trim().trim_end_matches("kB").trim().parse().unwrap();
            }
        }
        panic!("no mapping holds {address:#x}");
    }

    #[test]
    fn prefaulting_makes_the_spare_capacity_resident_and_keeps_the_contents() {
        let mut buf = b"kept".to_vec();
        buf.reserve_exact(32 << 20);
        let address = buf.as_ptr() as usize + (16 << 20);
        let before = resident_kib_of_mapping(address);
        match prefault_spare(&mut buf) {
            Ok(()) => {
                let grown = resident_kib_of_mapping(address).saturating_sub(before);
                assert!(grown >= 30 << 10, "resident memory grew by {grown} KiB");
            }
            // Kernels before 5.14 do not know MADV_POPULATE_WRITE.
            Err(error) => assert_eq!(error.raw_os_error(), Some(libc::EINVAL)),
        }
        assert_eq!(buf, b"kept");
        let mut empty = Vec::new();
        assert!(prefault_spare(&mut empty).is_ok());
    }
}
