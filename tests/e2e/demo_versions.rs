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
        // In commit order: `models` first (the other tables name its
        // version); `runs` itself is not listed.
        let outputs = row["outputs"].as_array().unwrap();
        let tables: Vec<&str> = outputs
            .iter()
            .map(|o| o["table"].as_str().unwrap())
            .collect();
        assert_eq!(
            tables,
            [
                "models",
                "monitoring",
                "segments",
                "segment_profiles",
                "alerts",
                "cases",
                "screening_hits",
                "customer_features"
            ],
            "row {i}"
        );
        let features = outputs
            .iter()
            .find(|o| o["table"] == "customer_features")
            .unwrap();
        assert_eq!(features["version"], expected_version, "row {i}");

        let spec_text = std::fs::read_to_string(root.join("jobs/demo.toml")).unwrap();
        assert_eq!(row["spec_text"], spec_text.as_str());
        assert_eq!(
            row["spec_sha256"],
            seglake_spec::sha256_hex(spec_text.as_bytes())
        );
        let sql = row["sql_files"].as_array().unwrap();
        // Six feature views, the risk label view and the five rules.
        assert_eq!(sql.len(), 12);
        for file in sql {
            let view = file["view"].as_str().unwrap();
            let path = file["path"].as_str().unwrap();
            let folder = if path.contains("sql/rules/") {
                "rules"
            } else {
                "features"
            };
            let text = std::fs::read(root.join(format!("sql/{folder}/{view}.sql"))).unwrap();
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

/// The demo runs from any folder: the job, its SQL and reference tables
/// come from the binary, written under the lake.
#[test]
fn demo_command_generates_a_lake_and_a_second_demo_publishes_the_next_version() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake_arg = lake.to_str().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_seglake"))
        .args(["demo", "--lake", "lake", "--customers", "300"])
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let first = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(lake.join("raw/ground_truth.parquet").is_file());
    assert!(first.contains("version 0"), "{first}");
    let project = lake.join("demo-project");
    for file in [
        "jobs/demo.toml",
        "sql/rules/structuring.sql",
        "reference/ofac_sdn.parquet",
    ] {
        assert_eq!(
            std::fs::read(project.join(file)).unwrap(),
            std::fs::read(repo_root().join(file)).unwrap(),
            "{file}"
        );
    }
    let second = seglake_ok(&["demo", "--lake", lake_arg, "--customers", "300"]);
    assert!(
        second.contains("customer_features      version 1"),
        "{second}"
    );
}

#[test]
fn validate_lists_sources_views_and_columns_and_writes_nothing() {
    let lake = generated_lake(200);
    let before = file_tree(lake.path());
    let out = seglake_ok(&[
        "validate",
        "jobs/demo.toml",
        "--var",
        &format!("lake={}", lake.path().display()),
    ]);
    assert!(
        out.contains("job `demo`") && out.contains("is valid"),
        "{out}"
    );
    assert!(
        out.contains("windowed_transactions -> transaction_features"),
        "{out}"
    );
    assert!(
        out.contains("fan_in") && out.contains("new_devices_30d"),
        "{out}"
    );
    // Every numeric feature but the key is clustered on.
    assert!(
        out.contains("segments on 50 features: tenure_days, resident_in_high_risk"),
        "{out}"
    );
    assert_eq!(file_tree(lake.path()), before, "validate wrote something");
}

#[test]
fn history_of_an_unknown_table_lists_the_tables_there_are() {
    let lake = generated_lake(200);
    run_demo_job(lake.path());
    let out = seglake(&[
        "history",
        "segmnets",
        "--lake",
        lake.path().to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("segmnets")
            && err.contains(
                "customer_features, models, monitoring, runs, screening_hits, segment_profiles, \
                 segments"
            ),
        "{err}"
    );
}

#[test]
fn generate_refuses_zero_customers_and_an_occupied_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().to_str().unwrap();
    let out = seglake(&["generate", "--out", out_dir, "--customers", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("--customers"));
    seglake_ok(&["generate", "--out", out_dir, "--customers", "10"]);
    let out = seglake(&["generate", "--out", out_dir, "--customers", "10"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("--overwrite"));
}
