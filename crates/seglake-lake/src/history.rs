use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as StorePath;
use seglake_spec::Location;
use serde::Serialize;

use crate::error::{LakeError, Result};
use crate::metadata::{META_JOB, META_REPLACES_VERSION, META_RUN_ID};

/// One version of a table, from its commit in the Delta log.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub version: i64,
    pub timestamp: Option<DateTime<Utc>>,
    pub operation: Option<String>,
    pub run_id: Option<String>,
    pub job: Option<String>,
    /// Set on the versions `seglake erase` writes: the version this one
    /// replaces (the same rows without the erased customers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces_version: Option<i64>,
    /// The application transaction ids (`txn.appId`) the commit carries:
    /// a run's commits carry its run id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transactions: Vec<String>,
}

/// Lists every version of the Delta table at `location`, oldest first.
///
/// Reads the commit files themselves rather than the table state, so the
/// version number of each entry is exact (it is the commit file's name).
pub async fn history(table: &str, location: &Location) -> Result<Vec<HistoryEntry>> {
    let uri = location.to_string();
    let store_err = |error| LakeError::Store {
        uri: uri.clone(),
        error,
    };
    if !crate::table::table_exists(location).await? {
        return Err(LakeError::NotATable {
            table: table.to_string(),
            uri: uri.clone(),
        });
    }
    let (store, root) =
        crate::storage::object_store_for(&location.to_url()).map_err(|error| LakeError::Delta {
            table: table.to_string(),
            uri: uri.clone(),
            error,
        })?;
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
        return Err(LakeError::NoCommits {
            table: table.to_string(),
            uri: uri.clone(),
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
            replaces_version: None,
            transactions: Vec::new(),
        };
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let Ok(action) = serde_json::from_slice::<serde_json::Value>(line) else {
                continue;
            };
            if let Some(app_id) = action
                .get("txn")
                .and_then(|t| t.get("appId"))
                .and_then(|a| a.as_str())
            {
                entry.transactions.push(app_id.to_string());
            }
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
                entry.replaces_version = info.get(META_REPLACES_VERSION).and_then(|o| o.as_i64());
            }
        }
        out.push(entry);
    }
    Ok(out)
}

/// The version that now holds what `version` held: `version` itself, or,
/// when `seglake erase` replaced it (possibly several times), the last
/// replacement. `history` must be the table's full history.
pub fn current_version_of(history: &[HistoryEntry], version: i64) -> i64 {
    let mut current = version;
    // Replacements always come later in the log, so one forward pass
    // follows a chain of erasures.
    for entry in history {
        if entry.version > current && entry.replaces_version == Some(current) {
            current = entry.version;
        }
    }
    current
}

/// The table's version at `time`: the last commit at or before it.
pub fn version_at(history: &[HistoryEntry], time: DateTime<Utc>) -> Option<i64> {
    history
        .iter()
        .filter(|e| e.timestamp.is_some_and(|t| t <= time))
        .map(|e| e.version)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: i64, replaces: Option<i64>) -> HistoryEntry {
        HistoryEntry {
            version,
            timestamp: DateTime::from_timestamp(1_000 * version, 0),
            operation: None,
            run_id: None,
            job: None,
            replaces_version: replaces,
            transactions: Vec::new(),
        }
    }

    #[test]
    fn a_chain_of_erasures_is_followed_to_the_last_replacement() {
        // v0, v1 published; erasure 1 rewrote them as v2, v3; erasure 2
        // rewrote v2 and v3 as v4 and v5.
        let h = vec![
            entry(0, None),
            entry(1, None),
            entry(2, Some(0)),
            entry(3, Some(1)),
            entry(4, Some(2)),
            entry(5, Some(3)),
        ];
        assert_eq!(current_version_of(&h, 0), 4);
        assert_eq!(current_version_of(&h, 1), 5);
        assert_eq!(current_version_of(&h, 5), 5);
    }

    #[test]
    fn the_version_at_a_time_is_the_last_commit_at_or_before_it() {
        let h = vec![entry(0, None), entry(1, None), entry(2, None)];
        let at = |s| version_at(&h, DateTime::from_timestamp(s, 0).unwrap());
        assert_eq!(at(999), Some(0));
        assert_eq!(at(1_000), Some(1));
        assert_eq!(at(5_000), Some(2));
        assert_eq!(
            version_at(&h, DateTime::from_timestamp(-1, 0).unwrap()),
            None
        );
    }
}
