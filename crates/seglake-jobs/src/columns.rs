//! Reading the feature table's columns for the models: which numeric and
//! categorical columns a section trains on, a column as `f64`, the key as text and in
//! its own type.

use arrow::array::{Array, ArrayRef, Float64Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Schema};
use arrow::error::ArrowError;
use seglake_features::FeatureTable;

use crate::error::{JobError, Result};

fn is_numeric(t: &DataType) -> bool {
    t.is_integer()
        || t.is_floating()
        || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..))
}

/// The columns one model reads.
#[derive(Debug, PartialEq)]
pub(crate) struct ModelColumns {
    pub numeric: Vec<String>,
    /// Categorical features (text), in the job's declared order.
    pub categorical: Vec<String>,
}

/// The columns a model reads: `features` (every numeric column but the
/// key, and every declared `categorical` column, when absent) without
/// `exclude`; `section` names the job section in the message of an error.
pub(crate) fn model_columns(
    schema: &Schema,
    key: &str,
    section: &str,
    features: Option<&[String]>,
    exclude: &[String],
    categorical: &[String],
) -> std::result::Result<ModelColumns, String> {
    let numeric: Vec<String> = schema
        .fields()
        .iter()
        .filter(|f| f.name() != key && is_numeric(f.data_type()))
        .map(|f| f.name().clone())
        .collect();
    let check = |key_name: &str, column: &str| -> std::result::Result<(), String> {
        match schema.field_with_name(column) {
            Ok(f) if is_numeric(f.data_type()) && column != key => Ok(()),
            Ok(_) if categorical.iter().any(|c| c == column) => Ok(()),
            Ok(f) => Err(format!(
                "{key_name}: column `{column}` is {}, not a numeric feature{}; numeric columns: {}",
                f.data_type(),
                match is_text(f.data_type()) {
                    true => " (text columns are read when listed in [features] categorical)",
                    false => "",
                },
                numeric.join(", ")
            )),
            Err(_) => Err(format!(
                "{key_name}: no column `{column}`; numeric columns: {}",
                numeric.join(", ")
            )),
        }
    };
    for column in exclude {
        check(&format!("{section}.exclude"), column)?;
    }
    if let Some(list) = features {
        for column in list {
            check(&format!("{section}.features"), column)?;
        }
    }
    let wanted = |c: &String| !exclude.contains(c) && features.is_none_or(|list| list.contains(c));
    let chosen = ModelColumns {
        numeric: match features {
            Some(list) => list
                .iter()
                .filter(|c| numeric.contains(c))
                .cloned()
                .collect(),
            None => numeric.clone(),
        }
        .into_iter()
        .filter(|c| !exclude.contains(c))
        .collect(),
        categorical: categorical.iter().filter(|c| wanted(c)).cloned().collect(),
    };
    if chosen.numeric.is_empty() && chosen.categorical.is_empty() {
        return Err(format!(
            "no numeric feature left ({section}.features / {section}.exclude)"
        ));
    }
    Ok(chosen)
}

/// One column of the feature table `table` as f64, nulls as NaN.
pub(crate) fn column_f64(features: &FeatureTable, table: &str, name: &str) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(features.rows);
    for column in cast_column(features, table, name, &DataType::Float64, "numbers")? {
        let column = column
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("cast to f64");
        out.extend(column.iter().map(|v| v.unwrap_or(f64::NAN)));
    }
    Ok(out)
}

/// One column of the feature table `table` as text, NULL as `None`.
pub(crate) fn column_text(
    features: &FeatureTable,
    table: &str,
    name: &str,
) -> Result<Vec<Option<String>>> {
    let mut out = Vec::with_capacity(features.rows);
    for column in cast_column(features, table, name, &DataType::Utf8, "text")? {
        let column = column
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("cast to utf8");
        out.extend(column.iter().map(|v| v.map(str::to_string)));
    }
    Ok(out)
}

/// Column `name` of each of the feature table's batches, cast to `to`.
fn cast_column(
    features: &FeatureTable,
    table: &str,
    name: &str,
    to: &DataType,
    wanted: &'static str,
) -> Result<Vec<ArrayRef>> {
    features
        .batches
        .iter()
        .map(|batch| {
            let column = batch
                .column_by_name(name)
                .expect("checked against the schema");
            cast(column, to).map_err(|source| JobError::Column {
                table: table.to_string(),
                column: name.to_string(),
                wanted,
                source,
            })
        })
        .collect()
}

/// A string column, or a dictionary of strings.
pub(crate) fn is_text(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, value) => is_text(value),
        _ => false,
    }
}

/// The key column of the feature table `table` as text, in row order.
pub(crate) fn key_strings(features: &FeatureTable, table: &str, key: &str) -> Result<Vec<String>> {
    let mut out = Vec::with_capacity(features.rows);
    for batch in &features.batches {
        let column = cast(
            batch.column_by_name(key).expect("key checked"),
            &DataType::Utf8,
        )
        .map_err(|source| JobError::Column {
            table: table.to_string(),
            column: key.to_string(),
            wanted: "text",
            source,
        })?;
        let column = column
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("cast to utf8");
        out.extend(column.iter().map(|v| v.unwrap_or_default().to_string()));
    }
    Ok(out)
}

/// The key column of the feature table `table` in its own type, in row
/// order: the `segments` table publishes it so, and a BI tool joins it to
/// the bank's tables without a cast.
pub(crate) fn key_column(features: &FeatureTable, table: &str, key: &str) -> Result<ArrayRef> {
    let parts: Vec<&dyn Array> = features
        .batches
        .iter()
        .map(|b| b.column_by_name(key).expect("key checked").as_ref())
        .collect();
    if parts.is_empty() {
        let t = features
            .schema
            .field_with_name(key)
            .expect("key checked")
            .data_type();
        return Ok(arrow::array::new_empty_array(t));
    }
    let error = |source| JobError::Column {
        table: table.to_string(),
        column: key.to_string(),
        wanted: "one column",
        source,
    };
    plain_text_key(arrow::compute::concat(&parts).map_err(error)?).map_err(error)
}

/// A text key as plain `Utf8`: DataFusion reads Parquet strings as views
/// (and a source may dictionary-encode them), which are the same Delta
/// `string` but another Arrow type in the data files' schema; published
/// tables keep one, so their bytes do not depend on how a view read the
/// key. Other types (integers) are kept as they are.
pub(crate) fn plain_text_key(keys: ArrayRef) -> std::result::Result<ArrayRef, ArrowError> {
    let text = match keys.data_type() {
        DataType::Utf8View | DataType::LargeUtf8 => true,
        DataType::Dictionary(_, value) => matches!(
            value.as_ref(),
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
        ),
        _ => false,
    };
    if text {
        cast(&keys, &DataType::Utf8)
    } else {
        Ok(keys)
    }
}
