//! The ingested tables as Delta tables: each commit carries the partition's
//! last offset as an application transaction, which is also where a
//! restart reads it back.

use std::collections::HashMap;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use seglake_lake::AppTransaction;
use seglake_spec::Location;
use seglake_stream::StreamError;
use seglake_stream::ingest::{Sink, Table};

/// The rows table and the dead-letter table of one topic.
pub struct LakeSink {
    topic: String,
    rows: Location,
    dead_letters: Location,
    rows_schema: SchemaRef,
}

impl LakeSink {
    pub fn new(
        topic: &str,
        rows: Location,
        dead_letters: Location,
        rows_schema: SchemaRef,
    ) -> Self {
        LakeSink {
            topic: topic.to_string(),
            rows,
            dead_letters,
            rows_schema,
        }
    }

    /// The table's name (for messages), location and schema.
    fn table(&self, table: Table) -> (&'static str, &Location, SchemaRef) {
        match table {
            Table::Rows => ("ingested rows", &self.rows, self.rows_schema.clone()),
            Table::DeadLetters => (
                "dead letters",
                &self.dead_letters,
                seglake_stream::dead_letters::schema(),
            ),
        }
    }

    fn app_id(&self, partition: i32) -> String {
        seglake_stream::ingest::offsets_app_id(&self.topic, partition)
    }
}

fn sink_error(e: seglake_lake::LakeError) -> StreamError {
    StreamError::Sink(seglake_spec::error_chain(&e))
}

impl Sink for LakeSink {
    async fn committed(&self, table: Table, partition: i32) -> seglake_stream::Result<Option<i64>> {
        let (name, location, _) = self.table(table);
        seglake_lake::transaction_version(name, location, &self.app_id(partition))
            .await
            .map_err(sink_error)
    }

    async fn append(
        &self,
        table: Table,
        partition: i32,
        batch: RecordBatch,
        last_offset: i64,
    ) -> seglake_stream::Result<()> {
        let (name, location, schema) = self.table(table);
        let metadata = HashMap::from([
            (
                "seglake.ingest.topic".to_string(),
                self.topic.clone().into(),
            ),
            ("seglake.ingest.partition".to_string(), partition.into()),
            ("seglake.ingest.last_offset".to_string(), last_offset.into()),
        ]);
        let txn = AppTransaction {
            app_id: self.app_id(partition),
            version: last_offset,
        };
        seglake_lake::append_once(name, location, schema, vec![batch], &metadata, None, txn)
            .await
            .map_err(sink_error)?;
        Ok(())
    }
}
