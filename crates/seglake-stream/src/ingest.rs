//! The ingestion loop: read each partition from the offset after the last
//! one committed, decode messages into rows, and commit them in
//! micro-batches, each commit carrying the partition's last offset.
//!
//! Exactly once, as kafka-delta-ingest does it: the offset lives in the
//! same commit as the rows (a Delta application transaction, written by the
//! [`Sink`]), so after a crash the table itself says where to start again.
//! A batch's dead letters are committed before its rows, under the same
//! offset in the dead-letter table; a restart skips the dead letters that
//! table already holds, so neither table loses or repeats a message.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message as _;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use crate::dead_letters::{self, DeadLetter};
use crate::decode::RowDecoder;
use crate::error::{Result, StreamError};
use crate::metrics::IngestMetrics;
use crate::source::{self, KafkaSource};

/// The two tables a stream is written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Rows,
    DeadLetters,
}

/// Where the rows and dead letters go: two tables that record, in each
/// commit, the last offset of the partition the commit came from.
pub trait Sink {
    /// The last offset of `partition` committed to `table`, if any.
    fn committed(&self, table: Table, partition: i32) -> impl Future<Output = Result<Option<i64>>>;

    /// Appends `batch` to `table` with `partition`'s `last_offset` in the
    /// same commit. A commit that already holds that offset (or a later
    /// one) is not repeated.
    fn append(
        &self,
        table: Table,
        partition: i32,
        batch: RecordBatch,
        last_offset: i64,
    ) -> impl Future<Output = Result<()>>;
}

/// The application id under which a table's commits record the last
/// offset of `topic`'s `partition` (one per topic and partition, so two
/// topics can feed one table): a [`Sink`] writes it, and whoever needs to
/// know which messages a table version holds reads it back.
pub fn offsets_app_id(topic: &str, partition: i32) -> String {
    format!("seglake-ingest/{topic}/{partition}")
}

/// When a micro-batch is committed, and when the loop ends.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Commit a partition's batch when it holds this many messages...
    pub batch_messages: usize,
    /// ...or when its oldest message has waited this long.
    pub batch_age: Duration,
    /// How long one wait for a message lasts before batches are looked at.
    pub fetch_wait: Duration,
    /// How long to wait for the brokers to answer at start.
    pub connect_wait: Duration,
    /// Stop (after committing) once every partition is read to its end,
    /// instead of following the topic.
    pub exit_at_end: bool,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            batch_messages: 50_000,
            batch_age: Duration::from_secs(5),
            fetch_wait: Duration::from_millis(200),
            connect_wait: Duration::from_secs(30),
            exit_at_end: false,
        }
    }
}

/// What an ingestion did, for its last message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestSummary {
    pub partitions: usize,
    pub messages: u64,
    pub rows: u64,
    pub dead_letters: u64,
}

/// A message read and not yet committed.
struct Pending {
    offset: i64,
    timestamp: DateTime<Utc>,
    key: Option<Vec<u8>>,
    payload: Option<Vec<u8>>,
}

/// One partition's position and what it holds.
struct Partition {
    id: i32,
    /// The next offset to read.
    next: i64,
    /// The last offset the dead-letter table holds (at least the rows
    /// table's: dead letters are committed first).
    dead_done: i64,
    /// Whether the partition was read to its end (and nothing came since).
    at_end: bool,
    pending: Vec<Pending>,
    oldest: Option<Instant>,
}

/// Reads `source` into `sink` until `stop` is set (or, with
/// [`IngestOptions::exit_at_end`], until every partition is read), then
/// commits what it holds and returns.
pub async fn ingest<S: Sink>(
    source: &KafkaSource,
    decoder: &RowDecoder,
    sink: &S,
    metrics: &IngestMetrics,
    options: &IngestOptions,
    stop: &AtomicBool,
) -> Result<IngestSummary> {
    let consumer: StreamConsumer = source::consumer_config(source)?
        .create()
        .map_err(|e| StreamError::kafka(format!("{source}: creating the consumer"), e))?;
    let ids = source::partitions(&consumer, source, options.connect_wait)?;
    let mut partitions = BTreeMap::new();
    let mut assignment = TopicPartitionList::new();
    for id in ids {
        let p = open_partition(&consumer, source, sink, id, options.connect_wait).await?;
        assignment
            .add_partition_offset(&source.topic, id, Offset::Offset(p.next))
            .map_err(|e| StreamError::kafka(format!("{source}: assigning partition {id}"), e))?;
        partitions.insert(id, p);
    }
    consumer
        .assign(&assignment)
        .map_err(|e| StreamError::kafka(format!("{source}: assigning its partitions"), e))?;
    let context = Context {
        consumer: &consumer,
        source,
        decoder,
        sink,
        metrics,
    };
    while !stop.load(Ordering::Relaxed) {
        receive(&consumer, &mut partitions, options, metrics).await?;
        for p in partitions.values_mut() {
            let due = p.pending.len() >= options.batch_messages
                || p.oldest.is_some_and(|t| t.elapsed() >= options.batch_age)
                || (options.exit_at_end && p.at_end);
            if due {
                flush(p, &context).await?;
            }
        }
        if options.exit_at_end
            && partitions
                .values()
                .all(|p| p.at_end && p.pending.is_empty())
        {
            break;
        }
    }
    for p in partitions.values_mut() {
        flush(p, &context).await?;
    }
    Ok(IngestSummary {
        partitions: partitions.len(),
        messages: metrics.messages(),
        rows: metrics.rows(),
        dead_letters: metrics.dead_letters(),
    })
}

/// What [`flush`] writes with.
struct Context<'a, S> {
    consumer: &'a StreamConsumer,
    source: &'a KafkaSource,
    decoder: &'a RowDecoder,
    sink: &'a S,
    metrics: &'a IngestMetrics,
}

/// Partition `id`, positioned after the last offset the rows table holds
/// (or at the earliest message the broker keeps).
async fn open_partition<S: Sink>(
    consumer: &StreamConsumer,
    source: &KafkaSource,
    sink: &S,
    id: i32,
    wait: Duration,
) -> Result<Partition> {
    // Only the earliest offset is used: whether a partition is read to its
    // end is what the fetches say (librdkafka's end-of-partition events),
    // not a separate offsets request, which a broker may answer with a
    // stale high watermark (Tansu 0.6 answers with its last batch's first
    // offset).
    let (earliest, high_watermark) =
        consumer
            .fetch_watermarks(&source.topic, id, wait)
            .map_err(|e| {
                StreamError::kafka(
                    format!("{source} partition {id}: asking for its offsets"),
                    e,
                )
            })?;
    let rows_done = sink.committed(Table::Rows, id).await?;
    let dead_done = sink.committed(Table::DeadLetters, id).await?;
    let next = match rows_done {
        Some(done) if done + 1 < earliest => {
            return Err(StreamError::OffsetsLost {
                partition: id,
                from: done + 1,
                to: earliest - 1,
                committed: done,
            });
        }
        Some(done) => done + 1,
        None => earliest,
    };
    tracing::info!(partition = id, next, high_watermark, "reading");
    Ok(Partition {
        id,
        next,
        dead_done: dead_done.unwrap_or(-1).max(next - 1),
        at_end: false,
        pending: Vec::new(),
        oldest: None,
    })
}

/// Waits up to the fetch wait for the next message (or end of a
/// partition) and files it under its partition.
async fn receive(
    consumer: &StreamConsumer,
    partitions: &mut BTreeMap<i32, Partition>,
    options: &IngestOptions,
    metrics: &IngestMetrics,
) -> Result<()> {
    let Ok(received) = tokio::time::timeout(options.fetch_wait, consumer.recv()).await else {
        return Ok(());
    };
    match received {
        Ok(message) => {
            let Some(p) = partitions.get_mut(&message.partition()) else {
                return Ok(());
            };
            p.next = message.offset() + 1;
            p.at_end = false;
            p.oldest.get_or_insert_with(Instant::now);
            metrics.read(1);
            let millis = message.timestamp().to_millis().unwrap_or_default();
            p.pending.push(Pending {
                offset: message.offset(),
                timestamp: DateTime::from_timestamp_millis(millis).unwrap_or_default(),
                key: message.key().map(<[u8]>::to_vec),
                payload: message.payload().map(<[u8]>::to_vec),
            });
            Ok(())
        }
        Err(KafkaError::PartitionEOF(id)) => {
            if let Some(p) = partitions.get_mut(&id) {
                p.at_end = true;
                metrics.lag(id, 0);
            }
            Ok(())
        }
        Err(KafkaError::MessageConsumption(RDKafkaErrorCode::AutoOffsetReset)) => {
            Err(StreamError::Sink(
                "an offset to read was deleted by the topic's retention before it was ingested; \
                 those messages are lost to this table"
                    .to_string(),
            ))
        }
        Err(e) => Err(StreamError::kafka("reading messages".to_string(), e)),
    }
}

/// Commits `p.pending`: its dead letters, then its rows.
async fn flush<S: Sink>(p: &mut Partition, cx: &Context<'_, S>) -> Result<()> {
    let Some(last) = p.pending.last().map(|m| m.offset) else {
        return Ok(());
    };
    let newest = p
        .pending
        .iter()
        .map(|m| m.timestamp)
        .max()
        .unwrap_or_default();
    let mut rows = cx.decoder.rows();
    let mut dead = Vec::new();
    for message in p.pending.drain(..) {
        let decoded = match message.payload.as_deref() {
            Some(payload) => rows.push(payload),
            None => Err("no payload (a null message)".to_string()),
        };
        if let Err(error) = decoded
            && message.offset > p.dead_done
        {
            dead.push(DeadLetter {
                partition: p.id,
                offset: message.offset,
                timestamp: message.timestamp,
                key: message.key,
                payload: message.payload,
                error,
            });
        }
    }
    p.oldest = None;
    let (row_count, dead_count) = (rows.len() as u64, dead.len() as u64);
    if !dead.is_empty() {
        let batch = dead_letters::batch(&cx.source.topic, &dead, Utc::now());
        cx.sink
            .append(Table::DeadLetters, p.id, batch, last)
            .await?;
        p.dead_done = last;
    }
    if !rows.is_empty() {
        cx.sink
            .append(Table::Rows, p.id, rows.finish(), last)
            .await?;
    }
    let delay = (Utc::now() - newest).as_seconds_f64().max(0.0);
    cx.metrics
        .committed(p.id, last, row_count, dead_count, delay);
    if let Ok((_, high)) =
        cx.consumer
            .fetch_watermarks(&cx.source.topic, p.id, Duration::from_secs(1))
    {
        cx.metrics.lag(p.id, (high - p.next).max(0));
    }
    tracing::info!(
        partition = p.id,
        offset = last,
        rows = row_count,
        dead_letters = dead_count,
        "committed"
    );
    Ok(())
}
