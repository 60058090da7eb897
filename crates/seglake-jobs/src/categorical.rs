//! The feature table's categorical features (`[features] categorical`):
//! which text columns they are, their values as text, the cardinality
//! limit, and the text columns a job leaves out (said, never silent).

use arrow::datatypes::Schema;
use seglake_features::FeatureTable;
use seglake_spec::{CategoricalColumns, CategoricalSpec};

use crate::columns::{column_text, is_text};
use crate::error::{JobError, Result};

/// The text columns of the feature table but the key, in column order.
fn text_columns(schema: &Schema, key: &str) -> Vec<String> {
    let fields = schema.fields().iter();
    fields
        .filter(|f| f.name() != key && is_text(f.data_type()))
        .map(|f| f.name().clone())
        .collect()
}

/// The categorical features the job declares, checked against the feature
/// table's schema: every listed column exists and is text.
pub(crate) fn declared(
    spec: &CategoricalSpec,
    schema: &Schema,
    table: &str,
    key: &str,
) -> Result<Vec<String>> {
    let text = text_columns(schema, key);
    let listed = match &spec.columns {
        CategoricalColumns::None => return Ok(Vec::new()),
        CategoricalColumns::Auto => return Ok(text),
        CategoricalColumns::Listed(listed) => listed,
    };
    let invalid = |message: String| JobError::Categorical {
        table: table.to_string(),
        message,
    };
    let choices = match text.is_empty() {
        true => "the feature table has no text column".to_string(),
        false => format!("text columns: {}", text.join(", ")),
    };
    for column in listed {
        match schema.field_with_name(column) {
            Ok(f) if !is_text(f.data_type()) => {
                return Err(invalid(format!(
                    "features.categorical: column `{column}` is {}, not text; {choices}",
                    f.data_type()
                )));
            }
            Ok(_) => {}
            Err(_) => {
                return Err(invalid(format!(
                    "features.categorical: no column `{column}`; {choices}"
                )));
            }
        }
    }
    Ok(listed.clone())
}

/// The text columns neither model reads (not declared categorical), and
/// what to write to use them; `None` when there are none.
pub(crate) fn left_out(schema: &Schema, key: &str, declared: &[String]) -> Option<String> {
    let unused: Vec<String> = text_columns(schema, key)
        .into_iter()
        .filter(|c| !declared.contains(c))
        .collect();
    (!unused.is_empty()).then(|| {
        format!(
            "text columns not used by the models: {}; to use them as categorical features, \
             list them in [features] categorical = [...] (or categorical = \"auto\")",
            unused.join(", ")
        )
    })
}

/// The categorical features' values, one column per feature, in the
/// feature table's row order.
pub(crate) struct CategoricalData {
    pub names: Vec<String>,
    /// Per feature, per row: the value, `None` for NULL.
    pub values: Vec<Vec<Option<String>>>,
}

impl CategoricalData {
    /// The values of the features in `names` (a subset of `self.names`),
    /// as slices seglake-ml reads.
    pub fn views<'a>(&'a self, names: &[String]) -> Vec<Vec<Option<&'a str>>> {
        names
            .iter()
            .map(|n| {
                let j = self.names.iter().position(|m| m == n).expect("declared");
                self.values[j].iter().map(Option::as_deref).collect()
            })
            .collect()
    }
}

/// Reads the declared categorical features, refusing one with more
/// distinct values than the limit (named with the limit and the count;
/// NULLs are not counted: they are the `missing` level).
pub(crate) fn read(
    spec: &CategoricalSpec,
    features: &FeatureTable,
    table: &str,
    key: &str,
) -> Result<CategoricalData> {
    let names = declared(spec, &features.schema, table, key)?;
    let mut values = Vec::with_capacity(names.len());
    for name in &names {
        let column = column_text(features, table, name)?;
        let mut distinct: Vec<&str> = column.iter().flatten().map(String::as_str).collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() > spec.max_categories {
            return Err(JobError::Categorical {
                table: table.to_string(),
                message: format!(
                    "categorical column `{name}` has {} distinct values, more than \
                     features.max_categories = {}; raise the limit or group rare values \
                     in the feature view",
                    distinct.len(),
                    spec.max_categories
                ),
            });
        }
        values.push(column);
    }
    Ok(CategoricalData { names, values })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{DataType, Field};

    fn schema() -> Schema {
        let dictionary =
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8View));
        Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("kind", DataType::Utf8View, true),
            Field::new("rating", dictionary, true),
            Field::new("count", DataType::Int64, true),
        ])
    }

    fn spec(columns: CategoricalColumns) -> CategoricalSpec {
        CategoricalSpec {
            columns,
            ..CategoricalSpec::default()
        }
    }

    #[test]
    fn auto_takes_every_text_column_but_the_key() {
        let got = declared(&spec(CategoricalColumns::Auto), &schema(), "t", "id").unwrap();
        assert_eq!(got, ["kind", "rating"]);
    }

    #[test]
    fn a_numeric_or_unknown_column_is_refused_listing_the_text_columns() {
        for (column, says) in [("count", "is Int64, not text"), ("colour", "no column")] {
            let listed = CategoricalColumns::Listed(vec![column.to_string()]);
            let e = declared(&spec(listed), &schema(), "t", "id").unwrap_err();
            let e = e.to_string();
            assert!(e.contains(column) && e.contains(says), "{e}");
            assert!(e.contains("text columns: kind, rating"), "{e}");
        }
    }

    #[test]
    fn text_columns_left_out_are_named_with_how_to_use_them() {
        let said = left_out(&schema(), "id", &["kind".to_string()]).unwrap();
        assert!(said.contains(": rating;"), "{said}");
        assert!(said.contains("[features] categorical"), "{said}");
        let all = ["kind".to_string(), "rating".to_string()];
        assert_eq!(left_out(&schema(), "id", &all), None);
    }
}
