//! The one serialised form of seglake's trained models, and the [`Scorer`]
//! that applies them.
//!
//! A run trains a segmentation ([`SegmentModel`]: preparation, centres by
//! published segment id, labels) and, with a `[risk]` section, a risk model
//! ([`RiskModel`]: booster with its bins and calibration, bands and their
//! thresholds, how many reasons to give). Training builds these values and
//! writes them to the `models` table with [`SegmentModel::to_json`] and
//! [`RiskModel::to_json`]; batch scoring, the cluster's scoring function
//! ([`ScoreUdf`]) and `seglake serve` read them back with
//! [`Scorer::from_models`]. Nothing else defines the format.
//!
//! Every model carries its format version (`seglake.segments.v1`,
//! `seglake.risk.v1`); reading a model of another version is a named error
//! ([`ModelError::UnknownFormat`]), never a silent misreading.
//!
//! ```text
//! seglake-ml (arrays in, models out)
//!     -> seglake-model (this crate: the models as stored, the Scorer)
//!         -> seglake-jobs (training writes them; the batch run scores)
//!         -> seglake-cluster (executors score with ScoreUdf)
//!         -> seglake-serve (POST /v1/score)
//! ```

mod categories;
mod columns;
mod error;
mod risk;
mod scorer;
mod segments;
mod udf;

pub use categories::CategoryCodes;
pub use columns::{risk_columns, segment_columns};
pub use error::{ModelError, ModelKind, Result};
pub use risk::{
    NamedReason, RISK_FORMAT, Reason, RiskModel, SEGMENT_FEATURE, Thresholds, top_reasons,
};
pub use scorer::{RiskScore, Row, Score, Scorer};
pub use segments::{SEGMENTS_FORMAT, SegmentModel};
pub use udf::{ModelTexts, SCORE_FUNCTION, ScoreUdf};
