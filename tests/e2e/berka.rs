//! Real data: `jobs/berka.toml` on the PKDD'99 Czech bank data set that
//! ships with the repository (`datasets/berka/`). One row per account with
//! the bank's integer account id, every bad loan (status B or D) labelled
//! and counted as the confirmed outcome of its segment, and a held-out AUC
//! that shows the features still carry the loans' fate.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::*;

/// The loans in the repository's copy of the data set: account id -> status.
fn loans() -> BTreeMap<i64, String> {
    let path = repo_root().join("datasets/berka/loan.parquet");
    let file = std::fs::File::open(&path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut out = BTreeMap::new();
    for batch in reader {
        let batch = batch.unwrap();
        let column = |name: &str, to: &arrow::datatypes::DataType| {
            arrow::compute::cast(batch.column_by_name(name).unwrap(), to).unwrap()
        };
        let accounts = column("account_id", &arrow::datatypes::DataType::Int64);
        let accounts = accounts
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap();
        let status = column("status", &arrow::datatypes::DataType::Utf8);
        let status = status
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .unwrap();
        for i in 0..batch.num_rows() {
            let previous = out.insert(accounts.value(i), status.value(i).to_string());
            assert!(previous.is_none(), "one loan per account");
        }
    }
    out
}

/// The key column of a published table as the Python `deltalake` reader
/// (an independent Delta reader) sees it: Arrow type, rows and the keys.
fn python_keys(table: &std::path::Path, key: &str) -> serde_json::Value {
    let code = r#"
import json, os, sys
from deltalake import DeltaTable
data = DeltaTable(sys.argv[1]).to_pyarrow_table()
column = data.column(sys.argv[2])
print(json.dumps({"type": str(column.type), "rows": data.num_rows, "keys": column.to_pylist()}))
sys.stdout.flush()
os._exit(0)  # deltalake can abort in interpreter teardown (see read_delta.py)
"#;
    let out = std::process::Command::new(python())
        .arg("-c")
        .arg(code)
        .arg(table)
        .arg(key)
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn berka_job_segments_every_account_and_learns_bad_loans() {
    let lake = tempfile::tempdir().unwrap();
    // The data set folder is the job's default, the repository's copy.
    let out = seglake(&[
        "run",
        repo_root().join("jobs/berka.toml").to_str().unwrap(),
        "--var",
        &format!("lake={}", lake.path().display()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    let loans = loans();
    assert_eq!(loans.len(), 682);
    let bad: BTreeSet<i64> = loans
        .iter()
        .filter(|(_, s)| s.as_str() == "B" || s.as_str() == "D")
        .map(|(&a, _)| a)
        .collect();
    assert_eq!(bad.len(), 76, "31 B and 45 D loans");

    // One row per account (4,500 accounts, all opened before as_of), keyed
    // by the bank's integer id, as Python's deltalake reads it.
    let segments = python_keys(&lake.path().join("segments"), "account_id");
    let key_type = segments["type"].as_str().unwrap();
    assert!(
        key_type == "int32" || key_type == "int64",
        "account_id published as {key_type}, not as the integer it is"
    );
    let keys: Vec<i64> = segments["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_i64().unwrap())
        .collect();
    let distinct: BTreeSet<i64> = keys.iter().copied().collect();
    assert_eq!(keys.len(), 4500);
    assert_eq!(distinct.len(), 4500, "one row per account");
    assert!(bad.is_subset(&distinct), "every bad-loan account is scored");
    assert_eq!(
        python_keys(&lake.path().join("account_features"), "account_id")["rows"],
        4500
    );
    // The text attributes are published with the features.
    let features = table_rows(lake.path(), "account_features");
    let frequencies: BTreeSet<String> = features
        .iter()
        .map(|r| row_text(r, "statement_frequency"))
        .collect();
    let expected = ["after_transaction", "monthly", "weekly"].map(String::from);
    assert_eq!(frequencies, BTreeSet::from(expected));
    assert!(
        features
            .iter()
            .all(|r| !row_text(r, "card_type").is_empty())
    );
    assert!(features.iter().all(|r| !row_text(r, "region").is_empty()));

    // Every loan is labelled and every bad loan is a positive: the label
    // view yields one row per loan, 1 exactly for B and D, so the counts
    // equal to those in loan.parquet mean no bad loan was left out.
    let run = runs_rows(lake.path()).pop().unwrap();
    assert_eq!(run["status"], "succeeded");
    let metrics: serde_json::Value =
        serde_json::from_str(run["metrics"].as_str().unwrap()).unwrap();
    let risk = &metrics["risk"];
    assert_eq!(risk["labelled_customers"], 682);
    assert_eq!(risk["positive_customers"], 76);
    assert_eq!(risk["unlabelled_customers"], 4500 - 682);

    // The outcomes ([segments] outcomes = the loan_outcomes view, mapped by
    // [outcomes]): every loan is a case of its account's segment, and the
    // bad ones (B, D -> sar_filed) are the segments' confirmed outcomes.
    let profiles = table_rows(lake.path(), "segment_profiles");
    let number = |p: &serde_json::Value, column: &str| {
        p[column]
            .as_f64()
            .unwrap_or_else(|| panic!("segment_profiles.{column} is not a number: {p}"))
    };
    let cases: f64 = profiles.iter().map(|p| number(p, "cases")).sum();
    assert_eq!(cases as i64, 682, "{profiles:?}");
    let confirmed: f64 = profiles
        .iter()
        .map(|p| number(p, "sar_rate") * number(p, "size"))
        .sum();
    assert_eq!(confirmed.round() as i64, 76, "{profiles:?}");

    // Held-out: a stratified 20% of the 682 loans (136, with 15 bad ones).
    assert_eq!(risk["evaluated_customers"], 136);
    let auc = risk["auc_roc"].as_f64().unwrap();
    // 0.618 when written (seed 11; AUC-PR 0.162 against a base rate of
    // 0.11). 136 held-out loans with 15 bad ones make it noisy: with seeds
    // 1 to 10 (other splits and subsamples) the same job measured 0.57 to
    // 0.75, mean 0.66. The floor sits under all of them, as a change of
    // split (a new key order, say) moves the value within that range, and
    // over the 0.5 of a model that has lost the signal of its features
    // (authorised users, account age, cards, district, balance volatility).
    assert!(auc > 0.55, "held-out AUC {auc}");
}
