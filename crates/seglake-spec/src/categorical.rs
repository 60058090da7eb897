//! The feature table's categorical features: `[features] categorical` (a
//! list of text columns, or `"auto"` for every text column but the key) and
//! `max_categories`, the most distinct values such a column may have. Both
//! models read them: k-means through the preparation's encoding
//! (`[segments] categorical_encoding`), the booster as category codes.
//!
//! Which columns exist and are text is only known once the views are
//! planned, so that is checked by the run and by `seglake validate`; this
//! module checks the section's shape.

use serde::Deserialize;

use crate::error::Problem;

/// The most distinct values of a categorical column, unless the job says
/// otherwise (seglake-ml's own default).
pub const DEFAULT_MAX_CATEGORIES: usize = seglake_ml::DEFAULT_MAX_LEVELS;

/// The largest `max_categories` a job may set: the booster reads a column
/// as one code per value, plus one for NULL, below its 255 category bins.
pub const MAX_CATEGORIES_LIMIT: usize = seglake_ml::gbdt::binning::MAX_CATEGORIES - 1;

/// `categorical = [...]` or `categorical = "auto"`, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawCategorical {
    Columns(Vec<String>),
    Text(String),
}

/// Which columns of the feature table are categorical features.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CategoricalColumns {
    /// None (the default): text columns are left out of both models, and
    /// the run says which.
    #[default]
    None,
    /// These columns, in this order.
    Listed(Vec<String>),
    /// Every text (string or dictionary) column but the key, in the
    /// table's column order.
    Auto,
}

/// The validated categorical settings of `[features]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoricalSpec {
    pub columns: CategoricalColumns,
    /// The most distinct non-NULL values a categorical column may have; a
    /// column with more stops the run, naming it, the limit and the count.
    pub max_categories: usize,
}

impl Default for CategoricalSpec {
    fn default() -> Self {
        CategoricalSpec {
            columns: CategoricalColumns::None,
            max_categories: DEFAULT_MAX_CATEGORIES,
        }
    }
}

/// Validates `[features] categorical` and `max_categories`; `key` is the
/// feature table's key, which cannot be a feature.
pub(crate) fn validate(
    raw: Option<&RawCategorical>,
    max_categories: Option<usize>,
    key: &str,
) -> Result<CategoricalSpec, Problem> {
    let problem = |field: &str, message: String| Problem::new(format!("features.{field}"), message);
    let columns = match raw {
        None => CategoricalColumns::None,
        Some(RawCategorical::Text(t)) if t == "auto" => CategoricalColumns::Auto,
        Some(RawCategorical::Text(t)) => {
            return Err(problem(
                "categorical",
                format!("`{t}` is neither a list of columns nor \"auto\""),
            ));
        }
        Some(RawCategorical::Columns(list)) => CategoricalColumns::Listed(listed(list, key)?),
    };
    if max_categories.is_some() && columns == CategoricalColumns::None {
        return Err(problem(
            "max_categories",
            "is only read with categorical = [...] or \"auto\"".into(),
        ));
    }
    let max_categories = max_categories.unwrap_or(DEFAULT_MAX_CATEGORIES);
    if !(1..=MAX_CATEGORIES_LIMIT).contains(&max_categories) {
        return Err(problem(
            "max_categories",
            format!("must be from 1 to {MAX_CATEGORIES_LIMIT}, got {max_categories}"),
        ));
    }
    Ok(CategoricalSpec {
        columns,
        max_categories,
    })
}

/// A listed set of columns: not empty, no repeats, not the key.
fn listed(list: &[String], key: &str) -> Result<Vec<String>, Problem> {
    let problem = |message: String| Problem::new("features.categorical", message);
    if list.is_empty() {
        return Err(problem(
            "list at least one text column, or \"auto\" (or remove the key)".into(),
        ));
    }
    for (i, column) in list.iter().enumerate() {
        if column == key {
            return Err(problem(format!("`{column}` is the key, not a feature")));
        }
        if list[..i].contains(column) {
            return Err(problem(format!("`{column}` is listed twice")));
        }
    }
    Ok(list.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(p: &Problem) -> String {
        format!("{}: {}", p.key, p.message)
    }

    fn columns(list: &[&str]) -> RawCategorical {
        RawCategorical::Columns(list.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn absent_means_no_categorical_features_and_the_default_limit() {
        let spec = validate(None, None, "id").unwrap();
        assert_eq!(spec, CategoricalSpec::default());
        assert_eq!(spec.max_categories, 50);
    }

    #[test]
    fn a_list_or_auto_is_read_with_its_limit() {
        let spec = validate(Some(&columns(&["kyc", "kind"])), Some(7), "id").unwrap();
        assert_eq!(
            spec.columns,
            CategoricalColumns::Listed(vec!["kyc".into(), "kind".into()])
        );
        assert_eq!(spec.max_categories, 7);
        let auto = RawCategorical::Text("auto".into());
        assert_eq!(
            validate(Some(&auto), None, "id").unwrap().columns,
            CategoricalColumns::Auto
        );
    }

    #[test]
    fn other_text_the_key_repeats_and_an_empty_list_are_refused() {
        let text = RawCategorical::Text("all".into());
        let e = validate(Some(&text), None, "id").unwrap_err();
        assert!(said(&e).contains("`all`"), "{e:?}");
        let e = validate(Some(&columns(&["id"])), None, "id").unwrap_err();
        assert!(said(&e).contains("the key"), "{e:?}");
        let e = validate(Some(&columns(&["a", "a"])), None, "id").unwrap_err();
        assert!(said(&e).contains("twice"), "{e:?}");
        assert!(validate(Some(&columns(&[])), None, "id").is_err());
    }

    #[test]
    fn max_categories_must_fit_the_booster_and_needs_categorical_columns() {
        let auto = RawCategorical::Text("auto".into());
        let e = validate(Some(&auto), Some(0), "id").unwrap_err();
        assert!(said(&e).contains("from 1 to 254"), "{e:?}");
        let e = validate(Some(&auto), Some(255), "id").unwrap_err();
        assert!(said(&e).contains("got 255"), "{e:?}");
        assert!(validate(Some(&auto), Some(254), "id").is_ok());
        let e = validate(None, Some(10), "id").unwrap_err();
        assert!(said(&e).contains("features.max_categories"), "{e:?}");
    }

    /// The sections as a job file gives them, read end to end.
    fn load(features: &str, segments: &str) -> crate::Result<crate::JobSpec> {
        let dir = std::env::temp_dir().join(format!(
            "seglake-spec-categorical-{}-{}",
            std::process::id(),
            features.len() + 100 * segments.len()
        ));
        std::fs::create_dir_all(dir.join("sql")).unwrap();
        std::fs::write(dir.join("sql/f.sql"), "SELECT 1 AS id").unwrap();
        let text = format!(
            "[job]\nname = \"t\"\nseed = 1\n[sources.tx]\nuri = \"raw\"\nformat = \"parquet\"\n\
             [features]\nsql_dir = \"sql\"\nviews = [\"f\"]\nkey = \"id\"\n{features}\n\
             [segments]\nk = 3\n{segments}\n[output]\nroot = \"lake\"\n"
        );
        let path = dir.join("job.toml");
        crate::JobSpec::from_text(&path, text, &Default::default())
    }

    #[test]
    fn a_job_reads_its_categorical_columns_and_the_k_means_encoding() {
        let spec = load(
            "categorical = [\"kyc\"]\nmax_categories = 9",
            "categorical_encoding = \"frequency\"",
        )
        .unwrap();
        assert_eq!(
            spec.categorical.columns,
            CategoricalColumns::Listed(vec!["kyc".into()])
        );
        assert_eq!(spec.categorical.max_categories, 9);
        let segments = spec.segments.unwrap();
        assert_eq!(
            segments.categorical_encoding,
            seglake_ml::Encoding::Frequency
        );
        let plain = load("", "").unwrap();
        assert_eq!(plain.categorical, CategoricalSpec::default());
        assert_eq!(
            plain.segments.unwrap().categorical_encoding,
            seglake_ml::Encoding::OneHot
        );
    }

    #[test]
    fn a_bad_encoding_or_categorical_value_names_its_key() {
        let e = load("", "categorical_encoding = \"ordinal\"").unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains("segments.categorical_encoding") && e.contains("one_hot, frequency"),
            "{e}"
        );
        let e = load("categorical = \"all\"", "").unwrap_err().to_string();
        assert!(e.contains("features.categorical"), "{e}");
    }
}
