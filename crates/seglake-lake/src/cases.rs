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

use arrow::array::{Array, RecordBatch, StringArray, TimestampMicrosecondArray};
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

/// One row of `cases`, decoded: what a run updates, `serve` checks
/// dispositions against and an audit shows.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRow {
    pub case_id: String,
    /// The customer (the job's key column, the second of the table).
    pub key: String,
    pub state: CaseState,
    pub severity: String,
    /// Oldest first.
    pub alert_ids: Vec<String>,
    /// Microseconds since the epoch, UTC.
    pub opened_at: i64,
    pub updated_at: i64,
    /// Every state change, oldest first (JSON objects).
    pub events: Vec<serde_json::Value>,
    /// The run that last changed the case.
    pub run_id: String,
}

/// Every row of `cases` batches. A column missing or of another type, an
/// unknown state or a JSON column that does not parse is an error naming
/// the column (and the case): a table the runs did not write.
pub fn decode_cases(batches: &[arrow::array::RecordBatch]) -> Result<Vec<CaseRow>, String> {
    let mut out = Vec::new();
    for batch in batches.iter().map(plain_strings) {
        let columns = CaseColumns::of(&batch)?;
        for i in 0..batch.num_rows() {
            out.push(columns.row(i)?);
        }
    }
    Ok(out)
}

/// The columns of one batch of `cases`, typed.
struct CaseColumns {
    ids: StringArray,
    keys: StringArray,
    states: StringArray,
    severity: StringArray,
    alert_ids: StringArray,
    opened: TimestampMicrosecondArray,
    updated: TimestampMicrosecondArray,
    events: StringArray,
    runs: StringArray,
}

fn typed<T: Clone + 'static>(batch: &RecordBatch, index: usize, what: &str) -> Result<T, String> {
    let name = batch.schema().field(index).name().clone();
    batch
        .column(index)
        .as_any()
        .downcast_ref::<T>()
        .cloned()
        .ok_or_else(|| format!("`cases` column `{name}` is not {what}"))
}

fn named<T: Clone + 'static>(batch: &RecordBatch, name: &str, what: &str) -> Result<T, String> {
    let index = batch
        .schema()
        .index_of(name)
        .map_err(|_| format!("`cases` has no column `{name}`"))?;
    typed(batch, index, what)
}

impl CaseColumns {
    fn of(b: &RecordBatch) -> Result<CaseColumns, String> {
        if b.num_columns() < 2 {
            return Err("`cases` has no key column".into());
        }
        Ok(CaseColumns {
            ids: named(b, "case_id", "text")?,
            keys: typed(b, 1, "text")?,
            states: named(b, "state", "text")?,
            severity: named(b, "severity", "text")?,
            alert_ids: named(b, "alert_ids", "text")?,
            opened: named(b, "opened_at", "a UTC timestamp in microseconds")?,
            updated: named(b, "updated_at", "a UTC timestamp in microseconds")?,
            events: named(b, "events", "text")?,
            runs: named(b, "run_id", "text")?,
        })
    }

    fn row(&self, i: usize) -> Result<CaseRow, String> {
        let case_id = self.ids.value(i).to_string();
        let bad = |column: &str, why: String| format!("case {case_id}: `{column}` {why}");
        let state = CaseState::parse(self.states.value(i)).ok_or_else(|| {
            bad(
                "state",
                format!("`{}` is not a case state", self.states.value(i)),
            )
        })?;
        let alert_ids = serde_json::from_str(self.alert_ids.value(i))
            .map_err(|e| bad("alert_ids", format!("is not a JSON array of ids: {e}")))?;
        let events = serde_json::from_str(self.events.value(i))
            .map_err(|e| bad("events", format!("is not a JSON array: {e}")))?;
        Ok(CaseRow {
            key: self.keys.value(i).to_string(),
            state,
            severity: self.severity.value(i).to_string(),
            alert_ids,
            opened_at: self.opened.value(i),
            updated_at: self.updated.value(i),
            events,
            run_id: self.runs.value(i).to_string(),
            case_id,
        })
    }
}

/// `batch` with its string-view columns as plain strings: a Delta reader
/// may give back either, and `alerts` and `cases` are read column by
/// column.
pub fn plain_strings(batch: &RecordBatch) -> RecordBatch {
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
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
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

    fn cases_batch(state: &str, events: &str) -> RecordBatch {
        use arrow::array::{ArrayRef, Int64Array};
        let text = |v: &str| Arc::new(StringArray::from(vec![v])) as ArrayRef;
        let at = |v: i64| {
            Arc::new(TimestampMicrosecondArray::from(vec![v]).with_timezone("UTC")) as ArrayRef
        };
        let columns = vec![
            text("c1"),
            text("C007"),
            text(state),
            text("high"),
            text(r#"["a1","a2"]"#),
            Arc::new(Int64Array::from(vec![2])) as ArrayRef,
            at(10),
            at(20),
            text(events),
            text("run-1"),
        ];
        RecordBatch::try_new(cases_schema("customer_id"), columns).unwrap()
    }

    #[test]
    fn cases_decode_and_bad_rows_are_named() {
        let rows = decode_cases(&[cases_batch("escalated", r#"[{"to":"escalated"}]"#)]).unwrap();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!((row.case_id.as_str(), row.key.as_str()), ("c1", "C007"));
        assert_eq!(row.state, CaseState::Escalated);
        assert_eq!(row.alert_ids, vec!["a1".to_string(), "a2".to_string()]);
        assert_eq!((row.opened_at, row.updated_at), (10, 20));
        assert_eq!(row.events[0]["to"], "escalated");
        let unknown = decode_cases(&[cases_batch("pending", "[]")]).unwrap_err();
        assert!(unknown.contains("case c1: `state` `pending`"), "{unknown}");
        let broken = decode_cases(&[cases_batch("open", "not json")]).unwrap_err();
        assert!(broken.contains("case c1: `events`"), "{broken}");
    }

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
