//! Feature views on DataFusion: the customer table every model trains on.
//!
//! A [`FeatureEngine`] owns one DataFusion session. It registers the run's
//! pinned inputs as tables (Parquet and CSV as the exact file list pinned at
//! run start, Delta at its pinned version, duplicates dropped where the spec
//! says `dedupe_on`), a one-row `run_context` table (`as_of`, `run_id`,
//! `seed`) that views use instead of `now()` so a run can be reproduced, and
//! then each SQL view of the job in order, so later views build on earlier
//! ones. Views may only read: anything but a single `SELECT` is refused.
//!
//! The last view is the feature table: one row per customer, sorted by the
//! key, checked for duplicate keys and non-finite numbers before anything
//! is published. [`FeatureEngine::quality_report`] counts what the cleaning
//! found (replays dropped, missing values, outliers) for the run's lineage,
//! and fails on conflicting records (rows sharing a key that differ).
//!
//! In a run, deduplicated sources and the views marked `materialize` are
//! computed once into a scratch folder that goes with the engine; queries
//! hold at most [`EngineOptions::memory_limit`] before spilling to disk.
//!
//! With [`EngineOptions::remote`] (a Ballista cluster), the same session
//! plans here and runs every query there; views marked `materialize` are
//! then written by the executors to a folder under the lake that they all
//! read ([`FeatureEngine::share_scratch_under`]), or, without one, left as
//! plans computed where they are read.
//!
//! Every session (and every process of a cluster) uses
//! [`seglake_aggregates`]: integer `sum` that fails rather than wraps, and
//! `sum`, `avg`, `var*`, `stddev*` over doubles that are exact and do not
//! depend on row order or partitioning, so a feature table is the same
//! bytes on any machine. [`SplitDistinctCounts`] plans `COUNT(DISTINCT x)`
//! beside other aggregates as plain aggregations that are fast and spill;
//! [`InlineConstantRows`] plans a join with `run_context` as constants;
//! [`ShareExactStatistics`] computes the sum, mean and spread of one
//! column from one state; [`CompareInlineStrings`] compares view strings
//! with short literals as whole 16-byte views.
//!
//! [`live`] runs a published run's feature SQL over one customer's raw rows
//! (what `seglake serve` does for a request that posts raw data);
//! [`rolling`] keeps a run's incremental views' state in memory and gives a
//! customer's features from it and the rows streamed since the run (what
//! `seglake serve --follow` scores a customer id with).

mod aggregates;
mod constant_rows;
mod daily;
mod dedupe;
mod determinism;
mod distinct_counts;
mod engine;
mod error;
mod inline_equality;
mod key_hash;
pub mod live;
mod name_functions;
mod quality;
pub mod rolling;
mod scratch;
mod shared_statistics;
mod sources;
#[cfg(test)]
mod test_support;

pub use aggregates::seglake_aggregates;
pub use constant_rows::InlineConstantRows;
pub use daily::{Days, conform, distinct_days, first_kept_day, keep_days, state_schema};
pub use determinism::{OrderDependence, order_dependences};
pub use distinct_counts::SplitDistinctCounts;
pub use engine::{
    EngineOptions, FeatureEngine, FeatureTable, RemoteEngine, RunContext, ViewMode,
    ViewOrderDependence, default_memory_limit, memory_pool, statement_kind,
};
pub use error::{FeatureError, Result, column_list};
pub use inline_equality::{CompareInlineStrings, equals_inline_function};
pub use key_hash::key_hash_function;
pub use name_functions::name_functions;
pub use scratch::SHARED_SCRATCH_DIR;
pub use shared_statistics::ShareExactStatistics;
