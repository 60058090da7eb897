//! `seglake rules backtest`: the job's rules as the job file has them now
//! (so a draft can be tested before it goes live) replayed over every
//! succeeded run of the job whose `as_of` lies in a window, each at the
//! versions that run read and published (time travel): its sources and
//! views at the recorded versions, its feature table, `screening_hits`,
//! `segments` and `segment_profiles`, and the `segments` before it. The
//! alerts are judged against the outcomes the lake knows now (case
//! outcomes and analysts' dispositions); with `--compare`, the same rules
//! with the one-size thresholds everywhere (the bank's legacy set) beside
//! the segment-specific ones.

use std::collections::BTreeSet;

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};
use seglake_jobs::Progress;
use seglake_jobs::rules::{Replay, ReplayTables, ReplayedAlert, ThresholdSet};
use seglake_lake::cases::plain_strings;
use seglake_lake::current_version_of;
use seglake_spec::lineage::{RunRecord, RunStatus};
use seglake_spec::{JobSpec, PROFILES_TABLE, SCREENING_HITS_TABLE, SEGMENTS_TABLE};
use serde::Serialize;

use crate::backtest_stats::{Comparison, SetResult, compare, set_result};
use crate::error::{AuditError, Result};
use crate::lake::Lake;
use crate::reproduce::pin_run_inputs;

/// Bootstrap draws for the comparison's confidence intervals.
pub const DEFAULT_RESAMPLES: usize = 1000;

#[derive(Debug, Clone)]
pub struct BacktestOptions {
    /// Runs whose `as_of` is in [from, to] are replayed.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Also replay with the one-size thresholds and compare.
    pub compare: bool,
    pub resamples: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct BacktestReport {
    pub job: String,
    /// The runs replayed, oldest first.
    pub runs: Vec<String>,
    /// Customers segmented in at least one replayed run.
    pub customers: usize,
    pub segment_specific: SetResult,
    /// With `--compare`: the one-size thresholds everywhere.
    pub global: Option<SetResult>,
    pub comparison: Option<Comparison>,
}

/// The job's succeeded runs with `as_of` in the window, oldest first.
fn runs_in_window(runs: Vec<RunRecord>, spec: &JobSpec, o: &BacktestOptions) -> Vec<RunRecord> {
    let mut runs: Vec<RunRecord> = runs
        .into_iter()
        .filter(|r| {
            r.status == RunStatus::Succeeded
                && r.job_name == spec.name
                && r.as_of >= o.from
                && r.as_of <= o.to
                && r.outputs.iter().any(|t| t.table == SEGMENTS_TABLE)
        })
        .collect();
    runs.sort_by(|a, b| (a.as_of, a.finished_at).cmp(&(b.as_of, b.finished_at)));
    runs
}

fn check_backtestable(spec: &JobSpec, runs: &[RunRecord], o: &BacktestOptions) -> Result<()> {
    if spec.rules.is_none() {
        return Err(AuditError::Invalid(format!(
            "job `{}` has no [rules] section: there is nothing to backtest",
            spec.name
        )));
    }
    if spec.privacy.pseudonymise.is_some() {
        // Published tables name customers by pseudonym while the rules
        // read the sources' raw ids: the two would not join.
        return Err(AuditError::Invalid(format!(
            "job `{}` pseudonymises customer ids; backtests replay rules over raw ids \
             and cannot join them with the published, pseudonymised tables",
            spec.name
        )));
    }
    if runs.is_empty() {
        return Err(AuditError::NotFound(format!(
            "no succeeded run of job `{}` that published segments has an as_of between {} and {}",
            spec.name,
            o.from.to_rfc3339(),
            o.to.to_rfc3339()
        )));
    }
    Ok(())
}

pub async fn backtest(
    lake: &Lake,
    spec: &JobSpec,
    o: &BacktestOptions,
    progress: &dyn Progress,
) -> Result<BacktestReport> {
    let runs = runs_in_window(lake.runs().await?, spec, o);
    check_backtestable(spec, &runs, o)?;
    let mut sets = vec![(
        Replay::new(spec, ThresholdSet::SegmentSpecific)?,
        Vec::new(),
    )];
    if o.compare {
        sets.push((Replay::new(spec, ThresholdSet::Global)?, Vec::new()));
    }
    let mut customers = BTreeSet::new();
    for (i, run) in runs.iter().enumerate() {
        progress.step(&format!(
            "replaying run {} of {} ({}, as_of {})",
            i + 1,
            runs.len(),
            run.run_id,
            run.as_of.to_rfc3339()
        ));
        let (engine, tables) = replay_inputs(lake, spec, run, progress).await?;
        customers.extend(keys_of(&tables.segments.1, &spec.key)?);
        for (replay, alerts) in &mut sets {
            let raised = replay.run(&engine, &tables, &run.run_id, run.as_of).await?;
            alerts.extend(raised);
        }
    }
    progress.step("reading case outcomes and dispositions");
    let now = seglake_jobs::planning_engine(spec, "backtest", Utc::now(), None, progress).await?;
    let confirmed = seglake_jobs::rules::confirmed_customers(spec, &now).await?;
    let alerts: Vec<Vec<ReplayedAlert>> = sets.into_iter().map(|(_, a)| a).collect();
    Ok(BacktestReport {
        job: spec.name.clone(),
        runs: runs.iter().map(|r| r.run_id.clone()).collect(),
        customers: customers.len(),
        segment_specific: set_result(&alerts[0], &customers, &confirmed),
        global: alerts.get(1).map(|g| set_result(g, &customers, &confirmed)),
        comparison: alerts.get(1).map(|g| {
            compare(
                &alerts[0],
                g,
                &customers,
                &confirmed,
                o.resamples,
                spec.seed,
            )
        }),
    })
}

/// An engine over `run`'s inputs at the recorded versions, with the
/// feature table and `screening_hits` it published, and the tables the
/// rules read besides.
async fn replay_inputs(
    lake: &Lake,
    spec: &JobSpec,
    run: &RunRecord,
    progress: &dyn Progress,
) -> Result<(seglake_features::FeatureEngine, ReplayTables)> {
    let mut at_run = spec.clone();
    at_run.as_of = Some(run.as_of);
    let pinned = pin_run_inputs(run, &mut at_run).await?;
    let engine =
        seglake_jobs::planning_engine(&at_run, &run.run_id, run.as_of, Some(pinned), progress)
            .await?;
    // As the run computed them (a view would compute them again).
    for table in [spec.output_table.as_str(), SCREENING_HITS_TABLE] {
        if run.outputs.iter().any(|t| t.table == table) {
            let batches = published(lake, run, table).await?;
            if let Some(first) = batches.first() {
                engine
                    .register_batches(table, first.schema(), batches.clone())
                    .map_err(seglake_jobs::JobError::from)?;
            }
        }
    }
    let tables = ReplayTables {
        segments: with_schema(published(lake, run, SEGMENTS_TABLE).await?, SEGMENTS_TABLE)?,
        profiles: with_schema(published(lake, run, PROFILES_TABLE).await?, PROFILES_TABLE)?,
        previous_segments: previous_segments(lake, run).await?,
    };
    Ok((engine, tables))
}

/// `table` as `run` published it (following erasures since).
async fn published(lake: &Lake, run: &RunRecord, table: &str) -> Result<Vec<RecordBatch>> {
    let (_, version) = lake.version_of(run, table).await?;
    Ok(lake
        .read(table, Some(version))
        .await?
        .iter()
        .map(plain_strings)
        .collect())
}

fn with_schema(
    batches: Vec<RecordBatch>,
    table: &str,
) -> Result<(arrow::datatypes::SchemaRef, Vec<RecordBatch>)> {
    match batches.first() {
        Some(first) => Ok((first.schema(), batches)),
        None => Err(AuditError::NotFound(format!(
            "the `{table}` version the run published holds no rows"
        ))),
    }
}

/// The `segments` version in force before `run` published its own: what
/// the run's rules read as `previous_segments`.
async fn previous_segments(lake: &Lake, run: &RunRecord) -> Result<Vec<RecordBatch>> {
    let (recorded, _) = lake.version_of(run, SEGMENTS_TABLE).await?;
    let history = lake.history(SEGMENTS_TABLE).await?;
    let before = history
        .iter()
        .filter(|e| e.version < recorded && e.replaces_version.is_none())
        .map(|e| e.version)
        .max();
    match before {
        Some(v) => Ok(lake
            .read(SEGMENTS_TABLE, Some(current_version_of(&history, v)))
            .await?
            .iter()
            .map(plain_strings)
            .collect()),
        None => Ok(Vec::new()),
    }
}

fn keys_of(batches: &[RecordBatch], key: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for b in batches {
        let column = b
            .column_by_name(key)
            .ok_or_else(|| AuditError::NotFound(format!("`segments` has no key column `{key}`")))?;
        let text =
            arrow::compute::cast(column, &arrow::datatypes::DataType::Utf8).map_err(|error| {
                AuditError::Arrow {
                    context: "the keys of `segments`".into(),
                    error,
                }
            })?;
        let text = text
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .expect("utf8");
        out.extend(text.iter().flatten().map(str::to_string));
    }
    Ok(out)
}
