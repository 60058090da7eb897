//! Columns of a published table by name, with the table and version in
//! every error: a report reads tables that other runs and tools may have
//! written, and a missing column must say where it was missing.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{DataType, Float64Type};

use crate::error::{ReportError, Result};

/// One version of one table, as a single batch.
pub(crate) struct Table {
    pub name: String,
    pub version: i64,
    pub batch: RecordBatch,
}

impl Table {
    pub fn new(name: &str, version: i64, batches: &[RecordBatch]) -> Result<Table> {
        let batch = match batches.first() {
            None => RecordBatch::new_empty(arrow::datatypes::Schema::empty().into()),
            Some(first) => {
                concat_batches(&first.schema(), batches).map_err(|source| ReportError::Arrow {
                    table: name.to_string(),
                    source,
                })?
            }
        };
        Ok(Table {
            name: name.to_string(),
            version,
            batch,
        })
    }

    pub fn rows(&self) -> usize {
        self.batch.num_rows()
    }

    pub fn has(&self, column: &str) -> bool {
        self.batch.column_by_name(column).is_some()
    }

    fn column(&self, column: &str) -> Result<&arrow::array::ArrayRef> {
        self.batch
            .column_by_name(column)
            .ok_or_else(|| self.problem(format!("no column `{column}`")))
    }

    /// A numeric column as f64, nulls as NaN (a missing value, as the
    /// preparation reads it).
    pub fn f64s(&self, column: &str) -> Result<Vec<f64>> {
        let values = cast(self.column(column)?, &DataType::Float64)
            .map_err(|e| self.problem(format!("column `{column}` is not numeric: {e}")))?;
        let values = values.as_primitive::<Float64Type>();
        Ok((0..values.len())
            .map(|i| {
                if values.is_null(i) {
                    f64::NAN
                } else {
                    values.value(i)
                }
            })
            .collect())
    }

    /// A column as text, nulls as `None`.
    pub fn strings(&self, column: &str) -> Result<Vec<Option<String>>> {
        let values = cast(self.column(column)?, &DataType::Utf8)
            .map_err(|e| self.problem(format!("column `{column}` is not text: {e}")))?;
        let values = values.as_string::<i32>();
        Ok((0..values.len())
            .map(|i| (!values.is_null(i)).then(|| values.value(i).to_string()))
            .collect())
    }

    pub fn problem(&self, detail: String) -> ReportError {
        ReportError::Table {
            table: self.name.clone(),
            version: self.version,
            detail,
        }
    }
}
