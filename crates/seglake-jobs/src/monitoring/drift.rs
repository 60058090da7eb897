//! Drift against the job's previous run: the PSI of every model feature
//! and of the risk score, each segment's share and its change, and how
//! many customers changed segment.

use std::collections::{BTreeMap, HashMap};

use arrow::array::RecordBatch;
use seglake_ml::drift::psi;
use seglake_spec::monitoring::{
    CUSTOMERS_CHANGED_SEGMENT, FEATURE_PSI, RISK_SCORE_PSI, SEGMENT_SHARE, SEGMENT_SHARE_CHANGE,
};

use super::rows::{Row, labels_by_key, numbers};

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

/// Each segment label's share of customers and its count.
fn shares(by_key: &HashMap<String, String>) -> BTreeMap<&str, (f64, i64)> {
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for label in by_key.values() {
        *counts.entry(label.as_str()).or_default() += 1;
    }
    let n = counts.values().sum::<i64>().max(1) as f64;
    counts
        .into_iter()
        .map(|(label, c)| (label, (c as f64 / n, c)))
        .collect()
}

/// Which previous segment each current one continues: a retrained
/// segmentation renumbers and may relabel its segments, so they are
/// matched by the customers they share (the pair sharing most first,
/// each segment matched once; ties by label). Current label -> previous.
fn match_segments<'a>(
    before: &'a HashMap<String, String>,
    now: &'a HashMap<String, String>,
) -> HashMap<&'a str, &'a str> {
    let mut overlap: HashMap<(&str, &str), i64> = HashMap::new();
    for (k, label) in now {
        if let Some(old) = before.get(k) {
            *overlap.entry((old.as_str(), label.as_str())).or_default() += 1;
        }
    }
    let mut pairs: Vec<((&str, &str), i64)> = overlap.into_iter().collect();
    pairs.sort_by(|(a, x), (b, y)| y.cmp(x).then(a.cmp(b)));
    let (mut matched, mut taken) = (HashMap::new(), std::collections::HashSet::new());
    for ((old, label), _) in pairs {
        if !matched.contains_key(label) && taken.insert(old) {
            matched.insert(label, old);
        }
    }
    matched
}

/// This run's segments (by the published `key`) against the previous
/// run's: each segment's share; with a previous run, each one's change
/// from the segment it continues (a new segment from 0, a previous one
/// that no segment continues to 0, under its old label), and the share of
/// customers in both runs who are not in the continuation of their
/// previous segment (`count`: how many).
pub(crate) fn segments(
    key: &str,
    previous: Option<&[RecordBatch]>,
    current: &[RecordBatch],
) -> Vec<Row> {
    let now = labels_by_key(key, current).unwrap_or_default();
    let share_now = shares(&now);
    let mut rows: Vec<Row> = share_now
        .iter()
        .map(|(label, (share, count))| Row {
            segment: Some(label.to_string()),
            count: Some(*count),
            ..Row::new(SEGMENT_SHARE, *share)
        })
        .collect();
    let Some(before) = previous.and_then(|p| labels_by_key(key, p)) else {
        return rows;
    };
    let share_before = shares(&before);
    let matched = match_segments(&before, &now);
    let change = |label: &str, value: f64| Row {
        segment: Some(label.to_string()),
        ..Row::new(SEGMENT_SHARE_CHANGE, value)
    };
    for (label, (share, _)) in &share_now {
        let old = matched.get(label).and_then(|o| share_before.get(o));
        rows.push(change(label, share - old.map_or(0.0, |s| s.0)));
    }
    let continued: std::collections::HashSet<&str> = matched.values().copied().collect();
    for (old, (share, _)) in &share_before {
        if !continued.contains(old) {
            rows.push(change(old, -share));
        }
    }
    rows.extend(changed(&before, &now, &matched));
    rows
}

fn changed(
    before: &HashMap<String, String>,
    now: &HashMap<String, String>,
    matched: &HashMap<&str, &str>,
) -> Option<Row> {
    let (mut both, mut moved) = (0i64, 0i64);
    for (k, label) in now {
        if let Some(old) = before.get(k) {
            both += 1;
            moved += (matched.get(label.as_str()) != Some(&old.as_str())) as i64;
        }
    }
    (both > 0).then(|| Row {
        count: Some(moved),
        ..Row::new(CUSTOMERS_CHANGED_SEGMENT, moved as f64 / both as f64)
    })
}
