//! Durable, signed delivery of JSON events to webhooks.
//!
//! Compliance alerts and case changes must reach the case manager exactly
//! once in effect, even when its webhook is flaky and this process crashes
//! half-way. This crate posts a list of [`Delivery`]s to a list of
//! [`Endpoint`]s ([`deliver`]), retrying transient failures with jittered
//! exponential backoff ([`RetryPolicy`]), and records every settled delivery
//! in a local [`Outbox`] before reporting it, so a rerun skips what is done
//! and resends only what is not known to be done. Resent requests carry the
//! same `Idempotency-Key`, which the receiver uses to process each event
//! once. The crate knows nothing of the lake: callers turn their rows into
//! deliveries.
//!
//! ```no_run
//! use seglake_deliver::{Delivery, Endpoint, Outbox, RetryPolicy, Secret, deliver};
//! # async fn run() -> Result<(), seglake_deliver::DeliverError> {
//! let secret = Secret::from_env("CASE_MANAGER_WEBHOOK_SECRET")?;
//! let url = "https://cases.example/hooks/seglake";
//! let endpoints = [Endpoint::new("case-manager", url, secret)?];
//! let body = serde_json::json!({"customer": "C-1", "score": 0.93});
//! let deliveries = [Delivery::new("alert:17", "alert.created", body)];
//! let mut outbox = Outbox::open("outbox")?;
//! let policy = RetryPolicy::default();
//! let report = deliver(&endpoints, &deliveries, &mut outbox, &policy, |_| {}).await?;
//! assert_eq!(report.dead_lettered(), 0);
//! # Ok(())
//! # }
//! ```
//!
//! # The request
//!
//! ```text
//! POST <endpoint url>
//! Content-Type: application/json
//! Idempotency-Key: alert:1
//! Seglake-Event: alert.created
//! Seglake-Timestamp: 1700000000
//! Seglake-Signature: v1=a16a594add93e63b6ef8849985dfda072ccda861e1343949830b721e02e913b8
//!
//! {"id":"alert:1","event":"alert.created","data":{"score":0.97}}
//! ```
//!
//! The body is serialised once per delivery and the same bytes are sent on
//! every attempt; the timestamp (unix seconds) is taken per attempt.
//!
//! # Verifying a request (receiver side)
//!
//! `Seglake-Signature` is `v1=` followed by the lowercase hex
//! HMAC-SHA256, keyed with the endpoint's shared secret, of the ASCII
//! timestamp exactly as in `Seglake-Timestamp`, a `.`, and the raw body
//! bytes as received:
//!
//! ```text
//! signed = Seglake-Timestamp + "." + body
//! Seglake-Signature == "v1=" + hex(HMAC-SHA256(secret, signed))
//! ```
//!
//! The request above is signed with the secret `Jefe`:
//!
//! ```
//! let body = br#"{"id":"alert:1","event":"alert.created","data":{"score":0.97}}"#;
//! let header = seglake_deliver::sign(b"Jefe", 1_700_000_000, body);
//! assert_eq!(header, "v1=a16a594add93e63b6ef8849985dfda072ccda861e1343949830b721e02e913b8");
//! assert!(seglake_deliver::verify(b"Jefe", 1_700_000_000, body, &header));
//! ```
//!
//! A receiver should compare in constant time ([`verify`] does), refuse
//! timestamps more than about five minutes from its own clock (so a captured
//! request cannot be replayed later), and answer 2xx to a repeated
//! `Idempotency-Key` without processing it again. How the answer is read:
//!
//! - 2xx: delivered;
//! - 408, 429, 5xx, a timeout or a broken connection: retried;
//! - any other status (400, 401, 404, a redirect ...): dead-lettered at once,
//!   as the same request would be refused again.
//!
//! # The outbox
//!
//! One JSON-lines file per endpoint, `<endpoint name>.jsonl`, appended and
//! fsynced once per settled delivery; see [`Outbox`] for the format and how
//! a crash mid-write is recovered.
//!
//! Secrets come from an environment variable or a file ([`Secret`]), and
//! appear in no log, error, outbox line or `Debug` output; neither do
//! request bodies or endpoint URLs beyond their origin.

mod deliver;
mod endpoint;
mod error;
mod http;
mod outbox;
mod retry;
mod secret;
mod signature;

pub use deliver::{DeliveryEvent, DeliveryReport, EndpointReport, deliver};
pub use endpoint::{Delivery, Endpoint, MAX_KEY_LEN, MAX_NAME_LEN};
pub use error::DeliverError;
pub use outbox::{Outbox, OutboxRecord, Status};
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use signature::{SIGNATURE_VERSION, sign, verify};
