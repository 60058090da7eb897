//! The rows a run adds to `monitoring`, the limits checked on them, and
//! the table they make.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use arrow::datatypes::DataType;
use chrono::{DateTime, Utc};
use seglake_lake::monitoring::{MONITORING_TABLE, schema};
use seglake_spec::monitoring::{MonitoringSpec, OUTCOMES_AUC};

use crate::error::{JobError, Result};
use crate::tables::TableData;

/// One row: a metric of this run, about a feature, segment, band or an
/// earlier model when it says so.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Row {
    pub metric: &'static str,
    pub feature: Option<String>,
    pub segment: Option<String>,
    pub band: Option<String>,
    pub model_run_id: Option<String>,
    pub value: Option<f64>,
    pub count: Option<i64>,
    pub limit: Option<f64>,
    pub breached: bool,
}

impl Row {
    pub fn new(metric: &'static str, value: f64) -> Row {
        Row {
            metric,
            value: value.is_finite().then_some(value),
            ..Row::default()
        }
    }

    /// The row as `runs.metrics.monitoring` lists it (only the columns
    /// it has).
    pub fn to_json(&self) -> serde_json::Value {
        let mut row = serde_json::json!({ "metric": self.metric, "value": self.value });
        let about = [
            ("feature", &self.feature),
            ("segment", &self.segment),
            ("band", &self.band),
            ("model_run_id", &self.model_run_id),
        ];
        for (name, value) in about {
            if let Some(v) = value {
                row[name] = v.clone().into();
            }
        }
        if let Some(count) = self.count {
            row["count"] = count.into();
        }
        row
    }

    /// What the row is about, for messages: `feature_psi[amount_sum]`.
    pub fn subject(&self) -> String {
        let about: Vec<&str> = [&self.feature, &self.segment, &self.band, &self.model_run_id]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        if about.is_empty() {
            self.metric.to_string()
        } else {
            format!("{}[{}]", self.metric, about.join(", "))
        }
    }
}

/// Sets each row's limit and whether it went past it. The outcomes AUC
/// checked is the previous run's model's, over all customers (older
/// models are history, and a segment's AUC is too noisy to gate on).
/// Returns the breached rows.
pub(crate) fn check_limits(
    rows: &mut [Row],
    spec: &MonitoringSpec,
    previous_run: Option<&str>,
) -> Vec<Row> {
    for row in rows.iter_mut() {
        let Some(limit) = spec.limit_on(row.metric) else {
            continue;
        };
        if row.metric == OUTCOMES_AUC
            && (row.segment.is_some() || row.model_run_id.as_deref() != previous_run)
        {
            continue;
        }
        row.limit = Some(limit.value);
        row.breached = row.value.is_some_and(|v| limit.breached_by(v));
    }
    rows.iter().filter(|r| r.breached).cloned().collect()
}

/// The rows as the `monitoring` table's next data.
pub(crate) fn table(
    rows: &[Row],
    run_id: &str,
    job: &str,
    as_of: DateTime<Utc>,
) -> Result<TableData> {
    let n = rows.len();
    let text = |f: &dyn Fn(&Row) -> Option<&str>| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<StringArray>())
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![run_id; n])),
        Arc::new(StringArray::from(vec![job; n])),
        Arc::new(
            arrow::array::TimestampMicrosecondArray::from(vec![as_of.timestamp_micros(); n])
                .with_timezone("UTC"),
        ),
        text(&|r| Some(r.metric)),
        text(&|r| r.feature.as_deref()),
        text(&|r| r.segment.as_deref()),
        text(&|r| r.band.as_deref()),
        text(&|r| r.model_run_id.as_deref()),
        Arc::new(rows.iter().map(|r| r.value).collect::<Float64Array>()),
        Arc::new(rows.iter().map(|r| r.count).collect::<Int64Array>()),
        Arc::new(rows.iter().map(|r| r.limit).collect::<Float64Array>()),
        Arc::new(
            rows.iter()
                .map(|r| Some(r.breached))
                .collect::<BooleanArray>(),
        ),
    ];
    let schema = schema();
    let batch = arrow::array::RecordBatch::try_new(schema.clone(), columns).map_err(|source| {
        JobError::Output {
            table: MONITORING_TABLE.into(),
            source,
        }
    })?;
    Ok((schema, vec![batch]))
}

/// A numeric column of `batches` as f64 (nulls as NaN); `None` when the
/// column is absent or not numeric.
pub(crate) fn numbers(batches: &[arrow::array::RecordBatch], column: &str) -> Option<Vec<f64>> {
    let mut out = Vec::new();
    for b in batches {
        let array = b.column_by_name(column)?;
        let array = arrow::compute::cast(array, &DataType::Float64).ok()?;
        let array = array.as_any().downcast_ref::<Float64Array>()?;
        out.extend(array.iter().map(|v| v.unwrap_or(f64::NAN)));
    }
    Some(out)
}

/// A column of `batches` as text (nulls as `None`); `None` when absent.
pub(crate) fn texts(
    batches: &[arrow::array::RecordBatch],
    column: &str,
) -> Option<Vec<Option<String>>> {
    let mut out = Vec::new();
    for b in batches {
        let array = arrow::compute::cast(b.column_by_name(column)?, &DataType::Utf8).ok()?;
        let array = array.as_any().downcast_ref::<StringArray>()?;
        out.extend(array.iter().map(|v| v.map(str::to_string)));
    }
    Some(out)
}

/// Each customer's segment label in a `segments` table, by its key.
pub(crate) fn labels_by_key(
    key: &str,
    segments: &[arrow::array::RecordBatch],
) -> Option<std::collections::HashMap<String, String>> {
    let keys = texts(segments, key)?;
    let labels = texts(segments, "segment_label")?;
    Some(
        keys.into_iter()
            .zip(labels)
            .filter_map(|(k, l)| Some((k?, l?)))
            .collect(),
    )
}
