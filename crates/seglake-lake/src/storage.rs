//! Object stores from URLs, configured the standard way.
//!
//! Every store seglake opens (Delta tables, Parquet/CSV sources, the files
//! DataFusion scans) comes from here, through delta-rs's store factories, so
//! local folders and `s3://` buckets take the same path and the same
//! settings:
//!
//! - credentials, region, endpoint and `allow_http` from the AWS environment
//!   (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//!   `AWS_PROFILE`, `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`), read
//!   by delta-rs and object_store themselves: seglake never holds them;
//! - request retries and timeouts from `SEGLAKE_S3_*` variables
//!   ([`RETRY_SETTINGS`]), which are not secret.
//!
//! The option maps built here hold no credential, so printing one (or a
//! builder made from it) cannot leak a secret.
//!
//! S3 is this crate's `s3` feature (deltalake's S3 store and the AWS SDK).
//! A build without it refuses an `s3://` location here, naming the feature
//! to build with, rather than with delta-rs's "cannot infer storage
//! location".

use std::collections::HashMap;
use std::sync::Arc;

use deltalake::DeltaTableBuilder;
use object_store::ObjectStore;
use object_store::path::Path as StorePath;
use url::Url;

/// The environment variables that tune object store requests, and the
/// delta-rs / object_store option each one sets.
pub const RETRY_SETTINGS: &[(&str, &str, &str)] = &[
    (
        "SEGLAKE_S3_MAX_RETRIES",
        "max_retries",
        "retries of a failed request (5xx, connection reset, timeout); default 10",
    ),
    (
        "SEGLAKE_S3_RETRY_TIMEOUT",
        "retry_timeout",
        "give up retrying a request after this long, e.g. 3m; default 3m",
    ),
    (
        "SEGLAKE_S3_INIT_BACKOFF",
        "backoff_config.init_backoff",
        "first wait between retries, e.g. 100ms; default 100ms",
    ),
    (
        "SEGLAKE_S3_MAX_BACKOFF",
        "backoff_config.max_backoff",
        "longest wait between retries, e.g. 15s; default 15s",
    ),
    (
        "SEGLAKE_S3_TIMEOUT",
        "timeout",
        "time limit of one request, e.g. 30s; default 30s",
    ),
];

/// The store options from the environment: retry and timeout settings only.
pub fn storage_options() -> HashMap<String, String> {
    RETRY_SETTINGS
        .iter()
        .filter_map(|(env, key, _)| {
            std::env::var(env)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(|v| (key.to_string(), v.trim().to_string()))
        })
        .collect()
}

/// A Delta table builder for `url` with [`storage_options`].
pub fn delta_builder(url: Url) -> deltalake::DeltaResult<DeltaTableBuilder> {
    require_store(&url)?;
    Ok(DeltaTableBuilder::from_url(url)?.with_storage_options(storage_options()))
}

/// The object store holding `url`, rooted at the bucket (or the file system
/// root), and the path of `url` inside it.
pub fn object_store_for(url: &Url) -> deltalake::DeltaResult<(Arc<dyn ObjectStore>, StorePath)> {
    require_store(url)?;
    let root = store_root(url);
    let store = deltalake::logstore::store_for(&root, storage_options())?;
    let path = StorePath::from_url_path(url.path())?;
    Ok((store, path))
}

/// Refuses an `s3://` URL when this build has no S3 store.
fn require_store(url: &Url) -> deltalake::DeltaResult<()> {
    if url.scheme() == "s3" && !cfg!(feature = "s3") {
        return Err(deltalake::DeltaTableError::Generic(missing_s3(url)));
    }
    Ok(())
}

/// The message for an `s3://` location in a build without S3.
fn missing_s3(url: &Url) -> String {
    format!(
        "{}: this seglake was built without S3 support; build it with the `s3` feature \
         (cargo install --path crates/seglake-cli --locked --features s3)",
        store_root(url)
    )
}

/// `url` as a folder (its path ending in `/`), so that `Url::join` adds to
/// it instead of replacing its last segment.
pub fn folder_url(url: &Url) -> Url {
    let mut folder = url.clone();
    if !folder.path().ends_with('/') {
        folder.set_path(&format!("{}/", folder.path()));
    }
    folder
}

/// The URL of the store `url` is in: `s3://bucket/`, or `file:///`.
pub fn store_root(url: &Url) -> Url {
    let mut root = url.clone();
    root.set_path("/");
    root.set_query(None);
    root.set_fragment(None);
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_url_keeps_its_last_segment_when_joined() {
        for given in [
            "s3://bank-lake/prod/segments",
            "s3://bank-lake/prod/segments/",
        ] {
            let folder = folder_url(&Url::parse(given).unwrap());
            assert_eq!(
                folder.join("part-0.parquet").unwrap().as_str(),
                "s3://bank-lake/prod/segments/part-0.parquet"
            );
        }
    }

    #[cfg(not(feature = "s3"))]
    #[test]
    fn without_s3_an_s3_location_names_the_feature() {
        let url = Url::parse("s3://bank-lake/prod/segments").unwrap();
        let err = delta_builder(url.clone()).unwrap_err().to_string();
        assert!(
            err.contains("s3://bank-lake/") && err.contains("--features s3"),
            "{err}"
        );
        let err = object_store_for(&url).unwrap_err().to_string();
        assert!(err.contains("--features s3"), "{err}");
    }

    #[test]
    fn the_store_root_is_the_bucket() {
        let url = Url::parse("s3://bank-lake/prod/segments").unwrap();
        assert_eq!(store_root(&url).as_str(), "s3://bank-lake/");
    }
}
