//! A categorical input of the risk model: the text levels seen in training,
//! whose positions are the category codes the booster splits on.
//!
//! Levels are seglake-ml's ([`CategoricalStats`]: descending training count,
//! ties by name; NULL is the level `missing` when training had NULLs), so
//! both models name the same levels in the same order. A value the booster
//! never saw in training (or NULL when training had none) is the level
//! `other`: it gets no code (NaN), which every categorical split sends
//! right, as LightGBM does with an unseen category.

use std::collections::HashMap;

use seglake_ml::{CategoricalStats, MISSING_LEVEL, OTHER_LEVEL};
use serde::{Deserialize, Serialize};

/// One categorical input of the booster and its levels by code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryCodes {
    /// The input's name (one of the risk model's `features`).
    pub feature: String,
    /// The level of each code: a training value, or `null` for NULL (the
    /// `missing` level).
    pub levels: Vec<Option<String>>,
}

impl CategoryCodes {
    /// The codes of a feature fitted by seglake-ml's preparation.
    pub fn from_stats(stats: &CategoricalStats) -> CategoryCodes {
        CategoryCodes {
            feature: stats.name.clone(),
            levels: stats.levels.iter().map(|l| l.value.clone()).collect(),
        }
    }

    /// The code of each value, NaN for the `other` level.
    pub fn codes<'a>(&self, values: impl IntoIterator<Item = Option<&'a str>>) -> Vec<f64> {
        let lookup: HashMap<Option<&str>, usize> = self
            .levels
            .iter()
            .enumerate()
            .map(|(code, level)| (level.as_deref(), code))
            .collect();
        values
            .into_iter()
            .map(|v| lookup.get(&v).map_or(f64::NAN, |&code| code as f64))
            .collect()
    }

    /// The level a code (as the booster reads it) stands for: its value,
    /// `missing` or `other`.
    pub fn level_name(&self, code: f64) -> &str {
        match seglake_ml::gbdt::binning::category_code(code)
            .and_then(|c| self.levels.get(c as usize))
        {
            Some(Some(value)) => value,
            Some(None) => MISSING_LEVEL,
            None => OTHER_LEVEL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes() -> CategoryCodes {
        CategoryCodes {
            feature: "kyc".into(),
            levels: vec![Some("low".into()), None, Some("high".into())],
        }
    }

    #[test]
    fn values_map_to_codes_null_to_missing_and_unseen_values_to_other() {
        let c = codes();
        let got = c.codes([Some("high"), None, Some("low"), Some("extreme")]);
        assert_eq!(&got[..3], &[2.0, 1.0, 0.0]);
        assert!(got[3].is_nan());
        assert_eq!(c.level_name(2.0), "high");
        assert_eq!(c.level_name(1.0), "missing");
        assert_eq!(c.level_name(f64::NAN), "other");
    }

    #[test]
    fn null_is_other_when_training_had_no_nulls() {
        let c = CategoryCodes {
            feature: "kyc".into(),
            levels: vec![Some("low".into())],
        };
        let got = c.codes([None]);
        assert!(got[0].is_nan());
        assert_eq!(c.level_name(got[0]), "other");
    }
}
