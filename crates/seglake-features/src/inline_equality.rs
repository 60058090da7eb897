//! `column = 'short literal'` over view strings, compared as 16-byte
//! views.
//!
//! Feature views compare category columns with short literals all the time
//! (`SUM(CASE WHEN channel = 'cash' THEN 1 ELSE 0 END)`). DataFusion reads
//! Parquet strings as views (`Utf8View`), and arrow 59 compares a view
//! array with a literal value by value through a chain of branches
//! (length, prefix, inline or not) whenever the array holds a data buffer,
//! which arrays read from Parquet do: on the natural feature view over 20M
//! transactions that was about 10% of the CPU.
//!
//! A string of at most 12 bytes is stored inside its view: the length in
//! the low 4 bytes, the bytes after it. So a value equals such a literal
//! exactly when its view, masked to the length and the literal's bytes,
//! equals the literal's view: a value of another length differs in the
//! length bytes, a longer value too (its length is over 12). One
//! comparison of two 128-bit integers per row, without branches.
//!
//! The rule [`CompareInlineStrings`] rewrites `x = 'lit'` and `x <> 'lit'`
//! (`x` a `Utf8View` expression, `'lit'` at most 12 bytes) into
//! `seglake_equals_inline(x, 'lit')` (under `NOT` for `<>`) in projections
//! and aggregate arguments, keeping every output column's name. Filters are
//! left as they are: the scan's row-group pruning reads their comparisons.
//! NULL gives NULL, as the comparison does.

use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, StringViewArray};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{
    Aggregate, BinaryExpr, ColumnarValue, ExprSchemable, LogicalPlan, Operator, ReturnFieldArgs,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};
use datafusion::prelude::Expr;

/// The function's name in plans (executors resolve it by this name).
const EQUALS_INLINE: &str = "seglake_equals_inline";

/// The longest string a view holds inline.
const INLINE_BYTES: usize = 12;

/// `seglake_equals_inline(x, 'lit')`: `x = 'lit'` for a `Utf8View` `x` and
/// a literal of at most 12 bytes.
#[derive(Debug, PartialEq, Eq, Hash)]
struct EqualsInline {
    signature: Signature,
}

impl ScalarUDFImpl for EqualsInline {
    fn name(&self) -> &str {
        EQUALS_INLINE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    /// NULL only where the value is, as the comparison it replaces: a
    /// column without NULLs keeps a non-nullable result (the published
    /// feature table's schema is the executed plan's).
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let nullable = args.arg_fields.iter().any(|f| f.is_nullable());
        Ok(Arc::new(Field::new(
            self.name(),
            DataType::Boolean,
            nullable,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [values, literal] = args.args.as_slice() else {
            return exec_err!("{EQUALS_INLINE} takes a column and a literal");
        };
        let literal = match literal {
            ColumnarValue::Scalar(ScalarValue::Utf8View(Some(s))) if s.len() <= INLINE_BYTES => s,
            _ => return exec_err!("{EQUALS_INLINE}: the second argument must be a short literal"),
        };
        match values {
            ColumnarValue::Array(array) => match array.as_string_view_opt() {
                Some(views) => Ok(ColumnarValue::Array(Arc::new(equals_inline(
                    views, literal,
                )))),
                None => exec_err!(
                    "{EQUALS_INLINE}: a Utf8View column expected, got {}",
                    array.data_type()
                ),
            },
            ColumnarValue::Scalar(ScalarValue::Utf8View(value)) => Ok(ColumnarValue::Scalar(
                ScalarValue::Boolean(value.as_ref().map(|v| v == literal)),
            )),
            ColumnarValue::Scalar(other) => {
                exec_err!("{EQUALS_INLINE}: a Utf8View value expected, got {other:?}")
            }
        }
    }
}

/// The function, to register on every session that may run a plan the rule
/// rewrote (local sessions and every cluster process).
pub fn equals_inline_function() -> ScalarUDF {
    ScalarUDF::new_from_impl(EqualsInline {
        signature: Signature::exact(
            vec![DataType::Utf8View, DataType::Utf8View],
            Volatility::Immutable,
        ),
    })
}

/// Row by row `values = literal` (`literal` at most 12 bytes), NULL where
/// the value is.
fn equals_inline(values: &StringViewArray, literal: &str) -> BooleanArray {
    let bytes = literal.as_bytes();
    let mut inline = [0u8; 16];
    inline[..4].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
    inline[4..4 + bytes.len()].copy_from_slice(bytes);
    let target = u128::from_le_bytes(inline);
    // The length and the literal's bytes; the rest of an inline view is
    // zeros by the format, but nothing here relies on it.
    let used_bits = 32 + 8 * bytes.len() as u32;
    let mask = u128::MAX >> (128 - used_bits);
    let views = values.views();
    let equal = BooleanBuffer::collect_bool(views.len(), |i| views[i] & mask == target);
    BooleanArray::new(equal, values.nulls().cloned())
}

/// The optimizer rule; registered on every seglake session (local, and the
/// cluster scheduler's).
#[derive(Debug, Default)]
pub struct CompareInlineStrings;

impl OptimizerRule for CompareInlineStrings {
    fn name(&self) -> &str {
        "seglake_compare_inline_strings"
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
        match plan {
            LogicalPlan::Projection(ref projection) => {
                let input = Arc::clone(&projection.input);
                let names = NamePreserver::new_for_projection();
                plan.map_expressions(|expr| {
                    let saved = names.save(&expr);
                    Ok(rewrite_comparisons(expr, &input)?.update_data(|e| saved.restore(e)))
                })
            }
            LogicalPlan::Aggregate(aggregate) => rewrite_aggregate(aggregate),
            other => Ok(Transformed::no(other)),
        }
    }
}

/// The aggregate with its aggregate expressions' comparisons rewritten
/// (each keeps its name); its group keys as they are.
fn rewrite_aggregate(aggregate: Aggregate) -> Result<Transformed<LogicalPlan>> {
    let names = NamePreserver::new_for_projection();
    let mut changed = false;
    let mut exprs = Vec::with_capacity(aggregate.aggr_expr.len());
    for expr in &aggregate.aggr_expr {
        let saved = names.save(expr);
        let rewritten = rewrite_comparisons(expr.clone(), &aggregate.input)?;
        changed |= rewritten.transformed;
        exprs.push(saved.restore(rewritten.data));
    }
    if !changed {
        return Ok(Transformed::no(LogicalPlan::Aggregate(aggregate)));
    }
    let rewritten = Aggregate::try_new(aggregate.input, aggregate.group_expr, exprs)?;
    Ok(Transformed::yes(LogicalPlan::Aggregate(rewritten)))
}

/// Every `x = 'lit'` / `x <> 'lit'` in `expr` that the function computes,
/// rewritten; `input` is the plan `expr`'s columns come from.
fn rewrite_comparisons(expr: Expr, input: &LogicalPlan) -> Result<Transformed<Expr>> {
    expr.transform_up(|e| {
        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &e else {
            return Ok(Transformed::no(e));
        };
        if !matches!(op, Operator::Eq | Operator::NotEq) {
            return Ok(Transformed::no(e));
        }
        let (value, literal) = match (short_literal(left), short_literal(right)) {
            (None, Some(literal)) => (left, literal),
            (Some(literal), None) => (right, literal),
            _ => return Ok(Transformed::no(e)),
        };
        if value.get_type(input.schema())? != DataType::Utf8View {
            return Ok(Transformed::no(e));
        }
        let call = Expr::ScalarFunction(ScalarFunction::new_udf(
            Arc::new(equals_inline_function()),
            vec![
                value.as_ref().clone(),
                Expr::Literal(ScalarValue::Utf8View(Some(literal)), None),
            ],
        ));
        Ok(Transformed::yes(if *op == Operator::Eq {
            call
        } else {
            Expr::Not(Box::new(call))
        }))
    })
}

/// The text of a non-NULL string literal of at most 12 bytes.
fn short_literal(expr: &Expr) -> Option<String> {
    let Expr::Literal(value, _) = expr else {
        return None;
    };
    let text = match value {
        ScalarValue::Utf8View(Some(s)) | ScalarValue::Utf8(Some(s)) => s,
        ScalarValue::LargeUtf8(Some(s)) => s,
        _ => return None,
    };
    (text.len() <= INLINE_BYTES).then(|| text.clone())
}

#[cfg(test)]
mod tests;
