//! A job run as typed stages:
//!
//! ```text
//! prepare -> compute -> train -> score -> publish -> record
//! ```
//!
//! [`validate`] runs the first stage only ([`crate::prepare`], planning the
//! SQL without reading data). [`run`] runs them all; everything that can be
//! wrong with the input is found before the first write, and a failure
//! while publishing takes one path ([`fail`]): staged files removed, a
//! `failed` row in `runs`. Each stage runs under the memory budget
//! ([`seglake_memory::guard`]): one that goes past it is cancelled and the
//! run fails the same way, naming the stage.

use std::time::Instant;

use chrono::Utc;
use seglake_features::{EngineOptions, RunContext, ViewMode};
use seglake_lake::{CommitInfo, PinnedInput};
use seglake_spec::lineage::{RunRecord, RunStatus};
use seglake_spec::{JobSpec, RunId};

use crate::compute::{Computed, compute};
use crate::error::Result;
use crate::prepare::prepare;
use crate::privacy::CustomerIds;
use crate::progress::{Progress, step};
use crate::publication::Publication;
use crate::publish::{PublishContext, Published, publish};
use crate::record::{RunIdentity, commit_metadata, run_record};
use crate::train::train;

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
    /// Compute incremental views' state from every day of their sources
    /// instead of from the last run's state (which is then not read).
    pub full_refresh: bool,
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
    /// The features segmentation would cluster on, when the job segments
    /// (numeric, then categorical).
    pub segment_features: Option<Vec<String>>,
    /// The text columns no model reads, and how to use them (`None` when
    /// every text column is a declared categorical feature).
    pub text_columns_left_out: Option<String>,
    /// What in the views may depend on row order or time (warnings; with
    /// `strict_determinism` they are errors and validation fails).
    pub order_dependences: Vec<seglake_features::ViewOrderDependence>,
}

/// Checks a job without reading its data or writing anything: the spec
/// (every model parameter was checked when it was loaded), that every
/// source can be read, that every SQL file is a single SELECT naming known
/// tables and columns, that the key exists, and the quality rules.
pub async fn validate(spec: &JobSpec, progress: &dyn Progress) -> Result<ValidationReport> {
    let run = RunContext {
        as_of: spec.as_of.unwrap_or_else(Utc::now),
        run_id: "validate".to_string(),
        seed: spec.seed,
    };
    let options = RunOptions::default();
    let prepared = prepare(spec, &run, &options, ViewMode::PlanOnly, progress).await?;
    let last = &spec.views.last().expect("validated").name;
    let schema = prepared.engine.table_schema(last).await?;
    let categorical =
        crate::categorical::declared(&spec.categorical, &schema, &spec.output_table, &spec.key)?;
    let segment_features = match &spec.segments {
        Some(segments) => {
            let chosen = crate::segmentation::select_features(
                segments,
                &schema,
                &spec.output_table,
                &spec.key,
                &categorical,
            )?;
            Some([chosen.numeric, chosen.categorical].concat())
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
        text_columns_left_out: crate::categorical::left_out(&schema, &spec.key, &categorical),
        order_dependences: prepared.engine.order_dependences().to_vec(),
    })
}

/// An engine with the job's sources (at `inputs`, or pinned anew), the
/// `run_context` of (`run_id`, `as_of`) and every view registered as a
/// plan: what a backtest replays a past run's rules on.
pub async fn planning_engine(
    spec: &JobSpec,
    run_id: &str,
    as_of: chrono::DateTime<Utc>,
    inputs: Option<Vec<PinnedInput>>,
    progress: &dyn Progress,
) -> Result<seglake_features::FeatureEngine> {
    let run = RunContext {
        as_of,
        run_id: run_id.to_string(),
        seed: spec.seed,
    };
    let options = RunOptions {
        pinned_inputs: inputs,
        ..RunOptions::default()
    };
    let prepared = prepare(spec, &run, &options, ViewMode::PlanOnly, progress).await?;
    Ok(prepared.engine)
}

/// Runs the job and publishes its outputs. Nothing is written unless every
/// input check, every view and every model succeeded; a run that fails
/// removes the snapshots it took of its PostgreSQL sources.
pub async fn run(
    spec: &JobSpec,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<RunSummary> {
    let started_at = Utc::now();
    let run_id = options
        .run_id
        .clone()
        .unwrap_or_else(|| RunId::new(started_at));
    let result = run_as(spec, options, progress, run_id.clone(), started_at).await;
    let snapshotted = options.pinned_inputs.is_none()
        && spec
            .sources
            .iter()
            .any(|s| s.format == seglake_spec::SourceFormat::Postgres);
    if result.is_err() && snapshotted {
        crate::snapshots::discard(&spec.output_root, run_id.as_str()).await;
    }
    result
}

/// [`run`] under the id `run_id`.
async fn run_as(
    spec: &JobSpec,
    options: &RunOptions,
    progress: &dyn Progress,
    run_id: RunId,
    started_at: chrono::DateTime<Utc>,
) -> Result<RunSummary> {
    let identity = RunIdentity {
        spec,
        run_id: run_id.as_str(),
        as_of: spec.as_of.unwrap_or(started_at),
        started_at,
        clock: Instant::now(),
    };
    let span = tracing::info_span!("run", run_id = %run_id, job = %spec.name);
    let _enter = span.enter();
    let ids = CustomerIds::for_job(spec)?;
    let context = RunContext {
        as_of: identity.as_of,
        run_id: run_id.to_string(),
        seed: spec.seed,
    };
    let prepared = stage(
        "prepare",
        prepare(spec, &context, options, ViewMode::Run, progress),
    )
    .await?;
    let computed = stage("compute", compute(spec, &prepared, progress)).await?;
    let rules_engine = stage(
        "prepare",
        local_rules_engine(spec, &context, options, &prepared, progress),
    )
    .await?;
    let trained = stage(
        "train",
        train(spec, &prepared.engine, &computed.features, progress),
    )
    .await?;

    let mut publication = Publication::new(
        spec,
        run_id.as_str(),
        commit_metadata(spec, run_id.as_str()),
    );
    let mut published = Published::default();
    let cx = PublishContext {
        spec,
        run_id: run_id.as_str(),
        as_of: identity.as_of,
        ids: &ids,
        engine: &prepared.engine,
        rules_engine: rules_engine.as_ref().unwrap_or(&prepared.engine),
        screened: prepared.screened.as_ref(),
        states: &prepared.states,
        progress,
    };
    let outcome = stage(
        "publish",
        publish(
            &cx,
            &computed,
            trained.as_ref(),
            &mut publication,
            &mut published,
        ),
    )
    .await;
    let finished = Finished {
        identity: &identity,
        inputs: &prepared.inputs,
        computed: &computed,
        published: &published,
    };
    if let Err(error) = outcome {
        return Err(fail(&finished, publication, error).await);
    }
    let record = finished.record(RunStatus::Succeeded, &publication.commits, None);
    let (record, lineage_event) = with_lineage_event(record, spec);
    step(progress, "recording lineage in `runs`");
    if let Err(error) = publication.record(&record).await {
        return Err(fail(&finished, publication, error).await);
    }
    report_earlier_attempts(&publication, &run_id, progress);
    // Posted only once the run is published: a COMPLETE event must not
    // describe versions that do not exist.
    let lineage_posted = post_lineage(options, &lineage_event).await;
    Ok(RunSummary {
        run_id,
        record,
        commits: publication.commits.clone(),
        lineage_posted,
    })
}

/// On a cluster, the rules run on the driver, in process: their plans (a
/// rule joins the run's in-memory tables with the sources) are not shipped
/// to executors. Sources are read at the run's pinned versions and views
/// are planned, not materialised; `screening_hits` holds the run's hits.
async fn local_rules_engine(
    spec: &JobSpec,
    context: &RunContext,
    options: &RunOptions,
    prepared: &crate::prepare::Prepared,
    progress: &dyn Progress,
) -> Result<Option<seglake_features::FeatureEngine>> {
    if spec.rules.is_none() || options.engine.remote.is_none() {
        return Ok(None);
    }
    let local = RunOptions {
        pinned_inputs: Some(prepared.inputs.clone()),
        engine: EngineOptions {
            remote: None,
            ..options.engine.clone()
        },
        ..options.clone()
    };
    let rules = prepare(spec, context, &local, ViewMode::PlanOnly, progress).await?;
    if let Some(screened) = &prepared.screened {
        rules.engine.register_batches(
            seglake_spec::SCREENING_HITS_TABLE,
            screened.hits.schema(),
            vec![screened.hits.clone()],
        )?;
    }
    Ok(Some(rules.engine))
}

/// Runs one stage under the memory budget (`--memory-limit` plus its
/// margin): past it the stage is cancelled, what it held is freed, and the
/// run fails naming the stage and what in it was running.
async fn stage<T>(name: &str, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    let _activity = seglake_memory::enter_activity(&format!("stage `{name}`"));
    seglake_memory::guard(work).await?
}

/// Everything a run's record is made of once publishing has ended.
struct Finished<'a> {
    identity: &'a RunIdentity<'a>,
    inputs: &'a [PinnedInput],
    computed: &'a Computed,
    published: &'a Published,
}

impl Finished<'_> {
    fn record(
        &self,
        status: RunStatus,
        commits: &[CommitInfo],
        error: Option<&crate::JobError>,
    ) -> RunRecord {
        run_record(
            self.identity,
            status,
            self.inputs,
            self.computed,
            self.published,
            commits,
            error,
        )
    }
}

/// The one failure path of a run that has started publishing: the files
/// staged and not committed are removed, and a `failed` row (with the
/// versions that had landed) goes to `runs`. Returns `error`.
async fn fail(
    finished: &Finished<'_>,
    publication: Publication<'_>,
    error: crate::JobError,
) -> crate::JobError {
    if error.is_invalid_input() && publication.commits.is_empty() {
        // Bad input found before the first commit (a rule's SQL, say):
        // nothing is written, not even a `failed` row.
        publication.fail_silently().await;
        return error;
    }
    let record = finished.record(RunStatus::Failed, &publication.commits, Some(&error));
    publication.fail(&record).await;
    error
}

/// The record with its OpenLineage run event, and the event.
fn with_lineage_event(mut record: RunRecord, spec: &JobSpec) -> (RunRecord, serde_json::Value) {
    let event = crate::openlineage::run_event(
        &record,
        &spec.output_root,
        &crate::openlineage::namespace_from_env(),
    );
    record.openlineage = Some(event.to_string());
    (record, event)
}

/// Says so when an earlier attempt of the same run id had committed some
/// (or all) of its tables.
fn report_earlier_attempts(publication: &Publication<'_>, run_id: &RunId, progress: &dyn Progress) {
    let commits = publication.commits.len();
    let landed = publication.already_landed;
    if landed == commits {
        step(
            progress,
            &format!("run {run_id} had already been published; nothing new was written"),
        );
    } else if landed > 0 {
        step(
            progress,
            &format!(
                "completed run {run_id}: {landed} of its commits had landed before, {} made now",
                commits - landed
            ),
        );
    }
}

async fn post_lineage(
    options: &RunOptions,
    event: &serde_json::Value,
) -> Option<std::result::Result<String, String>> {
    if !options.post_lineage {
        return None;
    }
    let posted = crate::openlineage::send_if_configured(event).await;
    match &posted {
        Some(Ok(url)) => tracing::info!(%url, "OpenLineage event posted"),
        Some(Err(message)) => tracing::warn!(%message, "OpenLineage event not posted"),
        None => {}
    }
    posted
}
