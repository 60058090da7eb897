//! A stage that keeps allocating is cancelled once the budget is exceeded:
//! the error names what was running and how far it got, and what it held
//! is freed.

use std::time::Duration;

use seglake_memory::{
    Budget, CountingAllocator, enforce, enter_activity, guard, in_use, resident_bytes,
};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const MIB: usize = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_past_the_budget_is_cancelled_with_a_named_error() {
    // Nothing is stopped while the budget holds.
    let base = in_use().max(resident_bytes().unwrap());
    enforce(Budget {
        limit: base + 64 * MIB,
        margin: 512 * MIB,
    });
    let fine = guard(async { vec![1u8; 16 * MIB].len() }).await.unwrap();
    assert_eq!(fine, 16 * MIB);

    // A limit of base + 32 MiB, stopped at base + 64 MiB: a stage taking
    // 16 MiB at a time is stopped after a few of them, long before 1 GiB.
    let budget = Budget {
        limit: base + 32 * MIB,
        margin: 64 * MIB,
    };
    enforce(budget);
    let _named = enter_activity("stage `test`");
    let _view = enter_activity("view `greedy`");
    let greedy = async {
        let mut held = Vec::new();
        for _ in 0..64 {
            held.push(vec![1u8; 16 * MIB]);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        held.len()
    };
    let exceeded = guard(greedy).await.unwrap_err();
    assert_eq!(exceeded.activity, "stage `test`, view `greedy`");
    assert_eq!(exceeded.budget, budget);
    assert!(exceeded.reached > budget.stop_at(), "{exceeded:?}");
    assert!(
        exceeded.reached < budget.ceiling() + 16 * MIB,
        "{exceeded:?}"
    );
    let message = exceeded.to_string();
    assert!(message.contains("view `greedy`"), "{message}");
    assert!(message.contains("--memory-limit"), "{message}");
    // The cancelled stage's memory is back.
    assert!(in_use() < base + 8 * MIB, "{} vs {base}", in_use());

    // A stage that went past the stop and finished before the guard looked
    // fails as well: the run stops in the stage that exceeded the budget.
    enforce(Budget {
        limit: base + 32 * MIB,
        margin: 512 * MIB,
    });
    let quick = guard(async { vec![1u8; 320 * MIB].len() }).await;
    let exceeded = quick.unwrap_err();
    assert_eq!(exceeded.activity, "stage `test`, view `greedy`");
    assert!(exceeded.reached > base + 288 * MIB, "{exceeded:?}");
}
