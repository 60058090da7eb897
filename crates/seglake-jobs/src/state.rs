//! Incremental views' state: per-customer, per-day rows kept in the lake
//! (`state_<view>`, a new version with each run) so that a run computes
//! only the days new source rows fall on.
//!
//! A run finds the state's latest version and, in `runs`, the run that
//! wrote it: that run's pinned inputs say which source files (or Delta
//! version) the state already holds. The files added since are read to
//! learn which days they touch; those days are recomputed from every row
//! of the source on them (late rows and replays land in their own day),
//! the other days are kept, and days before `as_of - keep_days` are
//! dropped. Since a view's days do not depend on each other (checked when
//! it is planned), the result is the state a full computation gives.
//!
//! A full computation is made instead, and said in the log and in `runs`,
//! when there is no state yet, the run that wrote it is not in `runs` (it
//! was interrupted after committing it), a source was rewritten (files
//! removed or changed, a Delta version that removed files), another source
//! the view reads changed, `as_of` went back, or `--full-refresh` asks for
//! it. A state written by another job or another definition of the view is
//! refused unless `--full-refresh` is given.

use std::collections::BTreeSet;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use chrono::{DateTime, NaiveDate, Utc};
use seglake_features::{Days, FeatureEngine, distinct_days, first_kept_day, keep_days};
use seglake_lake::runs::RUNS_TABLE;
use seglake_lake::{PinnedInput, read_table, table_exists, table_location};
use seglake_spec::incremental::{IncrementalSpec, state_table};
use seglake_spec::lineage::{InputRecord, RunRecord, StateRecord};
use seglake_spec::{JobSpec, SourceFormat, ViewSpec};

use crate::error::{JobError, Result};
use crate::progress::{Progress, step};

/// Why a state is computed in full when nothing is wrong with it.
const NO_STATE: &str = "no state yet";
const FULL_REFRESH: &str = "--full-refresh";

/// One incremental view's state as this run computed it.
pub(crate) struct ViewState {
    pub table: String,
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub record: StateRecord,
}

/// How this run brings a view's state up to date.
enum Refresh {
    /// Every day from the first kept day on, and why.
    Full(String),
    /// From the state at `version`: recompute `days`, found in
    /// `new_files` new files of the source.
    Incremental {
        version: i64,
        new_files: usize,
        days: BTreeSet<NaiveDate>,
    },
}

/// The state of every incremental view of `spec` at `as_of`, registered in
/// `engine` under the view's name.
pub(crate) async fn refresh_states(
    spec: &JobSpec,
    engine: &FeatureEngine,
    inputs: &[PinnedInput],
    as_of: DateTime<Utc>,
    full_refresh: bool,
    progress: &dyn Progress,
) -> Result<Vec<ViewState>> {
    let mut states = Vec::new();
    for view in spec.views.iter().filter(|v| v.incremental.is_some()) {
        if let Some(cluster) = engine.remote() {
            return Err(JobError::State {
                view: view.name.clone(),
                table: state_table(&view.name),
                message: format!(
                    "is kept by the local engine only: incremental views are not supported on \
                     a cluster ({cluster}) yet; run the job locally or remove the view from \
                     `features.incremental`"
                ),
            });
        }
        if spec.privacy.pseudonymise.is_some() {
            return Err(JobError::State {
                view: view.name.clone(),
                table: state_table(&view.name),
                message: "would hold customer ids in clear, and the job pseudonymises them \
                          ([privacy]): incremental views are not supported with [privacy] yet"
                    .to_string(),
            });
        }
        let at = StateAt {
            spec,
            view,
            incremental: view.incremental.as_ref().expect("filtered"),
            engine,
            as_of,
        };
        let refresh = if full_refresh {
            Refresh::Full(FULL_REFRESH.to_string())
        } else {
            at.plan(inputs).await?
        };
        let state = at.compute(refresh, progress).await?;
        engine.register_batches(&view.name, state.schema.clone(), state.batches.clone())?;
        states.push(state);
    }
    Ok(states)
}

struct StateAt<'a> {
    spec: &'a JobSpec,
    view: &'a ViewSpec,
    incremental: &'a IncrementalSpec,
    engine: &'a FeatureEngine,
    as_of: DateTime<Utc>,
}

impl StateAt<'_> {
    fn table(&self) -> String {
        state_table(&self.view.name)
    }

    fn refused(&self, message: String) -> JobError {
        JobError::State {
            view: self.view.name.clone(),
            table: self.table(),
            message,
        }
    }

    /// Whether the state can be brought up to date, and from which files.
    async fn plan(&self, inputs: &[PinnedInput]) -> Result<Refresh> {
        let table = self.table();
        let location = table_location(&self.spec.output_root, &table);
        if !table_exists(&location).await? {
            return Ok(Refresh::Full(NO_STATE.to_string()));
        }
        let history = seglake_lake::history(&table, &location).await?;
        let version = history.iter().map(|h| h.version).max().unwrap_or(0);
        let Some(writer) = self.writer(version).await? else {
            return Ok(Refresh::Full(format!(
                "state version {version} is not recorded in `runs` (the run that wrote it \
                 was interrupted)"
            )));
        };
        self.check_same_definition(&writer)?;
        if self.as_of < writer.as_of {
            return Ok(Refresh::Full(format!(
                "as_of {} is before the state's {}",
                self.as_of, writer.as_of
            )));
        }
        if let Some(why) = self.other_input_changed(&writer, inputs).await? {
            return Ok(Refresh::Full(why));
        }
        let current = inputs
            .iter()
            .find(|i| i.spec.name == self.incremental.source)
            .expect("every source is pinned");
        let Some(recorded) = writer
            .inputs
            .iter()
            .find(|i| i.name == self.incremental.source)
        else {
            return Ok(Refresh::Full(format!(
                "run {} did not read source `{}`",
                writer.run_id, self.incremental.source
            )));
        };
        let new_files = match new_files(recorded, current).await? {
            Ok(files) => files,
            Err(why) => return Ok(Refresh::Full(why)),
        };
        let first = first_kept_day(self.as_of, self.incremental);
        let days = self
            .engine
            .days_in_files(
                &self.incremental.source,
                &self.incremental.time_column,
                &new_files,
                first,
            )
            .await?;
        Ok(Refresh::Incremental {
            version,
            new_files: new_files.len(),
            days,
        })
    }

    /// The run `runs` records as having published state `version`.
    async fn writer(&self, version: i64) -> Result<Option<RunRecord>> {
        let location = table_location(&self.spec.output_root, RUNS_TABLE);
        if !table_exists(&location).await? {
            return Ok(None);
        }
        let batches = read_table(RUNS_TABLE, &location, None).await?;
        let runs: Vec<RunRecord> = seglake_lake::rows::decode_rows(&batches)
            .map_err(|e| self.refused(format!("cannot read `{RUNS_TABLE}`: {e}")))?;
        let table = self.table();
        Ok(runs.into_iter().rev().find(|r| {
            r.outputs
                .iter()
                .any(|o| o.table == table && o.version == version)
        }))
    }

    /// Refuses a state another job, or another definition of the view,
    /// wrote: its rows are not this view's.
    fn check_same_definition(&self, writer: &RunRecord) -> Result<()> {
        let rebuild = "; run with --full-refresh to rebuild it from the sources";
        if writer.job_name != self.spec.name {
            return Err(self.refused(format!(
                "was written by job `{}` (run {}), not `{}`{rebuild}",
                writer.job_name, writer.run_id, self.spec.name
            )));
        }
        let recorded = writer
            .states
            .iter()
            .find(|s| s.view == self.view.name)
            .map(|s| s.fingerprint.as_str());
        let current = self.incremental.fingerprint(&self.view.sha256);
        if recorded != Some(current.as_str()) {
            return Err(self.refused(format!(
                "was written by run {} from another definition of the view (its SQL, \
                 source, time_column or keep_days differ){rebuild}",
                writer.run_id
            )));
        }
        Ok(())
    }

    /// A source other than the incremental one that the view reads and
    /// that changed since the state was written: every day may change.
    async fn other_input_changed(
        &self,
        writer: &RunRecord,
        inputs: &[PinnedInput],
    ) -> Result<Option<String>> {
        let reads = self.engine.tables_read(self.spec, self.view).await?;
        for input in inputs {
            let name = &input.spec.name;
            if name == &self.incremental.source || !reads.contains(name) {
                continue;
            }
            let recorded = writer.inputs.iter().find(|i| &i.name == name);
            if !recorded.is_some_and(|r| r.same_version(&input.lineage())) {
                return Ok(Some(format!(
                    "source `{name}`, which the view reads, changed"
                )));
            }
        }
        Ok(None)
    }

    async fn compute(&self, refresh: Refresh, progress: &dyn Progress) -> Result<ViewState> {
        match refresh {
            Refresh::Full(why) => self.compute_full(why, progress).await,
            Refresh::Incremental {
                version,
                new_files,
                days,
            } => {
                step(
                    progress,
                    &format!(
                        "incremental view `{}`: {new_files} new file(s) of `{}`, recomputing {} \
                         day(s), keeping the others from state version {version}",
                        self.view.name,
                        self.incremental.source,
                        days.len()
                    ),
                );
                self.compute_days(version, new_files, days).await
            }
        }
    }

    /// Every day from the first kept one.
    async fn compute_full(&self, why: String, progress: &dyn Progress) -> Result<ViewState> {
        let first = first_kept_day(self.as_of, self.incremental);
        let message = format!(
            "incremental view `{}`: computing every day from {first} ({why})",
            self.view.name
        );
        // A rebuild nobody asked for is worth seeing by default (the
        // progress steps are logged at info).
        if why == NO_STATE || why == FULL_REFRESH {
            step(progress, &message);
        } else {
            tracing::warn!("{message}");
        }
        let (schema, batches) = self
            .engine
            .compute_days(self.spec, self.view, &Days::From(first))
            .await?;
        let days = distinct_days(&batches).len();
        Ok(ViewState {
            table: self.table(),
            schema,
            batches,
            record: self.record("full", Some(why), 0, days, 0),
        })
    }

    /// `days` recomputed, the other days of state `version` kept, and the
    /// days before the window dropped.
    async fn compute_days(
        &self,
        version: i64,
        new_files: usize,
        days: BTreeSet<NaiveDate>,
    ) -> Result<ViewState> {
        let first = first_kept_day(self.as_of, self.incremental);
        let table = self.table();
        let (schema, mut batches) = self
            .engine
            .compute_days(self.spec, self.view, &Days::Only(days.clone()))
            .await?;
        let location = table_location(&self.spec.output_root, &table);
        let old = read_table(&table, &location, Some(version)).await?;
        let old_days = distinct_days(&old);
        let old = seglake_features::conform(
            &schema,
            old,
            &format!("reading state table `{table}` version {version}"),
        )?;
        let kept = keep_days(old, first, &days)
            .map_err(|e| self.refused(format!("cannot filter version {version}'s rows: {e}")))?;
        let kept_days = distinct_days(&kept).len();
        batches.extend(kept);
        let mut record = self.record("incremental", None, new_files, days.len(), kept_days);
        record.days_dropped = old_days.iter().filter(|d| **d < first).count() as i64;
        Ok(ViewState {
            table,
            schema,
            batches,
            record,
        })
    }

    fn record(
        &self,
        mode: &str,
        reason: Option<String>,
        new_files: usize,
        days_computed: usize,
        days_kept: usize,
    ) -> StateRecord {
        StateRecord {
            view: self.view.name.clone(),
            table: self.table(),
            fingerprint: self.incremental.fingerprint(&self.view.sha256),
            mode: mode.to_string(),
            reason,
            new_files: new_files as i64,
            days_computed: days_computed as i64,
            days_kept: days_kept as i64,
            days_dropped: 0,
        }
    }
}

/// The source's files the state does not hold yet, or why the state
/// cannot be brought up to date from them (the source was rewritten).
async fn new_files(
    recorded: &InputRecord,
    current: &PinnedInput,
) -> Result<std::result::Result<Vec<url::Url>, String>> {
    let name = &current.spec.name;
    match current.spec.format {
        SourceFormat::Delta => {
            let (Some(then), Some(now)) = (recorded.delta_version, current.delta_version) else {
                return Ok(Err(format!("source `{name}` was not a Delta table before")));
            };
            if now < then {
                return Ok(Err(format!(
                    "source `{name}` is at version {now}, before the state's {then}"
                )));
            }
            let before = PinnedInput {
                delta_version: Some(then),
                ..current.clone()
            };
            let old: BTreeSet<url::Url> = seglake_lake::delta_data_files(&before)
                .await?
                .into_iter()
                .collect();
            let new = seglake_lake::delta_data_files(current).await?;
            let kept = new.iter().filter(|u| old.contains(*u)).count();
            if kept < old.len() {
                return Ok(Err(format!(
                    "source `{name}` was rewritten between versions {then} and {now} \
                     ({} file(s) removed: an overwrite, delete or compaction)",
                    old.len() - kept
                )));
            }
            Ok(Ok(new.into_iter().filter(|u| !old.contains(u)).collect()))
        }
        _ => {
            for file in &recorded.files {
                match current.files.iter().find(|f| f.path == file.path) {
                    None => {
                        return Ok(Err(format!(
                            "source `{name}` was rewritten: file {} was removed",
                            file.path
                        )));
                    }
                    Some(now) if !file.same_file(now) => {
                        return Ok(Err(format!(
                            "source `{name}` was rewritten: file {} changed",
                            file.path
                        )));
                    }
                    Some(_) => {}
                }
            }
            Ok(Ok(current
                .file_urls
                .iter()
                .zip(&current.files)
                .filter(|(_, f)| !recorded.files.iter().any(|r| r.path == f.path))
                .map(|(u, _)| u.clone())
                .collect()))
        }
    }
}
