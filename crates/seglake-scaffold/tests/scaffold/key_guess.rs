//! The key table is the one named after the key (or the largest where the
//! key is unique), not merely the smallest table where it happens to be
//! unique: berka's `loan` has one row per account_id too, but only for
//! accounts with a loan.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int32Array};
use seglake_scaffold::{ProposeOptions, inspect, propose};

use crate::fixtures::write_parquet;

fn ints(values: impl IntoIterator<Item = i32>) -> ArrayRef {
    Arc::new(Int32Array::from_iter_values(values))
}

#[test]
fn key_table_is_named_after_the_key_not_the_smallest_unique_table() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_parquet(
        &d.join("account.parquet"),
        vec![
            ("account_id", ints(1..=100)),
            ("district_id", ints((1..=100).map(|i| i % 7))),
        ],
    );
    write_parquet(
        &d.join("loan.parquet"),
        vec![
            ("loan_id", ints(1..=10)),
            ("account_id", ints((1..=10).map(|i| i * 3))),
            (
                "amount",
                Arc::new(Float64Array::from_iter_values((1..=10).map(f64::from))),
            ),
        ],
    );
    // More rows than distinct account_ids: statistics alone say not unique.
    write_parquet(
        &d.join("trans.parquet"),
        vec![
            ("trans_id", ints(1..=500)),
            ("account_id", ints((1..=500).map(|i| 1 + i % 100))),
        ],
    );
    let inv = inspect(d).unwrap();
    let p = propose(&inv, &ProposeOptions::new(d)).unwrap();
    assert_eq!(p.key.key, "account_id");
    assert_eq!(inv.tables[p.key.key_table.unwrap()].name, "account");
    assert!(
        p.notes[0].starts_with(
            "key guessed: account_id (in 3 of 3 tables; unique in account.parquet, loan.parquet)"
        ),
        "{}",
        p.notes[0]
    );
    let views: Vec<&str> = p.views.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        views,
        [
            "loan_features.sql",
            "trans_features.sql",
            "customer_features.sql"
        ]
    );
}
