//! `seglake report` and `GET /report/{run_id}`: the page opened in a real
//! browser (Debian's chromium, driven by `tests/browser/check_report.mjs`,
//! which `infra/test.sh` installs), with no console error, no request,
//! every chart drawn, and the numbers shown equal to what the Python
//! `deltalake` reader finds in the published tables.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::*;
use crate::http::{Serve, TOKEN, call};

/// The checker script; the test command exports its path.
fn browser_check() -> PathBuf {
    match std::env::var_os("SEGLAKE_BROWSER_CHECK") {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "SEGLAKE_BROWSER_CHECK is not set: run the tests with ./infra/test.sh, which \
             installs chromium and the browser checker"
        ),
    }
}

/// Where screenshots are kept after the test (a test artifact).
fn artifact(name: &str) -> PathBuf {
    let dir = std::env::var_os("SEGLAKE_TEST_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/test-artifacts"));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Opens `url` in the browser and returns what it measured.
fn open_in_browser(url: &str, screenshot: &Path, token: Option<&str>) -> Value {
    let mut command = Command::new("node");
    command.arg(browser_check()).arg(url).arg(screenshot);
    if let Some(token) = token {
        command.env("CHECK_REPORT_TOKEN", token);
    }
    let out = command.output().expect("node runs");
    assert!(
        out.status.success(),
        "the browser check failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The published truth, read without seglake.
fn truth(lake: &Path, run_id: &str) -> Value {
    python_json("report_truth.py", &[lake.as_os_str(), run_id.as_ref()])
}

fn latest_run(lake: &Path) -> String {
    let runs = runs_rows(lake);
    runs.last().unwrap()["run_id"].as_str().unwrap().to_string()
}

/// The page rendered cleanly: every chart drawn, nothing else fetched.
fn assert_clean(page: &Value, expected_charts: u64) {
    assert_eq!(page["state"], "rendered", "{page}");
    assert_eq!(page["charset"], "UTF-8");
    assert_eq!(page["console_errors"], Value::Array(vec![]), "{page}");
    assert_eq!(page["requests"], Value::Array(vec![]), "{page}");
    assert_eq!(page["charts_declared"], expected_charts, "{page}");
    assert_eq!(page["charts_rendered"], expected_charts, "{page}");
}

/// The segment sizes and run id shown equal the published ones.
fn assert_segments_shown(page: &Value, truth: &Value, run_id: &str) {
    let values = &page["values"];
    assert_eq!(values["run_id"], run_id);
    let customers = truth["segment_customers"].as_object().unwrap();
    assert_eq!(customers.len() as u64, truth["k"].as_u64().unwrap());
    for (segment, n) in customers {
        let shown = values[format!("segment_size:{segment}")]
            .as_str()
            .unwrap_or_else(|| panic!("no size shown for segment {segment}: {values}"))
            .replace(',', "");
        assert_eq!(shown, n.to_string(), "segment {segment}");
        assert_eq!(&truth["profile_sizes"][segment], n, "segment {segment}");
    }
    assert_eq!(values["k"], truth["k"].to_string());
}

#[test]
fn the_demo_report_renders_in_a_browser_with_the_published_numbers() {
    let lake = tempfile::tempdir().unwrap();
    let lake_arg = lake.path().display().to_string();
    // Two runs, so the page has a history to draw.
    seglake_ok(&["demo", "--lake", &lake_arg, "--customers", "4000"]);
    let out = seglake_ok(&["demo", "--lake", &lake_arg]);
    // The run summary's first line: `run RUN_ID  job demo  succeeded ...`.
    let run_id = out.split_whitespace().nth(1).unwrap().to_string();
    assert_eq!(runs_rows(lake.path()).len(), 2);
    let path = lake.path().join("reports").join(format!("{run_id}.html"));
    assert!(
        out.contains(&format!("report {}", path.display())),
        "demo does not print its report's path:\n{out}"
    );
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.len() < 3 << 20, "{} bytes", html.len());

    let truth = truth(lake.path(), &run_id);
    assert!(truth["k_tried"].as_u64().unwrap() > 1, "{truth}");
    assert_eq!(truth["runs_of_job"], 2);
    let page = open_in_browser(
        &format!("file://{}", path.display()),
        &artifact("report-demo.png"),
        None,
    );
    // Segments: sizes, outcomes, heat map, projection, the choice of k;
    // risk: ROC, precision-recall, reliability, score histogram,
    // importance, alert rates; the job's runs over time.
    assert_clean(&page, 5 + 6 + 1);
    assert_segments_shown(&page, &truth, &run_id);
    let values = &page["values"];
    for key in ["auc_roc", "card_auc_roc"] {
        let shown: f64 = values[key].as_str().unwrap().parse().unwrap();
        let published = truth["auc_roc"].as_f64().unwrap();
        assert_eq!(format!("{shown:.4}"), format!("{published:.4}"), "{key}");
    }
    let shown_ap: f64 = values["auc_pr"].as_str().unwrap().parse().unwrap();
    assert!((shown_ap - truth["auc_pr"].as_f64().unwrap()).abs() <= 5e-5);
    assert_eq!(
        values["reproduce"],
        format!(
            "seglake reproduce {run_id} --lake {}",
            lake.path().display()
        )
    );
}

/// The risk part of the page is absent when the job has no `[risk]`, and
/// so is the choice of k when k was fixed.
#[test]
fn a_run_without_risk_has_no_risk_part() {
    let lake = generated_lake(1500);
    let demo = std::fs::read_to_string(repo_root().join("jobs/demo.toml")).unwrap();
    let start = demo.find("k = \"auto\"").unwrap();
    let end = demo.find("[output]").unwrap();
    let from = &demo[start..end];
    let risk = from.find("# Risk scores").unwrap();
    let to = format!("k = 5\n{}", &from[from.find("outcomes =").unwrap()..risk]);
    let job = JobVariant::new("report-no-risk", from, &to);
    let run = job.run(lake.path(), &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    let run_id = latest_run(lake.path());
    let out_path = lake.path().join("page.html");
    let printed = seglake_ok(&[
        "report",
        "--latest",
        "--lake",
        lake.path().to_str().unwrap(),
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(printed.trim(), out_path.display().to_string());
    let html = std::fs::read_to_string(&out_path).unwrap();
    assert!(
        !html.contains("id=\"risk\""),
        "a risk section without [risk]"
    );

    let truth = truth(lake.path(), &run_id);
    assert_eq!(truth["auc_roc"], Value::Null);
    let page = open_in_browser(
        &format!("file://{}", out_path.display()),
        &artifact("report-no-risk.png"),
        None,
    );
    // Sizes, outcomes, heat map, projection, history.
    assert_clean(&page, 5);
    assert_segments_shown(&page, &truth, &run_id);
    assert!(page["values"].get("auc_roc").is_none());
}

#[test]
fn an_unknown_run_exits_1_naming_it_and_writes_nothing() {
    let lake = generated_lake(300);
    run_demo_job(lake.path());
    let before = file_tree(lake.path());
    let out = seglake(&[
        "report",
        "run-that-never-was",
        "--lake",
        lake.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("run-that-never-was"),
        "{}",
        stderr(&out)
    );
    assert_eq!(file_tree(lake.path()), before);
    // Neither a run id nor --latest: a usage error that says what to give.
    let out = seglake(&["report", "--lake", lake.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--latest"), "{}", stderr(&out));
}

/// `seglake serve` serves the same page, behind the token, and it renders
/// over HTTP with nothing fetched but itself.
#[test]
fn serve_serves_the_report_behind_its_token() {
    let lake = generated_lake(1500);
    run_demo_job(lake.path());
    let run_id = latest_run(lake.path());
    let wal = tempfile::tempdir().unwrap();
    let serve = Serve::start(lake.path(), &wal.path().join("wal"), &[]);
    let route = format!("/report/{run_id}");

    let anonymous = call(serve.addr, "GET", &route, None, None);
    assert_eq!(anonymous.status, 401);
    let unknown = call(serve.addr, "GET", "/report/no-such-run", Some(TOKEN), None);
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert!(unknown.body.contains("no-such-run"));

    let served = call(serve.addr, "GET", &route, Some(TOKEN), None);
    assert_eq!(served.status, 200);
    assert_eq!(
        served.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    // The page may load nothing: every fetch directive falls back to 'none'.
    let policy = served.header("content-security-policy").unwrap();
    assert!(policy.starts_with("default-src 'none';"), "{policy}");
    assert!(!policy.contains("connect-src"), "{policy}");
    let written = lake.path().join("written.html");
    seglake_ok(&[
        "report",
        &run_id,
        "--lake",
        lake.path().to_str().unwrap(),
        "--out",
        written.to_str().unwrap(),
    ]);
    assert_eq!(served.body, std::fs::read_to_string(&written).unwrap());

    let page = open_in_browser(
        &format!("http://{}{route}", serve.addr),
        &artifact("report-served.png"),
        Some(TOKEN),
    );
    assert_clean(&page, 5 + 6 + 1);
    assert_segments_shown(&page, &truth(lake.path(), &run_id), &run_id);

    // The Grafana dashboard in infra/ asks only for metrics this service
    // exposes (now that it has answered requests on every route family).
    let metrics = call(serve.addr, "GET", "/metrics", Some(TOKEN), None);
    let exposition = wal.path().join("metrics.txt");
    std::fs::write(&exposition, &metrics.body).unwrap();
    let check = Command::new(python())
        .arg(repo_root().join("infra/grafana/check_dashboard.py"))
        .arg(repo_root().join("infra/grafana/seglake-serve.json"))
        .arg(&exposition)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}
