//! A SQL file the job runs: a feature view or the label view.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct ViewSpec {
    /// The view name: the SQL file name without `.sql`.
    pub name: String,
    pub path: PathBuf,
    pub sql: String,
    pub sha256: String,
    /// Computed once per run and stored, instead of re-evaluated by each
    /// view that reads it.
    pub materialize: bool,
    /// `[[features.incremental]]`: the view is kept as per-day state.
    pub incremental: Option<crate::incremental::IncrementalSpec>,
}
