//! The `runs` table: one row per run, its columns mirroring
//! [`RunRecord`](seglake_spec::lineage::RunRecord). Nested parts (inputs
//! with their files, SQL files, quality counts) are lists of structs, which
//! Delta, DuckDB, Spark and polars all query natively.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use seglake_spec::lineage::RunRecord;

/// The lineage table's name under every output root.
pub const RUNS_TABLE: &str = "runs";

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn list_of(fields: Vec<Field>) -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(Fields::from(fields)),
        true,
    )))
}

fn counts() -> DataType {
    list_of(vec![
        Field::new("table", DataType::Utf8, false),
        Field::new("rows", DataType::Int64, false),
    ])
}

/// A non-null text column.
fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, false)
}

/// A non-null 64-bit integer column.
fn int(name: &str) -> Field {
    Field::new(name, DataType::Int64, false)
}

/// The `runs` table's columns, in the order written since the table's
/// first version (columns added later are nullable and at the end).
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        text("run_id"),
        text("job_name"),
        text("status"),
        text("spec_path"),
        text("spec_text"),
        text("spec_sha256"),
        Field::new("sql_files", sql_files(), false),
        Field::new("inputs", inputs(), false),
        int("seed"),
        Field::new("as_of", ts(), false),
        text("seglake_version"),
        Field::new("started_at", ts(), false),
        Field::new("finished_at", ts(), false),
        Field::new("rows_in", counts(), false),
        Field::new("rows_out", counts(), false),
        Field::new("quality", quality(), false),
        Field::new(
            "outputs",
            list_of(vec![text("table"), int("version")]),
            false,
        ),
        Field::new("metrics", DataType::Utf8, true),
        Field::new("openlineage", DataType::Utf8, true),
        Field::new("error", DataType::Utf8, true),
        // Nullable: the column came after the table did (rows of older runs
        // read null).
        Field::new("snapshots", snapshots(), true),
        // Nullable, as `snapshots`: how each incremental view's state was
        // brought up to date (none for jobs without such views).
        Field::new("states", states(), true),
    ]))
}

/// The job's SQL files, with their text.
fn sql_files() -> DataType {
    list_of(vec![
        text("view"),
        text("path"),
        text("sha256"),
        text("text"),
    ])
}

/// The inputs a run pinned, each with its files.
fn inputs() -> DataType {
    let files = list_of(vec![
        text("path"),
        int("size"),
        Field::new("last_modified", ts(), false),
        Field::new("etag", DataType::Utf8, true),
    ]);
    list_of(vec![
        text("name"),
        text("uri"),
        text("format"),
        Field::new("delta_version", DataType::Int64, true),
        Field::new("files", files, false),
    ])
}

/// The quality report: duplicates removed, missing values, outliers.
fn quality() -> DataType {
    let key = DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
    DataType::Struct(Fields::from(vec![
        Field::new(
            "duplicates_removed",
            list_of(vec![
                text("table"),
                Field::new("key", key, false),
                int("rows"),
            ]),
            false,
        ),
        Field::new(
            "missing_values",
            list_of(vec![text("table"), text("column"), int("rows")]),
            false,
        ),
        Field::new(
            "outliers",
            list_of(vec![
                text("rule"),
                text("table"),
                text("column"),
                text("condition"),
                int("rows"),
            ]),
            false,
        ),
    ]))
}

/// The database snapshots a run read.
fn snapshots() -> DataType {
    list_of(vec![
        text("source"),
        text("database"),
        text("relation"),
        text("location"),
        int("rows"),
        text("sha256"),
        text("server_version"),
    ])
}

/// How each incremental view's state was brought up to date.
fn states() -> DataType {
    list_of(vec![
        text("view"),
        text("table"),
        text("fingerprint"),
        text("mode"),
        Field::new("reason", DataType::Utf8, true),
        int("new_files"),
        int("days_computed"),
        int("days_kept"),
        int("days_dropped"),
    ])
}

/// Encodes run records as rows of the `runs` table.
pub fn to_batch(records: &[RunRecord]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let mut decoder = arrow::json::ReaderBuilder::new(schema()).build_decoder()?;
    decoder.serialize(records)?;
    Ok(decoder
        .flush()?
        .unwrap_or_else(|| RecordBatch::new_empty(schema())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use seglake_spec::lineage::*;

    #[test]
    fn a_run_record_encodes_into_one_row_with_its_nested_lineage() {
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let record = RunRecord {
            run_id: "run-1".into(),
            job_name: "demo".into(),
            status: RunStatus::Succeeded,
            spec_path: "/jobs/demo.toml".into(),
            spec_text: "[job]".into(),
            spec_sha256: "ab".into(),
            sql_files: vec![SqlFileRecord {
                view: "v".into(),
                path: "/v.sql".into(),
                sha256: "cd".into(),
                text: "SELECT 1".into(),
            }],
            inputs: vec![InputRecord {
                name: "tx".into(),
                uri: "/lake/raw/tx".into(),
                format: "parquet".into(),
                delta_version: None,
                files: vec![FileRecord {
                    path: "file:///lake/raw/tx/a.parquet".into(),
                    size: 10,
                    last_modified: t,
                    etag: Some("e".into()),
                }],
            }],
            seed: 42,
            as_of: t,
            seglake_version: "0.1.0".into(),
            started_at: t,
            finished_at: t,
            rows_in: vec![TableCount {
                table: "tx".into(),
                rows: 5,
            }],
            rows_out: vec![],
            quality: QualityRecord {
                duplicates_removed: vec![DuplicateCount {
                    table: "tx".into(),
                    key: vec!["id".into()],
                    rows: 1,
                }],
                missing_values: vec![],
                outliers: vec![],
            },
            outputs: vec![OutputRecord {
                table: "customer_features".into(),
                version: 3,
            }],
            metrics: Some("{\"k\": 3}".to_string()),
            openlineage: None,
            snapshots: vec![SnapshotRecord {
                source: "kyc".into(),
                database: "postgres://bank@db/core".into(),
                relation: "public.customers".into(),
                location: "/lake/_snapshots/run-1/kyc".into(),
                rows: 7,
                sha256: "ef".into(),
                server_version: "17.2".into(),
            }],
            states: vec![StateRecord {
                view: "daily".into(),
                table: "state_daily".into(),
                fingerprint: "ab:tx:ts:30".into(),
                mode: "full".into(),
                reason: Some("no state yet".into()),
                new_files: 0,
                days_computed: 30,
                days_kept: 0,
                days_dropped: 0,
            }],
            error: None,
        };
        let batch = to_batch(&[record]).unwrap();
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.schema(), schema());
        let started = batch
            .column_by_name("started_at")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
            .unwrap()
            .value(0);
        assert_eq!(started, t.timestamp_micros());
    }
}
