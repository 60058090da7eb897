//! `seglake serve --follow`: the topic that `seglake ingest` writes into the
//! run's incremental source, read as it arrives, so a request with only a
//! customer id is scored from the run's state and the customer's rows
//! streamed since ([`seglake_features::rolling`]).
//!
//! Which messages the state already holds is read from the source's Delta
//! version the run read: `seglake ingest` commits each partition's last
//! offset with its rows, so the rows a request adds to the state are
//! exactly the messages after those offsets, none twice and none missed.
//! The follower starts from the served run's offsets and keeps every row
//! it reads (by customer, with its partition and offset); a request takes
//! the rows past its run's offsets, and a newly loaded run drops the rows
//! its state holds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::array::{Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, SchemaRef};
use seglake_features::rolling::RollingState;
use seglake_spec::lineage::RunRecord;
use seglake_stream::follow::{Followed, Positions};
use seglake_stream::source::KafkaSource;
use serde_json::{Value, json};

use crate::error::ServeError;

/// How long to wait for the brokers at start.
const CONNECT_WAIT: Duration = Duration::from_secs(30);

/// What `--follow` names: the topic, and the source it feeds (when the
/// run's incremental views read more than one).
#[derive(Debug, Clone)]
pub struct FollowOptions {
    pub topic: KafkaSource,
    pub source: Option<String>,
}

/// A run's state, and the offsets of the messages it holds.
pub struct LiveState {
    pub rolling: RollingState,
    pub held: Positions,
}

impl LiveState {
    /// `run`'s state (see [`RollingState`]) and, from the source's Delta
    /// version `run` read, the last offset of each partition of the topic
    /// it holds.
    pub async fn load(
        run: &RunRecord,
        live: &seglake_features::live::LiveFeatures,
        lake: &seglake_spec::Location,
        options: &FollowOptions,
    ) -> Result<LiveState, String> {
        let rolling = live
            .rolling_state(run, lake, options.source.as_deref())
            .await
            .map_err(|e| e.to_string())?;
        let held = held_offsets(run, rolling.source(), &options.topic).await?;
        Ok(LiveState { rolling, held })
    }
}

/// Per partition of `topic`, the last offset that `source`'s Delta version
/// in `run` holds.
async fn held_offsets(
    run: &RunRecord,
    source: &str,
    topic: &KafkaSource,
) -> Result<Positions, String> {
    let input = run
        .inputs
        .iter()
        .find(|i| i.name == source)
        .ok_or_else(|| format!("run {} recorded no input `{source}`", run.run_id))?;
    let version = input
        .delta_version
        .ok_or_else(|| format!("run {} read `{source}` with no Delta version", run.run_id))?;
    let location = seglake_spec::Location::parse(&input.uri, std::path::Path::new("/"))
        .map_err(|e| format!("source `{source}`: {e}"))?;
    let topic_ = topic.clone();
    let partitions = tokio::task::spawn_blocking(move || {
        seglake_stream::follow::topic_partitions(&topic_, CONNECT_WAIT)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    let mut held = Positions::new();
    for partition in partitions {
        let app_id = seglake_stream::ingest::offsets_app_id(&topic.topic, partition);
        let last = seglake_lake::transaction_version_at(source, &location, version, &app_id)
            .await
            .map_err(|e| seglake_spec::error_chain(&e))?;
        if let Some(last) = last {
            held.insert(partition, last);
        }
    }
    if held.is_empty() {
        return Err(format!(
            "version {version} of source `{source}` ({}) holds no message of topic `{}`: \
             --follow needs the topic that `seglake ingest` writes into it",
            input.uri, topic.topic
        ));
    }
    Ok(held)
}

/// One message's row, kept for its customer.
struct StreamedRow {
    partition: i32,
    offset: i64,
    row: RecordBatch,
}

/// The rows read from the topic so far, by customer.
pub struct Follower {
    topic: KafkaSource,
    rows: Mutex<HashMap<String, Vec<StreamedRow>>>,
    /// The last offset read, per partition.
    read: Mutex<Positions>,
    messages: AtomicU64,
    dead_letters: AtomicU64,
    /// Why following stopped, if it did.
    stopped: Mutex<Option<String>>,
    stop: AtomicBool,
}

impl Follower {
    /// Starts reading the topic after `held`, on a thread of its own,
    /// decoding each message to `schema` and filing it under its `key`.
    pub fn start(
        options: &FollowOptions,
        held: &Positions,
        schema: SchemaRef,
        key: &str,
    ) -> Result<Arc<Follower>, ServeError> {
        let decoder = seglake_stream::decode::RowDecoder::new(schema)
            .map_err(|e| ServeError::Config(format!("--follow {}: {e}", options.topic)))?;
        let follower = Arc::new(Follower {
            topic: options.topic.clone(),
            rows: Mutex::new(HashMap::new()),
            read: Mutex::new(held.clone()),
            messages: AtomicU64::new(0),
            dead_letters: AtomicU64::new(0),
            stopped: Mutex::new(None),
            stop: AtomicBool::new(false),
        });
        let (this, held, key) = (follower.clone(), held.clone(), key.to_string());
        std::thread::Builder::new()
            .name("topic-follow".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                let result = match runtime {
                    Ok(runtime) => runtime.block_on(seglake_stream::follow::follow(
                        &this.topic,
                        &decoder,
                        &held,
                        CONNECT_WAIT,
                        &this.stop,
                        |message| this.file(message, &key),
                    )),
                    Err(e) => Err(seglake_stream::StreamError::Sink(e.to_string())),
                };
                if let Err(e) = result {
                    tracing::error!(
                        "stopped following the topic (scores keep the rows read so far): {e}"
                    );
                    *this.stopped.lock().expect("follow lock") = Some(e.to_string());
                }
            })
            .map_err(|e| ServeError::Config(format!("cannot start following the topic: {e}")))?;
        Ok(follower)
    }

    /// Keeps `message`'s row under its customer (a message that is not a
    /// row is counted, as `seglake ingest` sends it to its dead letters).
    fn file(&self, message: Followed, key: &str) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.read
            .lock()
            .expect("follow lock")
            .insert(message.partition, message.offset);
        let customer = message
            .row
            .ok()
            .and_then(|row| Some((key_of(&row, key)?, row)));
        let Some((customer, row)) = customer else {
            self.dead_letters.fetch_add(1, Ordering::Relaxed);
            return;
        };
        self.rows
            .lock()
            .expect("follow lock")
            .entry(customer)
            .or_default()
            .push(StreamedRow {
                partition: message.partition,
                offset: message.offset,
                row,
            });
    }

    /// `customer`'s rows read after `held`, in the order they were read.
    pub fn rows_of(&self, customer: &str, held: &Positions) -> Vec<RecordBatch> {
        let rows = self.rows.lock().expect("follow lock");
        rows.get(customer)
            .map(|kept| {
                kept.iter()
                    .filter(|r| held.get(&r.partition).is_none_or(|last| r.offset > *last))
                    .map(|r| r.row.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Drops the rows a newly loaded run's state holds.
    pub fn forget_held(&self, held: &Positions) {
        let mut rows = self.rows.lock().expect("follow lock");
        for kept in rows.values_mut() {
            kept.retain(|r| held.get(&r.partition).is_none_or(|last| r.offset > *last));
        }
        rows.retain(|_, kept| !kept.is_empty());
    }

    /// For `/healthz`: the topic, what was read, and whether it still is.
    pub fn status(&self) -> Value {
        let read = self.read.lock().expect("follow lock").clone();
        let kept: usize = self
            .rows
            .lock()
            .expect("follow lock")
            .values()
            .map(Vec::len)
            .sum();
        json!({
            "topic": self.topic.topic,
            "messages": self.messages.load(Ordering::Relaxed),
            "dead_letters": self.dead_letters.load(Ordering::Relaxed),
            "rows_kept": kept,
            "last_offsets": read.iter().map(|(p, o)| (p.to_string(), json!(o))).collect::<serde_json::Map<_, _>>(),
            "error": *self.stopped.lock().expect("follow lock"),
        })
    }

    /// Stops reading (at shutdown).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The Prometheus lines of the follower.
    pub fn render(&self) -> String {
        format!(
            "# HELP seglake_serve_followed_messages_total Messages read from the followed topic.\n\
             # TYPE seglake_serve_followed_messages_total counter\n\
             seglake_serve_followed_messages_total {}\n\
             # HELP seglake_serve_followed_dead_letters_total Followed messages that are not rows (not kept).\n\
             # TYPE seglake_serve_followed_dead_letters_total counter\n\
             seglake_serve_followed_dead_letters_total {}\n",
            self.messages.load(Ordering::Relaxed),
            self.dead_letters.load(Ordering::Relaxed)
        )
    }
}

/// The customer a one-row batch belongs to.
fn key_of(row: &RecordBatch, key: &str) -> Option<String> {
    let column = arrow::compute::cast(row.column_by_name(key)?, &DataType::Utf8).ok()?;
    let column = column.as_any().downcast_ref::<StringArray>()?;
    column.is_valid(0).then(|| column.value(0).to_string())
}
