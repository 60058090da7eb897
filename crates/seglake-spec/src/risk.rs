//! The validated `[risk]` section: the label view, the booster's
//! parameters (ranges checked by seglake-ml, which owns their meaning) and
//! the risk bands.

use crate::job::ViewSpec;
use crate::raw::{RawClassWeight, RawRisk};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClassWeightSpec {
    Balanced,
    Positive(f64),
}

/// What a band's threshold is chosen to meet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BandTarget {
    /// This share of the scored customers (of each segment, with
    /// `per_segment`) is in the band or a higher one.
    AlertRate(f64),
    /// This share of the held-out positives is in the band or a higher one.
    Recall(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct BandSpec {
    pub name: String,
    pub target: BandTarget,
}

#[derive(Debug, Clone)]
pub struct RiskSpec {
    pub labels: ViewSpec,
    pub features: Option<Vec<String>>,
    pub exclude: Vec<String>,
    pub segment_feature: bool,
    pub reasons: usize,
    pub num_trees: Option<usize>,
    pub learning_rate: Option<f64>,
    pub num_leaves: Option<usize>,
    pub max_depth: Option<usize>,
    pub min_data_in_leaf: Option<usize>,
    pub min_sum_hessian: Option<f64>,
    pub lambda_l2: Option<f64>,
    pub min_split_gain: Option<f64>,
    pub max_bins: Option<usize>,
    pub row_subsample: Option<f64>,
    pub feature_subsample: Option<f64>,
    pub class_weight: Option<ClassWeightSpec>,
    pub validation_fraction: Option<f64>,
    pub early_stopping_rounds: Option<usize>,
    /// Bands from the highest risk down; customers in none get `default_band`.
    pub bands: Vec<BandSpec>,
    pub per_segment: bool,
    pub default_band: String,
}

/// Validates `raw` (the label view already read); errors are
/// `(key, message)`.
pub(crate) fn validate(
    raw: &RawRisk,
    labels: ViewSpec,
    has_segments: bool,
) -> Result<RiskSpec, (String, String)> {
    let err = |key: &str, message: String| Err((format!("risk.{key}"), message));
    let class_weight = match &raw.class_weight {
        None => None,
        Some(RawClassWeight::Text(t)) if t == "balanced" => Some(ClassWeightSpec::Balanced),
        Some(RawClassWeight::Text(t)) => {
            return err(
                "class_weight",
                format!("`{t}` is neither \"balanced\" nor a number (the weight of a positive)"),
            );
        }
        Some(RawClassWeight::Number(w)) => Some(ClassWeightSpec::Positive(*w)),
    };
    if !has_segments {
        return Err((
            "risk".into(),
            "needs a [segments] section: risk scores are published in the `segments` table".into(),
        ));
    }
    if raw.reasons == Some(0) {
        return err("reasons", "must be at least 1".into());
    }
    let bands = if raw.bands.is_empty() {
        vec![
            BandSpec {
                name: "high".into(),
                target: BandTarget::AlertRate(0.01),
            },
            BandSpec {
                name: "medium".into(),
                target: BandTarget::AlertRate(0.05),
            },
        ]
    } else {
        let mut bands: Vec<BandSpec> = Vec::new();
        for (i, b) in raw.bands.iter().enumerate() {
            let key = format!("bands[{i}]");
            let target = match (b.alert_rate, b.recall) {
                (Some(r), None) => BandTarget::AlertRate(r),
                (None, Some(r)) => BandTarget::Recall(r),
                _ => return err(&key, "give exactly one of alert_rate or recall".into()),
            };
            let (BandTarget::AlertRate(v) | BandTarget::Recall(v)) = target;
            if !(v > 0.0 && v <= 1.0) {
                return err(&key, format!("the target must be in (0, 1], got {v}"));
            }
            if b.name.is_empty() || bands.iter().any(|o| o.name == b.name) {
                return err(&key, format!("band name `{}` is empty or repeated", b.name));
            }
            if let Some(prev) = bands.last() {
                match (prev.target, target) {
                    (BandTarget::AlertRate(p), BandTarget::AlertRate(v))
                    | (BandTarget::Recall(p), BandTarget::Recall(v)) => {
                        if v <= p {
                            return err(
                                &key,
                                format!(
                                    "bands go from the highest risk down: each target must be larger than the one before ({v} <= {p})"
                                ),
                            );
                        }
                    }
                    _ => {
                        return err(&key, "all bands use alert_rate, or all use recall".into());
                    }
                }
            }
            bands.push(BandSpec {
                name: b.name.clone(),
                target,
            });
        }
        bands
    };
    let default_band = raw.default_band.clone().unwrap_or_else(|| "low".into());
    if bands.iter().any(|b| b.name == default_band) {
        return err(
            "default_band",
            format!("`{default_band}` is also the name of a band"),
        );
    }
    Ok(RiskSpec {
        labels,
        features: raw.features.clone(),
        exclude: raw.exclude.clone(),
        segment_feature: raw.segment_feature.unwrap_or(false),
        reasons: raw.reasons.unwrap_or(3),
        num_trees: raw.num_trees,
        learning_rate: raw.learning_rate,
        num_leaves: raw.num_leaves,
        max_depth: raw.max_depth,
        min_data_in_leaf: raw.min_data_in_leaf,
        min_sum_hessian: raw.min_sum_hessian,
        lambda_l2: raw.lambda_l2,
        min_split_gain: raw.min_split_gain,
        max_bins: raw.max_bins,
        row_subsample: raw.row_subsample,
        feature_subsample: raw.feature_subsample,
        class_weight,
        validation_fraction: raw.validation_fraction,
        early_stopping_rounds: raw.early_stopping_rounds,
        bands,
        per_segment: raw.per_segment.unwrap_or(false),
        default_band,
    })
}
