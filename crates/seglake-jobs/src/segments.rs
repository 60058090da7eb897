//! From the feature table to the three segmentation tables: picks and
//! prepares the feature columns, trains (seglake-ml), then builds
//! `segments` (one row per customer), `segment_profiles` (one per segment,
//! centres in original units, z-scores, case-outcome rates) and the
//! serialised model for `models`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, Int32Array, Int64Array, ListBuilder, RecordBatch, StringArray,
    StringBuilder, TimestampMicrosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, Utc};
use seglake_features::FeatureTable;
use seglake_ml::{
    Algorithm, KChoice, KMeansParams, LogMode, Preparation, PrepareOptions, SegmentParams,
    Segmentation,
};
use seglake_spec::{KSpec, PrepareSpec, SegmentAlgorithm, SegmentsSpec};
use serde::Serialize;

use crate::error::{JobError, Result};

/// Segmentation errors name the feature table and the column or key.
pub(crate) fn invalid(table: &str, message: String) -> JobError {
    JobError::Segments {
        table: table.to_string(),
        message,
    }
}

/// The ml parameters a `[segments]` section asks for (checked).
pub(crate) fn params(spec: &SegmentsSpec, seed: u64) -> Result<SegmentParams> {
    let defaults = KMeansParams::new(2);
    let kmeans = KMeansParams {
        k: match spec.k {
            KSpec::Fixed(k) => k,
            KSpec::Auto { min, .. } => min,
        },
        seed,
        batch_size: spec.batch_size.unwrap_or(defaults.batch_size),
        max_epochs: spec.max_epochs.unwrap_or(defaults.max_epochs),
        lloyd_passes: spec.lloyd_passes.unwrap_or(defaults.lloyd_passes),
        tol: spec.tol.unwrap_or(defaults.tol),
        patience: spec.patience.unwrap_or(defaults.patience),
        n_init: spec.n_init.unwrap_or(defaults.n_init),
        init_sample: spec.init_sample.unwrap_or(defaults.init_sample),
        chunk_rows: spec.chunk_rows.unwrap_or(defaults.chunk_rows),
    };
    let params = SegmentParams {
        algorithm: match spec.algorithm {
            SegmentAlgorithm::Kmeans => Algorithm::Kmeans,
            SegmentAlgorithm::Dbscan { eps, min_points } => Algorithm::Dbscan { eps, min_points },
            SegmentAlgorithm::Hierarchical => Algorithm::Hierarchical,
        },
        k: match spec.k {
            KSpec::Fixed(k) => KChoice::Fixed(k),
            KSpec::Auto { min, max } => KChoice::Auto { min, max },
        },
        kmeans,
        metric_sample: spec.silhouette_sample.unwrap_or(5000),
        cluster_sample: spec.cluster_sample.unwrap_or(3000),
    };
    params
        .check()
        .map_err(|e| JobError::SegmentParams(e.to_string()))?;
    for (key, prepare) in std::iter::once(("segments.prepare".to_string(), &spec.prepare)).chain(
        spec.prepare_features
            .iter()
            .map(|(name, p)| (format!("segments.prepare.features.{name}"), p)),
    ) {
        prepare_options(prepare)
            .check()
            .map_err(|e| JobError::SegmentParams(format!("{key}: {e}")))?;
    }
    Ok(params)
}

fn is_numeric(t: &DataType) -> bool {
    t.is_integer()
        || t.is_floating()
        || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..))
}

/// The feature columns to cluster on, checked against the table's schema.
pub(crate) fn select_features(
    spec: &SegmentsSpec,
    schema: &Schema,
    table: &str,
    key: &str,
) -> Result<Vec<String>> {
    let chosen = numeric_columns(
        schema,
        key,
        "segments",
        spec.features.as_deref(),
        &spec.exclude,
    )
    .map_err(|m| invalid(table, m))?;
    for column in spec.prepare_features.keys() {
        if !chosen.contains(column) {
            return Err(invalid(
                table,
                format!(
                    "segments.prepare.features.{column}: `{column}` is not one of the clustered features: {}",
                    chosen.join(", ")
                ),
            ));
        }
    }
    Ok(chosen)
}

/// The numeric columns a model reads: `features` (every numeric column but
/// the key when absent) without `exclude`; `section` names the job section
/// in errors.
pub(crate) fn numeric_columns(
    schema: &Schema,
    key: &str,
    section: &str,
    features: Option<&[String]>,
    exclude: &[String],
) -> std::result::Result<Vec<String>, String> {
    let numeric: Vec<String> = schema
        .fields()
        .iter()
        .filter(|f| f.name() != key && is_numeric(f.data_type()))
        .map(|f| f.name().clone())
        .collect();
    let check = |key_name: &str, column: &str| -> std::result::Result<(), String> {
        match schema.field_with_name(column) {
            Ok(f) if is_numeric(f.data_type()) && column != key => Ok(()),
            Ok(f) => Err(format!(
                "{key_name}: column `{column}` is {}, not a numeric feature; numeric columns: {}",
                f.data_type(),
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
    let chosen: Vec<String> = match features {
        Some(list) => {
            for column in list {
                check(&format!("{section}.features"), column)?;
            }
            list.to_vec()
        }
        None => numeric.clone(),
    };
    let chosen: Vec<String> = chosen
        .into_iter()
        .filter(|c| !exclude.contains(c))
        .collect();
    if chosen.is_empty() {
        return Err(format!(
            "no numeric feature left ({section}.features / {section}.exclude)"
        ));
    }
    Ok(chosen)
}

fn prepare_options(spec: &PrepareSpec) -> PrepareOptions {
    let default = PrepareOptions::default();
    PrepareOptions {
        clip: spec.clip.unwrap_or(default.clip),
        log: match spec.log.as_deref() {
            Some("always") => LogMode::Always,
            Some("never") => LogMode::Never,
            Some(_) => LogMode::Auto,
            None => default.log,
        },
        standardise: spec.standardise.unwrap_or(default.standardise),
    }
}

/// One column of the feature table as f64, nulls as NaN.
pub(crate) fn column_f64(features: &FeatureTable, table: &str, name: &str) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(features.rows);
    for batch in &features.batches {
        let column = batch
            .column_by_name(name)
            .expect("checked against the schema");
        let column = cast(column, &DataType::Float64).map_err(|e| {
            invalid(
                table,
                format!("column `{name}` cannot be read as numbers: {e}"),
            )
        })?;
        let column = column
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("cast to f64");
        out.extend(column.iter().map(|v| v.unwrap_or(f64::NAN)));
    }
    Ok(out)
}

fn keys(features: &FeatureTable, table: &str, key: &str) -> Result<Vec<String>> {
    let mut out = Vec::with_capacity(features.rows);
    for batch in &features.batches {
        let column = cast(
            batch.column_by_name(key).expect("key checked"),
            &DataType::Utf8,
        )
        .map_err(|e| {
            invalid(
                table,
                format!("key column `{key}` cannot be read as text: {e}"),
            )
        })?;
        let column = column
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("cast to utf8");
        out.extend(column.iter().map(|v| v.unwrap_or_default().to_string()));
    }
    Ok(out)
}

/// Per customer: (cases, cases with a SAR filed, false-positive cases).
pub(crate) type Outcomes = HashMap<String, (u64, u64, u64)>;

/// A trained, published-ready segmentation.
pub(crate) struct Trained {
    pub keys: Vec<String>,
    pub features: Vec<String>,
    pub preparation: Preparation,
    pub segmentation: Segmentation,
    /// Model segment index -> published segment id (largest segment is 0).
    pub order: Vec<usize>,
    /// Labels by published segment id.
    pub labels: Vec<String>,
    pub params: SegmentParams,
}

pub(crate) fn train(
    spec: &SegmentsSpec,
    seed: u64,
    features: &FeatureTable,
    table: &str,
    key: &str,
) -> Result<Trained> {
    let params = params(spec, seed)?;
    let names = select_features(spec, &features.schema, table, key)?;
    let columns: Vec<Vec<f64>> = names
        .iter()
        .map(|n| column_f64(features, table, n))
        .collect::<Result<_>>()?;
    let views: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
    let options: Vec<PrepareOptions> = names
        .iter()
        .map(|n| {
            let over = spec.prepare_features.get(n).cloned().unwrap_or_default();
            prepare_options(&spec.prepare.overridden_by(&over))
        })
        .collect();
    let ml = |e: seglake_ml::MlError| invalid(table, e.to_string());
    let preparation = Preparation::fit(&names, &views, &options).map_err(ml)?;
    let matrix = preparation.transform(&views).map_err(ml)?;
    drop(columns);
    let segmentation = seglake_ml::segment(matrix.view(), &params).map_err(ml)?;
    let k = segmentation.centres.nrows();
    // Published ids: largest segment first, ties by model index, so ids do
    // not depend on which centre initialisation happened to find a cluster.
    let mut by_size: Vec<usize> = (0..k).collect();
    by_size.sort_by_key(|&c| (std::cmp::Reverse(segmentation.metrics.sizes[c]), c));
    let mut order = vec![0; k];
    for (id, &c) in by_size.iter().enumerate() {
        order[c] = id;
    }
    let mut labels = vec![String::new(); k];
    let raw_labels = make_labels(&segmentation.centres, &names, spec.label_features);
    for (c, label) in raw_labels.into_iter().enumerate() {
        labels[order[c]] = label;
    }
    Ok(Trained {
        keys: keys(features, table, key)?,
        features: names,
        preparation,
        segmentation,
        order,
        labels,
        params,
    })
}

/// `high cash share, high velocity`: the features with the largest |z| of
/// each centre, in words. A label that two segments would share takes more
/// features until it is unique (and, failing that, the segment's index).
fn make_labels(centres: &ndarray::Array2<f64>, names: &[String], wanted: usize) -> Vec<String> {
    let k = centres.nrows();
    let ranked: Vec<Vec<usize>> = (0..k)
        .map(|c| {
            let mut idx: Vec<usize> = (0..names.len()).collect();
            idx.sort_by(|&a, &b| {
                centres[[c, b]]
                    .abs()
                    .total_cmp(&centres[[c, a]].abs())
                    .then(a.cmp(&b))
            });
            idx
        })
        .collect();
    let phrase = |c: usize, n: usize| -> String {
        ranked[c]
            .iter()
            .take(n)
            .map(|&j| {
                let z = centres[[c, j]];
                let level = if z.abs() < 0.25 {
                    "typical"
                } else if z > 0.0 {
                    "high"
                } else {
                    "low"
                };
                format!("{level} {}", readable(&names[j]))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut width = vec![wanted.min(names.len()); k];
    loop {
        let labels: Vec<String> = (0..k).map(|c| phrase(c, width[c])).collect();
        let mut grew = false;
        for c in 0..k {
            if labels.iter().filter(|l| **l == labels[c]).count() > 1 && width[c] < names.len() {
                width[c] += 1;
                grew = true;
            }
        }
        if !grew {
            let mut seen = HashMap::new();
            return labels
                .into_iter()
                .map(|l| {
                    let n = seen.entry(l.clone()).or_insert(0);
                    *n += 1;
                    if *n > 1 { format!("{l} ({n})") } else { l }
                })
                .collect();
        }
    }
}

/// `txn_volume_eur` -> `txn volume`: units are in the profile, not the label.
fn readable(feature: &str) -> String {
    let base = feature
        .strip_suffix("_eur")
        .or_else(|| feature.strip_suffix("_s"))
        .unwrap_or(feature);
    base.replace('_', " ")
}

pub(crate) fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

pub(crate) fn ts_column(v: DateTime<Utc>, n: usize) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(vec![v.timestamp_micros(); n]).with_timezone("UTC"))
}

impl Trained {
    pub fn k(&self) -> usize {
        self.labels.len()
    }

    /// Published segment id of every customer, in key order.
    pub fn segment_ids(&self) -> Vec<i32> {
        self.segmentation
            .assignment
            .labels
            .iter()
            .map(|&c| self.order[c as usize] as i32)
            .collect()
    }

    /// The `segments` table: one row per customer, in key order.
    pub fn segments_table(
        &self,
        key: &str,
        run_id: &str,
        model_version: i64,
        as_of: DateTime<Utc>,
        risk: Option<&crate::risk::Risk>,
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let assignment = &self.segmentation.assignment;
        let ids: Vec<i32> = assignment
            .labels
            .iter()
            .map(|&c| self.order[c as usize] as i32)
            .collect();
        let mut fields = vec![
            Field::new("segment_id", DataType::Int32, false),
            Field::new("segment_label", DataType::Utf8, false),
            Field::new("distance", DataType::Float64, false),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(ids.clone())),
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|&i| &self.labels[i as usize]),
            )),
            Arc::new(Float64Array::from_iter_values(
                assignment.distances.iter().copied(),
            )),
        ];
        let (risk_fields, risk_columns) = risk.map(|r| r.columns()).unwrap_or_default();
        fields.extend(risk_fields);
        columns.extend(risk_columns);
        segments_table(
            key,
            Arc::new(StringArray::from_iter_values(&self.keys)),
            (fields, columns),
            run_id,
            model_version,
            as_of,
        )
    }

    /// The `segment_profiles` table: one row per segment, by segment id.
    pub fn profiles_table(
        &self,
        outcomes: Option<&Outcomes>,
        feedback: &[crate::feedback::CustomerFeedback],
        run_id: &str,
        model_version: i64,
        as_of: DateTime<Utc>,
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let k = self.k();
        let total = self.keys.len() as f64;
        let mut model_index = vec![0; k];
        for (c, &id) in self.order.iter().enumerate() {
            model_index[id] = c;
        }
        let sizes: Vec<u64> = model_index
            .iter()
            .map(|&c| self.segmentation.metrics.sizes[c])
            .collect();
        // Case outcomes per segment.
        let mut cases = vec![0u64; k];
        let mut sar_customers = vec![0u64; k];
        let mut false_positives = vec![0u64; k];
        if let Some(outcomes) = outcomes {
            for (customer, &c) in self.keys.iter().zip(&self.segmentation.assignment.labels) {
                if let Some(&(n, sar, fp)) = outcomes.get(customer) {
                    let id = self.order[c as usize];
                    cases[id] += n;
                    sar_customers[id] += u64::from(sar > 0);
                    false_positives[id] += fp;
                }
            }
        }
        let mut fields = vec![
            Field::new("segment_id", DataType::Int32, false),
            Field::new("segment_label", DataType::Utf8, false),
            Field::new("size", DataType::Int64, false),
            Field::new("share", DataType::Float64, false),
            Field::new("cases", DataType::Int64, true),
            Field::new("sar_rate", DataType::Float64, true),
            Field::new("false_positive_rate", DataType::Float64, true),
        ];
        let rate = |num: &[u64], den: &[u64]| -> ArrayRef {
            Arc::new(Float64Array::from_iter((0..k).map(|i| {
                if outcomes.is_none() || den[i] == 0 {
                    None
                } else {
                    Some(num[i] as f64 / den[i] as f64)
                }
            })))
        };
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from_iter_values(0..k as i32)),
            Arc::new(StringArray::from_iter_values(&self.labels)),
            Arc::new(Int64Array::from_iter_values(
                sizes.iter().map(|&s| s as i64),
            )),
            Arc::new(Float64Array::from_iter_values(
                sizes.iter().map(|&s| s as f64 / total),
            )),
            Arc::new(Int64Array::from_iter(
                cases.iter().map(|&c| outcomes.map(|_| c as i64)),
            )),
            rate(&sar_customers, &sizes),
            rate(&false_positives, &cases),
        ];
        // What customers and analysts said (the lake's `feedback` table):
        // null where a segment has no response of that kind.
        let feedback_count = |f: &dyn Fn(&crate::feedback::CustomerFeedback) -> u64| -> ArrayRef {
            Arc::new(Int64Array::from_iter_values(
                feedback.iter().map(|s| f(s) as i64),
            ))
        };
        let feedback_value =
            |f: &dyn Fn(&crate::feedback::CustomerFeedback) -> Option<f64>| -> ArrayRef {
                Arc::new(Float64Array::from_iter(feedback.iter().map(f)))
            };
        fields.extend([
            Field::new("survey_responses", DataType::Int64, false),
            Field::new("nps", DataType::Float64, true),
            Field::new("csat", DataType::Float64, true),
            Field::new("compliance_contact_nps", DataType::Float64, true),
            Field::new("dispositions", DataType::Int64, false),
            Field::new("disposition_false_positive_rate", DataType::Float64, true),
        ]);
        columns.extend([
            feedback_count(&|s| s.nps_responses + s.csat_responses),
            feedback_value(&|s| s.nps()),
            feedback_value(&|s| s.csat()),
            feedback_value(&|s| s.compliance_nps()),
            feedback_count(&|s| s.dispositions),
            feedback_value(&|s| s.false_positive_rate()),
        ]);
        let centres = &self.segmentation.centres;
        for (j, stats) in self.preparation.features.iter().enumerate() {
            fields.push(Field::new(&stats.name, DataType::Float64, false));
            columns.push(Arc::new(Float64Array::from_iter_values(
                model_index.iter().map(|&c| stats.inverse(centres[[c, j]])),
            )));
        }
        for (j, stats) in self.preparation.features.iter().enumerate() {
            fields.push(Field::new(
                format!("z_{}", stats.name),
                DataType::Float64,
                false,
            ));
            columns.push(Arc::new(Float64Array::from_iter_values(
                model_index.iter().map(|&c| centres[[c, j]]),
            )));
        }
        fields.push(Field::new("run_id", DataType::Utf8, false));
        columns.push(Arc::new(StringArray::from(vec![run_id; k])));
        fields.push(Field::new("model_version", DataType::Int64, false));
        columns.push(Arc::new(Int64Array::from(vec![model_version; k])));
        fields.push(Field::new("as_of", ts_type(), false));
        columns.push(ts_column(as_of, k));
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), columns)
            .map_err(|e| arrow_err("segment_profiles", e))?;
        Ok((schema, vec![batch]))
    }

    /// The run's metrics as recorded in `runs.metrics` and `models.metrics`.
    pub fn metrics_json(&self) -> String {
        #[derive(Serialize)]
        struct Metrics<'a> {
            segments: &'a seglake_ml::ClusterMetrics,
            /// Sizes by published segment id.
            segment_sizes: Vec<u64>,
            training: &'a seglake_ml::TrainingInfo,
            sweep: &'a [seglake_ml::ClusterMetrics],
        }
        let mut sizes = vec![0; self.k()];
        for (c, &id) in self.order.iter().enumerate() {
            sizes[id] = self.segmentation.metrics.sizes[c];
        }
        serde_json::to_string(&Metrics {
            segments: &self.segmentation.metrics,
            segment_sizes: sizes,
            training: &self.segmentation.training,
            sweep: &self.segmentation.sweep,
        })
        .expect("metrics serialise")
    }

    /// The serialised model: everything scoring needs to place a new
    /// customer (feature list, preparation, centres by segment id, labels).
    pub fn model_json(&self) -> String {
        #[derive(Serialize)]
        struct Model<'a> {
            format: &'static str,
            features: &'a [String],
            preparation: &'a Preparation,
            /// Prepared-space centres, row i = segment id i.
            centres: Vec<Vec<f64>>,
            labels: &'a [String],
            params: &'a SegmentParams,
        }
        let mut centres = vec![Vec::new(); self.k()];
        for (c, &id) in self.order.iter().enumerate() {
            centres[id] = self.segmentation.centres.row(c).to_vec();
        }
        serde_json::to_string(&Model {
            format: "seglake.segments.v1",
            features: &self.features,
            preparation: &self.preparation,
            centres,
            labels: &self.labels,
            params: &self.params,
        })
        .expect("model serialises")
    }

    /// The `models` table row of this run.
    /// The `models` rows of this run: the segmentation, and the risk model
    /// when there is one (its `k` is the run's number of segments too).
    pub fn models_table(
        &self,
        run_id: &str,
        as_of: DateTime<Utc>,
        risk: Option<(&crate::risk::Risk, &seglake_spec::RiskSpec)>,
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let schema = Arc::new(Schema::new(vec![
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
        ]));
        struct Row {
            kind: &'static str,
            algorithm: String,
            features: Vec<String>,
            params: String,
            preparation: String,
            metrics: String,
            model: String,
        }
        let mut rows = vec![Row {
            kind: "segments",
            algorithm: self.params.algorithm.name().to_string(),
            features: self.features.clone(),
            params: serde_json::to_string(&self.params).expect("params serialise"),
            preparation: serde_json::to_string(&self.preparation).expect("stats serialise"),
            metrics: self.metrics_json(),
            model: self.model_json(),
        }];
        if let Some((risk, spec)) = risk {
            rows.push(Row {
                kind: "risk",
                algorithm: "gbdt".to_string(),
                features: risk.features.clone(),
                params: risk.params_json(),
                // Inputs go to the booster as they are (missing = NaN);
                // what it was trained on is the label view.
                preparation: serde_json::json!({
                    "labels_view": spec.labels.name,
                    "labels_sha256": spec.labels.sha256,
                    "segment_feature": spec.segment_feature,
                })
                .to_string(),
                metrics: risk.metrics.to_string(),
                model: risk.model_json(spec),
            });
        }
        let mut features = ListBuilder::new(StringBuilder::new());
        for row in &rows {
            for f in &row.features {
                features.values().append_value(f);
            }
            features.append(true);
        }
        let features = features.finish();
        let n = rows.len();
        let text = |f: &dyn Fn(&Row) -> &str| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![run_id; n])),
            text(&|r| r.kind),
            text(&|r| &r.algorithm),
            Arc::new(Int32Array::from(vec![self.k() as i32; n])),
            Arc::new(features),
            text(&|r| &r.params),
            text(&|r| &r.preparation),
            text(&|r| &r.metrics),
            text(&|r| &r.model),
            ts_column(as_of, n),
        ];
        let batch =
            RecordBatch::try_new(schema.clone(), columns).map_err(|e| arrow_err("models", e))?;
        Ok((schema, vec![batch]))
    }
}

pub(crate) fn arrow_err(table: &str, source: arrow::error::ArrowError) -> JobError {
    JobError::Output {
        table: table.to_string(),
        source,
    }
}

/// Case outcomes per customer from the `outcomes` source (columns: the job
/// key and `outcome`; `sar_filed` and `false_positive` are counted).
pub(crate) async fn outcomes(
    engine: &seglake_features::FeatureEngine,
    source: &str,
    key: &str,
) -> Result<Outcomes> {
    let sql = format!(
        "SELECT CAST(\"{key}\" AS VARCHAR) AS k, COUNT(*) AS cases, \
         SUM(CASE WHEN outcome = 'sar_filed' THEN 1 ELSE 0 END) AS sar, \
         SUM(CASE WHEN outcome = 'false_positive' THEN 1 ELSE 0 END) AS fp \
         FROM \"{source}\" GROUP BY 1"
    );
    let batches = engine
        .query(&format!("case outcomes per customer from source `{source}` (needs columns `{key}` and `outcome`)"), &sql)
        .await?;
    let mut out = HashMap::new();
    for b in batches {
        let k = cast(b.column(0), &DataType::Utf8).map_err(|e| arrow_err(source, e))?;
        let k = k.as_any().downcast_ref::<StringArray>().expect("utf8");
        let nums: Vec<ArrayRef> = (1..4)
            .map(|i| cast(b.column(i), &DataType::Int64))
            .collect::<Result<_, _>>()
            .map_err(|e| arrow_err(source, e))?;
        let nums: Vec<&Int64Array> = nums
            .iter()
            .map(|a| a.as_any().downcast_ref::<Int64Array>().expect("i64"))
            .collect();
        for i in 0..b.num_rows() {
            if k.is_valid(i) {
                out.insert(
                    k.value(i).to_string(),
                    (
                        nums[0].value(i) as u64,
                        nums[1].value(i) as u64,
                        nums[2].value(i) as u64,
                    ),
                );
            }
        }
    }
    Ok(out)
}

/// The `segments` table from its key column and scoring columns (segment,
/// distance, risk), both in key order: the batch run's and the cluster's
/// scoring pass publish through here.
pub(crate) fn segments_table(
    key: &str,
    keys: ArrayRef,
    (scoring_fields, scoring_columns): (Vec<Field>, Vec<ArrayRef>),
    run_id: &str,
    model_version: i64,
    as_of: DateTime<Utc>,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let n = keys.len();
    let mut fields = vec![Field::new(key, DataType::Utf8, false)];
    fields.extend(scoring_fields);
    fields.extend([
        Field::new("run_id", DataType::Utf8, false),
        Field::new("model_version", DataType::Int64, false),
        Field::new("as_of", ts_type(), false),
    ]);
    let schema = Arc::new(Schema::new(fields));
    let mut columns = vec![keys];
    columns.extend(scoring_columns);
    columns.extend::<[ArrayRef; 3]>([
        Arc::new(StringArray::from(vec![run_id; n])),
        Arc::new(Int64Array::from(vec![model_version; n])),
        ts_column(as_of, n),
    ]);
    let batch =
        RecordBatch::try_new(schema.clone(), columns).map_err(|e| arrow_err("segments", e))?;
    Ok((schema, vec![batch]))
}
