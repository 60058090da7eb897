//! Plain folders of files in the lake (not Delta tables): copying a local
//! folder in, finding one, removing one. Run-start snapshots of PostgreSQL
//! sources live so, beside the tables.

use std::path::Path;

use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use seglake_spec::Location;

use crate::error::{LakeError, Result};

fn store(location: &Location) -> Result<(std::sync::Arc<dyn ObjectStore>, StorePath)> {
    crate::storage::object_store_for(&location.to_url()).map_err(|source| LakeError::OpenStore {
        uri: location.to_string(),
        source,
    })
}

fn store_err(location: &Location) -> impl Fn(object_store::Error) -> LakeError + '_ {
    move |error| LakeError::Store {
        uri: location.to_string(),
        error,
    }
}

/// Copies the files directly in the local folder `from` to the folder `to`
/// of any store, in name order.
pub async fn copy_folder_in(from: &Path, to: &Location) -> Result<()> {
    let io_err = |error: std::io::Error| LakeError::Store {
        uri: to.to_string(),
        error: object_store::Error::Generic {
            store: "local",
            source: Box::new(error),
        },
    };
    let mut names: Vec<_> = std::fs::read_dir(from)
        .map_err(io_err)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()
        .map_err(io_err)?;
    names.sort();
    let (store, prefix) = store(to)?;
    for name in names {
        let bytes = std::fs::read(from.join(&name)).map_err(io_err)?;
        let path = prefix.clone().join(name.to_string_lossy().as_ref());
        store
            .put(&path, PutPayload::from(bytes))
            .await
            .map_err(store_err(to))?;
    }
    Ok(())
}

/// Removes every file under `location` (nothing when it holds none).
pub async fn remove_folder(location: &Location) -> Result<()> {
    if let Location::Local(p) = location {
        return match std::fs::remove_dir_all(p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(LakeError::Store {
                uri: location.to_string(),
                error: object_store::Error::Generic {
                    store: "local",
                    source: Box::new(e),
                },
            }),
            _ => Ok(()),
        };
    }
    let (store, prefix) = store(location)?;
    let files: Vec<_> = store
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(store_err(location))?;
    for file in files {
        store
            .delete(&file.location)
            .await
            .map_err(store_err(location))?;
    }
    Ok(())
}

/// Writes `bytes` as the file `name` in the folder `location`.
pub async fn write_file(location: &Location, name: &str, bytes: Vec<u8>) -> Result<()> {
    let (store, prefix) = store(location)?;
    store
        .put(&prefix.clone().join(name), PutPayload::from(bytes))
        .await
        .map_err(store_err(location))?;
    Ok(())
}

/// The file `name` in the folder `location`, if it is there.
pub async fn read_file(location: &Location, name: &str) -> Result<Option<Vec<u8>>> {
    let (store, prefix) = store(location)?;
    match store.get(&prefix.clone().join(name)).await {
        Ok(got) => Ok(Some(
            got.bytes().await.map_err(store_err(location))?.to_vec(),
        )),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(error) => Err(store_err(location)(error)),
    }
}
