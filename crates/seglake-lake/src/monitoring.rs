//! The `monitoring` table: how each run's models behave over time, one row
//! per run x metric x feature/segment/band (drift against the previous
//! run, outcomes analysis of earlier risk models, alert and case KPIs,
//! feedback KPIs). Appended by every run of a job that segments customers,
//! in the same publication as its other tables: the KPI history BI tools
//! chart and `seglake monitor` prints.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// The table's name under the lake root.
pub const MONITORING_TABLE: &str = "monitoring";

/// The columns, in order. `feature`, `segment`, `band` and `model_run_id`
/// say what a row is about (null when it is about the whole run); `count`
/// is how many customers or decisions the value rests on; `limit` is the
/// `[monitoring]` limit the value was checked against, if any, and
/// `breached` whether it went past it.
pub fn schema() -> SchemaRef {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        text("run_id", false),
        text("job_name", false),
        Field::new(
            "as_of",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        text("metric", false),
        text("feature", true),
        text("segment", true),
        text("band", true),
        text("model_run_id", true),
        Field::new("value", DataType::Float64, true),
        Field::new("count", DataType::Int64, true),
        Field::new("limit", DataType::Float64, true),
        Field::new("breached", DataType::Boolean, false),
    ]))
}
