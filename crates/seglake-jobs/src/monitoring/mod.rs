//! Monitoring, part of every run that segments customers: drift against
//! the job's previous run ([`drift`]), the outcomes analysis of earlier
//! risk models ([`outcomes_analysis`]), alert, case and feedback KPIs
//! ([`kpis`]), and the `[monitoring]`
//! limits, which decide whether this run's models become the champion or
//! stay the challenger. The rows go to the `monitoring` table in the run's
//! publication; a summary goes to `runs.metrics` under `monitoring`.
//!
//! What earlier runs published may be gone (vacuumed, erased): then the
//! run still publishes, says why monitoring is missing, and, when the job
//! sets limits it could not check, keeps its models as the challenger.

mod decisions;
mod drift;
mod history;
mod kpis;
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

/// What the run produced that monitoring looks at.
pub(crate) struct RunTables<'a> {
    /// The feature table as computed.
    pub features: &'a [RecordBatch],
    /// `segments` as it is published.
    pub segments: &'a [RecordBatch],
    /// The alerts the rules raised, when the job has rules.
    pub alerts: Option<&'a [RecordBatch]>,
}

/// Monitors the run that produced `tables`.
pub(crate) async fn monitor(
    cx: &PublishContext<'_>,
    trained: &Trained,
    tables: &RunTables<'_>,
) -> Result<Monitored> {
    let spec = cx.spec;
    let (mut rows, previous, unavailable) = match measure(cx, trained, tables).await {
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
    tables: &RunTables<'_>,
) -> Result<(Vec<Row>, Option<String>)> {
    let spec = cx.spec;
    let earlier = history::earlier_runs(spec, cx.run_id, cx.as_of).await?;
    let previous = earlier.last();
    let mut rows = match previous {
        Some(previous) => drift_rows(spec, trained, previous, tables).await?,
        None => drift::segments(&spec.key, None, tables.segments),
    };
    if let Some(auc) = trained
        .risk
        .as_ref()
        .and_then(|r| r.metrics.get("auc_roc"))
        .and_then(|v| v.as_f64())
    {
        rows.push(Row::new(VALIDATION_AUC, auc));
    }
    if let Some(alerts) = tables.alerts {
        rows.extend(kpis::alerts(alerts));
    }
    if let Some(decided) = decisions(cx).await? {
        rows.extend(outcomes_rows(cx, &earlier, &decided).await?);
        let segment_of = rows::labels_by_key(&spec.key, tables.segments).unwrap_or_default();
        rows.extend(kpis::cases(
            &decided,
            previous.map(|p| p.as_of),
            &segment_of,
        ));
    }
    rows.extend(kpis::feedback(&trained.feedback, &trained.segments.labels));
    Ok((rows, previous.map(|p| p.run_id.clone())))
}

/// The case decisions of the job's outcomes source up to this run's
/// `as_of`, when it has one that says when each case was decided.
async fn decisions(cx: &PublishContext<'_>) -> Result<Option<Vec<decisions::Decision>>> {
    let Some(source) = cx
        .spec
        .segments
        .as_ref()
        .and_then(|s| s.outcomes.as_deref())
    else {
        return Ok(None);
    };
    let published_key = |k: &str| match cx.ids.pseudonymiser() {
        Some(hmac) => hmac.pseudonym(k),
        None => k.to_string(),
    };
    let vocabulary = &cx.spec.outcome_vocabulary;
    decisions::decisions(
        cx.engine,
        source,
        &cx.spec.key,
        vocabulary,
        cx.as_of,
        &published_key,
    )
    .await
}

/// The models' numeric features: the segmentation's, then the risk
/// model's others. (Drift is measured on numbers; a categorical feature's
/// PSI is not computed.)
fn model_features(trained: &Trained) -> Vec<String> {
    let mut features = trained.segments.features.clone();
    let risk = trained.risk.iter().map(|r| &r.model);
    let numeric = risk.flat_map(|m| {
        let inputs = m.features.iter().enumerate();
        inputs
            .filter(|(i, _)| m.codes_of(*i).is_none())
            .map(|(_, f)| f)
    });
    for f in numeric {
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
    tables: &RunTables<'_>,
) -> Result<Vec<Row>> {
    let before = history::published(spec, previous, &spec.output_table).await?;
    let mut rows = drift::feature_psi(&model_features(trained), &before, tables.features);
    let before = history::published(spec, previous, SEGMENTS_TABLE).await?;
    rows.extend(drift::risk_score_psi(&before, tables.segments));
    rows.extend(drift::segments(&spec.key, Some(&before), tables.segments));
    Ok(rows)
}

/// The latest earlier risk models judged on the outcomes decided since
/// their runs.
async fn outcomes_rows(
    cx: &PublishContext<'_>,
    earlier: &[RunRecord],
    decided: &[decisions::Decision],
) -> Result<Vec<Row>> {
    let Some(risk) = cx.spec.risk.as_ref() else {
        return Ok(Vec::new());
    };
    let bands: Vec<String> = risk.bands.iter().map(|b| b.name.clone()).collect();
    let mut rows = Vec::new();
    let judged = earlier.len().saturating_sub(MAX_MODELS_JUDGED);
    for run in &earlier[judged..] {
        let segments = history::published(cx.spec, run, SEGMENTS_TABLE).await?;
        rows.extend(outcomes_analysis::judge(
            &cx.spec.key,
            run,
            &segments,
            decided,
            &bands,
        ));
    }
    Ok(rows)
}
