//! The memory limit as a promise: the process's heap is counted, and a run
//! that goes past `--memory-limit` plus a stated margin stops with a named
//! error (exit 2) instead of being killed by the kernel.
//!
//! DataFusion's memory pool bounds what its operators *reserve*: sorts and
//! aggregations spill past it. Much is allocated outside any reservation
//! (batches in flight, Parquet decoding, some accumulators' sets, the
//! feature table a model trains on, the models themselves), so a pool limit
//! alone is no bound on the process. This crate counts every allocation:
//!
//! - [`CountingAllocator`] is the binary's global allocator (the system
//!   allocator, counted): bytes in use and the peak, per process.
//! - [`Budget`] is the limit and its margin. A watchdog thread reads the
//!   resident set every 10 ms and lowers the allocator's thresholds by what
//!   the process holds outside its heap (code, stacks, pages the allocator
//!   kept), so both hold for the resident set, which is what the kernel and
//!   a container limit count: past `limit + margin / 2` the run is
//!   *stopped*; past `limit + margin` (an allocation burst outran the stop)
//!   the allocator itself *ends the process* with exit code 2 and a message.
//! - [`guard`] runs a stage (a future) and cancels it, returning
//!   [`Exceeded`], once the budget is passed; [`enter_activity`] names what is
//!   running (the stage, the view) for the message.
//!
//! Nothing here is seglake-specific beyond the messages; the counters cost
//! one relaxed atomic add per allocation and per free.

// In dependency order: a module uses only those above it.
mod activity;
mod allocator;
mod budget;
mod guard;
mod last_resort;
mod resident;
mod thresholds;
mod watchdog;

pub use activity::{ActivityGuard, activity, enter_activity};
pub use allocator::{CountingAllocator, counting, in_use, peak};
pub use budget::Budget;
pub use guard::{Exceeded, guard};
pub use resident::resident_bytes;
pub use thresholds::enforced;
pub use watchdog::enforce;
