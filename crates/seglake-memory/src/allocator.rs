//! The global allocator that counts: the system allocator, with the bytes
//! in use and the peak kept in two process-wide counters.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use crate::thresholds::{ABORT_AT, OUTSIDE_HEAP, REACHED, STOP_AT, TRIPPED};

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// The system allocator, counted. Install it in a binary with
/// `#[global_allocator] static ALLOCATOR: CountingAllocator = CountingAllocator;`.
pub struct CountingAllocator;

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters are only read and written atomically, never allocate, and the
// last-resort stop (`last_resort::end_process`) writes to a file descriptor and
// exits without allocating.
unsafe impl GlobalAlloc for CountingAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            added(layout.size());
        }
        ptr
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            added(layout.size());
        }
        ptr
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        IN_USE.fetch_sub(layout.size(), Relaxed);
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        if !moved.is_null() {
            let old_size = layout.size();
            if new_size >= old_size {
                added(new_size - old_size);
            } else {
                IN_USE.fetch_sub(old_size - new_size, Relaxed);
            }
        }
        moved
    }
}

#[inline]
fn added(bytes: usize) {
    let now = IN_USE.fetch_add(bytes, Relaxed) + bytes;
    if now > PEAK.load(Relaxed) {
        PEAK.fetch_max(now, Relaxed);
    }
    if now > STOP_AT.load(Relaxed) {
        past_stop(now);
    }
}

#[cold]
fn past_stop(now: usize) {
    let resident_equivalent = now + OUTSIDE_HEAP.load(Relaxed);
    REACHED.fetch_max(resident_equivalent, Relaxed);
    if !TRIPPED.swap(true, Relaxed) {
        crate::activity::capture_activity();
    }
    if now > ABORT_AT.load(Relaxed) {
        crate::last_resort::end_process(resident_equivalent);
    }
}

/// Bytes of heap in use now (0 when [`CountingAllocator`] is not the
/// global allocator).
pub fn in_use() -> usize {
    IN_USE.load(Relaxed)
}

/// The most heap the process has held at once.
pub fn peak() -> usize {
    PEAK.load(Relaxed)
}

/// Whether [`CountingAllocator`] is the global allocator: every process
/// allocates before `main`, so an uncounted one has a peak of zero.
pub fn counting() -> bool {
    peak() > 0
}
