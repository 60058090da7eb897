//! `format = "postgres"` sources: what the job file says about a PostgreSQL
//! table or query. The run snapshots it into the lake as Parquet at run
//! start (seglake-postgres) and reads the snapshot; only what can be checked
//! without a server is checked here.

use std::path::{Path, PathBuf};

use url::Url;

use crate::error::Problem;
use crate::raw::RawSource;

/// How many ranges a source is read in when the job does not say.
pub const DEFAULT_PARTITIONS: usize = 4;

/// A PostgreSQL source's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresSettings {
    /// `postgres://USER@HOST:PORT/DATABASE`, never with a password.
    pub uri: String,
    /// `name` or `schema.name`; exactly one of `table` and `query`.
    pub table: Option<String>,
    /// One `SELECT`, run read-only.
    pub query: Option<String>,
    /// The integer column ranges are cut by (a table's integer primary key
    /// when absent).
    pub partition_column: Option<String>,
    /// Ranges read at once, each on its own connection.
    pub partitions: usize,
    /// The environment variable holding the password; when absent,
    /// `PGPASSWORD` if it is set, else no password (trust or peer
    /// authentication).
    pub password_env: Option<String>,
    /// A file holding the password (its first line), resolved against the
    /// job file's folder; it wins over `password_env`.
    pub password_file: Option<PathBuf>,
}

impl PostgresSettings {
    /// The source as a message names it: the URI and the table, or
    /// `query`.
    pub fn what(&self) -> String {
        match &self.table {
            Some(table) => format!("table `{table}` at {}", self.uri),
            None => format!("query at {}", self.uri),
        }
    }
}

/// Why a password in the URI is refused; never repeats the URI.
const PASSWORD_IN_URI: &str = "the URI carries a password; passwords never go in a job file: \
set PGPASSWORD (or the variable `password_env` names) or `password_file`";

/// Checks the PostgreSQL keys of source `key` (`sources.NAME`) and builds
/// its settings, or every problem found.
pub(crate) fn settings(
    key: &str,
    raw: &RawSource,
    uri: &str,
    base: &Path,
) -> Result<PostgresSettings, Vec<Problem>> {
    let mut problems = Vec::new();
    if let Err(message) = check_uri(uri) {
        problems.push(Problem::new(format!("{key}.uri"), message));
    }
    match (&raw.table, &raw.query) {
        (Some(_), Some(_)) | (None, None) => problems.push(Problem::new(
            key,
            "a postgres source needs exactly one of `table` and `query`",
        )),
        (Some(t), None) if t.trim().is_empty() => {
            problems.push(Problem::new(format!("{key}.table"), "is empty"))
        }
        (None, Some(q)) if q.trim().is_empty() => {
            problems.push(Problem::new(format!("{key}.query"), "is empty"))
        }
        _ => {}
    }
    let partitions = raw.partitions.unwrap_or(DEFAULT_PARTITIONS);
    if !(1..=64).contains(&partitions) {
        problems.push(Problem::new(
            format!("{key}.partitions"),
            format!("{partitions} is out of range; it must be 1 to 64 (each is a connection)"),
        ));
    }
    if raw.version.is_some() {
        problems.push(Problem::new(
            format!("{key}.version"),
            "only Delta sources have versions; a postgres source is snapshotted at run start",
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(PostgresSettings {
        uri: uri.to_string(),
        table: raw.table.clone(),
        query: raw.query.clone(),
        partition_column: raw.partition_column.clone(),
        partitions,
        password_env: raw.password_env.clone(),
        password_file: raw.password_file.as_ref().map(|f| base.join(f)),
    })
}

/// A `postgres://` or `postgresql://` URI naming a host, without a
/// password.
fn check_uri(uri: &str) -> Result<(), String> {
    let scheme = uri.split_once("://").map(|(s, _)| s);
    if !matches!(scheme, Some("postgres" | "postgresql")) {
        return Err("a postgres source's uri is postgres://USER@HOST:PORT/DATABASE".to_string());
    }
    // Looked at before parsing, so that not even a parse error can echo a
    // password.
    let authority = uri.split_once("://").map_or("", |(_, rest)| {
        rest.split(['/', '?']).next().unwrap_or_default()
    });
    let query_has_password = uri.split_once('?').is_some_and(|(_, q)| {
        q.split('&').any(|pair| {
            pair.split('=')
                .next()
                .unwrap_or("")
                .eq_ignore_ascii_case("password")
        })
    });
    if authority
        .rsplit_once('@')
        .is_some_and(|(user, _)| user.contains(':'))
        || query_has_password
    {
        return Err(PASSWORD_IN_URI.to_string());
    }
    let url = Url::parse(uri).map_err(|e| format!("not a valid postgres URI: {e}"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err("names no host (postgres://USER@HOST:PORT/DATABASE)".to_string());
    }
    Ok(())
}

/// The keys only postgres sources take, set on a source of another format.
pub(crate) fn misplaced_keys(raw: &RawSource) -> Vec<&'static str> {
    [
        ("table", raw.table.is_some()),
        ("query", raw.query.is_some()),
        ("partition_column", raw.partition_column.is_some()),
        ("partitions", raw.partitions.is_some()),
        ("password_env", raw.password_env.is_some()),
        ("password_file", raw.password_file.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uri_with_a_password_is_refused_without_echoing_it() {
        for uri in [
            "postgres://bank:hunter2@db:5432/core",
            "postgres://bank@db/core?password=hunter2",
        ] {
            let message = check_uri(uri).unwrap_err();
            assert!(!message.contains("hunter2"), "{message}");
            assert!(message.contains("PGPASSWORD"), "{message}");
        }
        check_uri("postgresql://bank@db:5432/core?connect_timeout=5").unwrap();
        assert!(check_uri("mysql://bank@db/core").is_err());
    }
}
