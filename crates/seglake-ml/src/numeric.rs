//! One numeric feature's preparation: the options (clipping quantiles, log
//! mode), its fitted statistics and how a value is transformed and
//! inverted. It depends on nothing else in the crate: the model-wide
//! preparation and the categorical encodings build on it, not the reverse.

use serde::{Deserialize, Serialize};

use crate::error::{MlError, Result};

/// When to apply the log transform to a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogMode {
    Never,
    Always,
    /// When the (clipped) feature is non-negative and its skewness is above
    /// [`AUTO_LOG_SKEWNESS`]: counts and amounts with a long right tail.
    Auto,
}

/// The skewness above which [`LogMode::Auto`] logs a non-negative feature.
pub const AUTO_LOG_SKEWNESS: f64 = 2.0;

/// How to prepare one feature.
#[derive(Debug, Clone, PartialEq)]
pub struct PrepareOptions {
    /// Quantiles `(low, high)` to clip to, `None` for no clipping.
    pub clip: Option<(f64, f64)>,
    pub log: LogMode,
    pub standardise: bool,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        PrepareOptions {
            clip: Some((0.005, 0.995)),
            log: LogMode::Auto,
            standardise: true,
        }
    }
}

impl PrepareOptions {
    pub fn check(&self) -> Result<()> {
        if let Some((low, high)) = self.clip
            && !(0.0 <= low && low < high && high <= 1.0)
        {
            return Err(MlError::ClipBounds { low, high });
        }
        Ok(())
    }
}

/// The fitted statistics of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureStats {
    pub name: String,
    /// Values missing in the training data (imputed with `median`).
    pub missing: u64,
    pub median: f64,
    /// Clip bounds in original units, when clipping is on.
    pub clip_low: Option<f64>,
    pub clip_high: Option<f64>,
    /// Rows whose value was clipped.
    pub clipped: u64,
    pub log: bool,
    /// Mean and standard deviation after imputation, clipping and log
    /// (0 and 1 when standardisation is off).
    pub mean: f64,
    pub std: f64,
}

impl FeatureStats {
    /// The prepared (standardised) value of a raw value; NaN means missing.
    pub fn transform(&self, raw: f64) -> f64 {
        let mut x = if raw.is_nan() { self.median } else { raw };
        if let Some(low) = self.clip_low {
            x = x.max(low);
        }
        if let Some(high) = self.clip_high {
            x = x.min(high);
        }
        if self.log {
            x = signed_log(x);
        }
        (x - self.mean) / self.std
    }

    /// A prepared value back in original units (for centres).
    pub fn inverse(&self, z: f64) -> f64 {
        let x = z * self.std + self.mean;
        if self.log { signed_exp(x) } else { x }
    }
}

fn signed_log(x: f64) -> f64 {
    x.signum() * x.abs().ln_1p()
}

fn signed_exp(x: f64) -> f64 {
    x.signum() * x.abs().exp_m1()
}

/// Fits one numeric feature (also the standardisation of a categorical
/// feature's frequency column).
pub(crate) fn fit_feature(name: &str, column: &[f64], options: &PrepareOptions) -> FeatureStats {
    let mut present: Vec<f64> = column.iter().copied().filter(|v| !v.is_nan()).collect();
    let missing = (column.len() - present.len()) as u64;
    // An entirely missing feature has no median; 0 keeps it a constant
    // (centred, so it cannot move any distance).
    let median = if present.is_empty() {
        0.0
    } else {
        quantile(&mut present, 0.5)
    };
    let mut values = column
        .iter()
        .map(|&v| if v.is_nan() { median } else { v })
        .collect::<Vec<_>>();
    let (clip_low, clip_high) = match options.clip {
        Some((low, high)) => {
            let mut scratch = values.clone();
            (
                Some(quantile(&mut scratch, low)),
                Some(quantile(&mut scratch, high)),
            )
        }
        None => (None, None),
    };
    let mut clipped = 0;
    if let (Some(low), Some(high)) = (clip_low, clip_high) {
        for v in &mut values {
            if *v < low || *v > high {
                clipped += 1;
                *v = v.clamp(low, high);
            }
        }
    }
    let log = match options.log {
        LogMode::Never => false,
        LogMode::Always => true,
        LogMode::Auto => values.iter().all(|&v| v >= 0.0) && skewness(&values) > AUTO_LOG_SKEWNESS,
    };
    if log {
        for v in &mut values {
            *v = signed_log(*v);
        }
    }
    let (mean, std) = if options.standardise {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        // scikit-learn's rule: a (numerically) constant feature keeps scale 1.
        let std = if var.sqrt() < 10.0 * f64::EPSILON * mean.abs().max(1.0) {
            1.0
        } else {
            var.sqrt()
        };
        (mean, std)
    } else {
        (0.0, 1.0)
    };
    FeatureStats {
        name: name.to_string(),
        missing,
        median,
        clip_low,
        clip_high,
        clipped,
        log,
        mean,
        std,
    }
}

/// The q-quantile with linear interpolation between order statistics
/// (numpy's default, `method="linear"`). Reorders `values`.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    let n = values.len();
    debug_assert!(n > 0);
    let pos = q * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let frac = pos - lo as f64;
    let (_, &mut below, above) = values.select_nth_unstable_by(lo, f64::total_cmp);
    if frac == 0.0 || above.is_empty() {
        return below;
    }
    let next = above.iter().copied().fold(f64::INFINITY, f64::min);
    below + frac * (next - below)
}

fn skewness(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let (m2, m3) = values.iter().fold((0.0, 0.0), |(m2, m3), v| {
        let d = v - mean;
        (m2 + d * d, m3 + d * d * d)
    });
    let (m2, m3) = (m2 / n, m3 / n);
    if m2 <= 0.0 { 0.0 } else { m3 / m2.powf(1.5) }
}
