//! Segments: the demo recovers the planted archetypes (scored by
//! scikit-learn on the table as the Python Delta reader sees it), the
//! segmentation is byte-identical whatever the thread and partition counts,
//! `seglake segments` shows any version, and bad `[segments]` settings are
//! named errors that write nothing.

use std::path::Path;
use std::process::Command;

use crate::common::*;

/// A fresh lake holding a copy of `raw`, so every run starts at version 0.
fn lake_with(raw: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("cp")
        .args([
            "-r",
            raw.to_str().unwrap(),
            dir.path().join("raw").to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    dir
}

/// The bytes of every data file of the latest `segments` version.
fn segments_bytes(lake: &Path) -> Vec<u8> {
    let log = lake.join("segments/_delta_log/00000000000000000000.json");
    let text = std::fs::read_to_string(&log).unwrap();
    let mut bytes = Vec::new();
    for line in text.lines() {
        let action: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(path) = action["add"]["path"].as_str() {
            bytes.extend(std::fs::read(lake.join("segments").join(path)).unwrap());
        }
    }
    assert!(!bytes.is_empty(), "no data file in {}", log.display());
    bytes
}

#[test]
fn demo_segments_recover_the_planted_archetypes() {
    let lake = generated_lake(10_000);
    let out = run_demo_job(lake.path());
    // The run prints the segment table.
    assert!(out.contains("segments of run"), "{out}");
    assert!(out.contains("SAR"), "{out}");

    let script = repo_root().join("tests/python/segments_ari.py");
    let result = Command::new(python())
        .args([
            script.to_str().unwrap(),
            lake.path().join("segments").to_str().unwrap(),
            lake.path()
                .join("raw/ground_truth.parquet")
                .to_str()
                .unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let score: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    assert_eq!(score["rows"], 10_000);
    let ari = score["ari"].as_f64().unwrap();
    assert!(
        ari >= 0.9,
        "adjusted Rand index {ari} against the archetypes ({score})"
    );

    // The run's metrics are in `runs`, the model in `models`.
    let runs = runs_rows(lake.path());
    let metrics: serde_json::Value =
        serde_json::from_str(runs[0]["metrics"].as_str().unwrap()).unwrap();
    let k = metrics["segments"]["k"].as_u64().unwrap();
    assert_eq!(score["segments"].as_u64().unwrap(), k);
    assert_eq!(
        metrics["sweep"].as_array().unwrap().len(),
        7,
        "k = 4..=10 tried"
    );
    assert!(metrics["segments"]["silhouette_sample"].as_u64().unwrap() == 5000);
    for key in [
        "inertia",
        "silhouette",
        "davies_bouldin",
        "calinski_harabasz",
    ] {
        assert!(
            metrics["segments"][key].as_f64().unwrap().is_finite(),
            "{key}"
        );
    }
    let sizes: u64 = metrics["segment_sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .sum();
    assert_eq!(sizes, 10_000);
    let models: Vec<_> = table_rows(lake.path(), "models")
        .into_iter()
        .filter(|m| m["kind"] == "segments")
        .collect();
    assert_eq!(models.len(), 1);
    let model: serde_json::Value =
        serde_json::from_str(models[0]["model"].as_str().unwrap()).unwrap();
    assert_eq!(model["centres"].as_array().unwrap().len() as u64, k);
    assert_eq!(
        model["preparation"]["features"].as_array().unwrap().len(),
        model["features"].as_array().unwrap().len()
    );

    // Profiles: one row per segment, shares summing to 1, labels unique.
    let profiles = table_rows(lake.path(), "segment_profiles");
    assert_eq!(profiles.len() as u64, k);
    let share: f64 = profiles.iter().map(|p| p["share"].as_f64().unwrap()).sum();
    assert!((share - 1.0).abs() < 1e-9);
    let mut labels: Vec<&str> = profiles
        .iter()
        .map(|p| p["segment_label"].as_str().unwrap())
        .collect();
    labels.sort();
    labels.dedup();
    assert_eq!(labels.len() as u64, k, "labels are unique");
}

#[test]
fn segments_are_identical_with_any_thread_or_partition_count() {
    let source = generated_lake(6_000);
    let run = |threads: &str, partitions: &str| {
        let lake = lake_with(&source.path().join("raw"));
        let out = Command::new(env!("CARGO_BIN_EXE_seglake"))
            .args([
                "run",
                "jobs/demo.toml",
                "--var",
                &format!("lake={}", lake.path().display()),
                "--run-id",
                "20260101T000000Z-determinism",
                "--partitions",
                partitions,
            ])
            .env("RAYON_NUM_THREADS", threads)
            .current_dir(repo_root())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        segments_bytes(lake.path())
    };
    let one_thread = run("1", "2");
    assert_eq!(one_thread, run("2", "2"), "1 vs 2 threads");
    assert_eq!(one_thread, run("2", "5"), "2 vs 5 DataFusion partitions");
}

#[test]
fn segments_command_shows_any_version() {
    let lake = generated_lake(3_000);
    let lake_arg = lake.path().to_str().unwrap();
    run_demo_job(lake.path());
    run_demo_job(lake.path());
    let runs = runs_rows(lake.path());
    let mut ids: Vec<&str> = runs.iter().map(|r| r["run_id"].as_str().unwrap()).collect();
    ids.sort();
    let latest = seglake_ok(&["segments", "--lake", lake_arg]);
    assert!(
        latest.contains(&format!("segments of run {}", ids[1])),
        "{latest}"
    );
    let first = seglake_ok(&["segments", "--lake", lake_arg, "--version", "0"]);
    assert!(
        first.contains(&format!("segments of run {}", ids[0])),
        "{first}"
    );
    let json = seglake_ok(&["segments", "segment_profiles", "--lake", lake_arg, "--json"]);
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        rows.len(),
        table_rows(lake.path(), "segment_profiles").len()
    );
    assert!(
        rows.iter()
            .all(|r| r["run_id"] == ids[1] && r["z_txn_count"].is_number())
    );

    // Not a profile table: a named error.
    let out = seglake(&["segments", "customer_features", "--lake", lake_arg]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not a segment_profiles table"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_segments_settings_are_named_and_write_nothing() {
    let lake = generated_lake(500);
    let cases = [
        (
            "k = \"auto\"\nk_range = [4, 10]",
            "k = 0",
            "k must be at least 2, got 0",
        ),
        (
            "k = \"auto\"\nk_range = [4, 10]",
            "k = \"auto\"",
            "k = \"auto\" needs k_range",
        ),
        (
            "k = \"auto\"\nk_range = [4, 10]",
            "k = \"many\"",
            "`many` is neither a number nor \"auto\"",
        ),
        (
            "algorithm = \"kmeans\"",
            "algorithm = \"kmeans\"\nfeatures = [\"txn_count\", \"no_such_feature\"]",
            "segments.features: no column `no_such_feature`",
        ),
        (
            "algorithm = \"kmeans\"",
            "algorithm = \"dbscan\"",
            "is not read with algorithm = \"dbscan\"",
        ),
        (
            "algorithm = \"kmeans\"\nk = \"auto\"\nk_range = [4, 10]",
            "algorithm = \"dbscan\"",
            "algorithm = \"dbscan\" needs eps",
        ),
        (
            "k = \"auto\"\nk_range = [4, 10]",
            "",
            "segments.k`: is required",
        ),
        (
            "log = \"auto\"",
            "log = \"sometimes\"",
            "`sometimes` is not one of: auto, always, never",
        ),
        (
            "clip = [0.005, 0.995]",
            "clip = [0.9, 0.1]",
            "clip quantiles must satisfy 0 <= low < high <= 1",
        ),
        (
            "outcomes = \"case_outcomes\"",
            "outcomes = \"cases\"",
            "`cases` is not a source",
        ),
    ];
    for (from, to, message) in cases {
        assert_demo_variant_fails(lake.path(), "segments", from, to, message);
    }
}
