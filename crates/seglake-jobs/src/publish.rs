//! Stage 5, publish: every table's data files, then one commit per table
//! (`models` first: the other tables name its version), each carrying the
//! run id as its Delta transaction id.

use seglake_features::FeatureEngine;
use seglake_lake::WriteMode;
use seglake_spec::lineage::TableCount;
use seglake_spec::{JobSpec, SCREENING_HITS_TABLE};

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
    /// The run's sanctions-screening hits, when the job screens.
    pub screened: Option<&'a Screened>,
    pub progress: &'a dyn Progress,
}

/// What publishing leaves for the run's record.
#[derive(Default)]
pub(crate) struct Published {
    pub rows_out: Vec<TableCount>,
    pub metrics: Option<String>,
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
        publish_models(cx, trained, scored, publication, published).await?;
    }
    if let Some(screened) = cx.screened {
        stage_screening_hits(cx, screened, publication, published).await?;
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
    let mut metrics: serde_json::Value = match &published.metrics {
        Some(text) => serde_json::from_str(text).expect("metrics are JSON"),
        None => serde_json::json!({}),
    };
    metrics["screening"] = serde_json::to_value(&screened.metrics).expect("metrics serialise");
    published.metrics = Some(metrics.to_string());
    Ok(())
}

/// Commits `models`, then stages `segments` and `segment_profiles`, which
/// name the `models` version.
async fn publish_models(
    cx: &PublishContext<'_>,
    trained: &Trained,
    scored: Scored,
    publication: &mut Publication<'_>,
    published: &mut Published,
) -> Result<()> {
    let spec = cx.spec;
    let segments = &trained.segments;
    let risk_with_spec = trained.risk.as_ref().zip(spec.risk.as_ref());
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
    publication
        .stage(
            SEGMENTS,
            segments_data,
            WriteMode::Snapshot,
            Some(&spec.key),
        )
        .await?;
    let profiles = crate::tables::profiles_table(
        segments,
        trained.outcomes.as_ref(),
        &trained.feedback,
        stamp,
    )?;
    publication
        .stage(PROFILES, profiles, WriteMode::Snapshot, None)
        .await?;
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
    published.metrics = Some(RunMetrics::of(trained).to_json());
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
