//! The outbox: which deliveries are settled, per endpoint, on local disk.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::DeliverError;
use crate::endpoint::validate_name;

const EXTENSION: &str = "jsonl";

/// How a delivery was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The endpoint answered 2xx.
    Delivered,
    /// A permanent refusal (4xx other than 408 and 429, or a redirect), or
    /// every attempt failed. Not retried by later runs.
    DeadLetter,
}

/// One line of an outbox file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRecord {
    pub key: String,
    pub status: Status,
    /// Attempts made, the successful one included.
    pub attempts: u32,
    /// The last failure: an HTTP status or a transport error, never a body
    /// or secret.
    pub last_error: Option<String>,
    /// When the delivery was settled.
    pub at: DateTime<Utc>,
}

/// The settled deliveries of every endpoint, kept in a local directory.
///
/// One append-only JSON-lines file per endpoint, `<endpoint name>.jsonl`,
/// one [`OutboxRecord`] per line and per settled delivery:
///
/// ```json
/// {"key":"alert:17","status":"delivered","attempts":2,"last_error":"HTTP 503 Service Unavailable","at":"2025-06-01T10:00:00.123Z"}
/// {"key":"alert:18","status":"dead_letter","attempts":1,"last_error":"HTTP 400 Bad Request","at":"2025-06-01T10:00:01Z"}
/// ```
///
/// A line is written and `fsync`ed before the delivery is reported settled,
/// so a settled delivery is never sent again. A crash can leave the last line
/// half written (or whole but without its newline); that delivery was never
/// reported settled, so opening the outbox cuts the torn line off and the
/// next run sends the delivery again, under the same idempotency key. A
/// complete line that does not parse is damage of another kind and an error.
///
/// Only one process may use an outbox directory at a time. Each endpoint's
/// records are held in memory while the outbox is open.
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    logs: HashMap<String, EndpointLog>,
}

impl Outbox {
    /// Opens (creating if needed) the outbox in `dir`, reading every
    /// endpoint's file and dropping a torn last line.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, DeliverError> {
        let dir = dir.as_ref().to_path_buf();
        let io_error = |source| DeliverError::OutboxIo {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io_error)?;
        let mut logs = HashMap::new();
        for entry in std::fs::read_dir(&dir).map_err(io_error)? {
            let path = entry.map_err(io_error)?.path();
            if let Some(name) = endpoint_of(&path) {
                logs.insert(name, EndpointLog::open(path)?);
            }
        }
        Ok(Self { dir, logs })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file holding `endpoint`'s records.
    pub fn file_path(&self, endpoint: &str) -> PathBuf {
        self.dir.join(format!("{endpoint}.{EXTENSION}"))
    }

    /// How `key` was settled for `endpoint`, if it was.
    pub fn status(&self, endpoint: &str, key: &str) -> Option<Status> {
        self.record(endpoint, key).map(|r| r.status)
    }

    pub fn record(&self, endpoint: &str, key: &str) -> Option<&OutboxRecord> {
        self.logs.get(endpoint)?.records.get(key)
    }

    /// Every settled delivery of `endpoint`, in no particular order.
    pub fn records(&self, endpoint: &str) -> impl Iterator<Item = &OutboxRecord> {
        self.logs
            .get(endpoint)
            .into_iter()
            .flat_map(|log| log.records.values())
    }

    /// The logs of `names` (distinct, valid endpoint names) in that order,
    /// creating the files of endpoints new to this outbox.
    pub(crate) fn logs_for(
        &mut self,
        names: &[&str],
    ) -> Result<Vec<&mut EndpointLog>, DeliverError> {
        for name in names {
            if !self.logs.contains_key(*name) {
                let log = EndpointLog::create(self.file_path(name), &self.dir)?;
                self.logs.insert(name.to_string(), log);
            }
        }
        let mut by_name: HashMap<&str, &mut EndpointLog> = self
            .logs
            .iter_mut()
            .map(|(name, log)| (name.as_str(), log))
            .collect();
        names
            .iter()
            .map(|name| {
                by_name
                    .remove(name)
                    .ok_or_else(|| DeliverError::DuplicateEndpoint {
                        endpoint: name.to_string(),
                    })
            })
            .collect()
    }
}

/// The endpoint whose file `path` is, if it is one.
fn endpoint_of(path: &Path) -> Option<String> {
    if path.extension()? != EXTENSION || !path.is_file() {
        return None;
    }
    let name = path.file_stem()?.to_str()?;
    validate_name(name).ok()?;
    Some(name.to_string())
}

/// One endpoint's file, open for appending, and what it holds.
#[derive(Debug)]
pub(crate) struct EndpointLog {
    path: PathBuf,
    file: File,
    records: HashMap<String, OutboxRecord>,
    /// Set when a write failed part-way: appending after a partial line
    /// would bury it mid-file, where it reads as corruption.
    broken: bool,
}

impl EndpointLog {
    fn open(path: PathBuf) -> Result<Self, DeliverError> {
        let io_error = |source| DeliverError::OutboxIo {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io_error)?;
        let mut content = Vec::new();
        file.read_to_end(&mut content).map_err(io_error)?;
        let (records, complete) = parse(&path, &content)?;
        if complete < content.len() {
            drop_torn_tail(&file, complete).map_err(io_error)?;
            tracing::warn!(
                file = %path.display(),
                bytes = content.len() - complete,
                "outbox: dropped a torn last line (a write interrupted by a crash)"
            );
        }
        Ok(Self {
            path,
            file,
            records,
            broken: false,
        })
    }

    /// A new, empty file, made durable with its directory entry so that a
    /// crash cannot lose the file while keeping what is written to it.
    fn create(path: PathBuf, dir: &Path) -> Result<Self, DeliverError> {
        let created = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .and_then(|_| sync_dir(dir));
        created.map_err(|source| DeliverError::OutboxIo {
            path: path.clone(),
            source,
        })?;
        Self::open(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn status(&self, key: &str) -> Option<Status> {
        self.records.get(key).map(|r| r.status)
    }

    /// Appends `record` and waits until it is on disk.
    pub(crate) fn append(&mut self, record: OutboxRecord) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other(
                "an earlier write to this file failed; reopen the outbox",
            ));
        }
        let mut line = serde_json::to_vec(&record).map_err(io::Error::other)?;
        line.push(b'\n');
        // One write of the whole line, then fsync: a crash leaves at worst a
        // torn last line, which `open` drops. Plain blocking calls (a small
        // append and its fsync, once per delivery): with no await between
        // the write and the in-memory record, a cancelled `deliver` cannot
        // leave one without the other.
        let written = self
            .file
            .write_all(&line)
            .and_then(|()| self.file.sync_data());
        if written.is_err() {
            self.broken = true;
        }
        written?;
        self.records.insert(record.key.clone(), record);
        Ok(())
    }
}

/// The records in `content` and the length of its complete lines. Text after
/// the last newline is a torn write; a complete line that does not parse is
/// damage this crate did not cause, so it is an error.
fn parse(
    path: &Path,
    content: &[u8],
) -> Result<(HashMap<String, OutboxRecord>, usize), DeliverError> {
    let complete = content
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let mut records = HashMap::new();
    for (index, line) in content[..complete].split(|&b| b == b'\n').enumerate() {
        if line.trim_ascii().is_empty() {
            continue;
        }
        let record: OutboxRecord =
            serde_json::from_slice(line).map_err(|source| DeliverError::OutboxCorrupt {
                path: path.to_path_buf(),
                line: index + 1,
                source,
            })?;
        records.insert(record.key.clone(), record);
    }
    Ok((records, complete))
}

/// Cuts the file back to its complete lines, so the next append starts on a
/// line of its own.
fn drop_torn_tail(file: &File, complete: usize) -> io::Result<()> {
    file.set_len(complete as u64)?;
    file.sync_data()
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Directories cannot be opened as files here; the entry is made durable
    // with the file's own metadata.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str, status: Status) -> OutboxRecord {
        OutboxRecord {
            key: key.into(),
            status,
            attempts: 3,
            last_error: Some("HTTP 503 Service Unavailable".into()),
            at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        }
    }

    fn append(outbox: &mut Outbox, endpoint: &str, record: OutboxRecord) {
        outbox.logs_for(&[endpoint]).unwrap()[0]
            .append(record)
            .unwrap();
    }

    #[test]
    fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path()).unwrap();
        append(&mut outbox, "cases", record("alert:1", Status::Delivered));
        append(&mut outbox, "cases", record("alert:2", Status::DeadLetter));
        append(&mut outbox, "other", record("alert:1", Status::DeadLetter));
        drop(outbox);

        let outbox = Outbox::open(dir.path()).unwrap();
        assert_eq!(outbox.status("cases", "alert:1"), Some(Status::Delivered));
        assert_eq!(outbox.status("cases", "alert:2"), Some(Status::DeadLetter));
        assert_eq!(outbox.status("other", "alert:1"), Some(Status::DeadLetter));
        assert_eq!(outbox.status("other", "alert:2"), None);
        assert_eq!(
            outbox.record("cases", "alert:2"),
            Some(&record("alert:2", Status::DeadLetter))
        );
        assert_eq!(outbox.records("cases").count(), 2);
    }

    #[test]
    fn the_line_format_is_stable() {
        let line = serde_json::to_string(&record("alert:9", Status::DeadLetter)).unwrap();
        assert_eq!(
            line,
            r#"{"key":"alert:9","status":"dead_letter","attempts":3,"last_error":"HTTP 503 Service Unavailable","at":"2023-11-14T22:13:20Z"}"#
        );
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_appending_resumes_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path()).unwrap();
        append(&mut outbox, "cases", record("alert:1", Status::Delivered));
        let path = outbox.file_path("cases");
        drop(outbox);

        // A crash mid-write: half of the next line, no newline.
        let intact = std::fs::read(&path).unwrap();
        let torn = serde_json::to_vec(&record("alert:2", Status::Delivered)).unwrap();
        let mut damaged = intact.clone();
        damaged.extend_from_slice(&torn[..torn.len() / 2]);
        std::fs::write(&path, &damaged).unwrap();

        let mut outbox = Outbox::open(dir.path()).unwrap();
        assert_eq!(outbox.status("cases", "alert:1"), Some(Status::Delivered));
        assert_eq!(outbox.status("cases", "alert:2"), None);
        assert_eq!(std::fs::read(&path).unwrap(), intact, "torn tail cut off");

        append(&mut outbox, "cases", record("alert:3", Status::Delivered));
        drop(outbox);
        let outbox = Outbox::open(dir.path()).unwrap();
        assert_eq!(outbox.records("cases").count(), 2);
        assert_eq!(outbox.status("cases", "alert:3"), Some(Status::Delivered));
    }

    #[test]
    fn a_whole_line_without_its_newline_counts_as_torn() {
        // The record may be complete, but it was never reported settled.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cases.jsonl");
        let line = serde_json::to_string(&record("alert:1", Status::Delivered)).unwrap();
        std::fs::write(&path, &line).unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        assert_eq!(outbox.status("cases", "alert:1"), None);
        assert_eq!(std::fs::read(&path).unwrap(), b"");
    }

    #[test]
    fn damage_before_the_last_line_is_an_error_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let good = serde_json::to_string(&record("alert:1", Status::Delivered)).unwrap();
        let path = dir.path().join("cases.jsonl");
        std::fs::write(&path, format!("{good}\n{{\"key\":\n{good}\n")).unwrap();
        let error = Outbox::open(dir.path()).err().unwrap().to_string();
        assert!(
            error.contains("cases.jsonl") && error.contains("line 2"),
            "{error}"
        );
    }

    #[test]
    fn other_files_in_the_directory_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
        std::fs::write(dir.path().join("bad name.jsonl"), "garbage\n").unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        assert!(outbox.logs.is_empty());
    }
}
