//! `seglake ingest` (a Kafka topic into a Delta table, exactly once) and
//! `seglake produce` (Parquet rows into a topic).

mod schema;
mod sink;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use seglake_spec::Location;
use seglake_stream::avro::AvroSchema;
use seglake_stream::decode::{MessageFormat, RowDecoder};
use seglake_stream::ingest::{IngestOptions, ingest as ingest_topic};
use seglake_stream::metrics::IngestMetrics;
use seglake_stream::source::KafkaSource;

use self::sink::LakeSink;
use crate::args::{FormatArgs, IngestArgs, MessageFormat as Format, ProduceArgs};
use crate::exit::{Exit, InvalidInput};

/// How often the progress line on stderr is refreshed.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

pub async fn ingest(args: IngestArgs) -> anyhow::Result<Exit> {
    let format = message_format(&args.format)?;
    let source = KafkaSource::parse(&args.from)?;
    let cwd = std::env::current_dir()?;
    let rows_at = Location::parse(&args.to, &cwd)
        .map_err(|e| InvalidInput(format!("--to {}: {e}", args.to)))?;
    let dead_text = args
        .dead_letters
        .clone()
        .unwrap_or_else(|| format!("{}_dead_letters", args.to.trim_end_matches('/')));
    let dead_at = Location::parse(&dead_text, &cwd)
        .map_err(|e| InvalidInput(format!("--dead-letters {dead_text}: {e}")))?;
    let schema = schema::target_schema(&rows_at, args.schema_like.as_deref()).await?;
    let decoder = RowDecoder::with_format(schema.clone(), format)?;
    let sink = LakeSink::new(&source.topic, rows_at.clone(), dead_at.clone(), schema);

    let metrics = Arc::new(IngestMetrics::default());
    if let Some(bind) = args.metrics_bind {
        let bound = seglake_stream::metrics::serve(bind, metrics.clone(), source.topic.clone())
            .await
            .map_err(|e| InvalidInput(format!("--metrics-bind {bind}: {e}")))?;
        eprintln!("seglake ingest: metrics on http://{bound}/metrics");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let stopper = stop.clone();
    tokio::spawn(async move {
        super::shutdown_requested("stopping: committing what was read").await;
        stopper.store(true, Ordering::Relaxed);
    });
    let progress = tokio::spawn(report_progress(metrics.clone()));
    let options = IngestOptions {
        batch_messages: args.batch_messages as usize,
        batch_age: args.batch_age,
        exit_at_end: args.exit_at_end,
        connect_wait: args.connect_timeout,
        ..IngestOptions::default()
    };
    eprintln!("seglake ingest: {source} -> {rows_at} (dead letters -> {dead_at})");
    let summary = ingest_topic(&source, &decoder, &sink, &metrics, &options, &stop).await;
    progress.abort();
    let summary = summary?;
    super::print_line(&format!(
        "ingested {} messages from {} ({} partition(s)): {} rows into {}, {} dead letters into {}",
        summary.messages,
        source,
        summary.partitions,
        summary.rows,
        rows_at,
        summary.dead_letters,
        dead_at
    ))?;
    Ok(Exit::Success)
}

/// The messages' format, with the Avro schema read from its file.
fn message_format(args: &FormatArgs) -> anyhow::Result<MessageFormat> {
    let avro_flag =
        || InvalidInput("--avro-schema and --avro-schema-id go with --format avro".to_string());
    match args.format {
        Format::Json if args.avro_schema.is_some() || args.avro_schema_id.is_some() => {
            Err(avro_flag().into())
        }
        Format::Json => Ok(MessageFormat::Json),
        Format::Avro => {
            let path = args.avro_schema.as_ref().ok_or_else(|| {
                InvalidInput(
                    "--format avro needs --avro-schema FILE (an .avsc record schema)".into(),
                )
            })?;
            let text = std::fs::read_to_string(path)
                .map_err(|e| InvalidInput(format!("--avro-schema {}: {e}", path.display())))?;
            let schema = AvroSchema::parse(&text, args.avro_schema_id)
                .map_err(|e| InvalidInput(format!("--avro-schema {}: {e}", path.display())))?;
            Ok(MessageFormat::Avro(Arc::new(schema)))
        }
    }
}

/// A line on stderr every [`PROGRESS_EVERY`] while messages arrive.
async fn report_progress(metrics: Arc<IngestMetrics>) {
    let mut last = u64::MAX;
    loop {
        tokio::time::sleep(PROGRESS_EVERY).await;
        let messages = metrics.messages();
        if messages != last {
            eprintln!(
                "  {messages} messages read, {} rows and {} dead letters committed",
                metrics.rows(),
                metrics.dead_letters()
            );
            last = messages;
        }
    }
}

pub async fn produce(args: ProduceArgs) -> anyhow::Result<Exit> {
    let source = KafkaSource::parse(&args.to)?;
    let avro = match message_format(&args.format)? {
        MessageFormat::Json => None,
        MessageFormat::Avro(schema) => Some(schema),
    };
    let batches = read_parquet(&args.from)?;
    seglake_stream::produce::ensure_topic(&source, args.partitions, args.connect_timeout).await?;
    let sent = seglake_stream::produce::produce_rows(
        &source,
        &batches,
        args.key.as_deref(),
        avro.as_deref(),
    )
    .await?;
    super::print_line(&format!("sent {sent} messages to {source}"))?;
    Ok(Exit::Success)
}

/// Every row of a Parquet file, or of the `.parquet` files of a folder in
/// name order.
fn read_parquet(path: &Path) -> anyhow::Result<Vec<arrow::array::RecordBatch>> {
    let mut batches = Vec::new();
    for file in schema::parquet_files(path)? {
        let open = std::fs::File::open(&file)
            .map_err(|e| InvalidInput(format!("{}: {e}", file.display())))?;
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(open)
            .and_then(|b| b.build())
            .map_err(|e| InvalidInput(format!("{}: not a Parquet file: {e}", file.display())))?;
        for batch in reader {
            batches.push(batch.map_err(|e| InvalidInput(format!("{}: {e}", file.display())))?);
        }
    }
    Ok(batches)
}
