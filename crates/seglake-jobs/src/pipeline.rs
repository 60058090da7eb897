use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, Utc};
use seglake_features::{EngineOptions, FeatureEngine, FeatureTable, RunContext, ViewMode};
use seglake_lake::{CommitInfo, PinnedInput, WriteMode, resolve_input};
use seglake_spec::lineage::{OutputRecord, RunRecord, RunStatus, SqlFileRecord, TableCount};
use seglake_spec::{JobSpec, RunId};

use crate::error::{JobError, Result};
use crate::publication::Publication;

const SEGMENTS: &str = "segments";
const PROFILES: &str = "segment_profiles";
const MODELS: &str = "models";

/// The version recorded in lineage and commit metadata.
pub const SEGLAKE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Receives the name of each step as it starts, for a progress display.
pub trait Progress: Send + Sync {
    fn step(&self, message: &str);
}

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Use this run id instead of a new one (a scheduler's id, say).
    pub run_id: Option<RunId>,
    /// How the query engine may use the machine (partitions, memory).
    pub engine: EngineOptions,
    /// Read exactly these inputs instead of pinning the sources anew
    /// (`reproduce` passes the versions and files a past run read).
    pub pinned_inputs: Option<Vec<PinnedInput>>,
    /// Post the run's OpenLineage event when the environment configures an
    /// endpoint (off for reproductions, which are not production runs).
    pub post_lineage: bool,
}

#[derive(Debug, Clone)]
pub struct RunSummary {
    pub run_id: RunId,
    pub record: RunRecord,
    /// Every table committed, `runs` last.
    pub commits: Vec<CommitInfo>,
    /// Where the OpenLineage event was posted, or why it could not be;
    /// `None` when no endpoint is configured.
    pub lineage_posted: Option<std::result::Result<String, String>>,
}

#[derive(Debug, Clone)]
pub struct ValidationReport {
    pub inputs: Vec<PinnedInput>,
    /// The feature table's columns and their types.
    pub columns: Vec<(String, String)>,
    /// The features segmentation would cluster on, when the job segments.
    pub segment_features: Option<Vec<String>>,
}

struct Prepared {
    engine: FeatureEngine,
    inputs: Vec<PinnedInput>,
}

fn step(progress: &dyn Progress, message: &str) {
    tracing::info!("{message}");
    progress.step(message);
}

/// Pins the inputs and registers sources, `run_context` and every view:
/// the checks `validate` runs, and the first half of `run`.
async fn prepare(
    spec: &JobSpec,
    run: &RunContext,
    options: &RunOptions,
    mode: ViewMode,
    progress: &dyn Progress,
) -> Result<Prepared> {
    let inputs = match &options.pinned_inputs {
        Some(pinned) => pinned.clone(),
        None => {
            step(progress, "pinning input versions");
            let mut inputs = Vec::new();
            for source in &spec.sources {
                inputs.push(resolve_input(source).await?);
            }
            inputs.extend(crate::feedback::pin(&spec.output_root).await?);
            inputs
        }
    };
    step(
        progress,
        if mode == ViewMode::Run && spec.views.iter().any(|v| v.materialize) {
            "registering sources, materialising views"
        } else {
            "registering sources and feature views"
        },
    );
    let mut engine = FeatureEngine::new(&options.engine)?;
    if mode == ViewMode::Run && options.engine.remote.is_some() {
        // Executors write and read the run's materialised views under the
        // lake, which they all see; the folder goes with the engine.
        engine.share_scratch_under(&spec.output_root.to_url(), &run.run_id)?;
    }
    engine.register_inputs(&inputs).await?;
    crate::feedback::register_empty_if_absent(&engine, &inputs)?;
    engine.register_run_context(run)?;
    engine.register_views(spec, mode).await?;
    engine.check_rules(spec).await?;
    Ok(Prepared { engine, inputs })
}

/// Checks a job without reading its data or writing anything: the spec, that
/// every source can be read, that every SQL file is a single SELECT naming
/// known tables and columns, that the key exists, and the quality rules.
pub async fn validate(spec: &JobSpec, progress: &dyn Progress) -> Result<ValidationReport> {
    let run = RunContext {
        as_of: spec.as_of.unwrap_or_else(Utc::now),
        run_id: "validate".to_string(),
        seed: spec.seed,
    };
    let prepared = prepare(
        spec,
        &run,
        &RunOptions::default(),
        ViewMode::PlanOnly,
        progress,
    )
    .await?;
    let last = &spec.views.last().expect("validated").name;
    let schema = prepared.engine.table_schema(last).await?;
    let segment_features = match &spec.segments {
        Some(segments) => {
            crate::segments::params(segments, spec.seed)?;
            Some(crate::segments::select_features(
                segments,
                &schema,
                &spec.output_table,
                &spec.key,
            )?)
        }
        None => None,
    };
    Ok(ValidationReport {
        inputs: prepared.inputs,
        columns: schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().to_string()))
            .collect(),
        segment_features,
    })
}

/// Runs the job and publishes its outputs. Nothing is written unless every
/// input check and every view succeeded.
pub async fn run(
    spec: &JobSpec,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<RunSummary> {
    let started_at = Utc::now();
    let clock = Instant::now();
    let run_id = options
        .run_id
        .clone()
        .unwrap_or_else(|| RunId::new(started_at));
    let as_of = spec.as_of.unwrap_or(started_at);
    let span = tracing::info_span!("run", run_id = %run_id, job = %spec.name);
    let _enter = span.enter();
    let context = RunContext {
        as_of,
        run_id: run_id.to_string(),
        seed: spec.seed,
    };
    // The key is read first: a job that must pseudonymise and cannot does
    // no work at all.
    let pseudonym_key = match &spec.privacy.pseudonymise {
        Some(source) => Some(seglake_spec::PseudonymKey::load(source).map_err(JobError::Privacy)?),
        None => None,
    };
    // Customer ids leave the job only through these two tables.
    let identify = |table: &str, data: (SchemaRef, Vec<RecordBatch>)| match &pseudonym_key {
        Some(key) => {
            crate::privacy::pseudonymise(data, &spec.key, key).map_err(|source| JobError::Output {
                table: table.to_string(),
                source,
            })
        }
        None => Ok(data),
    };

    let Prepared { engine, inputs } =
        prepare(spec, &context, options, ViewMode::Run, progress).await?;
    step(progress, "counting input rows");
    let rows_in = engine.count_inputs(&inputs).await?;
    step(progress, "computing the feature table");
    let features = engine.compute_features(spec).await?;
    if let Some(column) = RUN_COLUMNS
        .iter()
        .find(|c| features.schema.field_with_name(c).is_ok())
    {
        return Err(JobError::ReservedColumn {
            table: spec.output_table.clone(),
            column: column.to_string(),
        });
    }
    step(progress, "checking data quality");
    let quality = engine
        .quality_report(spec, &inputs, &rows_in, &features)
        .await?;

    // Train before the first write: a segmentation that fails leaves the
    // lake as it was.
    let trained = match &spec.segments {
        Some(segments) => {
            step(
                progress,
                &match segments.k {
                    seglake_spec::KSpec::Auto { min, max } => {
                        format!("segmenting customers (trying k = {min}..={max})")
                    }
                    seglake_spec::KSpec::Fixed(k) => format!("segmenting customers (k = {k})"),
                },
            );
            let trained = crate::segments::train(
                segments,
                spec.seed,
                &features,
                &spec.output_table,
                &spec.key,
            )?;
            let outcomes = match &segments.outcomes {
                Some(source) => Some(crate::segments::outcomes(&engine, source, &spec.key).await?),
                None => None,
            };
            let risk = match &spec.risk {
                Some(risk_spec) => {
                    let labels = crate::risk::labels(&engine, risk_spec, &spec.key).await?;
                    step(
                        progress,
                        &format!(
                            "training the risk model on {} labelled customers, explaining every score",
                            labels.len()
                        ),
                    );
                    Some(crate::risk::train(
                        risk_spec,
                        spec.seed,
                        &features,
                        &spec.output_table,
                        &spec.key,
                        &trained.keys,
                        &trained.segment_ids(),
                        &labels,
                    )?)
                }
                None => None,
            };
            let feedback = crate::feedback::per_segment(
                &crate::feedback::per_customer(&engine).await?,
                &trained.keys,
                &trained.segment_ids(),
                trained.k(),
            );
            Some((trained, outcomes, risk, feedback))
        }
        None => None,
    };

    // Publishing: data files first, then one commit per table, each
    // carrying the run id as its transaction id, then the `runs` row.
    let mut publication = Publication::new(spec, run_id.as_str(), commit_metadata(spec, &run_id));
    let mut rows_out = vec![TableCount {
        table: spec.output_table.clone(),
        rows: features.rows as i64,
    }];
    let mut metrics = None;
    let published: Result<()> = async {
        step(progress, "writing the data files of every table");
        let feature_data = identify(
            &spec.output_table,
            with_run_columns(&features, &run_id, as_of).map_err(|source| JobError::Output {
                table: spec.output_table.clone(),
                source,
            })?,
        )?;
        // On a cluster, the scoring pass reads the feature table's data
        // files: they are written first, and committed in their usual place.
        let mut feature_data = Some(feature_data);
        let mut cluster_scores = None;
        if let (Some((trained, _, risk, _)), Some(remote)) = (&trained, engine.remote()) {
            let data = feature_data.take().expect("not staged yet");
            let keys = key_column(&data, &spec.key)?;
            let files = publication
                .stage_deferred(
                    &spec.output_table,
                    data,
                    WriteMode::Snapshot,
                    Some(&spec.key),
                )
                .await?;
            step(
                progress,
                &format!("scoring every customer on {remote} (segment and risk)"),
            );
            let models = crate::cluster_scoring::ModelTexts {
                segments: trained.model_json(),
                risk: risk
                    .as_ref()
                    .zip(spec.risk.as_ref())
                    .map(|(r, s)| r.model_json(s)),
            };
            let scoring =
                crate::cluster_scoring::score_files(&engine, &files, &spec.key, &keys, models)
                    .await?;
            cluster_scores = Some((keys, scoring));
        }
        if let Some((trained, outcomes, risk, feedback)) = &trained {
            let risk_with_spec = risk.as_ref().zip(spec.risk.as_ref());
            publication
                .stage(
                    MODELS,
                    trained.models_table(run_id.as_str(), as_of, risk_with_spec)?,
                    WriteMode::Append,
                    None,
                )
                .await?;
            // `segments` and `segment_profiles` name the `models` version
            // their model is in: it is committed first, so they can.
            step(progress, "committing `models`");
            publication.commit_staged().await?;
            let model_version = publication
                .commits
                .last()
                .expect("models committed")
                .version;
            let segments = match cluster_scores.take() {
                // The keys are the published feature table's: already
                // pseudonymised when the job pseudonymises.
                Some((keys, scoring)) => crate::segments::segments_table(
                    &spec.key,
                    keys,
                    scoring,
                    run_id.as_str(),
                    model_version,
                    as_of,
                )?,
                None => identify(
                    SEGMENTS,
                    trained.segments_table(
                        &spec.key,
                        run_id.as_str(),
                        model_version,
                        as_of,
                        risk.as_ref(),
                    )?,
                )?,
            };
            publication
                .stage(SEGMENTS, segments, WriteMode::Snapshot, Some(&spec.key))
                .await?;
            publication
                .stage(
                    PROFILES,
                    trained.profiles_table(
                        outcomes.as_ref(),
                        feedback,
                        run_id.as_str(),
                        model_version,
                        as_of,
                    )?,
                    WriteMode::Snapshot,
                    None,
                )
                .await?;
            rows_out.push(TableCount {
                table: SEGMENTS.into(),
                rows: trained.keys.len() as i64,
            });
            rows_out.push(TableCount {
                table: PROFILES.into(),
                rows: trained.k() as i64,
            });
            rows_out.push(TableCount {
                table: MODELS.into(),
                rows: 1 + risk.is_some() as i64,
            });
            let mut m: serde_json::Value =
                serde_json::from_str(&trained.metrics_json()).expect("own JSON");
            if let Some(risk) = risk {
                m["risk"] = risk.metrics.clone();
            }
            m["feedback_validation"] = crate::feedback::validation_json(feedback, &trained.labels);
            metrics = Some(m.to_string());
        }
        match feature_data {
            Some(data) => {
                publication
                    .stage(
                        &spec.output_table,
                        data,
                        WriteMode::Snapshot,
                        Some(&spec.key),
                    )
                    .await?
            }
            None => publication.release_deferred(),
        }
        step(
            progress,
            &format!(
                "committing {}",
                publication
                    .staged_tables()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        publication.commit_staged().await
    }
    .await;

    let make_record = |status: RunStatus, commits: &[CommitInfo], error: Option<String>| RunRecord {
        run_id: run_id.to_string(),
        job_name: spec.name.clone(),
        status,
        spec_path: spec.path.display().to_string(),
        spec_text: spec.text.clone(),
        spec_sha256: spec.sha256.clone(),
        sql_files: spec
            .sql_views()
            .map(|v| SqlFileRecord {
                view: v.name.clone(),
                path: v.path.display().to_string(),
                sha256: v.sha256.clone(),
                text: v.sql.clone(),
            })
            .collect(),
        inputs: inputs.iter().map(PinnedInput::lineage).collect(),
        seed: spec.seed as i64,
        as_of,
        seglake_version: SEGLAKE_VERSION.to_string(),
        started_at,
        finished_at: started_at + chrono::Duration::from_std(clock.elapsed()).unwrap_or_default(),
        rows_in: rows_in.clone(),
        rows_out: rows_out.clone(),
        quality: quality.clone(),
        outputs: commits
            .iter()
            .map(|c| OutputRecord {
                table: c.table.clone(),
                version: c.version,
            })
            .collect(),
        metrics: metrics.clone(),
        openlineage: None,
        error,
    };
    if let Err(error) = published {
        let record = make_record(RunStatus::Failed, &publication.commits, Some(error.to_string()));
        publication.fail(&record).await;
        return Err(error);
    }
    let mut record = make_record(RunStatus::Succeeded, &publication.commits, None);
    let lineage_event = crate::openlineage::run_event(
        &record,
        &spec.output_root,
        &crate::openlineage::namespace_from_env(),
    );
    record.openlineage = Some(lineage_event.to_string());
    step(progress, "recording lineage in `runs`");
    if let Err(error) = publication.record(&record).await {
        let failed = make_record(RunStatus::Failed, &publication.commits, Some(error.to_string()));
        publication.fail(&failed).await;
        return Err(error);
    }
    let commits = publication.commits.clone();
    if publication.already_landed == commits.len() {
        step(
            progress,
            &format!("run {run_id} had already been published; nothing new was written"),
        );
    } else if publication.already_landed > 0 {
        step(
            progress,
            &format!(
                "completed run {run_id}: {} of its commits had landed before, {} made now",
                publication.already_landed,
                commits.len() - publication.already_landed
            ),
        );
    }
    // Posted only once the run is published: a COMPLETE event must not
    // describe versions that do not exist.
    let lineage_posted = if options.post_lineage {
        crate::openlineage::send_if_configured(&lineage_event).await
    } else {
        None
    };
    match &lineage_posted {
        Some(Ok(url)) => tracing::info!(%url, "OpenLineage event posted"),
        Some(Err(message)) => tracing::warn!(%message, "OpenLineage event not posted"),
        None => {}
    }
    Ok(RunSummary {
        run_id,
        record,
        commits,
        lineage_posted,
    })
}

/// The key column of a table about to be published, as text (the form the
/// `segments` table keys customers by).
fn key_column(data: &(SchemaRef, Vec<RecordBatch>), key: &str) -> Result<ArrayRef> {
    let output = |source| JobError::Output {
        table: key.to_string(),
        source,
    };
    let columns: Vec<ArrayRef> = data
        .1
        .iter()
        .map(|b| b.column_by_name(key).expect("the key is checked").clone())
        .collect();
    let refs: Vec<&dyn arrow::array::Array> = columns.iter().map(|c| c.as_ref()).collect();
    let all = arrow::compute::concat(&refs).map_err(output)?;
    arrow::compute::cast(&all, &DataType::Utf8).map_err(output)
}

/// What every commit of a run says about it, readable in any Delta reader's
/// history without opening the `runs` table.
fn commit_metadata(spec: &JobSpec, run_id: &RunId) -> HashMap<String, serde_json::Value> {
    HashMap::from([
        (
            seglake_lake::META_RUN_ID.to_string(),
            run_id.to_string().into(),
        ),
        (seglake_lake::META_JOB.to_string(), spec.name.clone().into()),
        (
            seglake_lake::META_VERSION.to_string(),
            SEGLAKE_VERSION.into(),
        ),
        (
            "seglake.spec_sha256".to_string(),
            spec.sha256.clone().into(),
        ),
    ])
}

/// The columns [`with_run_columns`] appends.
const RUN_COLUMNS: [&str; 2] = ["run_id", "as_of"];

/// Appends `run_id` and `as_of` to every feature row, so a BI tool reading
/// the table sees which run and which point in time each row belongs to.
fn with_run_columns(
    features: &FeatureTable,
    run_id: &RunId,
    as_of: DateTime<Utc>,
) -> Result<(SchemaRef, Vec<RecordBatch>), arrow::error::ArrowError> {
    let mut fields: Vec<Field> = features
        .schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(RUN_COLUMNS[0], DataType::Utf8, false));
    fields.push(Field::new(
        RUN_COLUMNS[1],
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        false,
    ));
    let schema = Arc::new(Schema::new(fields));
    let batches = features
        .batches
        .iter()
        .map(|b| {
            let n = b.num_rows();
            let mut columns: Vec<ArrayRef> = b.columns().to_vec();
            columns.push(Arc::new(StringArray::from(vec![run_id.as_str(); n])));
            columns.push(Arc::new(
                TimestampMicrosecondArray::from(vec![as_of.timestamp_micros(); n])
                    .with_timezone("UTC"),
            ));
            RecordBatch::try_new(schema.clone(), columns)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((schema, batches))
}
