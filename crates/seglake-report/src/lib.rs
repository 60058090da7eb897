//! One run as a page people can look at: `seglake report RUN_ID` and
//! `GET /report/{run_id}` write a single self-contained HTML file (scripts,
//! styles and data inlined; no request when opened) with the run's identity
//! and lineage, its segments (sizes, outcome rates, profile heat map, a
//! projection of a seeded sample, the choice of k), its risk model (ROC,
//! precision-recall and reliability curves, score distributions, confusion
//! per band, SHAP importance, the highest-scored customers and why), the
//! job's runs over time, and the command that reproduces it.
//!
//! Every number is read from the tables the run published, at the versions
//! its `runs` row records ([`gather`]); charts are Vega-Lite specifications
//! ([`charts`]) drawn by the vendored library ([`assets`]).
//!
//! Modules, in dependency order: `text`, `columns`, `projection`, `gather`,
//! `lineage`, `charts`, `assets`, `page`.

mod assets;
mod charts;
mod columns;
mod error;
mod gather;
mod lineage;
mod page;
mod projection;
mod text;

use seglake_audit::Lake;

pub use error::{ReportError, Result};
pub use gather::TOP_CUSTOMERS;
pub use projection::PROJECTION_SAMPLE;

/// The report of run `run_id` of `lake`, as one HTML document.
pub async fn report_html(lake: &Lake, run_id: &str) -> Result<String> {
    let data = gather::gather(lake, run_id).await?;
    Ok(page::render(&data))
}

/// The id of the lake's latest run (by finish time), for `--latest`.
pub async fn latest_run_id(lake: &Lake) -> Result<String> {
    let runs = lake.runs().await?;
    runs.last().map(|r| r.run_id.clone()).ok_or_else(|| {
        ReportError::Audit(seglake_audit::AuditError::NotFound(format!(
            "no run is recorded in {}/runs yet",
            lake.root.display()
        )))
    })
}
