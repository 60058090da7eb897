//! Drift against the job's previous run: the PSI of every model feature
//! and of the risk score, each segment's share and its change, and how
//! many customers changed segment.

use std::collections::{BTreeMap, HashMap};

use arrow::array::RecordBatch;
use seglake_ml::drift::psi;
use seglake_spec::monitoring::{
    CUSTOMERS_CHANGED_SEGMENT, FEATURE_PSI, RISK_SCORE_PSI, SEGMENT_SHARE, SEGMENT_SHARE_CHANGE,
};

use super::rows::{Row, numbers, texts};

const LABEL: &str = "segment_label";
const RISK_SCORE: &str = "risk_score";

/// The PSI of each of `features` present in both feature tables, in the
/// order given.
pub(crate) fn feature_psi(
    features: &[String],
    previous: &[RecordBatch],
    current: &[RecordBatch],
) -> Vec<Row> {
    features
        .iter()
        .filter_map(|f| {
            let before = numbers(previous, f)?;
            let now = numbers(current, f)?;
            let value = psi(&before, &now)?;
            Some(Row {
                feature: Some(f.clone()),
                count: Some(now.len() as i64),
                ..Row::new(FEATURE_PSI, value)
            })
        })
        .collect()
}

/// The PSI of the risk score, when both runs scored risk.
pub(crate) fn risk_score_psi(previous: &[RecordBatch], current: &[RecordBatch]) -> Option<Row> {
    let before = numbers(previous, RISK_SCORE)?;
    let now = numbers(current, RISK_SCORE)?;
    let value = psi(&before, &now)?;
    Some(Row {
        count: Some(now.len() as i64),
        ..Row::new(RISK_SCORE_PSI, value)
    })
}

/// Each segment label's share of customers.
fn shares(segments: &[RecordBatch]) -> BTreeMap<String, (f64, i64)> {
    let labels = texts(segments, LABEL).unwrap_or_default();
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for label in labels.into_iter().flatten() {
        *counts.entry(label).or_default() += 1;
    }
    let n = counts.values().sum::<i64>().max(1) as f64;
    counts
        .into_iter()
        .map(|(label, c)| (label, (c as f64 / n, c)))
        .collect()
}

/// This run's share of each segment and, with a previous run, its change
/// (a segment that is new, or gone, changes from or to 0).
pub(crate) fn segment_shares(previous: Option<&[RecordBatch]>, current: &[RecordBatch]) -> Vec<Row> {
    let now = shares(current);
    let mut rows: Vec<Row> = now
        .iter()
        .map(|(label, (share, count))| Row {
            segment: Some(label.clone()),
            count: Some(*count),
            ..Row::new(SEGMENT_SHARE, *share)
        })
        .collect();
    let Some(previous) = previous else {
        return rows;
    };
    let before = shares(previous);
    let labels: std::collections::BTreeSet<&String> = now.keys().chain(before.keys()).collect();
    rows.extend(labels.into_iter().map(|label| {
        let share = |m: &BTreeMap<String, (f64, i64)>| m.get(label).map_or(0.0, |s| s.0);
        Row {
            segment: Some(label.clone()),
            ..Row::new(SEGMENT_SHARE_CHANGE, share(&now) - share(&before))
        }
    }));
    rows
}

/// Of the customers in both runs (by the published key), the share whose
/// segment label changed; `count` is how many.
pub(crate) fn customers_changed(
    key: &str,
    previous: &[RecordBatch],
    current: &[RecordBatch],
) -> Option<Row> {
    let label_of = |batches: &[RecordBatch]| -> Option<HashMap<String, String>> {
        let keys = texts(batches, key)?;
        let labels = texts(batches, LABEL)?;
        Some(
            keys.into_iter()
                .zip(labels)
                .filter_map(|(k, l)| Some((k?, l?)))
                .collect(),
        )
    };
    let before = label_of(previous)?;
    let now = label_of(current)?;
    let (mut both, mut changed) = (0i64, 0i64);
    for (k, label) in &now {
        if let Some(old) = before.get(k) {
            both += 1;
            changed += (old != label) as i64;
        }
    }
    (both > 0).then(|| Row {
        count: Some(changed),
        ..Row::new(CUSTOMERS_CHANGED_SEGMENT, changed as f64 / both as f64)
    })
}
