//! Registers pinned inputs as DataFusion tables.

use std::sync::Arc;

use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::DataFusionError;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::prelude::SessionContext;
use futures::FutureExt;
use object_store::ObjectMeta;
use object_store::path::Path as StorePath;
use seglake_lake::PinnedInput;
use seglake_spec::SourceFormat;

use crate::error::{FeatureError, Result};

/// The name under which a deduplicated source's raw rows stay reachable
/// (for the duplicate count); views should use the source's own name.
pub fn raw_name(source: &str) -> String {
    format!("{source}{RAW_SUFFIX}")
}

/// What [`raw_name`] appends to a source's name.
const RAW_SUFFIX: &str = "__raw";

/// The names under which a run keeps, for a `dedupe_on` source, the hashes
/// of the keys that repeat and the deduplicated rows having them
/// (`dedupe.rs`).
pub(crate) fn repeated_names(source: &str) -> RepeatedNames {
    RepeatedNames {
        keys: format!("{source}{REPEATED_KEYS_SUFFIX}"),
        rows: format!("{source}{REPEATED_ROWS_SUFFIX}"),
    }
}

/// See [`repeated_names`].
pub(crate) struct RepeatedNames {
    pub keys: String,
    pub rows: String,
}

const REPEATED_KEYS_SUFFIX: &str = "__repeated_keys";
const REPEATED_ROWS_SUFFIX: &str = "__repeated_rows";

/// The source a table registered for it stands for: `source` for its raw
/// rows ([`raw_name`]) and its repeated keys and rows ([`repeated_names`]),
/// any other name as it is.
pub(crate) fn source_of(table: &str) -> &str {
    [RAW_SUFFIX, REPEATED_KEYS_SUFFIX, REPEATED_ROWS_SUFFIX]
        .iter()
        .find_map(|suffix| table.strip_suffix(suffix))
        .unwrap_or(table)
}

/// Registers `input` under its source name. `remote`: the queries run on a
/// cluster, so a Delta source is read as its version's Parquet files
/// ([`delta_files_provider`]).
pub async fn register(ctx: &SessionContext, input: &PinnedInput, remote: bool) -> Result<()> {
    let name = &input.spec.name;
    let table_name = if input.spec.dedupe_on.is_empty() {
        name.clone()
    } else {
        raw_name(name)
    };
    let provider: Arc<dyn datafusion::catalog::TableProvider> = match input.spec.format {
        SourceFormat::Delta if remote => delta_files_provider(ctx, input).await?,
        SourceFormat::Delta => delta_provider(ctx, input).await?,
        SourceFormat::Parquet => {
            files_provider(ctx, input, Arc::new(ParquetFormat::default()), ".parquet").await?
        }
        SourceFormat::Csv => {
            let format = CsvFormat::default().with_has_header(true);
            files_provider(ctx, input, Arc::new(format), ".csv").await?
        }
        // A run registers its snapshot (a Parquet source) instead.
        SourceFormat::Postgres => {
            return Err(table_err(name)(DataFusionError::Plan(
                "a postgres source is read through its snapshot, taken at run start".into(),
            )));
        }
    };
    ctx.register_table(table_name.as_str(), provider)
        .map_err(table_err(name))?;
    if !input.spec.dedupe_on.is_empty() {
        register_deduplicated(ctx, &input.spec, &table_name).await?;
    }
    Ok(())
}

/// Registers in-memory rows as source `spec` (deduplicated as the source
/// would be): what `serve` scores a customer's posted transactions with.
pub async fn register_rows(
    ctx: &SessionContext,
    spec: &seglake_spec::SourceSpec,
    schema: arrow::datatypes::SchemaRef,
    batches: Vec<arrow::array::RecordBatch>,
) -> Result<()> {
    let table_name = if spec.dedupe_on.is_empty() {
        spec.name.clone()
    } else {
        raw_name(&spec.name)
    };
    let table = datafusion::datasource::MemTable::try_new(schema, vec![batches])
        .map_err(table_err(&spec.name))?;
    ctx.register_table(table_name.as_str(), Arc::new(table))
        .map_err(table_err(&spec.name))?;
    if !spec.dedupe_on.is_empty() {
        register_deduplicated(ctx, spec, &table_name).await?;
    }
    Ok(())
}

/// Source `name` cannot be made a table of the session.
fn table_err(name: &str) -> impl Fn(DataFusionError) -> FeatureError + '_ {
    move |source| FeatureError::SourceTable {
        source_name: name.to_string(),
        source,
    }
}

/// A file of source `name` cannot be read.
fn file_err<'a>(name: &'a str, file: &'a str) -> impl Fn(DataFusionError) -> FeatureError + 'a {
    move |source| FeatureError::SourceFile {
        source_name: name.to_string(),
        file: file.to_string(),
        source,
    }
}

async fn delta_provider(
    ctx: &SessionContext,
    input: &PinnedInput,
) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
    let name = &input.spec.name;
    let version = input
        .delta_version
        .expect("pinned Delta input has a version");
    let unopenable = |source| FeatureError::SourceVersion {
        source_name: name.clone(),
        version,
        source,
    };
    let table = seglake_lake::storage::delta_builder(input.spec.location.to_url())
        .map_err(unopenable)?
        .with_version(version as u64)
        .load()
        .await
        .map_err(unopenable)?;
    table
        .update_datafusion_session(&ctx.state())
        .map_err(unopenable)?;
    table.table_provider().await.map_err(table_err(name))
}

/// A Delta source on a cluster: a listing table over the data files of the
/// pinned version, with the table's schema. delta-rs's own scan cannot be
/// shipped to executors (it has no physical codec); tables whose files do
/// not hold their rows as they are (deletion vectors, column mapping,
/// partition columns) are refused by [`seglake_lake::delta_data_files`].
async fn delta_files_provider(
    ctx: &SessionContext,
    input: &PinnedInput,
) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
    let name = &input.spec.name;
    // The schema delta-rs's scan gives (strings as views, ...), so both
    // engines compute with the same types.
    let schema = delta_provider(ctx, input).await?.schema();
    let files = seglake_lake::delta_data_files(input).await?;
    if files.is_empty() {
        // A version without data files (a created, never written table):
        // DataFusion's listing table needs at least one path.
        let empty = datafusion::datasource::MemTable::try_new(schema, vec![vec![]])
            .map_err(table_err(name))?;
        return Ok(Arc::new(empty));
    }
    register_stores(ctx, name, &files)?;
    listing_table(
        name,
        &files,
        Arc::new(ParquetFormat::default()),
        ".parquet",
        schema,
    )
}

/// A listing table over exactly `urls`, read with `schema`.
fn listing_table(
    name: &str,
    urls: &[url::Url],
    format: Arc<dyn FileFormat>,
    extension: &str,
    schema: arrow::datatypes::SchemaRef,
) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
    let urls = urls
        .iter()
        .map(|u| ListingTableUrl::parse(u.as_str()))
        .collect::<datafusion::error::Result<Vec<_>>>()
        .map_err(table_err(name))?;
    let options = ListingOptions::new(format).with_file_extension(extension);
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    let table = ListingTable::try_new(config).map_err(table_err(name))?;
    Ok(Arc::new(table))
}

/// A listing table over exactly the files pinned at run start. Every file's
/// schema is read and compared, so a file whose column changed type is
/// named instead of failing (or silently casting) mid-query.
async fn files_provider(
    ctx: &SessionContext,
    input: &PinnedInput,
    format: Arc<dyn FileFormat>,
    extension: &str,
) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
    let name = &input.spec.name;
    register_stores(ctx, name, &input.file_urls)?;
    let state = ctx.state();
    let mut schema: Option<(arrow::datatypes::SchemaRef, String)> = None;
    for (url, file) in input.file_urls.iter().zip(&input.files) {
        let file_err = file_err(name, &file.path);
        let store = ctx
            .runtime_env()
            .object_store(ListingTableUrl::parse(url.as_str()).map_err(&file_err)?)
            .map_err(&file_err)?;
        let meta = ObjectMeta {
            location: StorePath::from_url_path(url.path())
                .map_err(|e| file_err(object_store::Error::from(e).into()))?,
            last_modified: file.last_modified,
            size: file.size as u64,
            e_tag: file.etag.clone(),
            version: None,
        };
        // A footer that lies about its length makes the Parquet reader
        // panic (a slice out of range) rather than fail: caught here, so
        // the file is named and the run ends with nothing written.
        let inferred = std::panic::AssertUnwindSafe(format.infer_schema(&state, &store, &[meta]))
            .catch_unwind()
            .await
            .map_err(|panic| {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                FeatureError::CorruptFile {
                    source_name: name.clone(),
                    file: file.path.clone(),
                    why,
                }
            })?;
        let file_schema = inferred.map_err(&file_err)?;
        match &schema {
            None => schema = Some((file_schema, file.path.clone())),
            Some((first, first_file)) => {
                check_same_schema(name, first, first_file, &file_schema, &file.path)?
            }
        }
    }
    let (schema, _) = schema.expect("a pinned file input has at least one file");
    listing_table(name, &input.file_urls, format, extension, schema)
}

/// DataFusion knows local files; a bucket's store (with the settings and
/// credentials of `seglake_lake::storage`) is registered for it.
pub(crate) fn register_stores(ctx: &SessionContext, name: &str, urls: &[url::Url]) -> Result<()> {
    for url in urls {
        if url.scheme() != "file" {
            let root = seglake_lake::storage::store_root(url);
            if ctx
                .runtime_env()
                .object_store(ObjectStoreUrl::parse(root.as_str()).map_err(table_err(name))?)
                .is_err()
            {
                let (store, _) =
                    seglake_lake::storage::object_store_for(url).map_err(|source| {
                        FeatureError::SourceStore {
                            source_name: name.to_string(),
                            url: url.to_string(),
                            source,
                        }
                    })?;
                ctx.register_object_store(&root, store);
            }
        }
    }
    Ok(())
}

/// Registers Parquet files written by this run (the staged feature table)
/// as table `name`.
pub(crate) async fn register_parquet_files(
    ctx: &SessionContext,
    name: &str,
    files: &[url::Url],
) -> Result<()> {
    register_stores(ctx, name, files)?;
    let urls = files
        .iter()
        .map(|u| ListingTableUrl::parse(u.as_str()))
        .collect::<datafusion::error::Result<Vec<_>>>()
        .map_err(table_err(name))?;
    let options = ListingOptions::new(Arc::new(
        datafusion::datasource::file_format::parquet::ParquetFormat::default(),
    ))
    .with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .infer_schema(&ctx.state())
        .await
        .map_err(table_err(name))?;
    let table = ListingTable::try_new(config).map_err(table_err(name))?;
    ctx.register_table(name, Arc::new(table))
        .map_err(table_err(name))?;
    Ok(())
}

fn check_same_schema(
    source: &str,
    first: &arrow::datatypes::Schema,
    first_file: &str,
    other: &arrow::datatypes::Schema,
    file: &str,
) -> Result<()> {
    let drift = |column: &str, found: String, expected: String| FeatureError::TypeDrift {
        source_name: source.to_string(),
        column: column.to_string(),
        file: file.to_string(),
        found,
        first_file: first_file.to_string(),
        expected,
    };
    const ABSENT: &str = "no such column";
    for field in first.fields() {
        let expected = field.data_type();
        match other.field_with_name(field.name()) {
            Ok(f) if f.data_type() == expected => {}
            Ok(f) => {
                return Err(drift(
                    field.name(),
                    f.data_type().to_string(),
                    expected.to_string(),
                ));
            }
            Err(_) => {
                return Err(drift(
                    field.name(),
                    ABSENT.to_string(),
                    expected.to_string(),
                ));
            }
        }
    }
    if let Some(extra) = other
        .fields()
        .iter()
        .find(|f| first.field_with_name(f.name()).is_err())
    {
        return Err(drift(
            extra.name(),
            extra.data_type().to_string(),
            ABSENT.to_string(),
        ));
    }
    Ok(())
}

/// Registers `name` as the raw table without replayed rows: a row that
/// repeats another exactly (a feed sending the same transaction twice) is one
/// transaction, not two. Rows that share the `dedupe_on` key but differ in
/// another column are not replays but conflicting records; they are counted
/// by the quality check and make the run fail, because choosing one of
/// them silently would change what the customer did.
///
/// Why not `DISTINCT ON (key)`, or `GROUP BY key` with `MAX` of the other
/// columns: measured on 5M transactions, DataFusion runs both slower than
/// a plain `DISTINCT`. A run computes the same rows another way, once
/// (`dedupe.rs`); this plan is what `validate` checks and what
/// `serve` runs over a customer's rows.
async fn register_deduplicated(
    ctx: &SessionContext,
    spec: &seglake_spec::SourceSpec,
    raw: &str,
) -> Result<()> {
    let name = &spec.name;
    let schema = ctx
        .table_provider(raw)
        .await
        .map_err(table_err(name))?
        .schema();
    for k in &spec.dedupe_on {
        if schema.field_with_name(k).is_err() {
            return Err(FeatureError::UnknownDedupeColumn {
                source_name: name.clone(),
                column: k.clone(),
                columns: crate::error::column_list(&schema),
            });
        }
    }
    let df = ctx
        .sql(&format!("SELECT DISTINCT * FROM \"{raw}\""))
        .await
        .map_err(|source| FeatureError::Deduplicate {
            source_name: name.clone(),
            source,
        })?;
    ctx.register_table(name.as_str(), df.into_view())
        .map_err(table_err(name))?;
    Ok(())
}
