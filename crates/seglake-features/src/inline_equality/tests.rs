use std::sync::Arc;

use super::*;
use crate::test_support::plan_and_batches;
use arrow::array::{Int64Array, RecordBatch, Scalar, StringArray};
use arrow::compute::kernels::cmp::eq;
use arrow::datatypes::{Field, Schema};
use arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

/// A fixed stream of pseudo-random numbers (xorshift64*), for test data.
struct Stream(u64);

impl Stream {
    fn seeded(seed: u64) -> Stream {
        Stream(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

/// Strings of 0 to 20 bytes from a small alphabet (so values share
/// prefixes and lengths with the literals), NULL one time in ten.
fn random_values(r: &mut Stream, n: usize) -> Vec<Option<String>> {
    (0..n)
        .map(|_| {
            (r.below(10) != 0).then(|| {
                let len = r.below(21);
                (0..len).map(|_| ['a', 'b', 'é'][r.below(3)]).collect()
            })
        })
        .collect()
}

#[test]
fn the_kernel_gives_arrows_comparison_for_every_literal_length() {
    let mut r = Stream::seeded(3);
    let values = StringViewArray::from(random_values(&mut r, 5000));
    // Long values give the array data buffers: arrow's slow path.
    assert!(!values.data_buffers().is_empty());
    let mut equal = 0;
    for _ in 0..400 {
        let len = r.below(13);
        let literal: String = (0..len).map(|_| ['a', 'b'][r.below(2)]).collect();
        // Offsets into the array too (a slice's views start mid-buffer).
        let offset = r.below(100);
        let sliced = values.slice(offset, values.len() - offset);
        let want = eq(
            &sliced,
            &Scalar::new(StringViewArray::from(vec![literal.as_str()])),
        )
        .unwrap();
        let got = equals_inline(&sliced, &literal);
        assert_eq!(got, want, "literal {literal:?}, offset {offset}");
        equal += got.true_count();
    }
    // The data must hold matches for the test to mean anything.
    assert!(equal > 1000, "only {equal} equal values");
}

#[test]
fn multibyte_and_twelve_byte_literals_match_only_themselves() {
    let values = StringViewArray::from(vec![
        Some("crypto_excha"),  // 12 bytes
        Some("crypto_exchan"), // 13: never inline-equal to a 12-byte literal
        Some("crypto_exch"),
        Some("é"),
        Some("e"),
        Some(""),
        None,
    ]);
    for literal in ["crypto_excha", "crypto_exch", "é", "", "e"] {
        let want = eq(&values, &Scalar::new(StringViewArray::from(vec![literal]))).unwrap();
        assert_eq!(equals_inline(&values, literal), want, "{literal:?}");
    }
}

/// Keys, a view column (NULLs, long values), a plain string column.
fn table() -> MemTable {
    let mut r = Stream::seeded(8);
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("x", DataType::Utf8View, true),
        Field::new("s", DataType::Utf8, true),
    ]));
    let batch = |r: &mut Stream| {
        let n = 300;
        let mut x = random_values(r, n);
        for (i, v) in x.iter_mut().enumerate() {
            if i % 7 == 0 {
                *v =
                    Some(["card", "cash", "wire", "crypto_exchange", "crypto_excha"][i % 5].into());
            }
        }
        RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from_iter_values((0..n as i64).map(|i| i % 9))),
                Arc::new(StringViewArray::from(x.clone())),
                Arc::new(StringArray::from(x)),
            ],
        )
        .unwrap()
    };
    let batches = vec![vec![batch(&mut r), batch(&mut r)], vec![batch(&mut r)]];
    MemTable::try_new(schema, batches).unwrap()
}

async fn run(sql: &str, rule: bool) -> (String, String) {
    let ctx = SessionContext::new();
    ctx.register_udf(equals_inline_function());
    if rule {
        ctx.add_optimizer_rule(Arc::new(CompareInlineStrings));
    }
    ctx.register_table("t", Arc::new(table())).unwrap();
    let (plan, batches) = plan_and_batches(&ctx, sql).await;
    (pretty_format_batches(&batches).unwrap().to_string(), plan)
}

/// The rewritten plan gives the plain plan's rows under the same names.
async fn same_as_without(sql: &str) -> String {
    let (want, _) = run(sql, false).await;
    let (got, plan) = run(sql, true).await;
    assert_eq!(got, want, "{sql}\n{plan}");
    plan
}

#[tokio::test]
async fn aggregate_arguments_and_projections_are_rewritten_with_their_names() {
    let plan = same_as_without(
        "SELECT k, SUM(CASE WHEN x = 'cash' THEN 1 ELSE 0 END) AS cash, \
         SUM(CASE WHEN 'wire' = x THEN k ELSE 0 END), \
         COUNT(*) FILTER (WHERE x <> 'card') AS not_card, \
         SUM(CASE WHEN x = 'crypto_excha' THEN 1 ELSE 0 END) AS twelve, \
         SUM(CASE WHEN x = 'crypto_exchange' THEN 1 ELSE 0 END) AS fifteen, \
         COUNT(*) FILTER (WHERE x = '') AS empty \
         FROM t GROUP BY k ORDER BY k",
    )
    .await;
    assert!(plan.contains(EQUALS_INLINE), "{plan}");
    // A literal of more than 12 bytes is left to arrow.
    assert!(
        plan.contains("t.x = Utf8View(\"crypto_exchange\")"),
        "{plan}"
    );

    let plan = same_as_without(
        "SELECT k, x = 'aab' AS is_aab, x <> 'b', x = 'cash' OR k = 3 AS either FROM t ORDER BY k, x",
    )
    .await;
    assert!(plan.contains(EQUALS_INLINE), "{plan}");
}

#[tokio::test]
async fn filters_and_plain_strings_are_left_alone() {
    // A filter's comparison stays (the scan's pruning reads it).
    let plan = same_as_without("SELECT k, x FROM t WHERE x = 'cash' ORDER BY k, x").await;
    assert!(!plan.contains(EQUALS_INLINE), "{plan}");
    // Not a view column: arrow's plain string comparison is not this one.
    let plan = same_as_without(
        "SELECT k, SUM(CASE WHEN s = 'cash' THEN 1 ELSE 0 END) AS c FROM t GROUP BY k ORDER BY k",
    )
    .await;
    assert!(!plan.contains(EQUALS_INLINE), "{plan}");
}

#[tokio::test]
async fn a_comparison_of_a_column_without_nulls_stays_non_nullable() {
    // The published feature table takes its schema from the executed plan:
    // the rewrite must not turn a non-nullable column nullable.
    let schema = Arc::new(Schema::new(vec![Field::new(
        "x",
        DataType::Utf8View,
        false,
    )]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![Arc::new(StringViewArray::from(vec!["cash", "card"]))],
    )
    .unwrap();
    let fields = |rule: bool| {
        let ctx = SessionContext::new();
        ctx.register_udf(equals_inline_function());
        if rule {
            ctx.add_optimizer_rule(Arc::new(CompareInlineStrings));
        }
        let table = MemTable::try_new(Arc::clone(&schema), vec![vec![batch.clone()]]).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        async move {
            let (plan, batches) =
                plan_and_batches(&ctx, "SELECT x = 'cash' AS is_cash, x <> 'a' FROM t").await;
            (batches[0].schema().fields().clone(), plan)
        }
    };
    let (want, _) = fields(false).await;
    let (got, plan) = fields(true).await;
    assert!(plan.contains(EQUALS_INLINE), "{plan}");
    assert_eq!(got, want, "{plan}");
}
