//! Training the segmentation: picks the clustered columns, fits the
//! preparation, trains (seglake-ml), and numbers the segments by size.

use arrow::array::ArrayRef;
use seglake_features::FeatureTable;
use seglake_ml::{
    CategoricalColumn, CategoricalStats, ClusterMetrics, Encoding, Preparation, SegmentParams,
    Segmentation, TrainingInfo,
};
use seglake_model::SegmentModel;
use seglake_spec::SegmentsSpec;
use serde::Serialize;

use crate::categorical::CategoricalData;
use crate::columns::{ModelColumns, column_f64, key_column, key_strings, model_columns};
use crate::error::{JobError, Result};
use crate::segment_labels::segment_labels;

/// The feature columns to cluster on (of the job's `categorical` ones,
/// those the section reads), checked against the table's schema.
pub(crate) fn select_features(
    spec: &SegmentsSpec,
    schema: &arrow::datatypes::Schema,
    table: &str,
    key: &str,
    categorical: &[String],
) -> Result<ModelColumns> {
    let invalid = |message| JobError::Segments {
        table: table.to_string(),
        message,
    };
    let chosen = model_columns(
        schema,
        key,
        "segments",
        spec.features.as_deref(),
        &spec.exclude,
        categorical,
    )
    .map_err(invalid)?;
    let numeric = &chosen.numeric;
    if let Some(column) = spec.prepare_features.keys().find(|c| !numeric.contains(c)) {
        return Err(invalid(format!(
            "segments.prepare.features.{column}: `{column}` is not one of the clustered numeric features: {}",
            numeric.join(", ")
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
    /// The numeric features, in the preparation's order.
    pub features: Vec<String>,
    /// The preparation: the numeric features, then the categorical ones.
    pub preparation: Preparation,
    /// Each categorical feature's most frequent level per published
    /// segment id.
    pub category_profiles: Vec<CategoryProfile>,
    pub segmentation: Segmentation,
    /// Model segment index -> published segment id (largest segment is 0).
    pub order: Vec<usize>,
    /// Labels by published segment id.
    pub labels: Vec<String>,
    pub params: SegmentParams,
}

/// Trains the segmentation of `spec` on the feature table `table`, with
/// the job's categorical features `categorical`.
pub(crate) fn train(
    spec: &SegmentsSpec,
    features: &FeatureTable,
    categorical: &CategoricalData,
    table: &str,
    key: &str,
) -> Result<TrainedSegments> {
    let chosen = select_features(spec, &features.schema, table, key, &categorical.names)?;
    let names = chosen.numeric;
    let columns: Vec<Vec<f64>> = names
        .iter()
        .map(|n| column_f64(features, table, n))
        .collect::<Result<_>>()?;
    let views: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
    let texts = categorical.views(&chosen.categorical);
    let text_views: Vec<&[Option<&str>]> = texts.iter().map(Vec::as_slice).collect();
    let inputs = Inputs {
        numeric: &names,
        values: &views,
        categorical: &chosen.categorical,
        texts: &text_views,
    };
    let (preparation, matrix) = prepare(spec, &inputs, table)?;
    drop(columns);
    let segmentation = seglake_ml::segment(matrix.view(), &spec.params).map_err(|source| {
        JobError::Segmentation {
            table: table.to_string(),
            source,
        }
    })?;
    let order = published_order(&segmentation.metrics.sizes);
    let mut labels = vec![String::new(); order.len()];
    let raw_labels = segment_labels(
        &segmentation.centres,
        &label_names(&preparation),
        spec.label_features,
    );
    for (c, label) in raw_labels.into_iter().enumerate() {
        labels[order[c]] = label;
    }
    let ids: Vec<usize> = (segmentation.assignment.labels.iter())
        .map(|&c| order[c as usize])
        .collect();
    let category_profiles = preparation
        .categorical
        .iter()
        .zip(&text_views)
        .map(|(stats, values)| CategoryProfile::of(stats, values, &ids, order.len()))
        .collect();
    Ok(TrainedSegments {
        keys: key_strings(features, table, key)?,
        key_column: key_column(features, table, key)?,
        features: names,
        preparation,
        category_profiles,
        segmentation,
        order,
        labels,
        params: spec.params.clone(),
    })
}

/// The clustered features' values, by kind.
struct Inputs<'a> {
    numeric: &'a [String],
    values: &'a [&'a [f64]],
    categorical: &'a [String],
    texts: &'a [&'a [Option<&'a str>]],
}

/// Fits the preparation (numeric features, then categorical ones in the
/// section's encoding) and prepares the matrix k-means reads.
fn prepare(
    spec: &SegmentsSpec,
    inputs: &Inputs,
    table: &str,
) -> Result<(Preparation, ndarray::Array2<f32>)> {
    let ml = |source| JobError::Segmentation {
        table: table.to_string(),
        source,
    };
    let options: Vec<_> = (inputs.numeric.iter())
        .map(|n| spec.prepare_for(n).clone())
        .collect();
    // The limit was checked when the columns were read (an error naming
    // the job's key), so seglake-ml's own default must not cut in.
    let to_encode: Vec<CategoricalColumn> = (inputs.categorical.iter())
        .zip(inputs.texts)
        .map(|(name, values)| {
            CategoricalColumn::new(name, values)
                .encoding(spec.categorical_encoding)
                .max_levels(usize::MAX)
        })
        .collect();
    let preparation =
        Preparation::fit_mixed(inputs.numeric, inputs.values, &options, &to_encode).map_err(ml)?;
    let matrix = preparation
        .transform_mixed(inputs.values, inputs.texts)
        .map_err(ml)?;
    Ok((preparation, matrix))
}

/// The prepared columns' names as labels read them: a frequency-encoded
/// feature's column is its frequency (`high kyc risk rating frequency`),
/// not the feature itself.
fn label_names(preparation: &Preparation) -> Vec<String> {
    let numeric = preparation.features.iter().map(|f| vec![f.name.clone()]);
    let categorical = preparation.categorical.iter().map(|c| match c.encoding {
        Encoding::Frequency => vec![format!("{}_frequency", c.name)],
        Encoding::OneHot => c.names(),
    });
    numeric.chain(categorical).flatten().collect()
}

/// A categorical feature in each segment: its most frequent level and that
/// level's share of the segment's customers.
pub(crate) struct CategoryProfile {
    pub name: String,
    /// By published segment id.
    pub top: Vec<String>,
    pub share: Vec<f64>,
}

impl CategoryProfile {
    /// Counts `values` per segment (`ids`: each row's published id). Ties
    /// go to the level first in training order (most frequent overall,
    /// then by name), so the profile does not depend on row order.
    fn of(stats: &CategoricalStats, values: &[Option<&str>], ids: &[usize], k: usize) -> Self {
        let level_of: std::collections::HashMap<Option<&str>, usize> = stats
            .levels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.value.as_deref(), i))
            .collect();
        let mut counts = vec![vec![0u64; stats.levels.len()]; k];
        for (v, &id) in values.iter().zip(ids) {
            counts[id][level_of[v]] += 1;
        }
        let mut top = Vec::with_capacity(k);
        let mut share = Vec::with_capacity(k);
        for per_level in &counts {
            let total: u64 = per_level.iter().sum();
            let best = (0..per_level.len())
                .max_by_key(|&l| (per_level[l], std::cmp::Reverse(l)))
                .unwrap_or(0);
            top.push(stats.levels.get(best).map_or("", |l| l.name()).to_string());
            share.push(match total {
                0 => 0.0,
                _ => per_level[best] as f64 / total as f64,
            });
        }
        CategoryProfile {
            name: stats.name.clone(),
            top,
            share,
        }
    }
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
    fn a_segments_top_level_is_its_most_frequent_and_ties_go_to_training_order() {
        let values = [Some("b"), Some("a"), Some("a"), None, Some("b"), None];
        let prepared =
            Preparation::fit_mixed(&[], &[], &[], &[CategoricalColumn::new("kind", &values)])
                .unwrap();
        // Training order: a, b, missing (2 each: by name).
        let ids = [0, 0, 1, 1, 1, 1];
        let p = CategoryProfile::of(&prepared.categorical[0], &values, &ids, 2);
        assert_eq!(p.top, ["a", "missing"]);
        assert_eq!(p.share, [0.5, 0.5]);
    }

    #[test]
    fn the_largest_segment_is_published_as_zero_and_ties_keep_model_order() {
        assert_eq!(published_order(&[5, 9, 5, 1]), [1, 0, 2, 3]);
    }
}
