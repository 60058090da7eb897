//! The server a source names, and connections to it with named errors.

use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls};

use crate::error::{PostgresError, Result};
use crate::secret::Secret;

/// Where to connect, parsed once from the source's URI (which carries no
/// password).
#[derive(Clone)]
pub(crate) struct Target {
    config: Config,
    /// `host:port`, for messages.
    pub server: String,
    pub user: String,
    pub database: String,
    timeout: Duration,
}

impl Target {
    /// Parses `uri` (`postgres://USER@HOST:PORT/DATABASE?options`), refusing
    /// one with a password. `timeout` bounds connecting and authenticating
    /// unless the URI sets its own `connect_timeout`.
    pub fn parse(uri: &str, timeout: Duration) -> Result<Self> {
        // tokio-postgres also parses `key=value` strings; the job asks for a
        // URI, and a half-URI would give confusing errors later.
        if !(uri.starts_with("postgres://") || uri.starts_with("postgresql://")) {
            return Err(PostgresError::BadUri);
        }
        let mut config = Config::from_str(uri).map_err(|_| PostgresError::BadUri)?;
        if config.get_password().is_some() {
            return Err(PostgresError::PasswordInUri);
        }
        let user = config
            .get_user()
            .ok_or_else(|| {
                PostgresError::Invalid(
                    "the connection URI names no user (postgres://USER@HOST:PORT/DATABASE)".into(),
                )
            })?
            .to_string();
        let database = config.get_dbname().unwrap_or(&user).to_string();
        let server = server_name(&config);
        let timeout = *config.get_connect_timeout().unwrap_or(&timeout);
        config.connect_timeout(timeout);
        config.application_name("seglake");
        Ok(Target {
            config,
            server,
            user,
            database,
            timeout,
        })
    }

    /// Opens one connection, bounded by the connect timeout, and drives it
    /// on a task of its own until the client is dropped.
    pub async fn connect(&self, password: Option<&Secret>) -> Result<Client> {
        let mut config = self.config.clone();
        if let Some(password) = password {
            config.password(password.expose());
        }
        // The connect timeout covers the TCP connection only; a server that
        // accepts and then says nothing is bounded here.
        let connecting = tokio::time::timeout(self.timeout, config.connect(NoTls));
        let (client, connection) = match connecting.await {
            Err(_elapsed) => return Err(self.unreachable(None)),
            Ok(Err(e)) => return Err(self.connect_error(e)),
            Ok(Ok(pair)) => pair,
        };
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "postgres connection ended with an error");
            }
        });
        Ok(client)
    }

    /// A server error while reading, with `what` was being done.
    pub fn server_error(
        &self,
        what: impl Into<String>,
    ) -> impl FnOnce(tokio_postgres::Error) -> PostgresError {
        let server = self.server.clone();
        let what = what.into();
        move |source| PostgresError::Server {
            server,
            what,
            source,
        }
    }

    fn unreachable(&self, source: Option<tokio_postgres::Error>) -> PostgresError {
        PostgresError::Unreachable {
            server: self.server.clone(),
            timeout_secs: self.timeout.as_secs(),
            source,
        }
    }

    /// Names why connecting failed. tokio-postgres gives no error kind for
    /// a missing password but its message, which is matched on.
    fn connect_error(&self, e: tokio_postgres::Error) -> PostgresError {
        let server = self.server.clone();
        let user = self.user.clone();
        match e.code() {
            Some(code) if *code == SqlState::INVALID_PASSWORD => {
                PostgresError::AuthenticationFailed { server, user }
            }
            Some(code) if *code == SqlState::INVALID_CATALOG_NAME => {
                PostgresError::UnknownDatabase {
                    server,
                    database: self.database.clone(),
                }
            }
            Some(_) => PostgresError::ConnectionRefused {
                server,
                user,
                message: e
                    .as_db_error()
                    .map(|d| d.message().to_string())
                    .unwrap_or_default(),
            },
            None if is_password_missing(&e) => PostgresError::PasswordRequired { server, user },
            None => self.unreachable(Some(e)),
        }
    }
}

/// tokio-postgres's configuration error for a server that asks for a
/// password the config does not have: the error's cause says so.
fn is_password_missing(e: &tokio_postgres::Error) -> bool {
    std::error::Error::source(e).is_some_and(|cause| cause.to_string() == "password missing")
}

fn server_name(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(10);

    #[test]
    fn uri_with_password_is_refused_without_printing_it() {
        for uri in [
            "postgres://bank:hunter2@db.example:5432/bank",
            "postgres://bank@db.example/bank?password=hunter2",
        ] {
            let err = Target::parse(uri, T).err().expect("refused");
            assert!(matches!(err, PostgresError::PasswordInUri), "{err}");
            assert!(!format!("{err} {err:?}").contains("hunter2"));
        }
    }

    #[test]
    fn uri_parts_are_named() {
        let t = Target::parse("postgres://bank@db.example:6543/core", T).unwrap();
        assert_eq!(
            (t.server.as_str(), t.user.as_str(), t.database.as_str()),
            ("db.example:6543", "bank", "core")
        );
        let t = Target::parse("postgresql://bank@db.example", T).unwrap();
        assert_eq!(
            (t.server.as_str(), t.database.as_str()),
            ("db.example:5432", "bank")
        );
    }

    #[test]
    fn not_a_uri_is_refused() {
        for uri in [
            "host=db user=bank",
            "mysql://bank@db/core",
            "postgres://bank@db:notaport/x",
        ] {
            let err = Target::parse(uri, T).err().expect("refused");
            assert!(matches!(err, PostgresError::BadUri), "{uri}: {err}");
        }
    }
}
