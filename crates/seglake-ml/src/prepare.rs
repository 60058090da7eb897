//! Preparation: turns raw feature columns into the standardised matrix the
//! clustering works on. Fitted once per run; the fitted statistics are part
//! of the model, so scoring elsewhere prepares a customer exactly the same way
//! and centres can be shown in original units.
//!
//! Per feature, in this order: impute missing values with the median, clip to
//! quantile bounds, optionally apply a signed log (`sign(x) * ln(1 + |x|)`,
//! which is `log1p` for the usual non-negative amounts), standardise to zero
//! mean and unit variance (population variance, as scikit-learn's
//! `StandardScaler`; a constant feature is only centred).

use ndarray::Array2;
use rayon::prelude::*;
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

/// The fitted preparation of every feature, in matrix column order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preparation {
    pub features: Vec<FeatureStats>,
}

impl Preparation {
    /// Fits the statistics. `columns` holds one slice per feature (NaN marks
    /// a missing value), all of the same length; `options` one entry per
    /// feature.
    pub fn fit(
        names: &[String],
        columns: &[&[f64]],
        options: &[PrepareOptions],
    ) -> Result<Preparation> {
        let rows = columns.first().map_or(0, |c| c.len());
        if rows == 0 {
            return Err(MlError::Empty);
        }
        for (name, column) in names.iter().zip(columns) {
            if column.len() != rows {
                return Err(MlError::ColumnLength {
                    feature: name.clone(),
                    expected: rows,
                    got: column.len(),
                });
            }
        }
        for o in options {
            o.check()?;
        }
        let features = names
            .par_iter()
            .zip(columns.par_iter())
            .zip(options.par_iter())
            .map(|((name, column), options)| fit_feature(name, column, options))
            .collect();
        Ok(Preparation { features })
    }

    pub fn names(&self) -> Vec<String> {
        self.features.iter().map(|f| f.name.clone()).collect()
    }

    /// The prepared matrix, rows x features, in f32 (what clustering reads;
    /// every sum over it is accumulated in f64).
    pub fn transform(&self, columns: &[&[f64]]) -> Result<Array2<f32>> {
        if columns.len() != self.features.len() {
            return Err(MlError::Dimension {
                expected: self.features.len(),
                got: columns.len(),
            });
        }
        let rows = columns.first().map_or(0, |c| c.len());
        for (stats, column) in self.features.iter().zip(columns) {
            if column.len() != rows {
                return Err(MlError::ColumnLength {
                    feature: stats.name.clone(),
                    expected: rows,
                    got: column.len(),
                });
            }
        }
        let dim = self.features.len();
        let mut data = vec![0f32; rows * dim];
        let fill = |chunk: usize, out: &mut [f32]| {
            let first = chunk * 4096;
            for (r, row) in out.chunks_mut(dim).enumerate() {
                for (j, (stats, column)) in self.features.iter().zip(columns).enumerate() {
                    row[j] = stats.transform(column[first + r]) as f32;
                }
            }
        };
        if rows <= 4096 {
            // One chunk (a served request): no hand-off to the thread pool.
            fill(0, &mut data);
        } else {
            data.par_chunks_mut(dim.max(1) * 4096)
                .enumerate()
                .for_each(|(chunk, out)| fill(chunk, out));
        }
        Ok(Array2::from_shape_vec((rows, dim), data).expect("rows * dim values"))
    }
}

fn fit_feature(name: &str, column: &[f64], options: &PrepareOptions) -> FeatureStats {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy_linear() {
        // numpy.quantile([1, 2, 3, 4, 10], [0, .25, .5, .9, 1])
        let v = [4.0, 10.0, 1.0, 3.0, 2.0];
        for (q, want) in [(0.0, 1.0), (0.25, 2.0), (0.5, 3.0), (0.9, 7.6), (1.0, 10.0)] {
            let got = quantile(&mut v.clone(), q);
            assert!((got - want).abs() < 1e-12, "q={q}: {got} != {want}");
        }
    }

    #[test]
    fn impute_clip_log_standardise_by_hand() {
        // values 0, 1, 3, missing, 1000: median of present = 2,
        // clip to [q0, q0.75] = [0, 3] after imputation (0,1,3,2,1000).
        let column = [0.0, 1.0, 3.0, f64::NAN, 1000.0];
        let options = PrepareOptions {
            clip: Some((0.0, 0.75)),
            log: LogMode::Always,
            standardise: true,
        };
        let prep = Preparation::fit(&["x".into()], &[&column], &[options]).unwrap();
        let s = &prep.features[0];
        assert_eq!((s.missing, s.median, s.clipped), (1, 2.0, 1));
        assert_eq!((s.clip_low, s.clip_high), (Some(0.0), Some(3.0)));
        let logged: Vec<f64> = [0.0f64, 1.0, 3.0, 2.0, 3.0]
            .iter()
            .map(|v| v.ln_1p())
            .collect();
        let mean = logged.iter().sum::<f64>() / 5.0;
        let std = (logged.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 5.0).sqrt();
        assert!((s.mean - mean).abs() < 1e-12 && (s.std - std).abs() < 1e-12);
        let m = prep.transform(&[&column]).unwrap();
        for (got, want) in m.column(0).iter().zip(&logged) {
            assert!((*got as f64 - (want - mean) / std).abs() < 1e-6);
        }
        // The inverse brings a prepared value back to original units.
        assert!((s.inverse(s.transform(2.5)) - 2.5).abs() < 1e-9);
    }

    #[test]
    fn auto_log_only_for_skewed_non_negative_features() {
        let skewed: Vec<f64> = (0..1000)
            .map(|i| if i % 100 == 0 { 1e6 } else { i as f64 % 7.0 })
            .collect();
        let symmetric: Vec<f64> = (0..1000).map(|i| (i % 10) as f64).collect();
        let options = PrepareOptions {
            clip: None,
            ..Default::default()
        };
        let prep = Preparation::fit(
            &["skewed".into(), "symmetric".into()],
            &[&skewed, &symmetric],
            &[options.clone(), options],
        )
        .unwrap();
        assert!(prep.features[0].log);
        assert!(!prep.features[1].log);
    }

    #[test]
    fn bad_clip_bounds_are_named() {
        let o = PrepareOptions {
            clip: Some((0.9, 0.1)),
            ..Default::default()
        };
        assert_eq!(
            o.check().unwrap_err().to_string(),
            "clip quantiles must satisfy 0 <= low < high <= 1, got [0.9, 0.1]"
        );
    }
}
