//! The lake on S3: a real S3-compatible server (moto, every request
//! serialised by `infra/s3/serve.py`) started per test on 127.0.0.1, the
//! demo job reading and publishing there, read back by Python `deltalake`;
//! four concurrent writers; SIGKILL at random points while publishing; a
//! fault-injecting proxy (`infra/s3/fault_proxy.py`) in front of it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// Test credentials for the local server. The secret is distinctive so a
/// test can look for it in everything seglake prints and writes.
pub const KEY_ID: &str = "AKIASEGLAKETESTKEY01";
pub const SECRET: &str = "s3cr3t-seglake-test-d0-not-print";
pub const BUCKET: &str = "bank-lake";

/// A Python helper process (moto or the fault proxy) on a loopback port,
/// stopped when dropped.
pub struct Helper {
    child: Child,
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Helper {
    fn start(script: &str, args: &[String]) -> Helper {
        let dir = tempfile::tempdir().unwrap();
        let port_file = dir.path().join("port");
        let log = dir.path().join("log");
        let child = Command::new(python())
            .arg(repo_root().join(script))
            .arg("--port-file")
            .arg(&port_file)
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("python runs");
        let mut helper = Helper {
            child,
            port: 0,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                helper.port = text.trim().parse().unwrap();
                return helper;
            }
            if let Some(status) = helper.child.try_wait().unwrap() {
                panic!(
                    "{script} exited ({status}):\n{}",
                    std::fs::read_to_string(&helper.log).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "{script} did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The S3 server, with one bucket.
pub struct S3 {
    pub server: Helper,
}

impl S3 {
    pub fn start() -> S3 {
        let s3 = S3 {
            server: Helper::start("infra/s3/serve.py", &[]),
        };
        s3.tool(&["mkbucket", BUCKET], &s3.server.endpoint());
        s3
    }

    /// The AWS environment pointing at `endpoint` (the server or a proxy).
    pub fn env(endpoint: &str) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", KEY_ID.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET.to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ENDPOINT_URL", endpoint.to_string()),
            ("AWS_ALLOW_HTTP", "true".to_string()),
        ]
    }

    /// Runs `tests/python/s3_tool.py` against `endpoint`; stdout.
    pub fn tool(&self, args: &[&str], endpoint: &str) -> String {
        let out = Command::new(python())
            .arg(repo_root().join("tests/python/s3_tool.py"))
            .args(args)
            .envs(S3::env(endpoint))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "s3_tool {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Every row of a table version, as sorted JSON lines (Python reader).
    pub fn rows(&self, url: &str, version: Option<i64>) -> Vec<String> {
        let v = version.map(|v| v.to_string());
        let mut args = vec!["table", url];
        if let Some(v) = &v {
            args.push(v);
        }
        self.tool(&args, &self.server.endpoint())
            .lines()
            .map(String::from)
            .collect()
    }

    /// Every version of a table: version, rows, run id.
    pub fn versions(&self, url: &str) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.tool(&["versions", url], &self.server.endpoint())).unwrap()
    }

    /// A generated bank uploaded to `s3://bank-lake/<prefix>/raw`.
    pub fn upload_bank(&self, customers: u64, prefix: &str) -> tempfile::TempDir {
        let local = generated_lake(customers);
        self.tool(
            &[
                "upload",
                local.path().join("raw").to_str().unwrap(),
                &format!("s3://{BUCKET}/{prefix}/raw"),
            ],
            &self.server.endpoint(),
        );
        local
    }
}

/// `seglake run jobs/demo.toml --var lake=LAKE [extra]` with the AWS
/// environment for `endpoint`.
fn run_on(lake: &str, endpoint: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec!["run", "jobs/demo.toml", "--var"];
    let var = format!("lake={lake}");
    args.push(&var);
    args.extend(extra);
    let mut all: Vec<(&str, String)> = S3::env(endpoint);
    all.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
    let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    seglake_env(&args, &pairs)
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}",
        out.status.code(),
        stderr(out)
    );
}

const TABLES: [&str; 5] = [
    "customer_features",
    "models",
    "segments",
    "segment_profiles",
    "runs",
];

#[test]
fn the_test_server_lets_one_of_many_conditional_writers_win() {
    // Delta commits on S3 rest on this: of writers creating the same log
    // entry with `If-None-Match: *`, exactly one succeeds.
    let s3 = S3::start();
    let rounds: Vec<serde_json::Value> =
        serde_json::from_str(&s3.tool(&["race", BUCKET, "8", "25"], &s3.server.endpoint()))
            .unwrap();
    assert_eq!(rounds.len(), 25);
    for r in rounds {
        assert_eq!(r["succeeded"], 1, "{r}");
        assert_eq!(r["winner_stored"], true, "{r}");
    }
}

#[test]
fn the_demo_job_reads_and_publishes_on_s3_as_it_does_locally() {
    let s3 = S3::start();
    let local = s3.upload_bank(300, "bank");
    let lake = format!("s3://{BUCKET}/bank");
    let out = run_on(
        &lake,
        &s3.server.endpoint(),
        &["--run-id", "s3-run-1", "--json"],
        &[("RUST_LOG", "debug")],
    );
    assert_ok(&out, "the run on S3");
    // Not in debug logs, errors or the lineage record it printed.
    assert!(!stderr(&out).contains(SECRET), "the secret is in the log");
    assert!(
        !stdout(&out).contains(SECRET),
        "the secret is in the output"
    );
    let record: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        record["inputs"][0]["files"][0]["path"]
            .as_str()
            .unwrap()
            .starts_with("s3://bank-lake/bank/raw/"),
        "{}",
        record["inputs"]
    );

    // The same job on the same data in a local folder, same run id.
    let out = seglake_env(
        &[
            "run",
            "jobs/demo.toml",
            "--var",
            &format!("lake={}", local.path().display()),
            "--run-id",
            "s3-run-1",
        ],
        &[],
    );
    assert_ok(&out, "the local run");
    for table in ["segments", "segment_profiles", "customer_features"] {
        let on_s3 = s3.rows(&format!("{lake}/{table}"), None);
        let here = local_rows(&local.path().join(table));
        assert!(!on_s3.is_empty());
        assert_eq!(on_s3, here, "{table} differs between S3 and local");
    }
    // Lineage on S3 holds no secret either.
    let runs = s3.rows(&format!("{lake}/runs"), None).join("\n");
    assert!(runs.contains("s3-run-1") && !runs.contains(SECRET));
}

/// Rows of a local table through the same Python reader, for comparison.
pub fn local_rows(table: &Path) -> Vec<String> {
    let out = Command::new(python())
        .arg("-c")
        .arg(
            // The deltalake wheel can abort at interpreter exit after a
            // read ("terminate called without an active exception"):
            // flush, then leave without running its teardown.
            "import json,os,sys\nfrom deltalake import DeltaTable\n\
             rows=DeltaTable(sys.argv[1]).to_pyarrow_table().to_pylist()\n\
             print('\\n'.join(sorted(json.dumps(r,sort_keys=True,default=str) for r in rows)))\n\
             sys.stdout.flush()\nos._exit(0)",
        )
        .arg(table)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn credentials_in_a_job_or_a_uri_are_refused_and_never_printed() {
    let lake = tempfile::tempdir().unwrap();
    for (from, to) in [
        (
            "[output]",
            "[output]\naws_secret_access_key = \"s3cr3t-seglake-test-d0-not-print\"",
        ),
        (
            "lake = \"../lake\"",
            "lake = \"s3://AKIA:s3cr3t-seglake-test-d0-not-print@bank-lake/x\"",
        ),
    ] {
        let job = JobVariant::new("credential", from, to);
        let out = seglake_env(&["validate", job.0.to_str().unwrap()], &[]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains("credentials"), "{}", stderr(&out));
        assert!(!stderr(&out).contains(SECRET), "{}", stderr(&out));
    }
    assert!(file_tree(lake.path()).is_empty());
    // `--help` names the variables, never values.
    let help = seglake_env(&["run", "--help"], &[("AWS_SECRET_ACCESS_KEY", SECRET)]);
    assert!(!stdout(&help).contains(SECRET));
}

/// Every table read at its latest version (so every one is readable), the
/// run id of each of its versions, and the rows of `runs`: one Python
/// reader process.
struct LakeState {
    run_ids: std::collections::BTreeMap<String, Vec<Option<String>>>,
    runs: Vec<serde_json::Value>,
}

fn lake_state(s3: &S3, lake: &str) -> LakeState {
    let mut args = vec!["state", lake];
    args.extend(TABLES);
    let state: serde_json::Value =
        serde_json::from_str(&s3.tool(&args, &s3.server.endpoint())).unwrap();
    LakeState {
        run_ids: TABLES
            .iter()
            .map(|t| {
                let ids = state["tables"][*t]["run_ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().map(String::from))
                    .collect();
                (t.to_string(), ids)
            })
            .collect(),
        runs: state["runs"].as_array().unwrap().clone(),
    }
}

/// Every succeeded run in `runs` points at versions that carry its run id,
/// and each run id is on exactly one version of each table.
fn assert_runs_agree_with_tables(state: &LakeState) {
    for run in state.runs.iter().filter(|r| r["status"] == "succeeded") {
        let id = run["run_id"].as_str().unwrap();
        for table in &TABLES[..4] {
            let carrying: Vec<usize> = state.run_ids[*table]
                .iter()
                .enumerate()
                .filter(|(_, r)| r.as_deref() == Some(id))
                .map(|(v, _)| v)
                .collect();
            assert_eq!(
                carrying.len(),
                1,
                "{table}: run {id} on versions {carrying:?}"
            );
            let recorded = run["outputs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["table"] == *table)
                .unwrap_or_else(|| panic!("run {id} records no {table}"))["version"]
                .as_i64()
                .unwrap();
            assert_eq!(recorded as usize, carrying[0], "{table}: run {id}");
        }
    }
}

#[test]
fn four_jobs_publishing_at_once_each_land_as_their_own_versions() {
    let s3 = S3::start();
    let _local = s3.upload_bank(200, "shared");
    let lake = format!("s3://{BUCKET}/shared");
    let env = S3::env(&s3.server.endpoint());
    let children: Vec<(String, Child)> = (0..4)
        .map(|i| {
            let run_id = format!("writer-{i}");
            let child = Command::new(env!("CARGO_BIN_EXE_seglake"))
                .args(["run", "jobs/demo.toml", "--var", &format!("lake={lake}")])
                .args(["--run-id", &run_id])
                .current_dir(repo_root())
                .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
                .env("RUST_LOG", "seglake_lake=warn")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (run_id, child)
        })
        .collect();
    let mut retried = 0;
    for (run_id, child) in children {
        let out = child.wait_with_output().unwrap();
        assert_ok(&out, &run_id);
        retried += stderr(&out).matches("retrying").count();
    }
    eprintln!("commits retried under contention: {retried}");
    let state = lake_state(&s3, &lake);
    for table in TABLES {
        let ids = &state.run_ids[table];
        assert_eq!(ids.len(), 4, "{table}: {ids:?}");
        let mut sorted: Vec<String> = ids.iter().cloned().map(Option::unwrap).collect();
        sorted.sort();
        assert_eq!(
            sorted,
            ["writer-0", "writer-1", "writer-2", "writer-3"],
            "{table}"
        );
    }
    assert_eq!(state.runs.len(), 4);
    assert!(state.runs.iter().all(|r| r["status"] == "succeeded"));
    assert_runs_agree_with_tables(&state);
    // Every snapshot version holds one whole segmentation.
    for v in s3.versions(&format!("{lake}/segments")) {
        assert_eq!(v["rows"], 200, "{v}");
    }
}

/// Starts a run and returns it once it starts writing data files.
fn start_until_publishing(lake: &str, endpoint: &str, run_id: &str) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_seglake"))
        .args(["run", "jobs/demo.toml", "--var", &format!("lake={lake}")])
        .args(["--run-id", run_id])
        .current_dir(repo_root())
        .envs(S3::env(endpoint).iter().map(|(k, v)| (*k, v.clone())))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("writing the data files") {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(300)).is_err() {
        let _ = child.kill();
        panic!("the run never reached publishing");
    }
    child
}

/// How long a run takes from its first data file to its exit.
fn publishing_time(lake: &str, endpoint: &str, run_id: &str) -> Duration {
    let mut child = start_until_publishing(lake, endpoint, run_id);
    let started = Instant::now();
    assert!(child.wait().unwrap().success(), "calibration run {run_id}");
    started.elapsed()
}

/// Starts a run and SIGKILLs it `delay` after it starts writing data files
/// (or lets it finish first). True when the kill came before the exit.
fn run_and_kill(lake: &str, endpoint: &str, run_id: &str, delay: Duration) -> bool {
    let mut child = start_until_publishing(lake, endpoint, run_id);
    std::thread::sleep(delay);
    let killed = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    killed
}

#[test]
fn killed_while_publishing_every_table_stays_readable_and_a_rerun_completes() {
    let s3 = S3::start();
    let _local = s3.upload_bank(150, "crash");
    let lake = format!("s3://{BUCKET}/crash");
    let endpoint = s3.server.endpoint();

    // How long publishing takes (from the first data file to the exit), to
    // spread the kills over it.
    let window = publishing_time(&lake, &endpoint, "calibrate").mul_f64(0.8);

    // A fixed-seed sequence of kill points, so a failure can be replayed.
    let mut state: u64 = 0x5eed_1a4e;
    let mut killed = 0;
    const TRIALS: usize = 20;
    for trial in 0..TRIALS {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let fraction = (state >> 11) as f64 / (1u64 << 53) as f64;
        let run_id = format!("crash-{trial}");
        killed += run_and_kill(&lake, &endpoint, &run_id, window.mul_f64(fraction)) as usize;

        // Every table reads, at whatever version is committed, and a run
        // is in `runs` as succeeded only with all its versions.
        assert_runs_agree_with_tables(&lake_state(&s3, &lake));

        // The same run id again completes the run, duplicating nothing.
        let out = run_on(&lake, &endpoint, &["--run-id", &run_id], &[]);
        assert_ok(&out, &format!("re-run of {run_id}"));
        let state = lake_state(&s3, &lake);
        assert_eq!(
            state
                .runs
                .iter()
                .filter(|r| r["run_id"] == run_id.as_str() && r["status"] == "succeeded")
                .count(),
            1,
            "{run_id}"
        );
        assert_runs_agree_with_tables(&state);
    }
    eprintln!("{killed} of {TRIALS} runs were killed before they finished");
    assert!(killed >= TRIALS / 2, "only {killed} kills landed mid-run");
}

#[test]
fn through_a_faulty_network_the_job_publishes_byte_identical_tables() {
    let s3 = S3::start();
    let _local = s3.upload_bank(150, "faults");
    let stats_dir = tempfile::tempdir().unwrap();
    let stats = stats_dir.path().join("stats.json");
    let proxy = Helper::start(
        "infra/s3/fault_proxy.py",
        &[
            "--upstream".into(),
            format!("127.0.0.1:{}", s3.server.port),
            "--stats-file".into(),
            stats.display().to_string(),
            "--seed".into(),
            "11".into(),
            "--rate-503".into(),
            "0.06".into(),
            "--rate-500-after".into(),
            "0.04".into(),
            "--rate-slow".into(),
            "0.05".into(),
            "--slow-ms".into(),
            "200".into(),
            "--rate-drop".into(),
            "0.04".into(),
        ],
    );
    // Clean: straight to the server. Faulty: through the proxy, to a
    // second output root over the same raw files.
    let raw = format!("s3://{BUCKET}/faults");
    for (root, endpoint) in [
        ("clean", s3.server.endpoint()),
        ("faulty", proxy.endpoint()),
    ] {
        let job = JobVariant::new(
            &format!("faults-{root}"),
            "root = \"${lake}\"",
            &format!("root = \"${{lake}}/{root}\""),
        );
        let out = seglake_env(
            &[
                "run",
                job.0.to_str().unwrap(),
                "--var",
                &format!("lake={raw}"),
                "--run-id",
                "faults-1",
            ],
            &S3::env(&endpoint)
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .chain([
                    ("SEGLAKE_S3_MAX_RETRIES", "15"),
                    ("SEGLAKE_S3_INIT_BACKOFF", "20ms"),
                    ("SEGLAKE_S3_MAX_BACKOFF", "500ms"),
                ])
                .collect::<Vec<_>>(),
        );
        assert_ok(&out, root);
    }
    let injected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    eprintln!("faults injected: {injected}");
    for kind in ["503", "500_after", "slow"] {
        assert!(
            injected[kind].as_u64().unwrap() > 0,
            "no {kind} fault: {injected}"
        );
    }
    assert!(
        injected["drop_before"].as_u64().unwrap() + injected["drop_after"].as_u64().unwrap() > 0,
        "{injected}"
    );
    for table in ["customer_features", "segments", "segment_profiles"] {
        let digest = |root: &str| {
            s3.tool(
                &["digest", &format!("{raw}/{root}/{table}")],
                &s3.server.endpoint(),
            )
        };
        let clean = digest("clean");
        assert!(clean.len() > 4, "{table}: no data files");
        assert_eq!(clean, digest("faulty"), "{table}: the data files differ");
        let versions = s3.versions(&format!("{raw}/faulty/{table}"));
        assert_eq!(
            versions.len(),
            1,
            "{table}: one commit, no duplicate: {versions:?}"
        );
        assert_eq!(versions[0]["run_id"], "faults-1");
    }
}
