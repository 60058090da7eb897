//! The label view of a `[risk]` section: one row per labelled customer,
//! `label` 0 or 1 (or a boolean); a NULL label means unlabelled.

use std::collections::HashMap;

use arrow::array::{Array, Float64Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use seglake_features::FeatureEngine;
use seglake_spec::RiskSpec;

use crate::error::{JobError, Result};

/// Labelled customers: key -> is a risk (1) or not (0).
pub(crate) type Labels = HashMap<String, bool>;

/// Runs the label view and checks every row.
pub(crate) async fn read_labels(
    engine: &FeatureEngine,
    spec: &RiskSpec,
    key: &str,
) -> Result<Labels> {
    let view = &spec.labels.name;
    let sql = format!(
        "SELECT CAST(\"{key}\" AS VARCHAR) AS k, CAST(label AS DOUBLE) AS label FROM \"{view}\""
    );
    let batches = engine
        .query(
            &format!("label view `{view}` ({})", spec.labels.path.display()),
            &sql,
        )
        .await?;
    let mut out = Labels::new();
    for b in batches {
        let k = cast(b.column(0), &DataType::Utf8).map_err(|source| JobError::LabelColumn {
            view: view.clone(),
            column: key.to_string(),
            source,
        })?;
        let k = k.as_any().downcast_ref::<StringArray>().expect("utf8");
        let l = b
            .column(1)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("cast to double in SQL");
        for i in 0..b.num_rows() {
            if let Some((customer, label)) =
                label_of_row(k, l, i, key).map_err(|message| JobError::Labels {
                    view: view.clone(),
                    message,
                })?
                && out.insert(customer.to_string(), label).is_some()
            {
                return Err(JobError::Labels {
                    view: view.clone(),
                    message: format!(
                        "{key} = {customer} has more than one row; a label view has one row per customer"
                    ),
                });
            }
        }
    }
    Ok(out)
}

/// Row `i`'s customer and label; `None` when unlabelled.
fn label_of_row<'a>(
    keys: &'a StringArray,
    labels: &Float64Array,
    i: usize,
    key: &str,
) -> std::result::Result<Option<(&'a str, bool)>, String> {
    if keys.is_null(i) {
        return Err(format!("`{key}` is NULL in a row"));
    }
    if labels.is_null(i) {
        return Ok(None);
    }
    let label = match labels.value(i) {
        1.0 => true,
        0.0 => false,
        v => {
            return Err(format!(
                "`label` must be 0 or 1 (or true / false), got {v} for {key} = {}",
                keys.value(i)
            ));
        }
    };
    Ok(Some((keys.value(i), label)))
}
