//! One signed POST, and what its outcome means for retrying.

use std::error::Error;

use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, StatusCode};

use crate::{DeliverError, Delivery, Endpoint, RetryPolicy, sign};

/// Transport error texts are cut here: they go into the outbox and logs.
const MAX_ERROR_LEN: usize = 300;

/// Why an attempt failed, in words safe to store and log.
pub(crate) struct Failure {
    pub message: String,
    /// Retrying cannot help: the receiver refused the request itself.
    pub permanent: bool,
}

/// The client for one `deliver` call.
pub(crate) fn client(policy: &RetryPolicy) -> Result<Client, DeliverError> {
    Client::builder()
        .timeout(policy.timeout)
        .user_agent(concat!("seglake-deliver/", env!("CARGO_PKG_VERSION")))
        // A redirected POST may silently turn into a GET, or carry the
        // signed event to a host the operator never configured: a webhook
        // that moved is reported (dead-lettered), not followed.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(DeliverError::Client)
}

/// Posts `body` (the serialised envelope of `delivery`) once, signed now.
pub(crate) async fn post(
    client: &Client,
    endpoint: &Endpoint,
    delivery: &Delivery,
    body: &[u8],
) -> Result<(), Failure> {
    let timestamp = chrono::Utc::now().timestamp();
    let signature = sign(endpoint.secret().expose(), timestamp, body);
    let sent = client
        .post(endpoint.url.clone())
        .header(CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", &delivery.key)
        .header("Seglake-Event", &delivery.event)
        .header("Seglake-Timestamp", timestamp.to_string())
        .header("Seglake-Signature", signature)
        .body(body.to_vec())
        .send()
        .await;
    match sent {
        // The response body is not read: only the status decides, and an
        // error page may hold anything.
        Ok(response) => judge_status(response.status()),
        Err(error) => Err(judge_error(error)),
    }
}

/// 2xx delivered; 408, 429 and 5xx worth retrying; anything else (other 4xx,
/// 3xx, 1xx) a refusal that will not change.
pub(crate) fn judge_status(status: StatusCode) -> Result<(), Failure> {
    if status.is_success() {
        return Ok(());
    }
    let transient = status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS;
    Err(Failure {
        message: format!("HTTP {status}"),
        permanent: !transient,
    })
}

/// Connection errors and timeouts are transient; only a request that could
/// not even be built is permanent.
fn judge_error(error: reqwest::Error) -> Failure {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let permanent = error.is_builder();
    // reqwest puts the URL in its messages; it may carry a token.
    let error = error.without_url();
    let mut message = format!("{kind}: {}", chain(&error));
    truncate(&mut message, MAX_ERROR_LEN);
    Failure { message, permanent }
}

/// An error and its causes, `outer: inner: innermost`.
fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permanent(code: u16) -> Option<bool> {
        let status = StatusCode::from_u16(code).unwrap();
        judge_status(status).err().map(|f| f.permanent)
    }

    #[test]
    fn statuses_are_judged_as_documented() {
        for ok in [200, 201, 202, 204] {
            assert_eq!(permanent(ok), None, "{ok}");
        }
        for transient in [408, 429, 500, 502, 503, 504] {
            assert_eq!(permanent(transient), Some(false), "{transient}");
        }
        for refused in [301, 307, 400, 401, 403, 404, 409, 410, 413, 422] {
            assert_eq!(permanent(refused), Some(true), "{refused}");
        }
    }

    #[test]
    fn messages_name_the_status() {
        let failure = judge_status(StatusCode::SERVICE_UNAVAILABLE).unwrap_err();
        assert_eq!(failure.message, "HTTP 503 Service Unavailable");
    }

    #[test]
    fn truncation_respects_characters() {
        let mut text = "é".repeat(200);
        truncate(&mut text, 301);
        assert!(text.len() <= 301 + '…'.len_utf8());
        assert!(text.ends_with('…'));
    }
}
