//! Platt scaling: a logistic map `p = 1 / (1 + exp(-(a * margin + b)))`
//! fitted on held-out rows, with Platt's smoothed targets
//! ((positives + 1) / (positives + 2) and 1 / (negatives + 2)) so that a
//! perfectly separated validation set does not send `a` to infinity. The
//! map is increasing (when a > 0), so ranking metrics do not change.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    pub a: f64,
    pub b: f64,
}

fn loss(margins: &[f64], targets: &[f64], a: f64, b: f64) -> f64 {
    margins
        .iter()
        .zip(targets)
        .map(|(&m, &t)| {
            let z = a * m + b;
            // log(1 + e^z) - t z, computed without overflow.
            let softplus = if z > 0.0 {
                z + (-z).exp().ln_1p()
            } else {
                z.exp().ln_1p()
            };
            softplus - t * z
        })
        .sum()
}

impl Platt {
    /// Newton's method with step halving, from the identity map (a = 1,
    /// b = 0: the booster's own probabilities).
    pub fn fit(margins: &[f64], labels: &[bool]) -> Platt {
        let positives = labels.iter().filter(|&&y| y).count() as f64;
        let negatives = labels.len() as f64 - positives;
        let hi = (positives + 1.0) / (positives + 2.0);
        let lo = 1.0 / (negatives + 2.0);
        let targets: Vec<f64> = labels.iter().map(|&y| if y { hi } else { lo }).collect();
        let (mut a, mut b) = (1.0f64, 0.0f64);
        let mut current = loss(margins, &targets, a, b);
        for _ in 0..100 {
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for (&m, &t) in margins.iter().zip(&targets) {
                let p = 1.0 / (1.0 + (-(a * m + b)).exp());
                let d = p - t;
                let w = (p * (1.0 - p)).max(1e-12);
                ga += d * m;
                gb += d;
                haa += w * m * m;
                hab += w * m;
                hbb += w;
            }
            // A tiny ridge keeps the 2x2 system solvable.
            haa += 1e-12;
            hbb += 1e-12;
            let det = haa * hbb - hab * hab;
            if det <= 0.0 || !det.is_finite() {
                break;
            }
            let da = (hbb * ga - hab * gb) / det;
            let db = (haa * gb - hab * ga) / det;
            let mut step = 1.0;
            let mut improved = false;
            while step > 1e-10 {
                let (na, nb) = (a - step * da, b - step * db);
                let next = loss(margins, &targets, na, nb);
                if next < current {
                    let done = current - next < 1e-12 * current.abs().max(1.0);
                    (a, b, current) = (na, nb, next);
                    improved = !done;
                    break;
                }
                step /= 2.0;
            }
            if !improved {
                break;
            }
        }
        Platt { a, b }
    }

    pub fn probability(&self, margin: f64) -> f64 {
        1.0 / (1.0 + (-(self.a * margin + self.b)).exp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_logistic_map() {
        // Margins on a grid, labels in exact proportion to sigmoid(2m - 1):
        // the fit must find a ~ 2, b ~ -1 (smoothing moves it slightly).
        let mut margins = Vec::new();
        let mut labels = Vec::new();
        for i in 0..=40 {
            let m = -2.0 + i as f64 * 0.1;
            let p = 1.0 / (1.0 + (-(2.0 * m - 1.0)).exp());
            let pos = (p * 1000.0).round() as usize;
            for k in 0..1000 {
                margins.push(m);
                labels.push(k < pos);
            }
        }
        let c = Platt::fit(&margins, &labels);
        assert!((c.a - 2.0).abs() < 0.01, "{c:?}");
        assert!((c.b + 1.0).abs() < 0.01, "{c:?}");
    }
}
