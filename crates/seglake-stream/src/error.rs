//! What can go wrong between a topic and a table, each error naming the
//! topic, partition, column or setting involved.

pub type Result<T, E = StreamError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("{url}: {why}")]
    InvalidSource { url: String, why: String },

    #[error("Kafka credentials: {0}")]
    Credentials(String),

    #[error(
        "could not reach the Kafka broker(s) {brokers} within {seconds:.0} s: {detail} \
         (is the broker running and the port right?)"
    )]
    Unreachable {
        brokers: String,
        seconds: f64,
        detail: String,
    },

    #[error("topic `{topic}` does not exist on {brokers}")]
    UnknownTopic { topic: String, brokers: String },

    #[error(
        "column `{column}` has type {data_type}, which a JSON message cannot carry here \
         (supported: text, integers, floats, booleans, dates, timestamps)"
    )]
    UnsupportedColumn { column: String, data_type: String },

    #[error(
        "partition {partition}: offsets {from}..{to} were deleted by the topic's retention \
         before they were ingested; those messages are lost to this table (the table holds \
         offsets up to {committed})"
    )]
    OffsetsLost {
        partition: i32,
        from: i64,
        to: i64,
        committed: i64,
    },

    #[error("{context}: {source}")]
    Kafka {
        context: String,
        #[source]
        source: rdkafka::error::KafkaError,
    },

    /// The table the stream is written to failed (its own error, as text:
    /// this crate does not know the lake's error type).
    #[error("{0}")]
    Sink(String),
}

impl StreamError {
    pub(crate) fn kafka(context: String, source: rdkafka::error::KafkaError) -> Self {
        StreamError::Kafka { context, source }
    }

    /// Whether the user must fix something (a source, a credential, a
    /// topic, a column), as opposed to a failure another attempt may fix.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            StreamError::InvalidSource { .. }
                | StreamError::Credentials(_)
                | StreamError::UnknownTopic { .. }
                | StreamError::UnsupportedColumn { .. }
        )
    }
}
