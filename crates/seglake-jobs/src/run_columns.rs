//! The columns seglake appends to every row of the feature table.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use chrono::{DateTime, Utc};
use seglake_features::FeatureTable;

use crate::error::{JobError, Result};
use crate::tables::TableData;

/// The columns [`with_run_columns`] appends (a feature view may not make
/// them itself).
pub(crate) const RUN_COLUMNS: [&str; 2] = ["run_id", "as_of"];

/// Appends `run_id` and `as_of` to every feature row, so a BI tool reading
/// the table sees which run and which point in time each row belongs to.
pub(crate) fn with_run_columns(
    features: &FeatureTable,
    run_id: &str,
    as_of: DateTime<Utc>,
    table: &str,
) -> Result<TableData> {
    let mut fields: Vec<Field> = features
        .schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(RUN_COLUMNS[0], DataType::Utf8, false));
    fields.push(Field::new(
        RUN_COLUMNS[1],
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        false,
    ));
    let schema = Arc::new(Schema::new(fields));
    let batches = features
        .batches
        .iter()
        .map(|b| {
            let n = b.num_rows();
            let mut columns: Vec<ArrayRef> = b.columns().to_vec();
            columns.push(Arc::new(StringArray::from(vec![run_id; n])));
            columns.push(Arc::new(
                TimestampMicrosecondArray::from(vec![as_of.timestamp_micros(); n])
                    .with_timezone("UTC"),
            ));
            RecordBatch::try_new(schema.clone(), columns)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| JobError::Output {
            table: table.to_string(),
            source,
        })?;
    Ok((schema, batches))
}
