//! The published tables are plain Delta: the Python `deltalake` package
//! (an independent reader, as BI notebooks and polars use) reads every
//! version with the same rows, and sees the run id in each commit.

use crate::common::*;

fn read_with_python(table: &std::path::Path, key: &str) -> serde_json::Value {
    python_json("read_delta.py", &[table.as_os_str(), key.as_ref()])
}

#[test]
fn python_deltalake_reads_every_version_with_the_same_rows_and_run_ids() {
    let lake = generated_lake(300);
    run_demo_job(lake.path());
    run_demo_job(lake.path());
    let ours = history_json(&lake.path().join("customer_features"));
    let runs = runs_rows(lake.path());

    let theirs = read_with_python(&lake.path().join("customer_features"), "customer_id");
    assert_eq!(theirs["latest"], 1);
    for version in 0..2i64 {
        let v = &theirs["versions"][version.to_string()];
        let run_id = ours[version as usize]["run_id"].as_str().unwrap();
        // Each version is a complete snapshot of one run.
        assert_eq!(v["run_ids"], serde_json::json!([run_id]));
        let run = runs.iter().find(|r| r["run_id"] == run_id).unwrap();
        let rows_out = run["rows_out"][0]["rows"].as_i64().unwrap();
        assert_eq!(v["rows"], rows_out);
        assert_eq!(v["distinct_keys"], rows_out, "one row per customer");
        assert!(
            v["columns"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "txn_count")
        );
    }
    // The same data both times (same inputs, same SQL): the sums agree.
    assert_eq!(
        theirs["versions"]["0"]["txn_count_sum"],
        theirs["versions"]["1"]["txn_count_sum"]
    );

    // The commit metadata carries the run id, as `history` shows it.
    let history = theirs["history"].as_array().unwrap();
    for h in history {
        let version = h["version"].as_i64().unwrap();
        assert_eq!(
            h["run_id"], ours[version as usize]["run_id"],
            "version {version}"
        );
        assert_eq!(h["job"], "demo");
    }

    let runs_py = read_with_python(&lake.path().join("runs"), "run_id");
    assert_eq!(
        runs_py["versions"]["1"]["rows"], 2,
        "runs is appended to: two rows after two runs"
    );
    assert_eq!(runs_py["versions"]["0"]["rows"], 1);
}
