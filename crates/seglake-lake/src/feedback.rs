//! The `feedback` table: what customers and compliance officers said,
//! appended by `seglake serve` and read by every later run (per-segment NPS,
//! CSAT and false-positive rates; dispositions as risk labels).
//!
//! One row per accepted item. `kind` is `survey` (with `survey` = `nps`
//! (0-10) or `csat` (1-5) and `score`) or `disposition` (with `outcome`).

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// The table's name under the lake root.
pub const FEEDBACK_TABLE: &str = "feedback";

/// The column holding the customer's id (the job's key value).
pub const CUSTOMER_COLUMN: &str = "customer_id";

pub const KIND_SURVEY: &str = "survey";
pub const KIND_DISPOSITION: &str = "disposition";

/// Survey kinds and their score ranges.
pub const SURVEYS: [(&str, i32, i32); 2] = [("nps", 0, 10), ("csat", 1, 5)];

/// Disposition outcomes, the same words as case outcomes.
pub use seglake_spec::outcomes::OUTCOMES;

/// The survey topic that marks a response about a compliance contact (a
/// KYC refresh call, a request for documents).
pub const COMPLIANCE_TOPIC: &str = "compliance_contact";

pub fn schema() -> SchemaRef {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("feedback_id", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new(CUSTOMER_COLUMN, DataType::Utf8, false),
        Field::new("survey", DataType::Utf8, true),
        Field::new("score", DataType::Int32, true),
        Field::new("topic", DataType::Utf8, true),
        Field::new("comment", DataType::Utf8, true),
        Field::new("alert_id", DataType::Utf8, true),
        // The case a disposition decides (or the case of `alert_id`).
        Field::new("case_id", DataType::Utf8, true),
        Field::new("outcome", DataType::Utf8, true),
        Field::new("source", DataType::Utf8, false),
        Field::new("occurred_at", ts.clone(), false),
        Field::new("received_at", ts, false),
    ]))
}
