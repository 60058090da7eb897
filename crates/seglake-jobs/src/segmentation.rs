//! Training the segmentation: picks the clustered columns, fits the
//! preparation, trains (seglake-ml), and numbers the segments by size.

use arrow::array::ArrayRef;
use seglake_features::FeatureTable;
use seglake_ml::{ClusterMetrics, Preparation, SegmentParams, Segmentation, TrainingInfo};
use seglake_model::SegmentModel;
use seglake_spec::SegmentsSpec;
use serde::Serialize;

use crate::columns::{column_f64, key_column, key_strings, numeric_columns};
use crate::error::{JobError, Result};
use crate::segment_labels::segment_labels;

/// The feature columns to cluster on, checked against the table's schema.
pub(crate) fn select_features(
    spec: &SegmentsSpec,
    schema: &arrow::datatypes::Schema,
    table: &str,
    key: &str,
) -> Result<Vec<String>> {
    let invalid = |message| JobError::Segments {
        table: table.to_string(),
        message,
    };
    let chosen = numeric_columns(
        schema,
        key,
        "segments",
        spec.features.as_deref(),
        &spec.exclude,
    )
    .map_err(invalid)?;
    if let Some(column) = spec.prepare_features.keys().find(|c| !chosen.contains(c)) {
        return Err(invalid(format!(
            "segments.prepare.features.{column}: `{column}` is not one of the clustered features: {}",
            chosen.join(", ")
        )));
    }
    Ok(chosen)
}

/// A trained segmentation, ready to publish.
pub(crate) struct TrainedSegments {
    /// Every customer's key, in feature-table order.
    pub keys: Vec<String>,
    /// The same keys in the feature table's own type, as `segments`
    /// publishes them.
    pub key_column: ArrayRef,
    pub features: Vec<String>,
    pub preparation: Preparation,
    pub segmentation: Segmentation,
    /// Model segment index -> published segment id (largest segment is 0).
    pub order: Vec<usize>,
    /// Labels by published segment id.
    pub labels: Vec<String>,
    pub params: SegmentParams,
}

/// Trains the segmentation of `spec` on the feature table `table`.
pub(crate) fn train(
    spec: &SegmentsSpec,
    features: &FeatureTable,
    table: &str,
    key: &str,
) -> Result<TrainedSegments> {
    let names = select_features(spec, &features.schema, table, key)?;
    let columns: Vec<Vec<f64>> = names
        .iter()
        .map(|n| column_f64(features, table, n))
        .collect::<Result<_>>()?;
    let views: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
    let options: Vec<_> = names.iter().map(|n| spec.prepare_for(n).clone()).collect();
    let ml = |source| JobError::Segmentation {
        table: table.to_string(),
        source,
    };
    let preparation = Preparation::fit(&names, &views, &options).map_err(ml)?;
    let matrix = preparation.transform(&views).map_err(ml)?;
    drop(columns);
    let segmentation = seglake_ml::segment(matrix.view(), &spec.params).map_err(ml)?;
    let order = published_order(&segmentation.metrics.sizes);
    let mut labels = vec![String::new(); order.len()];
    let raw_labels = segment_labels(&segmentation.centres, &names, spec.label_features);
    for (c, label) in raw_labels.into_iter().enumerate() {
        labels[order[c]] = label;
    }
    Ok(TrainedSegments {
        keys: key_strings(features, table, key)?,
        key_column: key_column(features, table, key)?,
        features: names,
        preparation,
        segmentation,
        order,
        labels,
        params: spec.params.clone(),
    })
}

/// Model segment index -> published id: largest segment first, ties by
/// model index, so ids do not depend on which centre initialisation
/// happened to find a cluster.
fn published_order(sizes: &[u64]) -> Vec<usize> {
    let mut by_size: Vec<usize> = (0..sizes.len()).collect();
    by_size.sort_by_key(|&c| (std::cmp::Reverse(sizes[c]), c));
    let mut order = vec![0; sizes.len()];
    for (id, &c) in by_size.iter().enumerate() {
        order[c] = id;
    }
    order
}

/// The segmentation's metrics, as `models.metrics` and `runs.metrics`
/// record them.
#[derive(Serialize)]
pub(crate) struct SegmentationMetrics<'a> {
    pub segments: &'a ClusterMetrics,
    /// Sizes by published segment id.
    pub segment_sizes: Vec<u64>,
    pub training: &'a TrainingInfo,
    pub sweep: &'a [ClusterMetrics],
}

impl TrainedSegments {
    pub fn k(&self) -> usize {
        self.labels.len()
    }

    /// Published segment id of every customer, in key order.
    pub fn segment_ids(&self) -> Vec<i32> {
        self.segmentation
            .assignment
            .labels
            .iter()
            .map(|&c| self.order[c as usize] as i32)
            .collect()
    }

    /// Model index of each published segment id.
    pub fn model_index(&self) -> Vec<usize> {
        let mut index = vec![0; self.k()];
        for (c, &id) in self.order.iter().enumerate() {
            index[id] = c;
        }
        index
    }

    /// Segment sizes by published segment id.
    pub fn sizes(&self) -> Vec<u64> {
        self.model_index()
            .iter()
            .map(|&c| self.segmentation.metrics.sizes[c])
            .collect()
    }

    pub fn metrics(&self) -> SegmentationMetrics<'_> {
        SegmentationMetrics {
            segments: &self.segmentation.metrics,
            segment_sizes: self.sizes(),
            training: &self.segmentation.training,
            sweep: &self.segmentation.sweep,
        }
    }

    /// The model as stored: centres by published segment id.
    pub fn model(&self) -> SegmentModel {
        let centres = self
            .model_index()
            .iter()
            .map(|&c| self.segmentation.centres.row(c).to_vec())
            .collect();
        SegmentModel::new(
            self.features.clone(),
            self.preparation.clone(),
            centres,
            self.labels.clone(),
            self.params.clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_segment_is_published_as_zero_and_ties_keep_model_order() {
        assert_eq!(published_order(&[5, 9, 5, 1]), [1, 0, 2, 3]);
    }
}
