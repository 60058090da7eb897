//! `seglake audit --customer` lists the customer's monitoring-rule alerts
//! and cases as the run published them: the same ids, rules, SQL hashes,
//! thresholds and evidence as the customer's `alerts` rows, the state,
//! alerts and history of the `cases` row; none for a customer without an
//! alert; and the text report names the rules and the case state.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::common::*;

fn audit_json(lake: &str, customer: &str, run: &str) -> Value {
    let out = seglake_ok(&[
        "audit",
        "--customer",
        customer,
        "--run",
        run,
        "--lake",
        lake,
        "--json",
    ]);
    serde_json::from_str(&out).unwrap()
}

/// The columns an audit must give back as published (times aside: the
/// audit writes them as RFC 3339, the reader in its own way).
const ALERT_COLUMNS: [&str; 14] = [
    "alert_id",
    "rule",
    "rule_sql_sha256",
    "action",
    "severity",
    "segment_id",
    "segment_label",
    "risk_score",
    "risk_band",
    "reason",
    "evidence",
    "thresholds",
    "case_id",
    "run_id",
];

/// Each alert as the JSON text of its compared columns (a null or missing
/// column is `null` on both sides).
fn projected(alerts: &[&Value]) -> BTreeSet<Vec<String>> {
    alerts
        .iter()
        .map(|a| ALERT_COLUMNS.iter().map(|c| a[*c].to_string()).collect())
        .collect()
}

/// The listed case with the id of `published`, checked against it.
fn assert_case_listed(listed: &[Value], published: &Value) {
    let case = listed
        .iter()
        .find(|c| c["case_id"] == published["case_id"])
        .unwrap_or_else(|| panic!("case {} not listed", published["case_id"]));
    assert_eq!(case["state"], published["state"]);
    assert_eq!(case["severity"], published["severity"]);
    let alert_ids: Value = serde_json::from_str(published["alert_ids"].as_str().unwrap()).unwrap();
    assert_eq!(case["alert_ids"], alert_ids);
    let events: Value = serde_json::from_str(published["events"].as_str().unwrap()).unwrap();
    assert_eq!(case["events"], events);
}

#[test]
fn an_audit_lists_the_customers_alerts_and_cases() {
    let lake = generated_lake(1500);
    let l = lake.path();
    let ls = l.to_str().unwrap();
    run_demo_job(l);
    let run = row_text(&runs_rows(l)[0], "run_id");
    let alerts = table_rows(l, "alerts");
    let cases = table_rows(l, "cases");
    let mut by_customer: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for a in &alerts {
        by_customer
            .entry(row_text(a, "customer_id"))
            .or_default()
            .push(a);
    }
    // The customer with the most alerts, so that more than one rule is
    // compared where the demo allows it.
    let (customer, published) = by_customer
        .iter()
        .max_by_key(|(_, a)| a.len())
        .expect("the demo rules raise alerts");

    let audit = audit_json(ls, customer, &run);
    let section = &audit["alerts_and_cases"];
    assert_eq!(section["alerts_version"]["run_id"], run.as_str(), "{audit}");
    assert_eq!(section["cases_version"]["run_id"], run.as_str(), "{audit}");
    let listed: Vec<&Value> = section["alerts"].as_array().unwrap().iter().collect();
    assert_eq!(listed.len(), published.len(), "{audit}");
    assert_eq!(projected(&listed), projected(published));

    let published_cases: Vec<&Value> = cases
        .iter()
        .filter(|c| row_text(c, "customer_id") == *customer)
        .collect();
    assert!(!published_cases.is_empty(), "an alert is in a case");
    let listed_cases = section["cases"].as_array().unwrap();
    assert_eq!(listed_cases.len(), published_cases.len(), "{audit}");
    for case in &published_cases {
        assert_case_listed(listed_cases, case);
    }

    let report = seglake_ok(&["audit", "--customer", customer, "--run", &run, "--lake", ls]);
    assert!(report.contains("alerts and cases"), "{report}");
    for a in published {
        let line = format!(
            "alert {}  severity {}",
            row_text(a, "rule"),
            row_text(a, "severity")
        );
        assert!(report.contains(&line), "`{line}` in:\n{report}");
        assert!(report.contains(&row_text(a, "thresholds")), "{report}");
    }
    for case in &published_cases {
        let line = format!(
            "case {}  {}",
            row_text(case, "case_id"),
            row_text(case, "state")
        );
        assert!(report.contains(&line), "`{line}` in:\n{report}");
    }

    let quiet = table_rows(l, "segments")
        .iter()
        .map(|r| row_text(r, "customer_id"))
        .find(|id| !by_customer.contains_key(id))
        .expect("a customer without an alert");
    let audit = audit_json(ls, &quiet, &run);
    assert_eq!(audit["alerts_and_cases"]["alerts"], json!([]), "{audit}");
    assert_eq!(audit["alerts_and_cases"]["cases"], json!([]), "{audit}");
    let report = seglake_ok(&["audit", "--customer", &quiet, "--run", &run, "--lake", ls]);
    assert!(report.contains("no alert on the customer"), "{report}");
}
