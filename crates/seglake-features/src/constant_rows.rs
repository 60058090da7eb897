//! A join with a one-row relation of constants, planned as those
//! constants.
//!
//! Views read the run's point in time from `run_context`, a one-row
//! relation, joined to what they read: `FROM run_context r CROSS JOIN
//! transactions t WHERE t.ts >= r.as_of - INTERVAL '365 days'`. DataFusion
//! 55 plans that as a join whose output repeats `as_of` on every row, and
//! then subtracts the interval from it row by row (a time-zone-aware
//! subtraction, some 6% of the demo's feature views), and cannot push the
//! window into the Parquet scan.
//!
//! `run_context` is registered as a projection of literals over one empty
//! row (see `FeatureEngine::register_run_context`), and this rule replaces
//! an inner join without equality keys whose one side is such a relation by
//! a projection of the other side that adds the literals under the same
//! qualified names (and the join's filter, if any, above it). The
//! optimizer's next passes then fold `as_of - INTERVAL ...` to a constant
//! and push the comparison into the scan. The rows and values are those of
//! the join: each row of the other side, once, beside the same constants.

use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, Result};
use datafusion::logical_expr::{Join, JoinType, LogicalPlan, LogicalPlanBuilder, Projection};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};
use datafusion::prelude::Expr;

/// The optimizer rule; registered on every seglake session (local, and the
/// cluster scheduler's).
#[derive(Debug, Default)]
pub struct InlineConstantRows;

impl OptimizerRule for InlineConstantRows {
    fn name(&self) -> &str {
        "seglake_inline_constant_rows"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Join(join) = plan else {
            return Ok(Transformed::no(plan));
        };
        if join.join_type != JoinType::Inner || !join.on.is_empty() {
            return Ok(Transformed::no(LogicalPlan::Join(join)));
        }
        if let Some(constants) = constant_row(&join.left) {
            return inline(&join, constants, Side::Left).map(Transformed::yes);
        }
        if let Some(constants) = constant_row(&join.right) {
            return inline(&join, constants, Side::Right).map(Transformed::yes);
        }
        Ok(Transformed::no(LogicalPlan::Join(join)))
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Left,
    Right,
}

/// The literal expressions of a one-row relation of constants (through any
/// aliases of the relation), `None` for anything else.
fn constant_row(plan: &LogicalPlan) -> Option<Vec<Expr>> {
    match plan {
        LogicalPlan::SubqueryAlias(alias) => constant_row(&alias.input),
        LogicalPlan::Projection(Projection { expr, input, .. }) => {
            let one_row = matches!(
                input.as_ref(),
                LogicalPlan::EmptyRelation(empty) if empty.produce_one_row
            );
            let literals: Option<Vec<Expr>> = expr.iter().map(literal).collect();
            one_row.then_some(literals).flatten()
        }
        _ => None,
    }
}

fn literal(expr: &Expr) -> Option<Expr> {
    match expr {
        Expr::Alias(alias) => literal(&alias.expr),
        Expr::Literal(..) => Some(expr.clone()),
        _ => None,
    }
}

/// The other side of `join`, projected to the join's columns with the
/// constants in place of the constant side's, under the join's filter.
fn inline(join: &Join, constants: Vec<Expr>, constant_side: Side) -> Result<LogicalPlan> {
    let other = match constant_side {
        Side::Left => join.right.as_ref().clone(),
        Side::Right => join.left.as_ref().clone(),
    };
    let left_width = join.left.schema().fields().len();
    let mut constants = constants.into_iter();
    let exprs: Vec<Expr> = join
        .schema
        .iter()
        .enumerate()
        .map(|(i, (qualifier, field))| {
            let on_constant_side = (i < left_width) == (constant_side == Side::Left);
            if on_constant_side {
                let value = constants.next().expect("one literal per constant column");
                value.alias_qualified(qualifier.cloned(), field.name())
            } else {
                Expr::Column(Column::from((qualifier, field)))
            }
        })
        .collect();
    let mut plan = LogicalPlanBuilder::from(other).project(exprs)?;
    if let Some(filter) = &join.filter {
        plan = plan.filter(filter.clone())?;
    }
    plan.build()
}

#[cfg(test)]
mod tests;
