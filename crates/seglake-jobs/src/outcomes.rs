//! Case outcomes per customer, from the table `[segments] outcomes` names
//! (a source or a view; columns: the job key and `outcome`), for the outcome
//! rates of `segment_profiles`. The job's `[outcomes]` vocabulary says which
//! of the table's codes are a SAR filed or a false positive; a code it does
//! not list stops the run before anything is written, naming every code
//! found, so no case goes uncounted without anyone noticing.

use std::collections::{BTreeMap, HashMap};

use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use seglake_features::FeatureEngine;
use seglake_spec::outcomes::{Outcome, OutcomeVocabulary};

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

/// Cases per customer and code, counted in SQL; the codes are mapped here,
/// where an unknown one can be reported with all the others.
pub(crate) async fn case_outcomes(
    engine: &FeatureEngine,
    table: &str,
    key: &str,
    vocabulary: &OutcomeVocabulary,
) -> Result<Outcomes> {
    let sql = format!(
        "SELECT CAST(\"{key}\" AS VARCHAR) AS k, CAST(outcome AS VARCHAR) AS code, COUNT(*) AS cases \
         FROM \"{table}\" GROUP BY 1, 2"
    );
    let batches = engine
        .query(
            &format!(
                "case outcomes per customer from `{table}` (needs columns `{key}` and `outcome`)"
            ),
            &sql,
        )
        .await?;
    let mut out = HashMap::new();
    let mut unknown = BTreeMap::new();
    for b in batches {
        add_batch(&mut out, &mut unknown, &b, table, key, vocabulary)?;
    }
    if !unknown.is_empty() {
        return Err(unknown_codes(table, &unknown, vocabulary));
    }
    Ok(out)
}

fn unknown_codes(
    table: &str,
    unknown: &BTreeMap<String, u64>,
    vocabulary: &OutcomeVocabulary,
) -> JobError {
    let found: Vec<String> = unknown
        .iter()
        .map(|(code, n)| format!("`{code}` ({n} cases)"))
        .collect();
    JobError::OutcomeCodes {
        table: table.to_string(),
        message: format!(
            "codes not in the job's outcome vocabulary: {}; the vocabulary ([outcomes]): {}",
            found.join(", "),
            vocabulary.describe()
        ),
    }
}

fn add_batch(
    out: &mut Outcomes,
    unknown: &mut BTreeMap<String, u64>,
    b: &RecordBatch,
    table: &str,
    key: &str,
    vocabulary: &OutcomeVocabulary,
) -> Result<()> {
    let unreadable = |column: &str| {
        let column = column.to_string();
        move |source_error| JobError::OutcomeColumn {
            source_name: table.to_string(),
            column,
            source: source_error,
        }
    };
    let k = cast(b.column(0), &DataType::Utf8).map_err(unreadable(key))?;
    let k = k.as_any().downcast_ref::<StringArray>().expect("utf8");
    let code = cast(b.column(1), &DataType::Utf8).map_err(unreadable("outcome"))?;
    let code = code.as_any().downcast_ref::<StringArray>().expect("utf8");
    let n: ArrayRef = cast(b.column(2), &DataType::Int64).map_err(unreadable("outcome"))?;
    let n = n.as_any().downcast_ref::<Int64Array>().expect("i64");
    for i in 0..b.num_rows() {
        if !k.is_valid(i) {
            continue;
        }
        let cases = n.value(i) as u64;
        let outcome = if code.is_valid(i) {
            vocabulary.outcome(code.value(i))
        } else {
            None
        };
        let Some(outcome) = outcome else {
            let shown = if code.is_valid(i) {
                code.value(i)
            } else {
                "NULL"
            };
            *unknown.entry(shown.to_string()).or_default() += cases;
            continue;
        };
        let counts = out
            .entry(k.value(i).to_string())
            .or_insert_with(CaseCounts::default);
        counts.cases += cases;
        match outcome {
            Outcome::SarFiled => counts.sar_filed += cases,
            Outcome::FalsePositive => counts.false_positives += cases,
            Outcome::TruePositive | Outcome::NoAction => {}
        }
    }
    Ok(())
}
