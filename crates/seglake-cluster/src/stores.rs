//! Object stores opened from the process's own environment.
//!
//! The driver registers a store per bucket in its session, but a session's
//! stores do not travel with a plan: an executor that reads
//! `s3://bucket/...` opens the bucket itself, through the same
//! `seglake_lake::storage` settings (`AWS_*` credentials or profile,
//! `SEGLAKE_S3_*` retries), from its own environment. No credential is
//! ever part of a plan or of the session settings Ballista ships.

use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::ObjectStore;
use url::Url;

/// DataFusion's registry (local files, stores registered by name), which
/// opens an S3 bucket the first time a plan reads it.
#[derive(Debug, Default)]
pub struct EnvObjectStores {
    registered: DefaultObjectStoreRegistry,
}

impl ObjectStoreRegistry for EnvObjectStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.registered.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.registered.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.registered.get_store(url) {
            return Ok(store);
        }
        if url.scheme() != "s3" {
            return self.registered.get_store(url);
        }
        let root = seglake_lake::storage::store_root(url);
        let (store, _) = seglake_lake::storage::object_store_for(&root).map_err(|e| {
            DataFusionError::External(format!("cannot open the store {root}: {e}").into())
        })?;
        // Two tasks opening the same bucket at once both build a store;
        // either serves, the second registration replaces the first.
        self.registered.register_store(&root, store.clone());
        Ok(store)
    }
}
