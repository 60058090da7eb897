//! The segmentation as stored in `models.model`: everything scoring needs
//! to place a customer (feature list, preparation, centres by published
//! segment id, labels) and the parameters it was trained with.

use ndarray::Array2;
use seglake_ml::{Preparation, SegmentParams};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, ModelKind, Result};

/// The format version written into every segmentation model.
pub const SEGMENTS_FORMAT: &str = "seglake.segments.v1";

/// A trained segmentation. Field order is the stored JSON's key order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentModel {
    pub format: String,
    /// The clustered numeric features, in the order of `preparation` and
    /// of the first columns of `centres`; the categorical features (when
    /// the job has some) are the preparation's, whose encoded columns
    /// follow.
    pub features: Vec<String>,
    pub preparation: Preparation,
    /// Prepared-space centres (one value per prepared column), row i =
    /// published segment id i.
    pub centres: Vec<Vec<f64>>,
    /// Labels by published segment id.
    pub labels: Vec<String>,
    pub params: SegmentParams,
}

impl SegmentModel {
    /// A model in the current format.
    pub fn new(
        features: Vec<String>,
        preparation: Preparation,
        centres: Vec<Vec<f64>>,
        labels: Vec<String>,
        params: SegmentParams,
    ) -> SegmentModel {
        SegmentModel {
            format: SEGMENTS_FORMAT.to_string(),
            features,
            preparation,
            centres,
            labels,
            params,
        }
    }

    /// The text stored in `models.model`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a segmentation model serialises")
    }

    /// Reads a stored model, refusing another format version and parts
    /// that do not fit together.
    pub fn from_json(text: &str) -> Result<SegmentModel> {
        let kind = ModelKind::Segments;
        // The version is read first, so a model of a newer format is named
        // as such rather than as unreadable.
        check_format(text, kind, SEGMENTS_FORMAT)?;
        let model: SegmentModel =
            serde_json::from_str(text).map_err(|source| ModelError::Unreadable { kind, source })?;
        model.check()?;
        Ok(model)
    }

    fn check(&self) -> Result<()> {
        let dim = self.preparation.width();
        let k = self.centres.len();
        if k == 0
            || self.labels.len() != k
            || self.centres.iter().any(|c| c.len() != dim)
            || self.preparation.features.len() != self.features.len()
        {
            return Err(ModelError::Inconsistent {
                kind: ModelKind::Segments,
                detail: format!(
                    "{k} centres, {} labels, {} features ({dim} prepared columns)",
                    self.labels.len(),
                    self.features.len()
                ),
            });
        }
        Ok(())
    }

    /// The categorical features, in the preparation's order.
    pub fn categorical(&self) -> Vec<String> {
        let stats = &self.preparation.categorical;
        stats.iter().map(|c| c.name.clone()).collect()
    }

    /// Every feature the segmentation reads: the numeric ones, then the
    /// categorical ones.
    pub fn features_read(&self) -> Vec<String> {
        [self.features.clone(), self.categorical()].concat()
    }

    /// The centres as a matrix, row i = segment id i.
    pub fn centre_matrix(&self) -> Array2<f64> {
        Array2::from_shape_vec(
            (self.centres.len(), self.preparation.width()),
            self.centres.concat(),
        )
        .expect("checked when read")
    }
}

/// Refuses a stored model whose `format` is not `expected`.
pub(crate) fn check_format(text: &str, kind: ModelKind, expected: &'static str) -> Result<()> {
    #[derive(Deserialize)]
    struct Format {
        format: String,
    }
    let found = serde_json::from_str::<Format>(text)
        .map_err(|source| ModelError::Unreadable { kind, source })?
        .format;
    if found != expected {
        return Err(ModelError::UnknownFormat {
            kind,
            found,
            expected,
        });
    }
    Ok(())
}
