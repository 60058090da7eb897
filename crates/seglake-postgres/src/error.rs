/// Result alias for PostgreSQL snapshots.
pub type Result<T, E = PostgresError> = std::result::Result<T, E>;

/// Why a snapshot was not taken. Nothing is left at the output path in any
/// case.
///
/// No variant carries a password: the URI is refused before it is kept when
/// it has one, [`crate::Secret`] never prints its value, and the server's
/// messages (which some variants quote) never repeat it.
// The variants are documented; their fields are what their messages print.
#[allow(missing_docs)]
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    /// The source settings are wrong before any server is asked: both or
    /// neither of `table` and `query`, zero partitions, ...
    #[error("postgres source: {0}")]
    Invalid(String),

    /// The connection URI cannot be parsed. The parser's message is left
    /// out: it could quote the URI, password and all.
    #[error(
        "postgres source: the connection URI is not a valid postgres:// URI \
         (postgres://USER@HOST:PORT/DATABASE)"
    )]
    BadUri,

    /// The URI carries a password (in its user part or as `?password=`).
    #[error(
        "postgres source: the connection URI carries a password; remove it from \
         the URI and give it through PGPASSWORD or a password file"
    )]
    PasswordInUri,

    /// The password file cannot be read, or is empty.
    #[error("postgres password file {path}: {message}")]
    PasswordFile { path: String, message: String },

    /// The environment variable that should hold the password is unset or
    /// empty.
    #[error("postgres password: environment variable {variable} is not set (or is empty)")]
    PasswordVariable { variable: String },

    /// Nothing answered at the server's address within the connect timeout.
    #[error("postgres server {server} is unreachable (connect timeout {timeout_secs} s)")]
    Unreachable {
        server: String,
        timeout_secs: u64,
        #[source]
        source: Option<tokio_postgres::Error>,
    },

    /// The server refused the user's password (or the user does not exist).
    #[error("postgres server {server}: password authentication failed for user `{user}`")]
    AuthenticationFailed { server: String, user: String },

    /// The server asked for a password and none was given.
    #[error(
        "postgres server {server} asks for a password for user `{user}` and none was given \
         (set PGPASSWORD or a password file)"
    )]
    PasswordRequired { server: String, user: String },

    /// The server refused the connection for another reason (no
    /// `pg_hba.conf` entry, too many connections, ...): its message.
    #[error("postgres server {server} refused the connection for user `{user}`: {message}")]
    ConnectionRefused {
        server: String,
        user: String,
        message: String,
    },

    /// The database named in the URI does not exist.
    #[error("postgres server {server}: database `{database}` does not exist")]
    UnknownDatabase { server: String, database: String },

    /// The source's table does not exist (or the user cannot see it).
    #[error("postgres source: table `{table}` does not exist in database `{database}`{}", choices(.available))]
    UnknownTable {
        table: String,
        database: String,
        /// Tables the user can see in the search path, a few at most.
        available: Vec<String>,
    },

    /// The query is not one read-only SELECT.
    #[error("postgres source: the query must be one SELECT (or WITH ... SELECT): {reason}")]
    NotASelect { reason: String },

    /// The server rejected the query (syntax, unknown column or relation,
    /// or a write refused by the read-only transaction).
    #[error("postgres source: the server rejected the {what}: {message}")]
    BadQuery { what: String, message: String },

    /// A column's PostgreSQL type has no Arrow type here.
    #[error(
        "postgres source: column `{column}` has type {pg_type}, which seglake cannot map{}",
        hint_text(.hint)
    )]
    UnsupportedType {
        column: String,
        pg_type: String,
        hint: Option<String>,
    },

    /// Two result columns share a name; Parquet columns must not.
    #[error("postgres source: the result has two columns named `{column}`; alias one of them")]
    DuplicateColumn { column: String },

    /// The partition column is not a result column.
    #[error("postgres source: partition column `{column}` is not a column of the {what} (columns: {})", .available.join(", "))]
    UnknownPartitionColumn {
        column: String,
        what: String,
        available: Vec<String>,
    },

    /// The partition column is not an integer column.
    #[error(
        "postgres source: partition column `{column}` has type {pg_type}; it must be \
         smallint, integer or bigint"
    )]
    BadPartitionColumn { column: String, pg_type: String },

    /// A value cannot be stored in its Arrow type (an infinite timestamp, a
    /// numeric NaN, text that is not UTF-8).
    #[error("postgres source: column `{column}`: {message}")]
    BadValue { column: String, message: String },

    /// The server failed while the snapshot was read.
    #[error("postgres server {server}: {what}")]
    Server {
        server: String,
        what: String,
        #[source]
        source: tokio_postgres::Error,
    },

    /// The output path is taken: snapshots are never overwritten.
    #[error("postgres snapshot: {path} already exists")]
    OutputExists { path: String },

    /// A file of the snapshot cannot be written or read back.
    #[error("postgres snapshot: {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// Arrow or Parquet refused a batch.
    #[error("postgres snapshot: writing {path}")]
    Parquet {
        path: String,
        #[source]
        source: parquet::errors::ParquetError,
    },

    /// Arrow refused a batch (spool files, re-chunking).
    #[error("postgres snapshot: {what}")]
    Arrow {
        what: String,
        #[source]
        source: arrow::error::ArrowError,
    },

    /// A reading or writing task panicked or was cancelled.
    #[error("postgres snapshot: a worker task failed: {0}")]
    Task(String),
}

fn choices(available: &[String]) -> String {
    if available.is_empty() {
        String::new()
    } else {
        format!(" (tables: {})", available.join(", "))
    }
}

fn hint_text(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default()
}

impl PostgresError {
    /// An I/O error about `path`.
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| PostgresError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

impl PostgresError {
    /// True when the user can fix the cause in the job, its password or the
    /// database (a wrong table, query, type or credential): the CLI exits
    /// with 1. An unreachable or failing server, or the lake's storage, is
    /// a failure of its own (2).
    pub fn is_invalid_input(&self) -> bool {
        !matches!(
            self,
            PostgresError::Unreachable { .. }
                | PostgresError::ConnectionRefused { .. }
                | PostgresError::Server { .. }
                | PostgresError::OutputExists { .. }
                | PostgresError::Io { .. }
                | PostgresError::Parquet { .. }
                | PostgresError::Arrow { .. }
                | PostgresError::Task(_)
        )
    }
}
