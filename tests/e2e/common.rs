use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn seglake(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_seglake"))
        .args(args)
        .current_dir(repo_root())
        .env_remove("RUST_LOG")
        .output()
        .expect("the seglake binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Runs seglake and asserts success, returning stdout.
pub fn seglake_ok(args: &[&str]) -> String {
    let out = seglake(args);
    assert!(
        out.status.success(),
        "seglake {args:?} failed ({:?}):\n{}",
        out.status.code(),
        stderr(&out)
    );
    stdout(&out)
}

/// A lake with a small generated bank in `raw/`.
pub fn generated_lake(customers: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    seglake_ok(&[
        "generate",
        "--out",
        raw.to_str().unwrap(),
        "--customers",
        &customers.to_string(),
        "--seed",
        "7",
    ]);
    dir
}

pub fn run_demo_job(lake: &Path) -> String {
    seglake_ok(&[
        "run",
        "jobs/demo.toml",
        "--var",
        &format!("lake={}", lake.display()),
    ])
}

/// Every file under `dir`, relative, for "nothing was written" checks.
pub fn file_tree(dir: &Path) -> BTreeSet<String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.insert(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

pub fn history_json(table: &Path) -> Vec<serde_json::Value> {
    seglake_ok(&["history", table.to_str().unwrap(), "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Reads the `runs` table (latest version) as JSON rows.
pub fn runs_rows(lake: &Path) -> Vec<serde_json::Value> {
    table_rows(lake, "runs")
}

/// Reads a published table (latest version) as JSON rows, whatever the
/// Arrow types the reader chose (Utf8 or Utf8View, say).
pub fn table_rows(lake: &Path, table: &str) -> Vec<serde_json::Value> {
    let rt = tokio_rt();
    let batches = rt
        .block_on(seglake_lake::read_table(
            table,
            &seglake_spec::Location::Local(lake.join(table)),
            None,
        ))
        .unwrap();
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    for b in &batches {
        writer.write(b).unwrap();
    }
    writer.finish().unwrap();
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return vec![];
    }
    serde_json::from_slice(&bytes).unwrap()
}

pub fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The Python interpreter with `deltalake` installed (set by infra/test.sh).
pub fn python() -> PathBuf {
    match std::env::var_os("SEGLAKE_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "SEGLAKE_PYTHON is not set: run the tests with ./infra/test.sh, which installs the \
             Python deltalake reader these tests compare against"
        ),
    }
}

/// Runs `tests/python/SCRIPT` with `args` in the test virtualenv, asserts
/// it succeeded, and parses the one JSON value it prints.
pub fn python_json(script: &str, args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let out = Command::new(python())
        .arg(repo_root().join("tests/python").join(script))
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{script} failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{script} printed no JSON ({e}):\n{}", stdout(&out)))
}

/// Runs the demo job with `from` replaced by `to` against `lake` and
/// checks that it fails with exit code 1, a message containing `message`,
/// and no change to the lake. The job file sits in `jobs/` (so its relative
/// paths resolve) under a name unique to this process and `tag`.
pub fn assert_demo_variant_fails(lake: &Path, tag: &str, from: &str, to: &str, message: &str) {
    let job = JobVariant::new(tag, from, to);
    let before = file_tree(lake);
    let out = job.run(lake, &[]);
    assert_eq!(out.status.code(), Some(1), "{to}: {}", stderr(&out));
    assert!(
        stderr(&out).contains(message),
        "{to}: expected `{message}` in:\n{}",
        stderr(&out)
    );
    assert_eq!(file_tree(lake), before, "{to}: something was written");
}

/// Runs seglake with extra environment variables (and none of the ones
/// that change what a run does: RUST_LOG, the pseudonym key, OpenLineage).
pub fn seglake_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_seglake"));
    command
        .args(args)
        .current_dir(repo_root())
        .env_remove("RUST_LOG")
        .env_remove("SEGLAKE_PSEUDONYM_KEY")
        .env_remove("OPENLINEAGE_URL");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("the seglake binary runs")
}

/// A copy of the demo job with `from` replaced by `to`, in `jobs/` so its
/// relative paths resolve; removed when dropped.
pub struct JobVariant(pub PathBuf);

impl JobVariant {
    pub fn new(tag: &str, from: &str, to: &str) -> Self {
        JobVariant::of("jobs/demo.toml", tag, from, to)
    }

    /// A copy of `job` (relative to the repository) with `from` replaced.
    pub fn of(job: &str, tag: &str, from: &str, to: &str) -> Self {
        let base = std::fs::read_to_string(repo_root().join(job)).unwrap();
        assert!(base.contains(from), "{from}");
        let path = JobVariant::path(tag);
        std::fs::write(&path, base.replacen(from, to, 1)).unwrap();
        JobVariant(path)
    }

    /// A job file name in `jobs/` that no other variant uses: tests run on
    /// threads of one process, and two of them may build the same variant
    /// at once (the first to finish would remove the other's file).
    pub fn path(tag: &str) -> PathBuf {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        repo_root()
            .join("jobs")
            .join(format!("variant-{tag}-{}-{n}.toml", std::process::id()))
    }

    pub fn run(&self, lake: &Path, env: &[(&str, &str)]) -> Output {
        seglake_env(
            &[
                "run",
                self.0.to_str().unwrap(),
                "--var",
                &format!("lake={}", lake.display()),
            ],
            env,
        )
    }
}

impl Drop for JobVariant {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A JSON row's text column ("" when null or absent).
pub fn row_text(row: &serde_json::Value, column: &str) -> String {
    row[column].as_str().unwrap_or_default().to_string()
}

/// "YYYY-MM-DD HH:MM:SS" (UTC) as microseconds since the epoch.
pub fn micros(s: &str) -> i64 {
    use chrono::TimeZone;
    let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
    chrono::Utc.from_utc_datetime(&t).timestamp_micros()
}

/// "YYYY-MM-DD" as days since the epoch (Arrow's Date32).
pub fn day(s: &str) -> i32 {
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

/// Writes one batch of `columns` as a Parquet file at `path`.
pub fn write_parquet(
    path: &Path,
    schema: arrow::datatypes::SchemaRef,
    columns: Vec<arrow::array::ArrayRef>,
) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let batch = arrow::array::RecordBatch::try_new(schema.clone(), columns).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// A throwaway server started by an `infra/` script (`SCRIPT start DIR`),
/// stopped by the same script (`SCRIPT stop DIR`, by the pid it recorded)
/// when dropped. DIR is under the system temp folder, which a server
/// running as another user (PostgreSQL's, when the tests run as root) can
/// enter; the script leaves its settings (`port`, ...) there.
pub struct ScriptedServer {
    pub script: PathBuf,
    pub dir: PathBuf,
}

impl ScriptedServer {
    pub fn start(script: &str, tag: &str) -> ScriptedServer {
        let script = repo_root().join(script);
        let dir = std::env::temp_dir().join(format!("seglake-e2e-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new("bash")
            .arg(&script)
            .arg("start")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        ScriptedServer { script, dir }
    }

    /// A setting the script wrote: DIR/`name`, trimmed.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name))
            .unwrap()
            .trim()
            .to_string()
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(&self.script)
            .arg("stop")
            .arg(&self.dir)
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
