//! Categorical features: strings with NULLs turned into matrix columns the
//! clustering can measure distances on. Fitted with the numeric features
//! ([`Preparation::fit_mixed`](crate::Preparation::fit_mixed)) and stored in
//! the same [`Preparation`](crate::Preparation), so scoring elsewhere encodes
//! a customer exactly as training did.
//!
//! **Levels.** A level is a distinct value seen in training. NULL is a level
//! of its own, named [`MISSING_LEVEL`] (`missing`), when training had NULLs.
//! Levels are ordered by descending training count, ties by name (byte
//! order), so the columns do not depend on row order or hashing. A feature
//! with more distinct non-NULL values than
//! [`max_levels`](CategoricalOptions::max_levels) (default
//! [`DEFAULT_MAX_LEVELS`]) is refused with an error naming the feature, the
//! limit and the count: a job either raises the limit or groups values in
//! its feature view. The values `missing` and `other` are reserved (they name
//! columns) and are refused as data.
//!
//! **Unseen values.** A value never seen in training (including NULL when
//! training had none) is scored as the level [`OTHER_LEVEL`] (`other`).
//!
//! **Encodings** ([`Encoding`], chosen by the caller):
//! - `one_hot` (the default): one column per level, named `feature=level`,
//!   then a column `feature=other`. A row has `1/sqrt(2)` in the column of
//!   its level and 0 elsewhere; an unseen value has 0 on every known level
//!   and `1/sqrt(2)` in `feature=other` (always 0 in training).
//! - `frequency`: one column named after the feature, holding the level's
//!   share of training rows (0 for an unseen value), then standardised like
//!   a numeric feature (population mean and standard deviation over the
//!   training rows).
//!
//! **Why `1/sqrt(2)`.** Two customers in different levels differ in two
//! one-hot columns, so the scale puts them at distance exactly 1: as far
//! apart as one standard deviation of a standardised numeric feature, and a
//! categorical feature can add at most 1 to a squared distance, however many
//! levels it has. Standardising each one-hot column instead would blow rare
//! levels up to `1/sqrt(p(1-p))` standard units, letting one rare category
//! dominate the distances; leaving them at 0/1 would make a category change
//! weigh twice as much (squared) as a one-standard-deviation move.
//!
//! **Original units.** A prepared value `z` maps back with
//! [`CategoricalStats::inverse`]: for `one_hot`, `z * sqrt(2)`, which for a
//! segment's centre is the share of its customers in that level; for
//! `frequency`, the training frequency.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{MlError, Result};
use crate::numeric::{LogMode, PrepareOptions, fit_feature};

/// The level name of NULL values (in column names and profiles).
pub const MISSING_LEVEL: &str = "missing";

/// The level a value never seen in training is scored as.
pub const OTHER_LEVEL: &str = "other";

/// The default of [`CategoricalOptions::max_levels`].
pub const DEFAULT_MAX_LEVELS: usize = 50;

/// The divisor of a one-hot indicator: `sqrt(2)`, so two customers in
/// different levels are at distance 1 (see the module doc).
pub const ONE_HOT_SCALE: f64 = std::f64::consts::SQRT_2;

/// How a categorical feature becomes matrix columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// One scaled indicator column per level, then `feature=other`.
    #[default]
    OneHot,
    /// One column: the level's share of training rows, standardised.
    Frequency,
}

/// How to prepare one categorical feature.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoricalOptions {
    /// The columns the feature becomes (default `one_hot`).
    pub encoding: Encoding,
    /// The most distinct non-NULL values the feature may have in training
    /// (at least 1); more is an error rather than a silent cut.
    pub max_levels: usize,
}

impl Default for CategoricalOptions {
    fn default() -> Self {
        CategoricalOptions {
            encoding: Encoding::OneHot,
            max_levels: DEFAULT_MAX_LEVELS,
        }
    }
}

impl CategoricalOptions {
    /// Refuses a `max_levels` of 0 (no value could ever be kept).
    pub fn check(&self) -> Result<()> {
        if self.max_levels == 0 {
            return Err(MlError::Param {
                name: "max_levels",
                accepts: "at least 1",
                got: "0".to_string(),
            });
        }
        Ok(())
    }
}

/// One categorical feature's training values, as a caller hands them in.
#[derive(Debug, Clone)]
pub struct CategoricalColumn<'a> {
    /// The feature's name (the prefix of its one-hot column names).
    pub name: &'a str,
    /// One value per row; `None` is NULL.
    pub values: &'a [Option<&'a str>],
    /// Encoding and cardinality limit.
    pub options: CategoricalOptions,
}

impl<'a> CategoricalColumn<'a> {
    /// A column with the default options (`one_hot`, at most
    /// [`DEFAULT_MAX_LEVELS`] levels).
    pub fn new(name: &'a str, values: &'a [Option<&'a str>]) -> Self {
        CategoricalColumn {
            name,
            values,
            options: CategoricalOptions::default(),
        }
    }

    /// The same column with another encoding.
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.options.encoding = encoding;
        self
    }

    /// The same column with another cardinality limit.
    pub fn max_levels(mut self, max_levels: usize) -> Self {
        self.options.max_levels = max_levels;
        self
    }
}

/// One level seen in training.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    /// The value; `None` is the NULL level ([`MISSING_LEVEL`]).
    pub value: Option<String>,
    /// Training rows with this value.
    pub count: u64,
}

impl Level {
    /// The name shown in column names and profiles.
    pub fn name(&self) -> &str {
        self.value.as_deref().unwrap_or(MISSING_LEVEL)
    }
}

/// The fitted encoding of one categorical feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalStats {
    /// The feature's name.
    pub name: String,
    /// The encoding it was fitted with.
    pub encoding: Encoding,
    /// Training rows.
    pub rows: u64,
    /// Levels in column order: descending count, ties by name.
    pub levels: Vec<Level>,
    /// A column's prepared value is `(raw - mean) / std`, where raw is the
    /// 0/1 indicator (`one_hot`: mean 0, std [`ONE_HOT_SCALE`]) or the
    /// level's frequency (`frequency`: the training mean and population
    /// standard deviation, 1 when the frequency is constant).
    pub mean: f64,
    /// See `mean`.
    pub std: f64,
}

impl CategoricalStats {
    /// How many matrix columns the feature takes.
    pub fn width(&self) -> usize {
        match self.encoding {
            Encoding::OneHot => self.levels.len() + 1,
            Encoding::Frequency => 1,
        }
    }

    /// The feature's column names, in matrix order.
    pub fn names(&self) -> Vec<String> {
        match self.encoding {
            Encoding::OneHot => self
                .levels
                .iter()
                .map(Level::name)
                .chain([OTHER_LEVEL])
                .map(|level| format!("{}={level}", self.name))
                .collect(),
            Encoding::Frequency => vec![self.name.clone()],
        }
    }

    /// A level's share of the training rows.
    pub fn frequency(&self, level: usize) -> f64 {
        self.levels[level].count as f64 / self.rows as f64
    }

    /// A prepared value back in original units: the share of customers in
    /// the level for a one-hot column, the frequency for `frequency`.
    pub fn inverse(&self, z: f64) -> f64 {
        z * self.std + self.mean
    }

    /// The lookup that encodes values (built once per transform call).
    pub(crate) fn encoder(&self) -> Encoder<'_> {
        let mut lookup = HashMap::with_capacity(self.levels.len());
        let mut missing = None;
        for (i, level) in self.levels.iter().enumerate() {
            match &level.value {
                Some(v) => {
                    lookup.insert(v.as_str(), i);
                }
                None => missing = Some(i),
            }
        }
        // Per level, then the unseen value last: the prepared numbers,
        // computed once so every row writes the same bits.
        let outputs = match self.encoding {
            Encoding::OneHot => vec![((1.0 - self.mean) / self.std) as f32],
            Encoding::Frequency => (0..self.levels.len())
                .map(|l| self.frequency(l))
                .chain([0.0])
                .map(|f| ((f - self.mean) / self.std) as f32)
                .collect(),
        };
        Encoder {
            stats: self,
            lookup,
            missing,
            outputs,
            off: ((0.0 - self.mean) / self.std) as f32,
        }
    }
}

/// Encodes values of one fitted categorical feature.
pub(crate) struct Encoder<'a> {
    stats: &'a CategoricalStats,
    lookup: HashMap<&'a str, usize>,
    missing: Option<usize>,
    /// `one_hot`: the value of the hot column; `frequency`: the prepared
    /// value per level, then of an unseen value.
    outputs: Vec<f32>,
    /// `one_hot`: the value of the other columns.
    off: f32,
}

impl Encoder<'_> {
    /// The level of `value`, or `levels.len()` (the `other` level) when it
    /// was not seen in training.
    fn level_of(&self, value: Option<&str>) -> usize {
        let found = match value {
            Some(v) => self.lookup.get(v).copied(),
            None => self.missing,
        };
        found.unwrap_or(self.stats.levels.len())
    }

    /// Writes the feature's `width()` prepared columns for `value`.
    pub(crate) fn write(&self, value: Option<&str>, out: &mut [f32]) {
        let level = self.level_of(value);
        match self.stats.encoding {
            Encoding::OneHot => {
                out.fill(self.off);
                out[level] = self.outputs[0];
            }
            Encoding::Frequency => out[0] = self.outputs[level],
        }
    }
}

/// Fits one categorical feature: its levels and, for `frequency`, the
/// standardisation of the frequency column.
pub(crate) fn fit_categorical(column: &CategoricalColumn) -> Result<CategoricalStats> {
    column.options.check()?;
    let mut counts: HashMap<&str, u64> = HashMap::new();
    let mut nulls = 0u64;
    for value in column.values {
        match value {
            Some(v) => *counts.entry(v).or_default() += 1,
            None => nulls += 1,
        }
    }
    if counts.len() > column.options.max_levels {
        return Err(MlError::Cardinality {
            feature: column.name.to_string(),
            limit: column.options.max_levels,
            count: counts.len(),
        });
    }
    if let Some(reserved) = [MISSING_LEVEL, OTHER_LEVEL]
        .into_iter()
        .find(|r| counts.contains_key(r))
    {
        return Err(MlError::ReservedLevel {
            feature: column.name.to_string(),
            level: reserved.to_string(),
        });
    }
    let mut levels: Vec<Level> = counts
        .into_iter()
        .map(|(v, count)| Level {
            value: Some(v.to_string()),
            count,
        })
        .collect();
    if nulls > 0 {
        levels.push(Level {
            value: None,
            count: nulls,
        });
    }
    // Names are unique (reserved values are refused), so this is a total
    // order whatever order the hash map gave.
    levels.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name().cmp(b.name())));
    let mut stats = CategoricalStats {
        name: column.name.to_string(),
        encoding: column.options.encoding,
        rows: column.values.len() as u64,
        levels,
        mean: 0.0,
        std: ONE_HOT_SCALE,
    };
    if stats.encoding == Encoding::Frequency {
        (stats.mean, stats.std) = frequency_scale(&stats, column.values);
    }
    Ok(stats)
}

/// The mean and standard deviation of the training frequency column, by
/// the numeric path (no imputation needed, no clipping, no log), so a
/// frequency is standardised exactly as a numeric feature would be.
fn frequency_scale(stats: &CategoricalStats, values: &[Option<&str>]) -> (f64, f64) {
    let encoder = stats.encoder();
    let column: Vec<f64> = values
        .iter()
        .map(|&v| {
            let level = encoder.level_of(v);
            stats.frequency(level)
        })
        .collect();
    let options = PrepareOptions {
        clip: None,
        log: LogMode::Never,
        standardise: true,
    };
    let fitted = fit_feature(&stats.name, &column, &options);
    (fitted.mean, fitted.std)
}
