//! Running a stage under the budget: the stage is cancelled (its future
//! dropped, which frees what it held) once the budget is exceeded, and the
//! error names what was running.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::Ordering::Relaxed;

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

/// Runs `stage`, or cancels it once the enforced budget is exceeded. With
/// no budget enforced it is just `stage.await`.
pub async fn guard<F: Future>(stage: F) -> Result<F::Output, Exceeded> {
    let Some(budget) = enforced() else {
        return Ok(stage.await);
    };
    tokio::select! {
        output = stage => Ok(output),
        () = exceeded() => Err(Exceeded {
            activity: activity(),
            reached: REACHED.load(Relaxed),
            budget,
        }),
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

static ACTIVITY: Mutex<String> = Mutex::new(String::new());

/// Adds `name` to what is running (`stage \`compute\``, then
/// `stage \`compute\`, materialising view \`x\``) until the returned guard
/// is dropped; then the previous name is back. The name goes into
/// [`Exceeded`] and into the allocator's last-resort message.
#[must_use = "the activity is named only while the guard lives"]
pub fn enter_activity(name: &str) -> ActivityGuard {
    let mut current = lock();
    let named = if current.is_empty() {
        name.to_string()
    } else {
        format!("{current}, {name}")
    };
    let previous = std::mem::replace(&mut *current, named);
    ActivityGuard {
        previous: Some(previous),
    }
}

/// What is running, as last named ("the run" when nothing was).
pub fn activity() -> String {
    let name = lock().clone();
    if name.is_empty() {
        "the run".to_string()
    } else {
        name
    }
}

/// Calls `f` with the activity's name when it can be read without waiting
/// (the allocator's last resort must not block on a lock).
pub(crate) fn with_activity(f: impl FnOnce(&str)) {
    if let Ok(name) = ACTIVITY.try_lock() {
        if !name.is_empty() {
            f(&name);
        }
    }
}

fn lock() -> std::sync::MutexGuard<'static, String> {
    ACTIVITY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Restores the previous activity name when dropped.
pub struct ActivityGuard {
    previous: Option<String>,
}

impl Drop for ActivityGuard {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            // The old name is dropped after the lock is released.
            let _replaced = std::mem::replace(&mut *lock(), previous);
        }
    }
}
