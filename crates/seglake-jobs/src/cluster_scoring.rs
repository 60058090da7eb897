//! The scoring pass on a cluster: every customer of the feature table gets
//! its segment and risk score where the feature table's files are read, by
//! seglake-model's [`ScoreUdf`] (`seglake_score`), which carries the run's
//! models inside the plan. So a cluster's `segments` rows are the local
//! run's, to the bit.

use std::collections::HashMap;

use arrow::array::{ArrayRef, AsArray, RecordBatch};
use arrow::compute::{cast, concat_batches, take};
use arrow::datatypes::{DataType, Field, SchemaRef, UInt32Type};
use datafusion::logical_expr::ScalarUDF;
use seglake_model::{ModelTexts, SCORE_FUNCTION, ScoreUdf};

/// The scoring columns of every customer of the feature table whose data
/// files are `files` (Parquet, readable by the cluster), in the order of
/// `keys` (the feature table's own key column, as published). Each key
/// must come back exactly once.
pub(crate) async fn score_files(
    engine: &seglake_features::FeatureEngine,
    files: &[url::Url],
    key: &str,
    keys: &ArrayRef,
    models: ModelTexts,
) -> crate::Result<(Vec<Field>, Vec<ArrayRef>)> {
    let udf = ScoreUdf::new(models).map_err(crate::JobError::ClusterModel)?;
    let inputs: Vec<String> = udf.inputs().to_vec();
    engine.register_parquet_files(SCORING_INPUT, files).await?;
    let ctx = engine.context();
    ctx.register_udf(ScalarUDF::new_from_impl(udf));
    let quoted = |c: &str| format!("\"{}\"", c.replace('"', "\"\""));
    let sql = format!(
        "SELECT {key_column} AS k, {SCORE_FUNCTION}({args}) AS s FROM {SCORING_INPUT}",
        key_column = quoted(key),
        args = inputs
            .iter()
            .map(|c| quoted(c))
            .collect::<Vec<_>>()
            .join(", "),
    );
    let batches = engine
        .query(
            "the scoring pass (segment and risk of every customer)",
            &sql,
        )
        .await?;
    // The registration is the engine's: a failure to drop it leaves a
    // name nothing reads again.
    let _ = ctx.deregister_table(SCORING_INPUT);
    let scored = match batches.first() {
        Some(first) => concat_batches(&first.schema(), &batches).map_err(result_error)?,
        None => RecordBatch::new_empty(SchemaRef::new(arrow::datatypes::Schema::new(
            Vec::<Field>::new(),
        ))),
    };
    order_like(scored, keys)
}

fn result_error(source: arrow::error::ArrowError) -> crate::JobError {
    crate::JobError::ClusterResult { source }
}

fn mismatch(message: String) -> crate::JobError {
    crate::JobError::ClusterScoring { message }
}

const SCORING_INPUT: &str = "__seglake_scoring_input";

/// The struct column `s` of `scored`, split into its fields, in the order
/// of `keys` (the key column `k` of `scored` names each row).
fn order_like(scored: RecordBatch, keys: &ArrayRef) -> crate::Result<(Vec<Field>, Vec<ArrayRef>)> {
    let text = |a: &ArrayRef| -> crate::Result<Vec<String>> {
        let a = cast(a, &DataType::Utf8).map_err(result_error)?;
        Ok(a.as_string::<i32>()
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect())
    };
    let wanted = text(keys)?;
    if scored.num_rows() != wanted.len() {
        return Err(mismatch(format!(
            "the cluster scored {} rows; the feature table has {}",
            scored.num_rows(),
            wanted.len()
        )));
    }
    let got = text(scored.column(0))?;
    let mut at: HashMap<&str, u32> = HashMap::with_capacity(got.len());
    for (i, k) in got.iter().enumerate() {
        if at.insert(k.as_str(), i as u32).is_some() {
            return Err(mismatch(format!("the cluster scored customer `{k}` twice")));
        }
    }
    let indices: Vec<u32> = wanted
        .iter()
        .map(|k| {
            at.get(k.as_str())
                .copied()
                .ok_or_else(|| mismatch(format!("the cluster did not score customer `{k}`")))
        })
        .collect::<crate::Result<_>>()?;
    let indices = arrow::array::PrimitiveArray::<UInt32Type>::from(indices);
    let s = scored.column(1).as_struct();
    let fields: Vec<Field> = s.fields().iter().map(|f| f.as_ref().clone()).collect();
    let columns = s
        .columns()
        .iter()
        .map(|c| take(c, &indices, None).map_err(result_error))
        .collect::<crate::Result<Vec<_>>>()?;
    Ok((fields, columns))
}
