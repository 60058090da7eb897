//! The cluster's k-means assignment step, two ways, on the same rows:
//!
//! - `seglake_score`, the registered scoring function (the run's models
//!   travel in the plan; each batch goes through `Preparation::transform`
//!   and `seglake_ml::assign_to`, the batch run's own code);
//! - plain SQL with the preparation and the centres inlined: impute, clip,
//!   signed log, standardise, k squared distances, argmin by CASE.
//!
//! Both run on a DataFusion session with 2 partitions: the operator an
//! executor runs per partition is the same on a cluster, without the
//! shuffle. Prints rows/s of each and their ratio, and how many rows the
//! two assign differently (the function computes in f32 like the batch
//! run; SQL in f64).
//!
//! cargo bench -p seglake-model --bench cluster_assign [-- ROWS]

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, AsArray, Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::{SessionConfig, SessionContext};
use rand::{Rng, SeedableRng};
use seglake_ml::{Preparation, PrepareOptions};
use seglake_model::{ModelTexts, ScoreUdf};

const FEATURES: usize = 10;
const K: usize = 8;

fn main() {
    let rows: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let names: Vec<String> = (0..FEATURES).map(|j| format!("f{j}")).collect();
    // Skewed, non-negative columns like counts and amounts (so the
    // preparation logs some of them), a few missing values.
    let columns: Vec<Vec<f64>> = (0..FEATURES)
        .map(|j| {
            (0..rows)
                .map(|_| {
                    if rng.random::<f64>() < 0.01 {
                        f64::NAN
                    } else {
                        let u: f64 = rng.random();
                        (u.powi(1 + (j % 4) as i32) * 1000.0).floor()
                    }
                })
                .collect()
        })
        .collect();
    let views: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
    let preparation =
        Preparation::fit(&names, &views, &vec![PrepareOptions::default(); FEATURES]).expect("fits");
    let centres: Vec<Vec<f64>> = (0..K)
        .map(|_| {
            (0..FEATURES)
                .map(|_| rng.random::<f64>() * 3.0 - 1.5)
                .collect()
        })
        .collect();
    let model = serde_json::json!({
        "format": "seglake.segments.v1",
        "features": names,
        "preparation": preparation,
        "centres": centres,
        "labels": (0..K).map(|i| format!("segment {i}")).collect::<Vec<_>>(),
    });

    // `row` identifies each row: the two queries need not return rows in
    // the same order.
    let mut fields = vec![Field::new("row", DataType::Int64, false)];
    fields.extend(names.iter().map(|n| Field::new(n, DataType::Float64, true)));
    let schema = Arc::new(Schema::new(fields));
    let partitions: Vec<Vec<RecordBatch>> = (0..2)
        .map(|p| {
            let (from, to) = (p * rows / 2, (p + 1) * rows / 2);
            (from..to)
                .step_by(8192)
                .map(|start| {
                    let end = (start + 8192).min(to);
                    let mut arrays: Vec<Arc<dyn Array>> = vec![Arc::new(
                        Int64Array::from_iter_values(start as i64..end as i64),
                    )];
                    arrays.extend(columns.iter().map(|c| {
                        Arc::new(Float64Array::from_iter(
                            c[start..end].iter().map(|v| (!v.is_nan()).then_some(*v)),
                        )) as Arc<dyn Array>
                    }));
                    RecordBatch::try_new(schema.clone(), arrays).unwrap()
                })
                .collect()
        })
        .collect();
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
    ctx.register_table(
        "t",
        Arc::new(MemTable::try_new(schema, partitions).unwrap()),
    )
    .unwrap();
    let udf = ScoreUdf::new(ModelTexts {
        segments: model.to_string(),
        risk: None,
    })
    .expect("model");
    ctx.register_udf(ScalarUDF::new_from_impl(udf));

    let args = names.join(", ");
    let udf_sql = format!("SELECT row, seglake_score({args})['segment_id'] AS s FROM t");
    let sql_sql = inlined_sql(&preparation, &centres);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let run = |sql: &str| -> (f64, Vec<i32>) {
        rt.block_on(async {
            let mut best = f64::INFINITY;
            let mut out = Vec::new();
            for _ in 0..3 {
                let started = Instant::now();
                let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
                best = best.min(started.elapsed().as_secs_f64());
                out = vec![-1; rows];
                for b in &batches {
                    let ids = b.column(0).as_primitive::<Int64Type>().values();
                    let segments = b.column(1).as_primitive::<Int32Type>().values();
                    for (&row, &segment) in ids.iter().zip(segments.iter()) {
                        out[row as usize] = segment;
                    }
                }
            }
            (best, out)
        })
    };
    let (udf_secs, udf_ids) = run(&udf_sql);
    let (sql_secs, sql_ids) = run(&sql_sql);
    let differ = udf_ids.iter().zip(&sql_ids).filter(|(a, b)| a != b).count();
    println!("assignment of {rows} rows, {FEATURES} features, k = {K}, 2 partitions (best of 3)");
    println!(
        "  seglake_score (function):  {udf_secs:7.3} s  {:>12.0} rows/s",
        rows as f64 / udf_secs
    );
    println!(
        "  SQL, centres inlined:      {sql_secs:7.3} s  {:>12.0} rows/s",
        rows as f64 / sql_secs
    );
    println!("  SQL time / function time:  {:.2}", sql_secs / udf_secs);
    println!("  rows assigned differently: {differ} of {rows}");
}

/// The assignment as one SQL query: the preparation's steps per feature,
/// then the squared distance to every centre, then the first nearest.
fn inlined_sql(preparation: &Preparation, centres: &[Vec<f64>]) -> String {
    let lit = |v: f64| format!("CAST({v:e} AS DOUBLE)");
    let prepared: Vec<String> = preparation
        .features
        .iter()
        .map(|f| {
            let mut x = format!("COALESCE(\"{}\", {})", f.name, lit(f.median));
            if let Some(low) = f.clip_low {
                x = format!("GREATEST({x}, {})", lit(low));
            }
            if let Some(high) = f.clip_high {
                x = format!("LEAST({x}, {})", lit(high));
            }
            if f.log {
                x = format!("(SIGNUM({x}) * LN(1 + ABS({x})))");
            }
            format!("(({x} - {}) / {}) AS z_{}", lit(f.mean), lit(f.std), f.name)
        })
        .collect();
    let distances: Vec<String> = centres
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let terms: Vec<String> = preparation
                .features
                .iter()
                .zip(c)
                .map(|(f, v)| format!("(z_{n} - {c}) * (z_{n} - {c})", n = f.name, c = lit(*v)))
                .collect();
            format!("({}) AS d{i}", terms.join(" + "))
        })
        .collect();
    let k = centres.len();
    let argmin: Vec<String> = (0..k)
        .map(|i| {
            let conditions: Vec<String> = (0..k)
                .filter(|&j| j != i)
                .map(|j| {
                    if j < i {
                        format!("d{i} < d{j}")
                    } else {
                        format!("d{i} <= d{j}")
                    }
                })
                .collect();
            format!("WHEN {} THEN {i}", conditions.join(" AND "))
        })
        .collect();
    format!(
        "SELECT row, CAST(CASE {} END AS INT) AS s FROM (SELECT row, {} FROM (SELECT row, {} FROM t))",
        argmin.join(" "),
        distances.join(", "),
        prepared.join(", ")
    )
}
