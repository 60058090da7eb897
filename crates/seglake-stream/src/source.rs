//! Where a stream comes from: `kafka://HOST:PORT[,HOST:PORT...]/TOPIC`, and
//! the connection to those brokers with the credentials the environment
//! holds.

use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use crate::error::{Result, StreamError};

/// The environment variable naming the security protocol, Kafka's own
/// names: `plaintext` (the default), `ssl`, `sasl_plaintext`, `sasl_ssl`.
pub const SECURITY_PROTOCOL_ENV: &str = "SEGLAKE_KAFKA_SECURITY_PROTOCOL";
/// The SASL mechanism: `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
pub const SASL_MECHANISM_ENV: &str = "SEGLAKE_KAFKA_SASL_MECHANISM";
/// The SASL user name.
pub const SASL_USERNAME_ENV: &str = "SEGLAKE_KAFKA_SASL_USERNAME";
/// The SASL password.
pub const SASL_PASSWORD_ENV: &str = "SEGLAKE_KAFKA_SASL_PASSWORD";
/// A file holding the SASL password (a mounted secret), instead of
/// [`SASL_PASSWORD_ENV`].
pub const SASL_PASSWORD_FILE_ENV: &str = "SEGLAKE_KAFKA_SASL_PASSWORD_FILE";
/// A PEM file of the certificate authorities to trust (default: the
/// system's).
pub const SSL_CA_FILE_ENV: &str = "SEGLAKE_KAFKA_SSL_CA_FILE";

/// A topic on a set of bootstrap brokers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSource {
    pub brokers: Vec<String>,
    pub topic: String,
}

impl KafkaSource {
    /// Parses `kafka://HOST:PORT[,HOST:PORT...]/TOPIC`.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |why: &str| StreamError::InvalidSource {
            url: text.to_string(),
            why: why.to_string(),
        };
        let rest = text
            .strip_prefix("kafka://")
            .ok_or_else(|| invalid("it must start with kafka://"))?;
        let (brokers, topic) = rest
            .split_once('/')
            .ok_or_else(|| invalid("it names no topic: kafka://HOST:PORT/TOPIC"))?;
        if brokers.contains('@') {
            // Never repeat the text: it may hold a password.
            return Err(StreamError::InvalidSource {
                url: "kafka://...".to_string(),
                why: format!(
                    "credentials never go in the URL: set {SASL_USERNAME_ENV} and \
                     {SASL_PASSWORD_ENV} (or {SASL_PASSWORD_FILE_ENV})"
                ),
            });
        }
        let brokers: Vec<String> = brokers.split(',').map(|b| b.trim().to_string()).collect();
        if let Some(bad) = brokers.iter().find(|b| !is_host_port(b)) {
            return Err(invalid(&format!("`{bad}` is not HOST:PORT")));
        }
        if topic.is_empty() || !topic.chars().all(is_topic_char) {
            return Err(invalid(
                "the topic must be letters, digits, `.`, `_` or `-` (Kafka's rule)",
            ));
        }
        Ok(KafkaSource {
            brokers,
            topic: topic.to_string(),
        })
    }
}

impl std::fmt::Display for KafkaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "kafka://{}/{}", self.brokers.join(","), self.topic)
    }
}

fn is_host_port(text: &str) -> bool {
    text.rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

fn is_topic_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// The client settings for `source`: the brokers, and security from the
/// environment. The result holds the password: it is handed to the Kafka
/// client and never printed (not even with `{:?}`).
pub fn client_config(source: &KafkaSource) -> Result<ClientConfig> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", source.brokers.join(","))
        .set("client.id", "seglake");
    let protocol = std::env::var(SECURITY_PROTOCOL_ENV).unwrap_or_else(|_| "plaintext".into());
    let protocol = protocol.to_ascii_lowercase();
    if !["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"].contains(&protocol.as_str()) {
        return Err(StreamError::Credentials(format!(
            "{SECURITY_PROTOCOL_ENV} is `{protocol}`; expected plaintext, ssl, sasl_plaintext or sasl_ssl"
        )));
    }
    config.set("security.protocol", &protocol);
    if let Ok(ca) = std::env::var(SSL_CA_FILE_ENV) {
        config.set("ssl.ca.location", ca);
    }
    if protocol.starts_with("sasl") {
        for (key, value) in sasl_from_env()? {
            config.set(key, value);
        }
    }
    Ok(config)
}

/// The SASL settings from the environment. The password is read here and
/// no message repeats it.
fn sasl_from_env() -> Result<Vec<(&'static str, String)>> {
    let missing = |what: String| StreamError::Credentials(what);
    let mechanism = std::env::var(SASL_MECHANISM_ENV).unwrap_or_else(|_| "PLAIN".into());
    let mechanism = mechanism.to_ascii_uppercase();
    if !["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"].contains(&mechanism.as_str()) {
        return Err(missing(format!(
            "{SASL_MECHANISM_ENV} is `{mechanism}`; expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
        )));
    }
    let username = std::env::var(SASL_USERNAME_ENV)
        .map_err(|_| missing(format!("SASL is on but {SASL_USERNAME_ENV} is not set")))?;
    let password = match std::env::var(SASL_PASSWORD_FILE_ENV) {
        Ok(file) => std::fs::read_to_string(&file)
            .map(|p| p.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|e| missing(format!("{SASL_PASSWORD_FILE_ENV}: cannot read {file}: {e}")))?,
        Err(_) => std::env::var(SASL_PASSWORD_ENV).map_err(|_| {
            missing(format!(
                "SASL is on but neither {SASL_PASSWORD_ENV} nor {SASL_PASSWORD_FILE_ENV} is set"
            ))
        })?,
    };
    Ok(vec![
        ("sasl.mechanisms", mechanism),
        ("sasl.username", username),
        ("sasl.password", password),
    ])
}

/// The settings of a consumer of `source` that commits nothing to the
/// brokers (seglake keeps the offsets in the table) and reports the end of
/// a partition.
pub fn consumer_config(source: &KafkaSource) -> Result<ClientConfig> {
    let mut config = client_config(source)?;
    config
        .set("group.id", format!("seglake-ingest-{}", source.topic))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        // An offset the broker no longer has is an error, never a silent
        // jump to the earliest or latest message.
        .set("auto.offset.reset", "error");
    Ok(config)
}

/// The partitions of `source`'s topic, asking the brokers for at most
/// `wait`. An unreachable broker and an unknown topic are named.
pub fn partitions<C: Consumer>(
    consumer: &C,
    source: &KafkaSource,
    wait: Duration,
) -> Result<Vec<i32>> {
    let unreachable = |detail: String| StreamError::Unreachable {
        brokers: source.brokers.join(","),
        seconds: wait.as_secs_f64(),
        detail,
    };
    let metadata = consumer
        .fetch_metadata(Some(&source.topic), wait)
        .map_err(|e| unreachable(e.to_string()))?;
    let unknown = || StreamError::UnknownTopic {
        topic: source.topic.clone(),
        brokers: source.brokers.join(","),
    };
    let topic = metadata
        .topics()
        .iter()
        .find(|t| t.name() == source.topic)
        .ok_or_else(unknown)?;
    match topic.error() {
        Some(code) if RDKafkaErrorCode::from(code) == RDKafkaErrorCode::UnknownTopicOrPartition => {
            Err(unknown())
        }
        Some(code) => Err(StreamError::kafka(
            format!("{source}: reading the topic's metadata"),
            KafkaError::MetadataFetch(code.into()),
        )),
        None if topic.partitions().is_empty() => Err(unknown()),
        None => Ok(topic.partitions().iter().map(|p| p.id()).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_names_brokers_and_a_topic() {
        let s =
            KafkaSource::parse("kafka://127.0.0.1:9092,kafka-2:9093/bank.transactions").unwrap();
        assert_eq!(s.brokers, ["127.0.0.1:9092", "kafka-2:9093"]);
        assert_eq!(s.topic, "bank.transactions");
        assert_eq!(
            s.to_string(),
            "kafka://127.0.0.1:9092,kafka-2:9093/bank.transactions"
        );
    }

    #[test]
    fn a_bad_source_says_what_is_wrong_and_never_echoes_a_password() {
        for (text, why) in [
            ("http://h:1/t", "kafka://"),
            ("kafka://h:1", "no topic"),
            ("kafka://h/t", "HOST:PORT"),
            ("kafka://h:1/a b", "topic"),
        ] {
            let err = KafkaSource::parse(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
        let err = KafkaSource::parse("kafka://bob:hunter2@h:1/t")
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("hunter2") && err.contains(SASL_USERNAME_ENV),
            "{err}"
        );
    }
}
