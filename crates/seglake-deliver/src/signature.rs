//! The `Seglake-Signature` scheme: HMAC-SHA256 over `"<timestamp>.<body>"`.
//!
//! The timestamp is part of the signed text so that a receiver which rejects
//! old timestamps also rejects a captured request replayed later: changing
//! the timestamp header breaks the signature.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The scheme's version tag, the `v1=` in front of the hex digest. A future
/// scheme gets a new tag, so receivers can accept both during a change.
pub const SIGNATURE_VERSION: &str = "v1";

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC is defined for keys of every length (long keys are hashed, short
    // ones padded), so `new_from_slice` has no error to report here.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Seglake-Signature` header value for a request body sent at
/// `timestamp` (unix seconds): `v1=<lowercase hex HMAC-SHA256(secret,
/// "<timestamp>.<body>")>`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("{SIGNATURE_VERSION}={}", hex::encode(digest))
}

/// Whether `signature_header` is a valid signature of `body` sent at
/// `timestamp` under `secret`.
///
/// The header may hold several comma-separated signatures (as when a sender
/// signs with an old and a new secret during a rotation); one valid `v1`
/// signature is enough. The comparison is constant-time. This does not judge
/// the timestamp's age: a receiver should also refuse timestamps more than a
/// few minutes away from its own clock.
pub fn verify(secret: &[u8], timestamp: i64, body: &[u8], signature_header: &str) -> bool {
    let expected = mac(secret, timestamp, body);
    signature_header
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .filter_map(|digest| hex::decode(digest).ok())
        .any(|digest| expected.clone().verify_slice(&digest).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test case 2: the HMAC-SHA256 primitive itself, before the
    /// seglake framing.
    #[test]
    fn hmac_sha256_matches_rfc_4231_case_2() {
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[derive(serde::Deserialize)]
    struct Vector {
        secret: String,
        timestamp: i64,
        body: String,
        signature: String,
    }

    /// Vectors computed by python3's `hmac` module
    /// (`tests/fixtures/make_signature_vectors.py`), independently of this
    /// code.
    fn vectors() -> Vec<Vector> {
        let text = include_str!("../tests/fixtures/signature_vectors.json");
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn sign_matches_independently_computed_vectors() {
        let vectors = vectors();
        assert!(vectors.len() >= 3);
        for v in &vectors {
            let got = sign(v.secret.as_bytes(), v.timestamp, v.body.as_bytes());
            assert_eq!(got, v.signature, "body {:?}", v.body);
        }
    }

    #[test]
    fn verify_accepts_the_vectors_and_rejects_any_change() {
        for v in &vectors() {
            let (secret, body) = (v.secret.as_bytes(), v.body.as_bytes());
            assert!(verify(secret, v.timestamp, body, &v.signature));
            assert!(!verify(secret, v.timestamp + 1, body, &v.signature));
            assert!(!verify(b"other secret", v.timestamp, body, &v.signature));
            let mut tampered = body.to_vec();
            tampered.push(b' ');
            assert!(!verify(secret, v.timestamp, &tampered, &v.signature));
        }
    }

    #[test]
    fn verify_rejects_malformed_headers_and_accepts_one_good_of_several() {
        let (secret, body) = (b"s3cret".as_slice(), br#"{"id":"k"}"#.as_slice());
        let good = sign(secret, 1_700_000_000, body);
        let digest = good.strip_prefix("v1=").unwrap();
        for bad in ["", "v1=", "v1=zz", digest, &format!("v2={digest}")] {
            assert!(!verify(secret, 1_700_000_000, body, bad), "{bad:?}");
        }
        // A truncated digest must not pass as a prefix match.
        assert!(!verify(
            secret,
            1_700_000_000,
            body,
            &good[..good.len() - 2]
        ));
        let rotated = format!("v1={}, {good}", "00".repeat(32));
        assert!(verify(secret, 1_700_000_000, body, &rotated));
    }
}
