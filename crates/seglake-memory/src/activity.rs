//! What is running, named for the messages: the stage, and in it the
//! query. Read from inside an allocation too, so the lock is never held
//! while allocating.

use std::sync::{Arc, Mutex};

/// What is running. An `Arc<str>` so that the lock is never held while
/// allocating: the allocator's last resort reads it from inside an
/// allocation.
static ACTIVITY: Mutex<Option<Arc<str>>> = Mutex::new(None);

/// Adds `name` to what is running (`stage \`compute\``, then
/// `stage \`compute\`, materialising view \`x\``) until the returned guard
/// is dropped; then the previous name is back. The name goes into
/// [`Exceeded`] and into the allocator's last-resort message.
#[must_use = "the activity is named only while the guard lives"]
pub fn enter_activity(name: &str) -> ActivityGuard {
    let current = lock().clone();
    let named: Arc<str> = match &current {
        Some(current) => format!("{current}, {name}").into(),
        None => name.into(),
    };
    let previous = std::mem::replace(&mut *lock(), Some(named));
    ActivityGuard { previous }
}

/// What is running, as last named ("the run" when nothing was).
pub fn activity() -> String {
    let current = lock().clone();
    current.map_or_else(|| "the run".to_string(), |name| name.to_string())
}

/// Calls `f` with the activity's name when it can be read without waiting
/// (the allocator's last resort must not block on a lock).
pub(crate) fn with_activity(f: impl FnOnce(&str)) {
    if let Ok(at_trip) = AT_TRIP.try_lock() {
        if let Some(name) = at_trip.as_deref() {
            f(name);
            return;
        }
    }
    if let Ok(name) = ACTIVITY.try_lock() {
        if let Some(name) = name.as_deref() {
            f(name);
        }
    }
}

/// What was running when the budget was first exceeded (the stage may
/// have moved on by the time the guard looks).
static AT_TRIP: Mutex<Option<Arc<str>>> = Mutex::new(None);

/// Keeps what is running as what was running when the budget tripped.
/// Called once per trip, possibly from inside an allocation: it neither
/// waits for a lock nor allocates (an `Arc` clone).
pub(crate) fn capture_activity() {
    let Ok(current) = ACTIVITY.try_lock() else {
        return;
    };
    let name = current.clone();
    drop(current);
    if let Ok(mut at_trip) = AT_TRIP.try_lock() {
        *at_trip = name;
    }
}

/// Forgets the captured activity (a new budget).
pub(crate) fn clear_captured_activity() {
    let _previous = AT_TRIP.lock().unwrap_or_else(|e| e.into_inner()).take();
}

pub(crate) fn activity_at_trip() -> Option<String> {
    let at_trip = AT_TRIP.lock().unwrap_or_else(|e| e.into_inner()).clone();
    at_trip.map(|name| name.to_string())
}

fn lock() -> std::sync::MutexGuard<'static, Option<Arc<str>>> {
    ACTIVITY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Restores the previous activity name when dropped.
pub struct ActivityGuard {
    previous: Option<Arc<str>>,
}

impl Drop for ActivityGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // The replaced name is freed after the lock is released.
        let _replaced = std::mem::replace(&mut *lock(), previous);
    }
}
