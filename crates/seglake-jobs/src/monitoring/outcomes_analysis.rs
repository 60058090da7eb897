//! Outcomes analysis: every earlier risk model of the job judged on the
//! future it did not see. Its scores are the ones its run published in
//! `segments`; the labels are the case outcomes decided after that run's
//! `as_of` and up to this run's (a customer with a SAR filed or a true
//! positive among them is positive, one with only false positives or no
//! action negative, one with no decision left out).

use std::collections::HashMap;

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};
use seglake_ml::metrics::roc_auc;
use seglake_spec::lineage::RunRecord;
use seglake_spec::monitoring::{OUTCOMES_AUC, OUTCOMES_PRECISION, OUTCOMES_RECALL};

use super::decisions::Decision;
use super::rows::{Row, numbers, texts};

/// A segment's AUC is reported when it has at least this many positive
/// and this many negative customers; fewer make it noise.
const MIN_PER_CLASS: usize = 5;

/// Each customer's label from the decisions in (`after`, `until`].
fn labels(decisions: &[Decision], after: DateTime<Utc>) -> HashMap<&str, bool> {
    let mut out: HashMap<&str, bool> = HashMap::new();
    for d in decisions.iter().filter(|d| d.decided_at > after) {
        *out.entry(d.customer.as_str()).or_default() |= d.confirmed;
    }
    out
}

/// One earlier model's scored customers with a decision after its `as_of`.
struct Judged {
    score: Vec<f64>,
    confirmed: Vec<bool>,
    segment: Vec<String>,
    band: Vec<String>,
}

fn judged(key: &str, segments: &[RecordBatch], labels: &HashMap<&str, bool>) -> Option<Judged> {
    let keys = texts(segments, key)?;
    let scores = numbers(segments, "risk_score")?;
    let segs = texts(segments, "segment_label")?;
    let bands = texts(segments, "risk_band")?;
    let mut j = Judged {
        score: Vec::new(),
        confirmed: Vec::new(),
        segment: Vec::new(),
        band: Vec::new(),
    };
    for (((k, s), seg), band) in keys.into_iter().zip(scores).zip(segs).zip(bands) {
        let Some(&label) = k.as_deref().and_then(|k| labels.get(k)) else {
            continue;
        };
        j.score.push(s);
        j.confirmed.push(label);
        j.segment.push(seg.unwrap_or_default());
        j.band.push(band.unwrap_or_default());
    }
    Some(j)
}

/// The rows for the model `run` published (its `segments` in
/// `segments`): AUC over all customers and per segment, and precision and
/// recall of each band of `bands` (riskiest first) and the bands above it.
pub(crate) fn judge(
    key: &str,
    run: &RunRecord,
    segments: &[RecordBatch],
    decisions: &[Decision],
    bands: &[String],
) -> Vec<Row> {
    let labels = labels(decisions, run.as_of);
    let Some(j) = judged(key, segments, &labels) else {
        return Vec::new();
    };
    let about = |metric, value: f64, count: usize| Row {
        model_run_id: Some(run.run_id.clone()),
        count: Some(count as i64),
        ..Row::new(metric, value)
    };
    let mut rows = Vec::new();
    if let Some(auc) = auc(&j.confirmed, &j.score, 1) {
        rows.push(about(OUTCOMES_AUC, auc, j.score.len()));
    }
    let mut per_segment: std::collections::BTreeMap<&str, (Vec<bool>, Vec<f64>)> =
        Default::default();
    for i in 0..j.score.len() {
        let entry = per_segment.entry(j.segment[i].as_str()).or_default();
        entry.0.push(j.confirmed[i]);
        entry.1.push(j.score[i]);
    }
    for (segment, (y, s)) in per_segment {
        if let Some(auc) = auc(&y, &s, MIN_PER_CLASS) {
            rows.push(Row {
                segment: Some(segment.to_string()),
                ..about(OUTCOMES_AUC, auc, y.len())
            });
        }
    }
    rows.extend(band_rows(&j, bands, &about));
    rows
}

/// The AUC when each class has at least `min` customers.
fn auc(y: &[bool], score: &[f64], min: usize) -> Option<f64> {
    let positives = y.iter().filter(|&&v| v).count();
    (positives >= min && y.len() - positives >= min).then(|| roc_auc(y, score))
}

fn band_rows(
    j: &Judged,
    bands: &[String],
    about: &dyn Fn(&'static str, f64, usize) -> Row,
) -> Vec<Row> {
    let positives = j.confirmed.iter().filter(|&&v| v).count();
    let mut rows = Vec::new();
    for (rank, band) in bands.iter().enumerate() {
        let flagged: Vec<usize> = (0..j.band.len())
            .filter(|&i| bands[..=rank].contains(&j.band[i]))
            .collect();
        let hits = flagged.iter().filter(|&&i| j.confirmed[i]).count();
        let with_band = |row: Row| Row {
            band: Some(band.clone()),
            ..row
        };
        if !flagged.is_empty() {
            let precision = hits as f64 / flagged.len() as f64;
            rows.push(with_band(about(
                OUTCOMES_PRECISION,
                precision,
                flagged.len(),
            )));
        }
        if positives > 0 {
            let recall = hits as f64 / positives as f64;
            rows.push(with_band(about(OUTCOMES_RECALL, recall, positives)));
        }
    }
    rows
}
