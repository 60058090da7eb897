//! Clustering quality metrics, defined exactly as scikit-learn's
//! `silhouette_score`, `davies_bouldin_score`, `calinski_harabasz_score` and
//! `adjusted_rand_score` (the tests compare against fixtures it produced).
//! All arithmetic is f64; per-row results are summed in row order.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

fn label_count(labels: &[u32]) -> usize {
    labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0)
}

fn sq_dist(a: ndarray::ArrayView1<f32>, b: ndarray::ArrayView1<f32>) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64) * (x as f64 - y as f64))
        .sum()
}

/// Per-cluster means and sizes.
fn centroids(x: ArrayView2<f32>, labels: &[u32], k: usize) -> (Array2<f64>, Vec<usize>) {
    let mut sums = Array2::<f64>::zeros((k, x.ncols()));
    let mut sizes = vec![0usize; k];
    for (row, &l) in x.rows().into_iter().zip(labels) {
        let l = l as usize;
        sizes[l] += 1;
        for (s, &v) in sums.row_mut(l).iter_mut().zip(row) {
            *s += v as f64;
        }
    }
    for (mut row, &n) in sums.rows_mut().into_iter().zip(&sizes) {
        if n > 0 {
            row.mapv_inplace(|s| s / n as f64);
        }
    }
    (sums, sizes)
}

/// Mean silhouette coefficient over all rows (O(n^2): call it on a sample).
/// A row alone in its cluster scores 0, as in scikit-learn.
pub fn silhouette(x: ArrayView2<f32>, labels: &[u32]) -> f64 {
    let k = label_count(labels);
    let n = x.nrows();
    let mut sizes = vec![0usize; k];
    for &l in labels {
        sizes[l as usize] += 1;
    }
    let scores: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| {
            let own = labels[i] as usize;
            if sizes[own] <= 1 {
                return 0.0;
            }
            let mut totals = vec![0f64; k];
            let xi = x.row(i);
            for (j, row) in x.rows().into_iter().enumerate() {
                if j != i {
                    totals[labels[j] as usize] += sq_dist(xi, row).sqrt();
                }
            }
            let a = totals[own] / (sizes[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own && sizes[c] > 0)
                .map(|c| totals[c] / sizes[c] as f64)
                .fold(f64::INFINITY, f64::min);
            if !b.is_finite() {
                return 0.0;
            }
            let m = a.max(b);
            if m == 0.0 { 0.0 } else { (b - a) / m }
        })
        .collect();
    scores.iter().sum::<f64>() / n as f64
}

/// Davies-Bouldin index (lower is better).
pub fn davies_bouldin(x: ArrayView2<f32>, labels: &[u32]) -> f64 {
    let k = label_count(labels);
    let (centres, sizes) = centroids(x, labels, k);
    let mut intra = vec![0f64; k];
    for (row, &l) in x.rows().into_iter().zip(labels) {
        let l = l as usize;
        let d: f64 = row
            .iter()
            .zip(centres.row(l))
            .map(|(&v, &c)| (v as f64 - c) * (v as f64 - c))
            .sum();
        intra[l] += d.sqrt();
    }
    for (s, &n) in intra.iter_mut().zip(&sizes) {
        if n > 0 {
            *s /= n as f64;
        }
    }
    let between = |a: usize, b: usize| -> f64 {
        centres
            .row(a)
            .iter()
            .zip(centres.row(b))
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f64>()
            .sqrt()
    };
    if intra.iter().all(|&s| s.abs() < 1e-15) {
        return 0.0;
    }
    let mut total = 0.0;
    for a in 0..k {
        let mut worst = 0f64;
        for b in 0..k {
            if a != b {
                let d = between(a, b);
                let ratio = if d == 0.0 {
                    0.0
                } else {
                    (intra[a] + intra[b]) / d
                };
                worst = worst.max(ratio);
            }
        }
        total += worst;
    }
    total / k as f64
}

/// Calinski-Harabasz index (variance ratio; higher is better).
pub fn calinski_harabasz(x: ArrayView2<f32>, labels: &[u32]) -> f64 {
    let k = label_count(labels);
    let n = x.nrows();
    let (centres, sizes) = centroids(x, labels, k);
    let mut mean = vec![0f64; x.ncols()];
    for row in x.rows() {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut extra = 0.0;
    for (c, &size) in sizes.iter().enumerate() {
        let d: f64 = centres
            .row(c)
            .iter()
            .zip(&mean)
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        extra += size as f64 * d;
    }
    let mut intra = 0.0;
    for (row, &l) in x.rows().into_iter().zip(labels) {
        intra += row
            .iter()
            .zip(centres.row(l as usize))
            .map(|(&v, &c)| (v as f64 - c) * (v as f64 - c))
            .sum::<f64>();
    }
    if intra == 0.0 {
        1.0
    } else {
        extra * (n - k) as f64 / (intra * (k - 1) as f64)
    }
}

/// Adjusted Rand index between two labelings of the same rows.
pub fn adjusted_rand_index(truth: &[u32], predicted: &[u32]) -> f64 {
    let n = truth.len();
    let kt = label_count(truth);
    let kp = label_count(predicted);
    let mut table = vec![0u64; kt * kp];
    for (&t, &p) in truth.iter().zip(predicted) {
        table[t as usize * kp + p as usize] += 1;
    }
    let comb2 = |v: u64| (v * v.saturating_sub(1)) as f64 / 2.0;
    let rows: f64 = (0..kt)
        .map(|t| comb2(table[t * kp..(t + 1) * kp].iter().sum()))
        .sum();
    let cols: f64 = (0..kp)
        .map(|p| comb2((0..kt).map(|t| table[t * kp + p]).sum()))
        .sum();
    let cells: f64 = table.iter().map(|&v| comb2(v)).sum();
    let expected = rows * cols / comb2(n as u64);
    let max = (rows + cols) / 2.0;
    if max == expected {
        return 1.0;
    }
    (cells - expected) / (max - expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ari_by_hand() {
        // Identical partitions up to renaming: 1. The classic example
        // adjusted_rand_score([0,0,1,1], [0,0,1,2]) = 0.5714285714285715.
        assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &[1, 1, 0, 0]), 1.0);
        let ari = adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 2]);
        assert!((ari - 0.5714285714285715).abs() < 1e-12, "{ari}");
    }
}

/// Area under the ROC curve (ties between scores count one half), as
/// scikit-learn's `roc_auc_score`. NaN when `y` has one class only.
pub fn roc_auc(y: &[bool], score: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let positives = y.iter().filter(|&&v| v).count() as f64;
    let negatives = y.len() as f64 - positives;
    // Mann-Whitney U: sum of the positives' (average) ranks.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && score[order[j + 1]] == score[order[i]] {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += order[i..=j].iter().filter(|&&k| y[k]).count() as f64 * average_rank;
        i = j + 1;
    }
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

/// Area under the precision-recall curve as scikit-learn's
/// `average_precision_score`: sum over thresholds of (recall step) x
/// precision.
pub fn average_precision(y: &[bool], score: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let positives = y.iter().filter(|&&v| v).count() as f64;
    let (mut tp, mut fp, mut ap, mut last_recall) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j < order.len() && score[order[j]] == score[order[i]] {
            if y[order[j]] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            j += 1;
        }
        let recall = tp / positives;
        ap += (recall - last_recall) * tp / (tp + fp);
        last_recall = recall;
        i = j;
    }
    ap
}

/// Mean binary log-loss, probabilities clipped to [1e-15, 1 - 1e-15].
pub fn log_loss(y: &[bool], p: &[f64]) -> f64 {
    let total: f64 = y
        .iter()
        .zip(p)
        .map(|(&y, &p)| {
            let p = p.clamp(1e-15, 1.0 - 1e-15);
            if y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    total / y.len() as f64
}

#[cfg(test)]
mod classification_tests {
    use super::*;

    #[test]
    fn auc_and_average_precision_by_hand() {
        // scikit-learn: roc_auc_score([0,0,1,1],[0.1,0.4,0.35,0.8]) = 0.75,
        // average_precision_score(...) = 0.8333...
        let y = [false, false, true, true];
        let s = [0.1, 0.4, 0.35, 0.8];
        assert!((roc_auc(&y, &s) - 0.75).abs() < 1e-12);
        assert!((average_precision(&y, &s) - 5.0 / 6.0).abs() < 1e-12);
        // Ties count one half.
        assert!((roc_auc(&[false, true], &[0.5, 0.5]) - 0.5).abs() < 1e-12);
        let ll = log_loss(&[true, false], &[0.8, 0.2]);
        assert!((ll - -(0.8f64.ln())).abs() < 1e-12);
    }
}
