//! The coordinating transaction: it exports the snapshot every reader
//! shares, finds the table, maps the result's types and plans the ranges,
//! all before anything is written.

use arrow::datatypes::SchemaRef;
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use crate::connect::Target;
use crate::error::{PostgresError, Result};
use crate::ranges::{self, KeyRange};
use crate::source::{CheckedSource, Relation};
use crate::sql::{TableName, quote_ident};
use crate::types::{SourceColumn, arrow_schema, map_columns, type_name};

/// Opens every transaction of a snapshot: repeatable read, so all its
/// statements see one snapshot; read only, so a query cannot write.
pub(crate) const BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

/// How the snapshot is read, fixed before any reader starts.
pub(crate) struct Plan {
    /// The exported snapshot the readers attach to.
    pub snapshot_id: String,
    pub server_version: String,
    pub columns: Vec<SourceColumn>,
    pub schema: SchemaRef,
    /// `SELECT * FROM (...) AS seglake_q`, without WHERE or ORDER BY.
    pub select: String,
    pub partition_column: Option<String>,
    pub order_by: String,
    pub ranges: Vec<KeyRange>,
}

impl Plan {
    /// The statement reading `range`, with its parameters.
    pub fn range_sql(&self, range: &KeyRange) -> (String, Vec<i64>) {
        let column = self.partition_column.as_deref().map(quote_ident);
        match column.as_deref().and_then(|c| range.predicate(c)) {
            Some((predicate, params)) => (
                format!(
                    "{} WHERE {predicate} ORDER BY {}",
                    self.select, self.order_by
                ),
                params,
            ),
            None => (
                format!("{} ORDER BY {}", self.select, self.order_by),
                vec![],
            ),
        }
    }
}

/// Starts the coordinating transaction on `client` and plans the read. The
/// transaction must stay open until every reader has attached to its
/// snapshot.
pub(crate) async fn plan(client: &Client, source: &CheckedSource) -> Result<Plan> {
    let target = &source.target;
    client
        .batch_execute(BEGIN)
        .await
        .map_err(target.server_error("starting the snapshot transaction"))?;
    let row = client
        .query_one(
            "SELECT pg_export_snapshot(), current_setting('server_version')",
            &[],
        )
        .await
        .map_err(target.server_error("exporting the snapshot"))?;
    let (snapshot_id, server_version): (String, String) = (row.get(0), row.get(1));

    let (inner, what, primary_key) = match &source.relation {
        Relation::Table(table) => {
            let oid = find_table(client, target, table).await?;
            let pk = integer_primary_key(client, target, oid).await?;
            (
                format!("SELECT * FROM {}", table.quoted()),
                source.what(),
                pk,
            )
        }
        Relation::Query(query) => (query.clone(), "query".to_string(), None),
    };
    // The newline: a query ending in a `--` comment must not swallow the
    // closing parenthesis.
    let select = format!("SELECT * FROM (\n{inner}\n) AS seglake_q");
    let statement = client
        .prepare(&select)
        .await
        .map_err(query_error(target, &what))?;
    let columns = map_columns(statement.columns())?;
    if columns.is_empty() {
        return Err(PostgresError::Invalid(format!("the {what} has no columns")));
    }
    let partition_column = partition_column(source, &columns, &what, primary_key.as_deref())?;
    let ranges = match &partition_column {
        Some(column) if source.partitions > 1 => {
            let (min, max) = key_span(client, target, &select, column, &what).await?;
            ranges::plan(min, max, source.partitions)
        }
        _ => vec![KeyRange::ALL],
    };
    let unique = partition_column.is_some() && partition_column == primary_key;
    Ok(Plan {
        snapshot_id,
        server_version,
        schema: arrow_schema(&columns),
        order_by: order_by(&columns, partition_column.as_deref(), unique),
        columns,
        select,
        partition_column,
        ranges,
    })
}

/// A query error: the server's message when it sent one (a syntax error, an
/// unknown relation, a write refused by the read-only transaction).
pub(crate) fn query_error<'a>(
    target: &'a Target,
    what: &'a str,
) -> impl FnOnce(tokio_postgres::Error) -> PostgresError + 'a {
    move |e| match e.as_db_error() {
        Some(db) => PostgresError::BadQuery {
            what: what.to_string(),
            message: db.message().to_string(),
        },
        None => target.server_error(format!("reading the {what}"))(e),
    }
}

/// The table's oid, or an error naming it and the tables there are.
async fn find_table(client: &Client, target: &Target, table: &TableName) -> Result<u32> {
    let row = client
        .query_one("SELECT to_regclass($1::text)::oid", &[&table.quoted()])
        .await
        .map_err(target.server_error("looking up the table"))?;
    if let Some(oid) = row.get::<_, Option<u32>>(0) {
        return Ok(oid);
    }
    let available = visible_tables(client, target, table.schema.as_deref()).await?;
    Err(PostgresError::UnknownTable {
        table: match &table.schema {
            Some(schema) => format!("{schema}.{}", table.name),
            None => table.name.clone(),
        },
        database: target.database.clone(),
        available,
    })
}

/// Up to 20 tables and views the user could have meant: those of `schema`,
/// or those the search path finds (the system catalogs left out).
async fn visible_tables(
    client: &Client,
    target: &Target,
    schema: Option<&str>,
) -> Result<Vec<String>> {
    let sql = "SELECT CASE WHEN $1::text IS NULL THEN c.relname::text \
                           ELSE n.nspname || '.' || c.relname END \
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
               WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') \
                 AND CASE WHEN $1::text IS NULL \
                          THEN pg_table_is_visible(c.oid) \
                               AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
                          ELSE n.nspname = $1::text END \
               ORDER BY 1 LIMIT 20";
    let rows = client
        .query(sql, &[&schema])
        .await
        .map_err(target.server_error("listing the tables"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The table's primary key when it is one integer column: unique, so rows
/// need no other sort key, and indexed, so ranges are cheap to read.
async fn integer_primary_key(client: &Client, target: &Target, oid: u32) -> Result<Option<String>> {
    let sql = "SELECT a.attname::text FROM pg_index i \
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
               WHERE i.indrelid = $1::oid AND i.indisprimary AND i.indnkeyatts = 1 \
                 AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)";
    let row = client
        .query_opt(sql, &[&oid])
        .await
        .map_err(target.server_error("looking up the table's primary key"))?;
    Ok(row.map(|r| r.get(0)))
}

/// The column ranges are cut on: the one asked for (which must be an
/// integer result column), else the table's integer primary key.
fn partition_column(
    source: &CheckedSource,
    columns: &[SourceColumn],
    what: &str,
    primary_key: Option<&str>,
) -> Result<Option<String>> {
    let Some(name) = source.partition_column.as_deref() else {
        return Ok(primary_key.map(str::to_string));
    };
    let column = columns.iter().find(|c| c.name == name).ok_or_else(|| {
        PostgresError::UnknownPartitionColumn {
            column: name.to_string(),
            what: what.to_string(),
            available: columns.iter().map(|c| c.name.clone()).collect(),
        }
    })?;
    if !column.is_integer() {
        return Err(PostgresError::BadPartitionColumn {
            column: name.to_string(),
            pg_type: type_name(&column.pg_type),
        });
    }
    Ok(Some(name.to_string()))
}

/// The partition column's smallest and largest value in the snapshot.
async fn key_span(
    client: &Client,
    target: &Target,
    select: &str,
    column: &str,
    what: &str,
) -> Result<(Option<i64>, Option<i64>)> {
    let column = quote_ident(column);
    let sql =
        format!("SELECT min({column})::int8, max({column})::int8 FROM ({select}) AS seglake_s");
    let params: [&(dyn ToSql + Sync); 0] = [];
    let row = client
        .query_one(&sql, &params)
        .await
        .map_err(query_error(target, what))?;
    Ok((row.get(0), row.get(1)))
}

/// A total order of the rows, so the snapshot's bytes are the same however
/// many ranges read it: the partition column alone when it is unique, else
/// it first and then every column by position.
fn order_by(columns: &[SourceColumn], partition: Option<&str>, unique: bool) -> String {
    let positions = (1..=columns.len()).map(|i| i.to_string());
    match partition {
        Some(column) if unique => quote_ident(column),
        Some(column) => std::iter::once(quote_ident(column))
            .chain(positions)
            .collect::<Vec<_>>()
            .join(", "),
        None => positions.collect::<Vec<_>>().join(", "),
    }
}
