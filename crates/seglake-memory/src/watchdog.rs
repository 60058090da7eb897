//! Enforcing a budget: the thresholds set, and the watchdog thread that
//! keeps them honest about the memory the allocator does not see.

use std::sync::atomic::Ordering::Relaxed;

use crate::allocator::in_use;
use crate::budget::Budget;
use crate::resident::resident_bytes;
use crate::thresholds::{
    ABORT_AT, ENFORCED, OUTSIDE_HEAP, REACHED, STOP_AT, TRIPPED, WATCH_INTERVAL, enforced,
};

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
    crate::activity::clear_captured_activity();
    look(budget);
    if first {
        std::thread::Builder::new()
            .name("seglake-memory-watchdog".to_string())
            .spawn(watchdog)
            .expect("starting the memory watchdog thread");
    }
}

/// Every [`WATCH_INTERVAL`]: one [`look`].
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
            crate::activity::capture_activity();
        }
    }
}
