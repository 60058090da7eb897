//! The seglake pipeline, one job run end to end on the local engine:
//!
//! ```text
//! pin inputs -> register sources, run_context, views (plans every SQL file)
//!   -> compute the feature table -> quality report
//!   -> with a [segments] section: prepare, train, assign every customer
//!   -> publish the feature table (a new Delta version), then `models`,
//!      `segments` and `segment_profiles`
//!   -> publish the run's lineage row to `runs`
//! ```
//!
//! [`scoring`] scores customers with a published run's models, through the
//! functions the batch run used; [`feedback`] brings the lake's `feedback`
//! table into every run (profiles, validation metrics, SQL labels).
//!
//! Everything that can be wrong with the input (spec, SQL, data) is found
//! before the first byte is written, so a bad run leaves the lake as it was.
//! [`validate`] runs the same checks without reading data or writing.

mod error;
pub mod feedback;
pub mod live_features;
pub mod openlineage;
mod pipeline;
mod privacy;
mod risk;
pub mod scoring;
mod segments;

pub use error::{JobError, Result};
pub use pipeline::{
    Progress, RunOptions, RunSummary, SEGLAKE_VERSION, ValidationReport, run, validate,
};
pub use seglake_features::EngineOptions;
