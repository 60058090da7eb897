use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};
use seglake_spec::lineage::{FileRecord, InputRecord, SnapshotRecord};
use seglake_spec::{Location, SourceFormat, SourceSpec};
use url::Url;

use crate::error::{LakeError, Result};

/// A source pinned at run start.
#[derive(Debug, Clone)]
pub struct PinnedInput {
    pub spec: SourceSpec,
    /// Delta: the version the run reads.
    pub delta_version: Option<i64>,
    /// Parquet/CSV: every file the run reads, as URLs, in path order.
    pub file_urls: Vec<Url>,
    pub files: Vec<FileRecord>,
    /// A PostgreSQL source: the snapshot taken at run start, which `spec`
    /// (a Parquet source) and `files` read.
    pub snapshot: Option<SnapshotRecord>,
}

impl PinnedInput {
    pub fn lineage(&self) -> InputRecord {
        InputRecord {
            name: self.spec.name.clone(),
            uri: self.spec.location.to_string(),
            format: self.spec.format.as_str().to_string(),
            delta_version: self.delta_version,
            files: self.files.clone(),
        }
    }
}

/// Pins `source`: finds the Delta version, or lists the files.
pub async fn resolve_input(source: &SourceSpec) -> Result<PinnedInput> {
    match source.format {
        SourceFormat::Delta => resolve_delta(source).await,
        SourceFormat::Parquet | SourceFormat::Csv => resolve_files(source).await,
        // The run snapshots it first and pins the snapshot (a Parquet
        // source): reaching here is a caller that forgot to.
        SourceFormat::Postgres => Err(bad(
            source,
            "a postgres source is read through its snapshot, taken at run start",
        )),
    }
}

fn bad(source: &SourceSpec, message: impl Into<String>) -> LakeError {
    LakeError::BadSource {
        source_name: source.name.clone(),
        uri: source.location.to_string(),
        message: message.into(),
    }
}

/// The source's Delta table cannot be opened, at `version` or its latest.
fn unopenable(
    source: &SourceSpec,
    version: Option<i64>,
) -> impl FnOnce(deltalake::DeltaTableError) -> LakeError {
    let (source_name, uri) = (source.name.clone(), source.location.to_string());
    move |e| LakeError::SourceTable {
        source_name,
        uri,
        version,
        source: e,
    }
}

/// The store holding `url` (the source's, or one of its files') cannot be
/// opened.
fn no_store(
    source: &SourceSpec,
    url: &str,
) -> impl FnOnce(deltalake::DeltaTableError) -> LakeError {
    let (source_name, uri, store_of) = (
        source.name.clone(),
        source.location.to_string(),
        url.to_string(),
    );
    move |e| LakeError::SourceStore {
        source_name,
        uri,
        store_of,
        source: e,
    }
}

fn bad_url(source: &SourceSpec, url: &str) -> impl FnOnce(url::ParseError) -> LakeError {
    let (source_name, uri, url) = (
        source.name.clone(),
        source.location.to_string(),
        url.to_string(),
    );
    move |e| LakeError::SourceUrl {
        source_name,
        uri,
        url,
        source: e,
    }
}

fn bad_path(
    source: &SourceSpec,
    path: &str,
) -> impl FnOnce(object_store::path::Error) -> LakeError {
    let (source_name, uri, path) = (
        source.name.clone(),
        source.location.to_string(),
        path.to_string(),
    );
    move |e| LakeError::SourcePath {
        source_name,
        uri,
        path,
        source: e,
    }
}

async fn resolve_delta(source: &SourceSpec) -> Result<PinnedInput> {
    if !crate::table::table_exists(&source.location)
        .await
        .map_err(|e| LakeError::SourceUnreadable {
            source_name: source.name.clone(),
            uri: source.location.to_string(),
            source: Box::new(e),
        })?
    {
        return Err(bad(source, "not a Delta table (no _delta_log folder)"));
    }
    let url = source.location.to_url();
    let mut table = crate::storage::delta_builder(url)
        .and_then(|b| b.build())
        .map_err(unopenable(source, None))?;
    table.load().await.map_err(unopenable(source, None))?;
    let latest = table.version().map_or(-1, |v| v as i64);
    let version = match source.version {
        None => latest,
        Some(v) if v <= latest => v,
        Some(v) => {
            return Err(bad(
                source,
                format!("version {v} does not exist; the table's versions are 0..={latest}"),
            ));
        }
    };
    Ok(PinnedInput {
        spec: source.clone(),
        delta_version: Some(version),
        file_urls: Vec::new(),
        files: Vec::new(),
        snapshot: None,
    })
}

async fn resolve_files(source: &SourceSpec) -> Result<PinnedInput> {
    let extension = match source.format {
        SourceFormat::Parquet => "parquet",
        SourceFormat::Csv => "csv",
        SourceFormat::Delta | SourceFormat::Postgres => unreachable!("pinned elsewhere"),
    };
    let (store, prefix, base_url): (std::sync::Arc<dyn ObjectStore>, StorePath, Url) =
        match &source.location {
            Location::Local(p) => {
                if !p.exists() {
                    return Err(bad(source, "no such file or folder"));
                }
                let store = object_store::local::LocalFileSystem::new();
                let prefix = StorePath::from_absolute_path(p)
                    .map_err(bad_path(source, &p.display().to_string()))?;
                (
                    std::sync::Arc::new(store),
                    prefix,
                    Url::parse("file:///").expect("static URL"),
                )
            }
            Location::Url(u) => {
                let (store, prefix) =
                    crate::storage::object_store_for(u).map_err(no_store(source, u.as_str()))?;
                (store, prefix, crate::storage::store_root(u))
            }
        };

    // A single file, or every matching file under the folder. Names that
    // start with `.` or `_` are skipped, as Spark and DataFusion do
    // (`_SUCCESS`, `.crc`, staging files).
    let single = store
        .head(&prefix)
        .await
        .ok()
        .filter(|m| m.location == prefix);
    let mut metas = match single {
        Some(meta) => vec![meta],
        None => store
            .list(Some(&prefix))
            .try_collect::<Vec<_>>()
            .await
            .map_err(|e| LakeError::SourceListing {
                source_name: source.name.clone(),
                uri: source.location.to_string(),
                source: e,
            })?
            .into_iter()
            .filter(|m| {
                let rel = m
                    .location
                    .prefix_match(&prefix)
                    .map(|parts| parts.map(|p| p.as_ref().to_string()).collect::<Vec<_>>());
                let hidden = rel
                    .unwrap_or_default()
                    .iter()
                    .any(|p| p.starts_with('.') || p.starts_with('_'));
                !hidden && m.location.extension() == Some(extension)
            })
            .collect(),
    };
    metas.sort_by(|a, b| a.location.cmp(&b.location));
    if metas.is_empty() {
        return Err(bad(source, format!("no .{extension} files found")));
    }
    let mut file_urls = Vec::new();
    let mut files = Vec::new();
    for m in metas {
        if m.size == 0 {
            return Err(bad(
                source,
                format!("file /{} is empty (0 bytes)", m.location),
            ));
        }
        let url = base_url
            .join(m.location.as_ref())
            .map_err(bad_url(source, m.location.as_ref()))?;
        files.push(FileRecord {
            path: url.to_string(),
            size: m.size as i64,
            last_modified: m.last_modified,
            etag: m.e_tag.clone(),
        });
        file_urls.push(url);
    }
    Ok(PinnedInput {
        spec: source.clone(),
        delta_version: None,
        file_urls,
        files,
        snapshot: None,
    })
}

/// Pins `source` as a past run read it, from that run's lineage record: a
/// Delta source at the recorded version (or the version an erasure
/// replaced it with, `version_now`), a file source as exactly the recorded
/// files, each checked to still exist with the recorded size and ETag.
/// Anything gone or changed is an error naming it. A PostgreSQL source is
/// pinned as the snapshot the run read (its recorded files).
pub async fn pin_recorded(
    source: &SourceSpec,
    record: &InputRecord,
    version_now: Option<i64>,
) -> Result<PinnedInput> {
    let snapshot;
    let source = if source.format == SourceFormat::Postgres {
        let location = Location::parse(&record.uri, std::path::Path::new("/"))
            .map_err(|m| bad(source, format!("the recorded snapshot location: {m}")))?;
        snapshot = source.snapshot_at(location);
        &snapshot
    } else {
        source
    };
    if let Some(version) = version_now.or(record.delta_version) {
        let table = crate::storage::delta_builder(source.location.to_url())
            .map_err(unopenable(source, Some(version)))?
            .with_version(version as u64)
            .load()
            .await
            .map_err(unopenable(source, Some(version)))?;
        // The log may outlive the data: check that every file is there.
        let store = table.object_store();
        let uris: Vec<String> = table
            .get_file_uris()
            .map_err(unopenable(source, Some(version)))?
            .collect();
        let mut missing = Vec::new();
        for uri in &uris {
            let url = Url::parse(uri)
                .or_else(|_| Url::from_file_path(uri).map_err(|_| url::ParseError::EmptyHost))
                .map_err(bad_url(source, uri))?;
            let path = StorePath::from_url_path(url.path()).map_err(bad_path(source, uri))?;
            let relative = table_relative(&table, &path);
            if store.head(&relative).await.is_err() {
                missing.push(uri.clone());
            }
        }
        if !missing.is_empty() {
            return Err(bad(
                source,
                format!(
                    "version {version} is no longer readable: {} of its files were removed \
                     (vacuumed), e.g. {}",
                    missing.len(),
                    missing[0]
                ),
            ));
        }
        return Ok(PinnedInput {
            spec: source.clone(),
            delta_version: Some(version),
            file_urls: Vec::new(),
            files: Vec::new(),
            snapshot: None,
        });
    }
    let mut file_urls = Vec::new();
    let mut problems = Vec::new();
    for f in &record.files {
        let url = Url::parse(&f.path).map_err(bad_url(source, &f.path))?;
        let (store, path) =
            crate::storage::object_store_for(&url).map_err(no_store(source, &f.path))?;
        match store.head(&path).await {
            Err(_) => problems.push(format!("{} is gone", f.path)),
            Ok(meta) => {
                let etag_changed = f.etag.is_some() && meta.e_tag != f.etag;
                if meta.size as i64 != f.size || etag_changed {
                    problems.push(format!(
                        "{} changed since the run (size {} -> {}, etag {} -> {})",
                        f.path,
                        f.size,
                        meta.size,
                        f.etag.as_deref().unwrap_or("-"),
                        meta.e_tag.as_deref().unwrap_or("-")
                    ));
                }
            }
        }
        file_urls.push(url);
    }
    if !problems.is_empty() {
        return Err(bad(
            source,
            format!(
                "the files the run read are not there as they were: {}",
                problems.join("; ")
            ),
        ));
    }
    Ok(PinnedInput {
        spec: source.clone(),
        delta_version: None,
        file_urls,
        files: record.files.clone(),
        snapshot: None,
    })
}

/// A file's path relative to the table root, as the table's store names it.
fn table_relative(table: &deltalake::DeltaTable, absolute: &StorePath) -> StorePath {
    let root = table.table_url().path().trim_end_matches('/').to_string();
    let abs = format!("/{absolute}");
    match abs.strip_prefix(&root) {
        Some(rest) => StorePath::from(rest.trim_start_matches('/')),
        None => absolute.clone(),
    }
}

/// The data files of `input`'s pinned Delta version, as URLs, for an engine
/// that reads Parquet files rather than through delta-rs's scan (delta-rs
/// has no codec for its scan's physical plan, so a Ballista cluster cannot
/// ship it to executors). Tables whose rows the
/// files alone do not give are refused, naming the source and why: deletion
/// vectors (rows deleted without rewriting a file), column mapping (files
/// name columns by id) and partition columns (values kept in the log, not
/// in the files).
pub async fn delta_data_files(input: &PinnedInput) -> Result<Vec<Url>> {
    let source = &input.spec;
    let version = input
        .delta_version
        .ok_or_else(|| bad(source, "not a pinned Delta input"))?;
    let table = crate::storage::delta_builder(source.location.to_url())
        .map_err(unopenable(source, Some(version)))?
        .with_version(version as u64)
        .load()
        .await
        .map_err(unopenable(source, Some(version)))?;
    let state = table
        .snapshot()
        .map_err(unopenable(source, Some(version)))?;
    let unsupported = |what: &str| {
        bad(
            source,
            format!(
                "version {version} {what}; the cluster engine reads a Delta source's \
                 Parquet files directly and cannot apply that: run it on the local engine"
            ),
        )
    };
    let partitions = state.metadata().partition_columns();
    if !partitions.is_empty() {
        return Err(unsupported(&format!(
            "is partitioned by {}",
            partitions.join(", ")
        )));
    }
    if state
        .table_config()
        .column_mapping_mode
        .is_some_and(|m| m != buoyant_kernel::table_features::ColumnMappingMode::None)
    {
        return Err(unsupported("uses column mapping"));
    }
    let root = crate::storage::folder_url(table.log_store().root_url());
    let mut file_urls = Vec::new();
    for file in state.log_data().iter() {
        if file.deletion_vector_descriptor().is_some() {
            return Err(unsupported(&format!(
                "has deletion vectors (file {})",
                file.path()
            )));
        }
        let path = file.object_store_path();
        let url = root
            .join(path.as_ref())
            .map_err(bad_url(source, path.as_ref()))?;
        file_urls.push(url);
    }
    Ok(file_urls)
}
