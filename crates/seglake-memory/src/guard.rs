//! Running a stage under the budget: the stage is cancelled (its future
//! dropped, which frees what it held) once the budget is exceeded, and the
//! error names what was running.

use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use crate::allocator::{REACHED, TRIPPED};
use crate::budget::{Budget, WATCH_INTERVAL, enforced};

const MIB: usize = 1024 * 1024;

/// The budget was exceeded while `activity` was running.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "memory limit: {activity} reached {reached_mib} MiB, past --memory-limit {limit_mib} MiB plus half its margin \
     ({margin_mib} MiB); it was stopped before the process could be killed. Raise --memory-limit (the README's \
     section on memory says what the limit covers)",
    reached_mib = .reached / MIB,
    limit_mib = .budget.limit / MIB,
    margin_mib = .budget.margin / MIB
)]
pub struct Exceeded {
    /// What was running (`stage \`compute\`, view \`features\``).
    pub activity: String,
    /// The most memory (heap or resident set) seen, in bytes.
    pub reached: usize,
    pub budget: Budget,
}

/// Runs `stage`, or cancels it once the enforced budget is exceeded. A
/// stage that exceeded the budget and finished before the guard looked
/// fails too, so that the run stops where the budget was exceeded and not
/// in a later stage. With no budget enforced it is just `stage.await`.
pub async fn guard<F: Future>(stage: F) -> Result<F::Output, Exceeded> {
    let Some(budget) = enforced() else {
        return Ok(stage.await);
    };
    let exceeded_now = || Exceeded {
        activity: activity_at_trip().unwrap_or_else(activity),
        reached: REACHED.load(Relaxed),
        budget,
    };
    tokio::select! {
        output = stage => match TRIPPED.load(Relaxed) {
            false => Ok(output),
            true => Err(exceeded_now()),
        },
        () = exceeded() => Err(exceeded_now()),
    }
}

/// Resolves once the budget is exceeded.
async fn exceeded() {
    let mut ticks = tokio::time::interval(WATCH_INTERVAL);
    loop {
        ticks.tick().await;
        if TRIPPED.load(Relaxed) {
            return;
        }
    }
}

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

fn activity_at_trip() -> Option<String> {
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
