//! Monitoring, part of every run that segments customers: drift against
//! the job's previous run ([`drift`]), the outcomes analysis of every
//! earlier risk model ([`outcomes_analysis`]), and the `[monitoring]`
//! limits, which decide whether this run's models become the champion or
//! stay the challenger. The rows go to the `monitoring` table in the run's
//! publication; a summary goes to `runs.metrics` under `monitoring`.
//!
//! What earlier runs published may be gone (vacuumed, erased): then the
//! run still publishes, says why monitoring is missing, and, when the job
//! sets limits it could not check, keeps its models as the challenger.

mod drift;
mod history;
mod outcomes_analysis;
mod rows;

use arrow::array::RecordBatch;
use seglake_spec::lineage::RunRecord;
use seglake_spec::monitoring::{GATES_BREACHED, VALIDATION_AUC};
use seglake_spec::{JobSpec, SEGMENTS_TABLE};
use serde_json::json;

use crate::error::Result;
use crate::publish::PublishContext;
use crate::tables::TableData;
use crate::train::Trained;
use rows::Row;

/// The earlier risk models each run judges on outcomes: the latest ones
/// (each costs a read of its `segments`; older ones were judged by the
/// runs of their time, and the `monitoring` table keeps that history).
const MAX_MODELS_JUDGED: usize = 12;

/// What monitoring leaves for the publication and the run's record.
pub(crate) struct Monitored {
    pub table: TableData,
    /// `runs.metrics.monitoring`.
    pub summary: serde_json::Value,
}

/// The role this run's models take.
pub(crate) fn role(breaches: usize, checked: bool, spec: &JobSpec) -> &'static str {
    if breaches > 0 || (!checked && !spec.monitoring.limits.is_empty()) {
        "challenger"
    } else {
        "champion"
    }
}

/// Monitors the run whose feature table is `features` and whose
/// `segments` (as published) are `segments`.
pub(crate) async fn monitor(
    cx: &PublishContext<'_>,
    trained: &Trained,
    features: &[RecordBatch],
    segments: &TableData,
) -> Result<Monitored> {
    let spec = cx.spec;
    let (mut rows, previous, unavailable) = match measure(cx, trained, features, segments).await {
        Ok((rows, previous)) => (rows, previous, None),
        Err(e) => {
            let reason = seglake_spec::error_chain(&e);
            tracing::warn!("monitoring is incomplete for this run: {reason}");
            (Vec::new(), None, Some(reason))
        }
    };
    let breaches = rows::check_limits(&mut rows, &spec.monitoring, previous.as_deref());
    let role = role(breaches.len(), unavailable.is_none(), spec);
    rows.push(Row::new(GATES_BREACHED, breaches.len() as f64));
    let summary = json!({
        "previous_run": previous,
        "role": role,
        "unavailable": unavailable,
        "metrics": rows.iter().filter(|r| r.metric != GATES_BREACHED).map(Row::to_json).collect::<Vec<_>>(),
        "breaches": breaches.iter().map(|r| json!({
            "metric": r.subject(), "value": r.value, "limit": r.limit,
        })).collect::<Vec<_>>(),
    });
    let table = rows::table(&rows, cx.run_id, &spec.name, cx.as_of)?;
    Ok(Monitored { table, summary })
}

/// Every metric of the run; and the previous run's id, if there is one.
async fn measure(
    cx: &PublishContext<'_>,
    trained: &Trained,
    features: &[RecordBatch],
    segments: &TableData,
) -> Result<(Vec<Row>, Option<String>)> {
    let spec = cx.spec;
    let earlier = history::earlier_runs(spec, cx.run_id, cx.as_of).await?;
    let previous = earlier.last();
    let mut rows = Vec::new();
    match previous {
        Some(previous) => {
            rows.extend(drift_rows(spec, trained, previous, features, &segments.1).await?)
        }
        None => rows.extend(drift::segment_shares(None, &segments.1)),
    }
    if let Some(auc) = trained
        .risk
        .as_ref()
        .and_then(|r| r.metrics.get("auc_roc"))
        .and_then(|v| v.as_f64())
    {
        rows.push(Row::new(VALIDATION_AUC, auc));
    }
    rows.extend(outcomes_rows(cx, &earlier).await?);
    Ok((rows, previous.map(|p| p.run_id.clone())))
}

/// The model features: the segmentation's, then the risk model's others.
fn model_features(trained: &Trained) -> Vec<String> {
    let mut features = trained.segments.features.clone();
    for f in trained.risk.iter().flat_map(|r| &r.model.features) {
        if !features.contains(f) {
            features.push(f.clone());
        }
    }
    features
}

async fn drift_rows(
    spec: &JobSpec,
    trained: &Trained,
    previous: &RunRecord,
    features: &[RecordBatch],
    segments: &[RecordBatch],
) -> Result<Vec<Row>> {
    let before = history::published(spec, previous, &spec.output_table).await?;
    let mut rows = drift::feature_psi(&model_features(trained), &before, features);
    let before = history::published(spec, previous, SEGMENTS_TABLE).await?;
    rows.extend(drift::risk_score_psi(&before, segments));
    rows.extend(drift::customers_changed(&spec.key, &before, segments));
    rows.extend(drift::segment_shares(Some(&before), segments));
    Ok(rows)
}

/// Every earlier risk model judged on the outcomes decided since its run.
async fn outcomes_rows(cx: &PublishContext<'_>, earlier: &[RunRecord]) -> Result<Vec<Row>> {
    let spec = cx.spec;
    let (Some(source), Some(risk)) = (
        spec.segments.as_ref().and_then(|s| s.outcomes.as_deref()),
        spec.risk.as_ref(),
    ) else {
        return Ok(Vec::new());
    };
    if earlier.is_empty() {
        return Ok(Vec::new());
    }
    let published_key = |k: &str| match cx.ids.pseudonymiser() {
        Some(hmac) => hmac.pseudonym(k),
        None => k.to_string(),
    };
    let Some(decisions) =
        outcomes_analysis::decisions(cx.engine, source, &spec.key, cx.as_of, &published_key)
            .await?
    else {
        return Ok(Vec::new());
    };
    let bands: Vec<String> = risk.bands.iter().map(|b| b.name.clone()).collect();
    let mut rows = Vec::new();
    let judged = earlier.len().saturating_sub(MAX_MODELS_JUDGED);
    for run in &earlier[judged..] {
        let segments = history::published(spec, run, SEGMENTS_TABLE).await?;
        rows.extend(outcomes_analysis::judge(
            &spec.key, run, &segments, &decisions, &bands,
        ));
    }
    Ok(rows)
}
