//! A Delta table is a source like any other, read at the version the job
//! pins (or the latest), and the run's lineage records that version.

use crate::common::*;

pub(crate) fn delta_job(
    dir: &std::path::Path,
    features: &std::path::Path,
    version: Option<i64>,
) -> std::path::PathBuf {
    let sql = dir.join("sql");
    std::fs::create_dir_all(&sql).unwrap();
    std::fs::write(
        sql.join("risky_customers.sql"),
        "SELECT customer_id, txn_count, high_risk_txn_share, run_id AS source_run_id \
         FROM customer_features WHERE high_risk_txn_count > 0",
    )
    .unwrap();
    let version = version
        .map(|v| format!("version = {v}\n"))
        .unwrap_or_default();
    let job = dir.join("delta.toml");
    std::fs::write(
        &job,
        format!(
            r#"
[job]
name = "from_delta"
seed = 1
as_of = "2026-01-01T00:00:00Z"

[sources.customer_features]
uri = "{features}"
format = "delta"
{version}
[features]
sql_dir = "sql"
views = ["risky_customers"]
key = "customer_id"
output_table = "risky_customers"

[output]
root = "out"
"#,
            features = features.display()
        ),
    )
    .unwrap();
    job
}

#[test]
fn delta_source_is_read_at_its_pinned_version_and_recorded() {
    let lake = generated_lake(300);
    run_demo_job(lake.path());
    run_demo_job(lake.path());
    let features = lake.path().join("customer_features");
    let history = history_json(&features);
    let first_run = history[0]["run_id"].as_str().unwrap().to_string();

    let dir = tempfile::tempdir().unwrap();
    let job = delta_job(dir.path(), &features, Some(0));
    seglake_ok(&["run", job.to_str().unwrap()]);
    let out = dir.path().join("out");
    let rows = table_rows(&out, "risky_customers");
    assert!(!rows.is_empty());
    // Every row came from version 0, written by the first demo run.
    assert!(
        rows.iter()
            .all(|r| r["source_run_id"] == first_run.as_str())
    );
    let runs = runs_rows(&out);
    let input = &runs[0]["inputs"][0];
    assert_eq!(input["format"], "delta");
    assert_eq!(input["delta_version"], 0);

    // Without a pin, the latest version at run start.
    let job = delta_job(dir.path(), &features, None);
    seglake_ok(&["run", job.to_str().unwrap()]);
    let runs = runs_rows(&out);
    let latest = runs
        .iter()
        .map(|r| r["inputs"][0]["delta_version"].as_i64().unwrap())
        .max();
    assert_eq!(latest, Some(1));
}

#[test]
fn missing_delta_version_is_named_with_the_versions_there_are() {
    let lake = generated_lake(200);
    run_demo_job(lake.path());
    let dir = tempfile::tempdir().unwrap();
    let job = delta_job(dir.path(), &lake.path().join("customer_features"), Some(7));
    let out = seglake(&["run", job.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("source `customer_features`")
            && err.contains("version 7")
            && err.contains("0..=0"),
        "{err}"
    );
    assert!(!dir.path().join("out").exists(), "nothing may be written");
}
