//! The auditor's side of a seglake lake: everything that reads what runs
//! published, and the two operations that remove data from it.
//!
//! - [`Lake`]: the tables under a root, the `runs` lineage, the run in
//!   force at a time, and the version that holds a run's output (following
//!   erasures);
//! - [`audit_customer`]: a customer's segment, risk and reasons in a past
//!   segmentation, with the model, inputs, SQL hashes and how to reproduce;
//! - [`backtest()`]: the job's rules replayed over past runs, judged on
//!   the outcomes known now, segment-specific against one-size thresholds;
//! - [`champion`]: which run's models are the champion, and promoting a
//!   challenger;
//! - [`compare`]: a champion and a challenger side by side;
//! - [`diff()`]: the migration matrix between two segmentations;
//! - [`monitor`]: the `monitoring` table as a table of runs with trends;
//! - [`LakeSql`]: read-only SQL with time travel (`table_at`);
//! - [`reproduce()`]: a run again from its lineage, compared bit for bit;
//! - [`vacuum()`]: retention that keeps every version a recent run needs;
//! - [`erase()`]: removing a person from every table without breaking the
//!   audit history of everyone else.

mod audit;
mod backtest;
mod backtest_stats;
mod backtest_text;
pub mod champion;
pub mod compare;
mod diff;
mod erase;
mod error;
mod lake;
pub mod monitor;
mod reproduce;
pub mod screening;
mod sql;
mod vacuum;

pub use audit::{
    CustomerAudit, Selector, audit_customer, pseudonym_key, rows_with_key, select_run,
};
pub use backtest::{BacktestOptions, BacktestReport, DEFAULT_RESAMPLES, backtest};
pub use backtest_stats::{Comparison, Counts, Estimate, SetResult};
pub use diff::{MIGRATIONS, Migration, Side, diff};
pub use erase::{ERASURES, ErasureReport, erase};
pub use error::{AuditError, Result};
pub use lake::{Lake, SEGMENTS, decode_rows, parse_point_in_time, rows_as_json, tables_under};
pub use reproduce::{NOT_COMPARED, ReproduceReport, TableMatch, reproduce, reproduce_command};
pub use sql::{LakeSql, TABLE_AT, check_read_only};
pub use vacuum::{VacuumReport, vacuum};
