//! `sum` over 64-bit integers that fails instead of wrapping.
//!
//! DataFusion's `sum` adds `BIGINT`s with wrapping arithmetic: a sum past
//! 9.2e18 silently becomes a large negative number, which a feature table
//! would then publish as a customer's total. seglake's `sum`
//! ([`super::exact::SeglakeAggregate`]) uses these accumulators for a
//! non-DISTINCT sum of integers (which the signature widens to `BIGINT`):
//! they check every addition and stop the query with an error naming the
//! expression.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array};
use arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};

/// Whether a `sum` is one these accumulators check.
pub(super) fn is_checked(args: &AccumulatorArgs) -> bool {
    !args.is_distinct && args.return_field.data_type() == &DataType::Int64
}

/// An arithmetic error of the data (not of the machine): the run fails as
/// invalid input, exit code 1.
fn overflow(name: &str) -> DataFusionError {
    DataFusionError::ArrowError(
        Box::new(arrow::error::ArrowError::ArithmeticOverflow(format!(
            "{name} overflowed the 64-bit integer range (DataFusion would wrap it to a wrong \
             value); sum a DOUBLE or DECIMAL instead (CAST(... AS DOUBLE))"
        ))),
        None,
    )
}

/// Adds `values` (Int64) into `add`, skipping nulls and filtered rows.
fn for_each_value(
    values: &ArrayRef,
    opt_filter: Option<&BooleanArray>,
    mut add: impl FnMut(usize, i64) -> Result<()>,
) -> Result<()> {
    let values = values.as_primitive::<Int64Type>();
    for i in 0..values.len() {
        if values.is_null(i) || opt_filter.is_some_and(|f| !f.is_valid(i) || !f.value(i)) {
            continue;
        }
        add(i, values.value(i))?;
    }
    Ok(())
}

#[derive(Debug)]
pub(super) struct CheckedSumAccumulator {
    name: String,
    sum: Option<i64>,
}

impl CheckedSumAccumulator {
    pub(super) fn new(name: &str) -> Self {
        CheckedSumAccumulator {
            name: name.to_string(),
            sum: None,
        }
    }
}

impl Accumulator for CheckedSumAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let name = &self.name;
        let sum = &mut self.sum;
        for_each_value(&values[0], None, |_, v| {
            *sum = Some(
                sum.unwrap_or(0)
                    .checked_add(v)
                    .ok_or_else(|| overflow(name))?,
            );
            Ok(())
        })
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.update_batch(states)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(self.sum))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.name.capacity()
    }
}

/// Per group: the sum so far, and whether any value was seen (a group of
/// NULLs sums to NULL, as in DataFusion).
pub(super) struct CheckedSumGroups {
    name: String,
    sums: Vec<i64>,
    seen: Vec<bool>,
}

impl CheckedSumGroups {
    pub(super) fn new(name: &str) -> Self {
        CheckedSumGroups {
            name: name.to_string(),
            sums: Vec::new(),
            seen: Vec::new(),
        }
    }
}

impl GroupsAccumulator for CheckedSumGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.sums.resize(total_num_groups, 0);
        self.seen.resize(total_num_groups, false);
        let (name, sums, seen) = (&self.name, &mut self.sums, &mut self.seen);
        for_each_value(&values[0], opt_filter, |i, v| {
            let g = group_indices[i];
            sums[g] = sums[g].checked_add(v).ok_or_else(|| overflow(name))?;
            seen[g] = true;
            Ok(())
        })
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let sums = emit_to.take_needed(&mut self.sums);
        let seen = emit_to.take_needed(&mut self.seen);
        Ok(Arc::new(Int64Array::from_iter(
            sums.into_iter()
                .zip(seen)
                .map(|(s, seen)| seen.then_some(s)),
        )))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.evaluate(emit_to)?])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.update_batch(values, group_indices, None, total_num_groups)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        // A row's partial sum is its own value (NULL when filtered out).
        let values = values[0].as_primitive::<Int64Type>();
        Ok(vec![Arc::new(Int64Array::from_iter(
            (0..values.len()).map(|i| {
                let kept = opt_filter.is_none_or(|f| f.is_valid(i) && f.value(i));
                (kept && values.is_valid(i)).then(|| values.value(i))
            }),
        ))])
    }

    fn size(&self) -> usize {
        self.sums.capacity() * 8 + self.seen.capacity() + self.name.capacity()
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use crate::{EngineOptions, FeatureEngine};

    fn engine(keys: Vec<&str>, values: Vec<Option<i64>>) -> FeatureEngine {
        let engine = FeatureEngine::new(&EngineOptions {
            target_partitions: Some(2),
            memory_limit: None,
            ..EngineOptions::default()
        })
        .unwrap();
        let schema = std::sync::Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, false),
            Field::new("v", DataType::Int64, true),
            Field::new("f", DataType::Float64, true),
        ]));
        let n = keys.len();
        let batch = arrow::array::RecordBatch::try_new(
            schema.clone(),
            vec![
                std::sync::Arc::new(StringArray::from(keys)),
                std::sync::Arc::new(Int64Array::from(values)),
                std::sync::Arc::new(Float64Array::from(vec![0.5; n])),
            ],
        )
        .unwrap();
        engine.register_batches("t", schema, vec![batch]).unwrap();
        engine
    }

    async fn rows(engine: &FeatureEngine, sql: &str) -> Result<String, String> {
        engine
            .query("test", sql)
            .await
            .map(|b| {
                arrow::util::pretty::pretty_format_batches(&b)
                    .unwrap()
                    .to_string()
            })
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn integer_sums_are_exact_and_overflow_is_an_error() {
        let e = engine(
            vec!["a", "a", "b", "b", "c"],
            vec![Some(i64::MAX - 1), Some(1), Some(i64::MAX), Some(1), None],
        );
        // Grouped: `a` reaches i64::MAX exactly, `b` passes it.
        let err = rows(&e, "SELECT k, SUM(v) FROM t GROUP BY k")
            .await
            .unwrap_err();
        assert!(
            err.contains("sum(t.v) overflowed the 64-bit integer range"),
            "{err}"
        );
        let ok = rows(
            &e,
            "SELECT k, SUM(v) AS s, SUM(f) AS sf FROM t WHERE k <> 'b' GROUP BY k ORDER BY k",
        )
        .await
        .unwrap();
        assert!(ok.contains(&format!("| a | {} | 1.0 ", i64::MAX)), "{ok}");
        assert!(ok.contains("| c |                     | 0.5"), "{ok}");
        // Filtered, DISTINCT and ungrouped sums.
        let ok = rows(&e, "SELECT SUM(v) FILTER (WHERE k = 'a') AS s, SUM(DISTINCT v) FILTER (WHERE k = 'c') AS d FROM t")
            .await
            .unwrap();
        assert!(ok.contains(&format!("| {} |   |", i64::MAX)), "{ok}");
        let err = rows(&e, "SELECT SUM(v) FROM t").await.unwrap_err();
        assert!(err.contains("overflowed"), "{err}");
        // Small integers widen to BIGINT and are checked too.
        let ok = rows(&e, "SELECT SUM(CAST(1 AS INT)) AS n FROM t")
            .await
            .unwrap();
        assert!(ok.contains("| 5 |"), "{ok}");
    }
}
