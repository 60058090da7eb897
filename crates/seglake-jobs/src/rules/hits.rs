//! One rule's SQL run and its rows checked: the job key (one row per
//! customer), a `reason`, and the other columns kept as evidence.

use std::collections::BTreeMap;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use seglake_features::FeatureEngine;
use seglake_spec::RuleSpec;
use serde_json::{Map, Value};

use crate::error::{JobError, Result};

/// The column every rule returns beside the key.
pub const REASON_COLUMN: &str = "reason";

/// One row a rule returned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RuleHit {
    pub key: String,
    pub reason: String,
    /// A JSON object of the rule's other columns.
    pub evidence: String,
}

fn bad(rule: &RuleSpec, message: String) -> JobError {
    JobError::Rules {
        message: format!(
            "rule `{}` ({}): {message}",
            rule.name,
            rule.sql.path.display()
        ),
    }
}

/// Checks that the columns a rule returns include `key` and `reason`.
pub(crate) fn check_columns(
    rule: &RuleSpec,
    key: &str,
    schema: &arrow::datatypes::Schema,
) -> Result<()> {
    for needed in [key, REASON_COLUMN] {
        if schema.field_with_name(needed).is_err() {
            let found: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            return Err(bad(
                rule,
                format!(
                    "returns no `{needed}` column (a rule returns the key `{key}`, a `{REASON_COLUMN}` \
                     and any evidence columns); it returns: {}",
                    found.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Runs `rule` and returns its rows in key order.
pub(crate) async fn run(
    engine: &FeatureEngine,
    rule: &RuleSpec,
    key: &str,
) -> Result<Vec<RuleHit>> {
    let schema = engine.query_file_schema(&rule.sql).await?;
    check_columns(rule, key, &schema)?;
    let batches = engine.run_query_file(&rule.sql).await?;
    let mut hits = Vec::new();
    for batch in &batches {
        read_batch(rule, key, batch, &mut hits)?;
    }
    hits.sort_by(|a, b| a.key.cmp(&b.key));
    if let Some(w) = hits.windows(2).find(|w| w[0].key == w[1].key) {
        return Err(bad(
            rule,
            format!(
                "returns `{key}` {} more than once: a rule returns one row per customer",
                w[0].key
            ),
        ));
    }
    Ok(hits)
}

fn utf8(rule: &RuleSpec, batch: &RecordBatch, column: &str) -> Result<StringArray> {
    let array = batch.column_by_name(column).expect("checked");
    let cast = cast(array, &DataType::Utf8).map_err(|e| {
        bad(
            rule,
            format!("column `{column}` cannot be read as text: {e}"),
        )
    })?;
    Ok(cast
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("utf8")
        .clone())
}

fn read_batch(
    rule: &RuleSpec,
    key: &str,
    batch: &RecordBatch,
    hits: &mut Vec<RuleHit>,
) -> Result<()> {
    let keys = utf8(rule, batch, key)?;
    let reasons = utf8(rule, batch, REASON_COLUMN)?;
    let schema = batch.schema();
    let evidence: Vec<(&str, &ArrayRef)> = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .filter(|(f, _)| f.name() != key && f.name() != REASON_COLUMN)
        .map(|(f, c)| (f.name().as_str(), c))
        .collect();
    for i in 0..batch.num_rows() {
        if keys.is_null(i) {
            return Err(bad(rule, format!("returns a row whose `{key}` is null")));
        }
        if reasons.is_null(i) {
            return Err(bad(
                rule,
                format!("`{REASON_COLUMN}` is null for `{key}` {}", keys.value(i)),
            ));
        }
        let mut object = Map::new();
        for (name, column) in &evidence {
            object.insert(name.to_string(), json_value(rule, column, i)?);
        }
        hits.push(RuleHit {
            key: keys.value(i).to_string(),
            reason: reasons.value(i).to_string(),
            evidence: Value::Object(object).to_string(),
        });
    }
    Ok(())
}

/// A cell as JSON: numbers as numbers, everything else as its text.
fn json_value(rule: &RuleSpec, column: &ArrayRef, i: usize) -> Result<Value> {
    if column.is_null(i) {
        return Ok(Value::Null);
    }
    let dt = column.data_type();
    if dt.is_integer() || dt.is_floating() || matches!(dt, DataType::Decimal128(..)) {
        let f = cast(&column.slice(i, 1), &DataType::Float64)
            .map_err(|e| bad(rule, format!("evidence cannot be read: {e}")))?;
        let v = f
            .as_any()
            .downcast_ref::<arrow::array::Float64Array>()
            .expect("f64")
            .value(0);
        return Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number));
    }
    if let DataType::Boolean = dt {
        let b = column
            .as_any()
            .downcast_ref::<arrow::array::BooleanArray>()
            .expect("bool");
        return Ok(Value::Bool(b.value(i)));
    }
    let formatter = ArrayFormatter::try_new(column.as_ref(), &FormatOptions::default())
        .map_err(|e| bad(rule, format!("evidence cannot be read: {e}")))?;
    Ok(Value::String(formatter.value(i).to_string()))
}

/// The segment's thresholds as a JSON object, for the alert.
pub(crate) fn thresholds_json(values: Option<&BTreeMap<String, f64>>) -> String {
    let object: Map<String, Value> = values
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                serde_json::Number::from_f64(*v).map_or(Value::Null, Value::Number),
            )
        })
        .collect();
    Value::Object(object).to_string()
}
