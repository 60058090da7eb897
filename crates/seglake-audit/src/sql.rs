//! Read-only SQL over a lake's tables, with time travel.
//!
//! Every table under the lake root is registered by name at its latest
//! version. A past version is read through the table function
//! `table_at('segments', 3)` (a version) or
//! `table_at('segments', '2026-01-01T00:00:00Z')` (the version current at
//! that time). Only one `SELECT` (or `WITH ... SELECT`) is accepted: DDL,
//! DML, `COPY`, `SET` and the like are refused before planning, and
//! table functions only take table names, never paths, so no file outside
//! the lake can be read.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use chrono::{DateTime, Utc};
use deltalake::DeltaTable;
use deltalake::datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use deltalake::datafusion::common::ScalarValue;
use deltalake::datafusion::error::DataFusionError;
use deltalake::datafusion::execution::context::SQLOptions;
use deltalake::datafusion::logical_expr::Expr;
use deltalake::datafusion::prelude::SessionContext;
use deltalake::datafusion::sql::parser::{DFParser, Statement as DfStatement};
use deltalake::datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use seglake_spec::Location;

use crate::error::{AuditError, Result};
use crate::lake::Lake;
use seglake_spec::error_chain;

/// The time-travel table function's name.
pub const TABLE_AT: &str = "table_at";

/// A read-only SQL session over one lake.
pub struct LakeSql {
    ctx: SessionContext,
}

impl LakeSql {
    /// Registers every table of `lake` at its latest version, and `table_at`.
    pub async fn new(lake: &Lake) -> Result<Self> {
        let ctx = SessionContext::new();
        // The screening functions, so `screening_hits` can be questioned
        // with the score that made it (`screen_similarity(name, ...)`).
        for function in seglake_features::name_functions() {
            ctx.register_udf(function);
        }
        for name in lake.tables() {
            let location = lake.table(&name)?;
            let delta = load(&name, &location, None).await?;
            let provider = provider(&name, &delta, &ctx.state()).await?;
            ctx.register_table(name.as_str(), provider)
                .map_err(|error| AuditError::Query {
                    context: format!("registering table `{name}`"),
                    error,
                })?;
        }
        ctx.register_udtf(TABLE_AT, Arc::new(TableAt { lake: lake.clone() }));
        Ok(Self { ctx })
    }

    /// Runs one read-only query.
    pub async fn query(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        check_read_only(sql)?;
        // Defence in depth: the planner refuses the same statements.
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let query_err = |error| AuditError::Query {
            context: "the query".to_string(),
            error,
        };
        let df = self
            .ctx
            .sql_with_options(sql, options)
            .await
            .map_err(query_err)?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await.map_err(query_err)?;
        Ok((schema, batches))
    }
}

/// Accepts exactly one query statement.
pub fn check_read_only(sql: &str) -> Result<()> {
    let mut statements = DFParser::parse_sql(sql).map_err(|e| AuditError::Query {
        context: "the query does not parse".to_string(),
        error: e.into(),
    })?;
    if statements.len() != 1 {
        return Err(AuditError::Invalid(format!(
            "give exactly one SELECT statement; found {}",
            statements.len()
        )));
    }
    let statement = statements.pop_front().expect("one statement");
    match &statement {
        DfStatement::Statement(s) if matches!(**s, SqlStatement::Query(_)) => Ok(()),
        other => {
            let kind = seglake_features::statement_kind(other);
            Err(AuditError::Invalid(format!(
                "`seglake sql` is read-only: only a SELECT (or WITH ... SELECT) is accepted, \
                 not {kind}"
            )))
        }
    }
}

async fn load(name: &str, location: &Location, version: Option<i64>) -> Result<DeltaTable> {
    let delta_err = |error| AuditError::Delta {
        context: format!("table `{name}`"),
        error,
    };
    let mut builder = seglake_lake::storage::delta_builder(location.to_url()).map_err(delta_err)?;
    if let Some(v) = version {
        builder = builder.with_version(v as u64);
    }
    builder
        .load()
        .await
        .map_err(|source| AuditError::TableVersion {
            table: name.to_string(),
            version,
            source,
        })
}

async fn provider(
    name: &str,
    delta: &DeltaTable,
    session: &dyn deltalake::datafusion::catalog::Session,
) -> Result<Arc<dyn TableProvider>> {
    delta
        .update_datafusion_session(session)
        .map_err(|error| AuditError::Delta {
            context: format!("table `{name}`"),
            error,
        })?;
    let provider = delta
        .table_provider()
        .await
        .map_err(|error| AuditError::Query {
            context: format!("table `{name}`"),
            error,
        })?;
    Ok(provider)
}

/// `table_at(name, version | time)`.
#[derive(Debug)]
struct TableAt {
    lake: Lake,
}

/// The version argument: a number, or a time given as text or a timestamp.
enum At {
    Version(i64),
    Time(DateTime<Utc>),
}

fn usage() -> String {
    format!(
        "{TABLE_AT}(name, version) or {TABLE_AT}(name, 'RFC 3339 time'), \
         e.g. {TABLE_AT}('segments', 3) or {TABLE_AT}('segments', '2026-01-01T00:00:00Z')"
    )
}

fn plan_err(message: String) -> DataFusionError {
    DataFusionError::Plan(message)
}

fn literal(expr: &Expr) -> Option<&ScalarValue> {
    match expr {
        Expr::Literal(v, _) => Some(v),
        _ => None,
    }
}

fn parse_args(exprs: &[Expr]) -> Result<(String, At), DataFusionError> {
    let [name, at] = exprs else {
        return Err(plan_err(format!(
            "{TABLE_AT} takes two arguments: {}",
            usage()
        )));
    };
    let name = match literal(name) {
        Some(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s))) => s.clone(),
        _ => {
            return Err(plan_err(format!(
                "{TABLE_AT}: the first argument must be a table name in quotes: {}",
                usage()
            )));
        }
    };
    let at = match literal(at) {
        Some(ScalarValue::Int64(Some(v))) if *v >= 0 => At::Version(*v),
        Some(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s))) => At::Time(
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    plan_err(format!(
                        "{TABLE_AT}: `{s}` is not an RFC 3339 time ({e}): {}",
                        usage()
                    ))
                })?,
        ),
        Some(ScalarValue::TimestampMicrosecond(Some(us), _)) => {
            At::Time(DateTime::from_timestamp_micros(*us).expect("valid timestamp"))
        }
        Some(ScalarValue::TimestampNanosecond(Some(ns), _)) => {
            At::Time(DateTime::from_timestamp_nanos(*ns))
        }
        _ => {
            return Err(plan_err(format!(
                "{TABLE_AT}: the second argument must be a version (a non-negative number) or a time: {}",
                usage()
            )));
        }
    };
    Ok((name, at))
}

impl TableFunctionImpl for TableAt {
    fn call_with_args(
        &self,
        args: TableFunctionArgs,
    ) -> Result<Arc<dyn TableProvider>, DataFusionError> {
        let (name, at) = parse_args(args.exprs())?;
        let lake = self.lake.clone();
        let session = args.session();
        // Table functions are planned synchronously, but opening a Delta
        // version is I/O: run it to completion on this worker thread. The
        // CLI's runtime is multi-threaded, which `block_in_place` needs.
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                let location = lake.table(&name).map_err(|e| plan_err(error_chain(&e)))?;
                let version = match at {
                    At::Version(v) => v,
                    At::Time(t) => {
                        let history = lake
                            .history(&name)
                            .await
                            .map_err(|e| plan_err(error_chain(&e)))?;
                        seglake_lake::version_at(&history, t).ok_or_else(|| {
                            plan_err(format!(
                                "table `{name}` did not exist yet at {}",
                                t.to_rfc3339()
                            ))
                        })?
                    }
                };
                let delta = load(&name, &location, Some(version))
                    .await
                    .map_err(|e| plan_err(error_chain(&e)))?;
                provider(&name, &delta, session)
                    .await
                    .map_err(|e| plan_err(error_chain(&e)))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_select_is_accepted() {
        assert!(check_read_only("SELECT 1").is_ok());
        assert!(check_read_only("WITH a AS (SELECT 1 AS x) SELECT x FROM a").is_ok());
        for (sql, kind) in [
            ("DROP TABLE segments", "DROP TABLE"),
            ("INSERT INTO segments VALUES (1)", "INSERT INTO"),
            ("DELETE FROM segments", "DELETE FROM"),
            ("COPY segments TO '/tmp/x.parquet'", "COPY"),
            (
                "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '/etc'",
                "CREATE EXTERNAL TABLE",
            ),
            ("SET datafusion.execution.batch_size = 1", "SET"),
        ] {
            let err = check_read_only(sql).unwrap_err().to_string();
            assert!(err.contains(kind), "{sql}: {err}");
        }
        assert!(check_read_only("SELECT 1; SELECT 2").is_err());
    }
}
