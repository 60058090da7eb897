//! Scoring customers with a published run's models: the segment (nearest
//! centre after the run's preparation), the risk score (calibrated booster
//! probability), its band and the TreeSHAP reasons.
//!
//! The models are read back from their `models` rows (JSON), and every step
//! calls the functions the batch run used to publish `segments`:
//! [`Preparation::transform`], [`seglake_ml::assign_to`],
//! [`Gbdt::margin`](seglake_ml::Gbdt::margin), [`Thresholds::band_of`] and
//! [`top_reasons`]. So a customer scored here gets the segment and score
//! the run published for the same feature values, to the bit.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, Float64Builder, Int32Array, ListArray, ListBuilder, StringArray,
    StringBuilder, StructBuilder,
};
use arrow::datatypes::{DataType, Field, Fields};
use ndarray::Array2;
use seglake_ml::{Gbdt, Preparation};
use serde::{Deserialize, Serialize};

use crate::risk::{SEGMENT_FEATURE, Thresholds, top_reasons};

const SEGMENTS_FORMAT: &str = "seglake.segments.v1";
const RISK_FORMAT: &str = "seglake.risk.v1";

/// A model that cannot be used for scoring.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ModelError(String);

#[derive(Deserialize)]
struct SegmentModel {
    format: String,
    features: Vec<String>,
    preparation: Preparation,
    /// Prepared-space centres, row i = segment id i.
    centres: Vec<Vec<f64>>,
    labels: Vec<String>,
}

fn default_reasons() -> usize {
    3
}

#[derive(Deserialize)]
struct RiskModel {
    format: String,
    features: Vec<String>,
    segment_feature: bool,
    booster: Gbdt,
    bands: Vec<String>,
    thresholds: Thresholds,
    #[serde(default = "default_reasons")]
    reasons: usize,
}

/// One customer's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub segment_id: i32,
    pub segment_label: String,
    /// Euclidean distance to the segment's centre, in prepared space.
    pub distance: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskScore>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskScore {
    pub score: f64,
    pub band: String,
    pub reasons: Vec<NamedReason>,
}

/// A reason with its feature's name; `value` is `None` for a missing value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedReason {
    pub feature: String,
    pub value: Option<f64>,
    pub contribution: f64,
}

/// A run's segmentation and (optional) risk model, ready to score.
pub struct Scorer {
    segments: SegmentModel,
    centres: Array2<f64>,
    risk: Option<RiskModel>,
    /// Every feature a request must give: the segment features (in the
    /// segmentation's order), then the risk model's other inputs.
    inputs: Vec<String>,
    /// Per risk input: its index in `inputs` (`None` for the segment id
    /// the risk model reads).
    risk_columns: Vec<Option<usize>>,
}

impl Scorer {
    /// Builds a scorer from the `model` column of a run's `models` rows.
    pub fn from_models(segments_json: &str, risk_json: Option<&str>) -> Result<Self, ModelError> {
        let segments: SegmentModel = serde_json::from_str(segments_json)
            .map_err(|e| ModelError(format!("the segmentation model cannot be read: {e}")))?;
        if segments.format != SEGMENTS_FORMAT {
            return Err(ModelError(format!(
                "the segmentation model has format `{}`; this seglake scores `{SEGMENTS_FORMAT}`",
                segments.format
            )));
        }
        let dim = segments.features.len();
        let k = segments.centres.len();
        if k == 0
            || segments.labels.len() != k
            || segments.centres.iter().any(|c| c.len() != dim)
            || segments.preparation.features.len() != dim
        {
            return Err(ModelError(format!(
                "the segmentation model is inconsistent: {k} centres, {} labels, {dim} features",
                segments.labels.len()
            )));
        }
        let centres =
            Array2::from_shape_vec((k, dim), segments.centres.concat()).expect("checked shape");
        let risk: Option<RiskModel> = risk_json
            .map(|text| {
                serde_json::from_str::<RiskModel>(text)
                    .map_err(|e| ModelError(format!("the risk model cannot be read: {e}")))
            })
            .transpose()?;
        let mut inputs = segments.features.clone();
        let mut risk_columns = Vec::new();
        if let Some(risk) = &risk {
            if risk.format != RISK_FORMAT {
                return Err(ModelError(format!(
                    "the risk model has format `{}`; this seglake scores `{RISK_FORMAT}`",
                    risk.format
                )));
            }
            if risk.booster.features() != risk.features.len()
                || risk.bands.len() != risk.thresholds.global.len() + 1
            {
                return Err(ModelError(
                    "the risk model is inconsistent (features or bands)".into(),
                ));
            }
            for (i, name) in risk.features.iter().enumerate() {
                let is_segment = risk.segment_feature && i + 1 == risk.features.len();
                if is_segment && name == SEGMENT_FEATURE {
                    risk_columns.push(None);
                    continue;
                }
                let at = match inputs.iter().position(|n| n == name) {
                    Some(at) => at,
                    None => {
                        inputs.push(name.clone());
                        inputs.len() - 1
                    }
                };
                risk_columns.push(Some(at));
            }
        }
        Ok(Scorer {
            segments,
            centres,
            risk,
            inputs,
            risk_columns,
        })
    }

    /// Whether scores carry a risk score, band and reasons.
    pub fn has_risk(&self) -> bool {
        self.risk.is_some()
    }

    /// The scoring columns of the `segments` table (`segment_id`,
    /// `segment_label`, `distance`, then with a risk model `risk_score`,
    /// `risk_band`, `reasons`) for `scores`, in order.
    pub fn columns(&self, scores: &[Score]) -> (Vec<Field>, Vec<ArrayRef>) {
        let mut fields = vec![
            Field::new("segment_id", DataType::Int32, false),
            Field::new("segment_label", DataType::Utf8, false),
            Field::new("distance", DataType::Float64, false),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from_iter_values(
                scores.iter().map(|s| s.segment_id),
            )),
            Arc::new(StringArray::from_iter_values(
                scores.iter().map(|s| &s.segment_label),
            )),
            Arc::new(Float64Array::from_iter_values(
                scores.iter().map(|s| s.distance),
            )),
        ];
        if self.risk.is_some() {
            let risk: Vec<&RiskScore> = scores
                .iter()
                .map(|s| s.risk.as_ref().expect("a risk model scores every row"))
                .collect();
            let (risk_fields, risk_columns) = risk_columns(
                risk.iter().map(|r| r.score).collect(),
                risk.iter().map(|r| r.band.as_str()),
                risk.iter().map(|r| r.reasons.as_slice()),
            );
            fields.extend(risk_fields);
            columns.extend(risk_columns);
        }
        (fields, columns)
    }

    /// The features a request gives, by name (NaN = missing).
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// Scores `rows` (each in [`Scorer::inputs`] order).
    pub fn score(&self, rows: &[Vec<f64>]) -> Result<Vec<Score>, ModelError> {
        if let Some(bad) = rows.iter().position(|r| r.len() != self.inputs.len()) {
            return Err(ModelError(format!(
                "row {bad} has {} values; the model reads {}",
                rows[bad].len(),
                self.inputs.len()
            )));
        }
        let columns: Vec<Vec<f64>> = (0..self.segments.features.len())
            .map(|j| rows.iter().map(|r| r[j]).collect())
            .collect();
        let views: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        let prepared = self
            .segments
            .preparation
            .transform(&views)
            .map_err(|e| ModelError(e.to_string()))?;
        let assignment = seglake_ml::assign_to(&self.centres, prepared.view(), 8192)
            .map_err(|e| ModelError(e.to_string()))?;
        Ok(rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let segment_id = assignment.labels[i] as i32;
                Score {
                    segment_id,
                    segment_label: self.segments.labels[segment_id as usize].clone(),
                    distance: assignment.distances[i],
                    risk: self.risk.as_ref().map(|m| self.risk_of(m, row, segment_id)),
                }
            })
            .collect())
    }

    fn risk_of(&self, model: &RiskModel, row: &[f64], segment_id: i32) -> RiskScore {
        let x: Vec<f64> = self
            .risk_columns
            .iter()
            .map(|c| match c {
                Some(j) => row[*j],
                None => segment_id as f64,
            })
            .collect();
        let score = model
            .booster
            .probability_of_margin(model.booster.margin(&x));
        let phi = model.booster.contributions(&x);
        let band = model.thresholds.band_of(segment_id, score);
        RiskScore {
            score,
            band: model.bands[band].clone(),
            reasons: top_reasons(&phi, &x, model.reasons)
                .into_iter()
                .map(|r| NamedReason {
                    feature: model.features[r.feature].clone(),
                    value: (!r.value.is_nan()).then_some(r.value),
                    contribution: r.contribution,
                })
                .collect(),
        }
    }
}

/// `risk_score`, `risk_band` and `reasons` for the `segments` table: the
/// batch run and the cluster's scoring pass build them here, so both
/// publish the same types.
pub(crate) fn risk_columns<'a>(
    scores: Vec<f64>,
    bands: impl Iterator<Item = &'a str>,
    reasons: impl Iterator<Item = &'a [NamedReason]>,
) -> (Vec<Field>, Vec<ArrayRef>) {
    let reasons = reasons_array(reasons);
    let fields = vec![
        Field::new("risk_score", DataType::Float64, false),
        Field::new("risk_band", DataType::Utf8, false),
        Field::new("reasons", reasons.data_type().clone(), false),
    ];
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from(scores)),
        Arc::new(StringArray::from_iter_values(bands)),
        Arc::new(reasons),
    ];
    (fields, columns)
}

/// A list of `{feature, value, contribution}` per customer (`value` null
/// for a missing value).
fn reasons_array<'a>(rows: impl Iterator<Item = &'a [NamedReason]>) -> ListArray {
    let reason_fields = Fields::from(vec![
        Field::new("feature", DataType::Utf8, false),
        Field::new("value", DataType::Float64, true),
        Field::new("contribution", DataType::Float64, false),
    ]);
    let mut reasons =
        ListBuilder::new(StructBuilder::from_fields(reason_fields.clone(), 0)).with_field(
            Arc::new(Field::new("item", DataType::Struct(reason_fields), false)),
        );
    for row in rows {
        let s = reasons.values();
        for r in row {
            s.field_builder::<StringBuilder>(0)
                .expect("feature")
                .append_value(&r.feature);
            s.field_builder::<Float64Builder>(1)
                .expect("value")
                .append_option(r.value);
            s.field_builder::<Float64Builder>(2)
                .expect("contribution")
                .append_value(r.contribution);
            s.append(true);
        }
        reasons.append(true);
    }
    reasons.finish()
}
