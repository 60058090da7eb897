//! The shipped feature views over a bank small enough to compute by hand.
//! Every expected number below is worked out in the comments beside it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Float64Array, StringArray, TimestampMicrosecondArray};

use crate::common::*;

fn strs(v: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

fn ts(v: &[&str]) -> ArrayRef {
    Arc::new(
        TimestampMicrosecondArray::from(v.iter().map(|s| micros(s)).collect::<Vec<_>>())
            .with_timezone("UTC"),
    )
}

/// Counterparty names: F2 (before the window) and Q1 are listed entity 2,
/// "Acme Ltd" (ACME LIMITED normalises to "acme", as does Acme Ltd).
fn counterparty_name(id: &str) -> &'static str {
    match id {
        "F2" | "Q1" => "ACME LIMITED",
        "E1" => "Rhein Motors GmbH",
        "M1" => "Baltic Foods Ltd",
        "F1" => "Ali Rezaei",
        "F3" => "Lars Jansen",
        "P1" => "Anna Kowalski",
        _ => "Marco Rossi",
    }
}

/// The hand-built sanctions list (internal format): one individual, one
/// entity.
const HANDBUILT_LIST: &str = "entry_id,name,entry_type,programme\n\
                              1,\"BOUT, Viktor\",individual,SDGT\n\
                              2,Acme Ltd,entity,TEST\n";

/// Writes the hand-built bank into `raw` and returns a job over it that runs
/// the shipped SQL views.
pub fn handbuilt_bank(dir: &Path) -> std::path::PathBuf {
    use seglake_datagen::schemas;
    let raw = dir.join("raw");
    fn s(v: &str) -> Option<&str> {
        Some(v)
    }
    write_parquet(
        &raw.join("customers/part-0.parquet"),
        schemas::customers(),
        vec![
            strs(&[s("C1"), s("C2"), s("C3"), s("C4")]),
            Arc::new(Date32Array::from(vec![
                day("2020-01-01"),
                day("2025-03-01"),
                day("2025-11-01"),
                day("2026-02-01"),
            ])),
            strs(&[s("DE"), s("NG"), s("DE"), s("DE")]),
            strs(&[s("retail"), s("business"), s("retail"), s("retail")]),
            strs(&[s("engineer"), None, s("student"), s("teacher")]),
            strs(&[s("low"), s("high"), None, s("low")]),
            // C2 is "BOUT, Viktor" of the hand-built list, in Cyrillic; C4
            // is listed entity 2 (screened, though onboarded after as_of).
            strs(&[
                s("Anna Muller"),
                s("Виктор Бут"),
                s("Jan Novak"),
                s("Acme Ltd"),
            ]),
        ],
    );
    // C1: t1..t4 in the window, t2 replayed once, t5 before it, t6 after as_of.
    // C2: two payments in from different payers, one crypto transfer out to NG.
    let rows: Vec<(
        &str,
        &str,
        &str,
        f64,
        &str,
        &str,
        Option<&str>,
        Option<&str>,
        Option<&str>,
    )> = vec![
        (
            "t1",
            "C1",
            "2025-06-01 10:00:00",
            1000.0,
            "in",
            "ach",
            None,
            Some("E1"),
            Some("DE"),
        ),
        (
            "t2",
            "C1",
            "2025-12-20 12:00:00",
            9500.0,
            "in",
            "cash",
            None,
            None,
            None,
        ),
        (
            "t2",
            "C1",
            "2025-12-20 12:00:00",
            9500.0,
            "in",
            "cash",
            None,
            None,
            None,
        ),
        (
            "t3",
            "C1",
            "2025-12-25 08:00:00",
            200.0,
            "out",
            "card",
            Some("grocery"),
            Some("M1"),
            Some("DE"),
        ),
        (
            "t4",
            "C1",
            "2025-07-01 09:00:00",
            500.0,
            "out",
            "wire",
            None,
            Some("F1"),
            Some("IR"),
        ),
        (
            "t5",
            "C1",
            "2024-06-01 09:00:00",
            7777.0,
            "in",
            "wire",
            None,
            Some("F2"),
            Some("DE"),
        ),
        (
            "t6",
            "C1",
            "2026-01-02 09:00:00",
            8888.0,
            "in",
            "wire",
            None,
            Some("F3"),
            Some("DE"),
        ),
        (
            "u1",
            "C2",
            "2025-05-01 10:00:00",
            300.0,
            "in",
            "wire",
            None,
            Some("P1"),
            Some("DE"),
        ),
        (
            "u2",
            "C2",
            "2025-05-02 10:00:00",
            300.0,
            "in",
            "wire",
            None,
            Some("P2"),
            Some("DE"),
        ),
        (
            "u3",
            "C2",
            "2025-05-03 10:00:00",
            590.0,
            "out",
            "crypto_exchange",
            None,
            Some("Q1"),
            Some("NG"),
        ),
    ];
    write_parquet(
        &raw.join("transactions/part-0.parquet"),
        schemas::transactions(),
        vec![
            strs(&rows.iter().map(|r| Some(r.0)).collect::<Vec<_>>()),
            strs(&rows.iter().map(|r| Some(r.1)).collect::<Vec<_>>()),
            ts(&rows.iter().map(|r| r.2).collect::<Vec<_>>()),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )),
            strs(&rows.iter().map(|_| Some("EUR")).collect::<Vec<_>>()),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )),
            strs(&rows.iter().map(|r| Some(r.4)).collect::<Vec<_>>()),
            strs(&rows.iter().map(|r| Some(r.5)).collect::<Vec<_>>()),
            strs(&rows.iter().map(|r| r.6).collect::<Vec<_>>()),
            strs(&rows.iter().map(|r| r.7).collect::<Vec<_>>()),
            strs(&rows.iter().map(|r| r.8).collect::<Vec<_>>()),
            strs(
                &rows
                    .iter()
                    .map(|r| r.7.map(counterparty_name))
                    .collect::<Vec<_>>(),
            ),
        ],
    );
    // C1: session S1 (2 events, 40 s, device D1 at home), S2 (3 events,
    // 40 s, new device D2 from Nigeria, password reset and new beneficiary,
    // in the last 30 days), S0 before the window. C2: one session, one
    // event without a duration, at home in Nigeria.
    let ev: Vec<(&str, &str, &str, &str, Option<&str>, &str, Option<f64>)> = vec![
        (
            "C1",
            "2025-03-01 10:00:00",
            "login",
            "D1",
            Some("DE"),
            "S1",
            Some(10.0),
        ),
        (
            "C1",
            "2025-03-01 10:01:00",
            "page_view",
            "D1",
            Some("DE"),
            "S1",
            Some(30.0),
        ),
        (
            "C1",
            "2025-12-28 09:00:00",
            "login",
            "D2",
            Some("NG"),
            "S2",
            Some(5.0),
        ),
        (
            "C1",
            "2025-12-28 09:01:00",
            "password_reset",
            "D2",
            Some("NG"),
            "S2",
            Some(20.0),
        ),
        (
            "C1",
            "2025-12-28 09:02:00",
            "beneficiary_added",
            "D2",
            Some("NG"),
            "S2",
            Some(15.0),
        ),
        (
            "C1",
            "2024-01-01 09:00:00",
            "login",
            "D0",
            Some("DE"),
            "S0",
            Some(10.0),
        ),
        (
            "C2",
            "2025-05-01 10:00:00",
            "login",
            "D9",
            Some("NG"),
            "T1",
            None,
        ),
        (
            "C2",
            "2025-05-01 10:00:30",
            "api_call",
            "D9",
            Some("NG"),
            "T1",
            Some(12.0),
        ),
    ];
    write_parquet(
        &raw.join("events/part-0.parquet"),
        schemas::events(),
        vec![
            strs(&ev.iter().map(|r| Some(r.0)).collect::<Vec<_>>()),
            ts(&ev.iter().map(|r| r.1).collect::<Vec<_>>()),
            strs(&ev.iter().map(|r| Some(r.2)).collect::<Vec<_>>()),
            strs(&ev.iter().map(|r| Some(r.3)).collect::<Vec<_>>()),
            strs(&ev.iter().map(|r| r.4).collect::<Vec<_>>()),
            strs(&ev.iter().map(|r| Some(r.5)).collect::<Vec<_>>()),
            Arc::new(Float64Array::from(
                ev.iter().map(|r| r.6).collect::<Vec<_>>(),
            )),
        ],
    );
    write_parquet(
        &raw.join("case_outcomes/part-0.parquet"),
        schemas::case_outcomes(),
        vec![
            strs(&[s("K1")]),
            strs(&[s("C2")]),
            Arc::new(Date32Array::from(vec![day("2025-06-01")])),
            strs(&[s("sar_filed")]),
            ts(&["2025-07-01 00:00:00"]),
        ],
    );
    std::fs::write(raw.join("own_list.csv"), HANDBUILT_LIST).unwrap();
    let job = dir.join("handbuilt.toml");
    let root = repo_root();
    std::fs::write(
        &job,
        format!(
            r#"
[job]
name = "handbuilt"
seed = 1
as_of = "2026-01-01T00:00:00Z"

[sources.customers]
uri = "{raw}/customers"
format = "parquet"

[sources.transactions]
uri = "{raw}/transactions"
format = "parquet"
dedupe_on = ["transaction_id"]

[sources.events]
uri = "{raw}/events"
format = "parquet"

[sources.case_outcomes]
uri = "{raw}/case_outcomes"
format = "parquet"

[sources.high_risk_jurisdictions]
uri = "{root}/reference/high_risk_jurisdictions.csv"
format = "csv"

[sources.sanctioned_jurisdictions]
uri = "{root}/reference/sanctioned_jurisdictions.csv"
format = "csv"

[sources.own_list]
uri = "{raw}/own_list.csv"
format = "csv"

[screening]
list = "own_list"
format = "internal"

[[screening.parties]]
party = "customer"
table = "customers"
key = "customer_id"
name = "full_name"

[[screening.parties]]
party = "counterparty"
table = "transactions"
key = "counterparty_id"
name = "counterparty_name"

[features]
sql_dir = "{root}/sql/features"
views = ["windowed_transactions", "transaction_features", "sessions", "behaviour_features", "screening_features", "customer_features"]
key = "customer_id"

[[quality.outliers]]
name = "big"
table = "transactions"
column = "amount_eur"
above = 9000.0

[output]
root = "{lake}"
"#,
            raw = raw.display(),
            root = root.display(),
            lake = dir.join("lake").display(),
        ),
    )
    .unwrap();
    job
}

fn feature_rows(lake: &Path) -> HashMap<String, serde_json::Value> {
    table_rows(lake, "customer_features")
        .into_iter()
        .map(|row| (row["customer_id"].as_str().unwrap().to_string(), row))
        .collect()
}

#[test]
fn shipped_feature_views_match_hand_computed_values() {
    let dir = tempfile::tempdir().unwrap();
    let job = handbuilt_bank(dir.path());
    let out = seglake_ok(&["run", job.to_str().unwrap()]);
    // t2 was replayed once.
    assert!(out.contains("1 duplicate rows removed"), "{out}");
    let rows = feature_rows(&dir.path().join("lake"));

    // C4 was onboarded after as_of, so is not in the table.
    let mut ids: Vec<&String> = rows.keys().collect();
    ids.sort();
    assert_eq!(ids, ["C1", "C2", "C3"]);

    let check = |id: &str, expected: &[(&str, serde_json::Value)]| {
        let row = &rows[id];
        for (column, value) in expected {
            // The JSON writer leaves out nulls, so check the column exists
            // somewhere: a misspelt name must not pass as "null".
            assert!(
                rows.values().any(|r| r.get(*column).is_some()),
                "no column {column}"
            );
            let got = row.get(*column).unwrap_or(&serde_json::Value::Null);
            match (got.as_f64(), value.as_f64()) {
                (Some(g), Some(v)) => assert!(
                    (g - v).abs() <= 1e-12 * v.abs().max(1.0),
                    "{id}.{column}: {g} != {v}"
                ),
                _ => assert_eq!(got, value, "{id}.{column}"),
            }
        }
    };
    use serde_json::json;
    check(
        "C1",
        &[
            ("customer_type", json!("retail")),
            ("tenure_days", json!(2192)), // 2020-01-01 .. 2026-01-01: 366+365+365+365+366+365
            ("resident_in_high_risk", json!(0)),
            ("txn_count", json!(4)), // t1..t4; t2's replay, t5 and t6 are out
            ("txn_volume_eur", json!(11200.0)),
            ("txn_avg_eur", json!(2800.0)),
            ("txn_max_eur", json!(9500.0)),
            ("card_count", json!(1)),
            ("card_volume_eur", json!(200.0)),
            ("wire_volume_eur", json!(500.0)),
            ("ach_volume_eur", json!(1000.0)),
            ("cash_count", json!(1)),
            ("cash_volume_eur", json!(9500.0)),
            ("crypto_count", json!(0)),
            ("cash_share", json!(9500.0 / 11200.0)),
            ("near_threshold_cash_count", json!(1)),
            ("inflow_eur", json!(10500.0)),
            ("outflow_eur", json!(700.0)),
            ("in_out_ratio", json!(15.0)),
            ("txn_count_30d", json!(2)), // t2 (12-20) and t3 (12-25) are after 12-02
            ("txn_trend_30d", json!(2.0 / (2.0 * 30.0 / 335.0))),
            ("volume_30d_eur", json!(9700.0)),
            ("high_risk_txn_count", json!(1)), // t4 to Iran
            ("high_risk_txn_share", json!(0.25)),
            ("high_risk_volume_eur", json!(500.0)),
            ("high_risk_counterparties", json!(1)),
            ("fan_in", json!(1)),  // E1 (the cash deposit has no counterparty)
            ("fan_out", json!(2)), // M1, F1
            ("session_count", json!(2)), // S1, S2; S0 is before the window
            ("avg_session_duration_s", json!(40.0)),
            ("events_per_session", json!(2.5)),
            ("distinct_devices", json!(2)),
            ("new_device_rate", json!(1.0)),
            ("new_devices_30d", json!(1)), // D2, first seen 12-28
            ("distinct_ip_countries", json!(2)),
            ("abroad_session_share", json!(0.5)),
            ("distinct_event_types", json!(4)),
            ("password_resets", json!(1)),
            ("beneficiaries_added", json!(1)),
            ("api_calls", json!(0)),
            // F2 is listed but paid before the window; t4 went to Iran.
            ("sanctioned_counterparties", json!(0)),
            ("sanctioned_counterparty_volume_eur", json!(0.0)),
            ("name_hit_score", json!(0.0)),
            ("sanctioned_jurisdiction_txn_count", json!(1)),
        ],
    );
    check(
        "C2",
        &[
            ("tenure_days", json!(306)),
            ("resident_in_high_risk", json!(1)), // Nigeria is on the FATF grey list
            ("kyc_risk_rating", json!("high")),
            ("txn_count", json!(3)),
            ("txn_volume_eur", json!(1190.0)),
            ("txn_avg_eur", json!(1190.0 / 3.0)),
            ("crypto_count", json!(1)),
            ("crypto_volume_eur", json!(590.0)),
            ("cash_share", json!(0.0)),
            ("in_out_ratio", json!(600.0 / 590.0)),
            ("txn_count_30d", json!(0)),
            ("txn_trend_30d", json!(0.0)),
            ("high_risk_txn_share", json!(1.0 / 3.0)),
            ("fan_in", json!(2)),
            ("fan_out", json!(1)),
            ("session_count", json!(1)),
            ("avg_session_duration_s", json!(12.0)), // the login has no duration
            ("events_per_session", json!(2.0)),
            ("abroad_session_share", json!(0.0)), // at home in Nigeria
            ("api_calls", json!(1)),
            ("distinct_event_types", json!(2)),
            // u3 went to Q1, listed entity 2 ("acme" = "acme": score 1).
            ("sanctioned_counterparties", json!(1)),
            ("sanctioned_counterparty_txn_count", json!(1)),
            ("sanctioned_counterparty_volume_eur", json!(590.0)),
            ("sanctions_programmes", json!(1)),
            // "but viktor" ~ "bout viktor": viktor = viktor (12 characters
            // at 1), but ~ bout at jw 0.925 (7 characters): 18.475 / 19.
            ("name_hit_score", json!((12.0 + 7.0 * 0.925) / 19.0)),
            ("sanctioned_jurisdiction_txn_count", json!(0)),
        ],
    );
    check(
        "C3",
        &[
            ("tenure_days", json!(61)),
            ("kyc_risk_rating", serde_json::Value::Null),
            ("txn_count", json!(0)),
            ("txn_volume_eur", json!(0.0)),
            ("txn_avg_eur", serde_json::Value::Null),
            ("cash_share", serde_json::Value::Null),
            ("in_out_ratio", serde_json::Value::Null),
            ("txn_trend_30d", serde_json::Value::Null),
            ("high_risk_txn_share", json!(0.0)),
            ("session_count", json!(0)),
            ("avg_session_duration_s", serde_json::Value::Null),
            ("sanctioned_counterparties", json!(0)),
            ("name_hit_score", json!(0.0)),
        ],
    );
    // Every hit, by hand: C2 and C4 by name, F2 and Q1 as counterparties.
    let mut hits: Vec<(String, String, i64)> =
        table_rows(&dir.path().join("lake"), "screening_hits")
            .iter()
            .map(|r| {
                (
                    r["party"].as_str().unwrap().to_string(),
                    r["party_id"].as_str().unwrap().to_string(),
                    r["list_entry_id"].as_i64().unwrap(),
                )
            })
            .collect();
    hits.sort();
    let expected: Vec<(String, String, i64)> = [
        ("counterparty", "F2", 2),
        ("counterparty", "Q1", 2),
        ("customer", "C2", 1),
        ("customer", "C4", 2),
    ]
    .iter()
    .map(|(p, i, e)| (p.to_string(), i.to_string(), *e))
    .collect();
    assert_eq!(hits, expected);

    // The quality report in lineage: one duplicate, the missing values of
    // each column, and the outlier rule's count: only t2 (9,500) is above
    // 9,000, counted once because rules see the deduplicated source.
    let runs = runs_rows(&dir.path().join("lake"));
    let q = &runs[0]["quality"];
    assert_eq!(q["duplicates_removed"][0]["rows"], 1);
    let missing = |table: &str, column: &str| {
        q["missing_values"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["table"] == table && m["column"] == column)
            .unwrap()["rows"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(missing("transactions", "counterparty_country"), 1); // t2 after deduplication
    assert_eq!(missing("customers", "occupation_or_sector"), 1);
    assert_eq!(missing("events", "duration_s"), 1);
    assert_eq!(missing("customer_features", "cash_share"), 1); // C3
    assert_eq!(q["outliers"][0]["rows"], 1);
    let rows_in = runs[0]["rows_in"].as_array().unwrap();
    let tx_in = rows_in
        .iter()
        .find(|r| r["table"] == "transactions")
        .unwrap();
    assert_eq!(tx_in["rows"], 10, "rows as read, before deduplication");
}
