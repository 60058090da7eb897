//! Stage 6, record: what a run says about itself: the metadata every
//! commit carries, and its lineage row in `runs`.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use seglake_lake::{CommitInfo, PinnedInput};
use seglake_spec::JobSpec;
use seglake_spec::lineage::{OutputRecord, RunRecord, RunStatus, SqlFileRecord};

use crate::compute::Computed;
use crate::error::JobError;
use crate::publish::Published;

/// The version recorded in lineage and commit metadata.
pub const SEGLAKE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What every commit of a run says about it, readable in any Delta reader's
/// history without opening the `runs` table.
pub(crate) fn commit_metadata(spec: &JobSpec, run_id: &str) -> HashMap<String, serde_json::Value> {
    HashMap::from([
        (seglake_lake::META_RUN_ID.to_string(), run_id.into()),
        (seglake_lake::META_JOB.to_string(), spec.name.clone().into()),
        (
            seglake_lake::META_VERSION.to_string(),
            SEGLAKE_VERSION.into(),
        ),
        (
            "seglake.spec_sha256".to_string(),
            spec.sha256.clone().into(),
        ),
    ])
}

/// Who and when a run is: what every record of it repeats.
pub(crate) struct RunIdentity<'a> {
    pub spec: &'a JobSpec,
    pub run_id: &'a str,
    pub as_of: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub clock: Instant,
}

/// The run's lineage row for `runs`.
pub(crate) fn run_record(
    run: &RunIdentity,
    status: RunStatus,
    inputs: &[PinnedInput],
    computed: &Computed,
    published: &Published,
    commits: &[CommitInfo],
    error: Option<&JobError>,
) -> RunRecord {
    let spec = run.spec;
    RunRecord {
        run_id: run.run_id.to_string(),
        job_name: spec.name.clone(),
        status,
        spec_path: spec.path.display().to_string(),
        spec_text: spec.text.clone(),
        spec_sha256: spec.sha256.clone(),
        sql_files: spec
            .sql_files()
            .map(|v| SqlFileRecord {
                view: v.name.clone(),
                path: v.path.display().to_string(),
                sha256: v.sha256.clone(),
                text: v.sql.clone(),
            })
            .collect(),
        inputs: inputs.iter().map(PinnedInput::lineage).collect(),
        seed: spec.seed as i64,
        as_of: run.as_of,
        seglake_version: SEGLAKE_VERSION.to_string(),
        started_at: run.started_at,
        finished_at: run.started_at
            + chrono::Duration::from_std(run.clock.elapsed()).unwrap_or_default(),
        rows_in: computed.rows_in.clone(),
        rows_out: published.rows_out.clone(),
        quality: computed.quality.clone(),
        outputs: commits
            .iter()
            .map(|c| OutputRecord {
                table: c.table.clone(),
                version: c.version,
            })
            .collect(),
        metrics: published.metrics.clone(),
        openlineage: None,
        snapshots: inputs.iter().filter_map(|i| i.snapshot.clone()).collect(),
        states: published.states.clone(),
        error: error.map(|e| seglake_spec::error_chain(e)),
    }
}
