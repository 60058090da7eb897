//! What a job says about a PostgreSQL source, checked without a server.

use std::fmt;
use std::time::Duration;

use crate::connect::Target;
use crate::error::{PostgresError, Result};
use crate::sql::{TableName, check_select};

/// The most ranges one source is read in: each is a connection.
pub const MAX_PARTITIONS: usize = 64;

/// A PostgreSQL table or query to snapshot. Its `Debug` hides a password
/// wrongly left in the URI, so logging a source never leaks one.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresSource {
    /// `postgres://USER@HOST:PORT/DATABASE` (options such as
    /// `?connect_timeout=5` allowed). A URI with a password is refused: the
    /// password comes from a [`crate::Secret`].
    pub uri: String,
    /// `name` or `schema.name`, each part exactly as written (quoted, so
    /// case-sensitive). Exactly one of `table` and `query`.
    pub table: Option<String>,
    /// One `SELECT` or `WITH ... SELECT`, run in a read-only transaction.
    pub query: Option<String>,
    /// An integer column (`smallint`, `integer`, `bigint`) to split the read
    /// into ranges and to order rows by. For a table, its integer
    /// single-column primary key when absent; otherwise rows are ordered by
    /// every column and read by one connection.
    pub partition_column: Option<String>,
    /// How many ranges to read concurrently (1 to [`MAX_PARTITIONS`]); the
    /// snapshot's bytes do not depend on it.
    pub partitions: usize,
}

impl fmt::Debug for PostgresSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresSource")
            .field("uri", &redact_uri(&self.uri))
            .field("table", &self.table)
            .field("query", &self.query)
            .field("partition_column", &self.partition_column)
            .field("partitions", &self.partitions)
            .finish()
    }
}

/// `uri` with the password of its user part and any `password=` option
/// replaced by `***`.
fn redact_uri(uri: &str) -> String {
    let mut out = uri.to_string();
    if let Some(scheme_end) = out.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = out[authority_start..]
            .find(['/', '?'])
            .map_or(out.len(), |n| authority_start + n);
        if let Some(at) = out[authority_start..authority_end].rfind('@') {
            let userinfo = &out[authority_start..authority_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = authority_start + colon + 1;
                out.replace_range(start..authority_start + at, "***");
            }
        }
    }
    if let Some(query_start) = out.find('?') {
        let (head, query) = out.split_at(query_start + 1);
        let redacted: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{head}{}", redacted.join("&"));
    }
    out
}

/// Where the rows come from.
#[derive(Debug, Clone)]
pub(crate) enum Relation {
    Table(TableName),
    /// The query without trailing semicolons.
    Query(String),
}

/// A source whose settings have been checked.
#[derive(Clone)]
pub(crate) struct CheckedSource {
    pub target: Target,
    pub relation: Relation,
    pub partition_column: Option<String>,
    pub partitions: usize,
}

impl CheckedSource {
    /// The source in messages: ``table `x` `` or `query`.
    pub fn what(&self) -> String {
        match &self.relation {
            Relation::Table(table) => match &table.schema {
                Some(schema) => format!("table `{schema}.{}`", table.name),
                None => format!("table `{}`", table.name),
            },
            Relation::Query(_) => "query".to_string(),
        }
    }
}

impl PostgresSource {
    /// Checks the settings without connecting: one of `table` and `query`,
    /// a query that is one SELECT, a URI without a password, a partition
    /// count in range. What `seglake validate` can say offline.
    pub fn check(&self) -> Result<()> {
        self.checked(Duration::from_secs(10)).map(|_| ())
    }

    pub(crate) fn checked(&self, timeout: Duration) -> Result<CheckedSource> {
        let relation = match (&self.table, &self.query) {
            (Some(table), None) => Relation::Table(TableName::parse(table)?),
            (None, Some(query)) => Relation::Query(check_select(query)?),
            _ => {
                return Err(PostgresError::Invalid(
                    "give exactly one of `table` and `query`".into(),
                ));
            }
        };
        if !(1..=MAX_PARTITIONS).contains(&self.partitions) {
            return Err(PostgresError::Invalid(format!(
                "partitions is {}; it must be 1 to {MAX_PARTITIONS}",
                self.partitions
            )));
        }
        if self.partition_column.as_deref() == Some("") {
            return Err(PostgresError::Invalid("partition_column is empty".into()));
        }
        Ok(CheckedSource {
            target: Target::parse(&self.uri, timeout)?,
            relation,
            partition_column: self.partition_column.clone(),
            partitions: self.partitions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> PostgresSource {
        PostgresSource {
            uri: "postgres://bank@127.0.0.1:5432/bank".into(),
            table: Some("customers".into()),
            query: None,
            partition_column: None,
            partitions: 4,
        }
    }

    #[test]
    fn exactly_one_of_table_and_query() {
        let both = PostgresSource {
            query: Some("SELECT 1".into()),
            ..source()
        };
        assert!(
            both.check()
                .unwrap_err()
                .to_string()
                .contains("exactly one")
        );
        let neither = PostgresSource {
            table: None,
            ..source()
        };
        assert!(neither.check().is_err());
        assert!(source().check().is_ok());
    }

    #[test]
    fn debug_hides_a_password_left_in_the_uri() {
        for uri in [
            "postgres://bank:hunter2@db:5432/core",
            "postgres://bank:hun@ter2@db/core?sslmode=disable",
            "postgres://bank@db/core?sslmode=disable&password=hunter2",
        ] {
            let shown = format!(
                "{:?}",
                PostgresSource {
                    uri: uri.into(),
                    ..source()
                }
            );
            assert!(
                !shown.contains("hunter2") && !shown.contains("ter2"),
                "{shown}"
            );
            assert!(shown.contains("***"), "{shown}");
        }
        let plain = format!("{:?}", source());
        assert!(
            plain.contains("postgres://bank@127.0.0.1:5432/bank"),
            "{plain}"
        );
    }

    #[test]
    fn partitions_must_be_in_range() {
        let zero = PostgresSource {
            partitions: 0,
            ..source()
        };
        assert!(
            zero.check()
                .unwrap_err()
                .to_string()
                .contains("partitions is 0")
        );
    }
}
