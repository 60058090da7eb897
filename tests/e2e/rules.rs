//! Monitoring rules in the demo job: alerts and cases published with the
//! run, alert ids stable across a repeated run, suppression within a
//! rule's `suppress_for` at a later point in time, every alert in one case
//! of its customer, an independent reader (Python `deltalake`) seeing both
//! tables' versions with the run ids, and bad rules refused by name with
//! nothing written.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::*;

fn rules_metrics(lake: &std::path::Path) -> Vec<serde_json::Value> {
    let mut runs: Vec<serde_json::Value> = runs_rows(lake)
        .into_iter()
        .filter(|r| r["status"] == "succeeded")
        .collect();
    runs.sort_by_key(|r| r["started_at"].as_str().unwrap_or_default().to_string());
    runs.iter()
        .map(|r| {
            let m: serde_json::Value =
                serde_json::from_str(r["metrics"].as_str().unwrap()).unwrap();
            m["rules"].clone()
        })
        .collect()
}

#[test]
fn alerts_and_cases_are_published_stable_and_suppressed() {
    let lake = generated_lake(1500);
    let out = run_demo_job(lake.path());
    assert!(out.contains("alerts: "), "{out}");
    let alerts = table_rows(lake.path(), "alerts");
    assert!(!alerts.is_empty(), "the demo rules raise alerts");
    let metrics = rules_metrics(lake.path());
    assert_eq!(
        metrics[0]["alerts"].as_u64().unwrap() as usize,
        alerts.len()
    );
    for rule in metrics[0]["rules"].as_array().unwrap() {
        let name = rule["rule"].as_str().unwrap();
        let published = alerts.iter().filter(|a| a["rule"] == name).count();
        assert_eq!(
            rule["alerts"].as_u64().unwrap() as usize,
            published,
            "{name}"
        );
        assert_eq!(
            rule["hits"], rule["alerts"],
            "{name}: a first run suppresses nothing"
        );
    }
    // Every alert is in exactly one case of its own customer, and every
    // case's alerts are alerts.
    let cases = table_rows(lake.path(), "cases");
    let mut case_of: BTreeMap<String, String> = BTreeMap::new();
    for case in &cases {
        let ids: Vec<String> = serde_json::from_str(case["alert_ids"].as_str().unwrap()).unwrap();
        for id in ids {
            assert!(
                case_of.insert(id, row_text(case, "case_id")).is_none(),
                "alert in two cases"
            );
        }
        let events: Vec<serde_json::Value> =
            serde_json::from_str(case["events"].as_str().unwrap()).unwrap();
        assert_eq!(events[0]["from"], serde_json::Value::Null);
        assert_eq!(events.last().unwrap()["to"], case["state"]);
    }
    let customer_of_case: BTreeMap<String, String> = cases
        .iter()
        .map(|c| (row_text(c, "case_id"), row_text(c, "customer_id")))
        .collect();
    for a in &alerts {
        let case = &case_of[&row_text(a, "alert_id")];
        assert_eq!(&row_text(a, "case_id"), case);
        assert_eq!(customer_of_case[case], row_text(a, "customer_id"));
        // The segment's thresholds and the rule's SQL hash travel with it.
        let thresholds: serde_json::Value =
            serde_json::from_str(a["thresholds"].as_str().unwrap()).unwrap();
        assert!(
            thresholds.get("structuring_min_count").is_some(),
            "{thresholds}"
        );
        assert_eq!(row_text(a, "rule_sql_sha256").len(), 64);
    }
    let first_ids: BTreeSet<String> = alerts.iter().map(|a| row_text(a, "alert_id")).collect();
    assert_eq!(first_ids.len(), alerts.len(), "alert ids are unique");

    // The same run again (same as_of): the same alert ids, none raised twice.
    run_demo_job(lake.path());
    let metrics = rules_metrics(lake.path());
    assert_eq!(metrics[1]["alerts"], 0, "{}", metrics[1]);
    for rule in metrics[1]["rules"].as_array().unwrap() {
        assert_eq!(rule["already_raised"], rule["hits"], "{rule}");
    }
    assert_eq!(table_rows(lake.path(), "alerts").len(), alerts.len());
    assert_eq!(table_rows(lake.path(), "cases").len(), cases.len());

    // Two weeks later: within every rule's suppress_for (30 days or more),
    // so no (rule, customer) is alerted twice.
    let later = JobVariant::new(
        "rules-later",
        "as_of = \"2026-01-01T00:00:00Z\"",
        "as_of = \"2026-01-15T00:00:00Z\"",
    );
    let out = later.run(lake.path(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let metrics = rules_metrics(lake.path());
    let suppressed: u64 = metrics[2]["suppressed"].as_u64().unwrap();
    assert!(suppressed > 0, "{}", metrics[2]);
    let all = table_rows(lake.path(), "alerts");
    let pairs: BTreeSet<(String, String)> = all
        .iter()
        .map(|a| (row_text(a, "rule"), row_text(a, "customer_id")))
        .collect();
    assert_eq!(
        pairs.len(),
        all.len(),
        "a (rule, customer) alerted twice within suppress_for"
    );
    // New alerts of a customer with an open case join that case.
    let cases = table_rows(lake.path(), "cases");
    let open: Vec<&serde_json::Value> = cases
        .iter()
        .filter(|c| !row_text(c, "state").starts_with("closed"))
        .collect();
    let customers: BTreeSet<String> = open.iter().map(|c| row_text(c, "customer_id")).collect();
    assert_eq!(customers.len(), open.len(), "one open case per customer");

    // Another reader sees every version of both tables with the run ids.
    let runs: Vec<String> = runs_rows(lake.path())
        .iter()
        .map(|r| row_text(r, "run_id"))
        .collect();
    for table in ["alerts", "cases"] {
        let read = python_json("read_delta.py", &[lake.path().join(table).as_os_str()]);
        assert_eq!(read["latest"], 2, "{table}: {read}");
        let history = read["history"].as_array().unwrap();
        for h in history {
            assert!(
                runs.contains(&h["run_id"].as_str().unwrap().to_string()),
                "{h}"
            );
        }
    }
}

#[test]
fn bad_rules_are_refused_by_name_and_nothing_is_written() {
    let lake = generated_lake(300);
    assert_demo_variant_fails(
        lake.path(),
        "rule-action",
        "action = \"escalate\"",
        "action = \"shout\"",
        "`shout` is not an action",
    );
    assert_demo_variant_fails(
        lake.path(),
        "rule-duration",
        "suppress_for = \"30d\"",
        "suppress_for = \"30 days\"",
        "suppress_for",
    );
    assert_demo_variant_fails(
        lake.path(),
        "rule-threshold",
        "structuring_min_count = 5",
        "structuring_min_cnt = 5",
        "`structuring_min_cnt` has no one-size value",
    );
    assert_demo_variant_fails(
        lake.path(),
        "rule-segment",
        "profile = \"cash_share > 0.4\"",
        "segment = 99",
        "this run has no segment 99",
    );
    assert_demo_variant_fails(
        lake.path(),
        "rule-profile",
        "profile = \"cash_share > 0.4\"",
        "profile = \"cash_shar > 0.4\"",
        "rules.segment_thresholds[1]",
    );
    assert_demo_variant_fails(
        lake.path(),
        "rule-file",
        "name = \"structuring\"",
        "name = \"structurin\"",
        "structurin",
    );
}

/// A rule file written into `sql/rules/` for one test, removed when dropped.
struct RuleFile(std::path::PathBuf, String);

impl RuleFile {
    fn new(tag: &str, sql: &str) -> RuleFile {
        let name = format!("zz_{tag}_{}", std::process::id());
        let path = repo_root().join("sql/rules").join(format!("{name}.sql"));
        std::fs::write(&path, sql).unwrap();
        RuleFile(path, name)
    }
}

impl Drop for RuleFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn bad_rule_sql_is_refused_naming_the_file() {
    let lake = generated_lake(300);
    for (tag, sql, message) in [
        ("notselect", "DELETE FROM customers", "only a single SELECT"),
        (
            "nokey",
            "SELECT 'x' AS reason FROM customers",
            "returns no `customer_id` column",
        ),
        (
            "noreason",
            "SELECT customer_id FROM customers",
            "returns no `reason` column",
        ),
        (
            "duplicates",
            "SELECT customer_id, 'x' AS reason FROM transactions",
            "more than once",
        ),
        (
            "column",
            "SELECT customer_id, nope AS reason FROM customers",
            "nope",
        ),
        (
            "table",
            "SELECT customer_id, 'x' AS reason FROM nowhere",
            "nowhere",
        ),
    ] {
        let file = RuleFile::new(tag, sql);
        assert_demo_variant_fails(
            lake.path(),
            &format!("rule-sql-{tag}"),
            "name = \"structuring\"",
            &format!("name = \"{}\"", file.1),
            message,
        );
        let out = seglake_env(
            &[
                "validate",
                JobVariant::new(
                    &format!("validate-{tag}"),
                    "name = \"structuring\"",
                    &format!("name = \"{}\"", file.1),
                )
                .0
                .to_str()
                .unwrap(),
                "--var",
                &format!("lake={}", lake.path().display()),
            ],
            &[],
        );
        // Duplicates show only in the rows: validate plans, it does not run.
        if tag != "duplicates" {
            assert_eq!(
                out.status.code(),
                Some(1),
                "validate {tag}: {}",
                stderr(&out)
            );
            assert!(
                stderr(&out).contains(&file.1),
                "validate {tag}: {}",
                stderr(&out)
            );
        }
    }
}

/// Dispositions through `serve` close cases at the next run; an illegal
/// move is refused with a 400 naming both states; the case's events say
/// who decided what, when.
#[test]
fn dispositions_close_cases_and_illegal_moves_are_refused() {
    use crate::http::{Serve, post};
    use serde_json::json;
    let lake = generated_lake(1500);
    run_demo_job(lake.path());
    let cases = table_rows(lake.path(), "cases");
    let (first, second) = (&cases[0], &cases[1]);
    let wal = tempfile::tempdir().unwrap();
    let serve = Serve::start(
        lake.path(),
        &wal.path().join("wal"),
        &["--flush-every", "200ms"],
    );
    let case_id = row_text(first, "case_id");
    let customer = row_text(first, "customer_id");
    let disposition = |case: &str, customer: &str, outcome: &str| {
        post(
            serve.addr,
            "/v1/feedback",
            &json!({"type": "disposition", "customer_id": customer, "case_id": case,
                    "outcome": outcome, "time": "2025-12-20T10:00:00Z"}),
        )
    };
    let r = disposition(&case_id, &customer, "sar_filed");
    assert_eq!(r.status, 202, "{}", r.body);
    // Closed now: a second decision is an illegal move.
    let r = disposition(&case_id, &customer, "false_positive");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("closed_sar") && r.body.contains("closed_false_positive"),
        "{}",
        r.body
    );
    // Another customer's case, and a case that does not exist.
    let r = disposition(&row_text(second, "case_id"), &customer, "no_action");
    assert_eq!(r.status, 400, "{}", r.body);
    let r = disposition("nope", &customer, "no_action");
    assert_eq!(r.status, 400, "{}", r.body);
    // The second case decided by one of its alerts.
    let alerts: Vec<String> = serde_json::from_str(second["alert_ids"].as_str().unwrap()).unwrap();
    let r = post(
        serve.addr,
        "/v1/feedback",
        &json!({"type": "disposition", "customer_id": row_text(second, "customer_id"),
                "alert_id": alerts[0], "outcome": "false_positive", "time": "2025-12-21T10:00:00Z"}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    drop(serve); // SIGKILL: the log holds what was acknowledged
    let serve = Serve::start(
        lake.path(),
        &wal.path().join("wal"),
        &["--flush-every", "200ms"],
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while table_rows(lake.path(), "feedback").len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "feedback not committed"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    drop(serve);

    run_demo_job(lake.path());
    let after = table_rows(lake.path(), "cases");
    let state_of = |id: &str| {
        after
            .iter()
            .find(|c| row_text(c, "case_id") == id)
            .map(|c| {
                (
                    row_text(c, "state"),
                    c["events"].as_str().unwrap().to_string(),
                )
            })
            .unwrap()
    };
    let (state, events) = state_of(&case_id);
    assert_eq!(state, "closed_sar");
    let events: Vec<serde_json::Value> = serde_json::from_str(&events).unwrap();
    let last = events.last().unwrap();
    assert_eq!(last["to"], "closed_sar");
    assert_eq!(last["why"], "sar_filed");
    assert!(
        last["by"].as_str().unwrap().starts_with("analyst"),
        "{last}"
    );
    assert!(
        last["at"].as_str().unwrap().starts_with("2025-12-20"),
        "{last}"
    );
    assert_eq!(
        state_of(&row_text(second, "case_id")).0,
        "closed_false_positive"
    );
    let metrics = rules_metrics(lake.path());
    assert_eq!(
        metrics[1]["cases"]["dispositions_applied"], 2,
        "{}",
        metrics[1]
    );
    // Time travel: the first version still shows the cases open.
    let before = python_json("read_delta.py", &[lake.path().join("cases").as_os_str()]);
    assert_eq!(before["latest"], 1, "{before}");
}
