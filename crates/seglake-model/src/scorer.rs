//! Scoring customers with a run's models: the segment (nearest centre after
//! the run's preparation), the risk score (calibrated booster probability),
//! its band and the TreeSHAP reasons.
//!
//! Every step calls the functions the batch run used to publish `segments`
//! ([`Preparation::transform_mixed`](seglake_ml::Preparation::transform_mixed),
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

/// One customer's inputs: numbers in [`Scorer::inputs`] order (NaN =
/// missing) and texts in [`Scorer::text_inputs`] order (`None` = NULL).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub numbers: Vec<f64>,
    pub texts: Vec<Option<String>>,
}

impl Row {
    /// A row of numbers only (models without categorical features).
    pub fn numbers(numbers: Vec<f64>) -> Row {
        Row {
            numbers,
            texts: Vec::new(),
        }
    }
}

/// Where one input of the risk model comes from.
enum RiskInput {
    /// This number of the row.
    Number(usize),
    /// This text of the row, as the model's category code.
    Text(usize),
    /// The segment id the segmentation gave the row.
    Segment,
}

/// A run's segmentation and (optional) risk model, ready to score.
pub struct Scorer {
    segments: SegmentModel,
    centres: Array2<f64>,
    risk: Option<RiskModel>,
    /// Every numeric feature a request must give: the segment features (in
    /// the segmentation's order), then the risk model's other inputs.
    inputs: Vec<String>,
    /// Every categorical feature a request must give, in the same order.
    text_inputs: Vec<String>,
    /// Per risk input: where its value comes from.
    risk_inputs: Vec<RiskInput>,
}

/// The position of `name` in `names`, added at the end when absent.
fn position_or_push(names: &mut Vec<String>, name: &str) -> usize {
    match names.iter().position(|n| n == name) {
        Some(at) => at,
        None => {
            names.push(name.to_string());
            names.len() - 1
        }
    }
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
        let mut text_inputs = segments.categorical();
        let mut risk_inputs = Vec::new();
        if let Some(risk) = &risk {
            let segment_input = risk.segment_input();
            for (i, name) in risk.features.iter().enumerate() {
                risk_inputs.push(if Some(i) == segment_input {
                    RiskInput::Segment
                } else if risk.codes_of(i).is_some() {
                    RiskInput::Text(position_or_push(&mut text_inputs, name))
                } else {
                    RiskInput::Number(position_or_push(&mut inputs, name))
                });
            }
        }
        Scorer {
            centres: segments.centre_matrix(),
            segments,
            risk,
            inputs,
            text_inputs,
            risk_inputs,
        }
    }

    /// Whether scores carry a risk score, band and reasons.
    pub fn has_risk(&self) -> bool {
        self.risk.is_some()
    }

    /// The numeric features a request gives, by name (NaN = missing).
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// The categorical features a request gives, by name (text; NULL is
    /// the `missing` level, a value unseen in training the `other` one).
    pub fn text_inputs(&self) -> &[String] {
        &self.text_inputs
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

    /// Scores `rows`.
    pub fn score(&self, rows: &[Row]) -> Result<Vec<Score>> {
        let wide = |r: &Row| {
            r.numbers.len() != self.inputs.len() || r.texts.len() != self.text_inputs.len()
        };
        if let Some(bad) = rows.iter().position(wide) {
            return Err(ModelError::RowWidth {
                row: bad,
                got: rows[bad].numbers.len() + rows[bad].texts.len(),
                expected: self.inputs.len() + self.text_inputs.len(),
            });
        }
        let columns: Vec<Vec<f64>> = (0..self.segments.features.len())
            .map(|j| rows.iter().map(|r| r.numbers[j]).collect())
            .collect();
        let views: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        let texts: Vec<Vec<Option<&str>>> = (0..self.segments.preparation.categorical.len())
            .map(|j| rows.iter().map(|r| r.texts[j].as_deref()).collect())
            .collect();
        let text_views: Vec<&[Option<&str>]> = texts.iter().map(Vec::as_slice).collect();
        let prepared = self
            .segments
            .preparation
            .transform_mixed(&views, &text_views)?;
        let assignment = seglake_ml::assign_to(&self.centres, prepared.view(), ASSIGN_CHUNK_ROWS)?;
        let codes = self.risk_codes(rows);
        Ok(rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let segment_id = assignment.labels[i] as i32;
                Score {
                    segment_id,
                    segment_label: self.segments.labels[segment_id as usize].clone(),
                    distance: assignment.distances[i],
                    risk: self
                        .risk
                        .as_ref()
                        .map(|m| self.risk_of(m, row, &codes, i, segment_id)),
                }
            })
            .collect())
    }

    /// Per risk input, the category code of every row when the input is
    /// categorical (empty otherwise).
    fn risk_codes(&self, rows: &[Row]) -> Vec<Vec<f64>> {
        let Some(model) = &self.risk else {
            return Vec::new();
        };
        self.risk_inputs
            .iter()
            .enumerate()
            .map(|(input, source)| match (source, model.codes_of(input)) {
                (RiskInput::Text(j), Some(codes)) => {
                    codes.codes(rows.iter().map(|r| r.texts[*j].as_deref()))
                }
                _ => Vec::new(),
            })
            .collect()
    }

    fn risk_of(
        &self,
        model: &RiskModel,
        row: &Row,
        codes: &[Vec<f64>],
        i: usize,
        segment_id: i32,
    ) -> RiskScore {
        let x: Vec<f64> = self
            .risk_inputs
            .iter()
            .enumerate()
            .map(|(input, source)| match source {
                RiskInput::Number(j) => row.numbers[*j],
                RiskInput::Text(_) => codes[input][i],
                RiskInput::Segment => segment_id as f64,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::categories::CategoryCodes;
    use crate::risk::{RISK_FORMAT, Thresholds};
    use seglake_ml::{
        Algorithm, CategoricalColumn, GbdtParams, KChoice, KMeansParams, Preparation, SegmentParams,
    };

    const LEVELS: [&str; 3] = ["low", "medium", "high"];

    /// 300 customers: an amount, and a rating that alone decides the label
    /// (`high` is risky).
    fn data() -> (Vec<f64>, Vec<Option<&'static str>>, Vec<bool>) {
        let amounts = (0..300).map(|i| (i % 17) as f64).collect();
        let ratings: Vec<Option<&str>> = (0..300).map(|i| Some(LEVELS[i % 3])).collect();
        let labels = ratings.iter().map(|r| *r == Some("high")).collect();
        (amounts, ratings, labels)
    }

    fn models() -> (SegmentModel, RiskModel) {
        let (amounts, ratings, labels) = data();
        let names = vec!["amount".to_string()];
        let preparation = Preparation::fit_mixed(
            &names,
            &[&amounts],
            &[Default::default()],
            &[CategoricalColumn::new("rating", &ratings)],
        )
        .unwrap();
        let prepared = preparation
            .transform_mixed(&[&amounts], &[&ratings])
            .unwrap();
        let centres = (0..2)
            .map(|r| prepared.row(r).iter().map(|&v| v as f64).collect())
            .collect();
        let params = SegmentParams {
            algorithm: Algorithm::Kmeans,
            k: KChoice::Fixed(2),
            kmeans: KMeansParams::new(2),
            metric_sample: 10,
            cluster_sample: 10,
        };
        let codes = CategoryCodes::from_stats(&preparation.categorical[0]);
        let segments = SegmentModel::new(
            names,
            preparation,
            centres,
            vec!["a".into(), "b".into()],
            params,
        );
        let mut x = ndarray::Array2::zeros((300, 2));
        let rating_codes = codes.codes(ratings.iter().copied());
        for i in 0..300 {
            x[[i, 0]] = amounts[i];
            x[[i, 1]] = rating_codes[i];
        }
        let params = GbdtParams {
            num_trees: 5,
            min_data_in_leaf: 5,
            validation_fraction: 0.0,
            ..GbdtParams::default()
        };
        let booster = seglake_ml::gbdt::fit_with_categorical(
            x.view(),
            &labels,
            &params.check().unwrap(),
            &[1],
        )
        .unwrap()
        .model;
        let risk = RiskModel {
            bands: vec!["high".into(), "low".into()],
            booster,
            categorical: vec![codes],
            features: vec!["amount".into(), "rating".into()],
            format: RISK_FORMAT.into(),
            per_segment: false,
            reasons: 2,
            segment_feature: false,
            thresholds: Thresholds {
                global: vec![0.5],
                per_segment: None,
                global_fallback: vec![],
            },
        };
        (segments, risk)
    }

    fn row(amount: f64, rating: Option<&str>) -> Row {
        Row {
            numbers: vec![amount],
            texts: vec![rating.map(str::to_string)],
        }
    }

    #[test]
    fn a_categorical_input_is_read_as_text_and_its_reason_names_the_level() {
        let (segments, risk) = models();
        let scorer = Scorer::from_models(&segments.to_json(), Some(&risk.to_json())).unwrap();
        assert_eq!(scorer.inputs(), ["amount"]);
        assert_eq!(scorer.text_inputs(), ["rating"]);
        let scores = scorer
            .score(&[row(3.0, Some("high")), row(3.0, Some("low"))])
            .unwrap();
        let (high, low) = (
            scores[0].risk.as_ref().unwrap(),
            scores[1].risk.as_ref().unwrap(),
        );
        assert!(high.score > low.score, "{} <= {}", high.score, low.score);
        assert_eq!(high.reasons[0].feature, "rating = high");
        assert_eq!(high.reasons[0].value, None);
        assert_eq!(low.reasons[0].feature, "rating = low");
    }

    #[test]
    fn an_unseen_value_is_other_and_null_without_training_nulls_too() {
        let (segments, risk) = models();
        let scorer = Scorer::new(segments, Some(risk));
        let scores = scorer
            .score(&[row(3.0, Some("unheard of")), row(3.0, None)])
            .unwrap();
        for s in &scores {
            let reasons = &s.risk.as_ref().unwrap().reasons;
            assert!(
                reasons.iter().any(|r| r.feature == "rating = other"),
                "{reasons:?}"
            );
        }
        // Both are the `other` level: the same prepared row, the same score.
        assert_eq!(scores[0], scores[1]);
    }

    #[test]
    fn a_row_without_its_text_inputs_is_refused() {
        let (segments, risk) = models();
        let scorer = Scorer::new(segments, Some(risk));
        let e = scorer.score(&[Row::numbers(vec![3.0])]).unwrap_err();
        assert!(e.to_string().contains("the model reads 2"), "{e}");
    }

    #[test]
    fn a_model_without_categorical_inputs_is_stored_as_before() {
        let (_, mut risk) = models();
        risk.categorical.clear();
        let json = risk.to_json();
        assert!(!json.contains("\"categorical\""), "{json}");
        // ... and such a stored model reads back as it was.
        assert_eq!(RiskModel::from_json(&json).unwrap(), risk);
        // Category codes for an input the booster does not split as
        // categories are refused when read.
        let (_, risk) = models();
        let mut value: serde_json::Value = serde_json::from_str(&risk.to_json()).unwrap();
        value["categorical"][0]["feature"] = "amount".into();
        let e = RiskModel::from_json(&value.to_string()).unwrap_err();
        assert!(e.to_string().contains("category codes for `amount`"), "{e}");
    }
}
