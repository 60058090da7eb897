//! The auditor's commands: audit, reproduce, diff, sql with time travel,
//! vacuum, erase, pseudonymisation and OpenLineage, against real lakes,
//! checked with independent readers (Python `deltalake` and polars, a SQL
//! join for the migration matrix, Python's hmac for pseudonyms).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::*;

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn sql(lake: &Path, query: &str) -> Vec<Value> {
    lines(&seglake_ok(&[
        "sql",
        query,
        "--lake",
        lake.to_str().unwrap(),
        "--json",
    ]))
}

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&seglake_ok(args)).unwrap()
}

/// (run_id, finished_at) of every run, oldest first.
fn runs(lake: &Path) -> Vec<(String, String)> {
    sql(
        lake,
        "SELECT run_id, finished_at FROM runs ORDER BY finished_at",
    )
    .iter()
    .map(|r| {
        (
            r["run_id"].as_str().unwrap().to_string(),
            r["finished_at"].as_str().unwrap().to_string(),
        )
    })
    .collect()
}

/// Files under `dir` whose bytes contain `needle`.
pub(crate) fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    file_tree(dir)
        .into_iter()
        .filter(|f| !f.starts_with("raw/"))
        .filter(|f| {
            let bytes = std::fs::read(dir.join(f)).unwrap();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
        .collect()
}

fn parquet_holding(dir: &Path, values: &[&str]) -> String {
    let script = repo_root().join("tests/python/find_in_parquet.py");
    let mut args = vec![script.to_str().unwrap(), dir.to_str().unwrap()];
    args.extend(values);
    let out = Command::new(python()).args(&args).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn an_auditor_can_explain_reproduce_and_compare_past_segmentations() {
    let lake = generated_lake(400);
    let l = lake.path();
    let ls = l.to_str().unwrap();
    run_demo_job(l);
    let reseeded = JobVariant::new("seed", "seed = 42", "seed = 43");
    let out = reseeded.run(l, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let runs = runs(l);
    assert_eq!(runs.len(), 2);
    let (r1, t1) = &runs[0];
    let (r2, t2) = &runs[1];
    let customer = sql(
        l,
        "SELECT customer_id FROM table_at('segments', 0) ORDER BY customer_id LIMIT 1",
    )[0]["customer_id"]
        .as_str()
        .unwrap()
        .to_string();

    // The segmentation in force at the first run's publication is the
    // first run's; a second later than the second run, the second's.
    let audit = json(&[
        "audit",
        "--customer",
        &customer,
        "--as-of",
        t1,
        "--lake",
        ls,
        "--json",
    ]);
    assert_eq!(audit["run"]["run_id"], r1.as_str());
    assert_eq!(audit["segments_version"], 0);
    assert_eq!(audit["assignment"]["run_id"], r1.as_str());
    assert_eq!(audit["assignment"]["reasons"].as_array().unwrap().len(), 3);
    assert!(audit["assignment"]["risk_band"].is_string());
    // Six views, the label view and the five rules.
    assert_eq!(audit["sql_files"].as_array().unwrap().len(), 12);
    assert_eq!(audit["inputs"].as_array().unwrap().len(), 7);
    assert_eq!(
        audit["reproduce_command"],
        format!("seglake reproduce {r1} --lake {ls}")
    );
    assert!(
        audit["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["kind"] == "risk")
    );
    let later = chrono::DateTime::parse_from_rfc3339(t2).unwrap() + chrono::Duration::seconds(1);
    let audit2 = json(&[
        "audit",
        "--customer",
        &customer,
        "--as-of",
        &later.to_rfc3339(),
        "--lake",
        ls,
        "--json",
    ]);
    assert_eq!(audit2["run"]["run_id"], r2.as_str());
    let text = seglake_ok(&["audit", "--customer", &customer, "--run", r1, "--lake", ls]);
    assert!(
        text.contains("reproduce with") && text.contains(r1.as_str()),
        "{text}"
    );

    let before = seglake(&[
        "audit",
        "--customer",
        &customer,
        "--as-of",
        "2020-01-01",
        "--lake",
        ls,
    ]);
    assert_eq!(before.status.code(), Some(1));
    assert!(
        stderr(&before).contains("no segmentation was in force"),
        "{}",
        stderr(&before)
    );
    let unknown = seglake(&[
        "audit",
        "--customer",
        "C99999999",
        "--run",
        r1,
        "--lake",
        ls,
    ]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("`C99999999` is not in the segmentation"));

    // Two other readers of version 0 agree with `seglake sql` and `audit`.
    let dir = tempfile::tempdir().unwrap();
    let sql_rows = dir.path().join("sql.jsonl");
    let audit_file = dir.path().join("audit.json");
    std::fs::write(
        &sql_rows,
        seglake_ok(&[
            "sql",
            "SELECT * FROM table_at('segments', 0)",
            "--lake",
            ls,
            "--json",
        ]),
    )
    .unwrap();
    std::fs::write(&audit_file, audit.to_string()).unwrap();
    let out = Command::new(python())
        .arg(repo_root().join("tests/python/audit_readers.py"))
        .args([
            ls,
            "0",
            sql_rows.to_str().unwrap(),
            audit_file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    // Time travel by time, and nothing but reads.
    let at_t1 = sql(
        l,
        &format!("SELECT DISTINCT run_id FROM table_at('segments', '{t1}')"),
    );
    assert_eq!(at_t1, vec![serde_json::json!({ "run_id": r1 })]);
    for bad in [
        "DELETE FROM segments",
        "DROP TABLE segments",
        "COPY segments TO '/tmp/leak.parquet'",
        "CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION '/etc'",
        "SELECT * FROM table_at('../raw/customers', 0)",
    ] {
        let out = seglake(&["sql", bad, "--lake", ls]);
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", stderr(&out));
    }

    // The migration matrix equals a SQL join of the two versions.
    let diff = json(&[
        "diff",
        "--from",
        "v0",
        "--to",
        r2,
        "--lake",
        ls,
        "--json",
        "--publish",
    ]);
    assert_eq!(diff["published_version"], 0);
    let joined = sql(
        l,
        "SELECT a.segment_id AS f, b.segment_id AS t, count(*) AS n, \
         sum(CASE WHEN b.risk_band = 'high' AND a.risk_band <> 'high' THEN 1 ELSE 0 END) AS high \
         FROM table_at('segments', 0) a JOIN table_at('segments', 1) b USING (customer_id) \
         GROUP BY 1, 2 ORDER BY 1, 2",
    );
    // (from, to, customers, newly high risk) per cell, from either source.
    let cells = |rows: &[Value], keys: [&str; 4]| -> Vec<[i64; 4]> {
        rows.iter()
            .map(|r| keys.map(|k| r[k].as_i64().unwrap()))
            .collect()
    };
    let matrix = cells(
        diff["matrix"].as_array().unwrap(),
        ["from_segment", "to_segment", "customers", "newly_high_risk"],
    );
    let expected = cells(&joined, ["f", "t", "n", "high"]);
    assert_eq!(matrix, expected);
    assert_eq!(
        diff["stayed"].as_i64().unwrap() + diff["moved"].as_i64().unwrap(),
        400
    );
    assert_eq!(table_rows(l, "segment_migrations").len(), matrix.len());
    let again = seglake_ok(&[
        "diff",
        "--from",
        "v0",
        "--to",
        "v1",
        "--lake",
        ls,
        "--publish",
    ]);
    assert!(again.contains("already holds this comparison"), "{again}");

    // The first run reproduces bit for bit from its lineage.
    let report = json(&["reproduce", r1, "--lake", ls, "--json"]);
    assert_eq!(report["identical"], true, "{report}");
    let tables: Vec<&str> = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert_eq!(tables, ["segments", "customer_features"]);

    // An input changed since the run: a clear error naming the file.
    let outcomes = l.join("raw/case_outcomes/part-00000.parquet");
    let mut bytes = std::fs::read(&outcomes).unwrap();
    bytes.extend_from_slice(b"changed");
    std::fs::write(&outcomes, bytes).unwrap();
    let out = seglake(&["reproduce", r1, "--lake", ls]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("case_outcomes/part-00000.parquet changed since the run"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn erasure_removes_a_customer_from_every_file_and_keeps_everyone_elses_audit() {
    let lake = generated_lake(300);
    let l = lake.path();
    let ls = l.to_str().unwrap();
    run_demo_job(l);
    run_demo_job(l);
    let runs = runs(l);
    let r1 = runs[0].0.clone();
    let ids: Vec<String> = sql(
        l,
        "SELECT customer_id FROM segments ORDER BY customer_id LIMIT 2",
    )
    .iter()
    .map(|r| r["customer_id"].as_str().unwrap().to_string())
    .collect();
    // The smallest id: the one column statistics (min) would keep.
    let (erased, other) = (&ids[0], &ids[1]);
    assert!(
        !files_containing(l, erased).is_empty(),
        "the check can fail"
    );
    assert!(!parquet_holding(l, &[erased]).is_empty());
    let other_before = json(&[
        "audit",
        "--customer",
        other,
        "--run",
        &r1,
        "--lake",
        ls,
        "--json",
    ]);

    let report = json(&["erase", "--customer", erased, "--lake", ls, "--json"]);
    assert_eq!(report["rewrites"].as_array().unwrap().len(), 4, "{report}");
    assert!(!report.to_string().contains(erased.as_str()));

    assert_eq!(files_containing(l, erased), Vec::<String>::new());
    assert_eq!(parquet_holding(l, &[erased]), "");
    let gone = seglake(&["audit", "--customer", erased, "--run", &r1, "--lake", ls]);
    assert_eq!(gone.status.code(), Some(1));
    let other_after = json(&[
        "audit",
        "--customer",
        other,
        "--run",
        &r1,
        "--lake",
        ls,
        "--json",
    ]);
    assert_eq!(other_after["assignment"], other_before["assignment"]);
    assert_eq!(other_after["segments_version"], 0);
    assert_ne!(other_after["segments_version_now"], 0);
    assert_eq!(sql(l, "SELECT count(*) AS n FROM segments")[0]["n"], 299);

    // The run still reproduces, apart from the erased row, which is not named.
    let out = seglake(&["reproduce", &r1, "--lake", ls]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("1 row(s) of customers erased since"));
    assert!(!stdout(&out).contains(erased.as_str()));

    let erasures = table_rows(l, "erasures");
    assert_eq!(erasures.len(), 1);
    assert_eq!(erasures[0]["rewrites"].as_array().unwrap().len(), 4);
}

#[test]
fn pseudonymised_jobs_write_no_raw_id_and_audits_look_up_by_raw_id() {
    let lake = generated_lake(200);
    let l = lake.path();
    let ls = l.to_str().unwrap();
    let key = "an-example-key-of-32-bytes-long!";
    let private = JobVariant::new(
        "privacy",
        "[output]",
        "[privacy]\npseudonymise = true\n\n[output]",
    );

    // No key, no run, nothing written.
    let before = file_tree(l);
    let out = private.run(l, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("SEGLAKE_PSEUDONYM_KEY is not set"),
        "{}",
        stderr(&out)
    );
    assert_eq!(file_tree(l), before);

    let out = private.run(l, &[("SEGLAKE_PSEUDONYM_KEY", key)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains(key) && !stderr(&out).contains(key));
    let raw: Vec<String> = (0..200).map(|i| format!("C{i:08}")).collect();
    let raw_refs: Vec<&str> = raw.iter().map(String::as_str).collect();
    assert_eq!(parquet_holding(l, &raw_refs), "");
    assert_eq!(files_containing(l, "C0000001"), Vec::<String>::new());
    assert_eq!(files_containing(l, key), Vec::<String>::new());

    // The audit takes the raw id; the pseudonym is Python's HMAC-SHA256.
    let run = runs(l)[0].0.clone();
    let out = seglake_env(
        &[
            "audit",
            "--customer",
            "C00000007",
            "--run",
            &run,
            "--lake",
            ls,
            "--json",
        ],
        &[("SEGLAKE_PSEUDONYM_KEY", key)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let audit: Value = serde_json::from_slice(&out.stdout).unwrap();
    let hmac = Command::new(python())
        .args([
            "-c",
            &format!("import hmac; print(hmac.new(b'{key}', b'C00000007', 'sha256').hexdigest())"),
        ])
        .output()
        .unwrap();
    assert_eq!(audit["stored_id"], stdout(&hmac).trim());
    assert_eq!(audit["assignment"]["customer_id"], stdout(&hmac).trim());
    let no_key = seglake(&[
        "audit",
        "--customer",
        "C00000007",
        "--run",
        &run,
        "--lake",
        ls,
    ]);
    assert_eq!(no_key.status.code(), Some(1));
    assert!(stderr(&no_key).contains("SEGLAKE_PSEUDONYM_KEY"));

    // Erasure by raw id removes the pseudonymised row.
    let out = seglake_env(
        &["erase", "--customer", "C00000007", "--lake", ls, "--json"],
        &[("SEGLAKE_PSEUDONYM_KEY", key)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let pseudonym = stdout(&hmac).trim().to_string();
    assert_eq!(files_containing(l, &pseudonym), Vec::<String>::new());
    assert_eq!(table_rows(l, "erasures").len(), 1);

    // A key written into the job is refused without echoing it.
    let inline = JobVariant::new(
        "inline-key",
        "[output]",
        "[privacy]\npseudonymise = true\nkey = \"do-not-print-this-key\"\n\n[output]",
    );
    let out = inline.run(l, &[("SEGLAKE_PSEUDONYM_KEY", key)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("privacy.key"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("do-not-print-this-key"));
}

#[test]
fn vacuum_keeps_every_version_a_run_in_the_retention_period_needs() {
    let lake = generated_lake(200);
    let l = lake.path();
    let ls = l.to_str().unwrap();
    run_demo_job(l);
    run_demo_job(l);
    let r1 = runs(l)[0].0.clone();
    let customer = "C00000003";

    let kept = json(&["vacuum", "--lake", ls, "--json"]);
    let removed: usize = kept["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["files_removed"].as_array().unwrap().len())
        .sum();
    assert_eq!(removed, 0, "{kept}");
    seglake_ok(&["audit", "--customer", customer, "--run", &r1, "--lake", ls]);

    let dry = json(&[
        "vacuum",
        "--lake",
        ls,
        "--retain",
        "0s",
        "--dry-run",
        "--json",
    ]);
    assert!(dry.to_string().contains("files_removed"));
    seglake_ok(&["audit", "--customer", customer, "--run", &r1, "--lake", ls]);

    let report = json(&["vacuum", "--lake", ls, "--retain", "0s", "--json"]);
    let segments = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "segments")
        .unwrap()
        .clone();
    assert_eq!(segments["kept_versions"], serde_json::json!([1]));
    assert_eq!(segments["files_removed"].as_array().unwrap().len(), 1);
    let old = seglake(&["audit", "--customer", customer, "--run", &r1, "--lake", ls]);
    assert_eq!(old.status.code(), Some(1));
    assert!(stderr(&old).contains("seglake vacuum"), "{}", stderr(&old));
    let latest = seglake_ok(&[
        "audit",
        "--customer",
        customer,
        "--as-of",
        "2100-01-01",
        "--lake",
        ls,
    ]);
    assert!(latest.contains("segment"));
}

/// Accepts one HTTP request on 127.0.0.1 and returns (head, body).
fn one_request(listener: std::net::TcpListener) -> std::thread::JoinHandle<(String, String)> {
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
            head += &line;
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream
            .write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .unwrap();
        (head, String::from_utf8(body).unwrap())
    })
}

#[test]
fn each_run_stores_and_posts_an_openlineage_event() {
    let lake = generated_lake(200);
    let l = lake.path();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = one_request(listener);
    let secret = "ol-api-key-not-for-logs";
    let out = seglake_env(
        &[
            "run",
            "jobs/demo.toml",
            "--var",
            &format!("lake={}", l.display()),
        ],
        &[("OPENLINEAGE_URL", &url), ("OPENLINEAGE_API_KEY", secret)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("OpenLineage event posted"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains(secret) && !stderr(&out).contains(secret));
    let (head, body) = server.join().unwrap();
    assert!(head.starts_with("POST /api/v1/lineage HTTP/1.1"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("authorization: bearer {secret}")),
        "{head}"
    );
    let event: Value = serde_json::from_str(&body).unwrap();
    let runs = runs_rows(l);
    let stored: Value = serde_json::from_str(runs[0]["openlineage"].as_str().unwrap()).unwrap();
    assert_eq!(event, stored);
    assert!(!body.contains(secret));
    assert_eq!(event["eventType"], "COMPLETE");
    assert_eq!(
        event["schemaURL"],
        "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
    );
    assert_eq!(event["job"]["namespace"], "seglake");
    assert_eq!(event["job"]["name"], "demo");
    assert_eq!(
        event["run"]["facets"]["seglake_run"]["runId"],
        runs[0]["run_id"]
    );
    assert_eq!(event["run"]["runId"].as_str().unwrap().len(), 36);
    let query = event["job"]["facets"]["sql"]["query"].as_str().unwrap();
    assert!(query.contains("-- view customer_features") && query.contains("SELECT"));
    let transactions = event["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == format!("{}/raw/transactions", l.display()))
        .unwrap();
    assert_eq!(transactions["namespace"], "file");
    assert!(
        transactions["facets"]["version"]["datasetVersion"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    let segments = event["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == format!("{}/segments", l.display()))
        .unwrap();
    assert_eq!(segments["facets"]["version"]["datasetVersion"], "0");
    assert_eq!(
        segments["outputFacets"]["outputStatistics"]["rowCount"],
        200
    );
}
