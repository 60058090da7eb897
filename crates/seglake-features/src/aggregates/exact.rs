//! [`SeglakeAggregate`]: a DataFusion aggregate (`sum`, `avg`, `var`,
//! `stddev`, ...) whose non-DISTINCT form over `DOUBLE` is exact and
//! independent of row order, whose non-DISTINCT integer `sum` fails
//! rather than wraps ([`super::checked_sum`]), and which is the wrapped
//! built-in function in every other respect (name, aliases, signature,
//! types, planning, DISTINCT, other input types).

use arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::expr::{AggregateFunction, AggregateFunctionParams};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Expr, GroupsAccumulator, Operator, ReversedUDAF,
    SetMonotonicity, Signature, StatisticsArgs,
};
use seglake_exact::Moments;

use super::accumulators::{ExactAccumulator, ExactGroups};
use super::checked_sum::{CheckedSumAccumulator, CheckedSumGroups, is_checked};
use super::output::Output;
use super::state::{ExactState, Statistic, SumState};

#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct SeglakeAggregate<I> {
    inner: I,
    statistic: Statistic,
}

impl<I: AggregateUDFImpl> SeglakeAggregate<I> {
    pub(crate) fn new(inner: I, statistic: Statistic) -> Self {
        SeglakeAggregate { inner, statistic }
    }
}

/// The exact form applies to a non-DISTINCT aggregate of a `DOUBLE` that
/// returns a `DOUBLE` (what every float and, for `avg`/`var`/`stddev`,
/// integer input is coerced to).
fn is_exact(distinct: bool, input: Option<&FieldRef>, output: &DataType) -> bool {
    !distinct
        && output == &DataType::Float64
        && input.is_some_and(|f| f.data_type() == &DataType::Float64)
}

/// The accumulator of `output` over ungrouped rows or a window frame: on
/// moments when a statistic needs the sum of squares, on sums otherwise.
pub(crate) fn accumulator(output: Output, squares: bool) -> Box<dyn Accumulator> {
    if squares {
        Box::new(ExactAccumulator::<Moments>::new(output))
    } else {
        Box::new(ExactAccumulator::<SumState>::new(output))
    }
}

/// The same, one state per group.
pub(crate) fn groups_accumulator(output: Output, squares: bool) -> Box<dyn GroupsAccumulator> {
    if squares {
        Box::new(ExactGroups::<Moments>::new(output))
    } else {
        Box::new(ExactGroups::<SumState>::new(output))
    }
}

/// The partial-state columns of those accumulators.
pub(crate) fn state_fields(name: &str, squares: bool) -> Vec<FieldRef> {
    let fields = if squares {
        Moments::state_fields(name)
    } else {
        SumState::state_fields(name)
    };
    fields.into_iter().map(std::sync::Arc::new).collect()
}

impl<I> SeglakeAggregate<I> {
    fn exact_accumulator(&self) -> Box<dyn Accumulator> {
        accumulator(Output::One(self.statistic), self.statistic.needs_squares())
    }
}

impl<I: AggregateUDFImpl + PartialEq + Eq + std::hash::Hash> AggregateUDFImpl
    for SeglakeAggregate<I>
{
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field(&self, arg_fields: &[FieldRef]) -> Result<FieldRef> {
        self.inner.return_field(arg_fields)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if is_exact(
            args.is_distinct,
            args.expr_fields.first(),
            args.return_type(),
        ) {
            return Ok(self.exact_accumulator());
        }
        if self.statistic == Statistic::Sum && is_checked(&args) {
            return Ok(Box::new(CheckedSumAccumulator::new(args.name)));
        }
        self.inner.accumulator(args)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        if is_exact(
            args.is_distinct,
            args.input_fields.first(),
            args.return_type(),
        ) {
            return Ok(state_fields(args.name, self.statistic.needs_squares()));
        }
        self.inner.state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        if is_exact(
            args.is_distinct,
            args.expr_fields.first(),
            args.return_type(),
        ) {
            return true;
        }
        self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        if is_exact(
            args.is_distinct,
            args.expr_fields.first(),
            args.return_type(),
        ) {
            return Ok(groups_accumulator(
                Output::One(self.statistic),
                self.statistic.needs_squares(),
            ));
        }
        if self.statistic == Statistic::Sum && is_checked(&args) {
            return Ok(Box::new(CheckedSumGroups::new(args.name)));
        }
        self.inner.create_groups_accumulator(args)
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if is_exact(
            args.is_distinct,
            args.expr_fields.first(),
            args.return_type(),
        ) {
            return Ok(self.exact_accumulator());
        }
        self.inner.create_sliding_accumulator(args)
    }

    fn schema_name(&self, params: &AggregateFunctionParams) -> Result<String> {
        self.inner.schema_name(params)
    }

    fn display_name(&self, params: &AggregateFunctionParams) -> Result<String> {
        self.inner.display_name(params)
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        self.inner.reverse_expr()
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        self.inner.order_sensitivity()
    }

    fn is_nullable(&self) -> bool {
        self.inner.is_nullable()
    }

    fn default_value(&self, data_type: &DataType) -> Result<ScalarValue> {
        self.inner.default_value(data_type)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }

    fn set_monotonicity(&self, data_type: &DataType) -> SetMonotonicity {
        self.inner.set_monotonicity(data_type)
    }

    fn simplify_expr_op_literal(
        &self,
        agg_function: &AggregateFunction,
        arg: &Expr,
        op: Operator,
        lit: &Expr,
        arg_is_left: bool,
    ) -> Result<Option<Expr>> {
        self.inner
            .simplify_expr_op_literal(agg_function, arg, op, lit, arg_is_left)
    }

    fn value_from_stats(&self, statistics_args: &StatisticsArgs) -> Option<ScalarValue> {
        self.inner.value_from_stats(statistics_args)
    }
}
