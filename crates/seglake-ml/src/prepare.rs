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
//!
//! Categorical features (strings with NULLs) are fitted in the same
//! preparation by [`Preparation::fit_mixed`] and take the matrix columns after
//! the numeric ones; [`crate::categories`] documents their encodings, the
//! `missing` and `other` levels and their scale.

use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::categories::{CategoricalColumn, CategoricalStats, Encoder, fit_categorical};
use crate::error::{MlError, Result};
use crate::numeric::fit_feature;
pub use crate::numeric::{FeatureStats, LogMode, PrepareOptions, quantile};

/// The fitted preparation of every feature, in matrix column order: the
/// numeric features, then the categorical ones, each expanded into its
/// columns (see [`crate::categories`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preparation {
    /// Numeric features, in matrix order (the first columns).
    pub features: Vec<FeatureStats>,
    /// Categorical features. Left out of the JSON when there are none, so a
    /// numeric-only model serialises as before categorical features existed,
    /// and a model stored then reads as one without them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categorical: Vec<CategoricalStats>,
}

/// Rows a transform fills per task: a served request (one row) stays on the
/// calling thread; a batch is cut into fixed chunks, so the output does not
/// depend on how rayon schedules them.
const TRANSFORM_CHUNK_ROWS: usize = 4096;

impl Preparation {
    /// Fits the statistics of numeric features only. `columns` holds one
    /// slice per feature (NaN marks a missing value), all of the same length;
    /// `options` one entry per feature.
    pub fn fit(
        names: &[String],
        columns: &[&[f64]],
        options: &[PrepareOptions],
    ) -> Result<Preparation> {
        Preparation::fit_mixed(names, columns, options, &[])
    }

    /// Fits numeric features (as [`Preparation::fit`]) and categorical ones,
    /// every column of the same length. The matrix has the numeric columns
    /// first, then each categorical feature's columns, in the given order.
    pub fn fit_mixed(
        names: &[String],
        columns: &[&[f64]],
        options: &[PrepareOptions],
        categorical: &[CategoricalColumn],
    ) -> Result<Preparation> {
        let rows = columns
            .first()
            .map(|c| c.len())
            .or(categorical.first().map(|c| c.values.len()))
            .unwrap_or(0);
        if rows == 0 {
            return Err(MlError::Empty);
        }
        let lengths = names
            .iter()
            .map(String::as_str)
            .zip(columns.iter().map(|c| c.len()));
        let lengths = lengths.chain(categorical.iter().map(|c| (c.name, c.values.len())));
        check_lengths(lengths, rows)?;
        for o in options {
            o.check()?;
        }
        let features = names
            .par_iter()
            .zip(columns.par_iter())
            .zip(options.par_iter())
            .map(|((name, column), options)| fit_feature(name, column, options))
            .collect();
        // Collected in order before the first error is taken, so the error
        // reported does not depend on which thread finished first.
        let fitted: Vec<Result<CategoricalStats>> =
            categorical.par_iter().map(fit_categorical).collect();
        let categorical = fitted.into_iter().collect::<Result<Vec<_>>>()?;
        let preparation = Preparation {
            features,
            categorical,
        };
        if !preparation.categorical.is_empty() {
            preparation.check_unique_names()?;
        }
        Ok(preparation)
    }

    /// Refuses two matrix columns with the same name (a numeric feature
    /// called `country=FR` beside the one-hot column of `country`): profiles
    /// and centres are published by column name.
    fn check_unique_names(&self) -> Result<()> {
        let mut names = self.names();
        names.sort_unstable();
        match names.windows(2).find(|w| w[0] == w[1]) {
            Some(w) => Err(MlError::DuplicateColumn(w[0].clone())),
            None => Ok(()),
        }
    }

    /// The matrix column names, in matrix order: numeric feature names, then
    /// each categorical feature's columns (`feature=level` ... `feature=other`
    /// for one-hot, the feature's name for frequency).
    pub fn names(&self) -> Vec<String> {
        let numeric = self.features.iter().map(|f| f.name.clone());
        numeric
            .chain(self.categorical.iter().flat_map(CategoricalStats::names))
            .collect()
    }

    /// The number of matrix columns.
    pub fn width(&self) -> usize {
        self.features.len()
            + self
                .categorical
                .iter()
                .map(CategoricalStats::width)
                .sum::<usize>()
    }

    /// A prepared row (a segment's centre) in original units, column by
    /// column: numeric features in their raw units, one-hot columns as the
    /// share of customers in the level, frequency columns as the frequency.
    pub fn original_units(&self, prepared: &[f64]) -> Result<Vec<f64>> {
        if prepared.len() != self.width() {
            return Err(MlError::Dimension {
                expected: self.width(),
                got: prepared.len(),
            });
        }
        let (numeric, rest) = prepared.split_at(self.features.len());
        let mut out: Vec<f64> = self
            .features
            .iter()
            .zip(numeric)
            .map(|(s, &z)| s.inverse(z))
            .collect();
        let mut at = 0;
        for stats in &self.categorical {
            out.extend(
                rest[at..at + stats.width()]
                    .iter()
                    .map(|&z| stats.inverse(z)),
            );
            at += stats.width();
        }
        Ok(out)
    }

    /// The prepared matrix of numeric features only, rows x features, in f32
    /// (what clustering reads; every sum over it is accumulated in f64).
    /// A preparation with categorical features needs
    /// [`Preparation::transform_mixed`].
    pub fn transform(&self, columns: &[&[f64]]) -> Result<Array2<f32>> {
        self.transform_mixed(columns, &[])
    }

    /// The prepared matrix, rows x [`Preparation::width`], in f32: one slice
    /// per numeric feature (NaN = missing) and one per categorical feature
    /// (`None` = NULL), in the order they were fitted.
    pub fn transform_mixed(
        &self,
        numeric: &[&[f64]],
        categorical: &[&[Option<&str>]],
    ) -> Result<Array2<f32>> {
        self.check_inputs(numeric.len(), categorical.len())?;
        let rows = numeric
            .first()
            .map(|c| c.len())
            .or(categorical.first().map(|c| c.len()))
            .unwrap_or(0);
        let lengths = self
            .features
            .iter()
            .map(|f| f.name.as_str())
            .zip(numeric.iter().map(|c| c.len()));
        let lengths = lengths.chain(
            self.categorical
                .iter()
                .map(|c| c.name.as_str())
                .zip(categorical.iter().map(|c| c.len())),
        );
        check_lengths(lengths, rows)?;
        let encoders: Vec<Encoder> = self
            .categorical
            .iter()
            .map(CategoricalStats::encoder)
            .collect();
        let dim = self.width();
        let mut data = vec![0f32; rows * dim];
        let fill = |chunk: usize, out: &mut [f32]| {
            let first = chunk * TRANSFORM_CHUNK_ROWS;
            for (r, row) in out.chunks_mut(dim).enumerate() {
                let i = first + r;
                self.write_row(&encoders, |j| numeric[j][i], |j| categorical[j][i], row);
            }
        };
        if rows <= TRANSFORM_CHUNK_ROWS || dim == 0 {
            // One chunk (a served request): no hand-off to the thread pool.
            fill(0, &mut data);
        } else {
            data.par_chunks_mut(dim * TRANSFORM_CHUNK_ROWS)
                .enumerate()
                .for_each(|(chunk, out)| fill(chunk, out));
        }
        Ok(Array2::from_shape_vec((rows, dim), data).expect("rows * dim values"))
    }

    /// One prepared row (a served request): the same values, to the bit, as
    /// that row of [`Preparation::transform_mixed`].
    pub fn transform_row(&self, numeric: &[f64], categorical: &[Option<&str>]) -> Result<Vec<f32>> {
        self.check_inputs(numeric.len(), categorical.len())?;
        let encoders: Vec<Encoder> = self
            .categorical
            .iter()
            .map(CategoricalStats::encoder)
            .collect();
        let mut row = vec![0f32; self.width()];
        self.write_row(&encoders, |j| numeric[j], |j| categorical[j], &mut row);
        Ok(row)
    }

    fn check_inputs(&self, numeric: usize, categorical: usize) -> Result<()> {
        if numeric != self.features.len() {
            return Err(MlError::Dimension {
                expected: self.features.len(),
                got: numeric,
            });
        }
        if categorical != self.categorical.len() {
            return Err(MlError::CategoricalCount {
                expected: self.categorical.len(),
                got: categorical,
            });
        }
        Ok(())
    }

    /// Writes one row's prepared values; `numeric(j)` and `categorical(j)`
    /// give the row's raw value of the j-th feature of each kind.
    fn write_row<'v>(
        &self,
        encoders: &[Encoder],
        numeric: impl Fn(usize) -> f64,
        categorical: impl Fn(usize) -> Option<&'v str>,
        row: &mut [f32],
    ) {
        let (head, mut rest) = row.split_at_mut(self.features.len());
        for (j, (stats, out)) in self.features.iter().zip(head).enumerate() {
            *out = stats.transform(numeric(j)) as f32;
        }
        for (j, (stats, encoder)) in self.categorical.iter().zip(encoders).enumerate() {
            let (out, tail) = rest.split_at_mut(stats.width());
            encoder.write(categorical(j), out);
            rest = tail;
        }
    }
}

/// Refuses a column whose length is not `rows`, naming its feature.
fn check_lengths<'a>(lengths: impl Iterator<Item = (&'a str, usize)>, rows: usize) -> Result<()> {
    for (feature, got) in lengths {
        if got != rows {
            return Err(MlError::ColumnLength {
                feature: feature.to_string(),
                expected: rows,
                got,
            });
        }
    }
    Ok(())
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
