//! The rule gives the same columns, bit for bit, as the plan without it,
//! on every shape of aggregation it touches, and leaves alone what it
//! cannot share.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::ShareExactStatistics;
use crate::distinct_counts::SplitDistinctCounts;
use crate::test_support::plan_and_batches;

/// Rows `(k, c, x, y, i)` over many magnitudes and both signs, NULLs in
/// `x` and `c`, in three partitions.
fn table() -> MemTable {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Utf8, false),
        Field::new("c", DataType::Utf8, true),
        Field::new("x", DataType::Float64, true),
        Field::new("y", DataType::Float64, false),
        Field::new("i", DataType::Int64, false),
    ]));
    let batch = |part: i64| {
        let rows = (0..700i64).map(|r| r * 3 + part);
        let k = rows.clone().map(|i| format!("g{}", i % 11));
        let c = rows
            .clone()
            .map(|i| (i % 5 != 2).then(|| format!("c{}", i % 4)));
        let x = rows.clone().map(|i| {
            let magnitude = 10f64.powi((i * 37 % 19) as i32 - 7);
            (i % 13 != 0).then_some(((i * 7919 % 1013) as f64 - 506.3) * magnitude)
        });
        let y = rows.clone().map(|i| (i * 131 % 10_007) as f64 / 100.0);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(k)),
            Arc::new(StringArray::from_iter(c)),
            Arc::new(Float64Array::from_iter(x)),
            Arc::new(Float64Array::from_iter_values(y)),
            Arc::new(Int64Array::from_iter_values(rows)),
        ];
        RecordBatch::try_new(schema.clone(), columns).unwrap()
    };
    MemTable::try_new(
        schema.clone(),
        vec![vec![batch(0)], vec![batch(1)], vec![batch(2)]],
    )
    .unwrap()
}

/// seglake's aggregates and distinct-count rule, with or without this
/// rule.
fn session(share: bool) -> SessionContext {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(3));
    for function in crate::seglake_aggregates() {
        ctx.register_udaf(function);
    }
    ctx.add_optimizer_rule(Arc::new(SplitDistinctCounts));
    if share {
        ctx.add_optimizer_rule(Arc::new(ShareExactStatistics));
    }
    ctx.register_table("t", Arc::new(table())).unwrap();
    ctx
}

/// The query's result columns (names, types and values) and its optimised
/// plan.
async fn run(sql: &str, share: bool) -> (Vec<(String, DataType)>, Vec<ArrayRef>, String) {
    let (plan, batches) = plan_and_batches(&session(share), sql).await;
    let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let fields = batch
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    (fields, batch.columns().to_vec(), plan)
}

/// Runs `sql` with and without the rule: the same names, types and bits;
/// returns the plan with the rule.
async fn same_as_plain(sql: &str) -> String {
    let (plain_fields, plain, _) = run(sql, false).await;
    let (fields, shared, plan) = run(sql, true).await;
    assert_eq!(fields, plain_fields, "{sql}");
    assert_eq!(shared.len(), plain.len());
    for (a, b) in shared.iter().zip(&plain) {
        // Float columns compared as bits (NaN included) through their data.
        assert_eq!(a.to_data(), b.to_data(), "{sql}\n{plan}");
    }
    plan
}

#[tokio::test]
async fn every_statistic_of_one_column_is_shared_and_unchanged() {
    let sql = "SELECT k, COUNT(*) AS n, SUM(x) AS s, AVG(x) AS a, VAR_SAMP(x) AS vs, \
               VAR_POP(x) AS vp, STDDEV(x) AS sd, STDDEV_POP(x) AS sp, MAX(x) AS mx \
               FROM t GROUP BY k ORDER BY k";
    let plan = same_as_plain(sql).await;
    assert_eq!(plan.matches("seglake_exact_moments(").count(), 1, "{plan}");
    assert!(
        !plan.contains("stddev(") && !plan.contains("var_pop("),
        "{plan}"
    );
}

#[tokio::test]
async fn sums_and_means_alone_share_a_sum() {
    let sql = "SELECT k, SUM(y) AS s, AVG(y) AS a, SUM(x) AS sx FROM t GROUP BY k ORDER BY k";
    let plan = same_as_plain(sql).await;
    assert!(plan.contains("seglake_exact_sums(t.y"), "{plan}");
    assert!(!plan.contains("seglake_exact_moments"), "{plan}");
    // x has one aggregate: nothing to share.
    assert!(plan.contains("sum(t.x)"), "{plan}");
}

#[tokio::test]
async fn two_columns_and_filters_are_shared_separately() {
    let sql = "SELECT k, SUM(x) AS sx, STDDEV(x) AS dx, AVG(y) AS ay, VAR_POP(y) AS vy, \
               SUM(x) FILTER (WHERE c = 'c1') AS sx1, AVG(x) FILTER (WHERE c = 'c1') AS ax1, \
               AVG(x) FILTER (WHERE c = 'c2') AS ax2 \
               FROM t GROUP BY k ORDER BY k";
    let plan = same_as_plain(sql).await;
    // x, y, and x under c = 'c1'; the lone c = 'c2' mean stays as it is.
    assert_eq!(plan.matches("seglake_exact_").count(), 3, "{plan}");
    assert!(
        plan.contains("avg(t.x) FILTER (WHERE t.c = Utf8(\"c2\"))"),
        "{plan}"
    );
}

#[tokio::test]
async fn other_shapes_give_the_same_columns() {
    // No GROUP BY (one accumulator), an integer mean (cast to DOUBLE),
    // no value at all, a distinct count split by its own rule.
    for sql in [
        "SELECT SUM(x) AS s, AVG(x) AS a, STDDEV_POP(x) AS sp FROM t",
        "SELECT SUM(x) AS s, AVG(x) AS a FROM t WHERE x IS NULL",
        "SELECT k, AVG(i) AS a, STDDEV(i) AS sd, SUM(i) AS s FROM t GROUP BY k ORDER BY k",
        "SELECT k, c, SUM(x) AS s, VAR_SAMP(x) AS v FROM t GROUP BY k, c ORDER BY k, c",
        "SELECT k, SUM(x) AS s, AVG(x) AS a, COUNT(DISTINCT c) AS cs FROM t GROUP BY k ORDER BY k",
        // Grouping sets add a grouping id between keys and aggregates.
        "SELECT k, c, SUM(x) AS s, AVG(x) AS a FROM t GROUP BY ROLLUP(k, c) ORDER BY k, c",
        // Read back by name above the aggregation, and inside expressions.
        "SELECT k, SUM(x) / AVG(x) AS r FROM t GROUP BY k \
         HAVING STDDEV(x) > 0 AND SUM(x) IS NOT NULL ORDER BY STDDEV_POP(x), k",
        "SELECT SUM(x) AS s, AVG(x) AS a FROM t WHERE i < 0",
        // DataFusion plans these as plain aggregates of the distinct values.
        "SELECT k, SUM(DISTINCT x) AS s, AVG(DISTINCT x) AS a FROM t GROUP BY k ORDER BY k",
    ] {
        let plan = same_as_plain(sql).await;
        assert!(plan.contains("seglake_exact_"), "{sql}\n{plan}");
    }
}

#[tokio::test]
async fn distinct_lone_and_volatile_aggregates_are_left_alone() {
    for sql in [
        "SELECT k, SUM(DISTINCT x) AS s, AVG(x) AS a FROM t GROUP BY k ORDER BY k",
        "SELECT k, SUM(x) AS s, AVG(y) AS a FROM t GROUP BY k ORDER BY k",
        "SELECT k, SUM(x) AS s, SUM(i) AS si FROM t GROUP BY k ORDER BY k",
    ] {
        let plan = same_as_plain(sql).await;
        assert!(!plan.contains("seglake_exact_"), "{sql}\n{plan}");
    }
    // Volatile arguments and filters draw once per aggregate: not shared
    // (their values differ between runs, so only the plan is checked).
    for sql in [
        "SELECT k, SUM(x * random()) AS s, AVG(x * random()) AS a FROM t GROUP BY k",
        "SELECT k, SUM(x) FILTER (WHERE random() < 0.5) AS s, \
         AVG(x) FILTER (WHERE random() < 0.5) AS a FROM t GROUP BY k",
    ] {
        let (_, _, plan) = run(sql, true).await;
        assert!(!plan.contains("seglake_exact_"), "{sql}\n{plan}");
    }
}
