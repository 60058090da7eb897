//! A run publishes version 0 of each table, the next run version 1, and the
//! lineage in `runs` names the exact inputs and SQL of each.

use crate::common::*;

#[test]
fn two_runs_publish_versions_0_and_1_with_their_lineage() {
    let lake = generated_lake(400);
    let first = run_demo_job(lake.path());
    assert!(
        first.contains("customer_features      version 0"),
        "{first}"
    );
    let second = run_demo_job(lake.path());
    assert!(
        second.contains("customer_features      version 1"),
        "{second}"
    );
    assert!(
        second.contains("runs                   version 1"),
        "{second}"
    );

    // history --json: one object per version, each with its run id.
    let features = history_json(&lake.path().join("customer_features"));
    let runs_history = history_json(&lake.path().join("runs"));
    assert_eq!(features.len(), 2);
    assert_eq!(runs_history.len(), 2);
    let run_ids: Vec<String> = features
        .iter()
        .map(|h| h["run_id"].as_str().unwrap().to_string())
        .collect();
    assert_ne!(run_ids[0], run_ids[1]);
    for (i, h) in features.iter().enumerate() {
        assert_eq!(h["version"], i as i64);
        assert_eq!(
            runs_history[i]["run_id"], h["run_id"],
            "runs and features commits share the run id"
        );
        assert!(h["timestamp"].is_string());
        assert!(h["operation"].is_string());
    }
    // The table form names the same run ids.
    let table = seglake_ok(&[
        "history",
        "customer_features",
        "--lake",
        lake.path().to_str().unwrap(),
    ]);
    assert!(
        table.contains(&run_ids[0]) && table.contains(&run_ids[1]),
        "{table}"
    );

    // The runs table: one row per run, naming inputs and SQL exactly.
    let rows = runs_rows(lake.path());
    assert_eq!(rows.len(), 2);
    let root = repo_root();
    for (i, row) in rows.iter().enumerate() {
        let row_run = row["run_id"].as_str().unwrap();
        let expected_version = run_ids
            .iter()
            .position(|r| r == row_run)
            .expect("a known run id") as i64;
        assert_eq!(row["status"], "succeeded");
        assert_eq!(row["job_name"], "demo");
        assert_eq!(row["seed"], 42);
        let outputs = row["outputs"].as_array().unwrap();
        assert_eq!(outputs[0]["table"], "customer_features");
        assert_eq!(outputs[0]["version"], expected_version, "row {i}");

        let spec_text = std::fs::read_to_string(root.join("jobs/demo.toml")).unwrap();
        assert_eq!(row["spec_text"], spec_text.as_str());
        assert_eq!(
            row["spec_sha256"],
            seglake_spec::sha256_hex(spec_text.as_bytes())
        );
        let sql = row["sql_files"].as_array().unwrap();
        assert_eq!(sql.len(), 5);
        for file in sql {
            let view = file["view"].as_str().unwrap();
            let text = std::fs::read(root.join(format!("sql/features/{view}.sql"))).unwrap();
            assert_eq!(file["sha256"], seglake_spec::sha256_hex(&text), "{view}");
        }

        // Every Parquet file of every input, with its size on disk.
        let inputs = row["inputs"].as_array().unwrap();
        let tx = inputs.iter().find(|i| i["name"] == "transactions").unwrap();
        assert_eq!(tx["format"], "parquet");
        let files = tx["files"].as_array().unwrap();
        let on_disk: Vec<_> = std::fs::read_dir(lake.path().join("raw/transactions"))
            .unwrap()
            .collect();
        assert_eq!(files.len(), on_disk.len());
        for f in files {
            let path = f["path"]
                .as_str()
                .unwrap()
                .strip_prefix("file://")
                .unwrap()
                .to_string();
            let size = std::fs::metadata(&path).unwrap().len();
            assert_eq!(f["size"], size as i64, "{path}");
        }
        let hr = inputs
            .iter()
            .find(|i| i["name"] == "high_risk_jurisdictions")
            .unwrap();
        assert_eq!(hr["format"], "csv");

        // Cleaning counts are recorded: the generator replays ~0.5% of rows.
        let dups = row["quality"]["duplicates_removed"].as_array().unwrap();
        assert_eq!(dups[0]["table"], "transactions");
        assert!(dups[0]["rows"].as_i64().unwrap() > 0, "{dups:?}");
        let missing = row["quality"]["missing_values"].as_array().unwrap();
        let country = missing
            .iter()
            .find(|m| m["table"] == "transactions" && m["column"] == "counterparty_country")
            .unwrap();
        assert!(country["rows"].as_i64().unwrap() > 0);
        let outliers = row["quality"]["outliers"].as_array().unwrap();
        assert_eq!(outliers.len(), 3);
    }
}

#[test]
fn demo_command_generates_a_lake_and_a_second_demo_publishes_the_next_version() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake_arg = lake.to_str().unwrap();
    let first = seglake_ok(&["demo", "--lake", lake_arg, "--customers", "300"]);
    assert!(lake.join("raw/ground_truth.parquet").is_file());
    assert!(first.contains("version 0"), "{first}");
    let second = seglake_ok(&["demo", "--lake", lake_arg, "--customers", "300"]);
    assert!(
        second.contains("customer_features      version 1"),
        "{second}"
    );
}
