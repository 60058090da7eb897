//! `seglake serve` against real lakes: scores equal to what the batch run
//! published, request checks, feedback into the next run's profiles and
//! labels, a new run picked up under load, and no acknowledged feedback
//! lost when the server is SIGKILLed under load.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{generated_lake, run_demo_job, runs_rows, seglake_ok, table_rows};
use crate::http::{Connection, Serve, TOKEN, call, get, post};

/// The feature names the run's models read (the union of the `models`
/// rows' feature lists, without the segment id the risk model adds).
pub(crate) fn model_inputs(lake: &Path, run_id: &str) -> Vec<String> {
    let mut names = Vec::new();
    for m in table_rows(lake, "models") {
        if m["run_id"] != run_id {
            continue;
        }
        for f in m["features"].as_array().unwrap() {
            let f = f.as_str().unwrap().to_string();
            if f != "segment_id" && !names.contains(&f) {
                names.push(f);
            }
        }
    }
    names
}

pub(crate) fn features_of(row: &Value, inputs: &[String]) -> Value {
    Value::Object(inputs.iter().map(|n| (n.clone(), row[n].clone())).collect())
}

/// The run that finished last (the table's rows come in no set order).
pub(crate) fn latest_run_id(lake: &Path) -> String {
    let runs = runs_rows(lake);
    let last = runs
        .iter()
        .max_by_key(|r| {
            (
                r["finished_at"].as_str().unwrap().to_string(),
                r["run_id"].as_str().unwrap().to_string(),
            )
        })
        .unwrap();
    last["run_id"].as_str().unwrap().to_string()
}

/// Exactly equal floats (the published and the served score are the same
/// computation on the same bits).
pub(crate) fn same_f64(a: &Value, b: &Value, what: &str) {
    assert_eq!(
        a.as_f64().map(f64::to_bits),
        b.as_f64().map(f64::to_bits),
        "{what}: {a} vs {b}"
    );
}

#[test]
fn served_scores_equal_the_published_segments_and_requests_are_checked() {
    let lake = generated_lake(600);
    run_demo_job(lake.path());
    let run_id = latest_run_id(lake.path());
    let inputs = model_inputs(lake.path(), &run_id);
    let features: Vec<Value> = table_rows(lake.path(), "customer_features");
    let published: HashMap<String, Value> = table_rows(lake.path(), "segments")
        .into_iter()
        .map(|r| (r["customer_id"].as_str().unwrap().to_string(), r))
        .collect();
    let wal = tempfile::tempdir().unwrap();
    let serve = Serve::start(lake.path(), &wal.path().join("wal"), &[]);

    // Every customer through the batch route, in chunks.
    let mut scored = 0;
    for chunk in features.chunks(250) {
        let customers: Vec<Value> = chunk
            .iter()
            .map(|r| json!({"customer_id": r["customer_id"], "features": features_of(r, &inputs)}))
            .collect();
        let response = post(
            serve.addr,
            "/v1/score/batch",
            &json!({"customers": customers}),
        );
        assert_eq!(response.status, 200, "{}", response.body);
        for s in response.json()["scores"].as_array().unwrap() {
            let id = s["customer_id"].as_str().unwrap();
            let p = &published[id];
            assert_eq!(s["segment_id"], p["segment_id"], "{id}");
            assert_eq!(s["segment_label"], p["segment_label"], "{id}");
            assert_eq!(s["run_id"], p["run_id"]);
            assert_eq!(s["model_version"], p["model_version"]);
            same_f64(&s["distance"], &p["distance"], id);
            same_f64(&s["risk_score"], &p["risk_score"], id);
            assert_eq!(s["risk_band"], p["risk_band"], "{id}");
            let reasons = s["reasons"].as_array().unwrap();
            let expected = p["reasons"].as_array().unwrap();
            assert_eq!(reasons.len(), expected.len());
            for (r, e) in reasons.iter().zip(expected) {
                assert_eq!(r["feature"], e["feature"], "{id}");
                same_f64(&r["contribution"], &e["contribution"], id);
            }
            scored += 1;
        }
    }
    assert_eq!(scored, published.len());

    // One customer through the single route.
    let one = &features[7];
    let id = one["customer_id"].as_str().unwrap();
    let s = post(
        serve.addr,
        "/v1/score",
        &json!({"customer_id": id, "features": features_of(one, &inputs)}),
    );
    assert_eq!(s.status, 200, "{}", s.body);
    same_f64(&s.json()["risk_score"], &published[id]["risk_score"], id);

    // The published assignment at a time.
    let seg = get(
        serve.addr,
        &format!("/v1/customers/{id}/segment?as_of=2999-01-01"),
    );
    assert_eq!(seg.status, 200, "{}", seg.body);
    assert_eq!(
        seg.json()["assignment"]["segment_id"],
        published[id]["segment_id"]
    );
    assert_eq!(seg.json()["run_id"], run_id.as_str());
    let before = get(
        serve.addr,
        &format!("/v1/customers/{id}/segment?as_of=2001-01-01"),
    );
    assert_eq!(before.status, 404, "{}", before.body);
    let unknown = get(serve.addr, "/v1/customers/NOBODY/segment");
    assert_eq!(unknown.status, 404, "{}", unknown.body);

    // Tokens.
    assert_eq!(call(serve.addr, "GET", "/healthz", None, None).status, 200);
    for path in ["/metrics", "/openapi.json", "/v1/customers/x/segment"] {
        assert_eq!(
            call(serve.addr, "GET", path, None, None).status,
            401,
            "{path}"
        );
        assert_eq!(
            call(
                serve.addr,
                "GET",
                path,
                Some("wrong-token-0123456789"),
                None
            )
            .status,
            401,
            "{path}"
        );
    }
    let body = json!({"features": features_of(one, &inputs)}).to_string();
    assert_eq!(
        call(serve.addr, "POST", "/v1/score", None, Some(&body)).status,
        401
    );

    // Every bad request names its field.
    let first = &inputs[0];
    let mut missing = features_of(one, &inputs);
    missing.as_object_mut().unwrap().remove(first);
    let mut text = features_of(one, &inputs);
    text[first] = json!("high");
    let mut extra = features_of(one, &inputs);
    extra["colour"] = json!(1);
    let cases = [
        (
            json!({"features": missing.clone()}),
            format!("features.{first}"),
        ),
        (json!({"features": text}), format!("features.{first}")),
        (json!({"features": extra}), "features.colour".to_string()),
        (json!({"customer_id": "x"}), "features".to_string()),
        (json!({"features": {}, "speed": 1}), "speed".to_string()),
        (
            json!({"customers": [{"features": missing}]}),
            format!("customers[0].features.{first}"),
        ),
    ];
    for (body, field) in cases {
        let path = if body.get("customers").is_some() {
            "/v1/score/batch"
        } else {
            "/v1/score"
        };
        let r = post(serve.addr, path, &body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.json()["field"], field.as_str(), "{}", r.body);
    }
    let r = call(
        serve.addr,
        "POST",
        "/v1/score",
        Some(TOKEN),
        Some("{not json"),
    );
    assert_eq!((r.status, r.json()["field"].clone()), (400, json!("body")));
    let r = post(
        serve.addr,
        "/v1/feedback",
        &json!({"type": "survey", "customer_id": id, "survey": "nps", "score": 12}),
    );
    assert_eq!(
        (r.status, r.json()["field"].clone()),
        (400, json!("score")),
        "{}",
        r.body
    );
    let huge = json!({"features": {"x": "a".repeat(100_000)}}).to_string();
    assert_eq!(
        call(serve.addr, "POST", "/v1/score", Some(TOKEN), Some(&huge)).status,
        413
    );
    let r = get(serve.addr, "/v1/customers/x/segment?as_of=yesterday");
    assert_eq!((r.status, r.json()["field"].clone()), (400, json!("as_of")));

    // Metrics and the description.
    let metrics = get(serve.addr, "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .body
            .contains("seglake_http_requests_total{route=\"/v1/score/batch\",status=\"200\"}"),
        "{}",
        metrics.body
    );
    assert!(
        metrics
            .body
            .contains("route=\"/v1/customers/{id}/segment\""),
        "{}",
        metrics.body
    );
    assert!(
        metrics.body.contains(&format!(
            "seglake_model_info{{run_id=\"{run_id}\",job_name=\"demo\",model_version=\"0\"}} 1"
        )),
        "{}",
        metrics.body
    );
    let api = get(serve.addr, "/openapi.json").json();
    for path in [
        "/v1/score",
        "/v1/score/batch",
        "/v1/customers/{id}/segment",
        "/v1/feedback",
        "/v1/feedback/webhook",
        "/healthz",
        "/metrics",
    ] {
        assert!(api["paths"].get(path).is_some(), "{path} not described");
    }

    // Logs (at debug) name routes, never customers or the token.
    let log = serve.log_text();
    assert!(log.contains("/v1/score/batch"), "{log}");
    for secret in [id, "NOBODY", TOKEN] {
        assert!(!log.contains(secret), "`{secret}` is in the log:\n{log}");
    }
}

/// Every batch of raw source `source` (a Parquet folder under `raw/`).
fn raw_batches(lake: &Path, source: &str) -> Vec<arrow::array::RecordBatch> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(lake.join("raw").join(source)).unwrap() {
        let file = std::fs::File::open(entry.unwrap().path()).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        out.extend(reader.map(Result::unwrap));
    }
    out
}

fn customer_ids(batch: &arrow::array::RecordBatch) -> &arrow::array::StringArray {
    batch
        .column_by_name("customer_id")
        .unwrap()
        .as_any()
        .downcast_ref()
        .unwrap()
}

/// The rows of raw source `source` that belong to `customer`, as JSON objects.
pub(crate) fn raw_rows(lake: &Path, source: &str, customer: &str) -> Vec<Value> {
    use arrow::array::Array;
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    for batch in raw_batches(lake, source) {
        let ids = customer_ids(&batch);
        let keep = arrow::array::BooleanArray::from_iter(
            (0..ids.len()).map(|i| Some(ids.value(i) == customer)),
        );
        writer
            .write(&arrow::compute::filter_record_batch(&batch, &keep).unwrap())
            .unwrap();
    }
    writer.finish().unwrap();
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        vec![]
    } else {
        serde_json::from_slice(&bytes).unwrap()
    }
}

#[test]
fn a_customer_scored_from_raw_rows_gets_the_published_segment_and_score() {
    let lake = generated_lake(300);
    run_demo_job(lake.path());
    let published: Vec<Value> = table_rows(lake.path(), "segments");
    let wal = tempfile::tempdir().unwrap();
    let serve = Serve::start(lake.path(), &wal.path().join("wal"), &[]);
    // Customers with transactions, events and (for some) cases.
    for p in published.iter().step_by(37).take(6) {
        let id = p["customer_id"].as_str().unwrap();
        let raw: serde_json::Map<String, Value> =
            ["customers", "transactions", "events", "case_outcomes"]
                .into_iter()
                .map(|s| (s.to_string(), Value::Array(raw_rows(lake.path(), s, id))))
                .collect();
        assert!(
            !raw["transactions"].as_array().unwrap().is_empty(),
            "{id} has no transactions"
        );
        let r = post(
            serve.addr,
            "/v1/score",
            &json!({"customer_id": id, "raw": raw, "as_of": "2026-01-01T00:00:00Z"}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let s = r.json();
        assert_eq!(s["segment_id"], p["segment_id"], "{id}");
        same_f64(&s["distance"], &p["distance"], id);
        same_f64(&s["risk_score"], &p["risk_score"], id);
        assert_eq!(s["risk_band"], p["risk_band"], "{id}");
    }
    // Bad raw requests name the field.
    let id = published[0]["customer_id"].as_str().unwrap();
    let other = published[1]["customer_id"].as_str().unwrap();
    let cases = [
        (json!({"raw": {}}), "customer_id".to_string()),
        (
            json!({"customer_id": id, "raw": {"ledgers": []}}),
            "raw.ledgers".to_string(),
        ),
        (
            json!({"customer_id": id, "raw": {"transactions": [{"customer_id": other}]}}),
            "raw.transactions[0].customer_id".to_string(),
        ),
        (
            json!({"customer_id": id, "raw": {"transactions": [{"customer_id": id, "colour": 1}]}}),
            "raw.transactions[0].colour".to_string(),
        ),
        (
            json!({"customer_id": id, "raw": {"transactions": {}}}),
            "raw.transactions".to_string(),
        ),
        (
            json!({"customer_id": id, "raw": {}, "as_of": "soon"}),
            "as_of".to_string(),
        ),
        (
            json!({"customer_id": id, "raw": {}, "features": {}}),
            "raw".to_string(),
        ),
    ];
    for (body, field) in cases {
        let r = post(serve.addr, "/v1/score", &body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.json()["field"], field.as_str(), "{}", r.body);
    }
}

/// Customers with a case decided before the demo's as_of (the labels the
/// run had without feedback).
fn customers_with_cases(lake: &Path) -> BTreeSet<String> {
    use arrow::array::{Array, TimestampMicrosecondArray};
    // jobs/demo.toml: as_of = "2026-01-01T00:00:00Z".
    const DEMO_AS_OF_MICROS: i64 = 1_767_225_600_000_000;
    let mut out = BTreeSet::new();
    for batch in raw_batches(lake, "case_outcomes") {
        let ids = customer_ids(&batch);
        let decided = batch.column_by_name("decided_at").unwrap();
        let decided = decided
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap();
        for i in 0..ids.len() {
            if decided.value(i) < DEMO_AS_OF_MICROS {
                out.insert(ids.value(i).to_string());
            }
        }
    }
    out
}

fn nps_of(scores: &[i64]) -> Option<f64> {
    let n = scores.len();
    (n > 0).then(|| {
        let p = scores.iter().filter(|&&s| s >= 9).count() as f64;
        let d = scores.iter().filter(|&&s| s <= 6).count() as f64;
        100.0 * (p - d) / n as f64
    })
}

fn close(a: &Value, b: Option<f64>, what: &str) {
    match b {
        None => assert!(a.is_null(), "{what}: {a} should be null"),
        Some(b) => assert!((a.as_f64().unwrap() - b).abs() < 1e-9, "{what}: {a} vs {b}"),
    }
}

#[test]
fn feedback_reaches_the_next_run_and_a_new_run_is_picked_up_under_load() {
    let lake = generated_lake(500);
    run_demo_job(lake.path());
    let first_run = latest_run_id(lake.path());
    let inputs = model_inputs(lake.path(), &first_run);
    let features = table_rows(lake.path(), "customer_features");
    let labelled_before = metrics_of(lake.path(), &first_run)["risk"]["labelled_customers"]
        .as_u64()
        .unwrap();
    let wal = tempfile::tempdir().unwrap();
    let mut serve = Serve::start(
        lake.path(),
        &wal.path().join("wal"),
        &["--reload-every", "200ms", "--flush-every", "200ms"],
    );

    // Feedback on 60 customers, before the demo's as_of (2026-01-01), and
    // some after it, which the run must not count.
    let customers: Vec<String> = features
        .iter()
        .map(|r| r["customer_id"].as_str().unwrap().to_string())
        .step_by(7)
        .take(60)
        .collect();
    let mut nps: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut compliance: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut csat: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut dispositions: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let outcomes = [
        "false_positive",
        "no_action",
        "true_positive",
        "false_positive",
        "sar_filed",
    ];
    let mut posted = 0;
    for (i, c) in customers.iter().enumerate() {
        let score = (i * 7 % 11) as i64;
        let topic = if i % 2 == 0 {
            Some("compliance_contact")
        } else {
            None
        };
        let r = post(
            serve.addr,
            "/v1/feedback",
            &json!({"type": "survey", "customer_id": c, "survey": "nps",
            "score": score, "topic": topic, "time": "2025-12-01T10:00:00Z"}),
        );
        assert_eq!(r.status, 202, "{}", r.body);
        nps.entry(c.clone()).or_default().push(score);
        if topic.is_some() {
            compliance.entry(c.clone()).or_default().push(score);
        }
        if i % 3 == 0 {
            let s = (i % 5 + 1) as i64;
            let r = post(
                serve.addr,
                "/v1/feedback/webhook",
                &json!({"event_type": "survey_response.created",
                "event_data": {"survey_type": "csat", "score": s, "created_at": 1764583200,
                               "person_properties": {"customer_id": c}}}),
            );
            assert_eq!(r.status, 202, "{}", r.body);
            csat.entry(c.clone()).or_default().push(s);
            posted += 1;
        }
        if i % 2 == 1 {
            let o = outcomes[i % outcomes.len()];
            let r = post(
                serve.addr,
                "/v1/feedback",
                &json!({"type": "disposition", "customer_id": c,
                "alert_id": format!("A-{i}"), "outcome": o, "time": "2025-11-15T09:00:00Z"}),
            );
            assert_eq!(r.status, 202, "{}", r.body);
            dispositions.entry(c.clone()).or_default().push(o);
            posted += 1;
        }
        // After the run's as_of: stored, not counted.
        let r = post(
            serve.addr,
            "/v1/feedback",
            &json!({"type": "survey", "customer_id": c, "survey": "nps",
            "score": 0, "time": "2026-01-02T00:00:00Z"}),
        );
        assert_eq!(r.status, 202, "{}", r.body);
        posted += 2;
    }
    wait_until(
        || get(serve.addr, "/healthz").json()["feedback_waiting"] == 0,
        "feedback committed",
    );
    assert_eq!(table_rows(lake.path(), "feedback").len(), posted);

    // Score continuously while the next run publishes.
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let seen = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let body = json!({"features": features_of(&features[0], &inputs)}).to_string();
    let scorer = {
        let (stop, failures, seen, addr) =
            (stop.clone(), failures.clone(), seen.clone(), serve.addr);
        std::thread::spawn(move || {
            let mut c = Connection::open(addr).unwrap();
            while !stop.load(Ordering::Relaxed) {
                match c.send("POST", "/v1/score", Some(TOKEN), Some(&body)) {
                    Ok(r) if r.status == 200 => {
                        seen.lock()
                            .unwrap()
                            .insert(r.json()["run_id"].as_str().unwrap().to_string());
                    }
                    _ => {
                        failures.fetch_add(1, Ordering::Relaxed);
                        c = Connection::open(addr).unwrap();
                    }
                }
            }
        })
    };
    wait_until(|| !seen.lock().unwrap().is_empty(), "first scores");
    run_demo_job(lake.path());
    let second_run = latest_run_id(lake.path());
    assert_ne!(second_run, first_run);
    wait_until(
        || get(serve.addr, "/healthz").json()["run_id"] == second_run.as_str(),
        "new run loaded",
    );
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    scorer.join().unwrap();
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "requests failed during the reload"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        BTreeSet::from([first_run.clone(), second_run.clone()])
    );
    assert_eq!(serve.terminate(), Some(0), "{}", serve.log_text());

    // A pinned run keeps scoring although a newer one is published.
    let pinned = Serve::start(
        lake.path(),
        &wal.path().join("wal-pinned"),
        &["--run", &first_run],
    );
    let r = post(
        pinned.addr,
        "/v1/score",
        &json!({"features": features_of(&features[0], &inputs)}),
    );
    assert_eq!(r.json()["run_id"], first_run.as_str(), "{}", r.body);
    drop(pinned);

    // The second run read the feedback table at a recorded version...
    let run = runs_rows(lake.path())
        .into_iter()
        .find(|r| r["run_id"] == second_run.as_str())
        .unwrap();
    let input = run["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "feedback")
        .unwrap()
        .clone();
    assert!(input["delta_version"].as_i64().is_some(), "{input}");

    // ...and its profiles carry per-segment feedback, as computed here from
    // its own segments.
    let segment_of: HashMap<String, i64> = table_rows(lake.path(), "segments")
        .into_iter()
        .map(|r| {
            (
                r["customer_id"].as_str().unwrap().to_string(),
                r["segment_id"].as_i64().unwrap(),
            )
        })
        .collect();
    let profiles = table_rows(lake.path(), "segment_profiles");
    let gather = |m: &BTreeMap<String, Vec<i64>>, s: i64| -> Vec<i64> {
        m.iter()
            .filter(|(c, _)| segment_of[*c] == s)
            .flat_map(|(_, v)| v.clone())
            .collect()
    };
    let mut any_fp = false;
    for p in &profiles {
        let s = p["segment_id"].as_i64().unwrap();
        let what = format!("segment {s}");
        let nps_scores = gather(&nps, s);
        let csat_scores = gather(&csat, s);
        close(&p["nps"], nps_of(&nps_scores), &what);
        close(
            &p["compliance_contact_nps"],
            nps_of(&gather(&compliance, s)),
            &what,
        );
        close(
            &p["csat"],
            (!csat_scores.is_empty())
                .then(|| csat_scores.iter().sum::<i64>() as f64 / csat_scores.len() as f64),
            &what,
        );
        assert_eq!(
            p["survey_responses"].as_u64().unwrap() as usize,
            nps_scores.len() + csat_scores.len(),
            "{what}"
        );
        let d: Vec<&str> = dispositions
            .iter()
            .filter(|(c, _)| segment_of[*c] == s)
            .flat_map(|(_, v)| v.clone())
            .collect();
        assert_eq!(
            p["dispositions"].as_u64().unwrap() as usize,
            d.len(),
            "{what}"
        );
        let fp = d.iter().filter(|o| **o == "false_positive").count();
        any_fp |= fp > 0;
        close(
            &p["disposition_false_positive_rate"],
            (!d.is_empty()).then(|| fp as f64 / d.len() as f64),
            &what,
        );
    }
    assert!(any_fp);

    // The validation section ranks the segments by false positives.
    let metrics = metrics_of(lake.path(), &second_run);
    let validation = &metrics["feedback_validation"];
    let ranked: Vec<i64> = validation["most_false_positives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let rate = |s: i64| {
        profiles[s as usize]["disposition_false_positive_rate"]
            .as_f64()
            .unwrap()
    };
    assert!(!ranked.is_empty());
    assert!(
        ranked.windows(2).all(|w| rate(w[0]) >= rate(w[1])),
        "{validation}"
    );
    assert!(
        validation["least_satisfied_with_compliance_contacts"]
            .as_array()
            .is_some()
    );

    // Dispositions are risk labels (sql/features/risk_labels.sql).
    let with_cases = customers_with_cases(lake.path());
    let new_labels = dispositions
        .keys()
        .filter(|c| !with_cases.contains(*c))
        .count() as u64;
    assert!(new_labels > 0);
    assert_eq!(
        metrics["risk"]["labelled_customers"].as_u64().unwrap(),
        labelled_before + new_labels
    );

    // And the run reproduces from its lineage, feedback version included.
    let out = seglake_ok(&[
        "reproduce",
        &second_run,
        "--lake",
        lake.path().to_str().unwrap(),
    ]);
    assert!(out.contains("identical"), "{out}");
}

fn metrics_of(lake: &Path, run_id: &str) -> Value {
    let run = runs_rows(lake)
        .into_iter()
        .find(|r| r["run_id"] == run_id)
        .unwrap();
    serde_json::from_str(run["metrics"].as_str().unwrap()).unwrap()
}

fn wait_until(mut condition: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Posts feedback from `threads` connections until the server goes away;
/// returns the ids it acknowledged.
fn post_until_killed(
    addr: std::net::SocketAddr,
    threads: usize,
    customers: &[String],
) -> Vec<std::thread::JoinHandle<Vec<String>>> {
    (0..threads)
        .map(|t| {
            let customers = customers.to_vec();
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let Ok(mut c) = Connection::open(addr) else { return acked };
                for i in 0.. {
                    let customer = &customers[(i * 31 + t) % customers.len()];
                    let body = if i % 2 == 0 {
                        json!({"type": "survey", "customer_id": customer, "survey": "nps", "score": i % 11})
                    } else {
                        json!({"type": "disposition", "customer_id": customer, "outcome": "no_action"})
                    };
                    match c.send("POST", "/v1/feedback", Some(TOKEN), Some(&body.to_string())) {
                        Ok(r) if r.status == 202 => {
                            acked.push(r.json()["feedback_id"].as_str().unwrap().to_string());
                        }
                        Ok(r) => panic!("{}: {}", r.status, r.body),
                        Err(_) => return acked,
                    }
                }
                acked
            })
        })
        .collect()
}

#[test]
fn no_acknowledged_feedback_is_lost_or_doubled_when_serve_is_killed_under_load() {
    let lake = generated_lake(200);
    run_demo_job(lake.path());
    let customers: Vec<String> = table_rows(lake.path(), "segments")
        .into_iter()
        .map(|r| r["customer_id"].as_str().unwrap().to_string())
        .collect();
    let wal = tempfile::tempdir().unwrap();
    let wal_dir = wal.path().join("wal");
    let mut acked: Vec<String> = Vec::new();
    // Kills at different points of the write / commit cycle.
    for (trial, millis) in [150u64, 420, 700, 1100, 1500].into_iter().enumerate() {
        let mut serve = Serve::start(lake.path(), &wal_dir, &["--flush-every", "100ms"]);
        let workers = post_until_killed(serve.addr, 4, &customers);
        std::thread::sleep(Duration::from_millis(millis));
        serve.kill9();
        let mut this_trial = 0;
        for w in workers {
            let ids = w.join().unwrap();
            this_trial += ids.len();
            acked.extend(ids);
        }
        assert!(this_trial > 0, "trial {trial}: nothing was acknowledged");
    }
    // A last start replays what the killed process left; a clean stop
    // (SIGTERM) commits what it acknowledged since, long before its flush
    // interval.
    let mut serve = Serve::start(lake.path(), &wal_dir, &["--flush-every", "60m"]);
    for i in 0..20 {
        let r = post(
            serve.addr,
            "/v1/feedback",
            &json!({"type": "survey", "customer_id": customers[i], "survey": "csat", "score": 1 + i % 5}),
        );
        assert_eq!(r.status, 202, "{}", r.body);
        acked.push(r.json()["feedback_id"].as_str().unwrap().to_string());
    }
    assert_eq!(serve.terminate(), Some(0), "{}", serve.log_text());

    let mut counts: HashMap<String, usize> = HashMap::new();
    for row in table_rows(lake.path(), "feedback") {
        *counts
            .entry(row["feedback_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let missing = acked.iter().filter(|id| !counts.contains_key(*id)).count();
    assert_eq!(
        missing,
        0,
        "{missing} of {} acknowledged items are not in the table",
        acked.len()
    );
    let doubled: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "items stored twice: {doubled:?}");
    // After a clean stop only the (empty) segment that was open remains.
    let segments_left: Vec<_> = std::fs::read_dir(&wal_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".jsonl"))
        .filter(|e| e.metadata().unwrap().len() > 0)
        .collect();
    assert!(
        segments_left.is_empty(),
        "log segments left after a clean stop: {segments_left:?}"
    );
}

#[test]
fn serve_refuses_to_start_without_a_token_or_a_published_lake() {
    let empty = tempfile::tempdir().unwrap();
    let lake = empty.path().to_str().unwrap();
    let no_token =
        crate::common::seglake_env(&["serve", "--lake", lake], &[("SEGLAKE_API_TOKEN", "")]);
    assert_eq!(no_token.status.code(), Some(1));
    assert!(crate::common::stderr(&no_token).contains("at least 16 characters"));
    let unset = std::process::Command::new(env!("CARGO_BIN_EXE_seglake"))
        .args(["serve", "--lake", lake])
        .env_remove("SEGLAKE_API_TOKEN")
        .output()
        .unwrap();
    assert_eq!(unset.status.code(), Some(1));
    assert!(crate::common::stderr(&unset).contains("SEGLAKE_API_TOKEN"));
    let no_lake =
        crate::common::seglake_env(&["serve", "--lake", lake], &[("SEGLAKE_API_TOKEN", TOKEN)]);
    assert_eq!(
        no_lake.status.code(),
        Some(1),
        "{}",
        crate::common::stderr(&no_lake)
    );
    assert!(crate::common::stderr(&no_lake).contains("no `runs` table"));
    assert!(
        crate::common::file_tree(empty.path()).is_empty(),
        "something was written"
    );
}
