//! Faulting in fresh memory at once, the one operating-system call of this
//! crate.
//!
//! Fresh memory is otherwise faulted in one page at a time as it is first
//! written, which on a virtual machine costs microseconds per page: copying
//! an 8 MiB buffer out for `wait` took 2,048 such faults. Best effort: other
//! systems, and Linux before 5.14, leave the pages to be faulted in as
//! before.

/// Asks the kernel to fault in the whole pages of `buf`'s spare capacity.
#[cfg(target_os = "linux")]
#[expect(unsafe_code, reason = "madvise has no safe wrapper in std")]
pub(crate) fn spare(buf: &mut Vec<u8>) -> std::io::Result<()> {
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
#[cfg(not(target_os = "linux"))]
pub(crate) fn spare(_buf: &mut Vec<u8>) -> std::io::Result<()> {
    Ok(())
}
