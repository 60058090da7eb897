//! The scoring pass on a cluster: every customer of the feature table gets
//! its segment and risk score where the feature table's files are read.
//!
//! The run's models travel inside the plan as the state of one scalar
//! function, [`ScoreUdf`] (`seglake_score`): its bytes are the models'
//! JSON, the same text the `models` table stores, and every process that
//! decodes it builds a [`Scorer`], which calls the functions the batch run
//! publishes with. So a cluster's `segments` rows are the local run's, to
//! the bit. `seglake-cluster`'s codecs carry the bytes between processes.
//!
//! Why a function and not SQL with the centres inlined: measured in
//! `benches/cluster_assign.rs` (the function is faster, and SQL would
//! redo the preparation and risk model in another arithmetic order).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch, StructArray};
use arrow::compute::{cast, concat_batches, take};
use arrow::datatypes::{DataType, Field, Fields, Float64Type, SchemaRef, UInt32Type};
use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use serde::{Deserialize, Serialize};

use crate::scoring::Scorer;

/// The name the scoring function has in SQL and in serialised plans.
pub const SCORE_FUNCTION: &str = "seglake_score";

/// The models a [`ScoreUdf`] scores with, as the `models` table stores them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModelTexts {
    pub segments: String,
    pub risk: Option<String>,
}

/// `seglake_score(input...)`: the segment and risk score of one customer,
/// as a struct of the `segments` table's scoring columns. Arguments are the
/// scorer's inputs in [`Scorer::inputs`] order, any numeric type (read as
/// the batch run reads them: cast to `DOUBLE`, NULL as missing).
pub struct ScoreUdf {
    models: ModelTexts,
    scorer: Scorer,
    signature: Signature,
    return_type: DataType,
}

impl std::fmt::Debug for ScoreUdf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScoreUdf")
            .field("inputs", &self.scorer.inputs())
            .field("risk", &self.scorer.has_risk())
            .finish()
    }
}

impl PartialEq for ScoreUdf {
    fn eq(&self, other: &Self) -> bool {
        self.models == other.models
    }
}

impl Eq for ScoreUdf {}

impl Hash for ScoreUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.models.hash(state);
    }
}

impl ScoreUdf {
    pub fn new(models: ModelTexts) -> Result<Self, crate::scoring::ModelError> {
        let scorer = Scorer::from_models(&models.segments, models.risk.as_deref())?;
        let (fields, _) = scorer.columns(&[]);
        Ok(ScoreUdf {
            models,
            scorer,
            signature: Signature::variadic_any(Volatility::Immutable),
            return_type: DataType::Struct(Fields::from(fields)),
        })
    }

    /// The function's state, for a plan sent to another process.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.models).expect("strings serialise")
    }

    /// The function back from [`ScoreUdf::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> DfResult<Self> {
        let models: ModelTexts = serde_json::from_slice(bytes).map_err(|e| {
            DataFusionError::Internal(format!("{SCORE_FUNCTION}: unreadable models: {e}"))
        })?;
        ScoreUdf::new(models)
            .map_err(|e| DataFusionError::Internal(format!("{SCORE_FUNCTION}: {e}")))
    }

    pub fn inputs(&self) -> &[String] {
        self.scorer.inputs()
    }
}

impl ScalarUDFImpl for ScoreUdf {
    fn name(&self) -> &str {
        SCORE_FUNCTION
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(self.return_type.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        if args.args.len() != self.scorer.inputs().len() {
            return Err(DataFusionError::Plan(format!(
                "{SCORE_FUNCTION} takes {} inputs ({}), got {}",
                self.scorer.inputs().len(),
                self.scorer.inputs().join(", "),
                args.args.len()
            )));
        }
        let columns: Vec<Float64Array> = args
            .args
            .iter()
            .map(|arg| {
                let array = arg.to_array(n)?;
                let array = cast(&array, &DataType::Float64)?;
                Ok(array.as_primitive::<Float64Type>().clone())
            })
            .collect::<DfResult<_>>()?;
        let rows: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                columns
                    .iter()
                    .map(|c| if c.is_null(i) { f64::NAN } else { c.value(i) })
                    .collect()
            })
            .collect();
        let scores = self
            .scorer
            .score(&rows)
            .map_err(|e| DataFusionError::Execution(format!("{SCORE_FUNCTION}: {e}")))?;
        let (fields, columns) = self.scorer.columns(&scores);
        let array = StructArray::try_new(Fields::from(fields), columns, None)?;
        Ok(ColumnarValue::Array(Arc::new(array)))
    }
}

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
    let failed = |message: String| crate::JobError::ClusterScoring { message };
    let udf = ScoreUdf::new(models).map_err(|e| failed(e.to_string()))?;
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
    ctx.deregister_table(SCORING_INPUT)
        .map_err(|e| failed(e.to_string()))?;
    let scored = match batches.first() {
        Some(first) => {
            concat_batches(&first.schema(), &batches).map_err(|e| failed(e.to_string()))?
        }
        None => RecordBatch::new_empty(SchemaRef::new(arrow::datatypes::Schema::new(
            Vec::<Field>::new(),
        ))),
    };
    order_like(scored, keys).map_err(failed)
}

const SCORING_INPUT: &str = "__seglake_scoring_input";

/// The struct column `s` of `scored`, split into its fields, in the order
/// of `keys` (the key column `k` of `scored` names each row).
fn order_like(
    scored: RecordBatch,
    keys: &ArrayRef,
) -> std::result::Result<(Vec<Field>, Vec<ArrayRef>), String> {
    let text = |a: &ArrayRef| -> std::result::Result<Vec<String>, String> {
        let a = cast(a, &DataType::Utf8).map_err(|e| e.to_string())?;
        Ok(a.as_string::<i32>()
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect())
    };
    let wanted = text(keys)?;
    if scored.num_rows() != wanted.len() {
        return Err(format!(
            "the cluster scored {} rows; the feature table has {}",
            scored.num_rows(),
            wanted.len()
        ));
    }
    let got = text(scored.column(0))?;
    let mut at: HashMap<&str, u32> = HashMap::with_capacity(got.len());
    for (i, k) in got.iter().enumerate() {
        if at.insert(k.as_str(), i as u32).is_some() {
            return Err(format!("the cluster scored customer `{k}` twice"));
        }
    }
    let indices: Vec<u32> = wanted
        .iter()
        .map(|k| {
            at.get(k.as_str())
                .copied()
                .ok_or_else(|| format!("the cluster did not score customer `{k}`"))
        })
        .collect::<std::result::Result<_, _>>()?;
    let indices = arrow::array::PrimitiveArray::<UInt32Type>::from(indices);
    let s = scored.column(1).as_struct();
    let fields: Vec<Field> = s.fields().iter().map(|f| f.as_ref().clone()).collect();
    let columns = s
        .columns()
        .iter()
        .map(|c| take(c, &indices, None).map_err(|e| e.to_string()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((fields, columns))
}
