//! README "PostgreSQL sources", on a real PostgreSQL server (Debian's,
//! started by `infra/postgres/server.sh` on 127.0.0.1 and stopped by its
//! pid): the demo bank's customers (a table) and case outcomes (a query)
//! loaded into a database, the demo job run over them equals the same job
//! over the Parquet files, the run records its snapshots, a reproduction
//! reads the snapshot after the database changed, and a bad server,
//! password, table or query is a named error with nothing written.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// A PostgreSQL server of one test, stopped (by pid) when dropped.
struct Server {
    /// Held for its `Drop`, which stops the server.
    _server: ScriptedServer,
    port: u16,
    user: String,
    password: String,
}

impl Server {
    fn start(tag: &str) -> Server {
        let server = ScriptedServer::start("infra/postgres/server.sh", &format!("pg-{tag}"));
        Server {
            port: server.read("port").parse().unwrap(),
            user: server.read("user"),
            password: server.read("password"),
            _server: server,
        }
    }

    fn uri(&self, database: &str) -> String {
        format!(
            "postgres://{}@127.0.0.1:{}/{database}",
            self.user, self.port
        )
    }

    /// Runs `sql` in `database` with psql, failing the test on any error.
    fn psql(&self, database: &str, sql: &str) {
        let out = Command::new(psql())
            .args(["-v", "ON_ERROR_STOP=1", "-q", "-h", "127.0.0.1"])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                &self.user,
                "-d",
                database,
            ])
            .args(["-c", sql])
            .env("PGPASSWORD", &self.password)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The packaged server's psql.
fn psql() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("the test command installs postgresql")
        .flatten()
        .map(|e| e.path().join("bin/psql"))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop().expect("a psql under /usr/lib/postgresql/*/bin")
}

/// A Parquet folder as one CSV file (header first), via pyarrow.
fn parquet_to_csv(folder: &Path, csv: &Path) {
    let script = "import sys, pyarrow.dataset as ds, pyarrow.csv as pc\n\
                  t = ds.dataset(sys.argv[1], format='parquet').to_table()\n\
                  pc.write_csv(t, sys.argv[2])\n";
    let out = Command::new(python())
        .args(["-c", script])
        .arg(folder)
        .arg(csv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Database `bank` holding the generated lake's customers and case outcomes.
fn load_bank(server: &Server, lake: &Path) {
    server.psql("postgres", "CREATE DATABASE bank");
    server.psql(
        "bank",
        "CREATE TABLE customers (customer_id text PRIMARY KEY, onboarding_date date NOT NULL, \
         residence_country text NOT NULL, customer_type text NOT NULL, \
         occupation_or_sector text, kyc_risk_rating text, full_name text NOT NULL); \
         CREATE TABLE case_outcomes (case_id text PRIMARY KEY, customer_id text NOT NULL, \
         alert_date date NOT NULL, outcome text NOT NULL, decided_at timestamptz NOT NULL)",
    );
    for table in ["customers", "case_outcomes"] {
        let csv = lake.join(format!("{table}.csv"));
        parquet_to_csv(&lake.join("raw").join(table), &csv);
        server.psql(
            "bank",
            &format!(
                "\\copy {table} FROM '{}' WITH (FORMAT csv, HEADER true)",
                csv.display()
            ),
        );
        std::fs::remove_file(csv).unwrap();
    }
}

const CUSTOMERS_PARQUET: &str =
    "[sources.customers]\nuri = \"${lake}/raw/customers\"\nformat = \"parquet\"\n";
const OUTCOMES_PARQUET: &str =
    "[sources.case_outcomes]\nuri = \"${lake}/raw/case_outcomes\"\nformat = \"parquet\"\n";

/// The demo job with customers read from `customers` (TOML keys after
/// `format = "postgres"`) and case outcomes from a query, in `jobs/`.
fn postgres_job(tag: &str, uri: &str, customers: &str) -> JobVariant {
    let demo = std::fs::read_to_string(repo_root().join("jobs/demo.toml")).unwrap();
    assert!(demo.contains(CUSTOMERS_PARQUET) && demo.contains(OUTCOMES_PARQUET));
    let text = demo
        .replacen(
            CUSTOMERS_PARQUET,
            &format!("[sources.customers]\nuri = \"{uri}\"\nformat = \"postgres\"\n{customers}\n"),
            1,
        )
        .replacen(
            OUTCOMES_PARQUET,
            &format!(
                "[sources.case_outcomes]\nuri = \"{uri}\"\nformat = \"postgres\"\n\
                 query = \"SELECT case_id, customer_id, alert_date, outcome, decided_at FROM case_outcomes\"\n\
                 partitions = 1\n"
            ),
            1,
        );
    let path = JobVariant::path(&format!("postgres-{tag}"));
    std::fs::write(&path, text).unwrap();
    JobVariant(path)
}

/// A copy of `lake`'s `raw/` folder as a new lake.
fn copy_raw(lake: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    for file in file_tree(&lake.join("raw")) {
        let to = copy.path().join("raw").join(&file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(lake.join("raw").join(&file), to).unwrap();
    }
    copy
}

/// `table`'s rows by customer, without the columns that name the run.
fn rows_by_customer(lake: &Path, table: &str) -> Vec<serde_json::Value> {
    let mut rows = table_rows(lake, table);
    for row in &mut rows {
        let object = row.as_object_mut().unwrap();
        object.retain(|column, _| !column.contains("run_id") && column != "published_at");
    }
    rows.sort_by_key(|r| row_text(r, "customer_id"));
    rows
}

#[test]
fn a_run_over_postgres_equals_the_run_over_parquet_and_reproduces_from_its_snapshot() {
    let server = Server::start("run");
    let parquet_lake = generated_lake(300);
    load_bank(&server, parquet_lake.path());
    let postgres_lake = copy_raw(parquet_lake.path());

    run_demo_job(parquet_lake.path());
    let job = postgres_job("run", &server.uri("bank"), "table = \"public.customers\"");
    let out = job.run(
        postgres_lake.path(),
        &[("PGPASSWORD", server.password.as_str())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains(&server.password),
        "the password reached the log"
    );

    for table in ["customer_features", "segments"] {
        assert_eq!(
            rows_by_customer(postgres_lake.path(), table),
            rows_by_customer(parquet_lake.path(), table),
            "`{table}` differs between the postgres and the parquet run"
        );
    }

    // `runs` records each snapshot, and the run read its files.
    let runs = runs_rows(postgres_lake.path());
    let run = runs.last().unwrap();
    let run_id = row_text(run, "run_id");
    let snapshots = run["snapshots"].as_array().unwrap();
    assert_eq!(snapshots.len(), 2, "{snapshots:?}");
    let customers = snapshots
        .iter()
        .find(|s| s["source"] == "customers")
        .unwrap();
    assert_eq!(customers["rows"], 300);
    assert_eq!(customers["relation"], "public.customers");
    assert_eq!(customers["sha256"].as_str().unwrap().len(), 64);
    let location = PathBuf::from(customers["location"].as_str().unwrap());
    assert_eq!(
        location,
        postgres_lake
            .path()
            .join("_snapshots")
            .join(&run_id)
            .join("customers")
    );
    let input = run["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "customers")
        .unwrap();
    assert_eq!(input["format"], "parquet");
    assert!(
        input["files"][0]["path"]
            .as_str()
            .unwrap()
            .contains("_snapshots"),
        "{input}"
    );
    assert!(
        !serde_json::to_string(run)
            .unwrap()
            .contains(&server.password)
    );

    // The database changes; the run still reproduces from its snapshot.
    server.psql("bank", "DELETE FROM customers WHERE customer_id IN (SELECT customer_id FROM customers ORDER BY customer_id LIMIT 50)");
    let scratch = tempfile::tempdir().unwrap();
    let out = seglake(&[
        "reproduce",
        &run_id,
        "--lake",
        postgres_lake.path().to_str().unwrap(),
        "--scratch",
        scratch.path().join("again").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
}

#[test]
fn postgres_source_errors_are_named_and_nothing_is_written() {
    let server = Server::start("errors");
    let lake = generated_lake(40);
    load_bank(&server, lake.path());
    let password = server.password.as_str();
    let uri = server.uri("bank");
    let table = "table = \"public.customers\"";
    let cases: [(&str, String, &str, &str, i32); 4] = [
        (
            "unreachable",
            "postgres://seglake@127.0.0.1:1/bank".to_string(),
            table,
            password,
            2,
        ),
        ("password", uri.clone(), table, "not-the-password", 1),
        ("table", uri.clone(), "table = \"public.nope\"", password, 1),
        (
            "select",
            uri.clone(),
            "query = \"DELETE FROM customers RETURNING *\"",
            password,
            1,
        ),
    ];
    let expected = [
        "unreachable",
        "password authentication failed",
        "`public.nope` does not exist",
        "must be one SELECT",
    ];
    for ((tag, uri, customers, pw, code), message) in cases.iter().zip(expected) {
        let job = postgres_job(tag, uri, customers);
        let before = file_tree(lake.path());
        let out = job.run(lake.path(), &[("PGPASSWORD", pw)]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(*code), "{tag}: {err}");
        // Sources are snapshotted in name order: a bad server or password
        // stops the run at `case_outcomes`, a bad table or query at
        // `customers`.
        let source = match *tag {
            "unreachable" | "password" => "case_outcomes",
            _ => "customers",
        };
        assert!(
            err.contains(message) && err.contains(&format!("source `{source}`")),
            "{tag}: {err}"
        );
        assert!(!err.contains(pw), "{tag}: the password was printed");
        assert_eq!(
            file_tree(lake.path()),
            before,
            "{tag}: something was written"
        );
    }

    // `validate` asks the server for the columns and names the same error.
    let job = postgres_job("validate", &uri, "table = \"public.nope\"");
    let out = seglake_env(
        &[
            "validate",
            job.0.to_str().unwrap(),
            "--var",
            &format!("lake={}", lake.path().display()),
        ],
        &[("PGPASSWORD", password)],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`public.nope` does not exist"),
        "{}",
        stderr(&out)
    );
}
