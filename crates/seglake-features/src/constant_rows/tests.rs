use std::sync::Arc;

use arrow::array::{Float64Array, RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::util::pretty::pretty_format_batches;
use chrono::{TimeZone, Utc};
use datafusion::datasource::MemTable;
use datafusion::datasource::view::ViewTable;
use datafusion::prelude::SessionContext;

use super::InlineConstantRows;
use crate::RunContext;
use crate::engine::run_context_plan;

const DAY_MICROS: i64 = 86_400_000_000;

/// Timestamps around the run's as_of (2026-01-01), some NULL, in two
/// partitions.
fn transactions() -> MemTable {
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let schema = Arc::new(Schema::new(vec![
        Field::new("ts", utc, true),
        Field::new("amount", DataType::Float64, true),
    ]));
    let as_of = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp_micros();
    let batch = |offset: i64| {
        let ts = (0..50).map(|i| {
            (i % 9 != 4).then_some(as_of + (i * 17 + offset) % 500 * DAY_MICROS - 400 * DAY_MICROS)
        });
        let amount = (0..50).map(|i| (i % 7 != 3).then_some((i * 31 + offset) as f64 / 4.0));
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(TimestampMicrosecondArray::from_iter(ts).with_timezone("UTC")),
                Arc::new(Float64Array::from_iter(amount)),
            ],
        )
        .unwrap()
    };
    MemTable::try_new(
        schema.clone(),
        vec![vec![batch(0), batch(1)], vec![batch(2)]],
    )
    .unwrap()
}

/// The query's sorted rows and its optimised plan, with or without the rule.
async fn run(sql: &str, inline: bool) -> (String, String) {
    let ctx = SessionContext::new();
    if inline {
        ctx.add_optimizer_rule(Arc::new(InlineConstantRows));
    }
    ctx.register_table("t", Arc::new(transactions())).unwrap();
    let run = RunContext {
        as_of: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        run_id: "run-1".to_string(),
        seed: 7,
    };
    let view = ViewTable::new(run_context_plan(&run).unwrap(), None);
    ctx.register_table("run_context", Arc::new(view)).unwrap();
    let frame = ctx.sql(sql).await.unwrap();
    let plan = frame.clone().into_optimized_plan().unwrap();
    let mut rows: Vec<String> = pretty_format_batches(&frame.collect().await.unwrap())
        .unwrap()
        .to_string()
        .lines()
        .map(str::to_string)
        .collect();
    rows.sort();
    (rows.join("\n"), plan.display_indent().to_string())
}

#[tokio::test]
async fn a_join_with_run_context_gives_the_rows_of_the_join() {
    let queries = [
        // The demo's shape: the window on the constant, a flag per row.
        "SELECT t.ts, t.amount, CASE WHEN t.ts >= r.as_of - INTERVAL '30 days' THEN 1 ELSE 0 END AS recent \
         FROM run_context r CROSS JOIN t \
         WHERE t.ts < r.as_of AND t.ts >= r.as_of - INTERVAL '365 days'",
        // Constants on the right, every column of both sides.
        "SELECT * FROM t CROSS JOIN run_context r WHERE t.amount > r.seed",
        // A join condition that is not an equality stays as a filter.
        "SELECT r.run_id, COUNT(*) AS n, SUM(t.amount) AS s FROM run_context r JOIN t ON t.ts < r.as_of GROUP BY r.run_id",
        // An aggregate over the join, no filter at all.
        "SELECT r.as_of, COUNT(t.ts) AS n FROM run_context r, t GROUP BY r.as_of",
    ];
    for sql in queries {
        let (plain, plain_plan) = run(sql, false).await;
        let (inlined, plan) = run(sql, true).await;
        assert_eq!(inlined, plain, "{sql}");
        assert!(plain_plan.contains("Join"), "{plain_plan}");
        assert!(!plan.contains("Join"), "{sql}\n{plan}");
    }
}

#[tokio::test]
async fn the_window_becomes_constants_on_the_scan() {
    let sql = "SELECT t.amount FROM run_context r CROSS JOIN t \
               WHERE t.ts >= r.as_of - INTERVAL '365 days'";
    let (_, plan) = run(sql, true).await;
    // Folded: no interval arithmetic left, the bound a timestamp literal.
    assert!(!plan.contains("IntervalMonthDayNano"), "{plan}");
    assert!(
        plan.contains("TimestampMicrosecond(1735689600000000"),
        "{plan}"
    );
}

#[tokio::test]
async fn outer_joins_and_other_relations_are_left_alone() {
    for sql in [
        "SELECT * FROM run_context r LEFT JOIN t ON t.amount > r.seed",
        "SELECT * FROM (SELECT ts FROM t LIMIT 1) one CROSS JOIN t",
    ] {
        let (plain, _) = run(sql, false).await;
        let (inlined, plan) = run(sql, true).await;
        assert_eq!(inlined, plain, "{sql}");
        assert!(plan.contains("Join"), "{sql}\n{plan}");
    }
}
