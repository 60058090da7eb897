//! Quantile binning, computed once before training and stored in the model.
//!
//! Each feature gets at most `max_bins` value bins (<= 255) described by
//! their upper edges; bin 255 is reserved for missing values (NaN). A value
//! `v` falls in the first bin whose edge is `>= v`, so "bin <= b" during
//! training is exactly "v <= edges[b]" at prediction time: a model scores raw
//! values the same way it was trained on bins.

use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The bin that holds missing values of every feature.
pub const MISSING_BIN: u8 = u8::MAX;

/// Upper edges of one feature's value bins (the last bin is unbounded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureBins {
    pub edges: Vec<f64>,
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
        FeatureBins { edges }
    }

    /// Number of value bins (edges + 1), not counting the missing bin.
    pub fn value_bins(&self) -> usize {
        self.edges.len() + 1
    }

    pub fn bin(&self, v: f64) -> u8 {
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
}
