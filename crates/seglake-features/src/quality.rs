//! The data-quality report: what cleaning removed and what it flagged.

use arrow::array::{Array, Int64Array, StringArray};
use seglake_lake::PinnedInput;
use seglake_spec::lineage::{
    DuplicateCount, MissingCount, OutlierCount, QualityRecord, TableCount,
};
use seglake_spec::{JobSpec, OutlierRule};

use crate::engine::{FeatureEngine, FeatureTable};
use crate::error::{FeatureError, Result};
use crate::sources::{raw_name, repeated_names};

fn first_i64(batches: &[arrow::array::RecordBatch], column: usize) -> i64 {
    batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .and_then(|b| {
            b.column(column)
                .as_any()
                .downcast_ref::<Int64Array>()
                .map(|a| a.value(0))
        })
        .unwrap_or(0)
}

impl FeatureEngine {
    /// Rows per source as read (before deduplication).
    pub async fn count_inputs(&self, inputs: &[PinnedInput]) -> Result<Vec<TableCount>> {
        let mut out = Vec::new();
        for input in inputs {
            let table = if input.spec.dedupe_on.is_empty() {
                input.spec.name.clone()
            } else {
                raw_name(&input.spec.name)
            };
            let batches = self
                .query(
                    &format!("counting rows of source `{}`", input.spec.name),
                    &format!("SELECT CAST(count(*) AS BIGINT) FROM \"{table}\""),
                )
                .await?;
            out.push(TableCount {
                table: input.spec.name.clone(),
                rows: first_i64(&batches, 0),
            });
        }
        Ok(out)
    }

    /// Counts duplicates removed and missing values per source, and the rows
    /// each outlier rule flags. `features` adds the feature table's own
    /// missing values.
    pub async fn quality_report(
        &self,
        spec: &JobSpec,
        inputs: &[PinnedInput],
        rows_in: &[TableCount],
        features: &FeatureTable,
    ) -> Result<QualityRecord> {
        let mut report = QualityRecord::default();
        for input in inputs.iter().filter(|i| !i.spec.dedupe_on.is_empty()) {
            let read = rows_in
                .iter()
                .find(|c| c.table == input.spec.name)
                .map_or(0, |c| c.rows);
            report
                .duplicates_removed
                .push(self.count_replays(input, read).await?);
        }
        for input in inputs {
            let name = &input.spec.name;
            let schema = self.table_schema(name).await?;
            let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            let counts: Vec<String> = columns
                .iter()
                .map(|c| format!("CAST(count(*) - count(\"{c}\") AS BIGINT)"))
                .collect();
            let sql = format!("SELECT {} FROM \"{name}\"", counts.join(", "));
            let batches = self
                .query(&format!("counting missing values in source `{name}`"), &sql)
                .await?;
            for (i, column) in columns.iter().enumerate() {
                report.missing_values.push(MissingCount {
                    table: name.clone(),
                    column: column.to_string(),
                    rows: first_i64(&batches, i),
                });
            }
        }
        for batch in &features.batches {
            for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                report.missing_values.push(MissingCount {
                    table: spec.output_table.clone(),
                    column: field.name().clone(),
                    rows: column.null_count() as i64,
                });
            }
        }
        for rule in &spec.quality.outliers {
            // Bounded by the query timeout as every other query of a run.
            let plan = self.rule_count(rule).await?.into_unoptimized_plan();
            let batches = self
                .collect_logical(&format!("quality rule `{}`", rule.name), plan)
                .await?;
            report.outliers.push(OutlierCount {
                rule: rule.name.clone(),
                table: rule.table.clone(),
                column: rule.column.clone(),
                condition: rule.condition(),
                rows: first_i64(&batches, 0),
            });
        }
        Ok(report)
    }

    /// Counts the replayed rows dropped from a `dedupe_on` source, and fails
    /// if rows sharing the key differ (conflicting records).
    /// `read` is the number of rows read, before deduplication.
    async fn count_replays(&self, input: &PinnedInput, read: i64) -> Result<DuplicateCount> {
        let name = &input.spec.name;
        let sql = format!("SELECT CAST(count(*) AS BIGINT) FROM \"{name}\"");
        let batches = self
            .query(&format!("counting duplicates in source `{name}`"), &sql)
            .await?;
        let removed = read - first_i64(&batches, 0);
        // A run keeps the rows whose key repeats apart: only they can conflict.
        let repeated = repeated_names(name).rows;
        let checked = match self.context().table_exist(repeated.as_str()) {
            Ok(true) => repeated.as_str(),
            _ => name.as_str(),
        };
        let conflicts = self
            .query(
                &format!("checking source `{name}` for conflicting records"),
                &conflicting_keys_sql(checked, &input.spec.dedupe_on),
            )
            .await?;
        let examples: Vec<String> = conflicts
            .iter()
            .flat_map(|b| {
                // VARCHAR may arrive as Utf8 or Utf8View: read it as Utf8.
                let keys = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8)
                    .expect("text casts to Utf8");
                let keys = keys
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .expect("cast to Utf8");
                (0..b.num_rows())
                    .map(|i| keys.value(i).to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        if !examples.is_empty() {
            return Err(FeatureError::ConflictingRecords {
                source_name: name.clone(),
                key: input.spec.dedupe_on.join(", "),
                keys: first_i64(&conflicts, 1),
                examples: examples.join(", "),
            });
        }
        Ok(DuplicateCount {
            table: name.clone(),
            key: input.spec.dedupe_on.clone(),
            rows: removed,
        })
    }

    /// Plans every outlier rule without running it, so `validate` finds an
    /// unknown column.
    pub async fn check_rules(&self, spec: &JobSpec) -> Result<()> {
        for rule in &spec.quality.outliers {
            self.rule_count(rule).await?;
        }
        Ok(())
    }

    /// The query counting the rows a rule flags, planned (not run): an
    /// unknown table or column is an error naming the rule.
    async fn rule_count(&self, rule: &OutlierRule) -> Result<datafusion::dataframe::DataFrame> {
        let sql = format!(
            "SELECT CAST(count(*) AS BIGINT) FROM \"{}\" WHERE {}",
            rule.table,
            rule.condition()
        );
        self.context()
            .sql(&sql)
            .await
            .map_err(|error| FeatureError::Rule {
                rule: rule.name.clone(),
                table: rule.table.clone(),
                error,
            })
    }
}

/// SQL returning up to 3 keys of `source` (deduplicated) that still repeat,
/// with the number of such keys: conflicting records.
fn conflicting_keys_sql(source: &str, keys: &[String]) -> String {
    let cols: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
    let cols = cols.join(", ");
    format!(
        "SELECT CAST(concat_ws('/', {cols}) AS VARCHAR) AS k, CAST(count(*) OVER () AS BIGINT) AS n \
         FROM \"{source}\" GROUP BY {cols} HAVING count(*) > 1 ORDER BY k LIMIT 3"
    )
}
