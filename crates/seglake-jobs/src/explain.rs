//! Every customer's calibrated risk score and its reasons: the booster's
//! margins through its calibration, and the TreeSHAP contributions that
//! moved each score most (Fast TreeSHAP, `seglake_ml::TreeExplainer`).

use ndarray::Array2;
use seglake_ml::Gbdt;
use seglake_model::{Reason, top_reasons};

use crate::error::{JobError, Result};

/// Every customer's calibrated score and top reasons, and the mean |SHAP|
/// of each input.
pub(crate) struct Explained {
    pub scores: Vec<f64>,
    pub reasons: Vec<Vec<Reason>>,
    pub importance: Vec<f64>,
}

pub(crate) fn explain(
    model: &Gbdt,
    values: &Array2<f64>,
    reasons: usize,
    table: &str,
) -> Result<Explained> {
    let scoring = |source| JobError::RiskScoring {
        table: table.to_string(),
        source,
    };
    let margins = model.margins(values.view()).map_err(scoring)?;
    let scores: Vec<f64> = margins
        .iter()
        .map(|&m| model.probability_of_margin(m))
        .collect();
    // Each row's contributions are reduced to its top reasons as they are
    // computed: the full customers x features matrix is never held.
    let (reasons, importance) = model
        .explain_rows(values.view(), |i, phi| {
            top_reasons(
                phi,
                values.row(i).as_slice().expect("standard layout"),
                reasons,
            )
        })
        .map_err(scoring)?;
    Ok(Explained {
        scores,
        reasons,
        importance,
    })
}
