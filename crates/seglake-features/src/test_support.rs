//! What the optimizer rules' tests share: a query's optimised plan and its
//! rows, from one session.

use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;

/// The optimised plan of `sql` on `ctx` (indented, as `EXPLAIN` prints
/// it) and the batches it gives.
pub(crate) async fn plan_and_batches(
    ctx: &SessionContext,
    sql: &str,
) -> (String, Vec<RecordBatch>) {
    let frame = ctx.sql(sql).await.unwrap();
    let plan = frame
        .clone()
        .into_optimized_plan()
        .unwrap()
        .display_indent()
        .to_string();
    (plan, frame.collect().await.unwrap())
}
