use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};
use seglake_spec::Location;
use serde::Serialize;

use crate::error::{LakeError, Result};
use crate::{META_JOB, META_RUN_ID};

/// One version of a table, from its commit in the Delta log.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub version: i64,
    pub timestamp: Option<DateTime<Utc>>,
    pub operation: Option<String>,
    pub run_id: Option<String>,
    pub job: Option<String>,
}

/// Lists every version of the Delta table at `location`, oldest first.
///
/// Reads the commit files themselves rather than the table state, so the
/// version number of each entry is exact (it is the commit file's name).
pub async fn history(table: &str, location: &Location) -> Result<Vec<HistoryEntry>> {
    let uri = location.to_string();
    let store_err = |source| LakeError::Store {
        uri: uri.clone(),
        source,
    };
    let (store, root): (Box<dyn ObjectStore>, StorePath) = match location {
        Location::Local(p) => {
            if !p.join("_delta_log").is_dir() {
                return Err(LakeError::Table {
                    table: table.to_string(),
                    uri: uri.clone(),
                    message: "no Delta table here (no _delta_log folder)".to_string(),
                });
            }
            let prefix = StorePath::from_absolute_path(p).map_err(|e| LakeError::Table {
                table: table.to_string(),
                uri: uri.clone(),
                message: e.to_string(),
            })?;
            (
                Box::new(object_store::local::LocalFileSystem::new()),
                prefix,
            )
        }
        Location::Url(u) => object_store::parse_url(u).map_err(store_err)?,
    };
    let log = root.clone().join("_delta_log");
    let mut commits: Vec<(i64, StorePath)> = store
        .list(Some(&log))
        .try_collect::<Vec<_>>()
        .await
        .map_err(store_err)?
        .into_iter()
        .filter_map(|m| {
            let name = m.location.filename()?.to_string();
            let stem = name.strip_suffix(".json")?;
            (stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()))
                .then(|| stem.parse().ok().map(|v| (v, m.location)))
                .flatten()
        })
        .collect();
    if commits.is_empty() {
        return Err(LakeError::Table {
            table: table.to_string(),
            uri: uri.clone(),
            message: "the Delta log has no commits".to_string(),
        });
    }
    commits.sort();
    let mut out = Vec::with_capacity(commits.len());
    for (version, path) in commits {
        let bytes = store
            .get(&path)
            .await
            .map_err(store_err)?
            .bytes()
            .await
            .map_err(store_err)?;
        let mut entry = HistoryEntry {
            version,
            timestamp: None,
            operation: None,
            run_id: None,
            job: None,
        };
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let Ok(action) = serde_json::from_slice::<serde_json::Value>(line) else {
                continue;
            };
            if let Some(info) = action.get("commitInfo") {
                entry.timestamp = info
                    .get("timestamp")
                    .and_then(|t| t.as_i64())
                    .and_then(DateTime::from_timestamp_millis);
                entry.operation = info
                    .get("operation")
                    .and_then(|o| o.as_str())
                    .map(String::from);
                entry.run_id = info
                    .get(META_RUN_ID)
                    .and_then(|o| o.as_str())
                    .map(String::from);
                entry.job = info
                    .get(META_JOB)
                    .and_then(|o| o.as_str())
                    .map(String::from);
            }
        }
        out.push(entry);
    }
    Ok(out)
}
