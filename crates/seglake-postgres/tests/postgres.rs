//! Snapshots of a real PostgreSQL server (Debian's packages, started by
//! `infra/postgres/server.sh`): what is read back equals what was inserted,
//! the bytes do not depend on the partition count, ranges share one
//! snapshot, and every bad input gets a named error with nothing written.

mod server;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arrow::array::{
    Array, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array,
    Float64Array, Int16Array, Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use seglake_postgres::{
    PostgresError, PostgresSource, Secret, SnapshotOptions, SnapshotSummary, checksum, snapshot,
};
use sha2::{Digest, Sha256};
use tokio_postgres::Client;

const CUSTOMERS: i64 = 2000;
/// 2020-01-01T00:00:00Z in Unix microseconds.
const OPENED_BASE_MICROS: i64 = 1_577_836_800_000_000;

/// The bank: customers 1..=2000 with NULLs in every nullable column.
async fn load_bank(db: &Client) {
    db.batch_execute(&format!(
        "CREATE TABLE customers (
             id int8 PRIMARY KEY,
             name text,
             balance numeric(12, 2),
             opened_at timestamptz
         );
         INSERT INTO customers
         SELECT i,
                CASE WHEN i % 7 = 0 THEN NULL ELSE 'customer ' || i END,
                CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 37 % 100000 - 25000)::numeric / 100 END,
                CASE WHEN i % 13 = 0 THEN NULL
                     ELSE timestamptz '2020-01-01 00:00:00+00' + i * interval '3601 seconds' END
         FROM generate_series(1, {CUSTOMERS}) AS i;"
    ))
    .await
    .expect("loads the bank");
}

/// Customer `i` as inserted: name, balance in cents, opened_at in µs.
fn expected(i: i64) -> (Option<String>, Option<i128>, Option<i64>) {
    (
        (i % 7 != 0).then(|| format!("customer {i}")),
        (i % 11 != 0).then(|| (i * 37 % 100_000 - 25_000) as i128),
        (i % 13 != 0).then(|| OPENED_BASE_MICROS + i * 3_601_000_000),
    )
}

fn table_source(
    server: &server::Server,
    db: &str,
    table: &str,
    partitions: usize,
) -> PostgresSource {
    PostgresSource {
        uri: server.uri(db),
        table: Some(table.into()),
        query: None,
        partition_column: None,
        partitions,
    }
}

fn query_source(server: &server::Server, db: &str, query: &str) -> PostgresSource {
    PostgresSource {
        uri: server.uri(db),
        table: None,
        query: Some(query.into()),
        partition_column: None,
        partitions: 1,
    }
}

fn password(server: &server::Server) -> Secret {
    Secret::new(server.password.clone())
}

/// Small files, so the bank spans several.
fn options() -> SnapshotOptions {
    SnapshotOptions {
        rows_per_file: 700,
        row_group_rows: 300,
        ..SnapshotOptions::default()
    }
}

fn read_back(dir: &Path) -> Vec<RecordBatch> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let mut batches = Vec::new();
    for path in names {
        let file = std::fs::File::open(&path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        batches.extend(reader.map(|b| b.unwrap()));
    }
    batches
}

/// Nothing at `output`, and no half-written sibling either.
fn assert_nothing_written(output: &Path) {
    assert!(!output.exists(), "{} exists", output.display());
    if let Ok(entries) = std::fs::read_dir(output.parent().unwrap()) {
        let left: Vec<_> = entries.map(|e| e.unwrap().file_name()).collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

async fn snapshot_err(
    source: &PostgresSource,
    password: Option<&Secret>,
    output: &Path,
) -> PostgresError {
    let err = snapshot(source, password, output, &options())
        .await
        .expect_err("the snapshot fails");
    assert_nothing_written(output);
    err
}

/// The error with its whole chain, as the binary prints it.
fn chain(err: &PostgresError) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_equals_the_inserted_rows() {
    let server = server::server();
    let db = server.database("bank_rows").await;
    load_bank(&db).await;
    let out = tempfile::tempdir().unwrap();
    let output = out.path().join("snap/customers");
    let summary = snapshot(
        &table_source(&server, "bank_rows", "customers", 1),
        Some(&password(&server)),
        &output,
        &options(),
    )
    .await
    .expect("snapshot");

    assert_eq!(summary.rows, CUSTOMERS as u64);
    assert_eq!(
        summary.partition_column.as_deref(),
        Some("id"),
        "the primary key"
    );
    let names: Vec<_> = summary.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "part-00000.parquet",
            "part-00001.parquet",
            "part-00002.parquet"
        ]
    );
    assert_eq!(
        summary.files.iter().map(|f| f.rows).collect::<Vec<_>>(),
        [700, 700, 600]
    );
    // Nothing but the part files: no spool, no staging directory.
    let mut on_disk: Vec<_> = std::fs::read_dir(&output)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, names);
    assert_eq!(
        std::fs::read_dir(output.parent().unwrap()).unwrap().count(),
        1
    );
    assert_checksums(&summary);

    let batches = read_back(&output);
    let schema = batches[0].schema();
    let types: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(
        types,
        [
            DataType::Int64,
            DataType::Utf8,
            DataType::Decimal128(12, 2),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ]
    );
    let mut i = 0;
    for batch in &batches {
        let ids = batch
            .column(0)
            .as_primitive::<arrow::datatypes::Int64Type>();
        let names = batch
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let balances = batch
            .column(2)
            .as_any()
            .downcast_ref::<Decimal128Array>()
            .unwrap();
        let opened = batch
            .column(3)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap();
        for row in 0..batch.num_rows() {
            i += 1;
            assert_eq!(ids.value(row), i);
            let got = (
                names.is_valid(row).then(|| names.value(row).to_string()),
                balances.is_valid(row).then(|| balances.value(row)),
                opened.is_valid(row).then(|| opened.value(row)),
            );
            assert_eq!(got, expected(i), "customer {i}");
        }
    }
    assert_eq!(i, CUSTOMERS);
}

/// The recorded checksums are those of the files on disk, and the overall
/// one is `cat part-*.parquet | sha256sum`.
fn assert_checksums(summary: &SnapshotSummary) {
    let mut all = Sha256::new();
    for file in &summary.files {
        let bytes = std::fs::read(summary.location.join(&file.name)).unwrap();
        assert_eq!(bytes.len() as u64, file.bytes);
        assert_eq!(hex::encode(Sha256::digest(&bytes)), file.sha256);
        all.update(&bytes);
    }
    assert_eq!(hex::encode(all.finalize()), summary.sha256);
    assert_eq!(checksum(&summary.location).unwrap(), summary.sha256);
}

fn file_bytes(summary: &SnapshotSummary) -> Vec<(String, Vec<u8>)> {
    summary
        .files
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                std::fs::read(summary.location.join(&f.name)).unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_ranges_equal_one_reader_byte_for_byte() {
    let server = server::server();
    let db = server.database("bank_parallel").await;
    load_bank(&db).await;
    let out = tempfile::tempdir().unwrap();
    let pw = password(&server);

    let mut sources = vec![];
    for partitions in [1, 3] {
        // The table (ranges of its primary key) ...
        sources.push((
            table_source(&server, "bank_parallel", "customers", partitions),
            partitions,
        ));
        // ... and a query whose partition column repeats (and is NULL for
        // some rows), so rows are ordered by every column.
        let mut query = query_source(
            &server,
            "bank_parallel",
            "SELECT NULLIF(id % 10, 3) AS bucket, name, balance FROM customers",
        );
        query.partition_column = Some("bucket".into());
        query.partitions = partitions;
        sources.push((query, partitions));
    }
    let mut summaries = vec![];
    for (n, (source, partitions)) in sources.iter().enumerate() {
        let output = out.path().join(format!("snap-{n}"));
        let summary = snapshot(source, Some(&pw), &output, &options())
            .await
            .unwrap();
        assert_eq!(summary.ranges.len(), *partitions, "{source:?}");
        assert_eq!(summary.rows, CUSTOMERS as u64);
        summaries.push(summary);
    }
    // [table x1, query x1, table x3, query x3]
    for (single, parallel) in [(0, 2), (1, 3)] {
        assert_eq!(summaries[single].sha256, summaries[parallel].sha256);
        assert_eq!(
            file_bytes(&summaries[single]),
            file_bytes(&summaries[parallel])
        );
    }
    let ranged_rows: u64 = summaries[3].ranges.iter().map(|r| r.rows).sum();
    assert_eq!(ranged_rows, CUSTOMERS as u64);
    assert!(
        summaries[3].ranges.iter().all(|r| r.rows > 0),
        "{:?}",
        summaries[3].ranges
    );
    // The query's rows: bucket ascending, NULL last, then name, balance.
    let batches = read_back(&summaries[3].location);
    let buckets: Vec<Option<i64>> = batches
        .iter()
        .flat_map(|b| {
            let a = b.column(0).as_primitive::<arrow::datatypes::Int64Type>();
            (0..a.len())
                .map(|i| a.is_valid(i).then(|| a.value(i)))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut sorted = buckets.clone();
    sorted.sort_by_key(|b| (b.is_none(), *b));
    assert_eq!(buckets, sorted);
    assert_eq!(buckets.iter().filter(|b| b.is_none()).count(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_read_one_snapshot_whatever_is_committed_meanwhile() {
    let server = server::server();
    let db = server.database("bank_consistency").await;
    load_bank(&db).await;
    let out = tempfile::tempdir().unwrap();
    let output = out.path().join("snap");
    // Every evaluation of the query sleeps: the coordinator's min/max first,
    // then each range's reader. Rows committed while the coordinator sleeps
    // come after the snapshot was exported and before any reader attached.
    let mut source = query_source(
        &server,
        "bank_consistency",
        "SELECT c.id, c.name FROM customers c, (SELECT pg_sleep(1.5)) AS pause",
    );
    source.partition_column = Some("id".into());
    source.partitions = 3;
    let pw = password(&server);
    let taking = {
        let (source, output, pw) = (source.clone(), output.clone(), pw.clone());
        tokio::spawn(async move { snapshot(&source, Some(&pw), &output, &options()).await })
    };
    wait_for_planning(&db).await;
    db.batch_execute(
        "INSERT INTO customers (id, name) SELECT i, 'late' FROM generate_series(3001, 3100) i;
         DELETE FROM customers WHERE id <= 100;",
    )
    .await
    .unwrap();
    let summary = taking.await.unwrap().expect("snapshot");
    assert_eq!(summary.ranges.len(), 3);
    assert_eq!(
        summary.rows, CUSTOMERS as u64,
        "neither the inserts nor the deletes"
    );
    let batches = read_back(&output);
    let first = batches[0]
        .column(0)
        .as_primitive::<arrow::datatypes::Int64Type>()
        .value(0);
    assert_eq!(first, 1);
}

/// Waits (up to 20 s) until seglake's coordinator runs its min/max query,
/// which it does after exporting the snapshot.
async fn wait_for_planning(db: &Client) {
    let started = Instant::now();
    loop {
        let row = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'seglake' \
                 AND state = 'active' AND query LIKE 'SELECT min(%'",
                &[],
            )
            .await
            .unwrap();
        if row.get::<_, i64>(0) > 0 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the snapshot never planned"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mapped_type_round_trips() {
    let server = server::server();
    let db = server.database("bank_types").await;
    db.batch_execute(
        "CREATE TABLE t (
             k int4, b bool, s int2, f4 real, f8 float8, d date, ts timestamp,
             u uuid, raw bytea, v varchar(10), c char(4), n numeric(5, 3)
         );
         INSERT INTO t VALUES
           (1, true, -7, 1.5, -2.25, '1999-12-31', '2000-01-01 00:00:01.000002',
            'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff10', 'vé', 'ab', -12.345),
           (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);",
    )
    .await
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = out.path().join("snap");
    let source = query_source(
        &server,
        "bank_types",
        "WITH x AS (SELECT * FROM t) SELECT * FROM x;",
    );
    snapshot(&source, Some(&password(&server)), &output, &options())
        .await
        .expect("snapshot");
    let batch = &read_back(&output)[0];
    let col = |i: usize| batch.column(i).clone();
    assert_eq!(
        col(0)
            .as_any()
            .downcast_ref::<Int32Array>()
            .unwrap()
            .values(),
        &[1, 2]
    );
    assert!(
        col(1)
            .as_any()
            .downcast_ref::<BooleanArray>()
            .unwrap()
            .value(0)
    );
    assert_eq!(
        col(2)
            .as_any()
            .downcast_ref::<Int16Array>()
            .unwrap()
            .value(0),
        -7
    );
    assert_eq!(
        col(3)
            .as_any()
            .downcast_ref::<Float32Array>()
            .unwrap()
            .value(0),
        1.5
    );
    assert_eq!(
        col(4)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .value(0),
        -2.25
    );
    assert_eq!(
        col(5)
            .as_any()
            .downcast_ref::<Date32Array>()
            .unwrap()
            .value(0),
        10_956
    );
    assert_eq!(
        col(6)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap()
            .value(0),
        946_684_801_000_002
    );
    assert_eq!(
        col(6).data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, None)
    );
    let text = |i: usize| {
        col(i)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .value(0)
            .to_string()
    };
    assert_eq!(text(7), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_eq!(
        col(8)
            .as_any()
            .downcast_ref::<BinaryArray>()
            .unwrap()
            .value(0),
        [0, 255, 16]
    );
    assert_eq!(text(9), "vé");
    assert_eq!(text(10), "ab  ", "char(n) keeps its padding");
    let n = col(11);
    assert_eq!(n.data_type(), &DataType::Decimal128(5, 3));
    assert_eq!(
        n.as_any()
            .downcast_ref::<Decimal128Array>()
            .unwrap()
            .value(0),
        -12_345
    );
    for i in 1..batch.num_columns() {
        assert!(batch.column(i).is_null(1), "column {i} keeps its NULL");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_named_after_a_bounded_wait() {
    let out = tempfile::tempdir().unwrap();
    let output = out.path().join("snap");
    // Refused: nothing listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let source = PostgresSource {
        uri: format!("postgres://bank@127.0.0.1:{port}/bank"),
        table: Some("customers".into()),
        query: None,
        partition_column: None,
        partitions: 1,
    };
    let err = snapshot_err(&source, None, &output).await;
    assert!(matches!(err, PostgresError::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("127.0.0.1:{port} is unreachable")),
        "{err}"
    );

    // Silent: a listener that never answers; the connect timeout bounds it.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let source = PostgresSource {
        uri: format!("postgres://bank@{}/bank", silent.local_addr().unwrap()),
        ..source
    };
    let quick = SnapshotOptions {
        connect_timeout: Duration::from_secs(1),
        ..options()
    };
    let started = Instant::now();
    let err = snapshot(&source, None, &output, &quick).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, PostgresError::Unreachable { .. }), "{err:?}");
    assert_nothing_written(&output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_named_without_the_password() {
    let server = server::server();
    let out = tempfile::tempdir().unwrap();
    let output = out.path().join("snap");
    let source = table_source(&server, "postgres", "customers", 1);
    let wrong = "Wr0ng-Passw0rd-xyzzy";
    let err = snapshot_err(&source, Some(&Secret::new(wrong)), &output).await;
    assert!(
        matches!(err, PostgresError::AuthenticationFailed { .. }),
        "{err:?}"
    );
    let text = chain(&err);
    assert!(
        text.contains(&format!(
            "password authentication failed for user `{}`",
            server.user
        )),
        "{text}"
    );
    assert!(!text.contains(wrong) && !format!("{err:?}").contains(wrong));

    let err = snapshot_err(&source, None, &output).await;
    assert!(
        matches!(err, PostgresError::PasswordRequired { .. }),
        "{err:?}"
    );

    // A password in the URI is refused before anything is tried.
    let mut leaky = source.clone();
    leaky.uri = leaky.uri.replace('@', &format!(":{wrong}@"));
    let err = snapshot_err(&leaky, None, &output).await;
    assert!(matches!(err, PostgresError::PasswordInUri), "{err:?}");
    assert!(!format!("{err} {err:?}").contains(wrong));

    let missing_db = table_source(&server, "no_such_db", "customers", 1);
    let err = snapshot_err(&missing_db, Some(&password(&server)), &output).await;
    assert!(
        err.to_string()
            .contains("database `no_such_db` does not exist"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_table_and_non_select_queries_are_named() {
    let server = server::server();
    let db = server.database("bank_errors").await;
    load_bank(&db).await;
    let out = tempfile::tempdir().unwrap();
    let output = out.path().join("snap");
    let pw = password(&server);

    let err = snapshot_err(
        &table_source(&server, "bank_errors", "custmers", 1),
        Some(&pw),
        &output,
    )
    .await;
    assert!(matches!(err, PostgresError::UnknownTable { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "postgres source: table `custmers` does not exist in database `bank_errors` (tables: customers)"
    );

    for (query, reason) in [
        ("DELETE FROM customers", "it starts with `DELETE`"),
        ("SELECT 1; DELETE FROM customers", "more than one statement"),
    ] {
        let err = snapshot_err(
            &query_source(&server, "bank_errors", query),
            Some(&pw),
            &output,
        )
        .await;
        assert!(matches!(err, PostgresError::NotASelect { .. }), "{err:?}");
        assert!(err.to_string().contains(reason), "{err}");
    }
    // A write hidden in a SELECT meets the read-only transaction.
    db.batch_execute("CREATE SEQUENCE s").await.unwrap();
    let err = snapshot_err(
        &query_source(&server, "bank_errors", "SELECT nextval('s') AS n"),
        Some(&pw),
        &output,
    )
    .await;
    assert!(err.to_string().contains("read-only transaction"), "{err}");

    let count: i64 = db
        .query_one("SELECT count(*) FROM customers", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, CUSTOMERS, "nothing was deleted");

    let mut unknown_partition = table_source(&server, "bank_errors", "customers", 2);
    unknown_partition.partition_column = Some("nope".into());
    let err = snapshot_err(&unknown_partition, Some(&pw), &output).await;
    assert_eq!(
        err.to_string(),
        "postgres source: partition column `nope` is not a column of the table `customers` \
         (columns: id, name, balance, opened_at)"
    );

    let mut bad_partition = table_source(&server, "bank_errors", "customers", 2);
    bad_partition.partition_column = Some("name".into());
    let err = snapshot_err(&bad_partition, Some(&pw), &output).await;
    assert!(
        err.to_string()
            .contains("partition column `name` has type text"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmappable_types_are_named_with_their_column() {
    let server = server::server();
    let db = server.database("bank_types_bad").await;
    db.batch_execute(
        "CREATE TABLE branches (id int8 PRIMARY KEY, location point);
         CREATE TABLE limits (id int8 PRIMARY KEY, band int4range, tags text[]);
         CREATE TABLE ledger (id int8 PRIMARY KEY, amount numeric);
         INSERT INTO branches VALUES (1, '(1,2)');",
    )
    .await
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = out.path().join("snap");
    let pw = password(&server);
    for (table, message) in [
        (
            "branches",
            "column `location` has type point, which seglake cannot map",
        ),
        ("limits", "column `band` has type int4range"),
        (
            "ledger",
            "column `amount` has type numeric (no declared precision and scale)",
        ),
    ] {
        let err = snapshot_err(
            &table_source(&server, "bank_types_bad", table, 1),
            Some(&pw),
            &output,
        )
        .await;
        assert!(
            matches!(err, PostgresError::UnsupportedType { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(message), "{err}");
    }
    let err = snapshot_err(
        &query_source(&server, "bank_types_bad", "SELECT tags FROM limits"),
        Some(&pw),
        &output,
    )
    .await;
    assert!(
        err.to_string().contains("column `tags` has type text[]"),
        "{err}"
    );
    // A value with no Arrow form fails the read midway: nothing is left.
    db.batch_execute(
        "CREATE TABLE events (id int8 PRIMARY KEY, at timestamptz);
         INSERT INTO events SELECT i, timestamptz '2024-01-01' FROM generate_series(1, 5000) i;
         INSERT INTO events VALUES (5001, 'infinity');",
    )
    .await
    .unwrap();
    let err = snapshot_err(
        &table_source(&server, "bank_types_bad", "events", 2),
        Some(&pw),
        &output,
    )
    .await;
    assert_eq!(
        err.to_string(),
        "postgres source: column `at`: an infinite timestamp has no Arrow value"
    );
    // The cast the message suggests works.
    let cast = query_source(
        &server,
        "bank_types_bad",
        "SELECT id, amount::numeric(18, 2) AS amount FROM ledger",
    );
    snapshot(&cast, Some(&pw), &output, &options())
        .await
        .expect("a cast numeric maps");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_output_is_never_overwritten() {
    let server = server::server();
    let db = server.database("bank_exists").await;
    load_bank(&db).await;
    let out = tempfile::tempdir().unwrap();
    let output = out.path().join("snap");
    std::fs::create_dir(&output).unwrap();
    std::fs::write(output.join("keep.txt"), "mine").unwrap();
    let err = snapshot(
        &table_source(&server, "bank_exists", "customers", 1),
        Some(&password(&server)),
        &output,
        &options(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PostgresError::OutputExists { .. }), "{err:?}");
    assert_eq!(
        std::fs::read_to_string(output.join("keep.txt")).unwrap(),
        "mine"
    );
}
