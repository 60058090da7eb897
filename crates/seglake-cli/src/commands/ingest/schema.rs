//! The columns an ingested table has: its own when it exists, else those of
//! the Parquet files or Delta table named by `--schema-like`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use seglake_spec::Location;

use crate::exit::InvalidInput;

/// The schema rows of `table` are decoded to. `like`, when given for an
/// existing table, must have the same columns.
pub async fn target_schema(table: &Location, like: Option<&Path>) -> anyhow::Result<SchemaRef> {
    let existing = if seglake_lake::table_exists(table).await? {
        Some(delta_schema(table).await?)
    } else {
        None
    };
    let like = match like {
        Some(path) => Some(schema_of_path(path).await?),
        None => None,
    };
    match (existing, like) {
        (Some(existing), Some(like)) => {
            if let Some(difference) = first_difference(&existing, &like) {
                return Err(InvalidInput(format!(
                    "--schema-like does not match the table {table}: {difference}"
                ))
                .into());
            }
            Ok(existing)
        }
        (Some(existing), None) => Ok(existing),
        (None, Some(like)) => Ok(like),
        (None, None) => Err(InvalidInput(format!(
            "{table} is not a Delta table yet: give --schema-like PATH (a Parquet file, a folder of \
             them or a Delta table) whose columns it should take"
        ))
        .into()),
    }
}

/// The columns of a Parquet file, of the first `.parquet` file of a
/// folder, or of a Delta table (a folder with `_delta_log`).
async fn schema_of_path(path: &Path) -> anyhow::Result<SchemaRef> {
    if path.join("_delta_log").is_dir() {
        return delta_schema(&Location::Local(std::path::absolute(path)?)).await;
    }
    let first = parquet_files(path)?.remove(0);
    let file = std::fs::File::open(&first)
        .map_err(|e| InvalidInput(format!("{}: {e}", first.display())))?;
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| InvalidInput(format!("{}: not a Parquet file: {e}", first.display())))?;
    // The fields alone: Parquet's key-value metadata is not the table's.
    Ok(Arc::new(Schema::new(builder.schema().fields().clone())))
}

/// The columns of the Delta table at `table`.
async fn delta_schema(table: &Location) -> anyhow::Result<SchemaRef> {
    let delta = seglake_lake::storage::delta_builder(table.to_url())
        .map_err(|e| anyhow::anyhow!("{table}: {e}"))?
        .load()
        .await
        .map_err(|e| anyhow::anyhow!("{table}: {e}"))?;
    let state = delta
        .snapshot()
        .map_err(|e| anyhow::anyhow!("{table}: {e}"))?;
    let schema = state.snapshot().arrow_schema();
    Ok(Arc::new(Schema::new(schema.fields().clone())))
}

/// `path` itself, or the `.parquet` files in folder `path` in name order.
pub fn parquet_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries =
        std::fs::read_dir(path).map_err(|e| InvalidInput(format!("{}: {e}", path.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(InvalidInput(format!("{}: no .parquet files there", path.display())).into());
    }
    Ok(files)
}

/// The first column in which `a` and `b` differ (name, type or
/// nullability), said.
fn first_difference(a: &Schema, b: &Schema) -> Option<String> {
    for (x, y) in a.fields().iter().zip(b.fields()) {
        if x.name() != y.name()
            || x.data_type() != y.data_type()
            || x.is_nullable() != y.is_nullable()
        {
            return Some(format!(
                "column `{}` {}{} in the table, `{}` {}{} in --schema-like",
                x.name(),
                x.data_type(),
                if x.is_nullable() { "" } else { " NOT NULL" },
                y.name(),
                y.data_type(),
                if y.is_nullable() { "" } else { " NOT NULL" },
            ));
        }
    }
    (a.fields().len() != b.fields().len()).then(|| {
        format!(
            "the table has {} columns, --schema-like {}",
            a.fields().len(),
            b.fields().len()
        )
    })
}
