//! Monitoring rules (`[rules]`): after scoring, every rule's SQL runs over
//! the run's tables (sources, views, the feature table, this run's
//! `segments`, the last published `previous_segments`, the segment's
//! `thresholds`); its rows become alerts (a stable id per rule, customer
//! and window; suppressed within `suppress_for` of the rule's last alert on
//! the customer), alerts are grouped per customer into cases, and analysts'
//! dispositions move the cases. `alerts` (appended) and `cases` (a complete
//! snapshot) are published with the run.
//!
//! [`Replay`] runs the same rules over past runs' published tables, with
//! the segment-specific or the one-size thresholds: the backtest.

mod alerts;
mod cases;
mod events;
mod hits;
mod replay;
mod thresholds;

use chrono::{DateTime, Utc};
use seglake_features::FeatureEngine;
use seglake_lake::{history, read_table, table_exists, table_location};
use seglake_spec::{
    ALERTS_TABLE, CASES_TABLE, JobSpec, Location, PREVIOUS_SEGMENTS_TABLE, PROFILES_TABLE,
    RulesSpec, SEGMENTS_TABLE, THRESHOLDS_TABLE,
};
use serde::Serialize;

pub use alerts::{RuleCounts, alert_id};
pub use cases::{CaseCounts, case_id};
pub use events::lake_events;
pub use hits::REASON_COLUMN;
pub use replay::{Replay, ReplayTables, ReplayedAlert, confirmed_customers};
pub use thresholds::ThresholdSet;

use crate::error::{JobError, Result};
use crate::tables::TableData;

/// What the rules did in a run: in `runs.metrics.rules` and the summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RulesMetrics {
    pub rules: Vec<RuleCounts>,
    pub alerts: usize,
    pub suppressed: usize,
    pub cases: CaseCounts,
}

/// The run's rule outputs, ready to stage.
pub(crate) struct Raised {
    pub alerts: TableData,
    pub cases: TableData,
    pub metrics: RulesMetrics,
}

/// What a rule run knows about the run.
pub(crate) struct RulesRun<'a> {
    pub spec: &'a JobSpec,
    pub rules: &'a RulesSpec,
    pub engine: &'a FeatureEngine,
    pub run_id: &'a str,
    pub as_of: DateTime<Utc>,
    /// With `[privacy] pseudonymise`: alerts and cases name customers by
    /// pseudonym, as every published table does.
    pub pseudonyms: Option<&'a seglake_spec::PseudonymKey>,
}

impl RulesRun<'_> {
    /// A customer id as alerts and cases publish it.
    fn published_key(&self, key: &str) -> String {
        match self.pseudonyms {
            Some(hmac) => hmac.pseudonym(key),
            None => key.to_string(),
        }
    }
}

fn lake_table(spec: &JobSpec, table: &str) -> Location {
    table_location(&spec.output_root, table)
}

/// The latest version of `table`, or of its versions the latest not made
/// by `except_run`; `None` when there is none.
pub(crate) async fn latest_version(
    location: &Location,
    table: &str,
    except_run: Option<&str>,
) -> Result<Option<i64>> {
    if !table_exists(location).await? {
        return Ok(None);
    }
    let entries = history(table, location).await?;
    Ok(entries
        .iter()
        .filter(|e| except_run.is_none() || e.run_id.as_deref() != except_run)
        .map(|e| e.version)
        .max())
}

async fn read_latest(
    spec: &JobSpec,
    table: &str,
    except_run: Option<&str>,
) -> Result<Vec<arrow::array::RecordBatch>> {
    let location = lake_table(spec, table);
    match latest_version(&location, table, except_run).await? {
        Some(v) => Ok(read_table(table, &location, Some(v))
            .await?
            .iter()
            .map(seglake_lake::cases::plain_strings)
            .collect()),
        None => Ok(Vec::new()),
    }
}

/// Registers what the rules read besides the sources and views:
/// `segments`, `segment_profiles`, `previous_segments` and `thresholds`.
/// Returns the segments' thresholds.
async fn register(
    run: &RulesRun<'_>,
    segments: &TableData,
    profiles: &TableData,
    previous: Vec<arrow::array::RecordBatch>,
    set: ThresholdSet,
) -> Result<thresholds::SegmentThresholdValues> {
    let engine = run.engine;
    engine.register_batches(SEGMENTS_TABLE, segments.0.clone(), segments.1.clone())?;
    engine.register_batches(PROFILES_TABLE, profiles.0.clone(), profiles.1.clone())?;
    // As published then: the types a Delta reader gives back (and the
    // columns that run had) may differ from this run's batches.
    let schema = previous
        .first()
        .map(|b| b.schema())
        .unwrap_or_else(|| segments.0.clone());
    engine.register_batches(PREVIOUS_SEGMENTS_TABLE, schema, previous)?;
    let listed = thresholds::segments_of(profiles);
    let values = thresholds::resolve(engine, &run.rules.thresholds, &listed, set).await?;
    let (schema, batches) = thresholds::table(&run.rules.thresholds, &listed, &values)?;
    engine.register_batches(THRESHOLDS_TABLE, schema, batches)?;
    Ok(values)
}

/// `previous` (published under pseudonyms) with the raw ids of this run's
/// customers, so rules join it with this run's tables; rows of customers
/// not in this run keep their pseudonym and join nothing.
fn with_raw_ids(
    run: &RulesRun<'_>,
    previous: Vec<arrow::array::RecordBatch>,
    segments: &TableData,
) -> Result<Vec<arrow::array::RecordBatch>> {
    use arrow::array::{Array, StringArray};
    let key = &run.spec.key;
    let mut raw_of = std::collections::HashMap::new();
    for b in &segments.1 {
        let keys = arrow::compute::cast(
            b.column_by_name(key).expect("the key"),
            &arrow::datatypes::DataType::Utf8,
        )
        .map_err(|source| JobError::Output {
            table: SEGMENTS_TABLE.into(),
            source,
        })?;
        let keys = keys.as_any().downcast_ref::<StringArray>().expect("utf8");
        for i in 0..keys.len() {
            raw_of.insert(run.published_key(keys.value(i)), keys.value(i).to_string());
        }
    }
    previous
        .into_iter()
        .map(|b| {
            let index = b
                .schema()
                .index_of(key)
                .map_err(|source| JobError::Output {
                    table: PREVIOUS_SEGMENTS_TABLE.into(),
                    source,
                })?;
            let ids = b
                .column(index)
                .as_any()
                .downcast_ref::<StringArray>()
                .cloned();
            let Some(ids) = ids else { return Ok(b) };
            let raw: StringArray = ids
                .iter()
                .map(|p| p.map(|p| raw_of.get(p).cloned().unwrap_or_else(|| p.to_string())))
                .collect();
            let mut columns = b.columns().to_vec();
            columns[index] = std::sync::Arc::new(raw);
            arrow::array::RecordBatch::try_new(b.schema(), columns).map_err(|source| {
                JobError::Output {
                    table: PREVIOUS_SEGMENTS_TABLE.into(),
                    source,
                }
            })
        })
        .collect()
}

/// Runs every rule and returns each one's hits, in the job's rule order.
async fn all_hits(run: &RulesRun<'_>) -> Result<Vec<Vec<hits::RuleHit>>> {
    let mut out = Vec::new();
    for rule in &run.rules.rules {
        out.push(hits::run(run.engine, rule, &run.spec.key).await?);
    }
    Ok(out)
}

/// The run's alerts and cases.
pub(crate) async fn raise(
    run: &RulesRun<'_>,
    segments: &TableData,
    profiles: &TableData,
) -> Result<Raised> {
    let key = &run.spec.key;
    let mut previous = read_latest(run.spec, SEGMENTS_TABLE, Some(run.run_id)).await?;
    if run.pseudonyms.is_some() {
        previous = with_raw_ids(run, previous, segments)?;
    }
    let values = register(
        run,
        segments,
        profiles,
        previous,
        ThresholdSet::SegmentSpecific,
    )
    .await?;
    let mut hits = all_hits(run).await?;
    for rule_hits in &mut hits {
        for hit in rule_hits.iter_mut() {
            hit.key = run.published_key(&hit.key);
        }
        rule_hits.sort_by(|a, b| a.key.cmp(&b.key));
    }
    let prior = alerts::PriorAlerts::read(&read_latest(run.spec, ALERTS_TABLE, None).await?, key);
    let segment_rows = alerts::segment_rows(segments, key)?
        .into_iter()
        .map(|(k, v)| (run.published_key(&k), v))
        .collect();
    let as_of = run.as_of.timestamp_micros();
    let cx = alerts::AlertContext {
        prior: &prior,
        segments: &segment_rows,
        thresholds: &values,
        as_of_micros: as_of,
    };
    let mut metrics = RulesMetrics::default();
    let mut new_alerts = Vec::new();
    for (rule, rule_hits) in run.rules.rules.iter().zip(hits) {
        let (raised, counts) = alerts::select(rule, rule_hits, &cx);
        metrics.alerts += counts.alerts;
        metrics.suppressed += counts.suppressed;
        metrics.rules.push(counts);
        new_alerts.extend(raised);
    }
    let mut cases = cases::read(&read_latest(run.spec, CASES_TABLE, None).await?)?;
    let dispositions = cases::dispositions(run.engine).await?;
    cases::apply_dispositions(
        &mut cases,
        &dispositions,
        as_of,
        run.run_id,
        &mut metrics.cases,
    );
    cases::add_alerts(
        &mut cases,
        &mut new_alerts,
        as_of,
        run.run_id,
        &mut metrics.cases,
    );
    let cases = cases::table(&mut cases, key, &mut metrics.cases)?;
    let alerts = alerts::table(
        &new_alerts,
        key,
        run.run_id,
        as_of,
        Utc::now().timestamp_micros(),
    )?;
    Ok(Raised {
        alerts,
        cases,
        metrics,
    })
}

/// For `validate`: registers empty `segments`, `segment_profiles`,
/// `previous_segments` and `thresholds` and checks that every rule is one
/// SELECT over known tables and columns returning the key and a `reason`.
pub(crate) async fn check(spec: &JobSpec, engine: &FeatureEngine) -> Result<()> {
    let Some(rules) = &spec.rules else {
        return Ok(());
    };
    // The rules see this run's `segments` with the raw ids, in the last
    // view's type.
    let last_view = &spec.views.last().expect("validated: a view").name;
    let key_type = engine
        .table_schema(last_view)
        .await?
        .field_with_name(&spec.key)
        .map(|f| f.data_type().clone())
        .unwrap_or(arrow::datatypes::DataType::Utf8);
    let segments = crate::tables::empty_segments_table(spec, &key_type)?;
    engine.register_batches(SEGMENTS_TABLE, segments.0.clone(), Vec::new())?;
    engine.register_batches(PREVIOUS_SEGMENTS_TABLE, segments.0.clone(), Vec::new())?;
    let (schema, _) = thresholds::table(&rules.thresholds, &[], &Default::default())?;
    engine.register_batches(THRESHOLDS_TABLE, schema, Vec::new())?;
    for rule in &rules.rules {
        let schema = engine.query_file_schema(&rule.sql).await?;
        hits::check_columns(rule, &spec.key, &schema)?;
    }
    Ok(())
}
