//! Population stability index (PSI): how far a variable's distribution in
//! a new population has moved from a reference one.
//!
//! The reference's deciles cut the line into ten bins (numpy's default
//! linear quantiles; equal cut points merge, so a variable with few values
//! gets fewer bins), missing values (NaN) are a bin of their own, and
//!
//! ```text
//! PSI = sum over bins of (current% - reference%) * ln(current% / reference%)
//! ```
//!
//! with each share floored at [`SHARE_FLOOR`] so that an empty bin gives a
//! large but finite term. The usual reading: below 0.1 stable, 0.1 to 0.25
//! a moderate shift, above 0.25 act.

/// The number of quantile bins of the reference.
pub const BINS: usize = 10;

/// The smallest share a bin counts with (an empty bin's share).
pub const SHARE_FLOOR: f64 = 1e-4;

/// The interior cut points: the reference's quantiles at 1/`bins` ..
/// (`bins`-1)/`bins`, linearly interpolated as numpy's `quantile` does,
/// without repeats. Missing values are left out; none for an all-missing
/// reference.
pub fn quantile_edges(reference: &[f64], bins: usize) -> Vec<f64> {
    let mut sorted: Vec<f64> = reference.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return Vec::new();
    }
    sorted.sort_by(f64::total_cmp);
    let last = (sorted.len() - 1) as f64;
    let mut edges: Vec<f64> = (1..bins)
        .map(|i| {
            let position = last * i as f64 / bins as f64;
            let below = position.floor() as usize;
            let above = position.ceil() as usize;
            let fraction = position - below as f64;
            sorted[below] + (sorted[above] - sorted[below]) * fraction
        })
        .collect();
    edges.dedup();
    edges
}

/// The bin of `value`: how many edges lie at or below it (numpy's
/// `searchsorted(edges, value, side="right")`); missing values go to the
/// last bin, after the `edges.len() + 1` value bins.
fn bin_of(edges: &[f64], value: f64) -> usize {
    if value.is_nan() {
        return edges.len() + 1;
    }
    edges.partition_point(|edge| *edge <= value)
}

/// Each bin's share of `values`, floored at [`SHARE_FLOOR`].
fn shares(edges: &[f64], values: &[f64]) -> Vec<f64> {
    let mut counts = vec![0u64; edges.len() + 2];
    for v in values {
        counts[bin_of(edges, *v)] += 1;
    }
    let n = values.len().max(1) as f64;
    counts
        .iter()
        .map(|c| (*c as f64 / n).max(SHARE_FLOOR))
        .collect()
}

/// The PSI of `current` against `reference`, binned by the reference's
/// deciles; `None` when either population is empty.
pub fn psi(reference: &[f64], current: &[f64]) -> Option<f64> {
    if reference.is_empty() || current.is_empty() {
        return None;
    }
    let edges = quantile_edges(reference, BINS);
    let before = shares(&edges, reference);
    let after = shares(&edges, current);
    Some(
        before
            .iter()
            .zip(&after)
            .map(|(r, c)| (c - r) * (c / r).ln())
            .sum(),
    )
}

/// The usual reading of a PSI value.
pub fn reading(psi: f64) -> &'static str {
    if psi < 0.1 {
        "stable"
    } else if psi <= 0.25 {
        "moderate"
    } else {
        "act"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_numpy_linear_quantiles_without_repeats() {
        // numpy.quantile(range(11), [0.1, ..., 0.9]) = 1.0 .. 9.0
        let reference: Vec<f64> = (0..11).map(f64::from).collect();
        assert_eq!(
            quantile_edges(&reference, 10),
            (1..10).map(f64::from).collect::<Vec<_>>()
        );
        // numpy.quantile([0, 1], 0.25) = 0.25
        assert_eq!(
            quantile_edges(&[1.0, 0.0, f64::NAN], 4),
            vec![0.25, 0.5, 0.75]
        );
        assert_eq!(quantile_edges(&[3.0; 7], 10), vec![3.0]);
    }

    #[test]
    fn the_same_population_has_no_drift() {
        let values: Vec<f64> = (0..1000).map(|i| (i * 37 % 101) as f64).collect();
        assert_eq!(psi(&values, &values), Some(0.0));
    }

    #[test]
    fn a_hand_computed_shift() {
        // Reference 0..9 (edges 0.9, 1.8, .., 8.1: one value per bin);
        // current: five values in the first bin, five in the last.
        let reference: Vec<f64> = (0..10).map(f64::from).collect();
        let current = [0.0, 0.0, 0.0, 0.0, 0.0, 9.0, 9.0, 9.0, 9.0, 9.0];
        // Two bins go 0.1 -> 0.5, eight go 0.1 -> the floor (1e-4); the
        // missing-value bin is at the floor in both.
        let expected = 2.0 * (0.4 * 5f64.ln()) + 8.0 * ((1e-4 - 0.1) * (1e-4f64 / 0.1).ln());
        assert!((psi(&reference, &current).unwrap() - expected).abs() < 1e-12);
    }

    #[test]
    fn missing_values_are_a_bin_of_their_own() {
        let reference: Vec<f64> = (0..100).map(f64::from).collect();
        let mut current = reference.clone();
        current[..50].fill(f64::NAN);
        assert!(psi(&reference, &current).unwrap() > 0.25);
        assert_eq!(psi(&[], &current), None);
    }

    #[test]
    fn readings_at_their_boundaries() {
        assert_eq!(reading(0.099), "stable");
        assert_eq!(reading(0.1), "moderate");
        assert_eq!(reading(0.25), "moderate");
        assert_eq!(reading(0.2501), "act");
    }
}
