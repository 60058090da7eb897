//! Stage 3, train: the segmentation, the case outcomes and feedback per
//! segment, and the risk model. Everything is trained before the first
//! write, so a model that fails leaves the lake as it was.

use seglake_features::{FeatureEngine, FeatureTable};
use seglake_ml::KChoice;
use seglake_spec::{JobSpec, SegmentsSpec};

use crate::error::Result;
use crate::feedback::CustomerFeedback;
use crate::outcomes::{Outcomes, case_outcomes};
use crate::progress::{Progress, step};
use crate::risk::{RiskInputs, TrainedRisk};
use crate::risk_labels::read_labels;
use crate::segmentation::TrainedSegments;

/// A run's trained models and what `segment_profiles` reports beside them.
pub(crate) struct Trained {
    pub segments: TrainedSegments,
    pub outcomes: Option<Outcomes>,
    pub risk: Option<TrainedRisk>,
    /// Feedback summed per published segment id.
    pub feedback: Vec<CustomerFeedback>,
}

/// Trains the models of a job with a `[segments]` section; `None` without.
pub(crate) async fn train(
    spec: &JobSpec,
    engine: &FeatureEngine,
    features: &FeatureTable,
    progress: &dyn Progress,
) -> Result<Option<Trained>> {
    let Some(segments_spec) = &spec.segments else {
        return Ok(None);
    };
    let categorical =
        crate::categorical::read(&spec.categorical, features, &spec.output_table, &spec.key)?;
    if let Some(said) =
        crate::categorical::left_out(&features.schema, &spec.key, &categorical.names)
    {
        tracing::warn!("{said}");
    }
    step(progress, &segmenting_message(segments_spec));
    let segments = crate::segmentation::train(
        segments_spec,
        features,
        &categorical,
        &spec.output_table,
        &spec.key,
    )?;
    let outcomes = match &segments_spec.outcomes {
        Some(table) => {
            Some(case_outcomes(engine, table, &spec.key, &spec.outcome_vocabulary).await?)
        }
        None => None,
    };
    let models_read = ModelsRead {
        features,
        categorical: &categorical,
        segments: &segments,
    };
    let risk = train_risk(spec, engine, &models_read, progress).await?;
    let feedback = crate::feedback::per_segment(
        &crate::feedback::per_customer(engine).await?,
        &segments.keys,
        &segments.segment_ids(),
        segments.k(),
    );
    Ok(Some(Trained {
        segments,
        outcomes,
        risk,
        feedback,
    }))
}

fn segmenting_message(spec: &SegmentsSpec) -> String {
    match spec.params.k {
        KChoice::Auto { min, max } => format!("segmenting customers (trying k = {min}..={max})"),
        KChoice::Fixed(k) => format!("segmenting customers (k = {k})"),
    }
}

/// What the risk model reads: the feature table, its categorical features
/// and the trained segmentation.
struct ModelsRead<'a> {
    features: &'a FeatureTable,
    categorical: &'a crate::categorical::CategoricalData,
    segments: &'a TrainedSegments,
}

/// The risk model of a job with a `[risk]` section, trained on the label
/// view; the segment ids are an input when the model is hybrid.
async fn train_risk(
    spec: &JobSpec,
    engine: &FeatureEngine,
    read: &ModelsRead<'_>,
    progress: &dyn Progress,
) -> Result<Option<TrainedRisk>> {
    let segments = read.segments;
    let Some(risk_spec) = &spec.risk else {
        return Ok(None);
    };
    let labels = read_labels(engine, risk_spec, &spec.key).await?;
    step(
        progress,
        &format!(
            "training the risk model on {} labelled customers",
            labels.len()
        ),
    );
    let inputs = RiskInputs {
        features: read.features,
        categorical: read.categorical,
        table: &spec.output_table,
        key: &spec.key,
        keys: &segments.keys,
        segment_ids: &segments.segment_ids(),
        labels: &labels,
    };
    crate::risk::train(risk_spec, &inputs, progress).map(Some)
}
