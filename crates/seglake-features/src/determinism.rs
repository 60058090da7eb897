//! What in a view can make its result depend on the order rows arrive in,
//! on how they are split into partitions, or on when the query runs.
//!
//! seglake's own aggregates make sums, means and spreads of doubles exact
//! (see [`crate::seglake_aggregates`]), but some SQL is order-dependent by
//! definition: an `ARRAY_AGG` or `FIRST_VALUE` without `ORDER BY` takes
//! rows as they come; a `LIMIT` without `ORDER BY` keeps whichever rows
//! came first; `random()` and `now()` differ on every run. Such a view may
//! give other results on another machine or core count, so a run made with
//! it may not reproduce. [`order_dependences`] names every such expression
//! in a view's plan; the run warns, or, with `[features]
//! strict_determinism = true`, refuses the view.
//!
//! What this cannot see: an `ORDER BY` that is not total (ties broken by
//! arrival order), e.g. a `ROWS` window frame ordered by a date that
//! repeats. Order by the key as the last sort column.

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::{Distinct, Expr, ExprSchemable, LogicalPlan, Volatility};

/// One expression of a view whose result may depend on row order or time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderDependence {
    /// The expression as the plan shows it (`array_agg(t.device_id)`).
    pub expression: String,
    /// Why, and what makes it deterministic.
    pub why: &'static str,
}

/// Aggregates that combine rows in the order they arrive unless told
/// otherwise (names as DataFusion registers them).
const ORDER_SENSITIVE_AGGREGATES: [&str; 5] = [
    "array_agg",
    "string_agg",
    "first_value",
    "last_value",
    "nth_value",
];

/// Window functions that number or pick rows by position in the window.
const POSITIONAL_WINDOW_FUNCTIONS: [&str; 8] = [
    "row_number",
    "lag",
    "lead",
    "first_value",
    "last_value",
    "nth_value",
    "ntile",
    "array_agg",
];

/// Aggregates whose DISTINCT form over doubles is DataFusion's (a set
/// summed in hash order), not seglake's exact one.
const INEXACT_WHEN_DISTINCT: [&str; 6] = ["sum", "avg", "var", "var_pop", "stddev", "stddev_pop"];

/// Every order- or time-dependent expression of `plan`, subqueries
/// included, in plan order, each once.
pub fn order_dependences(plan: &LogicalPlan) -> Result<Vec<OrderDependence>> {
    let mut found: Vec<OrderDependence> = Vec::new();
    plan.apply_with_subqueries(|node| {
        if let Some(dependence) = unordered_limit(node) {
            found.push(dependence);
        }
        let input_schema = node.inputs().first().map(|input| input.schema().clone());
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                found.extend(expression_dependence(e, input_schema.as_deref()));
                Ok(TreeNodeRecursion::Continue)
            })
        })?;
        Ok(TreeNodeRecursion::Continue)
    })?;
    let mut unique = Vec::new();
    for dependence in found {
        if !unique.contains(&dependence) {
            unique.push(dependence);
        }
    }
    Ok(unique)
}

/// A `LIMIT` (or `DISTINCT ON`) that keeps whichever rows come first.
fn unordered_limit(node: &LogicalPlan) -> Option<OrderDependence> {
    match node {
        LogicalPlan::Limit(limit) if !sorted_below(&limit.input) => Some(OrderDependence {
            expression: node.display().to_string(),
            why: "keeps whichever rows arrive first; add an ORDER BY that ends with the key",
        }),
        LogicalPlan::Distinct(Distinct::On(on)) if on.sort_expr.is_none() => {
            Some(OrderDependence {
                expression: node.display().to_string(),
                why: "keeps whichever row of each group arrives first; add an ORDER BY",
            })
        }
        _ => None,
    }
}

/// Whether `plan` is a sort, seen through projections and aliases.
fn sorted_below(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Sort(_) => true,
        LogicalPlan::Projection(p) => sorted_below(&p.input),
        LogicalPlan::SubqueryAlias(a) => sorted_below(&a.input),
        _ => false,
    }
}

/// Whether `expr` is order- or time-dependent by itself (not counting its
/// arguments, which the walk visits on their own).
fn expression_dependence(expr: &Expr, input: Option<&DFSchema>) -> Option<OrderDependence> {
    let found = |why| {
        Some(OrderDependence {
            expression: expr.to_string(),
            why,
        })
    };
    match expr {
        Expr::AggregateFunction(agg) => {
            let name = agg.func.name();
            let params = &agg.params;
            if ORDER_SENSITIVE_AGGREGATES.contains(&name) && params.order_by.is_empty() {
                return found("combines rows in arrival order; add ORDER BY inside the call");
            }
            let of_double =
                params.args.first().zip(input).is_some_and(|(arg, schema)| {
                    arg.get_type(schema).is_ok_and(|t| t.is_floating())
                });
            if params.distinct && of_double && INEXACT_WHEN_DISTINCT.contains(&name) {
                return found(
                    "DISTINCT over doubles adds in hash order, not exactly; \
                     aggregate a DECIMAL or drop DISTINCT",
                );
            }
            None
        }
        Expr::WindowFunction(window) => {
            let name = window.fun.name();
            if POSITIONAL_WINDOW_FUNCTIONS.contains(&name) && window.params.order_by.is_empty() {
                return found("picks rows by arrival order; add ORDER BY to its OVER clause");
            }
            None
        }
        Expr::ScalarFunction(call) => match call.func.signature().volatility {
            Volatility::Volatile => {
                found("differs on every call; derive it from run_context.seed instead")
            }
            Volatility::Stable => {
                found("depends on when the query runs; use run_context.as_of instead")
            }
            Volatility::Immutable => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    async fn findings(sql: &str) -> Vec<String> {
        let ctx = SessionContext::new();
        ctx.sql("CREATE TABLE t (k VARCHAR, d INT, v DOUBLE) AS VALUES ('a', 1, 1.5)")
            .await
            .unwrap();
        let plan = ctx.state().create_logical_plan(sql).await.unwrap();
        order_dependences(&plan)
            .unwrap()
            .into_iter()
            .map(|d| format!("{} | {}", d.expression, d.why))
            .collect()
    }

    #[tokio::test]
    async fn order_free_sql_has_no_findings() {
        let sql = "SELECT k, SUM(v), AVG(v), STDDEV(v), COUNT(DISTINCT d), \
                   ARRAY_AGG(d ORDER BY d), SUM(DISTINCT d), \
                   ROW_NUMBER() OVER (PARTITION BY k ORDER BY d) AS r \
                   FROM t GROUP BY k, d ORDER BY k LIMIT 10";
        assert_eq!(findings(sql).await, Vec::<String>::new());
    }

    #[tokio::test]
    async fn every_kind_of_order_dependence_is_named() {
        let sql = "SELECT k, ARRAY_AGG(d), FIRST_VALUE(v), SUM(DISTINCT v), random(), now() \
                   FROM (SELECT * FROM t LIMIT 5) GROUP BY k";
        let found = findings(sql).await;
        let text = found.join("\n");
        for expected in [
            "array_agg(t.d) | combines rows in arrival order",
            "first_value(t.v) | combines rows in arrival order",
            "sum(DISTINCT t.v) | DISTINCT over doubles",
            "random() | differs on every call",
            "now() | depends on when the query runs",
            "Limit: skip=0, fetch=5 | keeps whichever rows arrive first",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        let sql = "SELECT k, LAG(v) OVER (PARTITION BY k) FROM t";
        let found = findings(sql).await.join("\n");
        assert!(found.contains("picks rows by arrival order"), "{found}");
    }
}
