//! The limit, its margin, and enforcing them: the thresholds the allocator
//! checks, and the watchdog thread that keeps them honest about the memory
//! the allocator does not see.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use crate::allocator::{ABORT_AT, OUTSIDE_HEAP, REACHED, STOP_AT, TRIPPED, in_use};
use crate::resident::resident_bytes;

const MIB: usize = 1024 * 1024;

/// How often the watchdog reads the resident set.
pub(crate) const WATCH_INTERVAL: Duration = Duration::from_millis(10);

/// A memory limit and the margin the process may go past it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// `--memory-limit`: what the query engine may hold before it spills.
    pub limit: usize,
    /// How far past the limit the process may go before it is stopped:
    /// a quarter of the limit, at least [`Budget::MIN_MARGIN`].
    pub margin: usize,
}

impl Budget {
    /// The smallest margin: room for the code, the threads' stacks and the
    /// async runtime, which do not shrink with the limit.
    pub const MIN_MARGIN: usize = 256 * MIB;

    /// The budget for `--memory-limit LIMIT`.
    pub fn for_limit(limit: usize) -> Budget {
        Budget {
            limit,
            margin: (limit / 4).max(Self::MIN_MARGIN),
        }
    }

    /// Past this (heap or resident set) the running stage is cancelled and
    /// the run fails with a named error.
    pub fn stop_at(&self) -> usize {
        self.limit.saturating_add(self.margin / 2)
    }

    /// The most the process may hold: past it the allocator ends the
    /// process itself (exit 2, with the same message), which happens only
    /// when an allocation burst outruns the stop.
    pub fn ceiling(&self) -> usize {
        self.limit.saturating_add(self.margin)
    }
}

static ENFORCED: Mutex<Option<Budget>> = Mutex::new(None);
/// Set by the first thread that ends the process.
static ENDING: AtomicBool = AtomicBool::new(false);

/// Enforces `budget` for the rest of the process (a later call replaces
/// it). Starts the watchdog thread on the first call. Without
/// [`crate::CountingAllocator`] as the global allocator only the resident
/// set is watched, and nothing ends the process from inside an allocation.
pub fn enforce(budget: Budget) {
    let first = {
        let mut enforced = ENFORCED.lock().unwrap_or_else(|e| e.into_inner());
        enforced.replace(budget).is_none()
    };
    TRIPPED.store(false, Relaxed);
    REACHED.store(0, Relaxed);
    crate::guard::clear_captured_activity();
    look(budget);
    if first {
        std::thread::Builder::new()
            .name("seglake-memory-watchdog".to_string())
            .spawn(watchdog)
            .expect("starting the memory watchdog thread");
    }
}

/// The budget being enforced, if any.
pub fn enforced() -> Option<Budget> {
    *ENFORCED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every [`WATCH_INTERVAL`]: trips the budget when the resident set is past
/// the stop, and lowers both of the allocator's thresholds by what the
/// process holds outside its heap (code, stacks, pages the allocator kept),
/// so that they hold for the resident set, which is what the kernel and a
/// container's limit count.
fn watchdog() {
    loop {
        std::thread::sleep(WATCH_INTERVAL);
        if let Some(budget) = enforced() {
            look(budget);
        }
    }
}

/// One look at the resident set: the thresholds lowered by what is held
/// outside the heap, and the budget tripped when the resident set is past
/// the stop.
fn look(budget: Budget) {
    let Some(resident) = resident_bytes() else {
        STOP_AT.store(budget.stop_at(), Relaxed);
        ABORT_AT.store(budget.ceiling(), Relaxed);
        return;
    };
    let outside_heap = resident.saturating_sub(in_use());
    OUTSIDE_HEAP.store(outside_heap, Relaxed);
    STOP_AT.store(budget.stop_at().saturating_sub(outside_heap), Relaxed);
    ABORT_AT.store(budget.ceiling().saturating_sub(outside_heap), Relaxed);
    if resident > budget.stop_at() {
        REACHED.fetch_max(resident, Relaxed);
        if !TRIPPED.swap(true, Relaxed) {
            crate::guard::capture_activity();
        }
    }
}

/// The last resort, called from inside an allocation: writes what
/// happened to standard error and exits with code 2 at once (no unwinding,
/// no destructors, no allocation). Nothing that was not committed is
/// published; a run row is not written.
pub(crate) fn end_process(reached: usize) -> ! {
    // One message: another thread past the ceiling waits for the exit.
    if ENDING.swap(true, Relaxed) {
        loop {
            // SAFETY: pause has no preconditions; the process is exiting.
            unsafe { libc::pause() };
        }
    }
    let mut message = StackText::default();
    let budget = ENFORCED
        .try_lock()
        .ok()
        .and_then(|b| *b)
        .unwrap_or(Budget::for_limit(0));
    let _ = std::fmt::Write::write_fmt(
        &mut message,
        format_args!(
            "error: memory limit: the process reached {} MiB, past --memory-limit {} MiB plus its margin of {} MiB, too fast to stop the work in order; it was ended before the kernel would kill it. ",
            reached / MIB,
            budget.limit / MIB,
            budget.margin / MIB
        ),
    );
    crate::guard::with_activity(|activity| {
        let _ = std::fmt::Write::write_fmt(&mut message, format_args!("Running: {activity}. "));
    });
    let _ = std::fmt::Write::write_str(
        &mut message,
        "Nothing uncommitted was published. Raise --memory-limit, or see the README's section on memory.\n",
    );
    // SAFETY: writing a buffer we own to standard error, then exiting
    // without running anything else.
    unsafe {
        libc::write(2, message.bytes.as_ptr().cast(), message.len);
        libc::_exit(2);
    }
}

/// Text formatted into a fixed buffer: formatting must not allocate inside
/// the allocator. What does not fit is cut.
struct StackText {
    bytes: [u8; 1024],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        StackText {
            bytes: [0; 1024],
            len: 0,
        }
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = self.bytes.len() - self.len;
        let n = s.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_is_a_quarter_of_the_limit_and_at_least_256_mib() {
        let small = Budget::for_limit(512 * MIB);
        assert_eq!(small.margin, 256 * MIB);
        assert_eq!(small.stop_at(), 640 * MIB);
        assert_eq!(small.ceiling(), 768 * MIB);
        let large = Budget::for_limit(8192 * MIB);
        assert_eq!(large.margin, 2048 * MIB);
        assert_eq!(large.ceiling(), 10240 * MIB);
    }

    #[test]
    fn stack_text_cuts_what_does_not_fit() {
        let mut text = StackText::default();
        for _ in 0..200 {
            std::fmt::Write::write_str(&mut text, "0123456789").unwrap();
        }
        assert_eq!(text.len, 1024);
        assert_eq!(&text.bytes[1020..1024], b"0123");
    }
}
