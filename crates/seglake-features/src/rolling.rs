//! A run's incremental views kept live: their per-day state (as the run
//! published it) held in memory by customer, and a customer's features at
//! a time from that state and the rows streamed since the run.
//!
//! What `seglake serve --follow` scores a customer id with. The state holds
//! every customer-day of the source as the run read it (a Delta version);
//! the streamed rows are the source's messages that version did not hold.
//! A customer's days that streamed rows fall on are recomputed exactly as
//! an incremental run recomputes a day: the view over every row of the
//! customer on that day, the lake's (looked up in the run's version) and
//! the streamed ones; the other days are the state's. The rest of the
//! job's views then run over the customer's rows, as for a request that
//! posts raw rows ([`crate::live`]). So the result is what a run at that
//! moment computes for the customer, once the same messages are ingested.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use arrow::array::{Array, RecordBatch, StringArray};
use arrow::compute::{cast, concat_batches, sort_to_indices, take_record_batch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::{DateTime, NaiveDate, Utc};
use datafusion::common::Column;
use datafusion::logical_expr::{Expr, lit};
use seglake_spec::incremental::state_table;
use seglake_spec::lineage::RunRecord;
use seglake_spec::{SourceFormat, error_chain};

use crate::daily::{Days, on_days, scanned_tables};
use crate::error::FeatureError;
use crate::live::{LiveError, LiveFeatures, Source, request};
use crate::sources::raw_name;
use crate::{conform, first_kept_day, keep_days, state_schema};

/// One incremental view's state, by customer.
struct ViewRows {
    /// The view's index in the job's views.
    view: usize,
    schema: SchemaRef,
    by_customer: HashMap<String, RecordBatch>,
}

/// A run's incremental views' state, by customer, and the source whose
/// streamed rows update it.
pub struct RollingState {
    run_as_of: DateTime<Utc>,
    source: String,
    /// The source's columns as the views read them.
    source_schema: SchemaRef,
    views: Vec<ViewRows>,
}

impl RollingState {
    /// The source streamed rows belong to.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The columns a streamed row is decoded to: the source's, with text
    /// as plain strings (how `seglake ingest` decodes the same messages).
    pub fn row_schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .source_schema
            .fields()
            .iter()
            .map(|f| {
                let plain = match f.data_type() {
                    DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
                    other => other.clone(),
                };
                f.as_ref().clone().with_data_type(plain)
            })
            .collect();
        Arc::new(Schema::new(fields))
    }

    /// Customers with state in some view.
    pub fn customers(&self) -> usize {
        let mut all: BTreeSet<&str> = BTreeSet::new();
        for view in &self.views {
            all.extend(view.by_customer.keys().map(String::as_str));
        }
        all.len()
    }
}

fn failed(run: &RunRecord) -> impl Fn(String) -> LiveError + '_ {
    move |m| LiveError::Failed(format!("run {}: {m}", run.run_id))
}

impl LiveFeatures {
    /// The incremental views of `run`, the views of the source `source`
    /// (or the one source they read), with their state as `run` published
    /// it under `lake`. Refused, named: a job without incremental views, a
    /// source that is not a Delta table (only a Delta version says which
    /// messages the state holds), or another view that reads the source
    /// directly (its rows are not kept live).
    pub async fn rolling_state(
        &self,
        run: &RunRecord,
        lake: &seglake_spec::Location,
        source: Option<&str>,
    ) -> Result<RollingState, LiveError> {
        let failed = failed(run);
        let source = self.followed_source(source).map_err(&failed)?;
        let source_schema = self
            .sources
            .iter()
            .find_map(|s| match s {
                Source::PerCustomer(spec, schema) if spec.name == source => Some(schema.clone()),
                _ => None,
            })
            .ok_or_else(|| {
                failed(format!(
                    "source `{source}` has no `{}` column: its rows are not a customer's",
                    self.spec.key
                ))
            })?;
        let views = self.state_schemas(run).await?;
        let mut loaded = Vec::new();
        for (index, schema) in views {
            let view = &self.spec.views[index];
            let table = state_table(&view.name);
            let version = run
                .outputs
                .iter()
                .find(|o| o.table == table)
                .map(|o| o.version)
                .ok_or_else(|| failed(format!("it recorded no `{table}` version")))?;
            let location = seglake_lake::table_location(lake, &table);
            let batches = seglake_lake::read_table(&table, &location, Some(version))
                .await
                .map_err(|e| failed(error_chain(&e)))?;
            let context = format!("reading `{table}` version {version}");
            let batches =
                conform(&schema, batches, &context).map_err(|e| failed(error_chain(&e)))?;
            let by_customer = by_customer(&schema, &batches, &self.spec.key)
                .map_err(|e| failed(format!("{context}: {e}")))?;
            loaded.push(ViewRows {
                view: index,
                schema,
                by_customer,
            });
        }
        Ok(RollingState {
            run_as_of: run.as_of,
            source,
            source_schema,
            views: loaded,
        })
    }

    /// `wanted`, checked, or the one source the incremental views read.
    fn followed_source(&self, wanted: Option<&str>) -> Result<String, String> {
        let sources: BTreeSet<&str> = self
            .spec
            .views
            .iter()
            .filter_map(|v| v.incremental.as_ref().map(|i| i.source.as_str()))
            .collect();
        let source = match (wanted, sources.len()) {
            (_, 0) => {
                return Err(
                    "its job has no incremental views ([[features.incremental]]): there is no \
                     per-day state to keep live"
                        .into(),
                );
            }
            (Some(w), _) if sources.contains(w) => w.to_string(),
            (Some(w), _) => {
                return Err(format!(
                    "no incremental view reads source `{w}`; they read: {}",
                    sources.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
            (None, 1) => sources.first().expect("one").to_string(),
            (None, _) => {
                return Err(format!(
                    "its incremental views read several sources ({}): name the one the topic \
                     feeds",
                    sources.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
        };
        let spec = self.source_spec(&source).expect("validated: a source");
        if spec.format != SourceFormat::Delta {
            return Err(format!(
                "source `{source}` is {}: a followed source must be the Delta table `seglake \
                 ingest` writes the topic to (its versions say which messages the state holds)",
                spec.format.as_str()
            ));
        }
        Ok(source)
    }

    /// The state table's columns of each incremental view (by index), and
    /// the check that no other view reads their source directly.
    async fn state_schemas(&self, run: &RunRecord) -> Result<Vec<(usize, SchemaRef)>, LiveError> {
        let failed = failed(run);
        let sql = |e: FeatureError| failed(error_chain(&e));
        let engine = self.engine_for(HashMap::new(), run.as_of).await?;
        let mut schemas = Vec::new();
        for (index, view) in self.spec.views.iter().enumerate() {
            if view.incremental.is_none() {
                let plan = engine.plan_view(view).await.map_err(sql)?;
                if let Some(source) = scanned_tables(&plan).into_iter().find(|t| self.followed(t)) {
                    return Err(failed(format!(
                        "view `{}` reads source `{source}` directly: only the incremental views' \
                         state is kept live, so its rows would miss the streamed ones",
                        view.name
                    )));
                }
                engine.register_plan(view, plan).map_err(sql)?;
                continue;
            }
            let plan = engine
                .daily_plan(&self.spec, view, &Days::Only(BTreeSet::new()))
                .await
                .map_err(sql)?;
            let schema = state_schema(plan.schema().as_arrow());
            engine
                .register_batches(&view.name, schema.clone(), Vec::new())
                .map_err(sql)?;
            schemas.push((index, schema));
        }
        Ok(schemas)
    }

    fn source_spec(&self, name: &str) -> Option<&seglake_spec::SourceSpec> {
        self.spec.sources.iter().find(|s| s.name == name)
    }

    /// Whether `table` is the source of an incremental view.
    fn followed(&self, table: &str) -> bool {
        self.spec
            .views
            .iter()
            .filter_map(|v| v.incremental.as_ref())
            .any(|i| i.source == table)
    }

    /// `customer`'s features at `as_of` from `state` and `streamed` (the
    /// customer's rows of the followed source that the state's version
    /// does not hold, in the order they arrived); `None` when the feature
    /// SQL gives the customer no row.
    pub async fn features_now(
        &self,
        state: &RollingState,
        customer: &str,
        as_of: DateTime<Utc>,
        streamed: Vec<RecordBatch>,
        inputs: (&[String], &[String]),
    ) -> Result<Option<(Vec<f64>, Vec<Option<String>>)>, LiveError> {
        if as_of < state.run_as_of {
            return Err(request(
                "as_of",
                format!(
                    "before the as_of of the run whose state is kept ({}): post the customer's \
                     `raw` rows to score an earlier time",
                    state.run_as_of.to_rfc3339()
                ),
            ));
        }
        let fail = |e: FeatureError| LiveError::Failed(error_chain(&e));
        let streamed =
            conform(&state.source_schema, streamed, "the streamed rows").map_err(fail)?;
        let touched = self.touched_days(state, &streamed, as_of)?;
        let mut rows = HashMap::new();
        for (name, _) in self.per_customer_sources() {
            let batches = if name == state.source {
                let mut lake = self.rows_on_days(state, customer, &touched).await?;
                lake.extend(streamed.iter().cloned());
                lake
            } else {
                self.lake_rows(name, customer, None).await?
            };
            rows.insert(name.to_string(), batches);
        }
        let mut engine = self.engine_for(rows, as_of).await?;
        for (view_rows, days) in state.views.iter().zip(&touched) {
            let view = &self.spec.views[view_rows.view];
            let incremental = view.incremental.as_ref().expect("an incremental view");
            let first = first_kept_day(as_of, incremental);
            let held = view_rows.by_customer.get(customer).cloned();
            let mut batches = keep_days(held.into_iter().collect(), first, days)
                .map_err(|e| LiveError::Failed(e.to_string()))?;
            if !days.is_empty() {
                let (_, computed) = engine
                    .compute_days(&self.spec, view, &Days::Only(days.clone()))
                    .await
                    .map_err(fail)?;
                batches.extend(conform(&view_rows.schema, computed, &view.name).map_err(fail)?);
            }
            engine
                .register_batches(&view.name, view_rows.schema.clone(), batches)
                .map_err(fail)?;
        }
        self.customer_row(&mut engine, customer, inputs).await
    }

    /// Per incremental view (as in `state.views`), the days in its window
    /// at `as_of` that `streamed` rows fall on.
    fn touched_days(
        &self,
        state: &RollingState,
        streamed: &[RecordBatch],
        as_of: DateTime<Utc>,
    ) -> Result<Vec<BTreeSet<NaiveDate>>, LiveError> {
        state
            .views
            .iter()
            .map(|v| {
                let incremental = self.spec.views[v.view]
                    .incremental
                    .as_ref()
                    .expect("an incremental view");
                if incremental.source != state.source {
                    return Ok(BTreeSet::new());
                }
                let first = first_kept_day(as_of, incremental);
                let mut days = BTreeSet::new();
                for batch in streamed {
                    days.extend(
                        days_of(batch, &incremental.time_column)?
                            .into_iter()
                            .filter(|d| *d >= first),
                    );
                }
                Ok(days)
            })
            .collect()
    }

    /// The lake's rows of `customer` in the followed source on the days
    /// streamed rows touch (none when they touch none).
    async fn rows_on_days(
        &self,
        state: &RollingState,
        customer: &str,
        touched: &[BTreeSet<NaiveDate>],
    ) -> Result<Vec<RecordBatch>, LiveError> {
        // Per time column, the days touched: one column filters by day;
        // views over several time columns read every row of the customer.
        let mut by_column: BTreeMap<&str, BTreeSet<NaiveDate>> = BTreeMap::new();
        for (v, days) in state.views.iter().zip(touched) {
            let incremental = self.spec.views[v.view].incremental.as_ref().expect("one");
            if incremental.source == state.source {
                by_column
                    .entry(incremental.time_column.as_str())
                    .or_default()
                    .extend(days.iter().copied());
            }
        }
        if by_column.values().all(BTreeSet::is_empty) {
            return Ok(Vec::new());
        }
        let filter = match by_column.len() {
            1 => {
                let (column, days) = by_column.into_iter().next().expect("one");
                Some(on_days(column, &Days::Only(days)))
            }
            _ => None,
        };
        self.lake_rows(&state.source, customer, filter).await
    }

    /// `customer`'s rows of source `name` as the run read it (before
    /// deduplication: the views deduplicate them with the streamed rows).
    async fn lake_rows(
        &self,
        name: &str,
        customer: &str,
        filter: Option<Expr>,
    ) -> Result<Vec<RecordBatch>, LiveError> {
        let spec = self.source_spec(name).expect("a source of the run");
        let table = match spec.dedupe_on.is_empty() {
            true => name.to_string(),
            false => raw_name(name),
        };
        let fail = |e: datafusion::error::DataFusionError| {
            LiveError::Failed(format!("looking up the customer's rows of `{name}`: {e}"))
        };
        let key = Expr::Column(Column::from_name(self.spec.key.as_str()));
        let frame = self
            .lake
            .context()
            .table(table.as_str())
            .await
            .map_err(fail)?;
        let is_text = matches!(
            frame
                .schema()
                .field_with_unqualified_name(&self.spec.key)
                .map(|f| f.data_type()),
            Ok(DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
        );
        let key = match is_text {
            true => key,
            false => datafusion::logical_expr::cast(key, DataType::Utf8),
        };
        let mut frame = frame.filter(key.eq(lit(customer))).map_err(fail)?;
        if let Some(filter) = filter {
            frame = frame.filter(filter).map_err(fail)?;
        }
        frame.collect().await.map_err(fail)
    }
}

/// The days of `batch`'s timestamp column `column`.
fn days_of(batch: &RecordBatch, column: &str) -> Result<Vec<NaiveDate>, LiveError> {
    let values = batch
        .column_by_name(column)
        .ok_or_else(|| LiveError::Failed(format!("a streamed row has no `{column}` column")))?;
    let days = cast(values, &DataType::Date32).map_err(|e| LiveError::Failed(e.to_string()))?;
    let days = days
        .as_any()
        .downcast_ref::<arrow::array::Date32Array>()
        .expect("date32");
    Ok(days.iter().flatten().map(crate::daily::day_of).collect())
}

/// State rows `batches` split by customer (`key`), each customer's rows one
/// slice of one sorted batch.
fn by_customer(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    key: &str,
) -> Result<HashMap<String, RecordBatch>, arrow::error::ArrowError> {
    let all = concat_batches(schema, batches)?;
    let keys = cast(all.column(schema.index_of(key)?), &DataType::Utf8)?;
    let order = sort_to_indices(&keys, None, None)?;
    let sorted = take_record_batch(&all, &order)?;
    let keys = arrow::compute::take(&keys, &order, None)?;
    let keys = keys.as_any().downcast_ref::<StringArray>().expect("utf8");
    let mut out = HashMap::new();
    let mut start = 0;
    for i in 1..=keys.len() {
        if i == keys.len() || keys.value(i) != keys.value(start) || keys.is_null(i) {
            if keys.is_valid(start) {
                out.insert(
                    keys.value(start).to_string(),
                    sorted.slice(start, i - start),
                );
            }
            start = i;
        }
    }
    Ok(out)
}
