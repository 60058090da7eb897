//! What an exact float aggregate returns from its per-group states: one
//! statistic as a `DOUBLE`, or several statistics of one column as the
//! fields of a struct (the shared aggregate of [`super::shared`]).

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, StructArray, new_null_array};
use arrow::datatypes::{DataType, Field, Fields};

use super::state::{ExactState, Statistic};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Output {
    /// One statistic, a `DOUBLE`.
    One(Statistic),
    /// The statistics asked for, each a field of [`shared_fields`] (the
    /// others NULL: never computed).
    Shared(Vec<Statistic>),
}

/// The struct the shared aggregate returns: one nullable `DOUBLE` field per
/// statistic, named after it (`sum`, `avg`, `var_samp`, ...).
pub(crate) fn shared_fields() -> Fields {
    Statistic::ALL
        .iter()
        .map(|s| Field::new(s.sql_name(), DataType::Float64, true))
        .collect()
}

fn statistic_column<S: ExactState>(states: &[S], statistic: Statistic) -> ArrayRef {
    Arc::new(Float64Array::from_iter(
        states.iter().map(|s| s.finish(statistic)),
    ))
}

impl Output {
    /// One row per state.
    pub(crate) fn column<S: ExactState>(&self, states: &[S]) -> ArrayRef {
        match self {
            Output::One(statistic) => statistic_column(states, *statistic),
            Output::Shared(asked) => {
                let columns = Statistic::ALL
                    .iter()
                    .map(|statistic| {
                        if asked.contains(statistic) {
                            statistic_column(states, *statistic)
                        } else {
                            new_null_array(&DataType::Float64, states.len())
                        }
                    })
                    .collect();
                Arc::new(StructArray::new(shared_fields(), columns, None))
            }
        }
    }
}
