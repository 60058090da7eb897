//! Messages that are not rows of the table, kept with why and where they
//! came from: the dead-letter table's schema and rows.

use std::sync::Arc;

use arrow::array::{
    BinaryArray, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, Utc};

/// One message that could not be decoded.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub partition: i32,
    pub offset: i64,
    /// The message's own timestamp (the producer's or the broker's).
    pub timestamp: DateTime<Utc>,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub error: String,
}

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The dead-letter table's columns: the message's topic, partition, offset,
/// timestamp, key and payload (bytes, as sent), the error, and when it was
/// read.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("topic", DataType::Utf8, false),
        Field::new("partition", DataType::Int32, false),
        Field::new("offset", DataType::Int64, false),
        Field::new("message_timestamp", utc_micros(), false),
        Field::new("key", DataType::Binary, true),
        Field::new("payload", DataType::Binary, true),
        Field::new("error", DataType::Utf8, false),
        Field::new("ingested_at", utc_micros(), false),
    ]))
}

/// `letters` of `topic` as rows of [`schema`].
pub fn batch(topic: &str, letters: &[DeadLetter], ingested_at: DateTime<Utc>) -> RecordBatch {
    let micros = |at: &DateTime<Utc>| at.timestamp_micros();
    let columns: Vec<arrow::array::ArrayRef> = vec![
        Arc::new(StringArray::from(vec![topic; letters.len()])),
        Arc::new(Int32Array::from_iter_values(
            letters.iter().map(|l| l.partition),
        )),
        Arc::new(Int64Array::from_iter_values(
            letters.iter().map(|l| l.offset),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(
                letters.iter().map(|l| micros(&l.timestamp)),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(BinaryArray::from_iter(
            letters.iter().map(|l| l.key.as_deref()),
        )),
        Arc::new(BinaryArray::from_iter(
            letters.iter().map(|l| l.payload.as_deref()),
        )),
        Arc::new(StringArray::from_iter_values(
            letters.iter().map(|l| l.error.as_str()),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(std::iter::repeat_n(
                micros(&ingested_at),
                letters.len(),
            ))
            .with_timezone("UTC"),
        ),
    ];
    RecordBatch::try_new(schema(), columns).expect("columns built for this schema")
}
