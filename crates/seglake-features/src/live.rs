//! A customer's features computed from their raw rows (recent transactions,
//! events, ...) by the run's own feature SQL: what `serve` does when a
//! request posts raw data instead of feature values.
//!
//! Each source of the run is either per customer (it has the key column):
//! its rows come from the request (none when the request gives none); or
//! reference data (a list of high-risk countries): read as the run read it,
//! from its recorded files or Delta version. The views are the run's
//! recorded SQL texts, planned over those tables with `run_context` at the
//! requested time, and the last view's row for the customer is the result.

use crate::engine::{EngineOptions, FeatureEngine, RunContext, ViewMode};
use crate::error::{FeatureError, column_list};
use arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, SchemaRef};
use chrono::{DateTime, Utc};
use seglake_lake::{PinnedInput, pin_recorded};
use seglake_spec::lineage::RunRecord;
use seglake_spec::{JobSpec, SCREENING_HITS_TABLE, SourceSpec, error_chain};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// `screening_hits` as `run` published it.
async fn published_hits(
    run: &RunRecord,
    lake: &seglake_spec::Location,
) -> Result<(SchemaRef, Vec<RecordBatch>), String> {
    let version = run
        .outputs
        .iter()
        .find(|o| o.table == SCREENING_HITS_TABLE)
        .map(|o| o.version)
        .ok_or_else(|| format!("the run recorded no `{SCREENING_HITS_TABLE}` version"))?;
    let location = seglake_lake::table_location(lake, SCREENING_HITS_TABLE);
    let batches = seglake_lake::read_table(SCREENING_HITS_TABLE, &location, Some(version))
        .await
        .map_err(|e| error_chain(&e))?;
    // The types as the reader returned them (text may come back as views).
    let schema = batches
        .first()
        .map_or_else(seglake_lake::screening_hits::schema, |b| b.schema());
    Ok((schema, batches))
}

/// Why features could not be computed from raw rows.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The request is wrong; `field` names the JSON field.
    #[error("{field}: {message}")]
    Request { field: String, message: String },
    /// The run's SQL failed on the rows (or the run cannot be read).
    #[error("{0}")]
    Failed(String),
}

pub(crate) fn request(field: impl Into<String>, message: impl Into<String>) -> LiveError {
    LiveError::Request {
        field: field.into(),
        message: message.into(),
    }
}

pub(crate) enum Source {
    /// Rows come from the request (or, for a customer scored from the
    /// lake, from the input as the run read it), with this schema.
    PerCustomer(SourceSpec, SchemaRef),
    /// As the run read it.
    Reference(PinnedInput),
}

/// A run's feature SQL, ready to run over one customer's rows.
pub struct LiveFeatures {
    pub(crate) spec: JobSpec,
    pub(crate) sources: Vec<Source>,
    /// Every input as the run read it: where a customer's own rows are
    /// looked up when a request gives only the customer.
    pub(crate) lake: FeatureEngine,
    /// The run's published `screening_hits` (its `[screening]` found them
    /// before the views ran): the views read them as the run did. A live
    /// request's names are not screened again; a counterparty first seen
    /// in a request has no hit until the next run screens it.
    screening_hits: Option<(SchemaRef, Vec<RecordBatch>)>,
}

impl LiveFeatures {
    /// Prepares `run`'s feature SQL: reads each source's schema (and which
    /// sources are reference data) from the inputs the run recorded, and
    /// the run's `screening_hits` from `lake`, where it published them.
    pub async fn from_run(
        run: &RunRecord,
        lake: &seglake_spec::Location,
    ) -> Result<LiveFeatures, LiveError> {
        let failed = |m: String| LiveError::Failed(format!("run {}: {m}", run.run_id));
        // The errors keep their causes as sources: the text takes them all.
        let spec = JobSpec::from_run_record(run).map_err(|e| failed(error_chain(&e)))?;
        let engine = FeatureEngine::new(&EngineOptions {
            target_partitions: Some(1),
            memory_limit: None,
            ..EngineOptions::default()
        })
        .map_err(|e| failed(error_chain(&e)))?;
        let mut sources = Vec::new();
        for source in &spec.sources {
            let record = run
                .inputs
                .iter()
                .find(|i| i.name == source.name)
                .ok_or_else(|| failed(format!("no recorded input `{}`", source.name)))?;
            // The table the run read, wherever `--var`s put it then (the
            // recorded job text resolves with its default variables).
            let mut source = source.clone();
            if source.format == seglake_spec::SourceFormat::Delta {
                source.location = seglake_spec::Location::parse(&record.uri, Path::new("/"))
                    .map_err(|m| failed(format!("input `{}`: {m}", source.name)))?;
            }
            let source = &source;
            let pinned = pin_recorded(source, record, None)
                .await
                .map_err(|e| failed(error_chain(&e)))?;
            engine
                .register_inputs(std::slice::from_ref(&pinned))
                .await
                .map_err(|e| failed(error_chain(&e)))?;
            let schema = engine
                .table_schema(&source.name)
                .await
                .map_err(|e| failed(error_chain(&e)))?;
            sources.push(if schema.field_with_name(&spec.key).is_ok() {
                Source::PerCustomer(source.clone(), schema)
            } else {
                Source::Reference(pinned)
            });
        }
        let screening_hits = match &spec.screening {
            None => None,
            Some(_) => Some(published_hits(run, lake).await.map_err(failed)?),
        };
        Ok(LiveFeatures {
            spec,
            sources,
            lake: engine,
            screening_hits,
        })
    }

    /// The sources a request may give rows for, with their columns.
    pub fn per_customer_sources(&self) -> Vec<(&str, &SchemaRef)> {
        self.sources
            .iter()
            .filter_map(|s| match s {
                Source::PerCustomer(spec, schema) => Some((spec.name.as_str(), schema)),
                Source::Reference(_) => None,
            })
            .collect()
    }

    /// An engine with every table the run's SQL names: `rows` (source ->
    /// the customer's rows) for per-customer sources (none for a source
    /// `rows` does not name), reference data as the run read it, the run's
    /// screening hits, an empty `feedback` and `run_context` at `as_of`.
    pub(crate) async fn engine_for(
        &self,
        mut rows: HashMap<String, Vec<RecordBatch>>,
        as_of: DateTime<Utc>,
    ) -> Result<FeatureEngine, LiveError> {
        let failed = |e: FeatureError| LiveError::Failed(error_chain(&e));
        let mut engine = FeatureEngine::new(&EngineOptions {
            target_partitions: Some(1),
            memory_limit: None,
            ..EngineOptions::default()
        })
        .map_err(failed)?;
        let mut registered = Vec::new();
        for source in &self.sources {
            match source {
                Source::Reference(pinned) => registered.push(pinned.clone()),
                Source::PerCustomer(spec, schema) => {
                    let batches = rows.remove(&spec.name).unwrap_or_default();
                    engine
                        .register_source_rows(spec, schema.clone(), batches)
                        .await
                        .map_err(failed)?;
                }
            }
        }
        engine.register_inputs(&registered).await.map_err(failed)?;
        if let Some((schema, batches)) = &self.screening_hits {
            engine
                .register_batches(SCREENING_HITS_TABLE, schema.clone(), batches.clone())
                .map_err(failed)?;
        }
        // The run's SQL may name the lake's `feedback` table; a live
        // request reads none of it.
        engine
            .register_batches(
                seglake_spec::FEEDBACK_SOURCE,
                seglake_lake::feedback::schema(),
                Vec::new(),
            )
            .map_err(failed)?;
        engine
            .register_run_context(&RunContext {
                as_of,
                run_id: "serve".into(),
                seed: self.spec.seed,
            })
            .map_err(failed)?;
        Ok(engine)
    }

    /// The feature values of `customer` at `as_of`, from `rows`: source
    /// name -> JSON rows: the numeric features `names` (NaN for NULL) and
    /// the categorical features `texts` (as text, `None` for NULL). `at`
    /// prefixes field names.
    pub async fn features(
        &self,
        customer: &str,
        rows: &serde_json::Map<String, Value>,
        as_of: DateTime<Utc>,
        (names, texts): (&[String], &[String]),
        at: &str,
    ) -> Result<(Vec<f64>, Vec<Option<String>>), LiveError> {
        let known: Vec<&str> = self
            .per_customer_sources()
            .iter()
            .map(|(n, _)| *n)
            .collect();
        if let Some(unknown) = rows.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(request(
                format!("{at}.{unknown}"),
                format!(
                    "not a per-customer source of the run; it reads: {}",
                    known.join(", ")
                ),
            ));
        }
        let mut batches = HashMap::new();
        for (name, schema) in self.per_customer_sources() {
            if let Some(value) = rows.get(name) {
                let field = format!("{at}.{name}");
                let batch = decode_rows(value, schema, &self.spec.key, customer, &field)?;
                batches.insert(name.to_string(), vec![batch]);
            }
        }
        let mut engine = self.engine_for(batches, as_of).await?;
        self.customer_row(&mut engine, customer, (names, texts))
            .await?
            .ok_or_else(|| {
                request(
                    at,
                    format!(
                        "the run's feature SQL gives no row for this customer from these rows \
                         (its last view `{}` needs rows for the customer, e.g. in `{}`)",
                        self.spec.views.last().expect("a view").name,
                        known.join("`, `")
                    ),
                )
            })
    }

    /// Runs the views (plans only: the same SQL, without the run's scratch
    /// copies) on `engine` and returns `customer`'s row of the feature
    /// table: the numeric features `names` (NaN for NULL) and the
    /// categorical features `texts`; `None` when it has no row.
    pub(crate) async fn customer_row(
        &self,
        engine: &mut FeatureEngine,
        customer: &str,
        (names, texts): (&[String], &[String]),
    ) -> Result<Option<(Vec<f64>, Vec<Option<String>>)>, LiveError> {
        let failed = |e: FeatureError| LiveError::Failed(error_chain(&e));
        engine
            .register_views(&self.spec, ViewMode::PlanOnly)
            .await
            .map_err(failed)?;
        let table = engine.compute_features(&self.spec).await.map_err(failed)?;
        for batch in &table.batches {
            let keys = cast(
                batch.column_by_name(&self.spec.key).expect("checked key"),
                &DataType::Utf8,
            )
            .map_err(|e| LiveError::Failed(e.to_string()))?;
            let keys = keys.as_any().downcast_ref::<StringArray>().expect("utf8");
            let Some(row) =
                (0..keys.len()).find(|&i| keys.is_valid(i) && keys.value(i) == customer)
            else {
                continue;
            };
            let numbers = names
                .iter()
                .map(|name| Ok(number_at(batch, row, name)?.unwrap_or(f64::NAN)))
                .collect::<Result<_, LiveError>>()?;
            let texts = texts
                .iter()
                .map(|name| text_at(batch, row, name))
                .collect::<Result<_, LiveError>>()?;
            return Ok(Some((numbers, texts)));
        }
        Ok(None)
    }
}

/// Column `name` of `batch` at `row`, cast to `to`.
fn cell(batch: &RecordBatch, row: usize, name: &str, to: &DataType) -> Result<ArrayRef, LiveError> {
    let column = batch
        .column_by_name(name)
        .ok_or_else(|| LiveError::Failed(format!("the feature SQL gives no column `{name}`")))?;
    cast(&column.slice(row, 1), to).map_err(|e| LiveError::Failed(format!("`{name}`: {e}")))
}

/// A numeric feature's value at `row`; `None` for NULL.
fn number_at(batch: &RecordBatch, row: usize, name: &str) -> Result<Option<f64>, LiveError> {
    let column = cell(batch, row, name, &DataType::Float64)?;
    let column = column.as_any().downcast_ref::<Float64Array>().expect("f64");
    Ok(column.is_valid(0).then(|| column.value(0)))
}

/// A categorical feature's value at `row`, as text; `None` for NULL.
fn text_at(batch: &RecordBatch, row: usize, name: &str) -> Result<Option<String>, LiveError> {
    let column = cell(batch, row, name, &DataType::Utf8)?;
    let column = column.as_any().downcast_ref::<StringArray>().expect("utf8");
    Ok(column.is_valid(0).then(|| column.value(0).to_string()))
}

/// A source's JSON rows as one batch of its schema; every row must belong
/// to `customer`.
fn decode_rows(
    value: &Value,
    schema: &SchemaRef,
    key: &str,
    customer: &str,
    field: &str,
) -> Result<RecordBatch, LiveError> {
    let Value::Array(items) = value else {
        return Err(request(field, "must be an array of rows (JSON objects)"));
    };
    for (i, item) in items.iter().enumerate() {
        let Value::Object(row) = item else {
            return Err(request(format!("{field}[{i}]"), "must be a JSON object"));
        };
        if let Some(unknown) = row.keys().find(|k| schema.field_with_name(k).is_err()) {
            return Err(request(
                format!("{field}[{i}].{unknown}"),
                format!(
                    "not a column of the source; its columns: {}",
                    column_list(schema)
                ),
            ));
        }
        let id = match row.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(request(format!("{field}[{i}].{key}"), "required")),
        };
        if id != customer {
            return Err(request(
                format!("{field}[{i}].{key}"),
                "every row must belong to the customer being scored",
            ));
        }
    }
    let mut decoder = arrow::json::ReaderBuilder::new(schema.clone())
        .build_decoder()
        .map_err(|e| LiveError::Failed(e.to_string()))?;
    decoder
        .serialize(items)
        .map_err(|e| request(field, e.to_string()))?;
    Ok(decoder
        .flush()
        .map_err(|e| request(field, e.to_string()))?
        .unwrap_or_else(|| RecordBatch::new_empty(schema.clone())))
}
