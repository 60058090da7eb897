//! The per-group states of seglake's exact float aggregates, and how a
//! state travels between partitions and processes (the partial-aggregate
//! columns a query plan moves).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryArray, UInt64Array};
use arrow::datatypes::{DataType, Field, UInt64Type};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::utils::format_state_name;
use seglake_exact::{ExactSum, Moments, Spread};

/// A statistic an exact float aggregate gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Statistic {
    Sum,
    Mean,
    Variance(Spread),
    StandardDeviation(Spread),
}

impl Statistic {
    /// Every statistic, in the order of the shared aggregate's fields
    /// (see [`super::shared`]).
    pub(crate) const ALL: [Statistic; 6] = [
        Statistic::Sum,
        Statistic::Mean,
        Statistic::Variance(Spread::Sample),
        Statistic::Variance(Spread::Population),
        Statistic::StandardDeviation(Spread::Sample),
        Statistic::StandardDeviation(Spread::Population),
    ];

    /// The statistic's SQL name (DataFusion's function name or alias).
    pub(crate) fn sql_name(self) -> &'static str {
        match self {
            Statistic::Sum => "sum",
            Statistic::Mean => "avg",
            Statistic::Variance(Spread::Sample) => "var_samp",
            Statistic::Variance(Spread::Population) => "var_pop",
            Statistic::StandardDeviation(Spread::Sample) => "stddev_samp",
            Statistic::StandardDeviation(Spread::Population) => "stddev_pop",
        }
    }

    /// Whether it needs the sum of squares ([`Moments`]) rather than the
    /// sum alone ([`SumState`]).
    pub(crate) fn needs_squares(self) -> bool {
        matches!(
            self,
            Statistic::Variance(_) | Statistic::StandardDeviation(_)
        )
    }
}

/// What a state becomes at the end of the aggregation.
pub(crate) trait ExactState: Default + Send + Sync + std::fmt::Debug + 'static {
    fn add(&mut self, x: f64);
    fn remove(&mut self, x: f64);
    fn merge(&mut self, other: &Self);
    /// Heap bytes beyond `size_of::<Self>()`.
    fn heap_bytes(&self) -> usize;
    fn finish(&self, statistic: Statistic) -> Option<f64>;

    /// The partial-state columns, named after the aggregate expression.
    fn state_fields(name: &str) -> Vec<Field>;
    fn to_columns<'a>(states: impl Iterator<Item = &'a Self>) -> Vec<ArrayRef>;
    /// Row `row` of state columns; `None` for a partial state that saw no
    /// value.
    fn from_columns(columns: &[ArrayRef], row: usize) -> Result<Option<Self>>;
}

/// `SUM` and `AVG`: how many values, and their exact sum.
#[derive(Debug, Default)]
pub(crate) struct SumState {
    count: u64,
    sum: ExactSum,
}

fn count_field(name: &str) -> Field {
    Field::new(format_state_name(name, "count"), DataType::UInt64, false)
}

fn sum_field(name: &str, what: &str) -> Field {
    Field::new(format_state_name(name, what), DataType::Binary, true)
}

/// An exact sum's bytes, NULL for a group that saw no value.
fn sum_column<'a>(sums: impl Iterator<Item = (u64, &'a ExactSum)>) -> ArrayRef {
    Arc::new(BinaryArray::from_iter(
        sums.map(|(count, sum)| (count > 0).then(|| sum.to_bytes())),
    ))
}

fn read_sum(column: &ArrayRef, row: usize) -> Result<ExactSum> {
    let bytes = column.as_binary::<i32>().value(row);
    ExactSum::from_bytes(bytes).ok_or_else(|| {
        DataFusionError::Internal(format!(
            "a partial exact sum of {} bytes is not one seglake wrote",
            bytes.len()
        ))
    })
}

fn read_count(column: &ArrayRef, row: usize) -> u64 {
    column.as_primitive::<UInt64Type>().value(row)
}

impl ExactState for SumState {
    #[inline]
    fn add(&mut self, x: f64) {
        self.count += 1;
        self.sum.add(x);
    }

    fn remove(&mut self, x: f64) {
        self.count -= 1;
        self.sum.remove(x);
    }

    fn merge(&mut self, other: &Self) {
        self.count += other.count;
        self.sum.merge(&other.sum);
    }

    fn heap_bytes(&self) -> usize {
        self.sum.heap_bytes()
    }

    fn finish(&self, statistic: Statistic) -> Option<f64> {
        match statistic {
            Statistic::Sum => (self.count > 0).then(|| self.sum.value()),
            Statistic::Mean => seglake_exact::mean(self.count, &self.sum),
            Statistic::Variance(_) | Statistic::StandardDeviation(_) => {
                unreachable!("a spread is computed from moments: see Statistic::needs_squares")
            }
        }
    }

    fn state_fields(name: &str) -> Vec<Field> {
        vec![count_field(name), sum_field(name, "exact_sum")]
    }

    fn to_columns<'a>(states: impl Iterator<Item = &'a Self>) -> Vec<ArrayRef> {
        let states: Vec<&SumState> = states.collect();
        let counts = UInt64Array::from_iter_values(states.iter().map(|s| s.count));
        let sums = sum_column(states.iter().map(|s| (s.count, &s.sum)));
        vec![Arc::new(counts), sums]
    }

    fn from_columns(columns: &[ArrayRef], row: usize) -> Result<Option<Self>> {
        if columns[1].is_null(row) {
            return Ok(None);
        }
        Ok(Some(SumState {
            count: read_count(&columns[0], row),
            sum: read_sum(&columns[1], row)?,
        }))
    }
}

impl ExactState for Moments {
    #[inline]
    fn add(&mut self, x: f64) {
        Moments::add(self, x)
    }

    fn remove(&mut self, x: f64) {
        Moments::remove(self, x)
    }

    fn merge(&mut self, other: &Self) {
        Moments::merge(self, other)
    }

    fn heap_bytes(&self) -> usize {
        self.sum.heap_bytes() + self.sum_of_squares.heap_bytes()
    }

    fn finish(&self, statistic: Statistic) -> Option<f64> {
        match statistic {
            Statistic::Sum => (self.count > 0).then(|| self.sum.value()),
            Statistic::Mean => seglake_exact::mean(self.count, &self.sum),
            Statistic::Variance(spread) => self.variance(spread),
            Statistic::StandardDeviation(spread) => self.standard_deviation(spread),
        }
    }

    fn state_fields(name: &str) -> Vec<Field> {
        vec![
            count_field(name),
            sum_field(name, "exact_sum"),
            sum_field(name, "exact_sum_of_squares"),
        ]
    }

    fn to_columns<'a>(states: impl Iterator<Item = &'a Self>) -> Vec<ArrayRef> {
        let states: Vec<&Moments> = states.collect();
        let counts = UInt64Array::from_iter_values(states.iter().map(|s| s.count));
        let sums = sum_column(states.iter().map(|s| (s.count, &s.sum)));
        let squares = sum_column(states.iter().map(|s| (s.count, &s.sum_of_squares)));
        vec![Arc::new(counts), sums, squares]
    }

    fn from_columns(columns: &[ArrayRef], row: usize) -> Result<Option<Self>> {
        if columns[1].is_null(row) {
            return Ok(None);
        }
        Ok(Some(Moments {
            count: read_count(&columns[0], row),
            sum: read_sum(&columns[1], row)?,
            sum_of_squares: read_sum(&columns[2], row)?,
        }))
    }
}
