//! From the feature table and the label view to risk scores: reads the
//! labels, trains the booster (seglake-ml) on the labelled customers,
//! scores and explains every customer (calibrated probability, TreeSHAP
//! reasons), and sets the risk bands' thresholds, globally or per segment.

use std::collections::HashMap;

use arrow::array::{Array, ArrayRef, Float64Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field};
use ndarray::Array2;
use seglake_features::{FeatureEngine, FeatureTable};
use seglake_ml::gbdt::{self, ClassWeight};
use seglake_ml::{GbdtParams, GbdtValidParams, metrics};
use seglake_spec::{BandTarget, ClassWeightSpec, RiskSpec};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{JobError, Result};
use crate::segments::{column_f64, numeric_columns};

/// The input column that carries the segment id in a hybrid model.
pub const SEGMENT_FEATURE: &str = "segment_id";

/// Labelled customers: key -> is a risk (1) or not (0).
pub(crate) type Labels = HashMap<String, bool>;

fn risk_error(table: &str, message: String) -> JobError {
    JobError::Risk {
        table: table.to_string(),
        message,
    }
}

/// Reads the label view: one row per labelled customer, `label` 0 or 1
/// (or a boolean); a NULL label means unlabelled.
pub(crate) async fn labels(engine: &FeatureEngine, spec: &RiskSpec, key: &str) -> Result<Labels> {
    let view = &spec.labels.name;
    let sql = format!(
        "SELECT CAST(\"{key}\" AS VARCHAR) AS k, CAST(label AS DOUBLE) AS label FROM \"{view}\""
    );
    let batches = engine
        .query(
            &format!("label view `{view}` ({})", spec.labels.path.display()),
            &sql,
        )
        .await?;
    let bad = |message: String| JobError::Labels {
        view: view.clone(),
        message,
    };
    let mut out = Labels::new();
    for b in batches {
        let k = cast(b.column(0), &DataType::Utf8).map_err(|e| bad(e.to_string()))?;
        let k = k.as_any().downcast_ref::<StringArray>().expect("utf8");
        let l = b
            .column(1)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("cast to double in SQL");
        for i in 0..b.num_rows() {
            if k.is_null(i) {
                return Err(bad(format!("`{key}` is NULL in a row")));
            }
            if l.is_null(i) {
                continue;
            }
            let label = match l.value(i) {
                1.0 => true,
                0.0 => false,
                v => {
                    return Err(bad(format!(
                        "`label` must be 0 or 1 (or true / false), got {v} for {key} = {}",
                        k.value(i)
                    )));
                }
            };
            if out.insert(k.value(i).to_string(), label).is_some() {
                return Err(bad(format!(
                    "{key} = {} has more than one row; a label view has one row per customer",
                    k.value(i)
                )));
            }
        }
    }
    Ok(out)
}

/// The booster's parameters: the job's values over seglake-ml's defaults.
pub(crate) fn params(spec: &RiskSpec, seed: u64) -> Result<GbdtValidParams> {
    let d = GbdtParams::default();
    GbdtParams {
        num_trees: spec.num_trees.unwrap_or(d.num_trees),
        learning_rate: spec.learning_rate.unwrap_or(d.learning_rate),
        num_leaves: spec.num_leaves.unwrap_or(d.num_leaves),
        max_depth: spec.max_depth.or(d.max_depth),
        min_data_in_leaf: spec.min_data_in_leaf.unwrap_or(d.min_data_in_leaf),
        min_sum_hessian: spec.min_sum_hessian.unwrap_or(d.min_sum_hessian),
        lambda_l2: spec.lambda_l2.unwrap_or(d.lambda_l2),
        min_split_gain: spec.min_split_gain.unwrap_or(d.min_split_gain),
        max_bins: spec.max_bins.unwrap_or(d.max_bins),
        row_subsample: spec.row_subsample.unwrap_or(d.row_subsample),
        feature_subsample: spec.feature_subsample.unwrap_or(d.feature_subsample),
        class_weight: match spec.class_weight {
            None => d.class_weight,
            Some(ClassWeightSpec::Balanced) => ClassWeight::Balanced,
            Some(ClassWeightSpec::Positive(w)) => ClassWeight::Positive(w),
        },
        validation_fraction: spec.validation_fraction.unwrap_or(d.validation_fraction),
        early_stopping_rounds: spec
            .early_stopping_rounds
            .unwrap_or(d.early_stopping_rounds),
        seed,
        ..d
    }
    .check()
    .map_err(|e| JobError::RiskParams(e.to_string()))
}

/// One reason behind a score: the feature, its value, its contribution to
/// the log-odds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub feature: usize,
    pub value: f64,
    pub contribution: f64,
}

/// Thresholds of each band (highest risk first), for all customers and,
/// with `per_segment`, per published segment id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Thresholds {
    pub global: Vec<f64>,
    pub per_segment: Option<Vec<Vec<f64>>>,
    /// Segments whose recall thresholds fell back to the global ones (no
    /// held-out positive in the segment).
    pub global_fallback: Vec<usize>,
}

impl Thresholds {
    /// The band index of `score` for a customer in `segment`: the first
    /// band whose threshold it reaches, else the default band (one past
    /// the last).
    pub fn band_of(&self, segment: i32, score: f64) -> usize {
        let thresholds = match &self.per_segment {
            Some(p) => &p[segment as usize],
            None => &self.global,
        };
        thresholds
            .iter()
            .position(|&t| score >= t)
            .unwrap_or(thresholds.len())
    }
}

/// The `n` features that moved a score most: largest |contribution| first,
/// ties by feature order.
pub fn top_reasons(phi: &[f64], values: &[f64], n: usize) -> Vec<Reason> {
    let mut order: Vec<usize> = (0..phi.len()).collect();
    order.sort_by(|&a, &b| phi[b].abs().total_cmp(&phi[a].abs()).then(a.cmp(&b)));
    order
        .into_iter()
        .take(n)
        .map(|f| Reason {
            feature: f,
            value: values[f],
            contribution: phi[f],
        })
        .collect()
}

/// A trained risk model with every customer's score.
pub(crate) struct Risk {
    pub features: Vec<String>,
    pub model: gbdt::Gbdt,
    pub params: GbdtValidParams,
    pub scores: Vec<f64>,
    /// Band index per customer; `band_names.len() - 1` is the default band.
    pub bands: Vec<usize>,
    pub band_names: Vec<String>,
    pub thresholds: Thresholds,
    pub reasons: Vec<Vec<Reason>>,
    pub metrics: serde_json::Value,
}

/// The threshold that puts `share` of `scores` (or more, on ties) at or
/// above it.
fn top_share_threshold(mut scores: Vec<f64>, share: f64) -> f64 {
    if scores.is_empty() {
        return f64::INFINITY;
    }
    scores.sort_by(|a, b| b.total_cmp(a));
    let take = ((share * scores.len() as f64).ceil() as usize).clamp(1, scores.len());
    scores[take - 1]
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn train(
    spec: &RiskSpec,
    seed: u64,
    features: &FeatureTable,
    table: &str,
    key: &str,
    keys: &[String],
    segment_ids: &[i32],
    labels: &Labels,
) -> Result<Risk> {
    let params = params(spec, seed)?;
    let mut names = numeric_columns(
        &features.schema,
        key,
        "risk",
        spec.features.as_deref(),
        &spec.exclude,
    )
    .map_err(|m| risk_error(table, m))?;
    let mut columns: Vec<Vec<f64>> = names
        .iter()
        .map(|n| column_f64(features, table, n))
        .collect::<Result<_>>()?;
    if spec.segment_feature {
        if names.iter().any(|n| n == SEGMENT_FEATURE) {
            return Err(risk_error(
                table,
                format!(
                    "risk.segment_feature adds a `{SEGMENT_FEATURE}` input, but the feature table has one already"
                ),
            ));
        }
        names.push(SEGMENT_FEATURE.to_string());
        columns.push(segment_ids.iter().map(|&s| s as f64).collect());
    }
    let n = keys.len();
    let width = names.len();
    let mut values = Array2::<f64>::zeros((n, width));
    for (f, column) in columns.iter().enumerate() {
        for (i, &v) in column.iter().enumerate() {
            values[[i, f]] = v;
        }
    }
    drop(columns);

    // The labelled customers, in key order.
    let labelled: Vec<usize> = (0..n).filter(|&i| labels.contains_key(&keys[i])).collect();
    if labelled.is_empty() {
        return Err(JobError::Labels {
            view: spec.labels.name.clone(),
            message: format!(
                "none of its {} labelled customers is in the feature table `{table}`: nothing to train on",
                labels.len()
            ),
        });
    }
    let y: Vec<bool> = labelled.iter().map(|&i| labels[&keys[i]]).collect();
    let x = values.select(ndarray::Axis(0), &labelled);
    let fitted = gbdt::fit(x.view(), &y, &params).map_err(|e| JobError::Labels {
        view: spec.labels.name.clone(),
        message: e.to_string(),
    })?;
    drop(x);
    let model = fitted.model;
    let margins = model
        .margins(values.view())
        .map_err(|e| risk_error(table, e.to_string()))?;
    let scores: Vec<f64> = margins
        .iter()
        .map(|&m| model.probability_of_margin(m))
        .collect();
    let contributions = model
        .contributions_matrix(values.view())
        .map_err(|e| risk_error(table, e.to_string()))?;
    let reasons: Vec<Vec<Reason>> = contributions
        .rows()
        .into_iter()
        .enumerate()
        .map(|(i, phi)| {
            top_reasons(
                phi.as_slice().expect("standard layout"),
                values.row(i).as_slice().expect("standard layout"),
                spec.reasons,
            )
        })
        .collect();
    let importance = gbdt::Gbdt::mean_abs_contributions(&contributions);
    drop(contributions);

    // Held-out customers (indices into the feature table).
    let held: Vec<usize> = fitted
        .validation_rows
        .iter()
        .map(|&r| labelled[r])
        .collect();
    let evaluation: Vec<usize> = if held.is_empty() {
        labelled.clone()
    } else {
        held.clone()
    };
    let k = segment_ids
        .iter()
        .map(|&s| s as usize + 1)
        .max()
        .unwrap_or(1);
    let group_threshold = |members: &[usize], target: BandTarget| -> Option<f64> {
        match target {
            BandTarget::AlertRate(r) => Some(top_share_threshold(
                members.iter().map(|&i| scores[i]).collect(),
                r,
            )),
            BandTarget::Recall(q) => {
                let positives: Vec<f64> = evaluation
                    .iter()
                    .filter(|&&i| labels[&keys[i]] && members.binary_search(&i).is_ok())
                    .map(|&i| scores[i])
                    .collect();
                (!positives.is_empty()).then(|| top_share_threshold(positives, q))
            }
        }
    };
    let everyone: Vec<usize> = (0..n).collect();
    let global: Vec<f64> = spec
        .bands
        .iter()
        .map(|b| group_threshold(&everyone, b.target).unwrap_or(f64::INFINITY))
        .collect();
    let mut global_fallback = Vec::new();
    let per_segment = spec.per_segment.then(|| {
        (0..k)
            .map(|s| {
                let members: Vec<usize> =
                    (0..n).filter(|&i| segment_ids[i] as usize == s).collect();
                let t: Vec<Option<f64>> = spec
                    .bands
                    .iter()
                    .map(|b| group_threshold(&members, b.target))
                    .collect();
                if t.iter().any(Option::is_none) {
                    global_fallback.push(s);
                    global.clone()
                } else {
                    t.into_iter().map(|v| v.expect("checked")).collect()
                }
            })
            .collect::<Vec<Vec<f64>>>()
    });
    let thresholds = Thresholds {
        global,
        per_segment,
        global_fallback,
    };
    let bands: Vec<usize> = (0..n)
        .map(|i| thresholds.band_of(segment_ids[i], scores[i]))
        .collect();
    let band_names: Vec<String> = spec
        .bands
        .iter()
        .map(|b| b.name.clone())
        .chain(std::iter::once(spec.default_band.clone()))
        .collect();

    // Metrics on the held-out customers (all labelled ones without a split).
    let eval_y: Vec<bool> = evaluation.iter().map(|&i| labels[&keys[i]]).collect();
    let eval_p: Vec<f64> = evaluation.iter().map(|&i| scores[i]).collect();
    let confusion: Vec<serde_json::Value> = spec
        .bands
        .iter()
        .enumerate()
        .map(|(b, band)| {
            let (mut tp, mut fp, mut tn, mut fn_) = (0, 0, 0, 0);
            for (&i, &y) in evaluation.iter().zip(&eval_y) {
                match (bands[i] <= b, y) {
                    (true, true) => tp += 1,
                    (true, false) => fp += 1,
                    (false, false) => tn += 1,
                    (false, true) => fn_ += 1,
                }
            }
            json!({"band": band.name, "alerted": format!("band {} or higher", band.name),
                   "tp": tp, "fp": fp, "tn": tn, "fn": fn_})
        })
        .collect();
    let alert_rates: Vec<serde_json::Value> = (0..k)
        .map(|s| {
            let members: Vec<usize> = (0..n).filter(|&i| segment_ids[i] as usize == s).collect();
            let rates: serde_json::Map<String, serde_json::Value> = spec
                .bands
                .iter()
                .enumerate()
                .map(|(b, band)| {
                    let alerted = members.iter().filter(|&&i| bands[i] <= b).count();
                    (
                        band.name.clone(),
                        json!(alerted as f64 / members.len().max(1) as f64),
                    )
                })
                .collect();
            json!({"segment_id": s, "customers": members.len(), "alert_rate": rates})
        })
        .collect();
    let mut ranked: Vec<usize> = (0..width).collect();
    ranked.sort_by(|&a, &b| importance[b].total_cmp(&importance[a]).then(a.cmp(&b)));
    let positives = y.iter().filter(|&&v| v).count();
    let metrics = json!({
        "evaluated_on": if held.is_empty() { "training rows (no validation split)" } else { "held-out validation split" },
        "evaluated_customers": evaluation.len(),
        "auc_roc": metrics::roc_auc(&eval_y, &eval_p),
        "auc_pr": metrics::average_precision(&eval_y, &eval_p),
        "log_loss": metrics::log_loss(&eval_y, &eval_p),
        "labelled_customers": labelled.len(),
        "positive_customers": positives,
        "unlabelled_customers": n - labelled.len(),
        "confusion": confusion,
        "alert_rate_per_segment": alert_rates,
        "importance": ranked.iter().map(|&f| json!({"feature": names[f], "mean_abs_shap": importance[f]})).collect::<Vec<_>>(),
        "training": &model.training,
        "calibration": &model.calibration,
    });
    Ok(Risk {
        features: names,
        model,
        params,
        scores,
        bands,
        band_names,
        thresholds,
        reasons,
        metrics,
    })
}

impl Risk {
    /// `risk_score`, `risk_band` and `reasons` for the `segments` table.
    pub fn columns(&self) -> (Vec<Field>, Vec<ArrayRef>) {
        let named: Vec<Vec<crate::scoring::NamedReason>> = self
            .reasons
            .iter()
            .map(|row| {
                row.iter()
                    .map(|r| crate::scoring::NamedReason {
                        feature: self.features[r.feature].clone(),
                        value: (!r.value.is_nan()).then_some(r.value),
                        contribution: r.contribution,
                    })
                    .collect()
            })
            .collect();
        crate::scoring::risk_columns(
            self.scores.clone(),
            self.bands.iter().map(|&b| self.band_names[b].as_str()),
            named.iter().map(Vec::as_slice),
        )
    }

    /// The serialised model: features, booster with its bins and
    /// calibration, bands and thresholds.
    pub fn model_json(&self, spec: &RiskSpec) -> String {
        serde_json::to_string(&json!({
            "format": "seglake.risk.v1",
            "features": self.features,
            "segment_feature": spec.segment_feature,
            "booster": self.model,
            "bands": self.band_names,
            "per_segment": spec.per_segment,
            "thresholds": self.thresholds,
            "reasons": spec.reasons,
        }))
        .expect("model serialises")
    }

    pub fn params_json(&self) -> String {
        serde_json::to_string(&*self.params).expect("params serialise")
    }
}
