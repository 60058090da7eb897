//! Case outcomes per customer, from the source `[segments] outcomes` names
//! (columns: the job key and `outcome`; `sar_filed` and `false_positive`
//! are counted), for the outcome rates of `segment_profiles`.

use std::collections::HashMap;

use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use seglake_features::FeatureEngine;

use crate::error::{JobError, Result};

/// One customer's cases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CaseCounts {
    pub cases: u64,
    pub sar_filed: u64,
    pub false_positives: u64,
}

/// Per customer key.
pub(crate) type Outcomes = HashMap<String, CaseCounts>;

pub(crate) async fn case_outcomes(
    engine: &FeatureEngine,
    source: &str,
    key: &str,
) -> Result<Outcomes> {
    let sql = format!(
        "SELECT CAST(\"{key}\" AS VARCHAR) AS k, COUNT(*) AS cases, \
         SUM(CASE WHEN outcome = 'sar_filed' THEN 1 ELSE 0 END) AS sar, \
         SUM(CASE WHEN outcome = 'false_positive' THEN 1 ELSE 0 END) AS fp \
         FROM \"{source}\" GROUP BY 1"
    );
    let batches = engine
        .query(&format!("case outcomes per customer from source `{source}` (needs columns `{key}` and `outcome`)"), &sql)
        .await?;
    let mut out = HashMap::new();
    for b in batches {
        add_batch(&mut out, &b, source, key)?;
    }
    Ok(out)
}

fn add_batch(out: &mut Outcomes, b: &RecordBatch, source: &str, key: &str) -> Result<()> {
    let unreadable = |column: &str| {
        let column = column.to_string();
        move |source_error| JobError::OutcomeColumn {
            source_name: source.to_string(),
            column,
            source: source_error,
        }
    };
    let k = cast(b.column(0), &DataType::Utf8).map_err(unreadable(key))?;
    let k = k.as_any().downcast_ref::<StringArray>().expect("utf8");
    let nums: Vec<ArrayRef> = (1..4)
        .map(|i| cast(b.column(i), &DataType::Int64))
        .collect::<Result<_, _>>()
        .map_err(unreadable("outcome"))?;
    let nums: Vec<&Int64Array> = nums
        .iter()
        .map(|a| a.as_any().downcast_ref::<Int64Array>().expect("i64"))
        .collect();
    for i in 0..b.num_rows() {
        if k.is_valid(i) {
            out.insert(
                k.value(i).to_string(),
                CaseCounts {
                    cases: nums[0].value(i) as u64,
                    sar_filed: nums[1].value(i) as u64,
                    false_positives: nums[2].value(i) as u64,
                },
            );
        }
    }
    Ok(())
}
