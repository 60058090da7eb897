//! Shadow scoring (`serve --shadow`): every customer scored with the
//! champion is also scored with the latest challenger, and both scores go
//! to the `shadow_scores` table, so the two models can be compared on live
//! traffic before the challenger is promoted.
//!
//! Rows wait in memory and are appended to the table every flush interval
//! (and at a clean stop), one Delta commit per flush. Unlike feedback they
//! are not logged to disk first: a crash loses at most one interval of
//! comparisons, never a score a caller was given.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arrow::array::{ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, Utc};
use seglake_lake::{WriteMode, publish, table_location};
use seglake_spec::Location;

use crate::error::ServeError;

/// The table's name under the lake root.
pub const SHADOW_TABLE: &str = "shadow_scores";

/// One model's answer for one customer.
#[derive(Debug, Clone)]
pub struct ModelScore {
    pub run_id: String,
    pub segment_id: i32,
    pub segment_label: String,
    pub risk_score: Option<f64>,
    pub risk_band: Option<String>,
}

/// One customer scored by both models.
#[derive(Debug, Clone)]
pub struct ShadowRow {
    pub scored_at: DateTime<Utc>,
    pub customer_id: Option<String>,
    pub champion: ModelScore,
    pub challenger: ModelScore,
}

/// The table's columns.
pub fn schema() -> SchemaRef {
    let mut fields = vec![
        Field::new(
            "scored_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("customer_id", DataType::Utf8, true),
    ];
    for role in ["champion", "challenger"] {
        fields.extend([
            Field::new(format!("{role}_run_id"), DataType::Utf8, false),
            Field::new(format!("{role}_segment_id"), DataType::Int32, false),
            Field::new(format!("{role}_segment_label"), DataType::Utf8, false),
            Field::new(format!("{role}_risk_score"), DataType::Float64, true),
            Field::new(format!("{role}_risk_band"), DataType::Utf8, true),
        ]);
    }
    Arc::new(Schema::new(fields))
}

fn to_batch(rows: &[ShadowRow]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(
            arrow::array::TimestampMicrosecondArray::from_iter_values(
                rows.iter().map(|r| r.scored_at.timestamp_micros()),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|r| r.customer_id.as_deref()),
        )),
    ];
    let sides: [fn(&ShadowRow) -> &ModelScore; 2] = [|r| &r.champion, |r| &r.challenger];
    for side in sides {
        let of = || rows.iter().map(side);
        columns.extend([
            Arc::new(StringArray::from_iter_values(
                of().map(|s| s.run_id.as_str()),
            )) as ArrayRef,
            Arc::new(Int32Array::from_iter_values(of().map(|s| s.segment_id))),
            Arc::new(StringArray::from_iter_values(
                of().map(|s| s.segment_label.as_str()),
            )),
            Arc::new(Float64Array::from_iter(of().map(|s| s.risk_score))),
            Arc::new(StringArray::from_iter(of().map(|s| s.risk_band.as_deref()))),
        ]);
    }
    RecordBatch::try_new(schema(), columns)
}

/// The rows waiting to be committed.
pub struct ShadowLog {
    lake: PathBuf,
    waiting: Mutex<Vec<ShadowRow>>,
}

impl ShadowLog {
    pub fn new(lake: PathBuf) -> ShadowLog {
        ShadowLog {
            lake,
            waiting: Mutex::new(Vec::new()),
        }
    }

    pub fn push(&self, rows: impl IntoIterator<Item = ShadowRow>) {
        self.waiting.lock().expect("shadow lock").extend(rows);
    }

    /// Appends the waiting rows to `shadow_scores` in one commit; on
    /// failure they wait for the next flush.
    pub async fn flush(&self) -> Result<(), ServeError> {
        let rows = std::mem::take(&mut *self.waiting.lock().expect("shadow lock"));
        if rows.is_empty() {
            return Ok(());
        }
        match self.append(&rows).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.waiting.lock().expect("shadow lock").splice(0..0, rows);
                Err(e)
            }
        }
    }

    async fn append(&self, rows: &[ShadowRow]) -> Result<(), ServeError> {
        let batch = to_batch(rows)
            .map_err(|e| ServeError::Config(format!("building `{SHADOW_TABLE}`: {e}")))?;
        let location = table_location(&Location::Local(self.lake.clone()), SHADOW_TABLE);
        publish(
            SHADOW_TABLE,
            &location,
            schema(),
            vec![batch],
            WriteMode::Append,
            &Default::default(),
            Some("customer_id"),
        )
        .await?;
        Ok(())
    }
}
