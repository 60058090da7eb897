//! Stage 2, compute: the feature table, the input row counts and the
//! data-quality report.

use seglake_features::FeatureTable;
use seglake_spec::JobSpec;
use seglake_spec::lineage::{QualityRecord, TableCount};

use crate::error::{JobError, Result};
use crate::prepare::Prepared;
use crate::progress::{Progress, step};
use crate::run_columns::RUN_COLUMNS;

pub(crate) struct Computed {
    pub features: FeatureTable,
    pub rows_in: Vec<TableCount>,
    pub quality: QualityRecord,
}

pub(crate) async fn compute(
    spec: &JobSpec,
    prepared: &Prepared,
    progress: &dyn Progress,
) -> Result<Computed> {
    let Prepared { engine, inputs, .. } = prepared;
    step(progress, "counting input rows");
    let rows_in = engine.count_inputs(inputs).await?;
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
        .quality_report(spec, inputs, &rows_in, &features)
        .await?;
    Ok(Computed {
        features,
        rows_in,
        quality,
    })
}
