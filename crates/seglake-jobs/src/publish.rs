//! Stage 5, publish: every table's data files, then one commit per table
//! (`models` first: the other tables name its version), each carrying the
//! run id as its Delta transaction id.

use seglake_features::FeatureEngine;
use seglake_lake::WriteMode;
use seglake_lake::monitoring::MONITORING_TABLE;
use seglake_spec::lineage::TableCount;
use seglake_spec::{ALERTS_TABLE, CASES_TABLE, JobSpec, SCREENING_HITS_TABLE};

use crate::compute::Computed;
use crate::error::Result;
use crate::privacy::CustomerIds;
use crate::progress::{Progress, step};
use crate::publication::Publication;
use crate::run_columns::with_run_columns;
use crate::run_metrics::RunMetrics;
use crate::score::{Scored, ScoredKeys, Scoring, score};
use crate::screening::Screened;
use crate::tables::{MODELS, PROFILES, RunStamp, SEGMENTS, TableData};
use crate::train::Trained;

/// What a run needs to know to publish.
pub(crate) struct PublishContext<'a> {
    pub spec: &'a JobSpec,
    pub run_id: &'a str,
    pub as_of: chrono::DateTime<chrono::Utc>,
    pub ids: &'a CustomerIds<'a>,
    pub engine: &'a FeatureEngine,
    /// Where the rules run: the run's engine, or on a cluster one in this
    /// process.
    pub rules_engine: &'a FeatureEngine,
    /// The run's sanctions-screening hits, when the job screens.
    pub screened: Option<&'a Screened>,
    /// The incremental views' state, published with the run.
    pub states: &'a [crate::state::ViewState],
    pub progress: &'a dyn Progress,
}

/// What publishing leaves for the run's record.
#[derive(Default)]
pub(crate) struct Published {
    pub rows_out: Vec<TableCount>,
    pub metrics: Option<String>,
    /// How each incremental view's state was brought up to date.
    pub states: Vec<seglake_spec::lineage::StateRecord>,
}

/// Publishes the feature table and, when the job trained models, `models`,
/// `segments` and `segment_profiles`. Commits land in that order: `models`,
/// `segments`, `segment_profiles`, the feature table.
pub(crate) async fn publish(
    cx: &PublishContext<'_>,
    computed: &Computed,
    trained: Option<&Trained>,
    publication: &mut Publication<'_>,
    published: &mut Published,
) -> Result<()> {
    let spec = cx.spec;
    published.rows_out.push(TableCount {
        table: spec.output_table.clone(),
        rows: computed.features.rows as i64,
    });
    step(cx.progress, "writing the data files of every table");
    let with_columns =
        with_run_columns(&computed.features, cx.run_id, cx.as_of, &spec.output_table)?;
    let mut feature_data = Some(cx.ids.publishable(&spec.output_table, with_columns)?);
    if spec.rules.is_some() {
        // The rules read the feature table as computed, not its view (which
        // would compute it again).
        cx.rules_engine.register_batches(
            &spec.output_table,
            computed.features.schema.clone(),
            computed.features.batches.clone(),
        )?;
    }
    if let Some(trained) = trained {
        let scoring = Scoring::of(cx.engine);
        let _activity = seglake_memory::enter_activity("scoring every customer");
        let scored = score(
            &scoring,
            spec,
            trained,
            cx.engine,
            &mut feature_data,
            publication,
            cx.progress,
        )
        .await?;
        publish_models(
            cx,
            trained,
            scored,
            &computed.features.batches,
            publication,
            published,
        )
        .await?;
    }
    if let Some(screened) = cx.screened {
        stage_screening_hits(cx, screened, publication, published).await?;
    }
    for state in cx.states {
        publication
            .stage(
                &state.table,
                (state.schema.clone(), state.batches.clone()),
                WriteMode::Snapshot,
                None,
            )
            .await?;
        published.rows_out.push(TableCount {
            table: state.table.clone(),
            rows: state.batches.iter().map(|b| b.num_rows() as i64).sum(),
        });
        published.states.push(state.record.clone());
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
        cx.progress,
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

/// Stages `screening_hits` and adds the screening's counts to the run's
/// metrics.
async fn stage_screening_hits(
    cx: &PublishContext<'_>,
    screened: &Screened,
    publication: &mut Publication<'_>,
    published: &mut Published,
) -> Result<()> {
    let data = crate::screening::publishable(screened, cx.spec, cx.ids)?;
    publication
        .stage(SCREENING_HITS_TABLE, data, WriteMode::Snapshot, None)
        .await?;
    published.rows_out.push(TableCount {
        table: SCREENING_HITS_TABLE.into(),
        rows: screened.hits.num_rows() as i64,
    });
    add_metrics(published, "screening", &screened.metrics);
    Ok(())
}

/// Commits `models`, then stages `segments` and `segment_profiles`, which
/// name the `models` version.
async fn publish_models(
    cx: &PublishContext<'_>,
    trained: &Trained,
    scored: Scored,
    features: &[arrow::array::RecordBatch],
    publication: &mut Publication<'_>,
    published: &mut Published,
) -> Result<()> {
    let spec = cx.spec;
    let segments = &trained.segments;
    let risk_with_spec = trained.risk.as_ref().zip(spec.risk.as_ref());
    let raised = raise_alerts(cx, trained, &scored).await?;
    let models = crate::tables::models_table(segments, risk_with_spec, cx.run_id, cx.as_of)?;
    publication
        .stage(MODELS, models, WriteMode::Append, None)
        .await?;
    step(cx.progress, "committing `models`");
    publication.commit_staged().await?;
    let stamp = RunStamp {
        run_id: cx.run_id,
        model_version: publication
            .commits
            .last()
            .expect("models committed")
            .version,
        as_of: cx.as_of,
    };
    let segments_data = segments_data(cx, scored, stamp)?;
    let profiles = crate::tables::profiles_table(
        segments,
        trained.outcomes.as_ref(),
        &trained.feedback,
        stamp,
    )?;
    step(cx.progress, "monitoring: drift, outcomes analysis, limits");
    let tables = crate::monitoring::RunTables {
        features,
        segments: &segments_data.1,
        alerts: raised.as_ref().map(|r| r.alerts.1.as_slice()),
    };
    let monitored = crate::monitoring::monitor(cx, trained, &tables).await?;
    add_metrics(published, "monitoring", &monitored.summary);
    published.rows_out.push(TableCount {
        table: MONITORING_TABLE.into(),
        rows: monitored.table.1.iter().map(|b| b.num_rows() as i64).sum(),
    });
    publication
        .stage(MONITORING_TABLE, monitored.table, WriteMode::Append, None)
        .await?;
    publication
        .stage(
            SEGMENTS,
            segments_data,
            WriteMode::Snapshot,
            Some(&spec.key),
        )
        .await?;
    publication
        .stage(PROFILES, profiles, WriteMode::Snapshot, None)
        .await?;
    if let Some(raised) = raised {
        stage_rule_outputs(raised, publication, published).await?;
    }
    published.rows_out.extend([
        TableCount {
            table: SEGMENTS.into(),
            rows: segments.keys.len() as i64,
        },
        TableCount {
            table: PROFILES.into(),
            rows: segments.k() as i64,
        },
        TableCount {
            table: MODELS.into(),
            rows: 1 + trained.risk.is_some() as i64,
        },
    ]);
    let metrics = RunMetrics::of(trained).to_json();
    published.metrics = Some(match published.metrics.take() {
        Some(earlier) => merge_metrics(&metrics, &earlier),
        None => metrics,
    });
    Ok(())
}

/// With `[rules]`: the run's alerts and cases, before anything is
/// committed, so a rule that fails leaves the lake as it was. The rules see
/// this run's `segments` and `segment_profiles` with a provisional
/// `model_version` (-1): the `models` version is known only once committed.
async fn raise_alerts(
    cx: &PublishContext<'_>,
    trained: &Trained,
    scored: &Scored,
) -> Result<Option<crate::rules::Raised>> {
    let Some(rules) = &cx.spec.rules else {
        return Ok(None);
    };
    let provisional = RunStamp {
        run_id: cx.run_id,
        model_version: -1,
        as_of: cx.as_of,
    };
    // With the raw ids the sources hold (alerts are pseudonymised later).
    let keys = match &scored.keys {
        ScoredKeys::Raw(keys) | ScoredKeys::Published(keys) => keys.clone(),
    };
    let segments_now =
        crate::tables::segments_table(&cx.spec.key, keys, scored.columns.clone(), provisional)?;
    let profiles_now = crate::tables::profiles_table(
        &trained.segments,
        trained.outcomes.as_ref(),
        &trained.feedback,
        provisional,
    )?;
    let run = crate::rules::RulesRun {
        spec: cx.spec,
        rules,
        engine: cx.rules_engine,
        run_id: cx.run_id,
        as_of: cx.as_of,
        pseudonyms: cx.ids.pseudonymiser(),
    };
    step(cx.progress, "running the rules: alerts and cases");
    Ok(Some(
        crate::rules::raise(&run, &segments_now, &profiles_now).await?,
    ))
}

/// `extra`'s keys added to `base` (both JSON objects).
fn merge_metrics(base: &str, extra: &str) -> String {
    let mut base: serde_json::Value = serde_json::from_str(base).expect("metrics are JSON");
    let extra: serde_json::Value = serde_json::from_str(extra).expect("metrics are JSON");
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        base.extend(extra.clone());
    }
    base.to_string()
}

/// Adds `value` under `name` to the run's metrics.
fn add_metrics(published: &mut Published, name: &str, value: &impl serde::Serialize) {
    let extra = serde_json::json!({ name: value }).to_string();
    published.metrics = Some(match published.metrics.take() {
        Some(base) => merge_metrics(&base, &extra),
        None => extra,
    });
}

/// Stages `alerts` (this run's new ones, appended) and `cases` (every case,
/// a snapshot), and adds the rules' counts to the run's metrics.
async fn stage_rule_outputs(
    raised: crate::rules::Raised,
    publication: &mut Publication<'_>,
    published: &mut Published,
) -> Result<()> {
    let rows = |data: &crate::tables::TableData| data.1.iter().map(|b| b.num_rows() as i64).sum();
    published.rows_out.extend([
        TableCount {
            table: ALERTS_TABLE.into(),
            rows: rows(&raised.alerts),
        },
        TableCount {
            table: CASES_TABLE.into(),
            rows: rows(&raised.cases),
        },
    ]);
    publication
        .stage(ALERTS_TABLE, raised.alerts, WriteMode::Append, None)
        .await?;
    publication
        .stage(CASES_TABLE, raised.cases, WriteMode::Snapshot, None)
        .await?;
    add_metrics(published, "rules", &raised.metrics);
    Ok(())
}

/// The `segments` table, its ids as they may be published.
fn segments_data(cx: &PublishContext<'_>, scored: Scored, stamp: RunStamp) -> Result<TableData> {
    let key = &cx.spec.key;
    match scored.keys {
        ScoredKeys::Raw(keys) => cx.ids.publishable(
            SEGMENTS,
            crate::tables::segments_table(key, keys, scored.columns, stamp)?,
        ),
        ScoredKeys::Published(keys) => {
            crate::tables::segments_table(key, keys, scored.columns, stamp)
        }
    }
}
