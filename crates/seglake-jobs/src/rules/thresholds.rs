//! The `thresholds` table the rules read: one row per segment of the run,
//! one column per parameter, the one-size values with the job's overrides
//! for some segments applied in order (or, for a backtest of the legacy
//! rules, the one-size values everywhere).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use seglake_features::FeatureEngine;
use seglake_spec::{PROFILES_TABLE, SegmentSelector, Thresholds};

use crate::error::{JobError, Result};
use crate::tables::TableData;

/// Which thresholds a rule run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdSet {
    /// The one-size values with the per-segment overrides.
    SegmentSpecific,
    /// The one-size values for every segment: the bank's legacy rules.
    Global,
}

/// Every segment's parameter values, by segment id.
pub(crate) type SegmentThresholdValues = BTreeMap<i32, BTreeMap<String, f64>>;

fn bad(message: String) -> JobError {
    JobError::Rules { message }
}

/// The segments of the run (id, label), from `segment_profiles`.
pub(crate) fn segments_of(profiles: &TableData) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    for batch in &profiles.1 {
        let ids = batch
            .column_by_name("segment_id")
            .and_then(|c| c.as_any().downcast_ref::<Int32Array>().cloned())
            .expect("segment_profiles has segment_id");
        let labels = batch
            .column_by_name("segment_label")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned())
            .expect("segment_profiles has segment_label");
        for i in 0..batch.num_rows() {
            out.push((ids.value(i), labels.value(i).to_string()));
        }
    }
    out
}

/// Applies the overrides to the segments; `segment_profiles` must be
/// registered on `engine` (profile conditions are SQL over it).
pub(crate) async fn resolve(
    engine: &FeatureEngine,
    thresholds: &Thresholds,
    segments: &[(i32, String)],
    set: ThresholdSet,
) -> Result<SegmentThresholdValues> {
    let mut values: SegmentThresholdValues = segments
        .iter()
        .map(|(id, _)| (*id, thresholds.defaults.clone()))
        .collect();
    if set == ThresholdSet::Global {
        return Ok(values);
    }
    for (i, o) in thresholds.overrides.iter().enumerate() {
        let ids = selected(engine, i, &o.segments, segments).await?;
        for id in ids {
            let entry = values.get_mut(&id).expect("a segment of the run");
            entry.extend(o.values.iter().map(|(k, v)| (k.clone(), *v)));
        }
    }
    Ok(values)
}

async fn selected(
    engine: &FeatureEngine,
    i: usize,
    selector: &SegmentSelector,
    segments: &[(i32, String)],
) -> Result<Vec<i32>> {
    let key = format!("rules.segment_thresholds[{i}]");
    let known = || {
        segments
            .iter()
            .map(|(id, label)| format!("{id} \"{label}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match selector {
        SegmentSelector::Id(id) => match segments.iter().find(|(s, _)| s == id) {
            Some(_) => Ok(vec![*id]),
            None => Err(bad(format!(
                "{key}: this run has no segment {id}; its segments: {}",
                known()
            ))),
        },
        SegmentSelector::Label(label) => match segments.iter().find(|(_, l)| l == label) {
            Some((id, _)) => Ok(vec![*id]),
            None => Err(bad(format!(
                "{key}: this run has no segment labelled \"{label}\"; its segments: {}",
                known()
            ))),
        },
        SegmentSelector::Profile(condition) => {
            let sql = format!(
                "SELECT segment_id FROM {PROFILES_TABLE} WHERE ({condition}) ORDER BY segment_id"
            );
            let batches = engine
                .context()
                .sql(&sql)
                .await
                .map_err(|e| {
                    bad(format!(
                        "{key}: profile `{condition}` is not a condition over {PROFILES_TABLE}: {e}"
                    ))
                })?
                .collect()
                .await
                .map_err(|e| bad(format!("{key}: profile `{condition}`: {e}")))?;
            Ok(batches
                .iter()
                .flat_map(|b| {
                    let ids = b.column(0).as_any().downcast_ref::<Int32Array>().cloned();
                    ids.into_iter()
                        .flat_map(|a| a.iter().flatten().collect::<Vec<_>>())
                })
                .collect())
        }
    }
}

/// The `thresholds` table: `segment_id`, `segment_label`, then one
/// `Float64` column per parameter in name order.
pub(crate) fn table(
    thresholds: &Thresholds,
    segments: &[(i32, String)],
    values: &SegmentThresholdValues,
) -> Result<TableData> {
    let mut fields = vec![
        Field::new("segment_id", DataType::Int32, false),
        Field::new("segment_label", DataType::Utf8, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from_iter_values(segments.iter().map(|s| s.0))),
        Arc::new(StringArray::from_iter_values(
            segments.iter().map(|s| s.1.as_str()),
        )),
    ];
    for name in thresholds.defaults.keys() {
        fields.push(Field::new(name, DataType::Float64, false));
        columns.push(Arc::new(Float64Array::from_iter_values(
            segments.iter().map(|(id, _)| values[id][name]),
        )));
    }
    let schema = Arc::new(Schema::new(fields));
    let batch =
        RecordBatch::try_new(schema.clone(), columns).map_err(|source| JobError::Output {
            table: seglake_spec::THRESHOLDS_TABLE.into(),
            source,
        })?;
    Ok((schema, vec![batch]))
}
