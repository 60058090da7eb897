//! The counters follow what is allocated and freed.

use seglake_memory::{CountingAllocator, counting, in_use, peak};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const MIB: usize = 1024 * 1024;

#[test]
fn allocations_and_frees_are_counted() {
    assert!(counting());
    let before = in_use();
    let block = vec![7u8; 64 * MIB];
    assert!(in_use() >= before + 64 * MIB, "{} vs {before}", in_use());
    assert!(peak() >= before + 64 * MIB);
    let mut grown = block;
    grown.reserve_exact(64 * MIB);
    assert!(in_use() >= before + 128 * MIB);
    grown.truncate(MIB);
    grown.shrink_to_fit();
    let after_shrink = in_use();
    assert!(
        after_shrink < before + 2 * MIB,
        "{after_shrink} vs {before}"
    );
    drop(grown);
    // Other test threads allocate too; a few KiB of slack.
    assert!(in_use() < before + MIB);
}
