//! `deliver`: every pending delivery to every endpoint, each settled once.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use reqwest::Client;
use serde::Serialize;

use crate::endpoint::validate_endpoints;
use crate::http::{self, Failure};
use crate::outbox::{EndpointLog, OutboxRecord};
use crate::retry::Backoff;
use crate::{DeliverError, Delivery, Endpoint, Outbox, RetryPolicy, Status};

/// What happened to a delivery, as it happens (for progress bars and
/// metrics). Nothing here holds a body or a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryEvent<'a> {
    /// Already settled by an earlier run: not sent.
    AlreadyDone {
        endpoint: &'a str,
        key: &'a str,
        status: Status,
    },
    /// An attempt failed and another follows after `delay`.
    Retrying {
        endpoint: &'a str,
        key: &'a str,
        attempt: u32,
        error: &'a str,
        delay: Duration,
    },
    /// The endpoint accepted it; recorded in the outbox.
    Delivered {
        endpoint: &'a str,
        key: &'a str,
        attempts: u32,
    },
    /// Refused for good or out of attempts; recorded in the outbox.
    DeadLettered {
        endpoint: &'a str,
        key: &'a str,
        attempts: u32,
        error: &'a str,
    },
}

/// What one `deliver` call did for one endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointReport {
    pub endpoint: String,
    pub delivered: usize,
    pub dead_lettered: usize,
    /// Settled (either way) by an earlier run.
    pub already_done: usize,
}

/// What one `deliver` call did, per endpoint in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub endpoints: Vec<EndpointReport>,
}

impl DeliveryReport {
    pub fn endpoint(&self, name: &str) -> Option<&EndpointReport> {
        self.endpoints.iter().find(|r| r.endpoint == name)
    }

    pub fn dead_lettered(&self) -> usize {
        self.endpoints.iter().map(|r| r.dead_lettered).sum()
    }
}

/// Posts every delivery not yet settled for an endpoint to that endpoint,
/// in the given order, and records each outcome in `outbox` before
/// reporting it through `progress`.
///
/// Endpoints are served concurrently, each one delivery at a time. Failed
/// attempts (connection errors, timeouts, HTTP 408, 429 and 5xx) are retried
/// with backoff up to `policy.max_attempts`; other refusals are dead-lettered
/// at once. Dropping the returned future (a crash, a task abort) loses
/// nothing: the next call sends again what was not recorded, under the same
/// idempotency key.
///
/// Errors: an invalid endpoint or delivery (before anything is sent), or an
/// outbox that cannot be written (delivery stops, as it could no longer be
/// recorded).
pub async fn deliver(
    endpoints: &[Endpoint],
    deliveries: &[Delivery],
    outbox: &mut Outbox,
    policy: &RetryPolicy,
    progress: impl FnMut(&DeliveryEvent<'_>),
) -> Result<DeliveryReport, DeliverError> {
    validate_endpoints(endpoints)?;
    let bodies = envelopes(deliveries)?;
    let client = http::client(policy)?;
    let names: Vec<&str> = endpoints.iter().map(|e| e.name.as_str()).collect();
    let logs = outbox.logs_for(&names)?;
    // A Mutex rather than a RefCell keeps the future `Send` (when the
    // callback is), so it can be spawned; it is never held across an await.
    let progress = Mutex::new(progress);
    let runs = endpoints
        .iter()
        .zip(logs)
        .zip(0u64..)
        .map(|((endpoint, log), index)| {
            let run = EndpointRun {
                endpoint,
                log,
                client: &client,
                policy,
                backoff: Backoff::new(policy.jitter_seed, index),
                progress: &progress,
            };
            run.run(deliveries, &bodies)
        });
    let reports = futures::future::try_join_all(runs).await?;
    Ok(DeliveryReport { endpoints: reports })
}

/// The request body: `{"id": key, "event": event, "data": body}`.
#[derive(Serialize)]
struct Envelope<'a> {
    id: &'a str,
    event: &'a str,
    data: &'a serde_json::Value,
}

/// Each delivery checked and serialised once: these exact bytes are signed
/// and sent, to every endpoint, on every attempt.
fn envelopes(deliveries: &[Delivery]) -> Result<Vec<Vec<u8>>, DeliverError> {
    deliveries
        .iter()
        .map(|d| {
            d.validate()?;
            let envelope = Envelope {
                id: &d.key,
                event: &d.event,
                data: &d.body,
            };
            serde_json::to_vec(&envelope).map_err(|source| DeliverError::Body {
                key: d.key.clone(),
                source,
            })
        })
        .collect()
}

/// How one delivery ended: `error` is `None` when it was delivered.
struct Settled {
    attempts: u32,
    error: Option<String>,
}

/// One endpoint's share of a `deliver` call.
struct EndpointRun<'a, F> {
    endpoint: &'a Endpoint,
    log: &'a mut EndpointLog,
    client: &'a Client,
    policy: &'a RetryPolicy,
    backoff: Backoff,
    progress: &'a Mutex<F>,
}

impl<F: FnMut(&DeliveryEvent<'_>)> EndpointRun<'_, F> {
    async fn run(
        mut self,
        deliveries: &[Delivery],
        bodies: &[Vec<u8>],
    ) -> Result<EndpointReport, DeliverError> {
        let mut report = EndpointReport {
            endpoint: self.endpoint.name.clone(),
            ..EndpointReport::default()
        };
        for (delivery, body) in deliveries.iter().zip(bodies) {
            if let Some(status) = self.log.status(&delivery.key) {
                report.already_done += 1;
                self.emit(&DeliveryEvent::AlreadyDone {
                    endpoint: &self.endpoint.name,
                    key: &delivery.key,
                    status,
                });
                continue;
            }
            let settled = self.settle(delivery, body).await;
            self.record(delivery, &settled)?;
            match settled.error {
                None => report.delivered += 1,
                Some(_) => report.dead_lettered += 1,
            }
        }
        Ok(report)
    }

    /// Attempts `delivery` until it is delivered, refused for good, or out
    /// of attempts.
    async fn settle(&mut self, delivery: &Delivery, body: &[u8]) -> Settled {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let Failure { message, permanent } =
                match http::post(self.client, self.endpoint, delivery, body).await {
                    Ok(()) => {
                        return Settled {
                            attempts: attempt,
                            error: None,
                        };
                    }
                    Err(failure) => failure,
                };
            if permanent || attempt >= self.policy.attempts() {
                return Settled {
                    attempts: attempt,
                    error: Some(message),
                };
            }
            let delay = self.backoff.delay(self.policy, attempt - 1);
            tracing::debug!(endpoint = %self.endpoint.name, key = %delivery.key, attempt,
                error = %message, ?delay, "webhook attempt failed; retrying");
            self.emit(&DeliveryEvent::Retrying {
                endpoint: &self.endpoint.name,
                key: &delivery.key,
                attempt,
                error: &message,
                delay,
            });
            tokio::time::sleep(delay).await;
        }
    }

    /// Writes the outcome to the outbox (durably), then reports it.
    fn record(&mut self, delivery: &Delivery, settled: &Settled) -> Result<(), DeliverError> {
        let record = OutboxRecord {
            key: delivery.key.clone(),
            status: match settled.error {
                None => Status::Delivered,
                Some(_) => Status::DeadLetter,
            },
            attempts: settled.attempts,
            last_error: settled.error.clone(),
            at: chrono::Utc::now(),
        };
        self.log
            .append(record)
            .map_err(|source| DeliverError::OutboxWrite {
                endpoint: self.endpoint.name.clone(),
                key: delivery.key.clone(),
                path: self.log.path().to_path_buf(),
                source,
            })?;
        let (endpoint, key, attempts) = (&*self.endpoint.name, &*delivery.key, settled.attempts);
        match &settled.error {
            None => {
                tracing::debug!(endpoint, key, attempts, "webhook delivered");
                self.emit(&DeliveryEvent::Delivered {
                    endpoint,
                    key,
                    attempts,
                });
            }
            Some(error) => {
                tracing::warn!(
                    endpoint,
                    key,
                    attempts,
                    error,
                    "webhook delivery dead-lettered"
                );
                self.emit(&DeliveryEvent::DeadLettered {
                    endpoint,
                    key,
                    attempts,
                    error,
                });
            }
        }
        Ok(())
    }

    fn emit(&self, event: &DeliveryEvent<'_>) {
        // A poisoned lock means the callback panicked in another endpoint's
        // run; that panic is already unwinding this whole call.
        let mut progress = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        (*progress)(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_is_id_event_data() {
        let delivery = Delivery::new(
            "alert:7",
            "alert.created",
            serde_json::json!({"score": 0.5}),
        );
        let bodies = envelopes(std::slice::from_ref(&delivery)).unwrap();
        assert_eq!(
            String::from_utf8(bodies[0].clone()).unwrap(),
            r#"{"id":"alert:7","event":"alert.created","data":{"score":0.5}}"#
        );
    }

    #[test]
    fn an_invalid_delivery_fails_before_anything_is_sent() {
        let bad = Delivery::new("alert 7", "alert.created", serde_json::json!(null));
        let error = envelopes(&[bad]).unwrap_err().to_string();
        assert!(error.contains("alert 7"), "{error}");
    }
}
