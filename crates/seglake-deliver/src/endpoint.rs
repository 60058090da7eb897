//! What is delivered ([`Delivery`]) and where to ([`Endpoint`]).

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::{DeliverError, Secret};

/// The longest endpoint name: it is an outbox file name.
pub const MAX_NAME_LEN: usize = 64;

/// The longest idempotency key or event name: both travel as header values,
/// and receivers store keys in indexed columns.
pub const MAX_KEY_LEN: usize = 200;

/// One event to post to every endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The idempotency key, stable per event (`"alert:<id>"`): the outbox
    /// records it, and a receiver that sees it twice processes it once.
    pub key: String,
    /// The event type, `"alert.created"`, `"case.changed"`.
    pub event: String,
    /// The event's payload, sent as `data` in the request body.
    pub body: serde_json::Value,
}

impl Delivery {
    pub fn new(key: impl Into<String>, event: impl Into<String>, body: serde_json::Value) -> Self {
        Self {
            key: key.into(),
            event: event.into(),
            body,
        }
    }

    /// Key and event are header values: 1 to [`MAX_KEY_LEN`] visible ASCII
    /// characters, so that no receiver or proxy reads them differently.
    pub(crate) fn validate(&self) -> Result<(), DeliverError> {
        let reason = if !is_header_token(&self.key) {
            "the key must be 1 to 200 visible ASCII characters (no spaces)"
        } else if !is_header_token(&self.event) {
            "the event must be 1 to 200 visible ASCII characters (no spaces)"
        } else {
            return Ok(());
        };
        Err(DeliverError::Delivery {
            key: self.key.clone(),
            reason,
        })
    }
}

fn is_header_token(text: &str) -> bool {
    (1..=MAX_KEY_LEN).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic())
}

/// A webhook: where deliveries are posted, and the secret they are signed
/// with.
#[derive(Clone)]
pub struct Endpoint {
    /// Names the endpoint in reports, errors and logs, and names its outbox
    /// file: 1 to [`MAX_NAME_LEN`] characters from `A-Z a-z 0-9 _ -`.
    pub name: String,
    /// An `http` or `https` URL. Never logged nor put in an error beyond
    /// its origin, as webhook URLs often carry tokens.
    pub url: Url,
    secret: Secret,
}

impl Endpoint {
    /// Checks the name and that the URL is http or https.
    pub fn new(name: impl Into<String>, url: &str, secret: Secret) -> Result<Self, DeliverError> {
        let name = name.into();
        validate_name(&name)?;
        let url = Url::parse(url).map_err(|source| DeliverError::EndpointUrl {
            endpoint: name.clone(),
            source,
        })?;
        let endpoint = Self { name, url, secret };
        endpoint.validate()?;
        Ok(endpoint)
    }

    pub(crate) fn secret(&self) -> &Secret {
        &self.secret
    }

    /// Checked again at delivery time, as `name` and `url` are public fields.
    pub(crate) fn validate(&self) -> Result<(), DeliverError> {
        validate_name(&self.name)?;
        match self.url.scheme() {
            "http" | "https" => Ok(()),
            scheme => Err(DeliverError::EndpointScheme {
                endpoint: self.name.clone(),
                scheme: scheme.to_string(),
            }),
        }
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.name)
            .field("origin", &self.url.origin().ascii_serialization())
            .field("secret", &self.secret)
            .finish()
    }
}

pub(crate) fn validate_name(name: &str) -> Result<(), DeliverError> {
    let valid = (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(DeliverError::EndpointName { name: name.into() })
    }
}

/// Every endpoint valid, and no two sharing an outbox file. Names are
/// compared ignoring case because some file systems do.
pub(crate) fn validate_endpoints(endpoints: &[Endpoint]) -> Result<(), DeliverError> {
    let mut seen = HashSet::new();
    for endpoint in endpoints {
        endpoint.validate()?;
        if !seen.insert(endpoint.name.to_ascii_lowercase()) {
            return Err(DeliverError::DuplicateEndpoint {
                endpoint: endpoint.name.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::from_bytes("topsecret-abc").unwrap()
    }

    #[test]
    fn only_http_and_https_are_accepted_and_the_error_names_the_endpoint() {
        assert!(Endpoint::new("cases", "https://cm.example/hooks", secret()).is_ok());
        assert!(Endpoint::new("cases", "http://127.0.0.1:9/x", secret()).is_ok());
        for url in [
            "ftp://cm.example/x",
            "file:///etc/passwd",
            "javascript:alert(1)",
        ] {
            let error = Endpoint::new("case-mgr", url, secret())
                .unwrap_err()
                .to_string();
            assert!(error.contains("case-mgr"), "{error}");
        }
        let error = Endpoint::new("case-mgr", "not a url", secret()).unwrap_err();
        assert!(error.to_string().contains("case-mgr"), "{error}");
    }

    #[test]
    fn names_must_be_file_safe() {
        for bad in ["", "a/b", "..", "a b", "é", &"x".repeat(MAX_NAME_LEN + 1)] {
            assert!(
                Endpoint::new(bad, "https://x.example", secret()).is_err(),
                "{bad:?}"
            );
        }
        assert!(Endpoint::new("Case_Mgr-2", "https://x.example", secret()).is_ok());
    }

    #[test]
    fn debug_shows_neither_secret_nor_url_path() {
        let url = "https://user:pw@cm.example/hooks/tok3n?key=abc";
        let endpoint = Endpoint::new("cases", url, secret()).unwrap();
        let shown = format!("{endpoint:?}");
        for hidden in ["topsecret", "tok3n", "key=abc", "pw"] {
            assert!(!shown.contains(hidden), "{shown}");
        }
        assert!(
            shown.contains("cases") && shown.contains("cm.example"),
            "{shown}"
        );
    }

    #[test]
    fn duplicate_names_are_refused_ignoring_case() {
        let a = Endpoint::new("Cases", "https://a.example", secret()).unwrap();
        let b = Endpoint::new("cases", "https://b.example", secret()).unwrap();
        let error = validate_endpoints(&[a, b]).unwrap_err().to_string();
        assert!(error.contains("cases"), "{error}");
    }

    #[test]
    fn keys_and_events_must_be_header_safe() {
        let body = serde_json::json!({});
        assert!(
            Delivery::new("alert:1", "alert.created", body.clone())
                .validate()
                .is_ok()
        );
        for (key, event) in [("", "e"), ("a b", "e"), ("k\n", "e"), ("k", ""), ("k", "é")] {
            let delivery = Delivery::new(key, event, body.clone());
            assert!(delivery.validate().is_err(), "{key:?} {event:?}");
        }
    }
}
