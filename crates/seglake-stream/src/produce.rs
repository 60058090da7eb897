//! Rows to a topic, one JSON object (or Avro record) per message (what
//! [`crate::decode`] reads back): for loading a topic from Parquet files,
//! in a demo, a test or a benchmark.

use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::BaseConsumer;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};

use crate::avro::AvroSchema;
use crate::error::{Result, StreamError};
use crate::source::{self, KafkaSource};

/// Messages in flight before the producer waits for their delivery.
const IN_FLIGHT: usize = 10_000;

/// Creates `source`'s topic with `partitions` partitions unless it exists.
pub async fn ensure_topic(source: &KafkaSource, partitions: i32, wait: Duration) -> Result<()> {
    let config = source::client_config(source)?;
    let probe: BaseConsumer = config
        .create()
        .map_err(|e| StreamError::kafka(format!("{source}: connecting"), e))?;
    match source::partitions(&probe, source, wait) {
        Err(StreamError::UnknownTopic { .. }) => {}
        other => return other.map(|_| ()),
    }
    let admin: AdminClient<DefaultClientContext> = config
        .create()
        .map_err(|e| StreamError::kafka(format!("{source}: connecting"), e))?;
    let topic = NewTopic::new(&source.topic, partitions, TopicReplication::Fixed(1));
    let results = admin
        .create_topics([&topic], &AdminOptions::new().operation_timeout(Some(wait)))
        .await
        .map_err(|e| StreamError::kafka(format!("{source}: creating the topic"), e))?;
    for result in results {
        if let Err((name, code)) = result {
            return Err(StreamError::Sink(format!(
                "creating topic `{name}`: {code}"
            )));
        }
    }
    Ok(())
}

/// Sends every row of `batches` to `source` as a JSON message (an Avro
/// record of `avro`, when given), waiting for
/// the brokers to acknowledge each. With `key_column`, the column's value
/// is the message key, which picks the partition (one customer's events
/// stay in order); without it, the producer spreads the rows. Returns the
/// number of messages sent.
pub async fn produce_rows(
    source: &KafkaSource,
    batches: &[RecordBatch],
    key_column: Option<&str>,
    avro: Option<&AvroSchema>,
) -> Result<u64> {
    let producer: FutureProducer = source::client_config(source)?
        .set("acks", "all")
        .set("linger.ms", "20")
        .create()
        .map_err(|e| StreamError::kafka(format!("{source}: creating the producer"), e))?;
    let mut sent = 0u64;
    for batch in batches {
        let keys = keys_of(batch, key_column)?;
        let lines = json_lines(batch)?;
        let lines = match avro {
            None => lines,
            Some(schema) => avro_messages(schema, &lines)?,
        };
        for (chunk, lines) in lines.chunks(IN_FLIGHT).enumerate() {
            // Enqueued at once (librdkafka batches them per partition),
            // then each delivery awaited.
            let mut deliveries = Vec::with_capacity(lines.len());
            for (i, line) in lines.iter().enumerate() {
                let mut record = FutureRecord::<str, [u8]>::to(&source.topic).payload(line);
                if let Some(keys) = &keys {
                    record = record.key(keys[chunk * IN_FLIGHT + i].as_str());
                }
                let delivery = producer.send_result(record).map_err(|(e, _)| {
                    StreamError::kafka(format!("{source}: queueing a message"), e)
                })?;
                deliveries.push(delivery);
            }
            for delivery in deliveries {
                match delivery.await {
                    Ok(Ok(_)) => sent += 1,
                    Ok(Err((e, _))) => {
                        return Err(StreamError::kafka(format!("{source}: producing"), e));
                    }
                    Err(_) => {
                        return Err(StreamError::Sink(format!(
                            "{source}: the producer stopped before a delivery was confirmed"
                        )));
                    }
                }
            }
        }
    }
    producer
        .flush(Duration::from_secs(30))
        .map_err(|e| StreamError::kafka(format!("{source}: flushing"), e))?;
    Ok(sent)
}

/// Each row of `batch` as one JSON object (NULLs left out).
fn json_lines(batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
    let mut writer = arrow::json::LineDelimitedWriter::new(Vec::new());
    writer
        .write(batch)
        .and_then(|_| writer.finish())
        .map_err(|e| StreamError::Sink(format!("writing rows as JSON: {e}")))?;
    Ok(writer
        .into_inner()
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

/// Each JSON object of `lines` as an Avro message of `schema`.
fn avro_messages(schema: &AvroSchema, lines: &[Vec<u8>]) -> Result<Vec<Vec<u8>>> {
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let object = serde_json::from_slice(line).expect("the JSON writer writes objects");
            schema
                .write_message(&object)
                .map_err(|e| StreamError::Sink(format!("row {i} as Avro: {e}")))
        })
        .collect()
}

/// The text of `column` in every row of `batch`.
fn keys_of(batch: &RecordBatch, column: Option<&str>) -> Result<Option<Vec<String>>> {
    let Some(column) = column else {
        return Ok(None);
    };
    let array = batch
        .column_by_name(column)
        .ok_or_else(|| StreamError::InvalidSource {
            url: format!("key column `{column}`"),
            why: "the rows have no such column".to_string(),
        })?;
    let formatter = ArrayFormatter::try_new(array, &FormatOptions::default())
        .map_err(|e| StreamError::Sink(format!("key column `{column}`: {e}")))?;
    Ok(Some(
        (0..batch.num_rows())
            .map(|i| formatter.value(i).to_string())
            .collect(),
    ))
}
