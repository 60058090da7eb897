//! Stage 4, score: every customer's segment, distance and risk columns for
//! `segments`, on the engine the run uses.

use arrow::array::ArrayRef;
use arrow::datatypes::Field;
use seglake_features::FeatureEngine;
use seglake_lake::WriteMode;
use seglake_model::ModelTexts;
use seglake_spec::JobSpec;

use crate::error::{JobError, Result};
use crate::progress::{Progress, step};
use crate::publication::Publication;
use crate::tables::{TableData, local_scoring_columns};
use crate::train::Trained;

/// Where customers are scored.
pub(crate) enum Scoring {
    /// In this process, from the trained models in memory.
    Local,
    /// On the cluster the feature views ran on (its address), from the
    /// feature table's published data files.
    Cluster(String),
}

impl Scoring {
    pub fn of(engine: &FeatureEngine) -> Scoring {
        match engine.remote() {
            Some(remote) => Scoring::Cluster(remote.to_string()),
            None => Scoring::Local,
        }
    }
}

/// The `segments` table's key column and scoring columns, in key order.
#[derive(Clone)]
pub(crate) struct Scored {
    pub keys: ScoredKeys,
    pub columns: (Vec<Field>, Vec<ArrayRef>),
}

#[derive(Clone)]
pub(crate) enum ScoredKeys {
    /// The feature table's raw ids: pseudonymised (when the job says so)
    /// with the whole `segments` table.
    Raw(ArrayRef),
    /// The published feature table's ids: already pseudonymised.
    Published(ArrayRef),
}

/// Scores every customer. On a cluster, the feature table's data files are
/// written first (the executors read them) and `feature_data` is taken;
/// locally it is left for the publish stage to stage.
pub(crate) async fn score(
    scoring: &Scoring,
    spec: &JobSpec,
    trained: &Trained,
    engine: &FeatureEngine,
    feature_data: &mut Option<TableData>,
    publication: &mut Publication<'_>,
    progress: &dyn Progress,
) -> Result<Scored> {
    let Scoring::Cluster(remote) = scoring else {
        return Ok(Scored {
            keys: ScoredKeys::Raw(trained.segments.key_column.clone()),
            columns: local_scoring_columns(&trained.segments, trained.risk.as_ref()),
        });
    };
    let data = feature_data
        .take()
        .expect("the feature table is not staged yet");
    let keys = key_column(&data, &spec.output_table, &spec.key)?;
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
    let models = ModelTexts {
        segments: trained.segments.model().to_json(),
        risk: trained.risk.as_ref().map(|r| r.model.to_json()),
    };
    let columns =
        crate::cluster_scoring::score_files(engine, &files, &spec.key, &keys, models).await?;
    Ok(Scored {
        keys: ScoredKeys::Published(keys),
        columns,
    })
}

/// The key column of a table about to be published, in its own type (as
/// the `segments` table publishes it).
fn key_column(data: &TableData, table: &str, key: &str) -> Result<ArrayRef> {
    let output = |source| JobError::Output {
        table: table.to_string(),
        source,
    };
    let columns: Vec<ArrayRef> = data
        .1
        .iter()
        .map(|b| b.column_by_name(key).expect("the key is checked").clone())
        .collect();
    let refs: Vec<&dyn arrow::array::Array> = columns.iter().map(|c| c.as_ref()).collect();
    let keys = arrow::compute::concat(&refs).map_err(output)?;
    crate::columns::plain_text_key(keys).map_err(output)
}
