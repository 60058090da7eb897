//! The seglake pipeline, one job run end to end on the local engine:
//!
//! ```text
//! pin inputs -> register sources, run_context, views (plans every SQL file)
//!   -> compute the feature table -> quality report
//!   -> with a [segments] section: prepare, train, assign every customer
//!   -> publish ([`publication`](crate::publication)): `models` first (the
//!      other tables name its version), then the data files of the feature
//!      table, `segments` and `segment_profiles`, then one commit each, all
//!      carrying the run id as the Delta transaction id
//!   -> the run's lineage row to `runs`, last
//! ```
//!
//! [`scoring`] scores customers with a published run's models, through the
//! functions the batch run used; [`feedback`] brings the lake's `feedback`
//! table into every run (profiles, validation metrics, SQL labels).
//!
//! Everything that can be wrong with the input (spec, SQL, data) is found
//! before the first byte is written, so a bad run leaves the lake as it was.
//! [`validate`] runs the same checks without reading data or writing.

pub mod cluster_scoring;
mod error;
pub mod feedback;
pub mod live_features;
pub mod openlineage;
mod pipeline;
mod privacy;
mod publication;
mod risk;
pub mod scoring;
mod segments;

pub use error::{JobError, Result};
pub use pipeline::{
    Progress, RunOptions, RunSummary, SEGLAKE_VERSION, ValidationReport, run, validate,
};
pub use seglake_features::EngineOptions;
