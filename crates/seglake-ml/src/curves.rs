//! The curves behind a binary classifier's summary numbers, as scikit-learn
//! draws them: ROC (`roc_curve` with `drop_intermediate=False`),
//! precision-recall (`precision_recall_curve`), reliability
//! (`calibration_curve(strategy="uniform")`) and score histograms by label.
//!
//! They are computed where [`crate::metrics::roc_auc`] is, on the same
//! held-out rows, and stored with the model's metrics, so a report draws
//! exactly the points the published AUC summarises.

use serde::Serialize;

/// One threshold of the ROC curve: customers scored at or above
/// `threshold` are called positive. The first point has an infinite
/// threshold (nobody called), stored as `None`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RocPoint {
    pub threshold: Option<f64>,
    pub fpr: f64,
    pub tpr: f64,
}

/// One threshold of the precision-recall curve. The last point (recall 0,
/// precision 1) has no threshold, as in scikit-learn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrPoint {
    pub threshold: Option<f64>,
    pub precision: f64,
    pub recall: f64,
}

/// One bin of the reliability curve: the mean predicted probability of the
/// customers in [lower, upper) against the share of them labelled positive.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReliabilityBin {
    pub lower: f64,
    pub upper: f64,
    pub customers: usize,
    pub mean_predicted: f64,
    pub observed_rate: f64,
}

/// One bin of the score distribution, counted by label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreBin {
    pub lower: f64,
    pub upper: f64,
    pub positives: usize,
    pub negatives: usize,
}

/// Cumulative (false, true) positive counts at each distinct score, from
/// the highest score down.
fn cumulative_counts(y: &[bool], score: &[f64]) -> Vec<(f64, f64, f64)> {
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut out = Vec::new();
    let mut i = 0;
    while i < order.len() {
        let threshold = score[order[i]];
        while i < order.len() && score[order[i]] == threshold {
            if y[order[i]] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        out.push((threshold, fp, tp));
    }
    out
}

/// The ROC curve at every distinct score. Empty when `y` has one class.
pub fn roc_curve(y: &[bool], score: &[f64]) -> Vec<RocPoint> {
    let counts = cumulative_counts(y, score);
    let Some(&(_, negatives, positives)) = counts.last() else {
        return Vec::new();
    };
    if negatives == 0.0 || positives == 0.0 {
        return Vec::new();
    }
    let start = RocPoint {
        threshold: None,
        fpr: 0.0,
        tpr: 0.0,
    };
    std::iter::once(start)
        .chain(counts.iter().map(|&(t, fp, tp)| RocPoint {
            threshold: Some(t),
            fpr: fp / negatives,
            tpr: tp / positives,
        }))
        .collect()
}

/// The precision-recall curve at every distinct score, lowest threshold
/// first, ending at (recall 0, precision 1). Empty without positives.
pub fn precision_recall_curve(y: &[bool], score: &[f64]) -> Vec<PrPoint> {
    let counts = cumulative_counts(y, score);
    let positives = counts.last().map_or(0.0, |c| c.2);
    if positives == 0.0 {
        return Vec::new();
    }
    let mut points: Vec<PrPoint> = counts
        .iter()
        .rev()
        .map(|&(t, fp, tp)| PrPoint {
            threshold: Some(t),
            precision: tp / (tp + fp),
            recall: tp / positives,
        })
        .collect();
    points.push(PrPoint {
        threshold: None,
        precision: 1.0,
        recall: 0.0,
    });
    points
}

/// Which of `bins` equal-width bins over [0, 1] holds `p` (1.0 in the last).
fn bin_of(p: f64, bins: usize) -> usize {
    ((p.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1)
}

/// The reliability curve over `bins` equal-width bins of [0, 1]; empty bins
/// are left out, as scikit-learn's `calibration_curve` does.
pub fn reliability_curve(y: &[bool], p: &[f64], bins: usize) -> Vec<ReliabilityBin> {
    let mut sum_p = vec![0.0; bins];
    let mut positives = vec![0usize; bins];
    let mut count = vec![0usize; bins];
    for (&label, &prob) in y.iter().zip(p) {
        let b = bin_of(prob, bins);
        sum_p[b] += prob;
        positives[b] += usize::from(label);
        count[b] += 1;
    }
    (0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| ReliabilityBin {
            lower: b as f64 / bins as f64,
            upper: (b + 1) as f64 / bins as f64,
            customers: count[b],
            mean_predicted: sum_p[b] / count[b] as f64,
            observed_rate: positives[b] as f64 / count[b] as f64,
        })
        .collect()
}

/// Scores counted by label in `bins` equal-width bins of [0, 1], empty
/// bins included (a histogram's gaps are information).
pub fn score_histogram(y: &[bool], p: &[f64], bins: usize) -> Vec<ScoreBin> {
    let mut out: Vec<ScoreBin> = (0..bins)
        .map(|b| ScoreBin {
            lower: b as f64 / bins as f64,
            upper: (b + 1) as f64 / bins as f64,
            positives: 0,
            negatives: 0,
        })
        .collect();
    for (&label, &prob) in y.iter().zip(p) {
        let bin = &mut out[bin_of(prob, bins)];
        if label {
            bin.positives += 1;
        } else {
            bin.negatives += 1;
        }
    }
    out
}

/// At most `max` points of a curve: the first, the last and points evenly
/// spaced between them by index, so a curve over a million customers stays
/// small enough to draw and store. `max` below 2 keeps the ends.
pub fn thin<T: Clone>(points: &[T], max: usize) -> Vec<T> {
    let max = max.max(2);
    if points.len() <= max {
        return points.to_vec();
    }
    let last = points.len() - 1;
    (0..max)
        .map(|i| points[i * last / (max - 1)].clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{average_precision, roc_auc};

    // scikit-learn 1.7, y = [0, 0, 1, 1], s = [0.1, 0.4, 0.35, 0.8]:
    //   roc_curve(y, s, drop_intermediate=False)
    //     fpr [0, 0, 0.5, 0.5, 1], tpr [0, 0.5, 0.5, 1, 1],
    //     thresholds [inf, 0.8, 0.4, 0.35, 0.1]
    //   precision_recall_curve(y, s)
    //     precision [0.5, 0.6667, 0.5, 1, 1], recall [1, 1, 0.5, 0.5, 0],
    //     thresholds [0.1, 0.35, 0.4, 0.8]
    const Y: [bool; 4] = [false, false, true, true];
    const S: [f64; 4] = [0.1, 0.4, 0.35, 0.8];

    #[test]
    fn roc_curve_as_scikit_learn() {
        let roc = roc_curve(&Y, &S);
        let fpr: Vec<f64> = roc.iter().map(|p| p.fpr).collect();
        let tpr: Vec<f64> = roc.iter().map(|p| p.tpr).collect();
        let thresholds: Vec<Option<f64>> = roc.iter().map(|p| p.threshold).collect();
        assert_eq!(fpr, [0.0, 0.0, 0.5, 0.5, 1.0]);
        assert_eq!(tpr, [0.0, 0.5, 0.5, 1.0, 1.0]);
        assert_eq!(
            thresholds,
            [None, Some(0.8), Some(0.4), Some(0.35), Some(0.1)]
        );
    }

    #[test]
    fn precision_recall_curve_as_scikit_learn() {
        let pr = precision_recall_curve(&Y, &S);
        let precision: Vec<f64> = pr.iter().map(|p| p.precision).collect();
        let recall: Vec<f64> = pr.iter().map(|p| p.recall).collect();
        let thresholds: Vec<Option<f64>> = pr.iter().map(|p| p.threshold).collect();
        assert_eq!(precision, [0.5, 2.0 / 3.0, 0.5, 1.0, 1.0]);
        assert_eq!(recall, [1.0, 1.0, 0.5, 0.5, 0.0]);
        assert_eq!(
            thresholds,
            [Some(0.1), Some(0.35), Some(0.4), Some(0.8), None]
        );
    }

    /// The curves summarise to the published numbers: the trapezoids under
    /// the ROC curve are the AUC, the recall steps times precision the AP.
    #[test]
    fn curves_integrate_to_the_summary_metrics() {
        let n = 500;
        let y: Vec<bool> = (0..n).map(|i| (i * 7919) % 3 == 0).collect();
        // Scores that carry signal and ties (rounded to 2 decimals).
        let s: Vec<f64> = (0..n)
            .map(|i| {
                let noise = ((i * 104_729) % 1000) as f64 / 1000.0;
                let base = if y[i] { 0.3 } else { 0.0 };
                ((base + 0.7 * noise) * 100.0).round() / 100.0
            })
            .collect();
        let roc = roc_curve(&y, &s);
        let area: f64 = roc
            .windows(2)
            .map(|w| (w[1].fpr - w[0].fpr) * (w[1].tpr + w[0].tpr) / 2.0)
            .sum();
        assert!((area - roc_auc(&y, &s)).abs() < 1e-12, "{area}");
        let pr = precision_recall_curve(&y, &s);
        let ap: f64 = pr
            .windows(2)
            .map(|w| (w[0].recall - w[1].recall) * w[0].precision)
            .sum();
        assert!((ap - average_precision(&y, &s)).abs() < 1e-12, "{ap}");
    }

    #[test]
    fn one_class_has_no_curves() {
        assert!(roc_curve(&[true, true], &[0.2, 0.9]).is_empty());
        assert!(precision_recall_curve(&[false, false], &[0.2, 0.9]).is_empty());
    }

    #[test]
    fn reliability_by_hand() {
        // Bins of 0.5: [0.1, 0.4] -> mean 0.25, 0 of 2 positive;
        // [0.6, 0.8, 1.0] -> mean 0.8, 2 of 3 positive.
        let y = [false, false, true, false, true];
        let p = [0.1, 0.4, 0.6, 0.8, 1.0];
        let bins = reliability_curve(&y, &p, 2);
        assert_eq!(bins.len(), 2);
        assert_eq!((bins[0].customers, bins[0].observed_rate), (2, 0.0));
        assert!((bins[0].mean_predicted - 0.25).abs() < 1e-12);
        assert_eq!(bins[1].customers, 3);
        assert!((bins[1].mean_predicted - 0.8).abs() < 1e-12);
        assert!((bins[1].observed_rate - 2.0 / 3.0).abs() < 1e-12);
        // Empty bins are left out.
        assert_eq!(reliability_curve(&y, &p, 10).len(), 5);
    }

    #[test]
    fn histogram_counts_every_score_once() {
        let y = [false, true, true, false];
        let p = [0.0, 0.05, 0.5, 1.0];
        let h = score_histogram(&y, &p, 10);
        assert_eq!(h.len(), 10);
        assert_eq!((h[0].negatives, h[0].positives), (1, 1));
        assert_eq!(h[5].positives, 1);
        assert_eq!(h[9].negatives, 1);
        let total: usize = h.iter().map(|b| b.positives + b.negatives).sum();
        assert_eq!(total, 4);
    }

    #[test]
    fn thinning_keeps_the_ends() {
        let points: Vec<usize> = (0..1000).collect();
        let t = thin(&points, 5);
        assert_eq!(t, [0, 249, 499, 749, 999]);
        assert_eq!(thin(&points[..3], 5), [0, 1, 2]);
    }
}
