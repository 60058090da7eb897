//! The columns of `screening_hits`, which a run writes (seglake-jobs) and
//! the live scorer reads back (seglake-features).

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// The columns of `screening_hits`, in order.
pub fn schema() -> SchemaRef {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("party", DataType::Utf8, false),
        Field::new("party_id", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("list_entry_id", DataType::Int64, false),
        Field::new("list_entry_type", DataType::Utf8, false),
        Field::new("listed_name", DataType::Utf8, false),
        Field::new("listed_name_kind", DataType::Utf8, false),
        Field::new("programmes", DataType::Utf8, false),
        Field::new("score", DataType::Float64, false),
        Field::new("matched_tokens", DataType::Utf8, false),
        Field::new("list_source", DataType::Utf8, false),
        Field::new("list_sha256", DataType::Utf8, false),
        Field::new("run_id", DataType::Utf8, false),
        Field::new("as_of", ts, false),
    ]))
}
