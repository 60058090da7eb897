//! Cases: a run's new alerts grouped per customer, moved through their
//! states by the alerts' actions and by analysts' dispositions (the lake's
//! `feedback` table), every change kept in the case's `events`.
//!
//! The states and the moves between them are seglake-lake's
//! [`CaseState`]; a case's id is derived from its customer and first
//! alert, so a repeated run derives the same ids.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use chrono::{DateTime, Utc};
use seglake_features::FeatureEngine;
use seglake_lake::cases::CaseState;
use seglake_spec::Severity;
use serde::Serialize;
use serde_json::{Value, json};

use super::alerts::NewAlert;
use crate::error::{JobError, Result};
use crate::tables::TableData;

/// A case as the run holds it: a published row, or one this run opened.
pub(crate) use seglake_lake::cases::CaseRow as Case;

/// An analyst's decision on an alert or a case, from `feedback`.
#[derive(Debug, Clone)]
pub(crate) struct Disposition {
    pub feedback_id: String,
    pub alert_id: Option<String>,
    pub case_id: Option<String>,
    pub outcome: String,
    pub source: String,
    pub occurred_at: i64,
}

/// What happened to cases in a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CaseCounts {
    pub opened: usize,
    /// Existing cases a new alert joined.
    pub joined: usize,
    pub dispositions_applied: usize,
    /// Dispositions naming no known alert or case, or a closed case.
    pub dispositions_refused: usize,
    /// Cases per state after the run.
    pub states: BTreeMap<String, usize>,
}

/// The id of the case opened for `key` by alert `first_alert_id`.
pub fn case_id(key: &str, first_alert_id: &str) -> String {
    seglake_spec::sha256_hex(format!("case\0{key}\0{first_alert_id}").as_bytes())[..32].to_string()
}

fn micros_text(t: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(t)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn ts_column<'a>(b: &'a RecordBatch, name: &str) -> Option<&'a TimestampMicrosecondArray> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
}

/// The cases of the last published `cases` version.
pub(crate) fn read(batches: &[RecordBatch]) -> Result<Vec<Case>> {
    seglake_lake::cases::decode_cases(batches).map_err(|message| JobError::Rules {
        message: format!("the lake's `cases` table cannot be read: {message}"),
    })
}

/// Every disposition in the registered `feedback` table that names an
/// alert or a case, in the order they were made.
pub(crate) async fn dispositions(engine: &FeatureEngine) -> Result<Vec<Disposition>> {
    let schema = engine.table_schema(seglake_spec::FEEDBACK_SOURCE).await?;
    // A feedback table written before dispositions could name a case.
    let case_id = if schema.field_with_name("case_id").is_ok() {
        "CAST(case_id AS VARCHAR)"
    } else {
        "CAST(NULL AS VARCHAR)"
    };
    let sql = format!(
        "SELECT feedback_id, alert_id, {case_id} AS case_id, outcome, source, occurred_at \
         FROM feedback WHERE kind = 'disposition' AND outcome IS NOT NULL \
         AND (alert_id IS NOT NULL OR {case_id} IS NOT NULL) \
         ORDER BY occurred_at, feedback_id"
    );
    let batches = engine
        .query("dispositions naming an alert or a case (`feedback`)", &sql)
        .await?;
    let mut out = Vec::new();
    for b in batches.iter().map(seglake_lake::cases::plain_strings) {
        let b = &b;
        let text = |i: usize| {
            b.column(i)
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("utf8")
        };
        let at = ts_column(b, "occurred_at").expect("occurred_at");
        let optional = |a: &StringArray, i: usize| a.is_valid(i).then(|| a.value(i).to_string());
        for i in 0..b.num_rows() {
            out.push(Disposition {
                feedback_id: text(0).value(i).to_string(),
                alert_id: optional(text(1), i),
                case_id: optional(text(2), i),
                outcome: text(3).value(i).to_string(),
                source: text(4).value(i).to_string(),
                occurred_at: at.value(i),
            });
        }
    }
    Ok(out)
}

/// Applies the dispositions made up to `as_of` that no earlier run
/// applied.
pub(crate) fn apply_dispositions(
    cases: &mut [Case],
    dispositions: &[Disposition],
    as_of: i64,
    run_id: &str,
    counts: &mut CaseCounts,
) {
    let applied: HashSet<String> = cases
        .iter()
        .flat_map(|c| c.events.iter())
        .filter_map(|e| e["feedback_id"].as_str().map(str::to_string))
        .collect();
    for d in dispositions {
        if d.occurred_at > as_of || applied.contains(&d.feedback_id) {
            continue;
        }
        let case = cases.iter_mut().find(|c| match (&d.case_id, &d.alert_id) {
            (Some(id), _) => &c.case_id == id,
            (None, Some(alert)) => c.alert_ids.contains(alert),
            (None, None) => false,
        });
        let Some(case) = case else {
            counts.dispositions_refused += 1;
            continue;
        };
        match case.state.after_disposition(&d.outcome) {
            Ok(to) => {
                case.events.push(json!({
                    "at": micros_text(d.occurred_at), "from": case.state.as_str(),
                    "to": to.as_str(), "by": format!("analyst via {}", d.source),
                    "why": d.outcome, "feedback_id": d.feedback_id, "run_id": run_id,
                }));
                case.state = to;
                case.updated_at = case.updated_at.max(d.occurred_at);
                case.run_id = run_id.to_string();
                counts.dispositions_applied += 1;
            }
            Err(message) => {
                tracing::warn!(feedback_id = %d.feedback_id, case_id = %case.case_id, %message, "disposition not applied");
                counts.dispositions_refused += 1;
            }
        }
    }
}

fn higher_severity(a: &str, b: &str) -> String {
    let rank = |s: &str| Severity::parse(s).unwrap_or(Severity::Low);
    if rank(b) > rank(a) { b } else { a }.to_string()
}

/// Puts each new alert in its customer's open case, or opens one; sets
/// every alert's `case_id`.
pub(crate) fn add_alerts(
    cases: &mut Vec<Case>,
    alerts: &mut [NewAlert],
    as_of: i64,
    run_id: &str,
    counts: &mut CaseCounts,
) {
    let mut open: HashMap<String, usize> = cases
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.state.is_closed())
        .map(|(i, c)| (c.key.clone(), i))
        .collect();
    for alert in alerts.iter_mut() {
        let by = format!("rule {}", alert.rule);
        let index = match open.get(&alert.key) {
            Some(&i) => {
                counts.joined += 1;
                i
            }
            None => {
                counts.opened += 1;
                let state = CaseState::opened_by(alert.action);
                cases.push(Case {
                    case_id: case_id(&alert.key, &alert.alert_id),
                    key: alert.key.clone(),
                    state,
                    severity: alert.severity.to_string(),
                    alert_ids: Vec::new(),
                    opened_at: as_of,
                    updated_at: as_of,
                    events: vec![json!({
                        "at": micros_text(as_of), "from": null, "to": state.as_str(),
                        "by": by, "why": alert.action, "alert_id": alert.alert_id, "run_id": run_id,
                    })],
                    run_id: run_id.to_string(),
                });
                open.insert(alert.key.clone(), cases.len() - 1);
                cases.len() - 1
            }
        };
        let case = &mut cases[index];
        let to = case.state.with_alert(alert.action);
        if to != case.state {
            case.events.push(json!({
                "at": micros_text(as_of), "from": case.state.as_str(), "to": to.as_str(),
                "by": by, "why": alert.action, "alert_id": alert.alert_id, "run_id": run_id,
            }));
            case.state = to;
        }
        case.alert_ids.push(alert.alert_id.clone());
        case.severity = higher_severity(&case.severity, alert.severity);
        case.updated_at = case.updated_at.max(as_of);
        case.run_id = run_id.to_string();
        alert.case_id = case.case_id.clone();
    }
}

/// Every case, in (customer, opened) order: the table's next version.
pub(crate) fn table(cases: &mut [Case], key: &str, counts: &mut CaseCounts) -> Result<TableData> {
    cases.sort_by(|a, b| (&a.key, a.opened_at, &a.case_id).cmp(&(&b.key, b.opened_at, &b.case_id)));
    for c in cases.iter() {
        *counts
            .states
            .entry(c.state.as_str().to_string())
            .or_default() += 1;
    }
    let schema = seglake_lake::cases::cases_schema(key);
    let text = |f: &dyn Fn(&Case) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(cases.iter().map(f)))
    };
    let ts = |f: &dyn Fn(&Case) -> i64| -> ArrayRef {
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(cases.iter().map(f)).with_timezone("UTC"),
        )
    };
    let columns: Vec<ArrayRef> = vec![
        text(&|c| c.case_id.clone()),
        text(&|c| c.key.clone()),
        text(&|c| c.state.as_str().to_string()),
        text(&|c| c.severity.clone()),
        text(&|c| serde_json::to_string(&c.alert_ids).expect("strings serialise")),
        Arc::new(Int64Array::from_iter_values(
            cases.iter().map(|c| c.alert_ids.len() as i64),
        )),
        ts(&|c| c.opened_at),
        ts(&|c| c.updated_at),
        text(&|c| Value::Array(c.events.clone()).to_string()),
        text(&|c| c.run_id.clone()),
    ];
    let batch =
        RecordBatch::try_new(schema.clone(), columns).map_err(|source| JobError::Output {
            table: seglake_spec::CASES_TABLE.into(),
            source,
        })?;
    Ok((schema, vec![batch]))
}
