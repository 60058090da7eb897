//! Segment labels in words (`high cash share, high velocity`), from the
//! features with the largest |z| of each centre.

use std::collections::HashMap;

use ndarray::Array2;

/// A centre coordinate closer to 0 than this (in standard deviations) is
/// "typical".
const TYPICAL_Z: f64 = 0.25;

/// One label per centre, naming its `wanted` most distinctive features. A
/// label that two segments would share takes more features until it is
/// unique (and, failing that, the segment's index).
pub(crate) fn segment_labels(
    centres: &Array2<f64>,
    names: &[String],
    wanted: usize,
) -> Vec<String> {
    let k = centres.nrows();
    let ranked: Vec<Vec<usize>> = (0..k).map(|c| by_distinctiveness(centres, c)).collect();
    let phrase = |c: usize, n: usize| -> String {
        ranked[c]
            .iter()
            .take(n)
            .map(|&j| phrase_of(centres[[c, j]], &names[j]))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut width = vec![wanted.min(names.len()); k];
    loop {
        let labels: Vec<String> = (0..k).map(|c| phrase(c, width[c])).collect();
        let mut grew = false;
        for c in 0..k {
            if labels.iter().filter(|l| **l == labels[c]).count() > 1 && width[c] < names.len() {
                width[c] += 1;
                grew = true;
            }
        }
        if !grew {
            return numbered_duplicates(labels);
        }
    }
}

/// Feature indices of centre `c`, largest |z| first, ties by index.
fn by_distinctiveness(centres: &Array2<f64>, c: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..centres.ncols()).collect();
    idx.sort_by(|&a, &b| {
        centres[[c, b]]
            .abs()
            .total_cmp(&centres[[c, a]].abs())
            .then(a.cmp(&b))
    });
    idx
}

fn level(z: f64) -> &'static str {
    if z.abs() < TYPICAL_Z {
        "typical"
    } else if z > 0.0 {
        "high"
    } else {
        "low"
    }
}

/// One feature's part of a label: `high cash share`; for a one-hot
/// column (`feature=level`, whose centre is the share of the segment in
/// the level), `often kyc risk rating = high` or `rarely ...`.
fn phrase_of(z: f64, name: &str) -> String {
    match name.split_once('=') {
        Some((feature, value)) => {
            let how = match level(z) {
                "high" => "often",
                "low" => "rarely",
                typical => typical,
            };
            format!("{how} {} = {value}", readable(feature))
        }
        None => format!("{} {}", level(z), readable(name)),
    }
}

/// Labels still equal after using every feature get ` (2)`, ` (3)`, ...
fn numbered_duplicates(labels: Vec<String>) -> Vec<String> {
    let mut seen = HashMap::new();
    labels
        .into_iter()
        .map(|l| {
            let n = seen.entry(l.clone()).or_insert(0);
            *n += 1;
            if *n > 1 { format!("{l} ({n})") } else { l }
        })
        .collect()
}

/// `txn_volume_eur` -> `txn volume`: units are in the profile, not the label.
fn readable(feature: &str) -> String {
    let base = feature
        .strip_suffix("_eur")
        .or_else(|| feature.strip_suffix("_s"))
        .unwrap_or(feature);
    base.replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_the_most_distinctive_features_and_stay_unique() {
        let centres = ndarray::array![[2.0, 0.1, -1.0], [2.0, 0.1, 1.0], [0.0, 0.0, 0.0]];
        let names = ["cash_share".to_string(), "age".into(), "volume_eur".into()];
        let labels = segment_labels(&centres, &names, 1);
        assert_eq!(
            labels,
            [
                "high cash share, low volume",
                "high cash share, high volume",
                "typical cash share"
            ]
        );
    }

    #[test]
    fn a_one_hot_column_is_named_with_its_level() {
        let centres = ndarray::array![[0.1, 0.6], [0.1, -0.6]];
        let names = ["age".to_string(), "kyc_risk_rating=high".into()];
        let labels = segment_labels(&centres, &names, 1);
        assert_eq!(
            labels,
            [
                "often kyc risk rating = high",
                "rarely kyc risk rating = high"
            ]
        );
    }
}
