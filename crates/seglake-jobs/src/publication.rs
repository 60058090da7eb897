//! How a run publishes: every table's data files are written before the
//! first commit; then one commit per table, each carrying the run id as its
//! Delta application transaction id; last the `runs` row that records every
//! table's version.
//!
//! Because each commit carries the run id, publishing is idempotent: a run
//! re-started with the same id after a crash (or a commit whose reply was
//! lost) finds the commits that landed and makes only the missing ones. A
//! run that fails while publishing removes the files it staged and, when the
//! store lets it, appends a `failed` row to `runs` with the versions that
//! had landed and the error.

use std::collections::HashMap;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use seglake_lake::runs::{self, RUNS_TABLE};
use seglake_lake::{
    AppTransaction, CommitInfo, CommitRetry, Committed, StagedTable, WriteMode, commit, stage,
    table_location,
};
use seglake_spec::JobSpec;
use seglake_spec::lineage::RunRecord;

use crate::error::{JobError, Result};

/// The version of the run's transaction in every commit it makes.
const RUN_TRANSACTION_VERSION: i64 = 1;

pub(crate) struct Publication<'a> {
    spec: &'a JobSpec,
    metadata: HashMap<String, serde_json::Value>,
    txn: AppTransaction,
    retry: CommitRetry,
    staged: Vec<StagedTable>,
    /// Staged early (for a reader that needs the files) and committed after
    /// the tables staged later: see [`Publication::stage_deferred`].
    deferred: Vec<StagedTable>,
    /// Every commit of this run so far, in order.
    pub commits: Vec<CommitInfo>,
    /// How many of them an earlier attempt of the same run had made.
    pub already_landed: usize,
}

impl<'a> Publication<'a> {
    pub fn new(
        spec: &'a JobSpec,
        run_id: &str,
        metadata: HashMap<String, serde_json::Value>,
    ) -> Self {
        Publication {
            spec,
            metadata,
            txn: AppTransaction {
                app_id: run_id.to_string(),
                version: RUN_TRANSACTION_VERSION,
            },
            retry: CommitRetry::from_env(),
            staged: Vec::new(),
            deferred: Vec::new(),
            commits: Vec::new(),
            already_landed: 0,
        }
    }

    /// Writes `table`'s data files under the output root; nothing is
    /// visible until [`Publication::commit_staged`].
    pub async fn stage(
        &mut self,
        table: &str,
        (schema, batches): (SchemaRef, Vec<RecordBatch>),
        mode: WriteMode,
        identifier: Option<&str>,
    ) -> Result<()> {
        let location = table_location(&self.spec.output_root, table);
        let staged = stage(table, &location, schema, batches, mode, identifier).await?;
        self.staged.push(staged);
        Ok(())
    }

    /// Writes `table`'s data files now and returns their URLs; the table is
    /// committed in the commit order it would have had if staged last (see
    /// [`Publication::release_deferred`]).
    pub async fn stage_deferred(
        &mut self,
        table: &str,
        (schema, batches): (SchemaRef, Vec<RecordBatch>),
        mode: WriteMode,
        identifier: Option<&str>,
    ) -> Result<Vec<url::Url>> {
        let location = table_location(&self.spec.output_root, table);
        let staged = stage(table, &location, schema, batches, mode, identifier).await?;
        let files = staged.file_urls();
        self.deferred.push(staged);
        Ok(files?)
    }

    /// Queues the deferred tables for the next [`Publication::commit_staged`].
    pub fn release_deferred(&mut self) {
        self.staged.append(&mut self.deferred);
    }

    /// The tables staged and not yet committed.
    pub fn staged_tables(&self) -> impl Iterator<Item = &str> {
        self.staged.iter().map(|s| s.table.as_str())
    }

    /// Commits every staged table, in the order staged.
    pub async fn commit_staged(&mut self) -> Result<()> {
        while !self.staged.is_empty() {
            let staged = self.staged.remove(0);
            let done = commit(&staged, &self.metadata, &self.txn, &self.retry).await;
            let done = match done {
                Ok(done) => done,
                Err(e) => {
                    staged.discard().await;
                    return Err(e.into());
                }
            };
            if let Committed::Landed { version } = done {
                // An earlier attempt of this run committed it: its files
                // are the table's; the ones staged now are not needed.
                tracing::info!(table = %staged.table, version, "already published by an earlier attempt of this run");
                staged.discard().await;
                self.already_landed += 1;
            }
            self.commits.push(CommitInfo {
                table: staged.table.clone(),
                version: done.version(),
            });
        }
        Ok(())
    }

    /// Appends the run's row to `runs` (the run's last commit).
    pub async fn record(&mut self, record: &RunRecord) -> Result<()> {
        let batch = encode(record)?;
        self.stage(
            RUNS_TABLE,
            (runs::schema(), vec![batch]),
            WriteMode::Append,
            None,
        )
        .await?;
        self.commit_staged().await
    }

    /// After bad input found before any commit: removes the files staged,
    /// records nothing.
    pub async fn fail_silently(mut self) {
        self.release_deferred();
        for staged in std::mem::take(&mut self.staged) {
            staged.discard().await;
        }
    }

    /// After `error`: removes the files staged and not committed, and
    /// appends `record` (status `failed`, the versions that landed) to
    /// `runs`. The failed row carries no run transaction, so a re-run of the
    /// same id can still commit its own row; if even that write fails, the
    /// log says so and the run's error is what the caller reports.
    pub async fn fail(mut self, record: &RunRecord) {
        self.release_deferred();
        for staged in std::mem::take(&mut self.staged) {
            staged.discard().await;
        }
        let location = table_location(&self.spec.output_root, RUNS_TABLE);
        let written = match encode(record) {
            Ok(batch) => seglake_lake::publish(
                RUNS_TABLE,
                &location,
                runs::schema(),
                vec![batch],
                WriteMode::Append,
                &self.metadata,
                None,
            )
            .await
            .map_err(JobError::from),
            Err(e) => Err(e),
        };
        match written {
            Ok(c) => {
                tracing::warn!(run_id = %record.run_id, runs_version = c.version, "the run failed; recorded in `runs`")
            }
            Err(e) => {
                tracing::error!(run_id = %record.run_id, error = %e, "the run failed and could not be recorded in `runs`")
            }
        }
    }
}

fn encode(record: &RunRecord) -> Result<RecordBatch> {
    runs::to_batch(std::slice::from_ref(record)).map_err(|source| JobError::Lineage {
        run_id: record.run_id.clone(),
        source,
    })
}
