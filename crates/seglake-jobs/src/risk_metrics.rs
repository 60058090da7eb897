//! The risk model's metrics, as `models.metrics` and `runs.metrics` record
//! them: quality on the held-out split, confusion at each band, alert rates
//! per segment, global importance, and the curves behind the held-out
//! numbers (ROC, precision-recall, reliability, score histograms by label),
//! so a report draws what the published AUC summarises.

use seglake_ml::{curves, metrics};
use seglake_model::RiskModel;
use seglake_spec::RiskSpec;
use serde_json::{Value, json};

use crate::bands::{Evaluation, members_of, segment_count};
use crate::explain::Explained;

/// `labels` are the training labels (every labelled customer's).
pub(crate) fn risk_metrics(
    spec: &RiskSpec,
    model: &RiskModel,
    evaluation: &Evaluation,
    explained: &Explained,
    bands: &[usize],
    segment_ids: &[i32],
    labels: &[bool],
) -> Value {
    let labelled = labels.len();
    let positives = labels.iter().filter(|&&v| v).count();
    let eval_y: Vec<bool> = evaluation
        .rows
        .iter()
        .map(|&i| evaluation.label(i))
        .collect();
    let eval_p: Vec<f64> = evaluation
        .rows
        .iter()
        .map(|&i| explained.scores[i])
        .collect();
    let importance = &explained.importance;
    let mut ranked: Vec<usize> = (0..importance.len()).collect();
    ranked.sort_by(|&a, &b| importance[b].total_cmp(&importance[a]).then(a.cmp(&b)));
    json!({
        "evaluated_on": if evaluation.held_out { "held-out validation split" } else { "training rows (no validation split)" },
        "evaluated_customers": evaluation.rows.len(),
        "auc_roc": metrics::roc_auc(&eval_y, &eval_p),
        "auc_pr": metrics::average_precision(&eval_y, &eval_p),
        "log_loss": metrics::log_loss(&eval_y, &eval_p),
        "labelled_customers": labelled,
        "positive_customers": positives,
        "unlabelled_customers": segment_ids.len() - labelled,
        "confusion": confusion(spec, evaluation, &eval_y, bands),
        "alert_rate_per_segment": alert_rates(spec, bands, segment_ids),
        "importance": ranked.iter().map(|&f| json!({"feature": model.features[f], "mean_abs_shap": importance[f]})).collect::<Vec<_>>(),
        "training": &model.booster.training,
        "calibration": &model.booster.calibration,
        "curves": held_out_curves(&eval_y, &eval_p),
    })
}

/// Points kept per ROC or precision-recall curve: enough to draw, small
/// enough that a million held-out customers do not bloat `runs`.
const CURVE_POINTS: usize = 201;
/// Equal-width probability bins of the reliability curve and histograms.
const RELIABILITY_BINS: usize = 10;
const HISTOGRAM_BINS: usize = 20;

fn held_out_curves(eval_y: &[bool], eval_p: &[f64]) -> Value {
    json!({
        "roc": curves::thin(&curves::roc_curve(eval_y, eval_p), CURVE_POINTS),
        "precision_recall": curves::thin(&curves::precision_recall_curve(eval_y, eval_p), CURVE_POINTS),
        "reliability": curves::reliability_curve(eval_y, eval_p, RELIABILITY_BINS),
        "score_histogram": curves::score_histogram(eval_y, eval_p, HISTOGRAM_BINS),
    })
}

/// Per band: the held-out customers alerted at that band or higher,
/// against their labels.
fn confusion(
    spec: &RiskSpec,
    evaluation: &Evaluation,
    eval_y: &[bool],
    bands: &[usize],
) -> Vec<Value> {
    spec.bands
        .iter()
        .enumerate()
        .map(|(b, band)| {
            let (mut tp, mut fp, mut tn, mut fn_) = (0, 0, 0, 0);
            for (&i, &y) in evaluation.rows.iter().zip(eval_y) {
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
        .collect()
}

/// Per segment: the share of its customers at each band or higher.
fn alert_rates(spec: &RiskSpec, bands: &[usize], segment_ids: &[i32]) -> Vec<Value> {
    (0..segment_count(segment_ids))
        .map(|s| {
            let members = members_of(segment_ids, s);
            let rates: serde_json::Map<String, Value> = spec
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
        .collect()
}
