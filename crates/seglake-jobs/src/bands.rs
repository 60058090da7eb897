//! Risk bands: the score thresholds that meet each band's target (an alert
//! rate, or a recall of the held-out positives), for all customers and,
//! with `per_segment`, per segment.

use seglake_model::Thresholds;
use seglake_spec::{BandTarget, RiskSpec};

use crate::risk_labels::Labels;

/// The labelled customers a model is judged on.
pub(crate) struct Evaluation<'a> {
    /// Indices into the feature table: the held-out split, or every
    /// labelled customer without one.
    pub rows: Vec<usize>,
    /// Whether `rows` is a held-out split.
    pub held_out: bool,
    pub keys: &'a [String],
    pub labels: &'a Labels,
}

impl Evaluation<'_> {
    pub fn label(&self, row: usize) -> bool {
        self.labels[&self.keys[row]]
    }
}

/// The number of segments: one past the largest id.
pub(crate) fn segment_count(segment_ids: &[i32]) -> usize {
    segment_ids
        .iter()
        .map(|&s| s as usize + 1)
        .max()
        .unwrap_or(1)
}

/// The customers of segment `s`, ascending.
pub(crate) fn members_of(segment_ids: &[i32], s: usize) -> Vec<usize> {
    (0..segment_ids.len())
        .filter(|&i| segment_ids[i] as usize == s)
        .collect()
}

/// Every band's threshold, globally and (with `per_segment`) per segment.
/// A segment where some recall target has no held-out positive to meet
/// takes the global thresholds and is listed in `global_fallback`.
pub(crate) fn thresholds(
    spec: &RiskSpec,
    scores: &[f64],
    segment_ids: &[i32],
    evaluation: &Evaluation,
) -> Thresholds {
    let of_group = |members: &[usize]| -> Vec<Option<f64>> {
        spec.bands
            .iter()
            .map(|b| group_threshold(members, b.target, scores, evaluation))
            .collect()
    };
    let everyone: Vec<usize> = (0..scores.len()).collect();
    let global: Vec<f64> = of_group(&everyone)
        .into_iter()
        .map(|t| t.unwrap_or(f64::INFINITY))
        .collect();
    let mut global_fallback = Vec::new();
    let per_segment = spec.per_segment.then(|| {
        (0..segment_count(segment_ids))
            .map(|s| {
                let t = of_group(&members_of(segment_ids, s));
                if t.iter().any(Option::is_none) {
                    global_fallback.push(s);
                    global.clone()
                } else {
                    t.into_iter().map(|v| v.expect("checked")).collect()
                }
            })
            .collect::<Vec<Vec<f64>>>()
    });
    Thresholds {
        global,
        per_segment,
        global_fallback,
    }
}

/// The threshold that meets `target` among `members` (ascending indices);
/// `None` for a recall target without a held-out positive among them.
fn group_threshold(
    members: &[usize],
    target: BandTarget,
    scores: &[f64],
    evaluation: &Evaluation,
) -> Option<f64> {
    match target {
        BandTarget::AlertRate(r) => Some(top_share_threshold(
            members.iter().map(|&i| scores[i]).collect(),
            r,
        )),
        BandTarget::Recall(q) => {
            let positives: Vec<f64> = evaluation
                .rows
                .iter()
                .filter(|&&i| evaluation.label(i) && members.binary_search(&i).is_ok())
                .map(|&i| scores[i])
                .collect();
            (!positives.is_empty()).then(|| top_share_threshold(positives, q))
        }
    }
}

/// The threshold that puts `share` of `scores` (or more, on ties) at or
/// above it.
fn top_share_threshold(mut scores: Vec<f64>, share: f64) -> f64 {
    if scores.is_empty() {
        return f64::INFINITY;
    }
    scores.sort_by(|a, b| b.total_cmp(a));
    let take = ((share * scores.len() as f64).ceil() as usize).clamp(1, scores.len());
    scores[take - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_two_percent_alert_rate_puts_the_top_two_of_a_hundred_in_the_band() {
        let scores: Vec<f64> = (0..100).map(|i| i as f64 / 100.0).collect();
        assert_eq!(top_share_threshold(scores, 0.02), 0.98);
    }

    #[test]
    fn no_scores_means_no_customer_reaches_the_band() {
        assert_eq!(top_share_threshold(vec![], 0.5), f64::INFINITY);
    }
}
