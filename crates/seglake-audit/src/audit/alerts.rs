//! The monitoring side of a customer audit: the alerts the rules raised on
//! the customer and the cases they are in, as the lake held them when the
//! audited run published, so "why was this customer alerted, and what did
//! we do about it" is answered from the same point in time as the segment.

use chrono::{DateTime, Utc};
use seglake_lake::cases::{CaseRow, decode_cases};
use seglake_spec::lineage::RunRecord;
use seglake_spec::{ALERTS_TABLE, CASES_TABLE};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{rows_where, text};
use crate::error::{AuditError, Result};
use crate::lake::{Lake, decode_rows};

/// The customer's alerts and cases at the audited run.
#[derive(Debug, Clone, Serialize)]
pub struct AlertsAndCases {
    /// The `alerts` version read (`None`: no run had published alerts by
    /// then). It holds every alert raised up to its run.
    pub alerts_version: Option<TableAt>,
    /// The `cases` version read: a complete snapshot of every case.
    pub cases_version: Option<TableAt>,
    /// Oldest first.
    pub alerts: Vec<Alert>,
    /// Oldest first.
    pub cases: Vec<Case>,
}

/// The version of a table an audit read, and the run that published it.
#[derive(Debug, Clone, Serialize)]
pub struct TableAt {
    pub run_id: String,
    /// As the run recorded it.
    pub version: i64,
    /// The version that holds it now (different after an erasure).
    pub version_now: i64,
}

/// One row of `alerts` (without the key column, whose name is the job's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub alert_id: String,
    pub rule: String,
    pub rule_sql_sha256: String,
    pub action: String,
    pub severity: String,
    pub segment_id: Option<i32>,
    pub segment_label: Option<String>,
    pub risk_score: Option<f64>,
    pub risk_band: Option<String>,
    pub reason: String,
    /// The rule's other columns: a JSON object, as published.
    pub evidence: String,
    /// The thresholds of the customer's segment the rule ran with: a JSON
    /// object, as published.
    pub thresholds: String,
    pub case_id: String,
    pub run_id: String,
    pub as_of: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// One row of `cases` (without the key column).
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    pub case_id: String,
    pub state: String,
    pub severity: String,
    /// Oldest first.
    pub alert_ids: Vec<String>,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Every state change, oldest first: `at`, `from`, `to`, `by` (the rule
    /// or the analyst's channel), `why`, the `alert_id` or `feedback_id`
    /// that caused it, and the `run_id` that applied it.
    pub events: Vec<Value>,
    pub run_id: String,
}

impl Case {
    fn of(row: CaseRow) -> Case {
        let time = |t: i64| DateTime::from_timestamp_micros(t).unwrap_or_default();
        Case {
            case_id: row.case_id,
            state: row.state.as_str().to_string(),
            severity: row.severity,
            alert_ids: row.alert_ids,
            opened_at: time(row.opened_at),
            updated_at: time(row.updated_at),
            events: row.events,
            run_id: row.run_id,
        }
    }
}

/// The alerts and cases of customer `stored_id` (in the key column
/// `key_column`) as the lake held them when `run` published; `None` when
/// no run up to it had published either table (a lake without `[rules]`).
pub async fn customer_alerts(
    lake: &Lake,
    run: &RunRecord,
    key_column: &str,
    stored_id: &str,
) -> Result<Option<AlertsAndCases>> {
    let alerts_version = table_at(lake, run, ALERTS_TABLE).await?;
    let cases_version = table_at(lake, run, CASES_TABLE).await?;
    if alerts_version.is_none() && cases_version.is_none() {
        return Ok(None);
    }
    let mut alerts: Vec<Alert> = customer_rows(
        lake,
        ALERTS_TABLE,
        alerts_version.as_ref(),
        key_column,
        stored_id,
    )
    .await?;
    alerts.sort_by(|a, b| (a.as_of, &a.alert_id).cmp(&(b.as_of, &b.alert_id)));
    let mut cases = customer_cases(lake, cases_version.as_ref(), key_column, stored_id).await?;
    cases.sort_by(|a, b| (a.opened_at, &a.case_id).cmp(&(b.opened_at, &b.case_id)));
    Ok(Some(AlertsAndCases {
        alerts_version,
        cases_version,
        alerts,
        cases,
    }))
}

/// The run whose version of `table` the lake held when `run` published:
/// `run` itself when it published the table, else the last run before it
/// that did. A run of a job without `[rules]` publishes neither table, yet
/// the alerts raised before it and the cases as they stood still applied
/// at its time. `None` when no run up to `run` published the table.
async fn publisher(lake: &Lake, run: &RunRecord, table: &str) -> Result<Option<RunRecord>> {
    let published = |r: &RunRecord| r.outputs.iter().any(|o| o.table == table);
    if published(run) {
        return Ok(Some(run.clone()));
    }
    if !lake.has_table(table) {
        return Ok(None);
    }
    // `runs` is in publication order, and the audited run is one of them.
    let runs = lake.runs().await?;
    let upto = runs
        .iter()
        .position(|r| r.run_id == run.run_id)
        .map_or(0, |p| p + 1);
    Ok(runs.into_iter().take(upto).rev().find(published))
}

async fn table_at(lake: &Lake, run: &RunRecord, table: &str) -> Result<Option<TableAt>> {
    let Some(by) = publisher(lake, run, table).await? else {
        return Ok(None);
    };
    let (version, version_now) = lake.version_of(&by, table).await?;
    Ok(Some(TableAt {
        run_id: by.run_id,
        version,
        version_now,
    }))
}

/// The rows of `table` at `at` whose `key_column` is `stored_id`. A
/// version without that column (published by a job keyed otherwise) holds
/// none of this customer's rows.
async fn customer_rows<T: DeserializeOwned>(
    lake: &Lake,
    table: &str,
    at: Option<&TableAt>,
    key_column: &str,
    stored_id: &str,
) -> Result<Vec<T>> {
    let Some(at) = at else {
        return Ok(Vec::new());
    };
    let batches = lake.read(table, Some(at.version_now)).await?;
    let rows = rows_where(&batches, key_column, stored_id)?;
    decode_rows(&rows, &format!("the `{table}` table"))
}

/// The customer's rows of `cases` at `at`, decoded as every reader of
/// the table decodes them.
async fn customer_cases(
    lake: &Lake,
    at: Option<&TableAt>,
    key_column: &str,
    stored_id: &str,
) -> Result<Vec<Case>> {
    let Some(at) = at else {
        return Ok(Vec::new());
    };
    let batches = lake.read(CASES_TABLE, Some(at.version_now)).await?;
    let rows = rows_where(&batches, key_column, stored_id)?;
    let cases = decode_cases(&rows).map_err(|m| {
        AuditError::Invalid(format!("`{CASES_TABLE}` version {}: {m}", at.version_now))
    })?;
    Ok(cases.into_iter().map(Case::of).collect())
}

impl AlertsAndCases {
    /// The section of the audit's text report.
    pub fn render(&self) -> String {
        let mut s = format!(
            "alerts and cases ({}; {})\n",
            version_text(ALERTS_TABLE, self.alerts_version.as_ref()),
            version_text(CASES_TABLE, self.cases_version.as_ref())
        );
        if self.alerts.is_empty() {
            s += "  no alert on the customer\n";
        }
        for a in &self.alerts {
            s += &a.render();
        }
        for c in &self.cases {
            s += &c.render();
        }
        s
    }
}

fn version_text(table: &str, at: Option<&TableAt>) -> String {
    match at {
        None => format!("no `{table}` published yet"),
        Some(t) if t.version_now != t.version => format!(
            "`{table}` version {} of run {}, now read at version {} after an erasure",
            t.version, t.run_id, t.version_now
        ),
        Some(t) => format!("`{table}` version {} of run {}", t.version, t.run_id),
    }
}

fn or_dash<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

impl Alert {
    fn render(&self) -> String {
        let mut s = format!(
            "  alert {}  severity {}, action {}: {}\n",
            self.rule, self.severity, self.action, self.reason
        );
        s += &format!(
            "      id {}, case {}, run {}, as of {}, created {}\n",
            self.alert_id,
            self.case_id,
            self.run_id,
            self.as_of.to_rfc3339(),
            self.created_at.to_rfc3339()
        );
        s += &format!(
            "      segment {} \"{}\", risk score {}, band {}\n",
            or_dash(self.segment_id),
            self.segment_label.as_deref().unwrap_or("-"),
            or_dash(self.risk_score),
            self.risk_band.as_deref().unwrap_or("-")
        );
        s += &format!(
            "      rule SQL sha256 {}\n      thresholds {}\n      evidence {}\n",
            self.rule_sql_sha256, self.thresholds, self.evidence
        );
        s
    }
}

impl Case {
    fn render(&self) -> String {
        let mut s = format!(
            "  case {}  {} (severity {}), opened {}, updated {}\n      alerts {}\n",
            self.case_id,
            self.state,
            self.severity,
            self.opened_at.to_rfc3339(),
            self.updated_at.to_rfc3339(),
            self.alert_ids.join(", ")
        );
        for e in &self.events {
            s += &format!(
                "      {}  {} -> {}  by {}: {}{}, run {}\n",
                text(e.get("at")),
                text(e.get("from")),
                text(e.get("to")),
                text(e.get("by")),
                text(e.get("why")),
                cause(e),
                text(e.get("run_id"))
            );
        }
        s
    }
}

/// The alert or the analyst's feedback behind a case event.
fn cause(event: &Value) -> String {
    match (event.get("alert_id"), event.get("feedback_id")) {
        (Some(id), _) => format!(" (alert {})", text(Some(id))),
        (None, Some(id)) => format!(" (feedback {})", text(Some(id))),
        (None, None) => String::new(),
    }
}
