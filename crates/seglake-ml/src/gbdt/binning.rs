//! Quantile binning, computed once before training and stored in the model.
//!
//! Each feature gets at most `max_bins` value bins (<= 255) described by
//! their upper edges; bin 255 is reserved for missing values (NaN). A value
//! `v` falls in the first bin whose edge is `>= v`, so "bin <= b" during
//! training is exactly "v <= edges[b]" at prediction time: a model scores raw
//! values the same way it was trained on bins.
//!
//! A categorical feature's bins are its category codes (bin = code, codes
//! 0 to [`MAX_CATEGORIES`] - 1); every value that is not one of the codes
//! seen in training (NaN, a negative or non-integer value, a larger code)
//! shares the missing bin, which a categorical split always sends right.

use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The bin that holds missing values of every feature.
pub const MISSING_BIN: u8 = u8::MAX;

/// Most category codes a categorical feature can have: one bin per code,
/// below [`MISSING_BIN`].
pub const MAX_CATEGORIES: usize = MISSING_BIN as usize;

/// One feature's value bins: upper edges for a numeric feature (the last
/// bin is unbounded), the number of codes for a categorical one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureBins {
    /// Empty for a categorical feature.
    pub edges: Vec<f64>,
    /// `Some(k)`: a categorical feature with codes `0..k` (bin = code).
    /// Absent from the stored form of numeric features, so models stored
    /// before categorical features existed read back unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<u8>,
}

/// The category code a raw value stands for: a non-negative integer that
/// fits in `u32`; anything else (NaN included) is no code.
pub fn category_code(v: f64) -> Option<u32> {
    (v >= 0.0 && v <= u32::MAX as f64 && v.fract() == 0.0).then_some(v as u32)
}

impl FeatureBins {
    /// Bins from the non-missing values of a sample: midpoints between
    /// distinct values when there are few enough of them, otherwise the
    /// `i / max_bins` quantiles (scikit-learn's rule, midpoint interpolation).
    pub fn fit(mut values: Vec<f64>, max_bins: usize) -> FeatureBins {
        values.retain(|v| !v.is_nan());
        values.sort_unstable_by(f64::total_cmp);
        let mut distinct = values.clone();
        distinct.dedup();
        let edges: Vec<f64> = if distinct.len() <= max_bins {
            distinct
                .windows(2)
                .map(|w| w[0] + (w[1] - w[0]) / 2.0)
                .collect()
        } else {
            let n = values.len();
            let mut edges: Vec<f64> = (1..max_bins)
                .map(|i| {
                    // Midpoint of the two order statistics around quantile i/max_bins.
                    let pos = i as f64 / max_bins as f64 * (n - 1) as f64;
                    let lo = values[pos.floor() as usize];
                    let hi = values[pos.ceil() as usize];
                    lo + (hi - lo) / 2.0
                })
                .collect();
            edges.dedup();
            edges
        };
        FeatureBins {
            edges,
            categories: None,
        }
    }

    /// Bins of a categorical feature whose codes are `0..codes` (at most
    /// [`MAX_CATEGORIES`], which the caller checks).
    pub fn categorical(codes: u8) -> FeatureBins {
        FeatureBins {
            edges: Vec::new(),
            categories: Some(codes),
        }
    }

    pub fn is_categorical(&self) -> bool {
        self.categories.is_some()
    }

    /// Number of value bins (edges + 1, or the number of codes), not
    /// counting the missing bin.
    pub fn value_bins(&self) -> usize {
        match self.categories {
            Some(k) => k as usize,
            None => self.edges.len() + 1,
        }
    }

    pub fn bin(&self, v: f64) -> u8 {
        if let Some(k) = self.categories {
            return match category_code(v) {
                Some(c) if c < k as u32 => c as u8,
                _ => MISSING_BIN,
            };
        }
        if v.is_nan() {
            MISSING_BIN
        } else {
            self.edges.partition_point(|&e| e < v) as u8
        }
    }
}

/// The feature matrix as bins, twice: row-major (one row's bins are
/// contiguous, which is what histogram building over a leaf's rows reads)
/// and column-major (partitioning a leaf reads one feature of many rows).
/// At one byte per value the second copy is cheap.
pub struct BinnedMatrix {
    pub rows: usize,
    pub features: usize,
    pub bins: Vec<u8>,
    pub columns: Vec<Vec<u8>>,
}

impl BinnedMatrix {
    pub fn new(x: ArrayView2<f64>, bins: &[FeatureBins]) -> BinnedMatrix {
        let features = x.ncols();
        let mut out = vec![0u8; x.nrows() * features];
        if features > 0 {
            out.par_chunks_mut(features)
                .zip(x.axis_iter(Axis(0)).into_par_iter())
                .for_each(|(dst, row)| {
                    for ((d, &v), b) in dst.iter_mut().zip(row.iter()).zip(bins) {
                        *d = b.bin(v);
                    }
                });
        }
        let columns = (0..features)
            .into_par_iter()
            .map(|f| out.iter().skip(f).step_by(features).copied().collect())
            .collect();
        BinnedMatrix {
            rows: x.nrows(),
            features,
            bins: out,
            columns,
        }
    }

    pub fn row(&self, i: usize) -> &[u8] {
        &self.bins[i * self.features..(i + 1) * self.features]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_one_bin_each() {
        let b = FeatureBins::fit(vec![3.0, 1.0, 2.0, 2.0, f64::NAN], 255);
        assert_eq!(b.edges, vec![1.5, 2.5]);
        assert_eq!(
            [1.0, 1.5, 2.0, 2.5, 3.0, 99.0].map(|v| b.bin(v)),
            [0, 0, 1, 1, 2, 2]
        );
        assert_eq!(b.bin(f64::NAN), MISSING_BIN);
    }

    #[test]
    fn many_values_are_cut_at_quantiles() {
        let values: Vec<f64> = (0..1000).map(f64::from).collect();
        let b = FeatureBins::fit(values, 4);
        // Quantiles 0.25, 0.5, 0.75 of 0..=999 (midpoint of neighbours).
        assert_eq!(b.edges, vec![249.5, 499.5, 749.5]);
        assert_eq!(b.value_bins(), 4);
        assert_eq!([249.0, 250.0, 999.0].map(|v| b.bin(v)), [0, 1, 3]);
    }

    #[test]
    fn category_codes_are_their_bins_and_other_values_are_missing() {
        let b = FeatureBins::categorical(40);
        assert_eq!(b.value_bins(), 40);
        assert_eq!([0.0, 7.0, 39.0, -0.0].map(|v| b.bin(v)), [0, 7, 39, 0]);
        for other in [40.0, 1e12, -1.0, 2.5, f64::NAN, f64::INFINITY] {
            assert_eq!(b.bin(other), MISSING_BIN, "{other}");
        }
    }

    #[test]
    fn numeric_bins_store_as_before() {
        let b = FeatureBins::fit(vec![1.0, 2.0], 255);
        assert_eq!(serde_json::to_string(&b).unwrap(), r#"{"edges":[1.5]}"#);
        let old: FeatureBins = serde_json::from_str(r#"{"edges":[1.5]}"#).unwrap();
        assert_eq!(old, b);
    }
}
