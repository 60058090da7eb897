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
use crate::sources::source_of;

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

pub(crate) fn day_of(epoch_days: i32) -> NaiveDate {
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
    check_daily_columns(&spec.key, plan.schema().as_arrow()).map_err(refuse)
}

/// The names of the tables and views `plan` reads, sub-queries included.
/// Views (and deduplicated sources, which are views over their raw rows)
/// are inlined by the planner as an alias of their own plan, so aliases
/// count too; a deduplicated source's raw (and repeated) rows count as the
/// source.
pub(crate) fn scanned_tables(plan: &LogicalPlan) -> BTreeSet<String> {
    let mut scanned = BTreeSet::new();
    plan.apply_with_subqueries(|node| {
        let name = match node {
            LogicalPlan::TableScan(scan) => scan.table_name.table(),
            LogicalPlan::SubqueryAlias(alias) => alias.alias.table(),
            _ => return Ok(TreeNodeRecursion::Continue),
        };
        scanned.insert(source_of(name).to_string());
        Ok(TreeNodeRecursion::Continue)
    })
    .expect("the visitor never fails");
    scanned
}

/// The key, a `DATE` day, and only types the state table stores as they are.
fn check_daily_columns(key: &str, schema: &Schema) -> std::result::Result<(), String> {
    if schema.field_with_name(key).is_err() {
        return Err(format!("it returns no key column `{key}`"));
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

/// Rows of a table whose `time_column` falls on `days` (the filter a
/// lookup of a customer's rows on those days runs with).
pub(crate) fn on_days(time_column: &str, days: &Days) -> Expr {
    let time = Expr::Column(Column::from_name(time_column));
    day_predicate(cast(time, DataType::Date32), days)
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
    /// An incremental view: its state when the run registered it already
    /// (as computed from the state table and the new days), otherwise a
    /// plan over every day the state keeps at `as_of` (what a full
    /// computation of the state gives).
    pub(crate) async fn register_incremental(
        &mut self,
        spec: &JobSpec,
        view: &ViewSpec,
    ) -> Result<()> {
        let registered = self
            .context()
            .table_exist(view.name.as_str())
            .map_err(|error| FeatureError::ViewSql {
                view: view.name.clone(),
                path: view.path.clone(),
                error,
            })?;
        if registered {
            return Ok(());
        }
        let as_of = self
            .as_of()
            .expect("run_context is registered before the views");
        let incremental = view.incremental.as_ref().expect("an incremental view");
        let days = Days::From(first_kept_day(as_of, incremental));
        let plan = self.daily_plan(spec, view, &days).await?;
        self.check_order_dependence(spec, view, &plan)?;
        self.register_plan(view, plan)
    }

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

fn day_column(batch: &RecordBatch) -> &Date32Array {
    batch
        .column_by_name(DAY_COLUMN)
        .and_then(|c| c.as_any().downcast_ref::<Date32Array>())
        .expect("checked: an incremental view's `day` is a DATE")
}

/// The days state rows `batches` hold.
pub fn distinct_days(batches: &[RecordBatch]) -> BTreeSet<NaiveDate> {
    batches
        .iter()
        .filter(|b| b.num_rows() > 0)
        .flat_map(|b| {
            day_column(b)
                .iter()
                .flatten()
                .map(day_of)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The state rows of `batches` on days from `first` on that are not
/// `recomputed`: what a state keeps of an older one.
pub fn keep_days(
    batches: Vec<RecordBatch>,
    first: NaiveDate,
    recomputed: &BTreeSet<NaiveDate>,
) -> std::result::Result<Vec<RecordBatch>, arrow::error::ArrowError> {
    batches
        .into_iter()
        .map(|batch| {
            let keep: arrow::array::BooleanArray = day_column(&batch)
                .iter()
                .map(|d| {
                    Some(d.is_some_and(|d| {
                        let day = day_of(d);
                        day >= first && !recomputed.contains(&day)
                    }))
                })
                .collect();
            arrow::compute::filter_record_batch(&batch, &keep)
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::Field;
    use arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;

    const DAY_US: i64 = 86_400_000_000;
    /// 2025-01-01T00:00:00Z in microseconds.
    const JAN_1: i64 = 1_735_689_600_000_000;

    /// Rows of two customers over four days, the second day twice (a
    /// replayed row), as `tx__raw`; `tx` is it without the replays.
    async fn context() -> SessionContext {
        let schema = Arc::new(Schema::new(vec![
            Field::new("customer_id", DataType::Utf8, false),
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("amount", DataType::Int64, false),
        ]));
        let at = |day: i64, hour: i64| JAN_1 + day * DAY_US + hour * 3_600_000_000;
        let rows = [
            ("a", at(0, 1), 5),
            ("a", at(1, 23), 7),
            ("a", at(1, 23), 7),
            ("b", at(1, 0), 11),
            ("b", at(2, 12), 13),
            ("a", at(3, 6), 17),
        ];
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(
                    TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.1))
                        .with_timezone("UTC"),
                ),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
            ],
        )
        .unwrap();
        let ctx = SessionContext::new();
        let table = MemTable::try_new(schema, vec![vec![batch]]).unwrap();
        ctx.register_table("tx__raw", Arc::new(table)).unwrap();
        let deduplicated = ctx.sql("SELECT DISTINCT * FROM tx__raw").await.unwrap();
        ctx.register_table("tx", deduplicated.into_view()).unwrap();
        ctx
    }

    const VIEW: &str = "SELECT customer_id, CAST(ts AS DATE) AS day, COUNT(*) AS n, \
                        SUM(amount) AS total FROM tx t GROUP BY customer_id, CAST(ts AS DATE) \
                        ORDER BY day, customer_id";

    async fn rows(ctx: &SessionContext, days: Option<&Days>) -> String {
        let plan = ctx.state().create_logical_plan(VIEW).await.unwrap();
        let incremental = IncrementalSpec {
            source: "tx".into(),
            time_column: "ts".into(),
            keep_days: 30,
        };
        let plan = match days {
            Some(days) => restrict_to_days(plan, &incremental, days).unwrap(),
            None => plan,
        };
        let batches = ctx
            .execute_logical_plan(plan)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        pretty_format_batches(&batches).unwrap().to_string()
    }

    fn day(offset: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() + chrono::Duration::days(offset)
    }

    /// The table's lines for `days` (its header and the rows on them).
    fn lines_on(table: &str, days: &[NaiveDate]) -> Vec<String> {
        table
            .lines()
            .filter(|l| !l.contains("| 2025-") || days.iter().any(|d| l.contains(&d.to_string())))
            .map(String::from)
            .collect()
    }

    #[tokio::test]
    async fn some_days_are_those_days_rows_of_every_day() {
        let ctx = context().await;
        let every = rows(&ctx, None).await;
        assert!(
            every.contains("| a           | 2025-01-02 | 1 | 7     |"),
            "{every}"
        );
        for chosen in [vec![day(1)], vec![day(0), day(3)], vec![day(2)]] {
            let set = Days::Only(chosen.iter().copied().collect());
            let some = rows(&ctx, Some(&set)).await;
            assert_eq!(
                some.lines().collect::<Vec<_>>(),
                lines_on(&every, &chosen),
                "{chosen:?}"
            );
        }
        let from = rows(&ctx, Some(&Days::From(day(2)))).await;
        assert_eq!(
            from.lines().collect::<Vec<_>>(),
            lines_on(&every, &[day(2), day(3)])
        );
        let none = rows(&ctx, Some(&Days::Only(BTreeSet::new()))).await;
        assert!(!none.contains("| 2025-"), "no day was asked for: {none}");
    }

    #[tokio::test]
    async fn a_deduplicated_source_is_read_as_the_source() {
        let ctx = context().await;
        let plan = ctx.state().create_logical_plan(VIEW).await.unwrap();
        let read = scanned_tables(&plan);
        assert!(read.contains("tx"), "{read:?}");
    }

    #[test]
    fn the_state_keeps_a_date_day_and_microsecond_timestamps() {
        let schema = |fields: Vec<Field>| Schema::new(fields);
        let key = Field::new("customer_id", DataType::Utf8View, false);
        let check = |s: &Schema| check_daily_columns("customer_id", s);
        let good = schema(vec![key.clone(), Field::new("day", DataType::Date32, true)]);
        assert_eq!(check(&good), Ok(()));
        assert_eq!(
            state_schema(&good).field(0).data_type(),
            &DataType::Utf8,
            "text is kept as plain strings"
        );
        let no_day = schema(vec![key.clone()]);
        assert!(check(&no_day).unwrap_err().contains("no `day` column"));
        let text_day = schema(vec![key.clone(), Field::new("day", DataType::Utf8, true)]);
        assert!(check(&text_day).unwrap_err().contains("not DATE"));
        let nanos = schema(vec![
            key,
            Field::new("day", DataType::Date32, true),
            Field::new(
                "first",
                DataType::Timestamp(TimeUnit::Nanosecond, None),
                true,
            ),
        ]);
        assert!(check(&nanos).unwrap_err().contains("`first`"));
    }
}
