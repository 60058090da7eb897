//! The ingestion's counters in the Prometheus text format, and a minimal
//! HTTP endpoint serving them (`GET /metrics`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// One partition's position.
#[derive(Debug, Default, Clone, Copy)]
struct PartitionGauges {
    /// Messages the broker has that are not in the table yet.
    lag: i64,
    /// The last offset committed to the table.
    committed: i64,
}

#[derive(Debug, Default)]
pub struct IngestMetrics {
    messages: AtomicU64,
    rows: AtomicU64,
    dead_letters: AtomicU64,
    commits: AtomicU64,
    partitions: Mutex<BTreeMap<i32, PartitionGauges>>,
    /// Seconds from the newest message's timestamp to its commit, last
    /// commit; as bits of an f64.
    delay_bits: AtomicU64,
}

impl IngestMetrics {
    pub fn read(&self, messages: u64) {
        self.messages.fetch_add(messages, Ordering::Relaxed);
    }

    /// A commit of `rows` rows and `dead_letters` dead letters of
    /// `partition` up to `offset`, `delay` seconds after the newest
    /// message in it was produced.
    pub fn committed(&self, partition: i32, offset: i64, rows: u64, dead_letters: u64, delay: f64) {
        self.rows.fetch_add(rows, Ordering::Relaxed);
        self.dead_letters.fetch_add(dead_letters, Ordering::Relaxed);
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.delay_bits.store(delay.to_bits(), Ordering::Relaxed);
        self.gauges(partition, |g| g.committed = offset);
    }

    pub fn lag(&self, partition: i32, lag: i64) {
        self.gauges(partition, |g| g.lag = lag);
    }

    fn gauges(&self, partition: i32, update: impl FnOnce(&mut PartitionGauges)) {
        update(
            self.partitions
                .lock()
                .expect("metrics lock")
                .entry(partition)
                .or_default(),
        );
    }

    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    pub fn dead_letters(&self) -> u64 {
        self.dead_letters.load(Ordering::Relaxed)
    }

    pub fn messages(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition of every counter and gauge.
    pub fn render(&self, topic: &str) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name}{{topic=\"{topic}\"}} {value}");
        };
        counter(
            &mut out,
            "seglake_ingest_messages_total",
            "Messages read from the topic.",
            self.messages(),
        );
        counter(
            &mut out,
            "seglake_ingest_rows_total",
            "Rows committed to the table.",
            self.rows(),
        );
        counter(
            &mut out,
            "seglake_ingest_dead_letters_total",
            "Messages committed to the dead-letter table.",
            self.dead_letters(),
        );
        counter(
            &mut out,
            "seglake_ingest_commits_total",
            "Delta commits made.",
            self.commits.load(Ordering::Relaxed),
        );
        let partitions = self.partitions.lock().expect("metrics lock").clone();
        let gauge =
            |out: &mut String, name: &str, help: &str, value: fn(&PartitionGauges) -> i64| {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
                for (p, g) in &partitions {
                    let _ = writeln!(
                        out,
                        "{name}{{topic=\"{topic}\",partition=\"{p}\"}} {}",
                        value(g)
                    );
                }
            };
        gauge(
            &mut out,
            "seglake_ingest_lag_messages",
            "Messages on the broker not yet in the table.",
            |g| g.lag,
        );
        gauge(
            &mut out,
            "seglake_ingest_committed_offset",
            "Last offset committed to the table.",
            |g| g.committed,
        );
        let delay = f64::from_bits(self.delay_bits.load(Ordering::Relaxed));
        let name = "seglake_ingest_commit_delay_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} From the newest message's timestamp to its commit, last commit.\n# TYPE {name} gauge"
        );
        let _ = writeln!(out, "{name}{{topic=\"{topic}\"}} {delay}");
        out
    }
}

/// Serves `metrics` at `GET /metrics` on `addr` until the process ends;
/// returns the bound address (port 0 picks a free one).
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<IngestMetrics>,
    topic: String,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let metrics = metrics.clone();
            let topic = topic.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 1024];
                let n = socket.read(&mut request).await.unwrap_or(0);
                let (status, body) = if request[..n].starts_with(b"GET /metrics") {
                    ("200 OK", metrics.render(&topic))
                } else {
                    (
                        "404 Not Found",
                        "only GET /metrics is served here\n".to_string(),
                    )
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok(bound)
}
