//! Bad folders get an error that names the problem and the way out.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use seglake_scaffold::{ProposeOptions, ScaffoldError, inspect, propose};

use crate::fixtures::{credit_union, write_parquet};

#[test]
fn missing_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = inspect(&dir.path().join("nope")).unwrap_err();
    assert!(matches!(err, ScaffoldError::SourceMissing(_)));
    assert!(err.to_string().contains("nope does not exist"), "{err}");
}

#[test]
fn a_file_is_not_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.parquet");
    write_parquet(
        &file,
        vec![("id", Arc::new(Int64Array::from(vec![1])) as ArrayRef)],
    );
    let err = inspect(&file).unwrap_err();
    assert!(err.to_string().contains("is not a folder"), "{err}");
}

#[test]
fn folder_without_parquet_lists_what_it_found() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("clients.csv"), "id,name\n1,a\n").unwrap();
    let err = inspect(dir.path()).unwrap_err();
    assert!(matches!(err, ScaffoldError::NoParquet { .. }));
    assert!(
        err.to_string()
            .contains("no Parquet files (*.parquet) or Delta tables found"),
        "{err}"
    );
    assert!(err.to_string().contains("(found: clients.csv)"), "{err}");
}

#[test]
fn unreadable_parquet_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    credit_union(dir.path());
    std::fs::write(
        dir.path().join("payments/year=2025/part-1.parquet"),
        b"not parquet at all",
    )
    .unwrap();
    let err = inspect(dir.path()).unwrap_err();
    assert!(matches!(err, ScaffoldError::Unreadable { .. }));
    let message = err.to_string();
    assert!(
        message.contains("payments/year=2025/part-1.parquet is not a readable Parquet file"),
        "{message}"
    );
}

#[test]
fn parts_with_different_schemas_are_named() {
    let dir = tempfile::tempdir().unwrap();
    credit_union(dir.path());
    write_parquet(
        &dir.path().join("payments/year=2025/part-1.parquet"),
        vec![(
            "member_no",
            Arc::new(StringArray::from(vec!["1001"])) as ArrayRef,
        )],
    );
    let message = inspect(dir.path()).unwrap_err().to_string();
    assert!(message.contains("table `payments`"), "{message}");
    assert!(
        message.contains("part-1.parquet does not have the schema of"),
        "{message}"
    );
}

#[test]
fn no_identifier_column_asks_for_key() {
    let dir = tempfile::tempdir().unwrap();
    write_parquet(
        &dir.path().join("readings.parquet"),
        vec![
            (
                "sensor",
                Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef,
            ),
            ("reading", Arc::new(Float64Array::from(vec![1.0, 2.0]))),
        ],
    );
    let inv = inspect(dir.path()).unwrap();
    let err = propose(&inv, &ProposeOptions::new(dir.path())).unwrap_err();
    assert!(matches!(err, ScaffoldError::NoKey { .. }));
    let message = err.to_string();
    assert!(message.contains("pass --key COLUMN"), "{message}");
    assert!(
        message.contains("readings.sensor, readings.reading"),
        "{message}"
    );
    // ... and with it, the proposal is made.
    let mut opts = ProposeOptions::new(dir.path());
    opts.key = Some("sensor".into());
    let p = propose(&inv, &opts).unwrap();
    assert_eq!(p.key.key, "sensor");
}

#[test]
fn unknown_explicit_key_lists_the_identifiers() {
    let dir = tempfile::tempdir().unwrap();
    credit_union(dir.path());
    let inv = inspect(dir.path()).unwrap();
    let mut opts = ProposeOptions::new(dir.path());
    opts.key = Some("customer_id".into());
    let message = propose(&inv, &opts).unwrap_err().to_string();
    assert!(
        message.starts_with("--key customer_id: no table has a column of that name"),
        "{message}"
    );
    assert!(message.contains("members.member_no"), "{message}");
    assert!(message.contains("payments.payment_ref"), "{message}");
}

#[test]
fn float_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_parquet(
        &dir.path().join("t.parquet"),
        vec![
            (
                "client_id",
                Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef,
            ),
            ("score", Arc::new(Float64Array::from(vec![1.0, 2.0]))),
        ],
    );
    let inv = inspect(dir.path()).unwrap();
    let mut opts = ProposeOptions::new(dir.path());
    opts.key = Some("score".into());
    let message = propose(&inv, &opts).unwrap_err().to_string();
    assert!(
        message.contains("a key must be an integer or text column"),
        "{message}"
    );
}
