//! One state for several exact statistics of one column.
//!
//! `SUM(x), AVG(x), STDDEV_SAMP(x)` are three aggregates, so three states
//! per group, each added to for every row: with hundreds of thousands of
//! groups each is a wait on memory, and the double is taken apart three
//! times. The rule of [`crate::shared_statistics`] plans them as one call
//! of the function here, whose one state ([`Moments`], or the exact sum
//! alone when no spread is asked) gives them all, and which returns them
//! as the fields of a struct ([`shared_fields`]). The values are those of
//! the separate aggregates: the same states, finished the same way.
//!
//! `seglake_exact_moments(x, 'avg,stddev_samp')` (or
//! `seglake_exact_sums(x, 'sum,avg')` without a spread) takes the
//! statistics to compute as a dictionary-encoded string literal, which
//! DataFusion turns into one value per batch rather than one per row. They
//! are the rule's; SQL does not call them.

use std::any::Any;

use arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue, plan_datafusion_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, GroupsAccumulator, Signature, Volatility,
};
use datafusion::physical_expr::expressions::Literal;
use datafusion::prelude::Expr;

use super::exact::{accumulator, groups_accumulator, state_fields};
use super::output::{Output, shared_fields};
use super::state::Statistic;

/// The function for statistics that need the sum of squares.
const MOMENTS: &str = "seglake_exact_moments";
/// The function for sums and means only.
const SUMS: &str = "seglake_exact_sums";

/// The type of the statistics argument: a string dictionary-encoded.
fn statistics_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8))
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct SharedStatistics {
    squares: bool,
    signature: Signature,
}

impl SharedStatistics {
    /// The function for `statistics`: with the sum of squares when one of
    /// them needs it.
    pub(crate) fn for_statistics(statistics: &[Statistic]) -> Self {
        SharedStatistics::new(statistics.iter().any(|s| s.needs_squares()))
    }

    pub(crate) fn new(squares: bool) -> Self {
        SharedStatistics {
            squares,
            signature: Signature::exact(
                vec![DataType::Float64, statistics_type()],
                Volatility::Immutable,
            ),
        }
    }
}

/// The literal second argument naming `statistics`.
pub(crate) fn statistics_argument(statistics: &[Statistic]) -> Expr {
    let names: Vec<&str> = statistics.iter().map(|s| s.sql_name()).collect();
    let value = ScalarValue::Dictionary(
        Box::new(DataType::Int8),
        Box::new(ScalarValue::from(names.join(","))),
    );
    Expr::Literal(value, None)
}

impl SharedStatistics {
    /// The statistics the call asks for, from its literal argument.
    fn asked(&self, args: &AccumulatorArgs) -> Result<Vec<Statistic>> {
        let not_literal = || {
            plan_datafusion_err!(
                "{} takes the statistics to compute as a literal, not {:?}",
                self.name(),
                args.exprs.get(1)
            )
        };
        let argument = args.exprs.get(1).ok_or_else(not_literal)?;
        let literal = (argument.as_ref() as &dyn Any)
            .downcast_ref::<Literal>()
            .ok_or_else(not_literal)?;
        let names = match literal.value() {
            ScalarValue::Dictionary(_, value) => match value.as_ref() {
                ScalarValue::Utf8(Some(names)) => names.clone(),
                _ => return Err(not_literal()),
            },
            _ => return Err(not_literal()),
        };
        let statistics = names
            .split(',')
            .map(|name| {
                Statistic::ALL
                    .into_iter()
                    .find(|s| s.sql_name() == name)
                    .filter(|s| self.squares || !s.needs_squares())
                    .ok_or_else(|| plan_datafusion_err!("{} cannot compute '{name}'", self.name()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(statistics)
    }
}

impl AggregateUDFImpl for SharedStatistics {
    fn name(&self) -> &str {
        if self.squares { MOMENTS } else { SUMS }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(shared_fields()))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(accumulator(
            Output::Shared(self.asked(&args)?),
            self.squares,
        ))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(state_fields(args.name, self.squares))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(groups_accumulator(
            Output::Shared(self.asked(&args)?),
            self.squares,
        ))
    }
}
