//! Readers: one connection per range, attached to the coordinator's
//! snapshot, each spooling its rows (already in order) to an Arrow IPC file
//! that the writer reads back range by range.
//!
//! Spooling lets every range be read at once while the Parquet files are
//! still written in one fixed row order, so their bytes do not depend on
//! how many ranges there were.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::ipc::writer::StreamWriter;
use futures::{StreamExt, pin_mut};
use tokio::task::JoinSet;
use tokio_postgres::types::ToSql;

use crate::error::{PostgresError, Result};
use crate::plan::{BEGIN, Plan, query_error};
use crate::ranges::KeyRange;
use crate::secret::Secret;
use crate::source::CheckedSource;
use crate::types::BatchBuilder;

/// Rows per spooled batch: the writer re-cuts them, so this only bounds a
/// reader's memory.
const SPOOL_BATCH_ROWS: usize = 8192;

/// One range, read: where its rows are spooled and how many there are.
pub(crate) struct Spooled {
    pub range: KeyRange,
    pub path: PathBuf,
    pub rows: u64,
}

/// Reads every range of `plan` concurrently into spool files in
/// `spool_dir`, in range order. The first failure stops the others (their
/// tasks are aborted, closing their connections).
pub(crate) async fn read_ranges(
    source: &CheckedSource,
    password: Option<&Secret>,
    plan: &Arc<Plan>,
    spool_dir: &Path,
) -> Result<Vec<Spooled>> {
    let mut tasks = JoinSet::new();
    for (index, range) in plan.ranges.iter().enumerate() {
        let path = spool_dir.join(format!("range-{index:05}.arrows"));
        let reader = RangeReader {
            source: source.clone(),
            password: password.cloned(),
            plan: plan.clone(),
            range: *range,
            path,
        };
        tasks.spawn(async move { (index, reader.read().await) });
    }
    let mut spooled: Vec<Option<Spooled>> = (0..plan.ranges.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (index, result) = joined.map_err(|e| PostgresError::Task(e.to_string()))?;
        spooled[index] = Some(result?);
    }
    Ok(spooled
        .into_iter()
        .map(|s| s.expect("every range joined"))
        .collect())
}

struct RangeReader {
    source: CheckedSource,
    password: Option<Secret>,
    plan: Arc<Plan>,
    range: KeyRange,
    path: PathBuf,
}

impl RangeReader {
    async fn read(self) -> Result<Spooled> {
        let target = &self.source.target;
        let what = self.source.what();
        let client = target.connect(self.password.as_ref()).await?;
        // The snapshot id is the server's own text (hex digits and dashes);
        // quoted anyway, as it is spliced into SQL.
        let attach = format!(
            "{BEGIN}; SET TRANSACTION SNAPSHOT '{}'",
            self.plan.snapshot_id.replace('\'', "''")
        );
        client
            .batch_execute(&attach)
            .await
            .map_err(target.server_error("attaching a reader to the snapshot"))?;
        let (sql, params) = self.plan.range_sql(&self.range);
        let statement = client
            .prepare(&sql)
            .await
            .map_err(query_error(target, &what))?;
        let params = params.iter().map(|p| p as &(dyn ToSql + Sync));
        let rows = client
            .query_raw(&statement, params)
            .await
            .map_err(query_error(target, &what))?;
        pin_mut!(rows);
        let mut spool = Spool::create(&self.path, &self.plan)?;
        let mut batch = BatchBuilder::new(&self.plan.columns, self.plan.schema.clone());
        let mut count = 0u64;
        while let Some(row) = rows.next().await {
            batch.push(&row.map_err(query_error(target, &what))?)?;
            count += 1;
            if batch.rows() == SPOOL_BATCH_ROWS {
                spool.write(&batch.finish()?)?;
            }
        }
        if batch.rows() > 0 {
            spool.write(&batch.finish()?)?;
        }
        spool.finish()?;
        Ok(Spooled {
            range: self.range,
            path: self.path,
            rows: count,
        })
    }
}

/// An Arrow IPC stream file. Written from the reader's task with blocking
/// calls: the writes are buffered, sequential and local, small next to the
/// decoding the same task does.
struct Spool<'a> {
    path: &'a Path,
    writer: StreamWriter<BufWriter<File>>,
}

impl<'a> Spool<'a> {
    fn create(path: &'a Path, plan: &Plan) -> Result<Self> {
        let file = File::create(path).map_err(PostgresError::io(path))?;
        let writer =
            StreamWriter::try_new(BufWriter::new(file), &plan.schema).map_err(spool_error(path))?;
        Ok(Spool { path, writer })
    }

    fn write(&mut self, batch: &arrow::array::RecordBatch) -> Result<()> {
        self.writer.write(batch).map_err(spool_error(self.path))
    }

    fn finish(self) -> Result<()> {
        let buffered = self.writer.into_inner().map_err(spool_error(self.path))?;
        buffered
            .into_inner()
            .map_err(|e| PostgresError::io(self.path)(e.into_error()))?;
        Ok(())
    }
}

fn spool_error(path: &Path) -> impl FnOnce(arrow::error::ArrowError) -> PostgresError + '_ {
    move |source| PostgresError::Arrow {
        what: format!("spooling rows to {}", path.display()),
        source,
    }
}
