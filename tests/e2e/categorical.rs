//! Categorical features end to end: the demo job with two of its text
//! columns declared (`[features] categorical`) on a small generated bank.
//! The preparation and the risk model store the levels, reasons name a
//! customer's category, `seglake serve` scores text (and a value never
//! seen in training), a column over the cardinality limit or not text
//! stops the run with nothing written, and a second run publishes the
//! same segments.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::common::*;
use crate::http::{Serve, post};
use crate::serve::raw_rows;

/// The line of the demo job the `[features]` additions follow.
const MATERIALIZE: &str =
    r#"materialize = ["windowed_transactions", "sessions", "screening_features"]"#;

const DECLARED: [&str; 2] = ["kyc_risk_rating", "customer_type"];

fn with_features(extra: &str) -> String {
    format!("{MATERIALIZE}\n{extra}")
}

/// The demo job with `kyc_risk_rating` and `customer_type` categorical.
/// Its risk model reads them beside one numeric feature, with LightGBM's
/// smallest category groups lowered to fit a small bank: among the demo's
/// forty numeric features they are rarely among a customer's top three
/// reasons, and the point here is how such a reason reads.
pub(crate) fn categorical_job() -> JobVariant {
    let job = JobVariant::new(
        "categorical",
        MATERIALIZE,
        &with_features(r#"categorical = ["kyc_risk_rating", "customer_type"]"#),
    );
    let text = std::fs::read_to_string(&job.0).unwrap();
    let risk = "per_segment = true";
    assert!(text.contains(risk));
    let risk_inputs = r#"features = ["kyc_risk_rating", "customer_type", "tenure_days"]
min_data_per_group = 5
min_data_in_leaf = 5"#;
    std::fs::write(
        &job.0,
        text.replacen(risk, &format!("{risk}\n{risk_inputs}"), 1),
    )
    .unwrap();
    job
}

fn model_row(lake: &std::path::Path, kind: &str) -> Value {
    let models = table_rows(lake, "models");
    models.into_iter().find(|m| m["kind"] == kind).unwrap()
}

/// Every customer's `segments` row but what differs per run by design
/// (the run id, the `models` version), by key.
fn segments_by_key(lake: &std::path::Path) -> Vec<Value> {
    let mut rows = table_rows(lake, "segments");
    for row in &mut rows {
        let row = row.as_object_mut().unwrap();
        row.remove("run_id");
        row.remove("model_version");
    }
    rows.sort_by(|a, b| a["customer_id"].as_str().cmp(&b["customer_id"].as_str()));
    rows
}

#[test]
fn categorical_features_reach_both_models_reasons_and_serve() {
    // About 200 decided cases: enough for the booster to split on the
    // categories.
    let lake = generated_lake(4000);
    let job = categorical_job();
    let out = job.run(lake.path(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The text column left out is named, with how to use it.
    assert!(
        stderr(&out).contains("text columns not used by the models: residence_country"),
        "{}",
        stderr(&out)
    );

    // The segmentation's preparation holds the levels of both columns.
    let segments_model = model_row(lake.path(), "segments");
    let preparation: Value =
        serde_json::from_str(segments_model["preparation"].as_str().unwrap()).unwrap();
    let stored = preparation["categorical"].as_array().unwrap();
    let names: Vec<&str> = stored.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, DECLARED);
    let kyc_levels: Vec<Value> = stored[0]["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["value"].clone())
        .collect();
    for rating in ["low", "medium", "high"] {
        assert!(kyc_levels.contains(&json!(rating)), "{kyc_levels:?}");
    }
    // About 1% of the generated ratings are NULL: a level of its own.
    assert!(kyc_levels.contains(&Value::Null), "{kyc_levels:?}");
    assert_eq!(stored[0]["encoding"], "one_hot");

    // The risk model reads them as category codes of the same levels.
    let risk_model: Value =
        serde_json::from_str(model_row(lake.path(), "risk")["model"].as_str().unwrap()).unwrap();
    let codes = risk_model["categorical"].as_array().unwrap();
    assert_eq!(codes[0]["feature"], "kyc_risk_rating");
    assert_eq!(codes[0]["levels"].as_array().unwrap(), &kyc_levels);

    // Reasons name the customer's category, with no value; some moved
    // the score.
    let published = table_rows(lake.path(), "segments");
    let named: Vec<Value> = published
        .iter()
        .flat_map(|r| r["reasons"].as_array().unwrap().clone())
        .filter(|r| {
            let feature = r["feature"].as_str().unwrap();
            DECLARED
                .iter()
                .any(|d| feature.starts_with(&format!("{d} = ")))
        })
        .collect();
    assert!(
        named
            .iter()
            .any(|r| r["contribution"].as_f64().unwrap() != 0.0),
        "no reason names a category: {:?}",
        &published[0]["reasons"]
    );
    assert!(named.iter().all(|r| r["value"].is_null()), "{named:?}");
    let high = json!("kyc_risk_rating = high");
    assert!(named.iter().any(|r| r["feature"] == high), "{named:?}");

    // Profiles give each segment's most frequent level.
    let profiles = table_rows(lake.path(), "segment_profiles");
    for p in &profiles {
        let share = p["top_share_kyc_risk_rating"].as_f64().unwrap();
        assert!(share > 0.0 && share <= 1.0, "{p}");
        assert!(p["top_customer_type"].is_string(), "{p}");
    }

    served_scores_read_text(lake.path(), &published);
}

/// `seglake serve` scores a customer posted with text categories as the
/// run published it, scores an unseen category, and refuses a number for
/// a category (and text for a number) naming the feature.
fn served_scores_read_text(lake: &std::path::Path, published: &[Value]) {
    let features: Vec<Value> = table_rows(lake, "customer_features");
    let by_key: HashMap<&str, &Value> = published
        .iter()
        .map(|r| (r["customer_id"].as_str().unwrap(), r))
        .collect();
    let inputs: Vec<String> = model_row(lake, "segments")["features"]
        .as_array()
        .unwrap()
        .iter()
        .chain(model_row(lake, "risk")["features"].as_array().unwrap())
        .map(|f| f.as_str().unwrap().to_string())
        .filter(|f| f != "segment_id")
        .collect();
    let one = &features[3];
    let id = one["customer_id"].as_str().unwrap();
    let mut given: serde_json::Map<String, Value> =
        inputs.iter().map(|n| (n.clone(), one[n].clone())).collect();
    assert!(given["customer_type"].is_string(), "{given:?}");

    let wal = tempfile::tempdir().unwrap();
    let serve = Serve::start(lake, &wal.path().join("wal"), &[]);
    let r = post(
        serve.addr,
        "/v1/score",
        &json!({"customer_id": id, "features": given}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let served = r.json();
    assert_eq!(served["segment_id"], by_key[id]["segment_id"]);
    assert_eq!(
        served["risk_score"].as_f64().map(f64::to_bits),
        by_key[id]["risk_score"].as_f64().map(f64::to_bits)
    );

    // From the customer's raw rows, through the run's feature SQL: the
    // categories come out of the SQL as text.
    let raw: serde_json::Map<String, Value> =
        ["customers", "transactions", "events", "case_outcomes"]
            .into_iter()
            .map(|s| (s.to_string(), Value::Array(raw_rows(lake, s, id))))
            .collect();
    let r = post(
        serve.addr,
        "/v1/score",
        &json!({"customer_id": id, "raw": raw, "as_of": "2026-01-01T00:00:00Z"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["risk_score"].as_f64().map(f64::to_bits),
        by_key[id]["risk_score"].as_f64().map(f64::to_bits)
    );

    given.insert("kyc_risk_rating".into(), json!("never seen before"));
    let r = post(serve.addr, "/v1/score", &json!({"features": given}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["risk_score"].as_f64().is_some(), "{}", r.body);

    given.insert("kyc_risk_rating".into(), json!(3));
    let r = post(serve.addr, "/v1/score", &json!({"features": given}));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["field"], "features.kyc_risk_rating", "{}", r.body);
    let said = r.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(
        said.contains("must be text or null, got a number"),
        "{said}"
    );

    given.insert("kyc_risk_rating".into(), json!("high"));
    given.insert("txn_count".into(), json!("many"));
    let r = post(serve.addr, "/v1/score", &json!({"features": given}));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["field"], "features.txn_count", "{}", r.body);
}

#[test]
fn a_second_run_publishes_the_same_segments() {
    let lake = generated_lake(300);
    let job = categorical_job();
    let first = job.run(lake.path(), &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let before = segments_by_key(lake.path());
    let second = job.run(lake.path(), &[]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(before, segments_by_key(lake.path()));
}

#[test]
fn bad_categorical_columns_stop_the_run_naming_them() {
    let lake = generated_lake(200);
    let cases = [
        (
            "over-limit",
            "categorical = [\"residence_country\"]\nmax_categories = 2",
            "categorical column `residence_country` has",
        ),
        (
            "numeric",
            "categorical = [\"tenure_days\"]",
            "column `tenure_days` is Int64, not text; text columns: customer_type, residence_country, kyc_risk_rating",
        ),
        (
            "unknown",
            "categorical = [\"sector\"]",
            "no column `sector`; text columns: customer_type",
        ),
    ];
    for (tag, extra, message) in cases {
        assert_demo_variant_fails(
            lake.path(),
            tag,
            MATERIALIZE,
            &with_features(extra),
            message,
        );
    }
    // The limit and the count are both named.
    let job = JobVariant::new(
        "over-limit-message",
        MATERIALIZE,
        &with_features("categorical = [\"residence_country\"]\nmax_categories = 2"),
    );
    let said = stderr(&job.run(lake.path(), &[]));
    assert!(
        said.contains("distinct values, more than features.max_categories = 2"),
        "{said}"
    );
}
