//! The segmentation's three published tables: `segments` (one row per
//! customer), `segment_profiles` (one per segment: size, case-outcome and
//! feedback rates, centres in original units and as z-scores) and `models`
//! (the serialised models, one row each).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, ListBuilder, RecordBatch, StringArray,
    StringBuilder, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, Utc};
use seglake_model::ModelKind;
use seglake_spec::RiskSpec;

use crate::error::{JobError, Result};
use crate::feedback::CustomerFeedback;
use crate::outcomes::Outcomes;
use crate::risk::TrainedRisk;
use crate::segmentation::TrainedSegments;

pub(crate) const SEGMENTS: &str = seglake_spec::SEGMENTS_TABLE;
pub(crate) const PROFILES: &str = seglake_spec::PROFILES_TABLE;
pub(crate) const MODELS: &str = seglake_spec::MODELS_TABLE;

/// A table ready to stage: its schema and batches.
pub(crate) type TableData = (SchemaRef, Vec<RecordBatch>);

/// What every row of `segments` and `segment_profiles` says about the run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunStamp<'a> {
    pub run_id: &'a str,
    /// The `models` version holding the run's models.
    pub model_version: i64,
    pub as_of: DateTime<Utc>,
}

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn ts_column(v: DateTime<Utc>, n: usize) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(vec![v.timestamp_micros(); n]).with_timezone("UTC"))
}

fn batch(table: &str, fields: Vec<Field>, columns: Vec<ArrayRef>) -> Result<TableData> {
    let schema = Arc::new(Schema::new(fields));
    let batch =
        RecordBatch::try_new(schema.clone(), columns).map_err(|source| JobError::Output {
            table: table.to_string(),
            source,
        })?;
    Ok((schema, vec![batch]))
}

/// `run_id`, `model_version` and `as_of` for `n` rows.
fn stamp_columns(stamp: RunStamp, n: usize) -> (Vec<Field>, Vec<ArrayRef>) {
    (
        vec![
            Field::new("run_id", DataType::Utf8, false),
            Field::new("model_version", DataType::Int64, false),
            Field::new("as_of", ts_type(), false),
        ],
        vec![
            Arc::new(StringArray::from(vec![stamp.run_id; n])),
            Arc::new(Int64Array::from(vec![stamp.model_version; n])),
            ts_column(stamp.as_of, n),
        ],
    )
}

/// The `segments` table from its key column and scoring columns (segment,
/// distance, risk), both in key order: the batch run's and the cluster's
/// scoring pass publish through here.
pub(crate) fn segments_table(
    key: &str,
    keys: ArrayRef,
    (scoring_fields, scoring_columns): (Vec<Field>, Vec<ArrayRef>),
    stamp: RunStamp,
) -> Result<TableData> {
    let (stamp_fields, stamp_values) = stamp_columns(stamp, keys.len());
    // The key keeps the feature table's type (text once pseudonymised).
    let mut fields = vec![Field::new(key, keys.data_type().clone(), false)];
    fields.extend(scoring_fields);
    fields.extend(stamp_fields);
    let mut columns = vec![keys];
    columns.extend(scoring_columns);
    columns.extend(stamp_values);
    batch(SEGMENTS, fields, columns)
}

/// `segments` with no rows, its columns as `spec`'s run would publish them
/// with a key of type `key_type` (for planning SQL that reads it).
pub(crate) fn empty_segments_table(
    spec: &seglake_spec::JobSpec,
    key_type: &DataType,
) -> Result<TableData> {
    let (mut fields, mut columns) =
        seglake_model::segment_columns(Vec::new(), std::iter::empty(), Vec::new());
    if spec.risk.is_some() {
        let (risk_fields, risk_columns) =
            seglake_model::risk_columns(Vec::new(), std::iter::empty(), std::iter::empty());
        fields.extend(risk_fields);
        columns.extend(risk_columns);
    }
    let keys = arrow::array::new_empty_array(key_type);
    let stamp = RunStamp {
        run_id: "validate",
        model_version: 0,
        as_of: DateTime::<Utc>::UNIX_EPOCH,
    };
    segments_table(&spec.key, keys, (fields, columns), stamp)
}

/// The scoring columns of the batch run: segment, distance and, with a
/// risk model, score, band and reasons, in key order.
pub(crate) fn local_scoring_columns(
    trained: &TrainedSegments,
    risk: Option<&TrainedRisk>,
) -> (Vec<Field>, Vec<ArrayRef>) {
    let ids = trained.segment_ids();
    let labels: Vec<&str> = ids
        .iter()
        .map(|&i| trained.labels[i as usize].as_str())
        .collect();
    let (mut fields, mut columns) = seglake_model::segment_columns(
        ids,
        labels.into_iter(),
        trained.segmentation.assignment.distances.clone(),
    );
    if let Some(risk) = risk {
        let (risk_fields, risk_columns) = risk.columns();
        fields.extend(risk_fields);
        columns.extend(risk_columns);
    }
    (fields, columns)
}

/// Case outcomes per published segment id: (cases, customers with a SAR
/// filed, false-positive cases).
fn outcomes_per_segment(trained: &TrainedSegments, outcomes: &Outcomes) -> [Vec<u64>; 3] {
    let k = trained.k();
    let (mut cases, mut sar_customers, mut false_positives) = (vec![0; k], vec![0; k], vec![0; k]);
    for (customer, &c) in trained
        .keys
        .iter()
        .zip(&trained.segmentation.assignment.labels)
    {
        if let Some(o) = outcomes.get(customer) {
            let id = trained.order[c as usize];
            cases[id] += o.cases;
            sar_customers[id] += u64::from(o.sar_filed > 0);
            false_positives[id] += o.false_positives;
        }
    }
    [cases, sar_customers, false_positives]
}

/// `cases`, `sar_rate` and `false_positive_rate`: null without an
/// outcomes source, or where a rate has no denominator.
fn outcome_columns(
    trained: &TrainedSegments,
    outcomes: Option<&Outcomes>,
    sizes: &[u64],
) -> (Vec<Field>, Vec<ArrayRef>) {
    let k = trained.k();
    let [cases, sar_customers, false_positives] = match outcomes {
        Some(o) => outcomes_per_segment(trained, o),
        None => [vec![0; k], vec![0; k], vec![0; k]],
    };
    let rate = |num: &[u64], den: &[u64]| -> ArrayRef {
        Arc::new(Float64Array::from_iter((0..k).map(|i| {
            (outcomes.is_some() && den[i] != 0).then(|| num[i] as f64 / den[i] as f64)
        })))
    };
    (
        vec![
            Field::new("cases", DataType::Int64, true),
            Field::new("sar_rate", DataType::Float64, true),
            Field::new("false_positive_rate", DataType::Float64, true),
        ],
        vec![
            Arc::new(Int64Array::from_iter(
                cases.iter().map(|&c| outcomes.map(|_| c as i64)),
            )),
            rate(&sar_customers, sizes),
            rate(&false_positives, &cases),
        ],
    )
}

/// What customers and analysts said (the lake's `feedback` table): null
/// where a segment has no response of that kind.
fn feedback_columns(feedback: &[CustomerFeedback]) -> (Vec<Field>, Vec<ArrayRef>) {
    let count = |f: &dyn Fn(&CustomerFeedback) -> u64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(
            feedback.iter().map(|s| f(s) as i64),
        ))
    };
    let value = |f: &dyn Fn(&CustomerFeedback) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from_iter(feedback.iter().map(f)))
    };
    (
        vec![
            Field::new("survey_responses", DataType::Int64, false),
            Field::new("nps", DataType::Float64, true),
            Field::new("csat", DataType::Float64, true),
            Field::new("compliance_contact_nps", DataType::Float64, true),
            Field::new("dispositions", DataType::Int64, false),
            Field::new("disposition_false_positive_rate", DataType::Float64, true),
        ],
        vec![
            count(&|s| s.nps_responses + s.csat_responses),
            value(&|s| s.nps()),
            value(&|s| s.csat()),
            value(&|s| s.compliance_nps()),
            count(&|s| s.dispositions),
            value(&|s| s.false_positive_rate()),
        ],
    )
}

/// Every feature's centre in original units, then as a z-score (`z_` +
/// the feature's name), one row per published segment id.
fn centre_columns(trained: &TrainedSegments) -> (Vec<Field>, Vec<ArrayRef>) {
    let model_index = trained.model_index();
    let centres = &trained.segmentation.centres;
    let stats = &trained.preparation.features;
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (j, s) in stats.iter().enumerate() {
        fields.push(Field::new(&s.name, DataType::Float64, false));
        columns.push(Arc::new(Float64Array::from_iter_values(
            model_index.iter().map(|&c| s.inverse(centres[[c, j]])),
        )));
    }
    for (j, s) in stats.iter().enumerate() {
        fields.push(Field::new(
            format!("z_{}", s.name),
            DataType::Float64,
            false,
        ));
        columns.push(Arc::new(Float64Array::from_iter_values(
            model_index.iter().map(|&c| centres[[c, j]]),
        )));
    }
    (fields, columns)
}

/// Each categorical feature's most frequent level in the segment
/// (`top_` + the feature's name) and that level's share of the segment's
/// customers (`top_share_` + the name), after the numeric centres.
fn category_columns(trained: &TrainedSegments) -> (Vec<Field>, Vec<ArrayRef>) {
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for p in &trained.category_profiles {
        fields.push(Field::new(format!("top_{}", p.name), DataType::Utf8, false));
        columns.push(Arc::new(StringArray::from_iter_values(&p.top)));
        fields.push(Field::new(
            format!("top_share_{}", p.name),
            DataType::Float64,
            false,
        ));
        columns.push(Arc::new(Float64Array::from(p.share.clone())));
    }
    (fields, columns)
}

/// The `segment_profiles` table: one row per segment, by segment id.
pub(crate) fn profiles_table(
    trained: &TrainedSegments,
    outcomes: Option<&Outcomes>,
    feedback: &[CustomerFeedback],
    stamp: RunStamp,
) -> Result<TableData> {
    let k = trained.k();
    let total = trained.keys.len() as f64;
    let sizes = trained.sizes();
    let mut fields = vec![
        Field::new("segment_id", DataType::Int32, false),
        Field::new("segment_label", DataType::Utf8, false),
        Field::new("size", DataType::Int64, false),
        Field::new("share", DataType::Float64, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from_iter_values(0..k as i32)),
        Arc::new(StringArray::from_iter_values(&trained.labels)),
        Arc::new(Int64Array::from_iter_values(
            sizes.iter().map(|&s| s as i64),
        )),
        Arc::new(Float64Array::from_iter_values(
            sizes.iter().map(|&s| s as f64 / total),
        )),
    ];
    for (more_fields, more_columns) in [
        outcome_columns(trained, outcomes, &sizes),
        feedback_columns(feedback),
        centre_columns(trained),
        category_columns(trained),
    ] {
        fields.extend(more_fields);
        columns.extend(more_columns);
    }
    let (stamp_fields, stamp_values) = stamp_columns(stamp, k);
    fields.extend(stamp_fields);
    columns.extend(stamp_values);
    batch(PROFILES, fields, columns)
}

/// One row of `models`.
struct ModelRow {
    kind: ModelKind,
    algorithm: String,
    features: Vec<String>,
    params: String,
    preparation: String,
    metrics: String,
    model: String,
}

fn segments_row(trained: &TrainedSegments) -> ModelRow {
    ModelRow {
        kind: ModelKind::Segments,
        algorithm: trained.params.algorithm.name().to_string(),
        features: trained.model().features_read(),
        params: serde_json::to_string(&trained.params).expect("params serialise"),
        preparation: serde_json::to_string(&trained.preparation).expect("stats serialise"),
        metrics: serde_json::to_string(&trained.metrics()).expect("metrics serialise"),
        model: trained.model().to_json(),
    }
}

fn risk_row(risk: &TrainedRisk, spec: &RiskSpec) -> ModelRow {
    ModelRow {
        kind: ModelKind::Risk,
        algorithm: "gbdt".to_string(),
        features: risk.model.features.clone(),
        params: serde_json::to_string(&*spec.booster).expect("params serialise"),
        // Inputs go to the booster as they are (missing = NaN); what it
        // was trained on is the label view.
        preparation: serde_json::json!({
            "labels_view": spec.labels.name,
            "labels_sha256": spec.labels.sha256,
            "segment_feature": spec.segment_feature,
        })
        .to_string(),
        metrics: risk.metrics.to_string(),
        model: risk.model.to_json(),
    }
}

/// The `models` rows of this run: the segmentation, and the risk model
/// when there is one (its `k` is the run's number of segments too).
pub(crate) fn models_table(
    trained: &TrainedSegments,
    risk: Option<(&TrainedRisk, &RiskSpec)>,
    run_id: &str,
    as_of: DateTime<Utc>,
) -> Result<TableData> {
    let mut rows = vec![segments_row(trained)];
    rows.extend(risk.map(|(risk, spec)| risk_row(risk, spec)));
    let mut features = ListBuilder::new(StringBuilder::new());
    for row in &rows {
        for f in &row.features {
            features.values().append_value(f);
        }
        features.append(true);
    }
    let n = rows.len();
    let text = |f: &dyn Fn(&ModelRow) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    let fields = vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("algorithm", DataType::Utf8, false),
        Field::new("k", DataType::Int32, false),
        Field::new(
            "features",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            false,
        ),
        Field::new("params", DataType::Utf8, false),
        Field::new("preparation", DataType::Utf8, false),
        Field::new("metrics", DataType::Utf8, false),
        Field::new("model", DataType::Utf8, false),
        Field::new("as_of", ts_type(), false),
    ];
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![run_id; n])),
        text(&|r| r.kind.as_str()),
        text(&|r| &r.algorithm),
        Arc::new(Int32Array::from(vec![trained.k() as i32; n])),
        Arc::new(features.finish()),
        text(&|r| &r.params),
        text(&|r| &r.preparation),
        text(&|r| &r.metrics),
        text(&|r| &r.model),
        ts_column(as_of, n),
    ];
    batch(MODELS, fields, columns)
}
