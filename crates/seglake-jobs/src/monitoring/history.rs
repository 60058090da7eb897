//! The job's earlier runs, from `runs`, and the tables they published.

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};
use seglake_lake::runs::RUNS_TABLE;
use seglake_lake::{read_table, table_exists};
use seglake_spec::JobSpec;
use seglake_spec::lineage::{RunRecord, RunStatus};

use crate::error::{JobError, Result};

/// The job's succeeded runs that published `segments` and describe a time
/// before `as_of` (not `run_id`, which may be this run completing an
/// earlier attempt), by `as_of`, then by when they finished.
pub(crate) async fn earlier_runs(
    spec: &JobSpec,
    run_id: &str,
    as_of: DateTime<Utc>,
) -> Result<Vec<RunRecord>> {
    let location = seglake_lake::table_location(&spec.output_root, RUNS_TABLE);
    if !table_exists(&location).await? {
        return Ok(Vec::new());
    }
    let batches = read_table(RUNS_TABLE, &location, None).await?;
    let mut runs: Vec<RunRecord> = seglake_lake::rows::decode_rows(&batches)
        .map_err(|e| JobError::Monitoring(format!("reading `{RUNS_TABLE}`: {e}")))?;
    runs.retain(|r| {
        r.job_name == spec.name
            && r.status == RunStatus::Succeeded
            && r.run_id != run_id
            && r.as_of < as_of
            && published_version(r, seglake_spec::SEGMENTS_TABLE).is_some()
    });
    runs.sort_by(|a, b| (a.as_of, a.finished_at).cmp(&(b.as_of, b.finished_at)));
    Ok(runs)
}

/// The version of `table` that `run` published.
pub(crate) fn published_version(run: &RunRecord, table: &str) -> Option<i64> {
    run.outputs
        .iter()
        .find(|o| o.table == table)
        .map(|o| o.version)
}

/// `table` as `run` published it.
pub(crate) async fn published(
    spec: &JobSpec,
    run: &RunRecord,
    table: &str,
) -> Result<Vec<RecordBatch>> {
    let version = published_version(run, table).ok_or_else(|| {
        JobError::Monitoring(format!("run {} published no `{table}`", run.run_id))
    })?;
    let location = seglake_lake::table_location(&spec.output_root, table);
    // After `seglake erase` the recorded version's files are gone: its
    // replacement holds the same rows without the erased customers.
    let entries = seglake_lake::history(table, &location).await?;
    let version = seglake_lake::current_version_of(&entries, version);
    Ok(read_table(table, &location, Some(version)).await?)
}
