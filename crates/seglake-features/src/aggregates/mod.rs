//! The aggregate functions seglake registers in place of DataFusion's
//! built-in ones of the same names, on every session and on every process
//! of a cluster (plans name functions; each process resolves the name).
//!
//! - `sum` over integers fails instead of wrapping ([`checked_sum`]);
//! - `sum`, `avg`, `var`/`var_samp`, `var_pop`, `stddev`/`stddev_samp` and
//!   `stddev_pop` over `DOUBLE`, grouped, ungrouped or over a window, are
//!   exact and independent of row order and partitioning ([`exact`], on
//!   the `seglake-exact` arithmetic): a feature table is the same bytes with
//!   any partition count, thread count or engine.
//!
//! Everything else about these functions is DataFusion's. Two more,
//! `seglake_exact_sums` and `seglake_exact_moments` ([`shared`]), give
//! several of those statistics of one column from one state; the
//! optimizer rule of [`crate::shared_statistics`] plans them.

mod accumulators;
mod checked_sum;
mod exact;
mod output;
mod shared;
mod state;

use datafusion::functions_aggregate::average::Avg;
use datafusion::functions_aggregate::stddev::{Stddev, StddevPop};
use datafusion::functions_aggregate::sum::Sum;
use datafusion::functions_aggregate::variance::{VariancePopulation, VarianceSample};
use datafusion::logical_expr::{AggregateUDF, AggregateUDFImpl};
use seglake_exact::Spread;

use exact::SeglakeAggregate;
pub(crate) use shared::{SharedStatistics, statistics_argument};
pub(crate) use state::Statistic;

/// The functions replacing DataFusion's, each with the statistic it gives
/// over doubles.
fn exact_aggregates() -> Vec<(AggregateUDF, Statistic)> {
    fn exact<I: AggregateUDFImpl + PartialEq + Eq + std::hash::Hash>(
        inner: I,
        statistic: Statistic,
    ) -> (AggregateUDF, Statistic) {
        let function = AggregateUDF::new_from_impl(SeglakeAggregate::new(inner, statistic));
        (function, statistic)
    }
    vec![
        exact(Sum::new(), Statistic::Sum),
        exact(Avg::new(), Statistic::Mean),
        exact(VarianceSample::new(), Statistic::Variance(Spread::Sample)),
        exact(
            VariancePopulation::new(),
            Statistic::Variance(Spread::Population),
        ),
        exact(Stddev::new(), Statistic::StandardDeviation(Spread::Sample)),
        exact(
            StddevPop::new(),
            Statistic::StandardDeviation(Spread::Population),
        ),
    ]
}

/// seglake's aggregate functions, each replacing DataFusion's of the same
/// name, and the shared ones of [`shared`].
pub fn seglake_aggregates() -> Vec<AggregateUDF> {
    let mut functions: Vec<AggregateUDF> = exact_aggregates().into_iter().map(|(f, _)| f).collect();
    functions.push(AggregateUDF::new_from_impl(SharedStatistics::new(false)));
    functions.push(AggregateUDF::new_from_impl(SharedStatistics::new(true)));
    functions
}

/// The statistic a call of the function named `name` (DataFusion's primary
/// name, as plans hold it) gives over doubles, if it is one of seglake's.
pub(crate) fn statistic_of(name: &str) -> Option<Statistic> {
    exact_aggregates()
        .into_iter()
        .find(|(f, _)| f.name() == name)
        .map(|(_, statistic)| statistic)
}

#[cfg(test)]
mod tests;
