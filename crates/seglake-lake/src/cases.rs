//! The columns of `alerts` and `cases`, and the states a case moves through.
//! A run writes both (seglake-jobs); `serve` checks analysts' dispositions
//! against the case states; audit and the delivery worker read them back.
//!
//! ```text
//!          alert            request_documents            escalate
//!   (new) ------> open  ----------------------> documents_requested
//!                  |  \-------- escalate ---------> escalated <--/
//!                  |                                    |
//!                  +--- sar_filed | true_positive ------+--> closed_sar
//!                  +--- false_positive | no_action -----+--> closed_false_positive
//! ```
//!
//! A closed case is final: a later alert on the same customer opens a new
//! case.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The columns of `alerts`, after the job's key column (named by the job).
pub fn alerts_schema(key: &str) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("alert_id", DataType::Utf8, false),
        Field::new(key, DataType::Utf8, false),
        Field::new("rule", DataType::Utf8, false),
        Field::new("rule_sql_sha256", DataType::Utf8, false),
        Field::new("action", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("segment_id", DataType::Int32, true),
        Field::new("segment_label", DataType::Utf8, true),
        Field::new("risk_score", DataType::Float64, true),
        Field::new("risk_band", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, false),
        // A JSON object: the rule's other columns.
        Field::new("evidence", DataType::Utf8, false),
        // A JSON object: the thresholds of the customer's segment.
        Field::new("thresholds", DataType::Utf8, false),
        Field::new("case_id", DataType::Utf8, false),
        Field::new("run_id", DataType::Utf8, false),
        Field::new("as_of", ts(), false),
        Field::new("created_at", ts(), false),
    ]))
}

/// The columns of `cases`, after the job's key column.
pub fn cases_schema(key: &str) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("case_id", DataType::Utf8, false),
        Field::new(key, DataType::Utf8, false),
        Field::new("state", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        // A JSON array of alert ids, oldest first.
        Field::new("alert_ids", DataType::Utf8, false),
        Field::new("alerts", DataType::Int64, false),
        Field::new("opened_at", ts(), false),
        Field::new("updated_at", ts(), false),
        // A JSON array of every state change: at, from, to, by, why, run_id
        // and the alert or feedback id that caused it.
        Field::new("events", DataType::Utf8, false),
        Field::new("run_id", DataType::Utf8, false),
    ]))
}

/// `batch` with its string-view columns as plain strings: a Delta reader
/// may give back either, and `alerts` and `cases` are read column by
/// column.
pub fn plain_strings(batch: &arrow::array::RecordBatch) -> arrow::array::RecordBatch {
    let schema = batch.schema();
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (f, c) in schema.fields().iter().zip(batch.columns()) {
        if matches!(f.data_type(), DataType::Utf8View | DataType::LargeUtf8) {
            let cast = arrow::compute::cast(c, &DataType::Utf8).expect("strings cast to Utf8");
            fields.push(f.as_ref().clone().with_data_type(DataType::Utf8));
            columns.push(cast);
        } else {
            fields.push(f.as_ref().clone());
            columns.push(c.clone());
        }
    }
    arrow::array::RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .expect("same columns, same lengths")
}

/// The disposition and case outcomes that confirm suspicion: they close a
/// case as `closed_sar`, and a backtest counts the alerts on such customers
/// as true positives.
pub const CONFIRMING_OUTCOMES: [&str; 2] = ["sar_filed", "true_positive"];

/// Where a case is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CaseState {
    Open,
    Escalated,
    DocumentsRequested,
    ClosedSar,
    ClosedFalsePositive,
}

impl CaseState {
    pub const ALL: [CaseState; 5] = [
        CaseState::Open,
        CaseState::Escalated,
        CaseState::DocumentsRequested,
        CaseState::ClosedSar,
        CaseState::ClosedFalsePositive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Open => "open",
            CaseState::Escalated => "escalated",
            CaseState::DocumentsRequested => "documents_requested",
            CaseState::ClosedSar => "closed_sar",
            CaseState::ClosedFalsePositive => "closed_false_positive",
        }
    }

    pub fn parse(text: &str) -> Option<CaseState> {
        CaseState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_closed(self) -> bool {
        matches!(self, CaseState::ClosedSar | CaseState::ClosedFalsePositive)
    }

    /// The state an alert with `action` (`alert`, `escalate`,
    /// `request_documents`) opens a case in.
    pub fn opened_by(action: &str) -> CaseState {
        match action {
            "escalate" => CaseState::Escalated,
            "request_documents" => CaseState::DocumentsRequested,
            _ => CaseState::Open,
        }
    }

    /// Where a new alert with `action` moves an open case: escalation wins
    /// over a document request, which wins over a plain alert.
    pub fn with_alert(self, action: &str) -> CaseState {
        match (self, CaseState::opened_by(action)) {
            (s, _) if s.is_closed() => s,
            (CaseState::Escalated, _) | (_, CaseState::Escalated) => CaseState::Escalated,
            (CaseState::DocumentsRequested, _) | (_, CaseState::DocumentsRequested) => {
                CaseState::DocumentsRequested
            }
            _ => CaseState::Open,
        }
    }

    /// The state an analyst's disposition `outcome` moves a case to, or why
    /// it cannot (naming both states).
    pub fn after_disposition(self, outcome: &str) -> Result<CaseState, String> {
        let to = match outcome {
            o if CONFIRMING_OUTCOMES.contains(&o) => CaseState::ClosedSar,
            "false_positive" | "no_action" => CaseState::ClosedFalsePositive,
            other => return Err(format!("`{other}` is not a disposition outcome")),
        };
        if self.is_closed() {
            return Err(format!(
                "the case is {} and cannot move to {}: a closed case is final \
                 (open, escalated and documents_requested cases can be closed)",
                self.as_str(),
                to.as_str()
            ));
        }
        Ok(to)
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_move_open_cases_up_only() {
        assert_eq!(CaseState::opened_by("alert"), CaseState::Open);
        assert_eq!(
            CaseState::Open.with_alert("request_documents"),
            CaseState::DocumentsRequested
        );
        assert_eq!(
            CaseState::DocumentsRequested.with_alert("escalate"),
            CaseState::Escalated
        );
        assert_eq!(
            CaseState::Escalated.with_alert("alert"),
            CaseState::Escalated
        );
        assert_eq!(
            CaseState::ClosedSar.with_alert("escalate"),
            CaseState::ClosedSar
        );
    }

    #[test]
    fn dispositions_close_open_cases_only() {
        assert_eq!(
            CaseState::Escalated.after_disposition("sar_filed"),
            Ok(CaseState::ClosedSar)
        );
        assert_eq!(
            CaseState::Open.after_disposition("no_action"),
            Ok(CaseState::ClosedFalsePositive)
        );
        let refused = CaseState::ClosedFalsePositive
            .after_disposition("sar_filed")
            .unwrap_err();
        assert!(refused.contains("closed_false_positive") && refused.contains("closed_sar"));
        assert!(CaseState::Open.after_disposition("maybe").is_err());
    }
}
