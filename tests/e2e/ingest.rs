//! README "Streaming ingestion", on a real Kafka-protocol broker (Tansu,
//! started by `infra/kafka/broker.sh` on 127.0.0.1 and stopped by its pid):
//! the demo bank's transactions produced into a topic with `seglake
//! produce`, and bad messages beside them, ingested by `seglake ingest`
//! through SIGKILLs into a Delta table that an independent reader finds
//! equal to the Parquet files, every row once; the bad messages in the
//! dead-letter table, each once; metrics while it follows the topic; a
//! clean stop on SIGTERM; and a broker, topic or schema that is wrong named
//! with nothing written.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// A broker of one test, stopped (by pid) when dropped.
struct Broker {
    /// Held for its `Drop`, which stops the broker.
    _server: ScriptedServer,
    port: u16,
}

impl Broker {
    fn start(tag: &str) -> Broker {
        let server = ScriptedServer::start("infra/kafka/broker.sh", &format!("kafka-{tag}"));
        Broker {
            port: server.read("port").parse().unwrap(),
            _server: server,
        }
    }

    fn url(&self, topic: &str) -> String {
        format!("kafka://127.0.0.1:{}/{topic}", self.port)
    }

    /// Sends every row of the Parquet files in `dir` to a new topic of
    /// `partitions` partitions as a JSON object keyed by `customer_id`, each
    /// message a batch of its own. Tansu 0.6 cannot fetch from the middle
    /// of a producer's batch (it skips to the next batch), which Kafka can;
    /// one message per batch keeps a restart at any offset exact on both.
    fn send_rows_one_per_batch(&self, topic: &str, dir: &Path, partitions: i32) -> usize {
        use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
        use rdkafka::client::DefaultClientContext;
        use rdkafka::producer::{FutureProducer, FutureRecord};
        let mut config = rdkafka::ClientConfig::new();
        config.set("bootstrap.servers", format!("127.0.0.1:{}", self.port));
        let admin: AdminClient<DefaultClientContext> = config.create().unwrap();
        let producer: FutureProducer = config
            .clone()
            .set("batch.num.messages", "1")
            .set("linger.ms", "0")
            .create()
            .unwrap();
        let mut sent = 0;
        tokio_rt().block_on(async {
            let topic_spec = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
            admin
                .create_topics([&topic_spec], &AdminOptions::new())
                .await
                .unwrap();
            for batch in read_parquet_dir(dir) {
                let keys = arrow::compute::cast(
                    batch.column_by_name("customer_id").unwrap(),
                    &arrow::datatypes::DataType::Utf8,
                )
                .unwrap();
                let keys = keys
                    .as_any()
                    .downcast_ref::<arrow::array::StringArray>()
                    .unwrap();
                let mut writer = arrow::json::LineDelimitedWriter::new(Vec::new());
                writer.write(&batch).unwrap();
                writer.finish().unwrap();
                let text = writer.into_inner();
                let mut deliveries = Vec::new();
                for (row, line) in text
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .enumerate()
                {
                    let record = FutureRecord::<str, [u8]>::to(topic)
                        .payload(line)
                        .key(keys.value(row));
                    deliveries.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
                }
                for delivery in deliveries {
                    delivery.await.unwrap().map_err(|(e, _)| e).unwrap();
                    sent += 1;
                }
            }
        });
        sent
    }

    /// Sends `payloads` (None: a message without a value) to partition 0.
    fn send_raw(&self, topic: &str, payloads: &[Option<&[u8]>]) {
        use rdkafka::producer::{FutureProducer, FutureRecord};
        let producer: FutureProducer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", format!("127.0.0.1:{}", self.port))
            .create()
            .unwrap();
        tokio_rt().block_on(async {
            for payload in payloads {
                let mut record = FutureRecord::<str, [u8]>::to(topic).partition(0).key("bad");
                if let Some(p) = payload {
                    record = record.payload(p);
                }
                producer
                    .send(record, Duration::from_secs(30))
                    .await
                    .unwrap();
            }
        });
    }
}

/// The bad messages of the tests and the error each must be filed with.
const BAD: [(Option<&[u8]>, &str); 4] = [
    (Some(b"this is not json"), "not JSON"),
    (Some(b"[1, 2]"), "not a JSON object but an array"),
    (
        Some(br#"{"customer_id": "C1", "ts": "2026-01-01T00:00:00Z", "amount": 1}"#),
        "missing required field `transaction_id`",
    ),
    (None, "no payload"),
];

fn ingest_command(broker: &Broker, topic: &str, table: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_seglake"));
    command
        .args(["ingest", "--from", &broker.url(topic), "--to"])
        .arg(table)
        .args(extra)
        .current_dir(repo_root())
        .env_remove("RUST_LOG");
    command
}

/// Commits in a Delta table's log so far.
fn commits(table: &Path) -> usize {
    std::fs::read_dir(table.join("_delta_log"))
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "json")
            })
            .count()
        })
        .unwrap_or(0)
}

fn check(table: &Path, source: &Path) -> serde_json::Value {
    let dead = PathBuf::from(format!("{}_dead_letters", table.display()));
    python_json(
        "ingest_check.py",
        &[
            table.as_os_str(),
            source.as_os_str(),
            "transaction_id".as_ref(),
            dead.as_os_str(),
        ],
    )
}

#[test]
fn ingestion_is_exactly_once_through_kills_with_bad_messages_dead_lettered() {
    let lake = generated_lake(300);
    let source = lake.path().join("raw/transactions");
    let broker = Broker::start("once");
    let sent = broker.send_rows_one_per_batch("transactions", &source, 3);
    assert_eq!(sent, result_rows(&source));
    let bad: Vec<Option<&[u8]>> = BAD.iter().map(|(p, _)| *p).collect();
    broker.send_raw("transactions", &bad);

    let table = lake.path().join("stream/transactions");
    let batch = [
        "--schema-like",
        source.to_str().unwrap(),
        "--batch-messages",
        "700",
        "--batch-age",
        "200ms",
    ];
    // Killed outright three times, each after a few more commits.
    for kill_after in [2, 5, 9] {
        let mut child = ingest_command(&broker, "transactions", &table, &batch)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        while commits(&table) < kill_after {
            assert!(
                Instant::now() < deadline,
                "stuck below {kill_after} commits"
            );
            assert!(
                child.try_wait().unwrap().is_none(),
                "ingest exited while following the topic"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let mut last = ingest_command(&broker, "transactions", &table, &batch);
    let out = last.arg("--exit-at-end").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("partition(s)"), "{}", stdout(&out));

    let result = check(&table, &source);
    assert!(result["source_rows"].as_u64().unwrap() > 5_000, "{result}");
    assert_eq!(result["rows"], result["source_rows"], "{result}");
    assert_eq!(
        result["equal"], true,
        "every produced row exactly once: {result}"
    );
    let dead = result["dead_letters"].as_array().unwrap();
    assert_eq!(dead.len(), BAD.len(), "each bad message once: {result}");
    for (letter, (_, why)) in dead.iter().zip(BAD) {
        assert!(
            letter["error"].as_str().unwrap().contains(why),
            "{letter} vs {why}"
        );
        assert_eq!(letter["partition"], 0);
    }

    // A restart with nothing new commits nothing.
    let versions = commits(&table);
    let out = ingest_command(&broker, "transactions", &table, &["--exit-at-end"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("ingested 0 messages"),
        "{}",
        stdout(&out)
    );
    assert_eq!(commits(&table), versions);
}

/// `--format avro`: the bank's transactions produced as Avro records
/// (Confluent wire format, schema `tests/fixtures/transactions.avsc`, id
/// 3) are ingested equal to the Parquet files; a JSON message, a record
/// under another schema id and a cut record go to the dead letters, named;
/// an Avro schema without a column the table requires is refused.
#[test]
fn avro_messages_are_ingested_equal_to_their_rows_and_bad_ones_dead_lettered() {
    let lake = generated_lake(60);
    let source = lake.path().join("raw/transactions");
    let broker = Broker::start("avro");
    let url = broker.url("avro-transactions");
    let avsc = repo_root().join("tests/fixtures/transactions.avsc");
    let avro = [
        "--format",
        "avro",
        "--avro-schema",
        avsc.to_str().unwrap(),
        "--avro-schema-id",
        "3",
    ];
    let mut produce = vec!["produce", "--from", source.to_str().unwrap(), "--to", &url];
    produce.extend(["--key", "customer_id", "--partitions", "2"]);
    produce.extend(avro);
    seglake_ok(&produce);
    let bad: [(&[u8], &str); 3] = [
        (
            br#"{"transaction_id": "t1"}"#,
            "not in the Confluent wire format",
        ),
        (&[0, 0, 0, 0, 4, 2, b'x'], "schema id 4, not the expected 3"),
        (
            &[0, 0, 0, 0, 3, 4, b'T'],
            "field `transaction_id`: the message ends",
        ),
    ];
    let payloads: Vec<Option<&[u8]>> = bad.iter().map(|(p, _)| Some(*p)).collect();
    broker.send_raw("avro-transactions", &payloads);

    let table = lake.path().join("stream/avro");
    let mut args = vec!["--schema-like", source.to_str().unwrap(), "--exit-at-end"];
    args.extend(avro);
    let out = ingest_command(&broker, "avro-transactions", &table, &args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result = check(&table, &source);
    assert_eq!(result["rows"], result["source_rows"], "{result}");
    assert_eq!(result["equal"], true, "every row, as produced: {result}");
    let dead = result["dead_letters"].as_array().unwrap();
    assert_eq!(dead.len(), bad.len(), "{result}");
    for (_, why) in bad {
        assert!(
            dead.iter()
                .any(|d| d["error"].as_str().unwrap().contains(why)),
            "{why}: {result}"
        );
    }

    // A schema that lacks a column the table requires: refused at start.
    let partial = lake.path().join("partial.avsc");
    let text = std::fs::read_to_string(&avsc)
        .unwrap()
        .replace("{\"name\": \"currency\", \"type\": \"string\"},", "");
    std::fs::write(&partial, text).unwrap();
    let out = ingest_command(
        &broker,
        "avro-transactions",
        &table,
        &[
            "--format",
            "avro",
            "--avro-schema",
            partial.to_str().unwrap(),
            "--exit-at-end",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no field `currency`"),
        "{}",
        stderr(&out)
    );
    // Avro flags without --format avro, and the format without its schema.
    let from = source.to_str().unwrap();
    let schema = avsc.to_str().unwrap();
    for (extra, message) in [
        (vec!["--avro-schema", schema], "go with --format avro"),
        (vec!["--format", "avro"], "needs --avro-schema FILE"),
    ] {
        let mut args = vec!["produce", "--from", from, "--to", &url];
        args.extend(extra);
        assert_fails(&args, &[], 1, message);
    }
}

/// The address in the `metrics on http://ADDR/metrics` line of a running
/// ingest. Its stderr is read to the end on a thread of its own: a closed
/// pipe would fail the process's next line.
fn metrics_address(child: &mut Child) -> String {
    let stderr = child.stderr.take().unwrap();
    let (found, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("seglake ingest: metrics on http://") {
                let _ = found.send(rest.trim_end_matches("/metrics").to_string());
            }
        }
    });
    address
        .recv_timeout(Duration::from_secs(60))
        .expect("ingest printed its metrics address")
}

fn scrape(address: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut socket = std::net::TcpStream::connect(address).unwrap();
    socket
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    socket.read_to_string(&mut text).unwrap();
    text
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .reduce(|a, b| a + b)
}

#[test]
fn a_followed_topic_reports_metrics_and_stops_cleanly_on_sigterm() {
    let lake = generated_lake(60);
    let source = lake.path().join("raw/transactions");
    let broker = Broker::start("follow");
    seglake_ok(&[
        "produce",
        "--from",
        source.to_str().unwrap(),
        "--to",
        &broker.url("tx"),
        "--partitions",
        "2",
    ]);
    broker.send_raw("tx", &[Some(b"{\"oops\": true")]);
    let table = lake.path().join("stream/tx");
    let mut child = ingest_command(
        &broker,
        "tx",
        &table,
        &[
            "--schema-like",
            source.to_str().unwrap(),
            "--batch-age",
            "100ms",
            "--metrics-bind",
            "127.0.0.1:0",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let address = metrics_address(&mut child);
    let produced = result_rows(&source);
    let deadline = Instant::now() + Duration::from_secs(120);
    let text = loop {
        let text = scrape(&address);
        if metric(&text, "seglake_ingest_rows_total") == Some(produced as f64) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "rows never reached {produced}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        metric(&text, "seglake_ingest_dead_letters_total"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "seglake_ingest_messages_total"),
        Some(produced as f64 + 1.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "seglake_ingest_lag_messages"),
        Some(0.0),
        "{text}"
    );
    assert!(text.contains("partition=\"1\""), "{text}");

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains(&format!("{produced} rows into")),
        "{}",
        stdout(&out)
    );

    // The table exists now: a --schema-like with other columns is refused.
    let events = lake.path().join("raw/events");
    let args = [
        "ingest",
        "--from",
        &broker.url("tx"),
        "--to",
        table.to_str().unwrap(),
        "--schema-like",
        events.to_str().unwrap(),
        "--exit-at-end",
    ];
    let versions = commits(&table);
    assert_fails(&args, &[], 1, "--schema-like does not match the table");
    assert_eq!(commits(&table), versions);
}

/// Every row of the Parquet files in `dir`.
fn read_parquet_dir(dir: &Path) -> Vec<arrow::array::RecordBatch> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .flat_map(|file| {
            let file = std::fs::File::open(file).unwrap();
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                .unwrap()
                .build()
                .unwrap()
                .map(Result::unwrap)
        })
        .collect()
}

/// Rows in the Parquet files under `dir`.
fn result_rows(dir: &Path) -> usize {
    read_parquet_dir(dir).iter().map(|b| b.num_rows()).sum()
}
/// Runs `seglake ARGS` with `env` and checks the exit code and that stderr
/// says `message`; returns stderr and stdout together.
fn assert_fails(args: &[&str], env: &[(&str, &str)], code: i32, message: &str) -> String {
    let out = seglake_env(args, env);
    let text = format!("{}{}", stderr(&out), stdout(&out));
    assert_eq!(out.status.code(), Some(code), "{args:?}: {text}");
    assert!(
        text.contains(message),
        "{args:?}: expected `{message}` in:\n{text}"
    );
    text
}

#[test]
fn a_bad_broker_topic_schema_or_credential_is_named_and_nothing_is_written() {
    let lake = generated_lake(20);
    let source = lake.path().join("raw/transactions");
    let table = lake.path().join("stream/t");
    let before = file_tree(lake.path());
    let broker = Broker::start("bad");
    let ingest = |from: &str, extra: &[&str]| -> Vec<String> {
        let mut args = vec!["ingest", "--from", from, "--to", table.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.into_iter().map(String::from).collect()
    };
    let like = [
        "--schema-like",
        source.to_str().unwrap(),
        "--exit-at-end",
        "--connect-timeout",
        "3s",
    ];
    let run = |args: Vec<String>, env: &[(&str, &str)], code: i32, message: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_fails(&args, env, code, message)
    };

    // Nothing listens on port 1.
    run(
        ingest("kafka://127.0.0.1:1/t", &like),
        &[],
        2,
        "could not reach the Kafka broker(s) 127.0.0.1:1",
    );
    run(
        ingest(&broker.url("no-such-topic"), &like),
        &[],
        1,
        "topic `no-such-topic` does not exist",
    );
    seglake_ok(&[
        "produce",
        "--from",
        source.to_str().unwrap(),
        "--to",
        &broker.url("t"),
    ]);
    run(
        ingest(&broker.url("t"), &["--exit-at-end"]),
        &[],
        1,
        "--schema-like",
    );
    let text = run(
        ingest("kafka://bob:hunter2@127.0.0.1:9/t", &[]),
        &[],
        1,
        "credentials never go in the URL",
    );
    assert!(!text.contains("hunter2"), "{text}");
    // SASL against a broker without it: a failure, the password never printed.
    let sasl = [
        ("SEGLAKE_KAFKA_SECURITY_PROTOCOL", "sasl_plaintext"),
        ("SEGLAKE_KAFKA_SASL_USERNAME", "analyst"),
        ("SEGLAKE_KAFKA_SASL_PASSWORD", "s3cret-pa55word"),
    ];
    let text = run(ingest(&broker.url("t"), &like), &sasl, 2, "could not reach");
    assert!(!text.contains("s3cret-pa55word"), "{text}");

    assert_eq!(file_tree(lake.path()), before, "nothing was written");
}
