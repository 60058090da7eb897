//! From rule hits to new alerts: a stable id per (rule, customer, window),
//! suppression within a rule's `suppress_for`, the customer's segment and
//! risk, and the `alerts` rows.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use seglake_spec::RuleSpec;
use serde::Serialize;

use super::hits::{RuleHit, thresholds_json};
use super::thresholds::SegmentThresholdValues;
use crate::error::{JobError, Result};
use crate::tables::TableData;

/// An alert this run raises.
#[derive(Debug, Clone)]
pub(crate) struct NewAlert {
    pub alert_id: String,
    pub key: String,
    pub rule: String,
    pub rule_sql_sha256: String,
    pub action: &'static str,
    pub severity: &'static str,
    pub segment: Option<SegmentOf>,
    pub reason: String,
    pub evidence: String,
    pub thresholds: String,
    /// Set when the alert joins or opens a case.
    pub case_id: String,
}

/// What `segments` says about a customer.
#[derive(Debug, Clone)]
pub(crate) struct SegmentOf {
    pub segment_id: i32,
    pub segment_label: String,
    pub risk_score: Option<f64>,
    pub risk_band: Option<String>,
}

/// How one rule's hits ended up.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RuleCounts {
    pub rule: String,
    pub hits: usize,
    pub alerts: usize,
    /// Hits within `suppress_for` of the rule's last alert on the customer.
    pub suppressed: usize,
    /// Hits whose alert (same rule, customer and window) exists already: a
    /// repeated run.
    pub already_raised: usize,
}

/// The alerts published before this run.
#[derive(Default)]
pub(crate) struct PriorAlerts {
    /// The `as_of` (microseconds) of the last alert per (rule, key).
    last: HashMap<(String, String), i64>,
    ids: HashSet<String>,
}

/// The stable id of the alert `rule` raises on `key` in the window that
/// starts at `as_of`: a run repeated at the same point in time derives the
/// same id, and so does not raise the alert twice.
pub fn alert_id(rule: &str, key: &str, as_of_micros: i64) -> String {
    let text = format!("alert\0{rule}\0{key}\0{as_of_micros}");
    seglake_spec::sha256_hex(text.as_bytes())[..32].to_string()
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Option<&'a T> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
}

impl PriorAlerts {
    pub fn read(batches: &[RecordBatch], key: &str) -> PriorAlerts {
        let mut prior = PriorAlerts::default();
        for b in batches {
            let (Some(ids), Some(keys), Some(rules), Some(as_of)) = (
                column::<StringArray>(b, "alert_id"),
                column::<StringArray>(b, key),
                column::<StringArray>(b, "rule"),
                column::<TimestampMicrosecondArray>(b, "as_of"),
            ) else {
                continue;
            };
            for i in 0..b.num_rows() {
                prior.add(rules.value(i), keys.value(i), as_of.value(i), ids.value(i));
            }
        }
        prior
    }

    /// Records one alert (a published one, or a backtest's own).
    pub fn add(&mut self, rule: &str, key: &str, as_of_micros: i64, alert_id: &str) {
        self.ids.insert(alert_id.to_string());
        let entry = self
            .last
            .entry((rule.to_string(), key.to_string()))
            .or_insert(i64::MIN);
        *entry = (*entry).max(as_of_micros);
    }
}

/// Every customer's segment and risk, from this run's `segments`.
pub(crate) fn segment_rows(segments: &TableData, key: &str) -> Result<HashMap<String, SegmentOf>> {
    let mut out = HashMap::new();
    for b in &segments.1 {
        let keys = cast(
            b.column_by_name(key).expect("segments has the key"),
            &DataType::Utf8,
        )
        .map_err(|source| JobError::Output {
            table: seglake_spec::SEGMENTS_TABLE.into(),
            source,
        })?;
        let keys = keys.as_any().downcast_ref::<StringArray>().expect("utf8");
        let ids = column::<Int32Array>(b, "segment_id").expect("segment_id");
        let labels = column::<StringArray>(b, "segment_label").expect("segment_label");
        let scores = column::<Float64Array>(b, "risk_score");
        let bands = column::<StringArray>(b, "risk_band");
        for i in 0..b.num_rows() {
            out.insert(
                keys.value(i).to_string(),
                SegmentOf {
                    segment_id: ids.value(i),
                    segment_label: labels.value(i).to_string(),
                    risk_score: scores.filter(|s| s.is_valid(i)).map(|s| s.value(i)),
                    risk_band: bands
                        .filter(|s| s.is_valid(i))
                        .map(|s| s.value(i).to_string()),
                },
            );
        }
    }
    Ok(out)
}

/// What selecting alerts needs besides the hits.
pub(crate) struct AlertContext<'a> {
    pub prior: &'a PriorAlerts,
    pub segments: &'a HashMap<String, SegmentOf>,
    pub thresholds: &'a SegmentThresholdValues,
    pub as_of_micros: i64,
}

/// The alerts `rule`'s hits raise: not raised before in this window, not
/// suppressed.
pub(crate) fn select(
    rule: &RuleSpec,
    hits: Vec<RuleHit>,
    cx: &AlertContext<'_>,
) -> (Vec<NewAlert>, RuleCounts) {
    let mut counts = RuleCounts {
        rule: rule.name.clone(),
        hits: hits.len(),
        ..RuleCounts::default()
    };
    let window = rule.suppress_for_seconds.saturating_mul(1_000_000);
    let mut alerts = Vec::new();
    for hit in hits {
        let id = alert_id(&rule.name, &hit.key, cx.as_of_micros);
        if cx.prior.ids.contains(&id) {
            counts.already_raised += 1;
            continue;
        }
        let last = cx.prior.last.get(&(rule.name.clone(), hit.key.clone()));
        if last.is_some_and(|&t| cx.as_of_micros.saturating_sub(t) < window) {
            counts.suppressed += 1;
            continue;
        }
        let segment = cx.segments.get(&hit.key).cloned();
        let thresholds = segment
            .as_ref()
            .and_then(|s| cx.thresholds.get(&s.segment_id));
        alerts.push(NewAlert {
            alert_id: id,
            rule: rule.name.clone(),
            rule_sql_sha256: rule.sql.sha256.clone(),
            action: rule.action.as_str(),
            severity: rule.severity.as_str(),
            thresholds: thresholds_json(thresholds),
            segment,
            key: hit.key,
            reason: hit.reason,
            evidence: hit.evidence,
            case_id: String::new(),
        });
    }
    counts.alerts = alerts.len();
    (alerts, counts)
}

/// The run's new `alerts` rows.
pub(crate) fn table(
    alerts: &[NewAlert],
    key: &str,
    run_id: &str,
    as_of_micros: i64,
    created_micros: i64,
) -> Result<TableData> {
    let schema = seglake_lake::cases::alerts_schema(key);
    let n = alerts.len();
    let text = |f: &dyn Fn(&NewAlert) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(alerts.iter().map(f)))
    };
    fn seg(a: &NewAlert) -> Option<&SegmentOf> {
        a.segment.as_ref()
    }
    let ts = |v: i64| -> ArrayRef {
        Arc::new(TimestampMicrosecondArray::from(vec![v; n]).with_timezone("UTC"))
    };
    let columns: Vec<ArrayRef> = vec![
        text(&|a| &a.alert_id),
        text(&|a| &a.key),
        text(&|a| &a.rule),
        text(&|a| &a.rule_sql_sha256),
        text(&|a| a.action),
        text(&|a| a.severity),
        Arc::new(Int32Array::from_iter(
            alerts.iter().map(|a| seg(a).map(|s| s.segment_id)),
        )),
        Arc::new(StringArray::from_iter(
            alerts
                .iter()
                .map(|a| seg(a).map(|s| s.segment_label.as_str())),
        )),
        Arc::new(Float64Array::from_iter(
            alerts.iter().map(|a| seg(a).and_then(|s| s.risk_score)),
        )),
        Arc::new(StringArray::from_iter(
            alerts
                .iter()
                .map(|a| seg(a).and_then(|s| s.risk_band.as_deref())),
        )),
        text(&|a| &a.reason),
        text(&|a| &a.evidence),
        text(&|a| &a.thresholds),
        text(&|a| &a.case_id),
        Arc::new(StringArray::from(vec![run_id; n])),
        ts(as_of_micros),
        ts(created_micros),
    ];
    let batch =
        RecordBatch::try_new(schema.clone(), columns).map_err(|source| JobError::Output {
            table: seglake_spec::ALERTS_TABLE.into(),
            source,
        })?;
    Ok((schema, vec![batch]))
}
