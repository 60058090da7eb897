//! Avro messages: a flat record schema (`.avsc`), and each message in the
//! Confluent wire format (a zero byte, the schema's 4-byte registry id,
//! then the record in Avro's binary encoding), read into the JSON object
//! `decode.rs` turns into a row, or written from one.
//!
//! The schema registry is not asked: the writer schema is the file given,
//! and with an expected id a message written under another id is refused
//! (it would be read with the wrong schema). Field types: `null`,
//! `boolean`, `int`, `long`, `float`, `double`, `string`, enums, unions of
//! these, `int` with logical type `date` and `long` with `timestamp-millis`
//! or `timestamp-micros`; records, arrays, maps, fixed and bytes (decimals
//! among them) have no column to go to and are refused by name.

use chrono::{DateTime, NaiveDate};
use serde_json::{Map, Number, Value};

use crate::error::{Result, StreamError};

/// The first byte of a message in the Confluent wire format.
const MAGIC: u8 = 0;
/// The magic byte and the 4-byte schema id.
const HEADER: usize = 5;

/// A type a field (or a branch of a union) may have.
#[derive(Debug, Clone, PartialEq)]
enum Plain {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    String,
    Enum(Vec<String>),
    Date,
    TimestampMillis,
    TimestampMicros,
}

#[derive(Debug, Clone, PartialEq)]
struct AvroField {
    name: String,
    /// One type, or the branches of a union.
    branches: Vec<Plain>,
    union: bool,
}

/// A record schema, and the registry id messages must carry (if given).
#[derive(Debug, Clone, PartialEq)]
pub struct AvroSchema {
    fields: Vec<AvroField>,
    id: Option<u32>,
}

fn unsupported(field: &str, why: impl std::fmt::Display) -> StreamError {
    StreamError::UnsupportedColumn {
        column: field.to_string(),
        data_type: format!("Avro {why}"),
    }
}

impl AvroSchema {
    /// Parses `text` (an `.avsc` file's JSON); `id`: the registry id
    /// messages are written with.
    pub fn parse(text: &str, id: Option<u32>) -> Result<AvroSchema> {
        let invalid = |why: String| StreamError::InvalidSource {
            url: "the Avro schema".into(),
            why,
        };
        let value: Value =
            serde_json::from_str(text).map_err(|e| invalid(format!("not JSON: {e}")))?;
        if value.get("type").and_then(Value::as_str) != Some("record") {
            return Err(invalid(
                "it must be a record schema ({\"type\": \"record\", \"fields\": [...]})".into(),
            ));
        }
        let fields = value
            .get("fields")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("the record has no `fields` list".into()))?;
        let mut parsed = Vec::with_capacity(fields.len());
        for field in fields {
            let name = field
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(format!("a field has no name: {field}")))?;
            let ty = field
                .get("type")
                .ok_or_else(|| invalid(format!("field `{name}` has no type")))?;
            let (branches, union) = match ty {
                Value::Array(branches) => (
                    branches
                        .iter()
                        .map(|b| plain(name, b))
                        .collect::<Result<Vec<_>>>()?,
                    true,
                ),
                other => (vec![plain(name, other)?], false),
            };
            parsed.push(AvroField {
                name: name.to_string(),
                branches,
                union,
            });
        }
        Ok(AvroSchema { fields: parsed, id })
    }

    /// Whether the schema has field `name`.
    pub fn has_field(&self, name: &str) -> bool {
        self.fields.iter().any(|f| f.name == name)
    }

    /// A message as a JSON object, or why it is not one.
    pub fn read_message(&self, message: &[u8]) -> std::result::Result<Map<String, Value>, String> {
        if message.len() < HEADER || message[0] != MAGIC {
            return Err(
                "not in the Confluent wire format (a zero byte, a 4-byte schema id, the record)"
                    .into(),
            );
        }
        let id = u32::from_be_bytes(message[1..HEADER].try_into().expect("4 bytes"));
        if let Some(expected) = self.id
            && id != expected
        {
            return Err(format!(
                "written with schema id {id}, not the expected {expected}"
            ));
        }
        let mut reader = Reader {
            bytes: &message[HEADER..],
        };
        let mut object = Map::new();
        for field in &self.fields {
            let value = reader
                .field(field)
                .map_err(|e| format!("field `{}`: {e}", field.name))?;
            object.insert(field.name.clone(), value);
        }
        if !reader.bytes.is_empty() {
            return Err(format!(
                "{} bytes left after the record: not written with this schema",
                reader.bytes.len()
            ));
        }
        Ok(object)
    }

    /// `object` as a message in the Confluent wire format (schema id 0 when
    /// none was given).
    pub fn write_message(
        &self,
        object: &Map<String, Value>,
    ) -> std::result::Result<Vec<u8>, String> {
        let mut out = vec![MAGIC];
        out.extend(self.id.unwrap_or(0).to_be_bytes());
        for field in &self.fields {
            let value = object.get(&field.name).unwrap_or(&Value::Null);
            write_field(&mut out, field, value)
                .map_err(|e| format!("field `{}`: {e}", field.name))?;
        }
        Ok(out)
    }
}

/// A field's type (not a union).
fn plain(field: &str, ty: &Value) -> Result<Plain> {
    let (name, logical) = match ty {
        Value::String(name) => (name.as_str(), None),
        Value::Object(object) => {
            let name = object.get("type").and_then(Value::as_str).unwrap_or("?");
            if name == "enum" {
                let symbols = object
                    .get("symbols")
                    .and_then(Value::as_array)
                    .map(|s| {
                        s.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .ok_or_else(|| unsupported(field, "enum without symbols"))?;
                return Ok(Plain::Enum(symbols));
            }
            (name, object.get("logicalType").and_then(Value::as_str))
        }
        Value::Array(_) => return Err(unsupported(field, "union inside a union")),
        other => return Err(unsupported(field, format!("type {other}"))),
    };
    Ok(match (name, logical) {
        ("int", Some("date")) => Plain::Date,
        ("long", Some("timestamp-millis")) => Plain::TimestampMillis,
        ("long", Some("timestamp-micros")) => Plain::TimestampMicros,
        // Other logical types are read as their underlying type, as the
        // Avro specification says.
        ("null", _) => Plain::Null,
        ("boolean", _) => Plain::Boolean,
        ("int", _) => Plain::Int,
        ("long", _) => Plain::Long,
        ("float", _) => Plain::Float,
        ("double", _) => Plain::Double,
        ("string", _) => Plain::String,
        (other, Some(logical)) => return Err(unsupported(field, format!("{other} ({logical})"))),
        (other, None) => return Err(unsupported(field, other)),
    })
}

/// Avro's binary encoding, read from the front.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> std::result::Result<&[u8], String> {
        if self.bytes.len() < n {
            return Err("the message ends inside the record".into());
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    /// A zig-zag variable-length integer (`int` and `long`).
    fn long(&mut self) -> std::result::Result<i64, String> {
        let mut value: u64 = 0;
        for shift in (0..70).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok((value >> 1) as i64 ^ -((value & 1) as i64));
            }
        }
        Err("an integer longer than 10 bytes".into())
    }

    fn int(&mut self) -> std::result::Result<i64, String> {
        let v = self.long()?;
        i32::try_from(v)
            .map(i64::from)
            .map_err(|_| format!("{v} does not fit an int"))
    }

    fn field(&mut self, field: &AvroField) -> std::result::Result<Value, String> {
        if !field.union {
            return self.plain(&field.branches[0]);
        }
        let index = self.long()?;
        let branch = usize::try_from(index)
            .ok()
            .and_then(|i| field.branches.get(i))
            .ok_or_else(|| format!("union branch {index} does not exist"))?;
        self.plain(branch)
    }

    fn plain(&mut self, ty: &Plain) -> std::result::Result<Value, String> {
        Ok(match ty {
            Plain::Null => Value::Null,
            Plain::Boolean => match self.take(1)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(format!("boolean byte {b}")),
            },
            Plain::Int => Value::from(self.int()?),
            Plain::Long => Value::from(self.long()?),
            Plain::Float => {
                let v = f32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes"));
                finite(f64::from(v))?
            }
            Plain::Double => {
                let v = f64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes"));
                finite(v)?
            }
            Plain::String => {
                let n = usize::try_from(self.long()?).map_err(|_| "a negative length")?;
                let bytes = self.take(n)?;
                Value::String(
                    std::str::from_utf8(bytes)
                        .map_err(|_| "a string that is not UTF-8")?
                        .to_string(),
                )
            }
            Plain::Enum(symbols) => {
                let i = self.int()?;
                let symbol = usize::try_from(i)
                    .ok()
                    .and_then(|i| symbols.get(i))
                    .ok_or_else(|| format!("enum index {i} has no symbol"))?;
                Value::String(symbol.clone())
            }
            Plain::Date => {
                let days = self.int()?;
                let date = NaiveDate::default() + chrono::Duration::days(days);
                Value::String(date.format("%Y-%m-%d").to_string())
            }
            Plain::TimestampMillis | Plain::TimestampMicros => {
                let v = self.long()?;
                let at = match ty {
                    Plain::TimestampMillis => DateTime::from_timestamp_millis(v),
                    _ => DateTime::from_timestamp_micros(v),
                }
                .ok_or_else(|| format!("timestamp {v} is out of range"))?;
                Value::String(at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
            }
        })
    }
}

fn finite(v: f64) -> std::result::Result<Value, String> {
    Number::from_f64(v)
        .map(Value::Number)
        .ok_or_else(|| format!("{v} is not a finite number"))
}

fn write_long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn write_field(
    out: &mut Vec<u8>,
    field: &AvroField,
    value: &Value,
) -> std::result::Result<(), String> {
    if !field.union {
        return write_plain(out, &field.branches[0], value);
    }
    // The first branch that takes the value (`null` only takes null).
    let mut last_error = String::new();
    for (i, branch) in field.branches.iter().enumerate() {
        let mut encoded = Vec::new();
        match write_plain(&mut encoded, branch, value) {
            Ok(()) => {
                write_long(out, i as i64);
                out.extend(encoded);
                return Ok(());
            }
            Err(e) => last_error = e,
        }
    }
    Err(format!(
        "no branch of the union takes {value}: {last_error}"
    ))
}

fn write_plain(out: &mut Vec<u8>, ty: &Plain, value: &Value) -> std::result::Result<(), String> {
    let wrong = |expected: &str| format!("expected {expected}, found {value}");
    match ty {
        Plain::Null => value.is_null().then_some(()).ok_or_else(|| wrong("null"))?,
        Plain::Boolean => out.push(u8::from(value.as_bool().ok_or_else(|| wrong("a boolean"))?)),
        Plain::Int => {
            let v = value.as_i64().filter(|v| i32::try_from(*v).is_ok());
            write_long(out, v.ok_or_else(|| wrong("an int"))?);
        }
        Plain::Long => write_long(out, value.as_i64().ok_or_else(|| wrong("a long"))?),
        Plain::Float => {
            let v = value.as_f64().ok_or_else(|| wrong("a number"))?;
            out.extend((v as f32).to_le_bytes());
        }
        Plain::Double => out.extend(
            value
                .as_f64()
                .ok_or_else(|| wrong("a number"))?
                .to_le_bytes(),
        ),
        Plain::String => {
            let s = value.as_str().ok_or_else(|| wrong("text"))?;
            write_long(out, s.len() as i64);
            out.extend(s.as_bytes());
        }
        Plain::Enum(symbols) => {
            let s = value.as_str().ok_or_else(|| wrong("an enum symbol"))?;
            let i = symbols
                .iter()
                .position(|x| x == s)
                .ok_or_else(|| format!("`{s}` is not a symbol of the enum"))?;
            write_long(out, i as i64);
        }
        Plain::Date => {
            let s = value.as_str().ok_or_else(|| wrong("a date"))?;
            let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| wrong("a date"))?;
            write_long(out, (date - NaiveDate::default()).num_days());
        }
        Plain::TimestampMillis | Plain::TimestampMicros => {
            let s = value.as_str().ok_or_else(|| wrong("a timestamp"))?;
            let at = crate::timestamp_text::parse(s).ok_or_else(|| wrong("a timestamp"))?;
            let v = match ty {
                Plain::TimestampMillis => at.timestamp_millis(),
                _ => at.timestamp_micros(),
            };
            write_long(out, v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SCHEMA: &str = r#"{"type": "record", "name": "Txn", "fields": [
        {"name": "id", "type": "string"},
        {"name": "n", "type": "int"},
        {"name": "amount", "type": ["null", "double"]},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "channel", "type": {"type": "enum", "name": "C", "symbols": ["card", "wire"]}},
        {"name": "flag", "type": "boolean"}
    ]}"#;

    /// Hand-encoded: "ab", -3 (zig-zag 5), branch 1 with 1.5, 1 µs after
    /// the epoch (zig-zag 2), day 1 (2), symbol 1 (2), true.
    fn message() -> Vec<u8> {
        let mut m = vec![0, 0, 0, 0, 7, 4, b'a', b'b', 5, 2];
        m.extend(1.5f64.to_le_bytes());
        m.extend([2, 2, 2, 1]);
        m
    }

    #[test]
    fn a_hand_encoded_message_reads_as_its_json_and_writes_back_the_same_bytes() {
        let schema = AvroSchema::parse(SCHEMA, Some(7)).unwrap();
        let object = schema.read_message(&message()).unwrap();
        assert_eq!(
            Value::Object(object.clone()),
            json!({"id": "ab", "n": -3, "amount": 1.5, "ts": "1970-01-01T00:00:00.000001Z",
                   "day": "1970-01-02", "channel": "wire", "flag": true})
        );
        assert_eq!(schema.write_message(&object).unwrap(), message());
        let mut null_amount = object.clone();
        null_amount.insert("amount".into(), Value::Null);
        let bytes = schema.write_message(&null_amount).unwrap();
        assert_eq!(bytes[9], 0, "branch 0 (null)");
        assert_eq!(schema.read_message(&bytes).unwrap(), null_amount);
    }

    #[test]
    fn bad_messages_and_schemas_say_what_is_wrong() {
        let schema = AvroSchema::parse(SCHEMA, Some(7)).unwrap();
        let mut other_id = message();
        other_id[4] = 8;
        let mut trailing = message();
        trailing.push(0);
        let mut bad_branch = message();
        bad_branch[9] = 6;
        for (bytes, why) in [
            (b"{\"id\": 1}".to_vec(), "Confluent wire format"),
            (other_id, "schema id 8, not the expected 7"),
            (message()[..12].to_vec(), "field `amount`: the message ends"),
            (trailing, "1 bytes left"),
            (bad_branch, "field `amount`: union branch 3"),
        ] {
            let err = schema.read_message(&bytes).unwrap_err();
            assert!(err.contains(why), "{why}: {err}");
        }
        for (text, why) in [
            (r#"{"type": "string"}"#, "record schema"),
            (
                r#"{"type": "record", "fields": [{"name": "b", "type": "bytes"}]}"#,
                "`b`",
            ),
            (
                r#"{"type": "record", "fields": [{"name": "r", "type": {"type": "record", "fields": []}}]}"#,
                "`r`",
            ),
        ] {
            let err = AvroSchema::parse(text, None).unwrap_err().to_string();
            assert!(err.contains(why), "{why}: {err}");
        }
    }
}
