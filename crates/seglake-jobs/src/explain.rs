//! Every customer's calibrated risk score and its reasons: the booster's
//! margins through its calibration, and the TreeSHAP contributions that
//! moved each score most.

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
    let contributions = model.contributions_matrix(values.view()).map_err(scoring)?;
    let reasons: Vec<Vec<Reason>> = contributions
        .rows()
        .into_iter()
        .enumerate()
        .map(|(i, phi)| {
            top_reasons(
                phi.as_slice().expect("standard layout"),
                values.row(i).as_slice().expect("standard layout"),
                reasons,
            )
        })
        .collect();
    let importance = Gbdt::mean_abs_contributions(&contributions);
    Ok(Explained {
        scores,
        reasons,
        importance,
    })
}
