//! Scoring customers with a run's models: the segment (nearest centre after
//! the run's preparation), the risk score (calibrated booster probability),
//! its band and the TreeSHAP reasons.
//!
//! Every step calls the functions the batch run used to publish `segments`
//! ([`Preparation::transform`](seglake_ml::Preparation::transform),
//! [`seglake_ml::assign_to`], [`RiskModel::explain`]), so a customer scored
//! here gets the segment and score the run published for the same feature
//! values, to the bit.

use arrow::array::ArrayRef;
use arrow::datatypes::Field;
use ndarray::Array2;
use serde::Serialize;

use crate::columns::{risk_columns, segment_columns};
use crate::error::{ModelError, Result};
use crate::risk::{NamedReason, RiskModel};
use crate::segments::SegmentModel;

/// Rows per chunk of the assignment (as the batch run assigns).
const ASSIGN_CHUNK_ROWS: usize = 8192;

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
    pub fn from_models(segments_json: &str, risk_json: Option<&str>) -> Result<Self> {
        let segments = SegmentModel::from_json(segments_json)?;
        let risk = risk_json.map(RiskModel::from_json).transpose()?;
        Ok(Scorer::new(segments, risk))
    }

    /// Builds a scorer from models already read.
    pub fn new(segments: SegmentModel, risk: Option<RiskModel>) -> Self {
        let mut inputs = segments.features.clone();
        let mut risk_columns = Vec::new();
        if let Some(risk) = &risk {
            let segment_input = risk.segment_input();
            for (i, name) in risk.features.iter().enumerate() {
                if Some(i) == segment_input {
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
        Scorer {
            centres: segments.centre_matrix(),
            segments,
            risk,
            inputs,
            risk_columns,
        }
    }

    /// Whether scores carry a risk score, band and reasons.
    pub fn has_risk(&self) -> bool {
        self.risk.is_some()
    }

    /// The features a request gives, by name (NaN = missing).
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// The scoring columns of the `segments` table (`segment_id`,
    /// `segment_label`, `distance`, then with a risk model `risk_score`,
    /// `risk_band`, `reasons`) for `scores`, in order.
    pub fn columns(&self, scores: &[Score]) -> (Vec<Field>, Vec<ArrayRef>) {
        let (mut fields, mut columns) = segment_columns(
            scores.iter().map(|s| s.segment_id).collect(),
            scores.iter().map(|s| s.segment_label.as_str()),
            scores.iter().map(|s| s.distance).collect(),
        );
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

    /// Scores `rows` (each in [`Scorer::inputs`] order).
    pub fn score(&self, rows: &[Vec<f64>]) -> Result<Vec<Score>> {
        if let Some(bad) = rows.iter().position(|r| r.len() != self.inputs.len()) {
            return Err(ModelError::RowWidth {
                row: bad,
                got: rows[bad].len(),
                expected: self.inputs.len(),
            });
        }
        let columns: Vec<Vec<f64>> = (0..self.segments.features.len())
            .map(|j| rows.iter().map(|r| r[j]).collect())
            .collect();
        let views: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        let prepared = self.segments.preparation.transform(&views)?;
        let assignment = seglake_ml::assign_to(&self.centres, prepared.view(), ASSIGN_CHUNK_ROWS)?;
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
        let (score, band, reasons) = model.explain(&x, segment_id);
        RiskScore {
            score,
            band: model.bands[band].clone(),
            reasons: reasons.iter().map(|r| model.named(r)).collect(),
        }
    }
}
