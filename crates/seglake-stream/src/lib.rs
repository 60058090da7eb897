//! Kafka topics into lake tables, exactly once.
//!
//! - [`source`]: `kafka://HOST:PORT/TOPIC`, and the connection, with SASL
//!   credentials from the environment;
//! - [`decode`]: one JSON message as one row of the target table's schema,
//!   or the reason it is not one; [`avro`]: Avro messages as those objects;
//! - [`dead_letters`]: the table that keeps the messages that were not rows;
//! - [`ingest`]: the loop that commits micro-batches with their offsets, so
//!   a crash neither loses nor repeats a message (the tables themselves are
//!   written through the [`ingest::Sink`] trait, by the caller);
//! - [`follow`]: a topic's messages from given offsets, decoded, to the
//!   caller (the live rows of `seglake serve --follow`), writing nothing;
//! - [`produce`]: rows to a topic, as the JSON [`decode`] reads;
//! - [`metrics`]: counters and lag in the Prometheus text format.
//!
//! The crate knows Arrow and Kafka, not the lake: no DataFusion, no Delta.

pub mod avro;
pub mod dead_letters;
pub mod decode;
pub mod error;
pub mod follow;
pub mod ingest;
pub mod metrics;
pub mod produce;
pub mod source;
mod timestamp_text;

pub use error::{Result, StreamError};
