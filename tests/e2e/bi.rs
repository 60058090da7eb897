//! BI tools over the lake: polars and the Python `deltalake` package alone
//! (tests/python/bi_queries.py, no seglake code) answer "segment sizes over
//! time" by Delta time travel and one SQL query, "alerts per segment" by SQL,
//! and read the current `segment_profiles` at the version the `runs` table
//! records; every answer equals seglake's own view of the same data
//! (`seglake sql` with `table_at`).

use std::path::Path;

use serde_json::{Value, json};

use crate::common::*;

fn sql(lake: &Path, query: &str) -> Vec<Value> {
    seglake_ok(&["sql", query, "--lake", lake.to_str().unwrap(), "--json"])
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn bi_queries(lake: &Path) -> Value {
    python_json("bi_queries.py", &[lake.as_os_str()])
}

/// `rows` with only `keys` (the JSON objects compare whatever the key order).
fn project(rows: &[Value], keys: &[&str]) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            Value::Object(
                keys.iter()
                    .map(|k| (k.to_string(), r[*k].clone()))
                    .collect(),
            )
        })
        .collect()
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("`{key}` is not a list in {v}"))
}

#[test]
fn bi_tools_see_segment_sizes_over_time_alerts_and_profiles_as_seglake_does() {
    let lake = generated_lake(3000);
    let l = lake.path();
    run_demo_job(l);
    // The second run with k = 4 instead of k chosen in 4..=10 (7 on this
    // bank), so the two versions are two different segmentations.
    let k4 = JobVariant::new("bi-k4", "k = \"auto\"\nk_range = [4, 10]", "k = 4");
    let out = k4.run(l, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let history = history_json(&l.join("segments"));
    assert_eq!(history.len(), 2);
    let run_of = |v: usize| history[v]["run_id"].as_str().unwrap().to_string();
    assert_ne!(run_of(0), run_of(1));

    let bi = bi_queries(l);

    // (a) Segment sizes over time: both versions, each one run, and per
    // version exactly seglake's count of `table_at('segments', v)`.
    assert_eq!(bi["versions"], json!([0, 1]), "{bi}");
    let sizes = array(&bi, "sizes_over_time");
    let sizes_at = |v: usize| -> Vec<Value> {
        sizes
            .iter()
            .filter(|r| r["version"] == json!(v))
            .cloned()
            .collect()
    };
    for v in 0..2usize {
        let theirs = sizes_at(v);
        assert!(!theirs.is_empty(), "version {v} missing from {bi}");
        assert!(
            theirs.iter().all(|r| r["run_id"] == json!(run_of(v))),
            "version {v} is run {}: {theirs:?}",
            run_of(v)
        );
        let ours = sql(
            l,
            &format!(
                "SELECT segment_id, count(*) AS customers FROM table_at('segments', {v}) \
                 GROUP BY segment_id ORDER BY segment_id"
            ),
        );
        assert_eq!(
            project(&theirs, &["segment_id", "customers"]),
            ours,
            "segment sizes of version {v}"
        );
        let total: i64 = theirs
            .iter()
            .map(|r| r["customers"].as_i64().unwrap())
            .sum();
        assert_eq!(total, 3000, "version {v}: one row per customer");
    }
    let (v0, v1) = (sizes_at(0), sizes_at(1));
    assert_eq!(v1.len(), 4, "k = 4: {bi}");
    assert_ne!(
        project(&v0, &["segment_id", "customers"]),
        project(&v1, &["segment_id", "customers"]),
        "two different segmentations"
    );

    // (b) Alerts per segment at the latest version: the demo's bands are
    // high / medium / low, and the alerting band `high` has customers.
    let bands: Vec<Value> = sql(l, "SELECT DISTINCT risk_band FROM segments ORDER BY 1")
        .into_iter()
        .map(|r| r["risk_band"].clone())
        .collect();
    assert_eq!(bands, vec![json!("high"), json!("low"), json!("medium")]);
    let alerts = array(&bi, "alerts_per_segment");
    assert!(!alerts.is_empty(), "{bi}");
    let ours = sql(
        l,
        "SELECT segment_id, risk_band AS band, count(*) AS customers \
         FROM table_at('segments', 1) WHERE risk_band = 'high' \
         GROUP BY segment_id, risk_band ORDER BY segment_id",
    );
    assert_eq!(
        project(alerts, &["segment_id", "band", "customers"]),
        ours,
        "alerts per segment"
    );
    // The BI tool's SQL text runs unchanged through seglake too.
    let alerts_sql = bi["sql"]["alerts_per_segment"].as_str().unwrap();
    assert_eq!(sql(l, alerts_sql), ours, "{alerts_sql}");

    // (c) The current profiles, at the version the latest run's `outputs`
    // record: the latest run, version 1 of both tables, and each segment's
    // size is its count in `segments` at that version.
    assert_eq!(
        bi["latest_run"],
        json!({"run_id": run_of(1), "segments_version": 1, "segment_profiles_version": 1})
    );
    let profiles = project(array(&bi, "profile_sizes"), &["segment_id", "size"]);
    assert_eq!(
        profiles,
        sql(
            l,
            "SELECT segment_id, size FROM table_at('segment_profiles', 1) ORDER BY segment_id"
        )
    );
    let latest_counts: Vec<Value> = v1
        .iter()
        .map(|r| json!({"segment_id": r["segment_id"], "size": r["customers"]}))
        .collect();
    assert_eq!(profiles, latest_counts, "profile sizes = segment counts");
}
