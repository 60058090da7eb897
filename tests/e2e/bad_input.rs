//! Each kind of bad input gets an error naming what is wrong, exit code 1,
//! and leaves the lake exactly as it was: no new version, no stray file.

use std::path::{Path, PathBuf};

use crate::common::*;

/// A lake with one good run published, and a private copy of the job and
/// its SQL that a test can break.
struct Fixture {
    lake: tempfile::TempDir,
    job: PathBuf,
    sql_dir: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let lake = generated_lake(200);
        run_demo_job(lake.path());
        let root = repo_root();
        let work = lake.path().join("work");
        let sql_dir = work.join("sql");
        std::fs::create_dir_all(&sql_dir).unwrap();
        for entry in std::fs::read_dir(root.join("sql/features")).unwrap() {
            let p = entry.unwrap().path();
            std::fs::copy(&p, sql_dir.join(p.file_name().unwrap())).unwrap();
        }
        let job = work.join("job.toml");
        let text = std::fs::read_to_string(root.join("jobs/demo.toml"))
            .unwrap()
            .replace("../sql/features", "sql")
            .replace("../sql/rules", &format!("{}/sql/rules", root.display()))
            .replace("../reference/", &format!("{}/reference/", root.display()))
            .replace(
                "lake = \"../lake\"",
                &format!("lake = \"{}\"", lake.path().display()),
            );
        std::fs::write(&job, text).unwrap();
        Fixture { lake, job, sql_dir }
    }

    fn edit_job(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(&self.job).unwrap();
        assert!(text.contains(from), "job has no `{from}`");
        std::fs::write(&self.job, text.replacen(from, to, 1)).unwrap();
    }

    fn write_sql(&self, view: &str, sql: &str) {
        std::fs::write(self.sql_dir.join(format!("{view}.sql")), sql).unwrap();
    }

    fn published(&self) -> std::collections::BTreeSet<String> {
        let mut files = file_tree(&self.lake.path().join("customer_features"));
        files.extend(
            file_tree(&self.lake.path().join("runs"))
                .into_iter()
                .map(|f| format!("runs/{f}")),
        );
        files
    }

    /// `validate` and `run` both fail with exit code 1 and a message
    /// containing every one of `needles`, and nothing new is in the lake.
    fn assert_rejected(&self, needles: &[&str]) {
        self.assert_rejected_by(&["validate", "run"], needles);
    }

    /// Like `assert_rejected`, for problems found only when data is read
    /// (`validate` reads no data).
    fn assert_run_rejected(&self, needles: &[&str]) {
        self.assert_rejected_by(&["run"], needles);
    }

    fn assert_rejected_by(&self, commands: &[&str], needles: &[&str]) {
        let before = self.published();
        for command in commands {
            let out = seglake(&[command, self.job.to_str().unwrap()]);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{command}: {err}");
            for n in needles {
                assert!(err.contains(n), "{command}: `{n}` not in: {err}");
            }
        }
        assert_eq!(self.published(), before, "the lake changed");
        let versions = history_json(&self.lake.path().join("customer_features"));
        assert_eq!(versions.len(), 1, "a new version was published");
    }

    fn raw(&self, table: &str) -> PathBuf {
        self.lake.path().join("raw").join(table)
    }
}

#[test]
fn unknown_key_in_job_is_named() {
    let f = Fixture::new();
    f.edit_job("seed = 42", "seed = 42\nsead = 43");
    f.assert_rejected(&["job.toml", "sead"]);
}

#[test]
fn missing_sql_file_is_named_with_the_available_views() {
    let f = Fixture::new();
    f.edit_job("\"sessions\",", "\"sesions\",");
    f.assert_rejected(&[
        "features.views[2]",
        "sesions.sql",
        "sessions, transaction_features",
    ]);
}

#[test]
fn unreadable_source_is_named() {
    let f = Fixture::new();
    f.edit_job("/raw/events", "/raw/no_such_folder");
    f.assert_rejected(&[
        "source `events`",
        "no_such_folder",
        "no such file or folder",
    ]);
}

#[test]
fn sql_that_does_not_parse_names_the_view_file() {
    let f = Fixture::new();
    f.write_sql("sessions", "SELECT customer_id FROM events WHERE");
    f.assert_rejected(&["feature view `sessions`", "sessions.sql"]);
}

#[test]
fn unknown_column_names_the_view_and_the_column() {
    let f = Fixture::new();
    let sql = std::fs::read_to_string(f.sql_dir.join("transaction_features.sql")).unwrap();
    f.write_sql(
        "transaction_features",
        &sql.replace("MAX(amount_eur)", "MAX(amount_euro)"),
    );
    f.assert_rejected(&[
        "feature view `transaction_features`",
        "transaction_features.sql",
        "amount_euro",
    ]);
}

#[test]
fn ddl_dml_and_copy_are_refused_in_feature_views() {
    let f = Fixture::new();
    for (sql, found) in [
        (
            "CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION '/tmp/x'",
            "CREATE EXTERNAL TABLE",
        ),
        (
            "COPY (SELECT 1) TO '/tmp/seglake-copy-test.parquet'",
            "COPY",
        ),
        ("INSERT INTO customers VALUES ('x')", "INSERT INTO"),
        ("DROP TABLE customers", "DROP TABLE"),
        ("SELECT 1 AS a; SELECT 2 AS a", "2 statements"),
    ] {
        f.write_sql("sessions", sql);
        f.assert_rejected(&["only a single SELECT", found, "sessions.sql"]);
    }
    assert!(!Path::new("/tmp/seglake-copy-test.parquet").exists());
}

#[test]
fn duplicate_key_in_the_feature_table_is_named() {
    let f = Fixture::new();
    let sql = std::fs::read_to_string(f.sql_dir.join("customer_features.sql")).unwrap();
    // Joining the raw cases fans out customers with two alerts.
    let broken = sql.replace(
        "WHERE c.onboarding_date",
        "JOIN case_outcomes k ON k.customer_id = c.customer_id\nWHERE c.onboarding_date",
    );
    f.write_sql("customer_features", &broken);
    f.assert_run_rejected(&[
        "feature view `customer_features`",
        "one row per `customer_id`",
        "keys repeat",
    ]);
}

#[test]
fn missing_key_column_is_named() {
    let f = Fixture::new();
    f.edit_job(
        "key = \"customer_id\"\noutput_table",
        "key = \"client_id\"\noutput_table",
    );
    f.assert_rejected(&["client_id", "customer_features"]);
}

#[test]
fn type_drift_between_files_names_the_file_and_column() {
    let f = Fixture::new();
    // A second customers file whose onboarding_date is text.
    let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("customer_id", arrow::datatypes::DataType::Utf8, false),
        arrow::datatypes::Field::new("onboarding_date", arrow::datatypes::DataType::Utf8, false),
    ]));
    let batch = arrow::array::RecordBatch::try_new(
        schema.clone(),
        vec![
            std::sync::Arc::new(arrow::array::StringArray::from(vec!["Z1"])),
            std::sync::Arc::new(arrow::array::StringArray::from(vec!["yesterday"])),
        ],
    )
    .unwrap();
    let path = f.raw("customers").join("part-99999.parquet");
    let mut w =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None)
            .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    f.assert_rejected(&[
        "source `customers`",
        "type drift",
        "onboarding_date",
        "part-99999.parquet",
    ]);
}

#[test]
fn malformed_parquet_is_named() {
    let f = Fixture::new();
    std::fs::write(
        f.raw("events").join("part-99999.parquet"),
        b"this is not parquet",
    )
    .unwrap();
    f.assert_rejected(&["source `events`", "part-99999.parquet"]);
}

#[test]
fn empty_source_is_named() {
    let f = Fixture::new();
    let empty = f.lake.path().join("raw/empty");
    std::fs::create_dir_all(&empty).unwrap();
    f.edit_job("/raw/case_outcomes", "/raw/empty");
    f.assert_rejected(&["source `case_outcomes`", "no .parquet files"]);
}

#[test]
fn an_integer_sum_that_would_wrap_is_named() {
    let f = Fixture::new();
    let sql = std::fs::read_to_string(f.sql_dir.join("customer_features.sql")).unwrap();
    // Two customers' worth of 9e18 passes i64::MAX (9.22e18): DataFusion's
    // own sum would publish a large negative number.
    let broken = sql.replace(
        "c.kyc_risk_rating,",
        "c.kyc_risk_rating,\n    (SELECT SUM(CAST(9000000000000000000 AS BIGINT)) FROM customers) AS too_big,",
    );
    f.write_sql("customer_features", &broken);
    f.assert_run_rejected(&["overflowed the 64-bit integer range", "customer_features"]);
}

#[test]
fn non_finite_feature_is_named() {
    let f = Fixture::new();
    let sql = std::fs::read_to_string(f.sql_dir.join("customer_features.sql")).unwrap();
    let broken = sql.replace(
        "c.kyc_risk_rating,",
        "c.kyc_risk_rating,\n    CAST('inf' AS DOUBLE) AS broken_ratio,",
    );
    f.write_sql("customer_features", &broken);
    f.assert_run_rejected(&["broken_ratio", "NaN or infinite", "NULLIF"]);
}

#[test]
fn conflicting_records_sharing_a_dedupe_key_are_named() {
    use arrow::array::{Array, StringArray};
    let f = Fixture::new();
    // Copy the first transaction with a different amount: not a replay.
    let part = f.raw("transactions").join("part-00000.parquet");
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&part).unwrap(),
    )
    .unwrap()
    .with_batch_size(1)
    .build()
    .unwrap();
    let first = reader.into_iter().next().unwrap().unwrap();
    let id = first
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .value(0)
        .to_string();
    let mut columns = first.columns().to_vec();
    let amount = first.schema().index_of("amount_eur").unwrap();
    let old = columns[amount]
        .as_any()
        .downcast_ref::<arrow::array::Float64Array>()
        .unwrap()
        .value(0);
    columns[amount] = std::sync::Arc::new(arrow::array::Float64Array::from(vec![old + 1.0]));
    let changed = arrow::array::RecordBatch::try_new(first.schema(), columns).unwrap();
    assert_eq!(changed.num_rows(), 1);
    let path = f.raw("transactions").join("part-99999.parquet");
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        first.schema(),
        None,
    )
    .unwrap();
    w.write(&changed).unwrap();
    w.close().unwrap();
    f.assert_run_rejected(&["source `transactions`", "conflicting records", &id]);
}

#[test]
fn a_feature_column_named_like_a_run_column_is_named() {
    let f = Fixture::new();
    let sql = std::fs::read_to_string(f.sql_dir.join("customer_features.sql")).unwrap();
    let broken = sql.replace("c.customer_type,", "c.customer_type,\n    r.run_id,");
    f.write_sql("customer_features", &broken);
    f.assert_run_rejected(&["column `run_id`", "rename it"]);
}

impl Fixture {
    /// Writes a new file into raw source `source`: its first row, with the
    /// given columns replaced by one-element arrays, in the same schema
    /// (nullability widened where a replacement is null).
    fn add_row_with(&self, source: &str, replace: &[(&str, arrow::array::ArrayRef)]) {
        use arrow::datatypes::{Field, Schema};
        let part = std::fs::read_dir(self.raw(source))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .min()
            .unwrap();
        let first = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&part).unwrap(),
        )
        .unwrap()
        .with_batch_size(1)
        .build()
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
        let mut columns = first.columns().to_vec();
        let mut fields: Vec<Field> = first
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        for (name, value) in replace {
            let i = first.schema().index_of(name).unwrap();
            if value.null_count() > 0 {
                fields[i] = fields[i].clone().with_nullable(true);
            }
            columns[i] = value.clone();
        }
        let schema = std::sync::Arc::new(Schema::new(fields));
        let batch = arrow::array::RecordBatch::try_new(schema.clone(), columns).unwrap();
        let path = self.raw(source).join("part-99999.parquet");
        let mut w = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(&path).unwrap(),
            schema,
            None,
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }
}

fn text(value: Option<&str>) -> arrow::array::ArrayRef {
    std::sync::Arc::new(arrow::array::StringArray::from(vec![value]))
}

#[test]
fn truncated_or_corrupt_parquet_is_named_without_a_crash() {
    let bytes = std::fs::read(Fixture::new().raw("events").join("part-00000.parquet")).unwrap();
    let mut bad_footer = bytes.clone();
    let n = bad_footer.len();
    // The footer's length field claims more metadata than the file holds.
    bad_footer[n - 8..n - 4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let mut garbled = bytes.clone();
    // Valid magic and footer length, garbage metadata.
    let meta_len = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    for b in &mut garbled[n - 8 - meta_len..n - 8] {
        *b = 0xA5;
    }
    for (what, content) in [
        ("truncated", bytes[..bytes.len() / 2].to_vec()),
        ("footer length", bad_footer),
        ("garbled metadata", garbled),
    ] {
        let f = Fixture::new();
        std::fs::write(f.raw("events").join("part-99999.parquet"), content).unwrap();
        let out = seglake(&["run", f.job.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("part-99999.parquet") && stderr(&out).contains("events"),
            "{what}: {}",
            stderr(&out)
        );
        assert!(!stderr(&out).contains("internal error"), "{what}: a panic");
        assert_eq!(
            history_json(&f.lake.path().join("customer_features")).len(),
            1
        );
    }
}

#[test]
fn a_null_customer_key_is_named() {
    let f = Fixture::new();
    f.add_row_with("customers", &[("customer_id", text(None))]);
    f.assert_run_rejected(&["customer_id", "null"]);
}

#[test]
fn a_very_long_customer_key_is_named() {
    let f = Fixture::new();
    let long = format!("C{}", "9".repeat(100_000));
    f.add_row_with("customers", &[("customer_id", text(Some(&long)))]);
    f.assert_run_rejected(&["customer_id", "100001 bytes", "limit of 1024"]);
}

#[test]
fn nan_and_infinity_in_a_numeric_input_column_are_named() {
    for (tag, value) in [
        ("nan", f64::NAN),
        ("inf", f64::INFINITY),
        ("-inf", f64::NEG_INFINITY),
    ] {
        let f = Fixture::new();
        f.add_row_with(
            "transactions",
            &[
                ("transaction_id", text(Some(&format!("T-{tag}")))),
                (
                    "amount_eur",
                    std::sync::Arc::new(arrow::array::Float64Array::from(vec![value])),
                ),
            ],
        );
        // Caught where the first view casts the amount to a decimal.
        f.assert_run_rejected(&["windowed_transactions.sql", "Overflowing on"]);
    }
}

#[test]
fn names_and_uris_that_escape_the_lake_root_are_refused() {
    let f = Fixture::new();
    let original = std::fs::read_to_string(&f.job).unwrap();
    for (from, to, needles) in [
        (
            "output_table = \"customer_features\"",
            "output_table = \"../escape\"",
            vec!["output_table", "../escape", "lower-case"],
        ),
        (
            "[sources.customers]",
            "[sources.\"../customers\"]",
            vec!["sources.../customers", "lower-case"],
        ),
        (
            "root = \"${lake}\"",
            "root = \"s3://bank-lake/lake/../../other\"",
            vec!["output.root", "`..` segment"],
        ),
    ] {
        std::fs::write(&f.job, &original).unwrap();
        f.edit_job(from, to);
        f.assert_rejected(&needles);
    }
}

/// Outcome codes the job's `[outcomes]` vocabulary does not list stop the
/// run, naming every code found with its count, before anything is
/// written; `validate` (which reads no data) accepts the job.
#[test]
fn outcome_codes_outside_the_vocabulary_are_listed() {
    let f = Fixture::new();
    f.edit_job(
        "[risk]\nlabels",
        "[outcomes]\nsar_filed = [\"sar_filed\"]\nno_action = [\"no_action\"]\n\n[risk]\nlabels",
    );
    f.assert_run_rejected(&[
        "case outcomes from `case_outcomes`",
        "codes not in the job's outcome vocabulary: `false_positive` (",
        "`true_positive` (",
        "sar_filed: sar_filed; true_positive: ; false_positive: ; no_action: no_action",
    ]);
}

/// An outcomes view (an SQL file named by `[segments] outcomes`) needs the
/// key and an `outcome` column; `validate` says so.
#[test]
fn an_outcomes_view_without_an_outcome_column_is_named() {
    let f = Fixture::new();
    f.write_sql(
        "bank_cases",
        "SELECT customer_id, outcome AS code FROM case_outcomes",
    );
    f.edit_job("outcomes = \"case_outcomes\"", "outcomes = \"bank_cases\"");
    f.assert_rejected(&[
        "outcomes view `bank_cases`",
        "`outcome`",
        "customer_id, code",
    ]);
}
