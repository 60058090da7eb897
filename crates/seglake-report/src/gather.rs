//! Everything a report shows, read from the tables the run published, at
//! the versions its `runs` row records (following erasures): nothing here
//! recomputes a number the run already published.

use std::collections::BTreeMap;

use arrow::compute::take_record_batch;
use seglake_audit::{Lake, rows_as_json};
use seglake_spec::lineage::{RunRecord, RunStatus};
use seglake_spec::{MODELS_TABLE, PROFILES_TABLE, RESERVED_TABLES, SEGMENTS_TABLE};
use serde_json::Value;

use crate::columns::Table;
use crate::error::{ReportError, Result};
use crate::projection::{SampledProjection, project};

/// A row of a table as column name -> value.
pub type Row = BTreeMap<String, Value>;

/// How many of the highest-scored customers the report lists with reasons.
pub const TOP_CUSTOMERS: usize = 10;

/// One run, as the report draws it.
pub struct RunData {
    /// `seglake reproduce ...` for this run of this lake.
    pub reproduce_command: String,
    pub run: RunRecord,
    /// `runs.metrics`: the segmentation's and the risk model's metrics.
    pub metrics: Value,
    pub segmentation: Option<Segmentation>,
    pub risk: Option<Risk>,
    /// The job's successful runs up to and including this one, oldest first.
    pub history: Vec<RunPoint>,
}

pub struct Segmentation {
    /// `segment_profiles` at the run's version, by segment id.
    pub profiles: Vec<Row>,
    /// The clustered features, whose z-scores the profiles carry.
    pub features: Vec<String>,
    pub projection: Option<SampledProjection>,
}

pub struct Risk {
    /// `runs.metrics.risk`: held-out quality, curves, confusion, importance.
    pub metrics: Value,
    /// The highest-scored customers of `segments`, with their reasons.
    pub top_customers: Vec<Row>,
}

/// One earlier (or this) run of the job, for the trend chart.
pub struct RunPoint {
    pub run_id: String,
    /// To the second, in UTC.
    pub finished_at: String,
    pub metrics: Value,
}

/// Reads everything the report of `run_id` shows.
pub async fn gather(lake: &Lake, run_id: &str) -> Result<RunData> {
    let run = lake.run(run_id).await?;
    let metrics = parse_metrics(&run)?;
    // Read once: the projection and the top customers both need it.
    let segments = match has_output(&run, SEGMENTS_TABLE) {
        true => Some(read(lake, &run, SEGMENTS_TABLE).await?),
        false => None,
    };
    let segmentation = match has_output(&run, PROFILES_TABLE) {
        true => Some(read_segmentation(lake, &run, segments.as_ref()).await?),
        false => None,
    };
    let risk = match (metrics.get("risk"), &segments) {
        (Some(risk), Some(segments)) => Some(Risk {
            metrics: risk.clone(),
            top_customers: top_customers(segments)?,
        }),
        _ => None,
    };
    let history = history(lake, &run).await?;
    Ok(RunData {
        reproduce_command: seglake_audit::reproduce_command(&run.run_id, &lake.root),
        run,
        metrics,
        segmentation,
        risk,
        history,
    })
}

fn parse_metrics(run: &RunRecord) -> Result<Value> {
    match &run.metrics {
        None => Ok(Value::Null),
        Some(text) => serde_json::from_str(text).map_err(|source| ReportError::Metrics {
            run_id: run.run_id.clone(),
            source,
        }),
    }
}

fn has_output(run: &RunRecord, table: &str) -> bool {
    run.outputs.iter().any(|o| o.table == table)
}

/// `table` as the run published it.
async fn read(lake: &Lake, run: &RunRecord, table: &str) -> Result<Table> {
    let (_, version) = lake.version_of(run, table).await?;
    let batches = lake.read(table, Some(version)).await?;
    Table::new(table, version, &batches)
}

async fn read_segmentation(
    lake: &Lake,
    run: &RunRecord,
    segments: Option<&Table>,
) -> Result<Segmentation> {
    let profiles = read(lake, run, PROFILES_TABLE).await?;
    let mut rows = rows_as_json(std::slice::from_ref(&profiles.batch))?;
    rows.sort_by_key(|r| r.get("segment_id").and_then(Value::as_i64));
    let model = segments_model(lake, run).await?;
    let projection = match (feature_table(run), segments) {
        (Some(features), Some(segments)) => {
            let features = read(lake, run, features).await?;
            project(run, &model, &features, segments)?
        }
        _ => None,
    };
    Ok(Segmentation {
        profiles: rows,
        features: model.features.clone(),
        projection,
    })
}

/// The run's segmentation model, from `models`.
async fn segments_model(lake: &Lake, run: &RunRecord) -> Result<seglake_model::SegmentModel> {
    let models = read(lake, run, MODELS_TABLE).await?;
    let run_ids = models.strings("run_id")?;
    let kinds = models.strings("kind")?;
    let texts = models.strings("model")?;
    let segments_kind = seglake_model::ModelKind::Segments.as_str();
    let text = (0..models.rows())
        .find(|&i| {
            run_ids[i].as_deref() == Some(&run.run_id) && kinds[i].as_deref() == Some(segments_kind)
        })
        .and_then(|i| texts[i].clone())
        .ok_or_else(|| {
            models.problem(format!("no `{segments_kind}` model of run {}", run.run_id))
        })?;
    seglake_model::SegmentModel::from_json(&text).map_err(|source| ReportError::Model {
        run_id: run.run_id.clone(),
        source,
    })
}

/// The job's feature table: the one table the run published that is not
/// one of seglake's own.
fn feature_table(run: &RunRecord) -> Option<&str> {
    run.outputs
        .iter()
        .map(|o| o.table.as_str())
        .find(|t| !RESERVED_TABLES.contains(t))
}

/// The [`TOP_CUSTOMERS`] highest risk scores (ties by customer id), whole
/// rows with their reasons.
fn top_customers(segments: &Table) -> Result<Vec<Row>> {
    if !segments.has("risk_score") {
        return Ok(Vec::new());
    }
    let scores = segments.f64s("risk_score")?;
    let ids = segments.strings("customer_id")?;
    let mut order: Vec<usize> = (0..scores.len()).filter(|&i| !scores[i].is_nan()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(ids[a].cmp(&ids[b])));
    order.truncate(TOP_CUSTOMERS);
    let indices = arrow::array::UInt32Array::from_iter_values(order.iter().map(|&i| i as u32));
    let top =
        take_record_batch(&segments.batch, &indices).map_err(|source| ReportError::Arrow {
            table: segments.name.clone(),
            source,
        })?;
    Ok(rows_as_json(&[top])?)
}

/// The job's successful runs that finished no later than `run`.
async fn history(lake: &Lake, run: &RunRecord) -> Result<Vec<RunPoint>> {
    Ok(lake
        .runs()
        .await?
        .into_iter()
        .filter(|r| {
            r.job_name == run.job_name
                && r.status == RunStatus::Succeeded
                && r.finished_at <= run.finished_at
        })
        .map(|r| RunPoint {
            finished_at: r.finished_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            metrics: parse_metrics(&r).unwrap_or(Value::Null),
            run_id: r.run_id,
        })
        .collect())
}
