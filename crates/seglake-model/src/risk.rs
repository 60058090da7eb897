//! The risk model as stored in `models.model`: the booster (with its bins
//! and calibration), the bands and their thresholds, and the reasons each
//! score carries.

use seglake_ml::Gbdt;
use serde::{Deserialize, Serialize};

use crate::categories::CategoryCodes;
use crate::error::{ModelError, ModelKind, Result};
use crate::segments::check_format;

/// The format version written into every risk model.
pub const RISK_FORMAT: &str = "seglake.risk.v1";

/// The input that carries the segment id when a risk model is hybrid
/// (`[risk] segment_feature = true`): always its last input.
pub const SEGMENT_FEATURE: &str = "segment_id";

/// A trained risk model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskModel {
    /// Band names from the highest risk down, then the default band.
    pub bands: Vec<String>,
    pub booster: Gbdt,
    /// The categorical inputs (text columns read as category codes) and
    /// their levels. Left out of the JSON when there are none, so a model
    /// without them is stored as before they existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categorical: Vec<CategoryCodes>,
    /// The booster's inputs, in order (`segment_id` last when hybrid).
    pub features: Vec<String>,
    pub format: String,
    /// Whether `thresholds` has one set per segment.
    #[serde(default)]
    pub per_segment: bool,
    /// How many reasons (largest TreeSHAP contributions) a score carries.
    #[serde(default = "default_reasons")]
    pub reasons: usize,
    pub segment_feature: bool,
    pub thresholds: Thresholds,
}

fn default_reasons() -> usize {
    3
}

impl RiskModel {
    /// The text stored in `models.model`. Keys are written in sorted order
    /// at every level (through a JSON value), as every `seglake.risk.v1`
    /// model has been: the stored bytes do not depend on field order.
    pub fn to_json(&self) -> String {
        let value = serde_json::to_value(self).expect("a risk model serialises");
        value.to_string()
    }

    /// Reads a stored model, refusing another format version and parts
    /// that do not fit together.
    pub fn from_json(text: &str) -> Result<RiskModel> {
        let kind = ModelKind::Risk;
        check_format(text, kind, RISK_FORMAT)?;
        let model: RiskModel =
            serde_json::from_str(text).map_err(|source| ModelError::Unreadable { kind, source })?;
        if model.booster.features() != model.features.len()
            || model.bands.len() != model.thresholds.global.len() + 1
        {
            return Err(ModelError::Inconsistent {
                kind,
                detail: "features or bands".into(),
            });
        }
        model.check_categorical()?;
        Ok(model)
    }

    /// Refuses category codes for an input the booster does not split as
    /// categories (or that it does not have).
    fn check_categorical(&self) -> Result<()> {
        let split_as_categories = self.booster.categorical_features();
        for codes in &self.categorical {
            let input = self.features.iter().position(|f| *f == codes.feature);
            if !input.is_some_and(|i| split_as_categories.contains(&i)) {
                return Err(ModelError::Inconsistent {
                    kind: ModelKind::Risk,
                    detail: format!("category codes for `{}`", codes.feature),
                });
            }
        }
        Ok(())
    }

    /// The category codes of input `input`, when it is categorical.
    pub fn codes_of(&self, input: usize) -> Option<&CategoryCodes> {
        let name = &self.features[input];
        self.categorical.iter().find(|c| c.feature == *name)
    }

    /// The input index of the segment id, when the model reads one.
    pub fn segment_input(&self) -> Option<usize> {
        let last = self.features.len().checked_sub(1)?;
        (self.segment_feature && self.features[last] == SEGMENT_FEATURE).then_some(last)
    }

    /// Score, band and reasons of one row of inputs (in `features` order),
    /// for a customer in `segment`.
    pub fn explain(&self, x: &[f64], segment: i32) -> (f64, usize, Vec<Reason>) {
        let score = self.booster.probability_of_margin(self.booster.margin(x));
        let phi = self.booster.contributions(x);
        let band = self.thresholds.band_of(segment, score);
        (score, band, top_reasons(&phi, x, self.reasons))
    }

    /// A reason with its feature's name; a categorical input's reason
    /// names its level (`kyc_risk_rating = high`) and has no value.
    pub fn named(&self, reason: &Reason) -> NamedReason {
        match self.codes_of(reason.feature) {
            Some(codes) => NamedReason {
                feature: format!("{} = {}", codes.feature, codes.level_name(reason.value)),
                value: None,
                contribution: reason.contribution,
            },
            None => reason.named(&self.features),
        }
    }
}

/// Thresholds of each band (highest risk first), for all customers and,
/// with `per_segment`, per published segment id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// One reason behind a score: the input's index, its value, its
/// contribution to the log-odds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub feature: usize,
    pub value: f64,
    pub contribution: f64,
}

impl Reason {
    /// This reason with its input's name from `features`.
    pub fn named(&self, features: &[String]) -> NamedReason {
        NamedReason {
            feature: features[self.feature].clone(),
            value: (!self.value.is_nan()).then_some(self.value),
            contribution: self.contribution,
        }
    }
}

/// A reason with its feature's name; `value` is `None` for a missing value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedReason {
    pub feature: String,
    pub value: Option<f64>,
    pub contribution: f64,
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
