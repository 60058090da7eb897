//! The exact float aggregates through SQL: the same bits with one or four
//! partitions and with the rows in another order, the correctly rounded
//! value where DataFusion's own loses it, and window frames that slide.

use std::sync::Arc;

use arrow::array::{Array, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Float64Type, Schema};
use seglake_exact::{ExactSum, Moments, Spread};

use crate::{EngineOptions, FeatureEngine};

const EVERY_AGGREGATE: &str = "SELECT k, SUM(v) AS s, AVG(v) AS a, VAR_SAMP(v) AS vs, \
     VAR_POP(v) AS vp, STDDEV(v) AS sd, STDDEV_POP(v) AS sp, VAR(v) AS var, \
     STDDEV_SAMP(v) AS sds FROM t GROUP BY k ORDER BY k";

/// Rows `(k, i, v)`: values over many magnitudes and both signs, with
/// NULLs, in `batches` batches.
fn rows(reverse: bool, batches: usize) -> (Arc<Schema>, Vec<RecordBatch>) {
    let mut all: Vec<(String, i64, Option<f64>)> = (0..6000i64)
        .map(|i| {
            let magnitude = 10f64.powi((i * 37 % 17) as i32 - 6);
            let v = ((i * 7919 % 1013) as f64 - 506.3) * magnitude;
            (format!("g{}", i % 7), i, (i % 11 != 0).then_some(v))
        })
        .collect();
    if reverse {
        all.reverse();
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Utf8, false),
        Field::new("i", DataType::Int64, false),
        Field::new("v", DataType::Float64, true),
    ]));
    let chunk = all.len().div_ceil(batches);
    let batches = all
        .chunks(chunk)
        .map(|part| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from_iter_values(part.iter().map(|r| &r.0))),
                    Arc::new(Int64Array::from_iter_values(part.iter().map(|r| r.1))),
                    Arc::new(Float64Array::from_iter(part.iter().map(|r| r.2))),
                ],
            )
            .unwrap()
        })
        .collect();
    (schema, batches)
}

fn engine(partitions: usize, reverse: bool, batches: usize) -> FeatureEngine {
    let engine = FeatureEngine::new(&EngineOptions {
        target_partitions: Some(partitions),
        memory_limit: None,
        ..EngineOptions::default()
    })
    .unwrap();
    let (schema, batches) = rows(reverse, batches);
    engine.register_batches("t", schema, batches).unwrap();
    engine
}

/// Every Float64 of every column, as bits.
async fn bits(engine: &FeatureEngine, sql: &str) -> Vec<Vec<Option<u64>>> {
    let batches = engine.query("test", sql).await.unwrap();
    let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    batch
        .columns()
        .iter()
        .filter(|c| c.data_type() == &DataType::Float64)
        .map(|c| {
            let c = c.as_primitive::<Float64Type>();
            (0..c.len())
                .map(|i| c.is_valid(i).then(|| c.value(i).to_bits()))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn partitions_and_row_order_do_not_change_a_bit() {
    let one = bits(&engine(1, false, 1), EVERY_AGGREGATE).await;
    let four = bits(&engine(4, true, 13), EVERY_AGGREGATE).await;
    assert_eq!(one, four);
    // And they are the exact statistics of each group.
    let (_, batches) = rows(false, 1);
    let v = batches[0].column(2).as_primitive::<Float64Type>();
    let mut g0 = Moments::default();
    for i in (0..v.len()).filter(|i| i % 7 == 0 && v.is_valid(*i)) {
        g0.add(v.value(i));
    }
    assert_eq!(one[0][0], Some(g0.sum.value().to_bits()));
    assert_eq!(one[2][0], g0.variance(Spread::Sample).map(f64::to_bits));
    assert_eq!(
        one[5][0],
        g0.standard_deviation(Spread::Population).map(f64::to_bits)
    );
    assert_eq!(one[6][0], one[2][0], "VAR is VAR_SAMP");
    assert_eq!(one[7][0], one[4][0], "STDDEV_SAMP is STDDEV");
}

#[tokio::test]
async fn sums_are_correctly_rounded_and_empty_groups_are_null() {
    let e = engine(2, false, 1);
    let sql = "SELECT SUM(x) AS s, AVG(x) AS a, VAR_SAMP(x) AS v FROM \
               (VALUES (1e100), (1.0), (-1e100)) AS u(x)";
    assert_eq!(
        bits(&e, sql).await,
        vec![
            vec![Some(1f64.to_bits())],
            vec![Some((1.0f64 / 3.0).to_bits())],
            vec![Some(1e200f64.to_bits())], // Python: statistics.variance
        ]
    );
    let sql = "SELECT SUM(v) AS s, AVG(v) AS a, STDDEV(v) AS d FROM t WHERE v IS NULL";
    assert_eq!(
        bits(&e, sql).await,
        vec![vec![None], vec![None], vec![None]]
    );
    let sql = "SELECT STDDEV(v) AS one_value FROM t WHERE i = 1";
    assert_eq!(bits(&e, sql).await, vec![vec![None]]);
}

#[tokio::test]
async fn window_frames_slide_exactly() {
    let sql = "SELECT i, SUM(v) OVER (PARTITION BY k ORDER BY i \
                   ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS s, \
               AVG(v) OVER (PARTITION BY k) AS a, \
               STDDEV(v) OVER (PARTITION BY k ORDER BY i \
                   ROWS BETWEEN 5 PRECEDING AND 1 FOLLOWING) AS d \
               FROM t ORDER BY i";
    let one = bits(&engine(1, false, 1), sql).await;
    let four = bits(&engine(4, true, 5), sql).await;
    assert_eq!(one, four);
    // Row i = 700 (group 0): the frame is the 4 rows of group 0 up to it.
    let (_, batches) = rows(false, 1);
    let v = batches[0].column(2).as_primitive::<Float64Type>();
    let mut expected = ExactSum::default();
    for i in [679, 686, 693, 700].into_iter().filter(|&i| v.is_valid(i)) {
        expected.add(v.value(i));
    }
    assert_eq!(one[0][700], Some(expected.value().to_bits()));
}

#[tokio::test]
async fn other_types_keep_datafusion_behaviour() {
    let e = engine(2, false, 1);
    let batches = e
        .query(
            "test",
            "SELECT SUM(i) AS s, AVG(i) AS a, SUM(DISTINCT v) AS d, \
                        SUM(CAST(v AS DECIMAL(30, 6))) AS m FROM t",
        )
        .await
        .unwrap();
    let schema = batches[0].schema();
    assert_eq!(schema.field(0).data_type(), &DataType::Int64);
    assert_eq!(schema.field(1).data_type(), &DataType::Float64);
    assert_eq!(schema.field(2).data_type(), &DataType::Float64);
    assert!(matches!(
        schema.field(3).data_type(),
        DataType::Decimal128(_, _)
    ));
    let sum = batches[0]
        .column(0)
        .as_primitive::<arrow::datatypes::Int64Type>()
        .value(0);
    assert_eq!(sum, (0..6000i64).sum::<i64>());
}
