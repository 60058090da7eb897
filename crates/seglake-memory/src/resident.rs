//! What the kernel counts: the resident set, which adds code, stacks and
//! memory the allocator freed but kept to the heap the allocator counts.

/// The process's resident set in bytes now, from `/proc/self/statm`
/// (`None` where there is no procfs).
pub fn resident_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * usize::try_from(page_size).ok()?)
}
