//! The password: read from the environment or a file, never printed.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{PostgresError, Result};

/// The environment variable libpq and `psql` read the password from.
pub const DEFAULT_PASSWORD_VARIABLE: &str = "PGPASSWORD";

/// A password. It has no `Display`, and its `Debug` shows `Secret(***)`, so
/// it cannot reach a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password the caller already holds (tests, a secrets manager).
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The password itself, for the connection only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where a source's password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// No password: the server trusts the user (peer or trust
    /// authentication). A server that asks for one gets a
    /// [`PostgresError::PasswordRequired`].
    None,
    /// An environment variable ([`DEFAULT_PASSWORD_VARIABLE`] usually).
    Env(String),
    /// A file holding the password alone (a mounted Kubernetes or Docker
    /// secret). One trailing newline is not part of the password.
    File(PathBuf),
}

impl PasswordSource {
    /// A job's password settings: `password_file` when given, else the
    /// variable `password_env`, else `PGPASSWORD` when it is set, else none.
    pub fn from_settings(password_env: Option<&str>, password_file: Option<&Path>) -> Self {
        match (password_file, password_env) {
            (Some(path), _) => PasswordSource::File(path.to_path_buf()),
            (None, Some(variable)) => PasswordSource::Env(variable.to_string()),
            (None, None) if std::env::var_os(DEFAULT_PASSWORD_VARIABLE).is_some() => {
                PasswordSource::Env(DEFAULT_PASSWORD_VARIABLE.to_string())
            }
            (None, None) => PasswordSource::None,
        }
    }

    /// Reads the password. An unset or empty variable, or an unreadable or
    /// empty file, is an error naming the variable or the path (never the
    /// contents).
    pub fn resolve(&self) -> Result<Option<Secret>> {
        match self {
            PasswordSource::None => Ok(None),
            PasswordSource::Env(variable) => match std::env::var(variable) {
                Ok(value) if !value.is_empty() => Ok(Some(Secret(value))),
                _ => Err(PostgresError::PasswordVariable {
                    variable: variable.clone(),
                }),
            },
            PasswordSource::File(path) => read_password_file(path).map(Some),
        }
    }
}

fn read_password_file(path: &Path) -> Result<Secret> {
    let bad = |message: String| PostgresError::PasswordFile {
        path: path.display().to_string(),
        message,
    };
    // The io::Error's own message names no contents, only what failed.
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let value = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if value.is_empty() {
        return Err(bad("the file is empty".to_string()));
    }
    Ok(Secret(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
    }

    #[test]
    fn password_file_loses_one_trailing_newline_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret \n").unwrap();
        let secret = PasswordSource::File(path.clone()).resolve().unwrap();
        assert_eq!(secret.unwrap().expose(), "s3cret ");
        std::fs::write(&path, "\n").unwrap();
        let err = PasswordSource::File(path).resolve().unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
    }

    #[test]
    fn unset_variable_is_named() {
        let err = PasswordSource::Env("SEGLAKE_TEST_NO_SUCH_VARIABLE".into())
            .resolve()
            .unwrap_err();
        assert!(
            err.to_string().contains("SEGLAKE_TEST_NO_SUCH_VARIABLE"),
            "{err}"
        );
    }
}
