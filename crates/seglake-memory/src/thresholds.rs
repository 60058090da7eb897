//! The state the allocator checks on every allocation and the watchdog and
//! the guard share: the thresholds, whether the budget tripped, how far the
//! process got, and the budget being enforced.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::time::Duration;

use crate::budget::Budget;

/// How often the watchdog reads the resident set (and the guard looks).
pub(crate) const WATCH_INTERVAL: Duration = Duration::from_millis(10);

/// Past this many bytes in use the budget is exceeded (`TRIPPED`); the
/// guard stops the run. `usize::MAX` while no budget is enforced.
pub(crate) static STOP_AT: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Past this many the allocator ends the process itself: an allocation
/// burst outran the guard. Lowered by the watchdog by what the process
/// holds besides its heap, so that the resident set stays under
/// `limit + margin`.
pub(crate) static ABORT_AT: AtomicUsize = AtomicUsize::new(usize::MAX);
pub(crate) static TRIPPED: AtomicBool = AtomicBool::new(false);
/// The most memory seen when the budget was exceeded, as the resident set
/// would count it.
pub(crate) static REACHED: AtomicUsize = AtomicUsize::new(0);
/// What the process held outside its heap at the watchdog's last look.
pub(crate) static OUTSIDE_HEAP: AtomicUsize = AtomicUsize::new(0);

/// The budget being enforced.
pub(crate) static ENFORCED: Mutex<Option<Budget>> = Mutex::new(None);

/// The budget being enforced, if any.
pub fn enforced() -> Option<Budget> {
    *ENFORCED.lock().unwrap_or_else(|e| e.into_inner())
}
