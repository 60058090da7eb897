//! PostgreSQL column types to Arrow types, and rows (in PostgreSQL's binary
//! format) to Arrow arrays.
//!
//! | PostgreSQL | Arrow |
//! |---|---|
//! | `boolean` | `Boolean` |
//! | `smallint`, `integer`, `bigint` | `Int16`, `Int32`, `Int64` |
//! | `real`, `double precision` | `Float32`, `Float64` |
//! | `numeric(p, s)`, p <= 38 | `Decimal128(max(p, s), s)` |
//! | `text`, `varchar`, `char(n)`, `name` | `Utf8` (`char(n)` keeps its padding) |
//! | `date` | `Date32` |
//! | `timestamp` | `Timestamp(µs, None)` |
//! | `timestamptz` | `Timestamp(µs, "UTC")` |
//! | `uuid` | `Utf8` (lower-case, hyphenated, as PostgreSQL prints it) |
//! | `bytea` | `Binary` |
//!
//! A `numeric` without a declared precision and scale (or with a precision
//! above 38) is refused rather than read as `Float64` or a guessed scale:
//! either would change values silently. A query can cast it
//! (`amount::numeric(18, 2)` or `amount::float8`). Every other type
//! (arrays, ranges, geometry, JSON, intervals, ...) is refused the same
//! way, naming the column and its type. Infinite dates and timestamps and a
//! numeric `NaN` have no Arrow value: they fail the read, naming the column.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Kind as PgKind, Type};

use crate::error::{PostgresError, Result};

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days from the Unix epoch to PostgreSQL's.
const PG_EPOCH_DAYS: i32 = 10_957;

/// What a result column becomes in Arrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArrowKind {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Decimal { precision: u8, scale: i8 },
    Text,
    Date,
    Timestamp,
    TimestampTz,
    Uuid,
    Bytes,
}

/// A result column: its name, PostgreSQL type (as `format_type` would
/// print it, roughly) and Arrow kind.
#[derive(Debug, Clone)]
pub(crate) struct SourceColumn {
    pub name: String,
    pub pg_type: Type,
    pub kind: ArrowKind,
}

impl SourceColumn {
    /// Whether the column can split a table into ranges.
    pub fn is_integer(&self) -> bool {
        matches!(
            self.kind,
            ArrowKind::Int16 | ArrowKind::Int32 | ArrowKind::Int64
        )
    }
}

/// Maps every column of a prepared statement, refusing the first one with
/// no Arrow type, or a repeated name.
pub(crate) fn map_columns(columns: &[tokio_postgres::Column]) -> Result<Vec<SourceColumn>> {
    let mut mapped: Vec<SourceColumn> = Vec::with_capacity(columns.len());
    for column in columns {
        let name = column.name().to_string();
        if mapped.iter().any(|c| c.name == name) {
            return Err(PostgresError::DuplicateColumn { column: name });
        }
        let kind = arrow_kind(&name, column.type_(), column.type_modifier())?;
        mapped.push(SourceColumn {
            name,
            pg_type: column.type_().clone(),
            kind,
        });
    }
    Ok(mapped)
}

/// The name PostgreSQL users know a type by (`integer[]` for an array).
pub(crate) fn type_name(ty: &Type) -> String {
    match ty.kind() {
        PgKind::Array(element) => format!("{}[]", type_name(element)),
        _ => ty.name().to_string(),
    }
}

fn arrow_kind(column: &str, ty: &Type, typmod: i32) -> Result<ArrowKind> {
    let unsupported = |pg_type: String, hint: &str| PostgresError::UnsupportedType {
        column: column.to_string(),
        pg_type,
        hint: Some(hint.to_string()),
    };
    Ok(match *ty {
        Type::BOOL => ArrowKind::Bool,
        Type::INT2 => ArrowKind::Int16,
        Type::INT4 => ArrowKind::Int32,
        Type::INT8 => ArrowKind::Int64,
        Type::FLOAT4 => ArrowKind::Float32,
        Type::FLOAT8 => ArrowKind::Float64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => ArrowKind::Text,
        Type::DATE => ArrowKind::Date,
        Type::TIMESTAMP => ArrowKind::Timestamp,
        Type::TIMESTAMPTZ => ArrowKind::TimestampTz,
        Type::UUID => ArrowKind::Uuid,
        Type::BYTEA => ArrowKind::Bytes,
        Type::NUMERIC => {
            let cast_hint = "cast it in a query, e.g. `col::numeric(18, 2)` or `col::float8`";
            let (precision, scale) = numeric_typmod(typmod).ok_or_else(|| {
                unsupported(
                    "numeric (no declared precision and scale)".into(),
                    cast_hint,
                )
            })?;
            // numeric(3, 5) holds values below 0.001: five digits in all.
            let digits = precision.max(scale.max(0) as u16);
            if digits > 38 {
                return Err(unsupported(
                    format!("numeric({precision}, {scale}) (more than 38 digits)"),
                    cast_hint,
                ));
            }
            ArrowKind::Decimal {
                precision: digits as u8,
                scale: scale as i8,
            }
        }
        _ => {
            return Err(unsupported(
                type_name(ty),
                "cast it in a query to a supported type, e.g. `col::text`",
            ));
        }
    })
}

/// Precision and scale of a `numeric(p, s)` type modifier; `None` when the
/// column declares none. PostgreSQL 15 stores the scale as an 11-bit signed
/// number (negative scales round to tens, hundreds, ...).
fn numeric_typmod(typmod: i32) -> Option<(u16, i16)> {
    if typmod < 4 {
        return None;
    }
    let bits = typmod - 4;
    let precision = ((bits >> 16) & 0xffff) as u16;
    let scale = (((bits & 0x7ff) ^ 1024) - 1024) as i16;
    Some((precision, scale))
}

/// The Arrow schema of mapped columns; every field is nullable, whatever
/// the table declares, so a table and a query over it give one schema.
pub(crate) fn arrow_schema(columns: &[SourceColumn]) -> SchemaRef {
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| Field::new(&c.name, data_type(c.kind), true))
        .collect();
    Arc::new(Schema::new(fields))
}

fn data_type(kind: ArrowKind) -> DataType {
    match kind {
        ArrowKind::Bool => DataType::Boolean,
        ArrowKind::Int16 => DataType::Int16,
        ArrowKind::Int32 => DataType::Int32,
        ArrowKind::Int64 => DataType::Int64,
        ArrowKind::Float32 => DataType::Float32,
        ArrowKind::Float64 => DataType::Float64,
        ArrowKind::Decimal { precision, scale } => DataType::Decimal128(precision, scale),
        ArrowKind::Text | ArrowKind::Uuid => DataType::Utf8,
        ArrowKind::Date => DataType::Date32,
        ArrowKind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        ArrowKind::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ArrowKind::Bytes => DataType::Binary,
    }
}

/// A value as the server sent it, in binary format, whatever its type:
/// decoding is this module's, so the mapping table above is the whole
/// truth.
struct Raw<'a>(&'a [u8]);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Rows to one Arrow batch.
pub(crate) struct BatchBuilder {
    schema: SchemaRef,
    names: Vec<String>,
    columns: Vec<ColumnBuilder>,
    rows: usize,
}

impl BatchBuilder {
    pub fn new(columns: &[SourceColumn], schema: SchemaRef) -> Self {
        BatchBuilder {
            schema,
            names: columns.iter().map(|c| c.name.clone()).collect(),
            columns: columns.iter().map(|c| ColumnBuilder::new(c.kind)).collect(),
            rows: 0,
        }
    }

    /// Rows appended since the last [`BatchBuilder::finish`].
    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn push(&mut self, row: &Row) -> Result<()> {
        for (i, column) in self.columns.iter_mut().enumerate() {
            let bad = |message: String| PostgresError::BadValue {
                column: self.names[i].clone(),
                message,
            };
            let raw: Option<Raw> = row.try_get(i).map_err(|e| bad(e.to_string()))?;
            column.push(raw.map(|r| r.0)).map_err(bad)?;
        }
        self.rows += 1;
        Ok(())
    }

    pub fn finish(&mut self) -> Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(ColumnBuilder::finish).collect();
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), arrays).map_err(|source| PostgresError::Arrow {
            what: "assembling a batch of rows".into(),
            source,
        })
    }
}

enum ColumnBuilder {
    Bool(BooleanBuilder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Decimal(Decimal128Builder, i8),
    Text(StringBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Uuid(StringBuilder),
    Bytes(BinaryBuilder),
}

impl ColumnBuilder {
    fn new(kind: ArrowKind) -> Self {
        match kind {
            ArrowKind::Bool => ColumnBuilder::Bool(BooleanBuilder::new()),
            ArrowKind::Int16 => ColumnBuilder::Int16(Int16Builder::new()),
            ArrowKind::Int32 => ColumnBuilder::Int32(Int32Builder::new()),
            ArrowKind::Int64 => ColumnBuilder::Int64(Int64Builder::new()),
            ArrowKind::Float32 => ColumnBuilder::Float32(Float32Builder::new()),
            ArrowKind::Float64 => ColumnBuilder::Float64(Float64Builder::new()),
            ArrowKind::Decimal { precision, scale } => ColumnBuilder::Decimal(
                Decimal128Builder::new()
                    .with_precision_and_scale(precision, scale)
                    .expect("precision 1..=38 checked by arrow_kind"),
                scale,
            ),
            ArrowKind::Text => ColumnBuilder::Text(StringBuilder::new()),
            ArrowKind::Date => ColumnBuilder::Date(Date32Builder::new()),
            ArrowKind::Timestamp | ArrowKind::TimestampTz => ColumnBuilder::Timestamp(
                TimestampMicrosecondBuilder::new().with_data_type(data_type(kind)),
            ),
            ArrowKind::Uuid => ColumnBuilder::Uuid(StringBuilder::new()),
            ArrowKind::Bytes => ColumnBuilder::Bytes(BinaryBuilder::new()),
        }
    }

    /// Appends one value (`None`: NULL); the error says what is wrong with
    /// it, the caller names the column.
    fn push(&mut self, raw: Option<&[u8]>) -> std::result::Result<(), String> {
        let Some(raw) = raw else {
            self.push_null();
            return Ok(());
        };
        match self {
            ColumnBuilder::Bool(b) => b.append_value(fixed::<1>(raw)?[0] != 0),
            ColumnBuilder::Int16(b) => b.append_value(i16::from_be_bytes(fixed(raw)?)),
            ColumnBuilder::Int32(b) => b.append_value(i32::from_be_bytes(fixed(raw)?)),
            ColumnBuilder::Int64(b) => b.append_value(i64::from_be_bytes(fixed(raw)?)),
            ColumnBuilder::Float32(b) => b.append_value(f32::from_be_bytes(fixed(raw)?)),
            ColumnBuilder::Float64(b) => b.append_value(f64::from_be_bytes(fixed(raw)?)),
            ColumnBuilder::Decimal(b, scale) => b.append_value(numeric_to_i128(raw, *scale)?),
            ColumnBuilder::Text(b) => b.append_value(
                std::str::from_utf8(raw).map_err(|_| "a value is not valid UTF-8".to_string())?,
            ),
            ColumnBuilder::Date(b) => b.append_value(date_to_days(raw)?),
            ColumnBuilder::Timestamp(b) => b.append_value(timestamp_to_micros(raw)?),
            ColumnBuilder::Uuid(b) => b.append_value(uuid_text(fixed(raw)?)),
            ColumnBuilder::Bytes(b) => b.append_value(raw),
        }
        Ok(())
    }

    fn push_null(&mut self) {
        match self {
            ColumnBuilder::Bool(b) => b.append_null(),
            ColumnBuilder::Int16(b) => b.append_null(),
            ColumnBuilder::Int32(b) => b.append_null(),
            ColumnBuilder::Int64(b) => b.append_null(),
            ColumnBuilder::Float32(b) => b.append_null(),
            ColumnBuilder::Float64(b) => b.append_null(),
            ColumnBuilder::Decimal(b, _) => b.append_null(),
            ColumnBuilder::Text(b) | ColumnBuilder::Uuid(b) => b.append_null(),
            ColumnBuilder::Date(b) => b.append_null(),
            ColumnBuilder::Timestamp(b) => b.append_null(),
            ColumnBuilder::Bytes(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Int16(b) => Arc::new(b.finish()),
            ColumnBuilder::Int32(b) => Arc::new(b.finish()),
            ColumnBuilder::Int64(b) => Arc::new(b.finish()),
            ColumnBuilder::Float32(b) => Arc::new(b.finish()),
            ColumnBuilder::Float64(b) => Arc::new(b.finish()),
            ColumnBuilder::Decimal(b, _) => Arc::new(b.finish()),
            ColumnBuilder::Text(b) | ColumnBuilder::Uuid(b) => Arc::new(b.finish()),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(b) => Arc::new(b.finish()),
            ColumnBuilder::Bytes(b) => Arc::new(b.finish()),
        }
    }
}

fn fixed<const N: usize>(raw: &[u8]) -> std::result::Result<[u8; N], String> {
    raw.try_into()
        .map_err(|_| format!("expected {N} bytes from the server, got {}", raw.len()))
}

fn date_to_days(raw: &[u8]) -> std::result::Result<i32, String> {
    let days = i32::from_be_bytes(fixed(raw)?);
    if days == i32::MAX || days == i32::MIN {
        return Err("an infinite date has no Arrow value".into());
    }
    days.checked_add(PG_EPOCH_DAYS)
        .ok_or_else(|| "a date is out of Arrow's range".into())
}

fn timestamp_to_micros(raw: &[u8]) -> std::result::Result<i64, String> {
    let micros = i64::from_be_bytes(fixed(raw)?);
    if micros == i64::MAX || micros == i64::MIN {
        return Err("an infinite timestamp has no Arrow value".into());
    }
    micros
        .checked_add(PG_EPOCH_MICROS)
        .ok_or_else(|| "a timestamp is out of Arrow's range".into())
}

fn uuid_text(b: [u8; 16]) -> String {
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A binary `numeric` as an integer count of 10^-`scale`: the value is
/// `sum(digit_i * 10000^(weight - i))`, digits in base 10 000.
fn numeric_to_i128(raw: &[u8], scale: i8) -> std::result::Result<i128, String> {
    if raw.len() < 8 {
        return Err("a numeric value is truncated".into());
    }
    let word = |i: usize| u16::from_be_bytes([raw[2 * i], raw[2 * i + 1]]);
    let (ndigits, weight, sign) = (word(0) as usize, word(1) as i16 as i32, word(2));
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Err("NaN has no Decimal128 value".into()),
        _ => return Err("an infinite numeric has no Decimal128 value".into()),
    }
    if raw.len() != 8 + 2 * ndigits {
        return Err("a numeric value has a wrong length".into());
    }
    let overflow = || "a numeric value does not fit its declared precision".to_string();
    let mut value: i128 = 0;
    for i in 0..ndigits {
        let digit = word(4 + i) as i128;
        let exponent = 4 * (weight - i as i32) + scale as i32;
        let term = if exponent >= 0 {
            let power = 10i128.checked_pow(exponent as u32).ok_or_else(overflow)?;
            digit.checked_mul(power).ok_or_else(overflow)?
        } else {
            // Digits below the scale are zero: the server rounded the value
            // to the column's scale before storing it.
            let power = 10i128.pow((-exponent).min(4) as u32);
            if digit % power != 0 {
                return Err("a numeric value has more decimals than its scale".into());
            }
            digit / power
        };
        value = value.checked_add(term).ok_or_else(overflow)?;
    }
    Ok(if sign == 0x4000 { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The binary form of a numeric, from its base-10 000 digits.
    fn numeric(digits: &[u16], weight: i16, negative: bool, dscale: u16) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend((digits.len() as u16).to_be_bytes());
        out.extend(weight.to_be_bytes());
        out.extend((if negative { 0x4000u16 } else { 0 }).to_be_bytes());
        out.extend(dscale.to_be_bytes());
        for d in digits {
            out.extend(d.to_be_bytes());
        }
        out
    }

    #[test]
    fn numerics_become_scaled_integers() {
        // 12345.67 = 1|2345|6700 with weight 1
        let raw = numeric(&[1, 2345, 6700], 1, false, 2);
        assert_eq!(numeric_to_i128(&raw, 2), Ok(1_234_567));
        // -0.05
        let raw = numeric(&[500], -1, true, 2);
        assert_eq!(numeric_to_i128(&raw, 2), Ok(-5));
        // 0
        assert_eq!(numeric_to_i128(&numeric(&[], 0, false, 2), 2), Ok(0));
        // 1200 in numeric(5, -2): 12 hundreds
        assert_eq!(numeric_to_i128(&numeric(&[1200], 0, false, 0), -2), Ok(12));
        let nan = [0, 0, 0, 0, 0xC0, 0, 0, 0];
        assert!(numeric_to_i128(&nan, 2).unwrap_err().contains("NaN"));
    }

    #[test]
    fn numeric_typmods_decode() {
        // numeric(12, 2): ((12 << 16) | 2) + 4
        assert_eq!(numeric_typmod((12 << 16 | 2) + 4), Some((12, 2)));
        assert_eq!(
            numeric_typmod((5 << 16 | (-2i32 & 0x7ff)) + 4),
            Some((5, -2))
        );
        assert_eq!(numeric_typmod(-1), None);
    }

    #[test]
    fn times_shift_to_the_unix_epoch() {
        assert_eq!(
            timestamp_to_micros(&0i64.to_be_bytes()),
            Ok(PG_EPOCH_MICROS)
        );
        assert_eq!(date_to_days(&(-10_957i32).to_be_bytes()), Ok(0));
        assert!(timestamp_to_micros(&i64::MAX.to_be_bytes()).is_err());
        assert!(date_to_days(&i32::MIN.to_be_bytes()).is_err());
    }

    #[test]
    fn uuids_print_as_postgres_does() {
        let bytes = *b"\x12\x34\x56\x78\x9a\xbc\xde\xf0\x12\x34\x56\x78\x9a\xbc\xde\xf0";
        assert_eq!(uuid_text(bytes), "12345678-9abc-def0-1234-56789abcdef0");
    }
}
