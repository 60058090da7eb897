//! Running a stage under the budget: the stage is cancelled (its future
//! dropped, which frees what it held) once the budget is exceeded, and the
//! error names what was running.

use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;

use crate::activity::{activity, activity_at_trip};
use crate::budget::{Budget, MIB};
use crate::thresholds::{REACHED, TRIPPED, WATCH_INTERVAL, enforced};

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
