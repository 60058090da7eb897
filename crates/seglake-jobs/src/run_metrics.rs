//! The run's metrics, as `runs.metrics` records them.

use serde::Serialize;

use crate::segmentation::SegmentationMetrics;
use crate::train::Trained;

/// The segmentation's metrics, the risk model's and the feedback
/// validation.
#[derive(Serialize)]
pub(crate) struct RunMetrics<'a> {
    #[serde(flatten)]
    segmentation: SegmentationMetrics<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    risk: Option<&'a serde_json::Value>,
    feedback_validation: serde_json::Value,
}

impl<'a> RunMetrics<'a> {
    pub fn of(trained: &'a Trained) -> Self {
        RunMetrics {
            segmentation: trained.segments.metrics(),
            risk: trained.risk.as_ref().map(|r| &r.metrics),
            feedback_validation: crate::feedback::validation_json(
                &trained.feedback,
                &trained.segments.labels,
            ),
        }
    }

    /// The JSON text, keys sorted at every level.
    pub fn to_json(&self) -> String {
        serde_json::to_value(self)
            .expect("metrics serialise")
            .to_string()
    }
}
