//! Pseudonymised customer identifiers: with `[privacy] pseudonymise = true`
//! a job replaces every customer id by HMAC-SHA256(key, id) (lower-case hex)
//! before anything is written, so the lake never holds a raw id. The key is
//! a secret: it comes from an environment variable or a file, never from
//! the job file, and this module never prints it.

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::raw::RawPrivacy;

/// The environment variable read for the key when the job names none.
pub const DEFAULT_KEY_ENV: &str = "SEGLAKE_PSEUDONYM_KEY";

/// Keys shorter than this are refused: an HMAC is only as strong as its key.
const MIN_KEY_BYTES: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrivacySpec {
    /// Where the pseudonymisation key comes from; `None` when ids are
    /// published as they are.
    pub pseudonymise: Option<KeySource>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env(String),
    File(PathBuf),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Env(name) => write!(f, "environment variable {name}"),
            KeySource::File(path) => write!(f, "key file {}", path.display()),
        }
    }
}

/// The HMAC key. Its `Debug` output is redacted so it cannot reach a log.
#[derive(Clone)]
pub struct PseudonymKey(Vec<u8>);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(<redacted>)")
    }
}

impl PseudonymKey {
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(format!(
                "the key is {} bytes; use at least {MIN_KEY_BYTES} (e.g. `openssl rand -hex 32`)",
                bytes.len()
            ));
        }
        Ok(Self(bytes))
    }

    /// Reads the key; errors name the variable or file, never the value.
    pub fn load(source: &KeySource) -> Result<Self, String> {
        let bytes = match source {
            KeySource::Env(name) => std::env::var(name)
                .map_err(|_| format!("{source} is not set; it must hold the pseudonymisation key"))?
                .into_bytes(),
            KeySource::File(path) => {
                std::fs::read(path).map_err(|e| format!("cannot read the {source}: {e}"))?
            }
        };
        // A trailing newline from `echo` or a mounted secret is not key.
        let trimmed = bytes.trim_ascii_end().to_vec();
        Self::from_bytes(trimmed).map_err(|e| format!("{source}: {e}"))
    }

    /// HMAC-SHA256(key, id) as lower-case hex.
    pub fn pseudonym(&self, id: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Validates `[privacy]`; errors are (key, message).
pub(crate) fn validate(
    raw: Option<&RawPrivacy>,
    base: &Path,
) -> Result<PrivacySpec, (String, String)> {
    let Some(raw) = raw else {
        return Ok(PrivacySpec::default());
    };
    if raw.key.is_some() {
        return Err((
            "privacy.key".into(),
            "a key must never be written into a job file; put it in an environment variable \
             (privacy.key_env, default SEGLAKE_PSEUDONYM_KEY) or a file (privacy.key_file)"
                .into(),
        ));
    }
    let source = match (&raw.key_env, &raw.key_file) {
        (Some(_), Some(_)) => {
            return Err((
                "privacy".into(),
                "give key_env or key_file, not both".into(),
            ));
        }
        (Some(name), None) => KeySource::Env(name.clone()),
        (None, Some(file)) => KeySource::File(base.join(file)),
        (None, None) => KeySource::Env(DEFAULT_KEY_ENV.into()),
    };
    if !raw.pseudonymise {
        if raw.key_env.is_some() || raw.key_file.is_some() {
            return Err((
                "privacy.pseudonymise".into(),
                "a key is configured but pseudonymise is false; set it to true or remove the key"
                    .into(),
            ));
        }
        return Ok(PrivacySpec::default());
    }
    Ok(PrivacySpec {
        pseudonymise: Some(source),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pseudonym_is_hmac_sha256_in_hex() {
        // Python: hmac.new(bytes(range(1, 26)), b"customer-42", "sha256").hexdigest()
        let key = PseudonymKey::from_bytes((1u8..=25).collect()).unwrap();
        assert_eq!(
            key.pseudonym("customer-42"),
            "b66d023ddf85c04df8687efda27b51de5f0111970a4f96745b456def27d08578"
        );
    }

    #[test]
    fn a_short_key_and_a_key_in_the_job_are_refused_without_echoing_them() {
        let err = PseudonymKey::from_bytes(b"short".to_vec()).unwrap_err();
        assert!(!err.contains("short"), "{err}");
        let raw = RawPrivacy {
            pseudonymise: true,
            key_env: None,
            key_file: None,
            key: Some(toml::Value::String("s3cr3t-value".into())),
        };
        let (key, message) = validate(Some(&raw), Path::new("/")).unwrap_err();
        assert_eq!(key, "privacy.key");
        assert!(!message.contains("s3cr3t"));
    }

    #[test]
    fn debug_output_redacts_the_key() {
        let key = PseudonymKey::from_bytes(b"0123456789abcdef-secret".to_vec()).unwrap();
        assert_eq!(format!("{key:?}"), "PseudonymKey(<redacted>)");
    }
}
