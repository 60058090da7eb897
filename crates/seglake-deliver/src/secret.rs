//! The shared secret an endpoint's requests are signed with.

use std::fmt;
use std::path::Path;

use crate::DeliverError;

/// A webhook signing secret.
///
/// Loaded from an environment variable or a file so that it never has to
/// appear in a job file or on a command line. `Debug` and `Display` print
/// `***`, and no error or log line of this crate contains it.
#[derive(Clone)]
pub struct Secret {
    bytes: Vec<u8>,
}

impl Secret {
    /// The value of environment variable `var`, as bytes.
    pub fn from_env(var: &str) -> Result<Self, DeliverError> {
        let origin = || format!("environment variable {var}");
        let value = std::env::var_os(var).ok_or_else(|| DeliverError::Secret {
            origin: origin(),
            reason: "not set".into(),
        })?;
        Self::checked(value.into_encoded_bytes(), origin)
    }

    /// The content of the file at `path`, without trailing whitespace (so a
    /// secret file written by `echo` works as one written without a newline).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, DeliverError> {
        let path = path.as_ref();
        let origin = || format!("file {}", path.display());
        let mut bytes = std::fs::read(path).map_err(|e| DeliverError::Secret {
            origin: origin(),
            reason: e.to_string(),
        })?;
        let kept = bytes.trim_ascii_end().len();
        bytes.truncate(kept);
        Self::checked(bytes, origin)
    }

    /// A secret the caller already holds (from a secret manager, or a test).
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Self, DeliverError> {
        Self::checked(bytes.into(), || "the caller".to_string())
    }

    fn checked(bytes: Vec<u8>, origin: impl FnOnce() -> String) -> Result<Self, DeliverError> {
        // An empty key still yields an HMAC, one anybody can compute: refuse
        // it rather than sign with it.
        if bytes.is_empty() {
            return Err(DeliverError::Secret {
                origin: origin(),
                reason: "it is empty".into(),
            });
        }
        Ok(Self { bytes })
    }

    pub(crate) fn expose(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let secret = Secret::from_bytes("hunter2-very-secret").unwrap();
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(***)");
    }

    #[test]
    fn file_secret_drops_the_trailing_newline_and_errors_name_the_path_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hook.secret");
        std::fs::write(&path, "s3cr3t-value\n").unwrap();
        assert_eq!(Secret::from_file(&path).unwrap().expose(), b"s3cr3t-value");

        std::fs::write(&path, " \n").unwrap();
        let error = Secret::from_file(&path).unwrap_err().to_string();
        assert!(
            error.contains("hook.secret") && error.contains("empty"),
            "{error}"
        );

        let missing = dir.path().join("missing.secret");
        let error = Secret::from_file(&missing).unwrap_err().to_string();
        assert!(error.contains("missing.secret"), "{error}");
    }

    #[test]
    fn env_secret_names_the_variable_when_unset() {
        let var = "SEGLAKE_DELIVER_TEST_SECRET_THAT_IS_NEVER_SET";
        let error = Secret::from_env(var).unwrap_err().to_string();
        assert!(error.contains(var) && error.contains("not set"), "{error}");
    }

    #[test]
    fn empty_secret_is_refused() {
        assert!(Secret::from_bytes(Vec::new()).is_err());
    }
}
