//! Where a run's materialised views (and deduplicated sources) are written.
//!
//! In process, a temporary folder on this machine. On a cluster the
//! executors write and read them, so the folder must be one they all see:
//! `_seglake_scratch/<run id>-<nonce>/` under the lake, beside the tables
//! (no Delta reader looks there). Both go with the engine, whether the run
//! succeeded or failed.

use datafusion::error::DataFusionError;
use futures::{StreamExt, TryStreamExt};
use url::Url;

/// The folder under the lake root that holds cluster runs' scratch files.
pub const SHARED_SCRATCH_DIR: &str = "_seglake_scratch";

/// A run's scratch folder on this machine, for the local engine.
pub(crate) struct LocalScratch(tempfile::TempDir);

impl LocalScratch {
    pub(crate) fn new() -> Result<LocalScratch, DataFusionError> {
        let dir = tempfile::Builder::new()
            .prefix("seglake-scratch-")
            .tempdir()
            .map_err(DataFusionError::IoError)?;
        Ok(LocalScratch(dir))
    }

    /// The folder for table `name`, ending in `/`.
    pub(crate) fn table_url(&self, name: &str) -> String {
        format!("{}/", self.0.path().join(name).display())
    }
}

/// A run's scratch folder under the lake, removed on drop if anything was
/// written to it.
pub(crate) struct SharedScratch {
    /// Ends in `/`.
    url: Url,
    /// A table folder was handed out: a job that materialises nothing
    /// costs no clean-up (on S3, a listing).
    used: bool,
}

impl SharedScratch {
    /// A new folder for run `run_id` under `lake` (the job's output root).
    /// The nonce keeps a retried run (same run id) from reading or
    /// removing the files of an attempt still running elsewhere.
    pub(crate) fn new(lake: &Url, run_id: &str) -> Result<SharedScratch, url::ParseError> {
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
            ^ u128::from(std::process::id());
        let url = seglake_lake::storage::folder_url(lake)
            .join(&format!("{SHARED_SCRATCH_DIR}/{run_id}-{nonce:x}/"))?;
        Ok(SharedScratch { url, used: false })
    }

    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// The folder for table `name`, ending in `/`.
    pub(crate) fn table_url(&mut self, name: &str) -> String {
        self.used = true;
        format!("{}{name}/", self.url)
    }
}

impl Drop for SharedScratch {
    fn drop(&mut self) {
        if !self.used {
            return;
        }
        let url = self.url.clone();
        // Drop cannot await, and may run inside or outside a Tokio runtime
        // (of either flavour): the objects are deleted on a thread with a
        // runtime of its own, waited for, so the run ends clean.
        let removed = std::thread::spawn(move || remove_folder(&url))
            .join()
            .unwrap_or_else(|_| Err("the clean-up thread panicked".to_string()));
        if let Err(e) = removed {
            tracing::warn!(
                "could not remove the run's scratch folder {}: {e}; it holds only copies \
                 of this run's views and can be deleted",
                self.url
            );
        }
    }
}

fn remove_folder(url: &Url) -> Result<(), String> {
    if url.scheme() == "file" {
        let path = url
            .to_file_path()
            .map_err(|_| format!("not a local path: {url}"))?;
        match std::fs::remove_dir_all(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.to_string()),
        }
        // The parent too once no other run uses it (remove_dir refuses a
        // folder that is not empty), so the lake holds only its tables.
        if let Some(parent) = path.parent() {
            let _ = std::fs::remove_dir(parent);
        }
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let (store, prefix) =
            seglake_lake::storage::object_store_for(url).map_err(|e| e.to_string())?;
        let objects = store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .boxed();
        store
            .delete_stream(objects)
            .try_collect::<Vec<_>>()
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_scratch_folder_is_under_the_lake_and_goes_on_drop() {
        let lake = tempfile::tempdir().unwrap();
        let lake_url = Url::from_directory_path(lake.path()).unwrap();
        let mut scratch = SharedScratch::new(&lake_url, "run-1").unwrap();
        let folder = scratch.url().to_file_path().unwrap();
        let view = Url::parse(&scratch.table_url("view"))
            .unwrap()
            .to_file_path()
            .unwrap();
        assert_eq!(view, folder.join("view"));
        assert!(folder.starts_with(lake.path().join(SHARED_SCRATCH_DIR)));
        assert!(
            folder
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("run-1-")
        );
        std::fs::create_dir_all(&view).unwrap();
        std::fs::write(view.join("part-0.parquet"), b"x").unwrap();
        drop(scratch);
        assert!(!folder.exists());
        assert!(!lake.path().join(SHARED_SCRATCH_DIR).exists());
        // Without a trailing slash the root is still a folder, not a file
        // whose name is replaced.
        let bare = Url::parse(lake_url.as_str().trim_end_matches('/')).unwrap();
        let scratch = SharedScratch::new(&bare, "r").unwrap();
        assert!(
            scratch
                .url()
                .to_file_path()
                .unwrap()
                .starts_with(lake.path())
        );
    }
}
