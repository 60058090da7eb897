//! The seglake pipeline: one job run end to end, as typed stages.
//!
//! ```text
//! prepare   pin inputs; register sources, run_context, views (plans every SQL file)
//!    |
//! compute   the feature table, input row counts, the quality report
//!    |
//! train     with [segments]: preparation + segmentation, case outcomes and
//!    |      feedback per segment; with [risk]: the label view, the booster,
//!    |      every customer's score, band and reasons
//!    |
//! score     every customer's segment and risk columns: in process, or on the
//!    |      cluster with seglake-model's scoring function
//!    |
//! publish   `models` first (the other tables name its version), then
//!    |      with [rules]: the rules over the run's tables -> alerts, cases;
//!    |      `monitoring` (drift, outcomes analysis, limits: champion or
//!    |      challenger); `segments`, `segment_profiles` and the feature
//!    |      table, one commit each, all carrying the run id as the Delta
//!    |      transaction id
//!    |
//! record    the run's lineage row to `runs`, last
//! ```
//!
//! Each stage is a module with one entry function ([`prepare`],
//! [`compute`], [`train`], [`score`], [`publish`], [`record`]);
//! [`pipeline`] chains them and owns the one failure path. The trained
//! models are written in seglake-model's format, which batch scoring, the
//! cluster and `seglake serve` read back. [`feedback`] brings the lake's
//! `feedback` table into every run (profiles, validation metrics, SQL
//! labels).
//!
//! Everything that can be wrong with the input (spec, SQL, data) is found
//! before the first byte is written, so a bad run leaves the lake as it was.
//! [`validate`] runs the same checks without reading data or writing.

// The stages, in the order a run takes them.
mod compute;
mod pipeline;
mod prepare;
mod publish;
mod record;
mod score;
mod train;

// What the stages are made of.
mod bands;
mod categorical;
mod cluster_scoring;
mod columns;
mod error;
mod explain;
pub mod feedback;
mod monitoring;
pub mod openlineage;
mod outcomes;
mod privacy;
mod progress;
mod publication;
mod risk;
mod risk_labels;
mod risk_metrics;
pub mod rules;
mod run_columns;
mod run_metrics;
pub mod screening;
mod segment_labels;
mod segmentation;
pub mod snapshots;
mod state;
mod tables;

pub use error::{JobError, Result};
pub use pipeline::{RunOptions, RunSummary, ValidationReport, planning_engine, run, validate};
pub use progress::Progress;
pub use record::SEGLAKE_VERSION;
pub use seglake_features::{EngineOptions, default_memory_limit};
