//! A run's deduplication of a `dedupe_on` source: only the rows whose key
//! repeats go through `DISTINCT`.
//!
//! A replayed row repeats another exactly, and the source without replays
//! is `SELECT DISTINCT *` of its raw rows ([`crate::sources`] registers
//! that, what `validate` plans and `serve` runs over a few rows). Computed
//! as written, it hashes and compares every column of every row, and
//! materialised it writes the whole source again: 7.7 s of the 11.9 s of
//! features on the 10M-transaction benchmark (`benches/job_compare.sh`).
//! Replays are few (0.5% of that feed), and a row whose key appears once
//! is a distinct row by itself. So a run
//!
//! 1. materialises the hashes of the keys that appear more than once
//!    ([`crate::key_hash`]: grouping 64-bit hashes is faster than grouping
//!    the keys, and a collision only sends a few more rows to step 2);
//! 2. materialises the distinct rows whose key hash is one of those;
//! 3. reads the source as the other raw rows (an anti-join on the key hash
//!    against the small table of step 1) followed by the rows of step 2.
//!
//! That is the same multiset of rows as `SELECT DISTINCT *`, and the views'
//! projections and filters reach the raw scan. One difference in bits:
//! DataFusion's `DISTINCT` writes a float `-0.0` as `0.0`; a row read once
//! now keeps its `-0.0` as the file has it (a replayed one still becomes
//! `0.0`). The two are equal as numbers, sum alike, and only a `MIN`/`MAX`
//! over zeros alone would show the sign. Both hashes of a row come
//! from the raw table, so they agree whatever type a materialised copy
//! would read back as.
//!
//! On a cluster the whole `SELECT DISTINCT *` is materialised, as before
//! (see `materialize_distinct`).

use seglake_spec::SourceSpec;

use crate::engine::FeatureEngine;
use crate::error::{FeatureError, Result};
use crate::key_hash::KEY_HASH;
use crate::sources::{raw_name, repeated_names};

impl FeatureEngine {
    /// Registers `source` (which has `dedupe_on`) as its raw rows without
    /// replays, materialising the rows whose key repeats, deduplicated.
    pub(crate) async fn deduplicate_for_run(&mut self, source: &SourceSpec) -> Result<()> {
        let name = source.name.as_str();
        if self.is_remote() {
            return self.materialize_distinct(name).await;
        }
        let raw = raw_name(name);
        let repeated = repeated_names(name);
        let key_hash = key_hash_of("r", &source.dedupe_on);
        let keys = source.dedupe_on.join(", ");
        let repeated_keys = format!(
            "SELECT {key_hash} AS key_hash FROM \"{raw}\" r GROUP BY 1 HAVING count(*) > 1"
        );
        let what = format!("the keys ({keys}) of source `{name}` that repeat");
        let found = self
            .materialize_sql(name, &repeated.keys, &what, &repeated_keys)
            .await?;
        tracing::info!(source = name, keys = found, "dedupe_on keys that repeat");
        if found == 0 {
            return self
                .register_source_view(name, &format!("SELECT * FROM \"{raw}\""))
                .await;
        }
        let repeated_rows = format!(
            "SELECT DISTINCT r.* FROM \"{keys_table}\" d RIGHT SEMI JOIN \"{raw}\" r \
             ON {key_hash} = d.key_hash",
            keys_table = repeated.keys,
        );
        let what =
            format!("the rows of source `{name}` whose key ({keys}) repeats, without replays");
        self.materialize_sql(name, &repeated.rows, &what, &repeated_rows)
            .await?;
        let deduplicated = format!(
            "SELECT r.* FROM \"{raw}\" r LEFT ANTI JOIN \"{keys_table}\" d \
             ON {key_hash} = d.key_hash \
             UNION ALL SELECT * FROM \"{rows_table}\"",
            keys_table = repeated.keys,
            rows_table = repeated.rows,
        );
        self.register_source_view(name, &deduplicated).await
    }

    /// On a cluster: `source` (the plain `SELECT DISTINCT *` view) computed
    /// whole. Ballista 55 loses track of a job whose plan joins inside a
    /// `UNION` (a stage's task metrics no longer match its plan: "task
    /// metrics array size 6 does not equal with the stage metrics array
    /// size 7") and never finishes it, so the cluster keeps this plan.
    async fn materialize_distinct(&mut self, source: &str) -> Result<()> {
        let plan = self
            .context()
            .table(source)
            .await
            .map_err(deduplicate_err(source))?
            .into_unoptimized_plan();
        self.context()
            .deregister_table(source)
            .map_err(deduplicate_err(source))?;
        let what = format!("source `{source}` without replayed rows");
        self.materialize(source, &what, plan).await?;
        Ok(())
    }

    /// Plans `sql` and materialises it as `table`; errors name `source`.
    async fn materialize_sql(
        &mut self,
        source: &str,
        table: &str,
        what: &str,
        sql: &str,
    ) -> Result<u64> {
        let plan = self
            .context()
            .sql(sql)
            .await
            .map_err(deduplicate_err(source))?
            .into_unoptimized_plan();
        self.materialize(table, what, plan).await
    }

    /// Registers `sql` as the view `source` (replacing the plain
    /// `DISTINCT` view registered with the source).
    async fn register_source_view(&self, source: &str, sql: &str) -> Result<()> {
        let plan = self
            .context()
            .sql(sql)
            .await
            .map_err(deduplicate_err(source))?;
        self.context()
            .deregister_table(source)
            .and_then(|_| self.context().register_table(source, plan.into_view()))
            .map_err(deduplicate_err(source))?;
        Ok(())
    }
}

fn deduplicate_err(
    source: &str,
) -> impl Fn(datafusion::error::DataFusionError) -> FeatureError + '_ {
    move |error| FeatureError::Deduplicate {
        source_name: source.to_string(),
        source: error,
    }
}

/// `seglake_key_hash(alias."k1", alias."k2", ...)`.
fn key_hash_of(alias: &str, keys: &[String]) -> String {
    let columns: Vec<String> = keys.iter().map(|k| format!("{alias}.\"{k}\"")).collect();
    format!("{KEY_HASH}({})", columns.join(", "))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::util::pretty::pretty_format_batches;
    use seglake_spec::{Location, SourceFormat};

    use super::*;
    use crate::engine::EngineOptions;
    use crate::sources::register_rows;

    fn source(keys: &[&str]) -> SourceSpec {
        SourceSpec {
            name: "tx".into(),
            location: Location::Local("unused".into()),
            format: SourceFormat::Parquet,
            version: None,
            dedupe_on: keys.iter().map(|k| k.to_string()).collect(),
            postgres: None,
        }
    }

    /// Replays of unique rows, of rows with NULL keys and NULL values, rows
    /// sharing a key but differing (conflicting, kept both as `DISTINCT`
    /// keeps them), and rows seen once.
    fn rows() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("part", DataType::Int64, true),
            Field::new("amount", DataType::Float64, true),
            Field::new("note", DataType::Utf8, true),
        ]));
        let id = [
            Some("t1"),
            Some("t1"),
            Some("t2"),
            None,
            None,
            None,
            Some("t3"),
            Some("t3"),
            Some("t4"),
            Some("t4"),
            Some("t4"),
            Some("t5"),
        ];
        let part = [
            Some(1),
            Some(1),
            Some(1),
            Some(1),
            Some(1),
            None,
            Some(1),
            Some(2),
            None,
            None,
            Some(1),
            Some(1),
        ];
        let amount = [
            Some(1.5),
            Some(1.5),
            Some(2.0),
            None,
            None,
            Some(3.0),
            Some(4.0),
            Some(4.0),
            Some(5.0),
            Some(6.0),
            Some(5.0),
            Some(0.5),
        ];
        let note = [
            None,
            None,
            Some("x"),
            Some("n"),
            Some("n"),
            None,
            Some("y"),
            Some("y"),
            None,
            None,
            None,
            Some("z"),
        ];
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(id.to_vec())),
                Arc::new(Int64Array::from(part.to_vec())),
                Arc::new(Float64Array::from(amount.to_vec())),
                Arc::new(StringArray::from(note.to_vec())),
            ],
        )
        .unwrap()
    }

    /// The source's rows as a run deduplicates them, and as
    /// `SELECT DISTINCT *` does, each sorted.
    async fn both_ways(keys: &[&str], batch: RecordBatch) -> (String, String) {
        let mut engine = FeatureEngine::new(&EngineOptions::default()).unwrap();
        let spec = source(keys);
        register_rows(engine.context(), &spec, batch.schema(), vec![batch])
            .await
            .unwrap();
        let sorted = "ORDER BY id NULLS FIRST, part NULLS FIRST, amount NULLS FIRST, note";
        let plain = engine
            .query("plain", &format!("SELECT * FROM tx {sorted}"))
            .await
            .unwrap();
        engine.deduplicate_for_run(&spec).await.unwrap();
        let run = engine
            .query("run", &format!("SELECT * FROM tx {sorted}"))
            .await
            .unwrap();
        (
            pretty_format_batches(&run).unwrap().to_string(),
            pretty_format_batches(&plain).unwrap().to_string(),
        )
    }

    #[tokio::test]
    async fn a_run_keeps_the_rows_select_distinct_keeps() {
        for keys in [&["id"][..], &["id", "part"], &["note"], &["amount"]] {
            let (run, plain) = both_ways(keys, rows()).await;
            assert_eq!(run, plain, "dedupe_on {keys:?}");
        }
        let (run, _) = both_ways(&["id", "part"], rows()).await;
        assert_eq!(run.lines().count(), 4 + 10, "10 distinct rows:\n{run}");
    }

    #[tokio::test]
    async fn a_row_read_once_keeps_a_negative_zero() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("amount", DataType::Float64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["t1", "t2", "t2"])),
                Arc::new(Float64Array::from(vec![-0.0, -0.0, -0.0])),
            ],
        )
        .unwrap();
        let mut engine = FeatureEngine::new(&EngineOptions::default()).unwrap();
        let spec = source(&["id"]);
        register_rows(engine.context(), &spec, batch.schema(), vec![batch])
            .await
            .unwrap();
        engine.deduplicate_for_run(&spec).await.unwrap();
        let out = engine
            .query("run", "SELECT id, amount FROM tx ORDER BY id")
            .await
            .unwrap();
        let amounts = out[0]
            .column(1)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        assert_eq!(out[0].num_rows(), 2);
        assert!(amounts.value(0).is_sign_negative(), "t1 read once: -0.0");
        assert_eq!(amounts.value(1), 0.0, "t2 replayed");
    }

    #[tokio::test]
    async fn a_source_without_repeated_keys_is_its_raw_rows() {
        let batch = rows().slice(1, 3);
        let (run, plain) = both_ways(&["id"], batch).await;
        assert_eq!(run, plain);
        assert_eq!(run.lines().count(), 4 + 3);
    }
}
