//! Risk scores: the demo publishes a calibrated score, a band and three
//! reasons for every customer, the booster in `models` and its metrics in
//! `runs`; bad `[risk]` settings and degenerate labels are named errors
//! that write nothing. (Bit-identical scores with 1 and 2 threads are
//! checked with the rest of `segments` in determinism and segments tests.)

use std::collections::BTreeMap;

use crate::common::*;

#[test]
fn demo_publishes_scores_bands_and_reasons() {
    let lake = generated_lake(10_000);
    run_demo_job(lake.path());
    let rows = table_rows(lake.path(), "segments");
    assert_eq!(rows.len(), 10_000);
    let mut bands: BTreeMap<String, usize> = BTreeMap::new();
    let mut high_by_segment: BTreeMap<i64, (usize, usize)> = BTreeMap::new();
    for r in &rows {
        let score = r["risk_score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score), "{r}");
        let band = r["risk_band"].as_str().unwrap().to_string();
        let entry = high_by_segment
            .entry(r["segment_id"].as_i64().unwrap())
            .or_default();
        entry.0 += 1;
        entry.1 += (band == "high") as usize;
        *bands.entry(band).or_default() += 1;
        let reasons = r["reasons"].as_array().unwrap();
        assert_eq!(reasons.len(), 3, "{r}");
        let sizes: Vec<f64> = reasons
            .iter()
            .map(|x| x["contribution"].as_f64().unwrap().abs())
            .collect();
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "largest first: {r}");
    }
    assert_eq!(
        bands.keys().cloned().collect::<Vec<_>>(),
        ["high", "low", "medium"]
    );
    // Per-segment thresholds: every segment alerts on at least its top 2%.
    for (segment, (size, high)) in high_by_segment {
        assert!(
            high as f64 >= 0.02 * size as f64,
            "segment {segment}: {high} of {size} in the high band"
        );
    }

    let models = table_rows(lake.path(), "models");
    let risk = models.iter().find(|m| m["kind"] == "risk").unwrap();
    assert_eq!(risk["algorithm"], "gbdt");
    let model: serde_json::Value = serde_json::from_str(risk["model"].as_str().unwrap()).unwrap();
    assert_eq!(model["format"], "seglake.risk.v1");
    let booster = &model["booster"];
    assert!(!booster["trees"].as_array().unwrap().is_empty());
    assert_eq!(
        booster["bins"].as_array().unwrap().len(),
        model["features"].as_array().unwrap().len()
    );
    assert!(
        model["features"]
            .as_array()
            .unwrap()
            .contains(&"segment_id".into())
    );

    let run = runs_rows(lake.path()).pop().unwrap();
    let metrics: serde_json::Value =
        serde_json::from_str(run["metrics"].as_str().unwrap()).unwrap();
    let risk = &metrics["risk"];
    let auc = risk["auc_roc"].as_f64().unwrap();
    assert!(auc > 0.6, "held-out AUC {auc}");
    assert_eq!(risk["evaluated_on"], "held-out validation split");
    for key in [
        "auc_pr",
        "log_loss",
        "confusion",
        "alert_rate_per_segment",
        "importance",
    ] {
        assert!(!risk[key].is_null(), "{key} missing from {risk}");
    }
    // The label view is part of the run's lineage.
    assert!(run["sql_files"].to_string().contains("risk_labels"));
}

#[test]
fn bad_risk_settings_and_degenerate_labels_are_named_and_write_nothing() {
    let lake = generated_lake(500);
    let pid = std::process::id();
    let sql_dir = repo_root().join("sql/features");
    let label_views = [
        (
            format!("one_class_{pid}"),
            "SELECT customer_id, 1 AS label FROM case_outcomes GROUP BY customer_id",
        ),
        (
            format!("no_labels_{pid}"),
            "SELECT customer_id, 1 AS label FROM case_outcomes WHERE outcome = 'never' GROUP BY customer_id",
        ),
        (
            format!("label_two_{pid}"),
            "SELECT customer_id, 2 AS label FROM case_outcomes GROUP BY customer_id",
        ),
        (
            format!("no_label_column_{pid}"),
            "SELECT customer_id FROM case_outcomes GROUP BY customer_id",
        ),
    ];
    for (name, sql) in &label_views {
        std::fs::write(sql_dir.join(format!("{name}.sql")), sql).unwrap();
    }
    let labels = |name: &str| format!("labels = \"{name}\"");
    let cases = [
        (
            "labels = \"risk_labels\"".to_string(),
            labels(&label_views[0].0),
            "only one class (",
        ),
        (
            "labels = \"risk_labels\"".to_string(),
            labels(&label_views[1].0),
            "none of its 0 labelled customers",
        ),
        (
            "labels = \"risk_labels\"".to_string(),
            labels(&label_views[2].0),
            "`label` must be 0 or 1",
        ),
        (
            "labels = \"risk_labels\"".to_string(),
            labels(&label_views[3].0),
            "needs columns `customer_id` (features.key) and `label`",
        ),
        (
            "labels = \"risk_labels\"".to_string(),
            "labels = \"no_such_view\"".to_string(),
            "no_such_view.sql, which does not exist",
        ),
        (
            "class_weight = \"balanced\"".to_string(),
            "class_weight = \"heavy\"".to_string(),
            "`heavy` is neither \"balanced\" nor a number",
        ),
        (
            "class_weight = \"balanced\"".to_string(),
            "class_weight = \"balanced\"\nnum_leaves = 1".to_string(),
            "num_leaves must be at least 2, got 1",
        ),
        (
            "alert_rate = 0.10".to_string(),
            "alert_rate = 0.01".to_string(),
            "each target must be larger than the one before",
        ),
        (
            "alert_rate = 0.10".to_string(),
            "recall = 0.5".to_string(),
            "all bands use alert_rate, or all use recall",
        ),
    ];
    for (from, to, message) in &cases {
        assert_demo_variant_fails(lake.path(), "risk", from, to, message);
    }
    for (name, _) in &label_views {
        std::fs::remove_file(sql_dir.join(format!("{name}.sql"))).unwrap();
    }
}

#[test]
fn amlsim_job_scores_held_out_accounts_well() {
    // Real data: the IBM AMLSim sample beside the project (see
    // jobs/amlsim.toml). Its folder can be moved with SEGLAKE_DATASETS.
    let datasets = std::env::var("SEGLAKE_DATASETS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("../shared/datasets"));
    if !datasets.join("amlsim_ibm_sample").is_dir() {
        eprintln!(
            "SKIPPED: no AMLSim sample at {} (set SEGLAKE_DATASETS)",
            datasets.display()
        );
        return;
    }
    let lake = tempfile::tempdir().unwrap();
    let out = seglake(&[
        "run",
        repo_root().join("jobs/amlsim.toml").to_str().unwrap(),
        "--var",
        &format!("lake={}", lake.path().display()),
        "--var",
        &format!("datasets={}", datasets.display()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = runs_rows(lake.path()).pop().unwrap();
    let metrics: serde_json::Value =
        serde_json::from_str(run["metrics"].as_str().unwrap()).unwrap();
    let risk = &metrics["risk"];
    assert_eq!(
        risk["evaluated_customers"], 4000,
        "a 20% hold-out of 20,000 accounts"
    );
    assert_eq!(risk["positive_customers"], 1804);
    let auc = risk["auc_roc"].as_f64().unwrap();
    // 0.910 when written (seed 7); a regression in the features or the
    // booster shows here.
    assert!(auc > 0.88, "held-out AUC {auc}");
    assert_eq!(table_rows(lake.path(), "segments").len(), 20_000);
}
