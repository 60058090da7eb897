//! Following a topic without writing it anywhere: every message from given
//! offsets on, decoded as [`crate::ingest`] decodes it, handed to the
//! caller one by one. What `seglake serve --follow` keeps its live rows
//! with; the offsets to start from come from the table `seglake ingest`
//! writes the same topic to, so the follower reads exactly the messages
//! that table did not hold yet.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arrow::array::RecordBatch;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};

use crate::decode::RowDecoder;
use crate::error::{Result, StreamError};
use crate::source::{self, KafkaSource};

/// One message of the followed topic.
#[derive(Debug)]
pub struct Followed {
    pub partition: i32,
    pub offset: i64,
    /// The message as one row of the decoder's schema, or why it is not one
    /// (the message `seglake ingest` sends to its dead-letter table).
    pub row: std::result::Result<RecordBatch, String>,
}

/// Where following starts: per partition, the last offset already held
/// elsewhere (the next one is read); partitions not named are read from
/// their earliest message.
pub type Positions = BTreeMap<i32, i64>;

/// The partitions of `source`, asking the brokers for at most `wait`.
pub fn topic_partitions(source: &KafkaSource, wait: Duration) -> Result<Vec<i32>> {
    let consumer: StreamConsumer = follower_config(source)?
        .create()
        .map_err(|e| StreamError::kafka(format!("{source}: creating the consumer"), e))?;
    source::partitions(&consumer, source, wait)
}

/// A consumer that commits nothing and is not the ingester's group.
fn follower_config(source: &KafkaSource) -> Result<rdkafka::ClientConfig> {
    let mut config = source::consumer_config(source)?;
    config.set("group.id", format!("seglake-follow-{}", source.topic));
    Ok(config)
}

/// Reads `source` from after `done` until `stop` is set, calling
/// `on_message` for every message in each partition's order.
pub async fn follow(
    source: &KafkaSource,
    decoder: &RowDecoder,
    done: &Positions,
    wait: Duration,
    stop: &AtomicBool,
    mut on_message: impl FnMut(Followed),
) -> Result<()> {
    let consumer: StreamConsumer = follower_config(source)?
        .create()
        .map_err(|e| StreamError::kafka(format!("{source}: creating the consumer"), e))?;
    let mut assignment = TopicPartitionList::new();
    for id in source::partitions(&consumer, source, wait)? {
        let from = match done.get(&id) {
            Some(last) => Offset::Offset(last + 1),
            None => Offset::Beginning,
        };
        assignment
            .add_partition_offset(&source.topic, id, from)
            .map_err(|e| StreamError::kafka(format!("{source}: assigning partition {id}"), e))?;
    }
    consumer
        .assign(&assignment)
        .map_err(|e| StreamError::kafka(format!("{source}: assigning its partitions"), e))?;
    tracing::info!(%source, "following");
    while !stop.load(Ordering::Relaxed) {
        let Ok(received) = tokio::time::timeout(Duration::from_millis(200), consumer.recv()).await
        else {
            continue;
        };
        match received {
            Ok(message) => {
                let row = match message.payload() {
                    Some(payload) => {
                        let mut rows = decoder.rows();
                        rows.push(payload).map(|()| rows.finish())
                    }
                    None => Err("no payload (a null message)".to_string()),
                };
                on_message(Followed {
                    partition: message.partition(),
                    offset: message.offset(),
                    row,
                });
            }
            Err(KafkaError::PartitionEOF(_)) => {}
            Err(e) => return Err(StreamError::kafka(format!("{source}: reading messages"), e)),
        }
    }
    Ok(())
}
