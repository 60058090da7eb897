//! Training the risk model: the booster (seglake-ml) on the labelled
//! customers, then every customer scored and explained (calibrated
//! probability, TreeSHAP reasons) and put in a band ([`crate::bands`]).

use ndarray::Array2;
use seglake_features::FeatureTable;
use seglake_ml::gbdt;
use seglake_model::{CategoryCodes, RISK_FORMAT, Reason, RiskModel, SEGMENT_FEATURE};
use seglake_spec::RiskSpec;

use crate::bands::{Evaluation, thresholds};
use crate::categorical::CategoricalData;
use crate::columns::{column_f64, model_columns};
use crate::error::{JobError, Result};
use crate::explain::explain;
use crate::progress::{Progress, step};
use crate::risk_labels::Labels;
use crate::risk_metrics::risk_metrics;

/// A trained risk model with every customer's score.
pub(crate) struct TrainedRisk {
    pub model: RiskModel,
    pub scores: Vec<f64>,
    /// Band index per customer; `model.bands.len() - 1` is the default band.
    pub bands: Vec<usize>,
    pub reasons: Vec<Vec<Reason>>,
    pub metrics: serde_json::Value,
}

/// Who a risk model is trained for: the feature table's customers, their
/// segments and their labels.
pub(crate) struct RiskInputs<'a> {
    pub features: &'a FeatureTable,
    /// The job's categorical features.
    pub categorical: &'a CategoricalData,
    /// The feature table's name, for errors.
    pub table: &'a str,
    pub key: &'a str,
    /// Every customer's key and published segment id, in table order.
    pub keys: &'a [String],
    pub segment_ids: &'a [i32],
    pub labels: &'a Labels,
}

pub(crate) fn train(
    spec: &RiskSpec,
    inputs: &RiskInputs,
    progress: &dyn Progress,
) -> Result<TrainedRisk> {
    let design = design_matrix(spec, inputs)?;
    let labelled = labelled_rows(spec, inputs)?;
    let y: Vec<bool> = labelled
        .iter()
        .map(|&i| inputs.labels[&inputs.keys[i]])
        .collect();
    let fitted = fit_booster(spec, &design, &labelled, &y)?;
    let Design {
        names,
        values,
        categorical,
    } = design;
    let booster = fitted.model;
    step(
        progress,
        &format!(
            "scoring and explaining {} customers (TreeSHAP, {} reasons each)",
            values.nrows(),
            spec.reasons
        ),
    );
    let explained = explain(&booster, &values, spec.reasons, inputs.table)?;
    // Held-out customers (indices into the feature table); all labelled
    // ones when there is no validation split.
    let held: Vec<usize> = fitted
        .validation_rows
        .iter()
        .map(|&r| labelled[r])
        .collect();
    let evaluation = Evaluation {
        held_out: !held.is_empty(),
        rows: if held.is_empty() { labelled } else { held },
        keys: inputs.keys,
        labels: inputs.labels,
    };
    let thresholds = thresholds(spec, &explained.scores, inputs.segment_ids, &evaluation);
    let bands: Vec<usize> = (0..inputs.keys.len())
        .map(|i| thresholds.band_of(inputs.segment_ids[i], explained.scores[i]))
        .collect();
    let model = RiskModel {
        bands: spec
            .bands
            .iter()
            .map(|b| b.name.clone())
            .chain(std::iter::once(spec.default_band.clone()))
            .collect(),
        booster,
        categorical,
        features: names,
        format: RISK_FORMAT.to_string(),
        per_segment: spec.per_segment,
        reasons: spec.reasons,
        segment_feature: spec.segment_feature,
        thresholds,
    };
    let metrics = risk_metrics(
        spec,
        &model,
        &evaluation,
        &explained,
        &bands,
        inputs.segment_ids,
        &y,
    );
    Ok(TrainedRisk {
        model,
        scores: explained.scores,
        bands,
        reasons: explained.reasons,
        metrics,
    })
}

/// The feature table's rows (in table order) whose customer has a label;
/// an error naming the labels view when there is none.
fn labelled_rows(spec: &RiskSpec, inputs: &RiskInputs) -> Result<Vec<usize>> {
    let labelled: Vec<usize> = (0..inputs.keys.len())
        .filter(|&i| inputs.labels.contains_key(&inputs.keys[i]))
        .collect();
    if labelled.is_empty() {
        return Err(JobError::Labels {
            view: spec.labels.name.clone(),
            message: format!(
                "none of its {} labelled customers is in the feature table `{}`: nothing to train on",
                inputs.labels.len(),
                inputs.table
            ),
        });
    }
    Ok(labelled)
}

/// The booster trained on the `labelled` rows of the design, the
/// categorical inputs split as categories.
fn fit_booster(
    spec: &RiskSpec,
    design: &Design,
    labelled: &[usize],
    y: &[bool],
) -> Result<gbdt::Fitted> {
    let x = design.values.select(ndarray::Axis(0), labelled);
    let split_as_categories: Vec<usize> = design
        .categorical
        .iter()
        .map(|c| design.names.iter().position(|n| *n == c.feature))
        .map(|at| at.expect("a design input"))
        .collect();
    // Without categorical inputs, the numeric-only path every earlier
    // model was trained by.
    match split_as_categories.is_empty() {
        true => gbdt::fit(x.view(), y, &spec.booster),
        false => gbdt::fit_with_categorical(x.view(), y, &spec.booster, &split_as_categories),
    }
    .map_err(|source| JobError::LabelTraining {
        view: spec.labels.name.clone(),
        source,
    })
}

/// The booster's inputs, one row per customer.
struct Design {
    /// The section's numeric columns, then its categorical ones, then the
    /// segment id when the model is hybrid.
    names: Vec<String>,
    values: Array2<f64>,
    /// The categorical inputs' levels: their values as category codes.
    categorical: Vec<CategoryCodes>,
}

fn design_matrix(spec: &RiskSpec, inputs: &RiskInputs) -> Result<Design> {
    let risk_error = |message| JobError::Risk {
        table: inputs.table.to_string(),
        message,
    };
    let chosen = model_columns(
        &inputs.features.schema,
        inputs.key,
        "risk",
        spec.features.as_deref(),
        &spec.exclude,
        &inputs.categorical.names,
    )
    .map_err(risk_error)?;
    let mut names = chosen.numeric;
    let mut columns: Vec<Vec<f64>> = names
        .iter()
        .map(|n| column_f64(inputs.features, inputs.table, n))
        .collect::<Result<_>>()?;
    let categorical = category_codes(inputs, &chosen.categorical)?;
    for (codes, values) in categorical
        .iter()
        .zip(inputs.categorical.views(&chosen.categorical))
    {
        names.push(codes.feature.clone());
        columns.push(codes.codes(values));
    }
    if spec.segment_feature {
        if names.iter().any(|n| n == SEGMENT_FEATURE) {
            return Err(risk_error(format!(
                "risk.segment_feature adds a `{SEGMENT_FEATURE}` input, but the feature table has one already"
            )));
        }
        names.push(SEGMENT_FEATURE.to_string());
        columns.push(inputs.segment_ids.iter().map(|&s| s as f64).collect());
    }
    let mut values = Array2::<f64>::zeros((inputs.keys.len(), names.len()));
    for (f, column) in columns.iter().enumerate() {
        for (i, &v) in column.iter().enumerate() {
            values[[i, f]] = v;
        }
    }
    Ok(Design {
        names,
        values,
        categorical,
    })
}

/// The levels of the categorical inputs `names`, fitted by seglake-ml's
/// preparation: the levels, their order and the `missing` level are those
/// k-means reads, so both models name a customer's category alike.
fn category_codes(inputs: &RiskInputs, names: &[String]) -> Result<Vec<CategoryCodes>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let values = inputs.categorical.views(names);
    let columns: Vec<seglake_ml::CategoricalColumn> = names
        .iter()
        .zip(&values)
        // The limit was checked when the columns were read.
        .map(|(n, v)| seglake_ml::CategoricalColumn::new(n, v).max_levels(usize::MAX))
        .collect();
    let fitted = seglake_ml::Preparation::fit_mixed(&[], &[], &[], &columns).map_err(|source| {
        JobError::RiskScoring {
            table: inputs.table.to_string(),
            source,
        }
    })?;
    Ok(fitted
        .categorical
        .iter()
        .map(CategoryCodes::from_stats)
        .collect())
}

impl TrainedRisk {
    /// `risk_score`, `risk_band` and `reasons` for the `segments` table.
    pub fn columns(&self) -> (Vec<arrow::datatypes::Field>, Vec<arrow::array::ArrayRef>) {
        let named: Vec<Vec<seglake_model::NamedReason>> = self
            .reasons
            .iter()
            .map(|row| row.iter().map(|r| self.model.named(r)).collect())
            .collect();
        seglake_model::risk_columns(
            self.scores.clone(),
            self.bands.iter().map(|&b| self.model.bands[b].as_str()),
            named.iter().map(Vec::as_slice),
        )
    }
}
