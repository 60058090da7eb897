//! The scoring columns of the `segments` table, built in one place so the
//! batch run, the cluster's scoring pass and `Scorer::columns` publish the
//! same names and types.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, Float64Builder, Int32Array, ListArray, ListBuilder, StringArray,
    StringBuilder, StructBuilder,
};
use arrow::datatypes::{DataType, Field, Fields};

use crate::risk::NamedReason;

/// `segment_id`, `segment_label` and `distance`, one row per customer.
pub fn segment_columns<'a>(
    ids: Vec<i32>,
    labels: impl Iterator<Item = &'a str>,
    distances: Vec<f64>,
) -> (Vec<Field>, Vec<ArrayRef>) {
    let fields = vec![
        Field::new("segment_id", DataType::Int32, false),
        Field::new("segment_label", DataType::Utf8, false),
        Field::new("distance", DataType::Float64, false),
    ];
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(ids)),
        Arc::new(StringArray::from_iter_values(labels)),
        Arc::new(Float64Array::from(distances)),
    ];
    (fields, columns)
}

/// `risk_score`, `risk_band` and `reasons`, one row per customer.
pub fn risk_columns<'a>(
    scores: Vec<f64>,
    bands: impl Iterator<Item = &'a str>,
    reasons: impl Iterator<Item = &'a [NamedReason]>,
) -> (Vec<Field>, Vec<ArrayRef>) {
    let reasons = reasons_array(reasons);
    let fields = vec![
        Field::new("risk_score", DataType::Float64, false),
        Field::new("risk_band", DataType::Utf8, false),
        Field::new("reasons", reasons.data_type().clone(), false),
    ];
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from(scores)),
        Arc::new(StringArray::from_iter_values(bands)),
        Arc::new(reasons),
    ];
    (fields, columns)
}

/// A list of `{feature, value, contribution}` per customer (`value` null
/// for a missing value).
fn reasons_array<'a>(rows: impl Iterator<Item = &'a [NamedReason]>) -> ListArray {
    let reason_fields = Fields::from(vec![
        Field::new("feature", DataType::Utf8, false),
        Field::new("value", DataType::Float64, true),
        Field::new("contribution", DataType::Float64, false),
    ]);
    let mut reasons =
        ListBuilder::new(StructBuilder::from_fields(reason_fields.clone(), 0)).with_field(
            Arc::new(Field::new("item", DataType::Struct(reason_fields), false)),
        );
    for row in rows {
        let s = reasons.values();
        for r in row {
            s.field_builder::<StringBuilder>(0)
                .expect("feature")
                .append_value(&r.feature);
            s.field_builder::<Float64Builder>(1)
                .expect("value")
                .append_option(r.value);
            s.field_builder::<Float64Builder>(2)
                .expect("contribution")
                .append_value(r.contribution);
            s.append(true);
        }
        reasons.append(true);
    }
    reasons.finish()
}
