//! A message as a row of the target table: one JSON object per message
//! (or one Avro record, read as the same object: [`crate::avro`]), its
//! fields matched to the table's columns by name.
//!
//! A message is taken whole or not at all: it is checked completely before
//! any of its values is kept, so a bad message never leaves half a row.
//! Fields the table has no column for are ignored (producers add fields
//! before tables add columns); a column the message lacks, or has as
//! `null`, is NULL if the column is nullable and makes the message bad if
//! it is not. Dates are `YYYY-MM-DD`; timestamps are RFC 3339 text
//! (`2026-11-29T10:15:00Z`, `...+01:00`) or a date-time without offset,
//! read as UTC. What Arrow's JSON writer writes, this reads back.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float32Array, Float64Array, Int32Array, Int64Array,
    RecordBatch, StringArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray,
};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use crate::avro::AvroSchema;
use crate::error::{Result, StreamError};

/// How a column's JSON values are read.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Text,
    Int64,
    Int32,
    Float64,
    Float32,
    Boolean,
    Date,
    Timestamp(TimeUnit, Option<Arc<str>>),
}

impl Kind {
    fn of(data_type: &DataType) -> Option<Kind> {
        Some(match data_type {
            DataType::Utf8 => Kind::Text,
            DataType::Int64 => Kind::Int64,
            DataType::Int32 => Kind::Int32,
            DataType::Float64 => Kind::Float64,
            DataType::Float32 => Kind::Float32,
            DataType::Boolean => Kind::Boolean,
            DataType::Date32 => Kind::Date,
            DataType::Timestamp(unit, tz) => Kind::Timestamp(*unit, tz.clone()),
            _ => return None,
        })
    }
}

/// One decoded value. Integers hold dates (days since 1970-01-01) and
/// timestamps (in the column's unit) too.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// How a message carries its row.
#[derive(Debug, Clone)]
pub enum MessageFormat {
    /// One JSON object.
    Json,
    /// One Avro record of this schema ([`crate::avro`]).
    Avro(Arc<AvroSchema>),
}

/// Decodes messages into rows of one table's schema.
#[derive(Debug, Clone)]
pub struct RowDecoder {
    schema: SchemaRef,
    kinds: Vec<Kind>,
    format: MessageFormat,
}

impl RowDecoder {
    /// A decoder of JSON messages for `schema`; a column of a type JSON
    /// cannot carry here is refused, named.
    pub fn new(schema: SchemaRef) -> Result<Self> {
        Self::with_format(schema, MessageFormat::Json)
    }

    /// A decoder of `format` messages for `schema`. With Avro, a column
    /// that may not be NULL must be a field of the Avro schema.
    pub fn with_format(schema: SchemaRef, format: MessageFormat) -> Result<Self> {
        if let MessageFormat::Avro(avro) = &format
            && let Some(missing) = schema
                .fields()
                .iter()
                .find(|f| !f.is_nullable() && !avro.has_field(f.name()))
        {
            return Err(StreamError::InvalidSource {
                url: "the Avro schema".into(),
                why: format!(
                    "it has no field `{}`, a column of the table that may not be NULL",
                    missing.name()
                ),
            });
        }
        let kinds = schema
            .fields()
            .iter()
            .map(|f| {
                Kind::of(f.data_type()).ok_or_else(|| StreamError::UnsupportedColumn {
                    column: f.name().clone(),
                    data_type: f.data_type().to_string(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RowDecoder {
            schema,
            kinds,
            format,
        })
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// An empty set of rows to push decoded messages into.
    pub fn rows(&self) -> Rows<'_> {
        Rows {
            decoder: self,
            cells: vec![Vec::new(); self.kinds.len()],
        }
    }

    /// The message's row, or why it is not one.
    fn decode(&self, payload: &[u8]) -> Result<Vec<Cell>, String> {
        let value: Value = match &self.format {
            MessageFormat::Json => {
                serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?
            }
            MessageFormat::Avro(avro) => Value::Object(avro.read_message(payload)?),
        };
        let Value::Object(object) = value else {
            return Err(format!("not a JSON object but {}", json_kind(&value)));
        };
        let fields = self.schema.fields();
        let mut row = Vec::with_capacity(fields.len());
        for (field, kind) in fields.iter().zip(&self.kinds) {
            let cell = match object.get(field.name()) {
                None | Some(Value::Null) if field.is_nullable() => Cell::Null,
                None => return Err(format!("missing required field `{}`", field.name())),
                Some(Value::Null) => {
                    return Err(format!("required field `{}` is null", field.name()));
                }
                Some(value) => {
                    cell(kind, value).map_err(|e| format!("field `{}`: {e}", field.name()))?
                }
            };
            row.push(cell);
        }
        Ok(row)
    }
}

/// Rows decoded so far, column by column.
pub struct Rows<'a> {
    decoder: &'a RowDecoder,
    cells: Vec<Vec<Cell>>,
}

impl Rows<'_> {
    /// Adds the message as a row, or returns why it is not one (and adds
    /// nothing).
    pub fn push(&mut self, payload: &[u8]) -> Result<(), String> {
        let row = self.decoder.decode(payload)?;
        for (column, cell) in self.cells.iter_mut().zip(row) {
            column.push(cell);
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.cells.first().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows as one batch of the table's schema.
    pub fn finish(self) -> RecordBatch {
        let columns: Vec<ArrayRef> = self
            .cells
            .into_iter()
            .zip(&self.decoder.kinds)
            .map(|(cells, kind)| array(kind, cells))
            .collect();
        RecordBatch::try_new(self.decoder.schema.clone(), columns)
            .expect("every value was checked against its column's type and nullability")
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `value` read as `kind`.
fn cell(kind: &Kind, value: &Value) -> Result<Cell, String> {
    let wrong = |expected: &str| format!("expected {expected}, found {}", json_kind(value));
    match kind {
        Kind::Text => value
            .as_str()
            .map(|s| Cell::Text(s.to_string()))
            .ok_or_else(|| wrong("text")),
        Kind::Int64 => value
            .as_i64()
            .map(Cell::Int)
            .ok_or_else(|| wrong("an integer")),
        Kind::Int32 => value
            .as_i64()
            .filter(|v| i32::try_from(*v).is_ok())
            .map(Cell::Int)
            .ok_or_else(|| wrong("a 32-bit integer")),
        Kind::Float64 | Kind::Float32 => value
            .as_f64()
            .map(Cell::Float)
            .ok_or_else(|| wrong("a number")),
        Kind::Boolean => value
            .as_bool()
            .map(Cell::Bool)
            .ok_or_else(|| wrong("true or false")),
        Kind::Date => {
            let text = value.as_str().ok_or_else(|| wrong("a date (YYYY-MM-DD)"))?;
            let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD)"))?;
            Ok(Cell::Int(i64::from(
                (date - NaiveDate::default()).num_days() as i32,
            )))
        }
        Kind::Timestamp(unit, _) => {
            let text = value
                .as_str()
                .ok_or_else(|| wrong("a timestamp (RFC 3339 text)"))?;
            let at = crate::timestamp_text::parse(text).ok_or_else(|| {
                format!("`{text}` is not a timestamp (RFC 3339, e.g. 2026-11-29T10:15:00Z)")
            })?;
            in_unit(at, *unit)
                .map(Cell::Int)
                .ok_or_else(|| format!("`{text}` is out of range"))
        }
    }
}

fn in_unit(at: DateTime<Utc>, unit: TimeUnit) -> Option<i64> {
    match unit {
        TimeUnit::Second => Some(at.timestamp()),
        TimeUnit::Millisecond => Some(at.timestamp_millis()),
        TimeUnit::Microsecond => Some(at.timestamp_micros()),
        TimeUnit::Nanosecond => at.timestamp_nanos_opt(),
    }
}

/// The column of `cells`, which [`cell`] made of the right variant.
fn array(kind: &Kind, cells: Vec<Cell>) -> ArrayRef {
    let ints = || {
        cells.iter().map(|c| match c {
            Cell::Int(v) => Some(*v),
            _ => None,
        })
    };
    let floats = || {
        cells.iter().map(|c| match c {
            Cell::Float(v) => Some(*v),
            _ => None,
        })
    };
    match kind {
        Kind::Text => Arc::new(StringArray::from_iter(cells.iter().map(|c| match c {
            Cell::Text(s) => Some(s.as_str()),
            _ => None,
        }))),
        Kind::Int64 => Arc::new(Int64Array::from_iter(ints())),
        Kind::Int32 => Arc::new(Int32Array::from_iter(ints().map(|v| v.map(|v| v as i32)))),
        Kind::Float64 => Arc::new(Float64Array::from_iter(floats())),
        Kind::Float32 => Arc::new(Float32Array::from_iter(
            floats().map(|v| v.map(|v| v as f32)),
        )),
        Kind::Boolean => Arc::new(BooleanArray::from_iter(cells.iter().map(|c| match c {
            Cell::Bool(b) => Some(*b),
            _ => None,
        }))),
        Kind::Date => Arc::new(Date32Array::from_iter(ints().map(|v| v.map(|v| v as i32)))),
        Kind::Timestamp(unit, tz) => {
            let tz = tz.clone();
            match unit {
                TimeUnit::Second => {
                    Arc::new(TimestampSecondArray::from_iter(ints()).with_timezone_opt(tz))
                }
                TimeUnit::Millisecond => {
                    Arc::new(TimestampMillisecondArray::from_iter(ints()).with_timezone_opt(tz))
                }
                TimeUnit::Microsecond => {
                    Arc::new(TimestampMicrosecondArray::from_iter(ints()).with_timezone_opt(tz))
                }
                TimeUnit::Nanosecond => {
                    Arc::new(TimestampNanosecondArray::from_iter(ints()).with_timezone_opt(tz))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{Field, Schema};

    fn decoder() -> RowDecoder {
        RowDecoder::new(Arc::new(Schema::new(vec![
            Field::new("transaction_id", DataType::Utf8, false),
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("amount", DataType::Float64, false),
            Field::new("n", DataType::Int32, true),
            Field::new("day", DataType::Date32, true),
            Field::new("flag", DataType::Boolean, true),
        ])))
        .unwrap()
    }

    #[test]
    fn messages_become_typed_rows_and_bad_ones_are_named() {
        let d = decoder();
        let mut rows = d.rows();
        rows.push(br#"{"transaction_id":"t1","ts":"2026-11-29T10:15:00.000001Z","amount":12,"n":3,"day":"2026-11-29","flag":true,"extra":1}"#).unwrap();
        rows.push(br#"{"transaction_id":"t2","ts":"2026-11-29 11:00:00","amount":1.5,"n":null}"#)
            .unwrap();
        for (message, why) in [
            (&b"{not json"[..], "not JSON"),
            (b"[1]", "not a JSON object but an array"),
            (
                br#"{"ts":"2026-11-29T10:15:00Z","amount":1}"#,
                "missing required field `transaction_id`",
            ),
            (
                br#"{"transaction_id":null,"ts":"2026-11-29T10:15:00Z","amount":1}"#,
                "required field `transaction_id` is null",
            ),
            (
                br#"{"transaction_id":"t","ts":"2026-11-29T10:15:00Z","amount":"12"}"#,
                "field `amount`: expected a number, found text",
            ),
            (
                br#"{"transaction_id":"t","ts":"yesterday","amount":1}"#,
                "field `ts`: `yesterday` is not a timestamp",
            ),
            (
                br#"{"transaction_id":"t","ts":"2026-11-29T10:15:00Z","amount":1,"n":3000000000}"#,
                "field `n`: expected a 32-bit integer",
            ),
            (
                br#"{"transaction_id":"t","ts":"2026-11-29T10:15:00Z","amount":1,"n":1.5}"#,
                "field `n`",
            ),
        ] {
            let err = rows.push(message).unwrap_err();
            assert!(err.contains(why), "{err}");
        }
        assert_eq!(rows.len(), 2, "a bad message adds nothing");
        let batch = rows.finish();
        let text = arrow::util::pretty::pretty_format_batches(&[batch])
            .unwrap()
            .to_string();
        assert!(
            text.contains(
                "| t1             | 2026-11-29T10:15:00.000001Z | 12.0   | 3 | 2026-11-29 | true |"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "| t2             | 2026-11-29T11:00:00Z        | 1.5    |   |            |      |"
            ),
            "{text}"
        );
    }

    #[test]
    fn what_arrows_json_writer_writes_reads_back_equal() {
        let d = decoder();
        let mut rows = d.rows();
        rows.push(br#"{"transaction_id":"a","ts":"2026-01-02T03:04:05.123456Z","amount":-0.25,"n":-7,"day":"1969-12-31","flag":false}"#).unwrap();
        let batch = rows.finish();
        let mut writer = arrow::json::LineDelimitedWriter::new(Vec::new());
        writer.write(&batch).unwrap();
        writer.finish().unwrap();
        let line = writer.into_inner();
        let mut again = d.rows();
        again.push(line.trim_ascii_end()).unwrap();
        assert_eq!(again.finish(), batch);
    }

    #[test]
    fn a_column_json_cannot_carry_is_refused_by_name() {
        let schema = Schema::new(vec![Field::new("blob", DataType::Binary, true)]);
        let err = RowDecoder::new(Arc::new(schema)).unwrap_err().to_string();
        assert!(err.contains("`blob`") && err.contains("Binary"), "{err}");
    }
}
