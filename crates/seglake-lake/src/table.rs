//! Where a table lives under an output root, and whether it is there yet.
//!
//! Publishing and reading history both need to know whether a Delta table
//! exists before they open it, so this sits below both of them.

use futures::StreamExt;
use seglake_spec::Location;

use crate::error::{LakeError, Result};

/// Where table `name` lives under an output root.
pub fn table_location(root: &Location, name: &str) -> Location {
    root.join(name)
}

/// Whether a Delta table is at `location`: its log has a commit.
pub async fn table_exists(location: &Location) -> Result<bool> {
    match location {
        Location::Local(p) => Ok(p.join("_delta_log").is_dir()),
        Location::Url(u) => {
            let log = location.join("_delta_log").to_url();
            let (store, path) =
                crate::storage::object_store_for(&log).map_err(|source| LakeError::OpenStore {
                    uri: u.to_string(),
                    source,
                })?;
            let mut listing = store.list(Some(&path));
            match listing.next().await {
                None => Ok(false),
                Some(Ok(_)) => Ok(true),
                Some(Err(error)) => Err(LakeError::Store {
                    uri: u.to_string(),
                    error,
                }),
            }
        }
    }
}
