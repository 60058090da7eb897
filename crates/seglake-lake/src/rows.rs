//! Table rows as serde values: what reads the lake's own tables back
//! (`runs`, `models`, `monitoring`) into their Rust types.

use arrow::array::RecordBatch;

/// Why rows could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum RowsError {
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// Decodes `batches` through Arrow's JSON writer: a column becomes the
/// field of the same name (timestamps as RFC 3339 text, lists of structs
/// as vectors).
pub fn decode_rows<T: serde::de::DeserializeOwned>(
    batches: &[RecordBatch],
) -> Result<Vec<T>, RowsError> {
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    for batch in batches {
        writer.write(batch)?;
    }
    writer.finish()?;
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    Ok(serde_json::from_slice(&bytes)?)
}
