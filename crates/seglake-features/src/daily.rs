//! Incremental (per-day) views: the checks that make a view's days
//! independent of each other, and the view restricted to some days.
//!
//! A view marked incremental (`seglake_spec::incremental`) is computed day
//! by day: a run recomputes only the days new source rows fall on and keeps
//! the others from the state the last run published. That gives the same
//! rows as computing every day only if each day's rows depend on that day's
//! source rows alone, so the view may not read `run_context` (its rows
//! would change with `as_of`), other views, or use window functions or
//! `LIMIT` (which see across days); and it must return its `day`.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{Array, Date32Array, RecordBatch};
use arrow::datatypes::{DataType, Schema, SchemaRef, TimeUnit};
use chrono::NaiveDate;
use datafusion::common::tree_node::{Transformed, TreeNodeRecursion};
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::{Expr, Filter, LogicalPlan, cast, lit};
use seglake_spec::incremental::{DAY_COLUMN, IncrementalSpec};
use seglake_spec::{JobSpec, ViewSpec};

use crate::engine::FeatureEngine;
use crate::error::{FeatureError, Result};
use crate::sources::RAW_SUFFIX;

/// Which days of an incremental view to compute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Days {
    /// Every day from this one on (a full computation of the state).
    From(NaiveDate),
    /// These days only.
    Only(BTreeSet<NaiveDate>),
}

impl Days {
    fn contains(&self, day: NaiveDate) -> bool {
        match self {
            Days::From(first) => day >= *first,
            Days::Only(days) => days.contains(&day),
        }
    }
}

/// The first day an incremental view's state keeps at `as_of`.
pub fn first_kept_day(as_of: chrono::DateTime<chrono::Utc>, spec: &IncrementalSpec) -> NaiveDate {
    as_of.date_naive() - chrono::Duration::days(spec.keep_days)
}

/// Days since 1970-01-01, as Arrow's `Date32` holds them.
fn epoch_days(day: NaiveDate) -> i32 {
    (day - NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date")).num_days() as i32
}

fn day_of(epoch_days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date") + chrono::Duration::days(epoch_days.into())
}

/// Refuses what would make one day's rows depend on other days.
pub(crate) fn check_daily_plan(spec: &JobSpec, view: &ViewSpec, plan: &LogicalPlan) -> Result<()> {
    let incremental = view.incremental.as_ref().expect("an incremental view");
    let refuse = |why: String| FeatureError::NotIncremental {
        view: view.name.clone(),
        path: view.path.clone(),
        why,
    };
    let scanned = scanned_tables(plan);
    let mut across_days = None;
    plan.apply_with_subqueries(|node| {
        match node {
            LogicalPlan::Window(_) => across_days = Some("it uses a window function"),
            LogicalPlan::Limit(_) => across_days = Some("it uses LIMIT"),
            _ => {}
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .expect("the visitor never fails");
    if let Some(why) = across_days {
        return Err(refuse(why.to_string()));
    }
    if scanned.contains("run_context") {
        return Err(refuse(
            "it reads `run_context`, so its rows would change with as_of".to_string(),
        ));
    }
    if let Some(other) = spec.views.iter().find(|v| scanned.contains(&v.name)) {
        return Err(refuse(format!(
            "it reads view `{}`; read sources only",
            other.name
        )));
    }
    if !scanned.contains(&incremental.source) {
        return Err(refuse(format!(
            "it does not read its source `{}`",
            incremental.source
        )));
    }
    check_daily_columns(spec, plan.schema().as_arrow()).map_err(refuse)
}

/// The names of the tables and views `plan` reads, sub-queries included.
/// Views (and deduplicated sources, which are views over their raw rows)
/// are inlined by the planner as an alias of their own plan, so aliases
/// count too; a deduplicated source's raw table counts as the source.
fn scanned_tables(plan: &LogicalPlan) -> BTreeSet<String> {
    let mut scanned = BTreeSet::new();
    plan.apply_with_subqueries(|node| {
        let name = match node {
            LogicalPlan::TableScan(scan) => scan.table_name.table(),
            LogicalPlan::SubqueryAlias(alias) => alias.alias.table(),
            _ => return Ok(TreeNodeRecursion::Continue),
        };
        let name = name.strip_suffix(RAW_SUFFIX).unwrap_or(name);
        scanned.insert(name.to_string());
        Ok(TreeNodeRecursion::Continue)
    })
    .expect("the visitor never fails");
    scanned
}

/// The key, a `DATE` day, and only types the state table stores as they are.
fn check_daily_columns(spec: &JobSpec, schema: &Schema) -> std::result::Result<(), String> {
    if schema.field_with_name(&spec.key).is_err() {
        return Err(format!("it returns no key column `{}`", spec.key));
    }
    match schema.field_with_name(DAY_COLUMN).map(|f| f.data_type()) {
        Ok(DataType::Date32) => {}
        Ok(other) => {
            return Err(format!(
                "its `{DAY_COLUMN}` column is {other}, not DATE (use CAST(ts AS DATE))"
            ));
        }
        Err(_) => return Err(format!("it returns no `{DAY_COLUMN}` column")),
    }
    for field in schema.fields() {
        if let DataType::Timestamp(unit, _) = field.data_type()
            && *unit != TimeUnit::Microsecond
        {
            return Err(format!(
                "column `{}` is a timestamp in {unit:?}s, which the state table (Delta) \
                 stores in microseconds: cast it to microseconds",
                field.name()
            ));
        }
    }
    Ok(())
}

/// `plan` with every scan of `source` keeping only the rows of `days`.
pub(crate) fn restrict_to_days(
    plan: LogicalPlan,
    incremental: &IncrementalSpec,
    days: &Days,
) -> datafusion::error::Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| {
        // The source as a table, or inlined as a view (deduplicated).
        let table_name = match &node {
            LogicalPlan::TableScan(scan) => &scan.table_name,
            LogicalPlan::SubqueryAlias(alias) => &alias.alias,
            _ => return Ok(Transformed::no(node)),
        };
        if table_name.table() != incremental.source {
            return Ok(Transformed::no(node));
        }
        let time = Expr::Column(Column::new(
            Some(table_name.clone()),
            incremental.time_column.as_str(),
        ));
        let predicate = day_predicate(cast(time, DataType::Date32), days);
        let filtered = Filter::try_new(predicate, Arc::new(node))?;
        Ok(Transformed::yes(LogicalPlan::Filter(filtered)))
    })
    .map(|t| t.data)
}

fn date(day: NaiveDate) -> Expr {
    lit(ScalarValue::Date32(Some(epoch_days(day))))
}

/// `day_expr` in `days`: bounds first (what Parquet statistics can prune
/// row groups on), then the exact list.
fn day_predicate(day_expr: Expr, days: &Days) -> Expr {
    match days {
        Days::From(first) => day_expr.gt_eq(date(*first)),
        Days::Only(set) => {
            let (Some(first), Some(last)) = (set.first(), set.last()) else {
                return lit(false);
            };
            let list = set.iter().map(|d| date(*d)).collect();
            day_expr
                .clone()
                .gt_eq(date(*first))
                .and(day_expr.clone().lt_eq(date(*last)))
                .and(day_expr.in_list(list, false))
        }
    }
}

impl FeatureEngine {
    /// Computes incremental view `view` for `days`: its state rows for
    /// those days, with the state table's column types.
    pub async fn compute_days(
        &self,
        spec: &JobSpec,
        view: &ViewSpec,
        days: &Days,
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let incremental = view.incremental.as_ref().expect("an incremental view");
        let plan = self.daily_plan(spec, view, days).await?;
        let schema = state_schema(plan.schema().as_arrow());
        let context = format!(
            "incremental view `{}` ({}) for {}",
            view.name,
            view.path.display(),
            describe(days)
        );
        let batches = self.collect_logical(&context, plan).await?;
        let batches = conform(&schema, batches, &context)?;
        for batch in &batches {
            if let Some(day) = stray_day(batch, days) {
                return Err(FeatureError::StrayDay {
                    view: view.name.clone(),
                    day: day.to_string(),
                    time_column: incremental.time_column.clone(),
                });
            }
        }
        Ok((schema, batches))
    }

    /// The view's plan, checked, over the rows of `days` only.
    pub(crate) async fn daily_plan(
        &self,
        spec: &JobSpec,
        view: &ViewSpec,
        days: &Days,
    ) -> Result<LogicalPlan> {
        let incremental = view.incremental.as_ref().expect("an incremental view");
        let plan = self.plan_view(view).await?;
        check_daily_plan(spec, view, &plan)?;
        restrict_to_days(plan, incremental, days).map_err(|error| FeatureError::ViewSql {
            view: view.name.clone(),
            path: view.path.clone(),
            error,
        })
    }

    /// The tables incremental view `view` reads (sources, by name).
    pub async fn tables_read(&self, spec: &JobSpec, view: &ViewSpec) -> Result<BTreeSet<String>> {
        let plan = self.plan_view(view).await?;
        check_daily_plan(spec, view, &plan)?;
        Ok(scanned_tables(&plan))
    }

    /// The distinct days (from `first` on) of `time_column` in the Parquet
    /// files `files`: the days their rows fall on.
    pub async fn days_in_files(
        &self,
        source: &str,
        time_column: &str,
        files: &[url::Url],
        first: NaiveDate,
    ) -> Result<BTreeSet<NaiveDate>> {
        if files.is_empty() {
            return Ok(BTreeSet::new());
        }
        let table = format!("__new_rows_of_{source}");
        self.register_parquet_files(&table, files).await?;
        let sql = format!(
            "SELECT DISTINCT CAST(\"{time_column}\" AS DATE) AS d FROM \"{table}\" \
             WHERE CAST(\"{time_column}\" AS DATE) >= DATE '{first}'"
        );
        let batches = self
            .query(&format!("finding the days of new rows of `{source}`"), &sql)
            .await;
        let _ = self.context().deregister_table(table.as_str());
        let mut days = BTreeSet::new();
        for batch in batches? {
            let column =
                arrow::compute::cast(batch.column(0), &DataType::Date32).expect("DATE column");
            let dates = column
                .as_any()
                .downcast_ref::<Date32Array>()
                .expect("Date32");
            days.extend(dates.iter().flatten().map(day_of));
        }
        Ok(days)
    }
}

fn describe(days: &Days) -> String {
    match days {
        Days::From(first) => format!("every day from {first}"),
        Days::Only(set) if set.len() == 1 => format!("{}", set.first().expect("one")),
        Days::Only(set) => format!(
            "{} days ({} to {})",
            set.len(),
            set.first().map(|d| d.to_string()).unwrap_or_default(),
            set.last().map(|d| d.to_string()).unwrap_or_default()
        ),
    }
}

/// A row's day outside `days`, if any.
fn stray_day(batch: &RecordBatch, days: &Days) -> Option<NaiveDate> {
    let column = batch.column_by_name(DAY_COLUMN)?;
    let dates = column.as_any().downcast_ref::<Date32Array>()?;
    dates
        .iter()
        .flatten()
        .map(day_of)
        .find(|d| !days.contains(*d))
}

/// The state table's columns: the view's, with text as plain strings (the
/// form every batch is kept in, whichever reader produced it).
pub fn state_schema(view: &Schema) -> SchemaRef {
    let fields: Vec<_> = view
        .fields()
        .iter()
        .map(|f| {
            let data_type = match f.data_type() {
                DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
                DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
                other => other.clone(),
            };
            f.as_ref()
                .clone()
                .with_data_type(data_type)
                .with_nullable(true)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// `batches` cast column by column to `schema` (by name).
pub fn conform(
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
    context: &str,
) -> Result<Vec<RecordBatch>> {
    let exec = |error: arrow::error::ArrowError| FeatureError::Execution {
        context: context.to_string(),
        error: error.into(),
    };
    batches
        .into_iter()
        .filter(|b| b.num_rows() > 0)
        .map(|batch| {
            let columns = schema
                .fields()
                .iter()
                .map(|field| {
                    let column = batch.column_by_name(field.name()).ok_or_else(|| {
                        arrow::error::ArrowError::SchemaError(format!(
                            "no column `{}` in the state's rows",
                            field.name()
                        ))
                    })?;
                    arrow::compute::cast(column, field.data_type())
                })
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(exec)?;
            RecordBatch::try_new(schema.clone(), columns).map_err(exec)
        })
        .collect()
}
