//! The scoring function a cluster's executors run: `seglake_score`.
//!
//! The run's models travel inside the plan as the state of one scalar
//! function, [`ScoreUdf`]: its bytes are the models' JSON, the same text the
//! `models` table stores, and every process that decodes it builds a
//! [`Scorer`], which calls the functions the batch run publishes with. So a
//! cluster's `segments` rows are the local run's, to the bit.
//!
//! Why a function and not SQL with the centres inlined: measured in
//! `benches/cluster_assign.rs` (the function is faster, and SQL would
//! redo the preparation and risk model in another arithmetic order).

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{Array, AsArray, Float64Array, StringArray, StructArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Fields, Float64Type};
use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::scorer::{Row, Scorer};

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
/// scorer's numeric inputs in [`Scorer::inputs`] order, any numeric type
/// (read as the batch run reads them: cast to `DOUBLE`, NULL as missing),
/// then its categorical inputs in [`Scorer::text_inputs`] order (cast to
/// text, NULL as the `missing` level).
pub struct ScoreUdf {
    models: ModelTexts,
    scorer: Scorer,
    signature: Signature,
    return_type: DataType,
}

impl std::fmt::Debug for ScoreUdf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScoreUdf")
            .field("inputs", &self.inputs())
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
    pub fn new(models: ModelTexts) -> Result<Self, ModelError> {
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
        ScoreUdf::new(models).map_err(|e| {
            DataFusionError::Internal(format!(
                "{SCORE_FUNCTION}: {}",
                seglake_spec::error_chain(&e)
            ))
        })
    }

    /// The function's arguments, in order: the numeric inputs, then the
    /// categorical ones.
    pub fn inputs(&self) -> Vec<String> {
        let numeric = self.scorer.inputs().iter();
        numeric.chain(self.scorer.text_inputs()).cloned().collect()
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
        let inputs = self.inputs();
        if args.args.len() != inputs.len() {
            return Err(DataFusionError::Plan(format!(
                "{SCORE_FUNCTION} takes {} inputs ({}), got {}",
                inputs.len(),
                inputs.join(", "),
                args.args.len()
            )));
        }
        let (numeric, text) = args.args.split_at(self.scorer.inputs().len());
        let numbers: Vec<Float64Array> = numeric
            .iter()
            .map(|arg| {
                let array = cast(&arg.to_array(n)?, &DataType::Float64)?;
                Ok(array.as_primitive::<Float64Type>().clone())
            })
            .collect::<DfResult<_>>()?;
        let texts: Vec<StringArray> = text
            .iter()
            .map(|arg| {
                let array = cast(&arg.to_array(n)?, &DataType::Utf8)?;
                Ok(array.as_string::<i32>().clone())
            })
            .collect::<DfResult<_>>()?;
        let rows: Vec<Row> = (0..n)
            .map(|i| Row {
                numbers: numbers
                    .iter()
                    .map(|c| if c.is_null(i) { f64::NAN } else { c.value(i) })
                    .collect(),
                texts: texts
                    .iter()
                    .map(|c| c.is_valid(i).then(|| c.value(i).to_string()))
                    .collect(),
            })
            .collect();
        let scores = self.scorer.score(&rows).map_err(|e| {
            DataFusionError::Execution(format!(
                "{SCORE_FUNCTION}: {}",
                seglake_spec::error_chain(&e)
            ))
        })?;
        let (fields, columns) = self.scorer.columns(&scores);
        let array = StructArray::try_new(Fields::from(fields), columns, None)?;
        Ok(ColumnarValue::Array(Arc::new(array)))
    }
}
