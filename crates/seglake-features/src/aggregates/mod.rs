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
//! Everything else about these functions is DataFusion's.

mod accumulators;
mod checked_sum;
mod exact;
mod state;

use datafusion::functions_aggregate::average::Avg;
use datafusion::functions_aggregate::stddev::{Stddev, StddevPop};
use datafusion::functions_aggregate::sum::Sum;
use datafusion::functions_aggregate::variance::{VariancePopulation, VarianceSample};
use datafusion::logical_expr::AggregateUDF;
use seglake_exact::Spread;

use exact::{SeglakeAggregate, Statistic};

/// seglake's aggregate functions, each replacing DataFusion's of the same
/// name.
pub fn seglake_aggregates() -> Vec<AggregateUDF> {
    vec![
        AggregateUDF::new_from_impl(SeglakeAggregate::new(Sum::new(), Statistic::Sum)),
        AggregateUDF::new_from_impl(SeglakeAggregate::new(Avg::new(), Statistic::Mean)),
        AggregateUDF::new_from_impl(SeglakeAggregate::new(
            VarianceSample::new(),
            Statistic::Variance(Spread::Sample),
        )),
        AggregateUDF::new_from_impl(SeglakeAggregate::new(
            VariancePopulation::new(),
            Statistic::Variance(Spread::Population),
        )),
        AggregateUDF::new_from_impl(SeglakeAggregate::new(
            Stddev::new(),
            Statistic::StandardDeviation(Spread::Sample),
        )),
        AggregateUDF::new_from_impl(SeglakeAggregate::new(
            StddevPop::new(),
            Statistic::StandardDeviation(Spread::Population),
        )),
    ]
}

#[cfg(test)]
mod tests;
