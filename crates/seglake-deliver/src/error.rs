//! The crate's one error type.
//!
//! Messages name the endpoint, the outbox file and the idempotency key, so an
//! operator can find what failed. They never hold a secret, a request body or
//! an endpoint URL: webhook URLs often carry access tokens in their path or
//! query, and error messages end up in logs.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// The secret could not be loaded; `origin` says from where (the
    /// environment variable's name or the file's path), never its value.
    #[error("webhook secret from {origin}: {reason}")]
    Secret { origin: String, reason: String },

    #[error(
        "endpoint name {name:?} is not valid: it names the endpoint's outbox file, \
         so it must be 1 to {max} characters from A-Z a-z 0-9 _ -",
        max = crate::endpoint::MAX_NAME_LEN
    )]
    EndpointName { name: String },

    #[error("endpoint {endpoint}: the URL does not parse: {source}")]
    EndpointUrl {
        endpoint: String,
        source: url::ParseError,
    },

    #[error("endpoint {endpoint}: only http and https URLs are accepted, not {scheme:?}")]
    EndpointScheme { endpoint: String, scheme: String },

    #[error(
        "endpoint {endpoint} is listed twice (names are compared ignoring case, \
         as each names an outbox file)"
    )]
    DuplicateEndpoint { endpoint: String },

    /// A delivery's key or event cannot be sent as an HTTP header value.
    #[error("delivery {key:?}: {reason}")]
    Delivery { key: String, reason: &'static str },

    #[error("delivery {key:?}: the JSON body does not serialise: {source}")]
    Body {
        key: String,
        source: serde_json::Error,
    },

    #[error("the HTTP client could not be built: {0}")]
    Client(#[source] reqwest::Error),

    #[error("outbox file {}: {source}", path.display())]
    OutboxIo { path: PathBuf, source: io::Error },

    #[error(
        "outbox file {}, line {line}: not a delivery record ({source}); only a \
         torn last line is expected after a crash, so the file was damaged otherwise",
        path.display()
    )]
    OutboxCorrupt {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },

    /// Recording a settled delivery failed: it is not known to be recorded,
    /// so the next run will send it again (the receiver deduplicates by key).
    #[error("endpoint {endpoint}: recording delivery {key:?} in outbox file {}: {source}", path.display())]
    OutboxWrite {
        endpoint: String,
        key: String,
        path: PathBuf,
        source: io::Error,
    },
}
