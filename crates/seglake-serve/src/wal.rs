//! Feedback durability: an item is acknowledged once it is in the local
//! write-ahead log and fsynced; the log is committed to the lake's
//! `feedback` table in batches (one Delta commit per flush), and a log
//! segment is deleted only after its commit landed.
//!
//! The log is a folder of segments, `feedback-000000000007.jsonl`, one JSON
//! item per line. One thread appends: it takes every item waiting, writes
//! them, fsyncs once and then acknowledges them all (group commit), so the
//! fsync cost is shared by concurrent requests. Each commit carries the
//! segment number as a Delta application transaction (`txn`) of this log's
//! instance id; after a crash, replay skips a segment whose number the table
//! already records, so no item lands twice and none is lost.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;

use seglake_lake::feedback::{CUSTOMER_COLUMN, FEEDBACK_TABLE};
use seglake_lake::{AppTransaction, append_once, transaction_version};
use seglake_spec::Location;
use tokio::sync::oneshot;

use crate::error::ServeError;
use crate::feedback::{FeedbackItem, to_batch};
use crate::metrics::Metrics;

/// Items taken in one write + fsync at most.
const GROUP_LIMIT: usize = 4096;

enum Command {
    Append(FeedbackItem, oneshot::Sender<Result<(), String>>),
    /// Close the current segment if it holds anything; reply with the
    /// segment now open (every lower-numbered one is closed).
    Rotate(oneshot::Sender<u64>),
}

/// The log and its committer's view of the `feedback` table.
pub struct Wal {
    dir: PathBuf,
    table: Location,
    app_id: String,
    tx: mpsc::Sender<Command>,
    metrics: Arc<Metrics>,
    /// Held for the life of the service: one process per log folder.
    _lock: File,
}

fn wal_err(path: &Path, message: impl std::fmt::Display) -> ServeError {
    ServeError::Wal {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("feedback-{n:012}.jsonl"))
}

/// The segment numbers in the folder, in order.
fn segments(dir: &Path) -> Result<Vec<u64>, ServeError> {
    let mut out: Vec<u64> = std::fs::read_dir(dir)
        .map_err(|e| wal_err(dir, e))?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.strip_prefix("feedback-")?
                .strip_suffix(".jsonl")?
                .parse()
                .ok()
        })
        .collect();
    out.sort_unstable();
    Ok(out)
}

/// The items of a closed segment. A last line cut short by a crash was
/// never acknowledged (acknowledgement follows the fsync of whole lines),
/// so it is dropped; any other unreadable line is an error.
fn read_segment(path: &Path) -> Result<Vec<FeedbackItem>, ServeError> {
    let text = std::fs::read_to_string(path).map_err(|e| wal_err(path, e))?;
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut items = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str(line) {
            Ok(item) => items.push(item),
            Err(_) if i + 1 == lines.len() && !complete => {
                tracing::warn!(file = %path.display(), "dropping a partly written last line (never acknowledged)");
            }
            Err(e) => return Err(wal_err(path, format!("line {}: {e}", i + 1))),
        }
    }
    Ok(items)
}

impl Wal {
    /// Opens the log in `dir` (created if needed) for the `feedback` table
    /// under `lake`, commits whatever a previous process left in it, and
    /// starts the appending thread.
    pub async fn open(dir: &Path, lake: &Path, metrics: Arc<Metrics>) -> Result<Wal, ServeError> {
        std::fs::create_dir_all(dir).map_err(|e| wal_err(dir, e))?;
        let lock_path = dir.join("lock");
        let lock = File::create(&lock_path).map_err(|e| wal_err(&lock_path, e))?;
        lock.try_lock().map_err(|_| {
            wal_err(
                dir,
                "another seglake serve uses this log folder; give each process its own --wal-dir",
            )
        })?;
        let id_path = dir.join("instance");
        let instance = match std::fs::read_to_string(&id_path) {
            Ok(id) => id.trim().to_string(),
            Err(_) => {
                let id = crate::feedback::new_id();
                write_synced(&id_path, id.as_bytes()).map_err(|e| wal_err(&id_path, e))?;
                id
            }
        };
        let table = Location::Local(lake.join(FEEDBACK_TABLE));
        let app_id = format!("seglake-serve/{instance}");
        let (tx, rx) = mpsc::channel();
        let wal = Wal {
            dir: dir.to_path_buf(),
            table,
            app_id,
            tx,
            metrics,
            _lock: lock,
        };
        // Replay before accepting anything: every segment on disk is closed.
        // New numbers follow every number used before, committed or not.
        let highest_on_disk = segments(dir)?.last().copied().unwrap_or(0);
        wal.commit_closed(u64::MAX).await?;
        let committed = transaction_version(FEEDBACK_TABLE, &wal.table, &wal.app_id)
            .await?
            .unwrap_or(0);
        let next = highest_on_disk.max(committed as u64) + 1;
        let file = open_segment(dir, next)?;
        let writer_dir = dir.to_path_buf();
        let metrics = wal.metrics.clone();
        std::thread::Builder::new()
            .name("feedback-wal".into())
            .spawn(move || write_loop(writer_dir, next, file, rx, metrics))
            .map_err(|e| wal_err(dir, e))?;
        Ok(wal)
    }

    /// Appends `item` and returns once it is on disk.
    pub async fn append(&self, item: FeedbackItem) -> Result<(), String> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Command::Append(item, ack))
            .map_err(|_| "the write-ahead log is closed".to_string())?;
        done.await
            .map_err(|_| "the write-ahead log stopped".to_string())?
    }

    /// Closes the current segment and commits every closed one.
    pub async fn flush(&self) -> Result<(), ServeError> {
        let (reply, open) = oneshot::channel();
        self.tx
            .send(Command::Rotate(reply))
            .map_err(|_| wal_err(&self.dir, "the appending thread stopped"))?;
        let open = open
            .await
            .map_err(|_| wal_err(&self.dir, "the appending thread stopped"))?;
        self.commit_closed(open).await
    }

    /// Commits every segment numbered below `open`, oldest first, then
    /// deletes it. A segment the table already records is only deleted.
    async fn commit_closed(&self, open: u64) -> Result<(), ServeError> {
        for n in segments(&self.dir)?.into_iter().filter(|&n| n < open) {
            let path = segment_path(&self.dir, n);
            let items = read_segment(&path)?;
            if !items.is_empty() {
                let batch = to_batch(&items).map_err(|e| wal_err(&path, e))?;
                let metadata = std::collections::HashMap::from([(
                    "seglake.feedback_segment".to_string(),
                    serde_json::Value::from(n),
                )]);
                let landed = append_once(
                    FEEDBACK_TABLE,
                    &self.table,
                    batch.schema(),
                    vec![batch],
                    &metadata,
                    Some(CUSTOMER_COLUMN),
                    AppTransaction {
                        app_id: self.app_id.clone(),
                        version: n as i64,
                    },
                )
                .await?;
                match landed {
                    Some(commit) => {
                        tracing::info!(
                            items = items.len(),
                            version = commit.version,
                            "feedback committed"
                        );
                        self.metrics.feedback_committed(items.len() as u64);
                    }
                    None => {
                        tracing::info!(segment = n, "feedback segment had been committed before")
                    }
                }
            }
            std::fs::remove_file(&path).map_err(|e| wal_err(&path, e))?;
        }
        Ok(())
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn open_segment(dir: &Path, n: u64) -> Result<File, ServeError> {
    let path = segment_path(dir, n);
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| wal_err(&path, e))?;
    // The new name must survive a crash too.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| wal_err(dir, e))?;
    Ok(file)
}

fn write_loop(
    dir: PathBuf,
    mut current: u64,
    mut file: File,
    rx: mpsc::Receiver<Command>,
    metrics: Arc<Metrics>,
) {
    let mut lines_in_segment = 0u64;
    let mut waiting: Vec<oneshot::Sender<Result<(), String>>> = Vec::new();
    let mut buffer: Vec<u8> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut commands = vec![first];
        while commands.len() < GROUP_LIMIT {
            match rx.try_recv() {
                Ok(c) => commands.push(c),
                Err(_) => break,
            }
        }
        for command in commands {
            match command {
                Command::Append(item, ack) => {
                    serde_json::to_writer(&mut buffer, &item).expect("items serialise");
                    buffer.push(b'\n');
                    waiting.push(ack);
                }
                Command::Rotate(reply) => {
                    lines_in_segment += sync(&mut file, &mut buffer, &mut waiting, &metrics);
                    if lines_in_segment > 0 {
                        match open_segment(&dir, current + 1) {
                            Ok(next) => {
                                file = next;
                                current += 1;
                                lines_in_segment = 0;
                            }
                            Err(e) => tracing::error!("cannot start a new log segment: {e}"),
                        }
                    }
                    let _ = reply.send(current);
                }
            }
        }
        lines_in_segment += sync(&mut file, &mut buffer, &mut waiting, &metrics);
    }
}

/// Writes and fsyncs the buffered lines, then acknowledges their items.
/// Returns the lines written.
fn sync(
    file: &mut File,
    buffer: &mut Vec<u8>,
    waiting: &mut Vec<oneshot::Sender<Result<(), String>>>,
    metrics: &Metrics,
) -> u64 {
    if waiting.is_empty() {
        return 0;
    }
    let before = file.metadata().map(|m| m.len());
    let mut result = file
        .write_all(buffer)
        .and_then(|_| file.sync_data())
        .map_err(|e| format!("the feedback log could not be written: {e}"));
    if result.is_err() {
        // Cut the failed lines off: a later write must not follow half a
        // line, which would make the segment unreadable.
        if let Err(e) = before.and_then(|len| file.set_len(len)) {
            result = Err(format!(
                "the feedback log could not be written or repaired: {e}"
            ));
        }
    }
    buffer.clear();
    let n = waiting.len() as u64;
    if result.is_ok() {
        metrics.feedback_acknowledged(n);
    }
    for ack in waiting.drain(..) {
        let _ = ack.send(result.clone());
    }
    if result.is_ok() { n } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(i: usize) -> FeedbackItem {
        let t = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        FeedbackItem {
            feedback_id: format!("id-{i}"),
            kind: "survey".into(),
            customer_id: format!("C{i}"),
            survey: Some("nps".into()),
            score: Some(i as i32 % 11),
            topic: None,
            comment: None,
            alert_id: None,
            case_id: None,
            outcome: None,
            source: "api".into(),
            occurred_at: t,
            received_at: t,
        }
    }

    async fn ids_in_table(lake: &Path) -> Vec<String> {
        use arrow::array::{Array, StringArray};
        let table = Location::Local(lake.join(FEEDBACK_TABLE));
        let mut ids = Vec::new();
        for b in seglake_lake::read_table(FEEDBACK_TABLE, &table, None)
            .await
            .unwrap()
        {
            let c = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8).unwrap();
            let c = c.as_any().downcast_ref::<StringArray>().unwrap();
            ids.extend((0..c.len()).map(|i| c.value(i).to_string()));
        }
        ids.sort();
        ids
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_segment_committed_before_a_crash_is_not_committed_again() {
        let lake = tempfile::tempdir().unwrap();
        let dir = lake.path().join("wal");
        let metrics = Arc::new(Metrics::default());
        let (segment, copy) = {
            let wal = Wal::open(&dir, lake.path(), metrics.clone()).await.unwrap();
            for i in 0..3 {
                wal.append(item(i)).await.unwrap();
            }
            let segment = segments(&dir).unwrap()[0];
            let copy = std::fs::read(segment_path(&dir, segment)).unwrap();
            wal.flush().await.unwrap();
            assert!(!segment_path(&dir, segment).exists());
            (segment, copy)
        };
        assert_eq!(ids_in_table(lake.path()).await, ["id-0", "id-1", "id-2"]);
        // A crash after the commit and before the delete leaves the segment;
        // a crash mid-write leaves half a line that was never acknowledged.
        std::fs::write(segment_path(&dir, segment), copy).unwrap();
        std::fs::write(segment_path(&dir, segment + 1), "{\"feedback_id\": \"id-").unwrap();
        let wal = Wal::open(&dir, lake.path(), metrics).await.unwrap();
        assert_eq!(ids_in_table(lake.path()).await, ["id-0", "id-1", "id-2"]);
        assert_eq!(segments(&dir).unwrap(), [segment + 2]);
        wal.append(item(3)).await.unwrap();
        wal.flush().await.unwrap();
        assert_eq!(
            ids_in_table(lake.path()).await,
            ["id-0", "id-1", "id-2", "id-3"]
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_second_process_cannot_share_the_log() {
        let lake = tempfile::tempdir().unwrap();
        let dir = lake.path().join("wal");
        let metrics = Arc::new(Metrics::default());
        let _first = Wal::open(&dir, lake.path(), metrics.clone()).await.unwrap();
        let second = Wal::open(&dir, lake.path(), metrics).await;
        assert!(
            matches!(second, Err(ServeError::Wal { message, .. }) if message.contains("--wal-dir"))
        );
    }
}
