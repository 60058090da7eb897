//! How seglake's parts of a plan travel between the driver, the scheduler
//! and the executors.
//!
//! Ballista serialises plans with DataFusion's protobuf codecs; anything
//! those do not know goes through an extension codec. seglake's codecs wrap
//! Ballista's and add two things:
//!
//! - in-memory tables (`run_context`, an empty `feedback`): their rows, as
//!   Arrow IPC, in the logical plan the driver sends;
//! - the scoring function [`ScoreUdf`]: its models' JSON, in the logical
//!   and the physical plan, rebuilt into a scorer on every executor.
//!
//! Everything else is Ballista's encoding unchanged. Table providers carry
//! a one-byte tag saying whose encoding follows.

use std::sync::Arc;

use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use seglake_model::{SCORE_FUNCTION, ScoreUdf};

const BALLISTA_TABLE: u8 = 0;
const MEMORY_TABLE: u8 = 1;

fn score_udf_bytes(node: &ScalarUDF, buf: &mut Vec<u8>) {
    if let Some(udf) = node.inner().downcast_ref::<ScoreUdf>() {
        buf.extend(udf.to_bytes());
    }
}

fn score_udf_from(name: &str, buf: &[u8]) -> Option<Result<Arc<ScalarUDF>>> {
    (name == SCORE_FUNCTION && !buf.is_empty())
        .then(|| ScoreUdf::from_bytes(buf).map(|udf| Arc::new(ScalarUDF::new_from_impl(udf))))
}

/// The logical codec of every seglake process.
#[derive(Debug, Default)]
pub struct SeglakeLogicalCodec {
    ballista: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for SeglakeLogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.ballista.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match buf.split_first() {
            Some((&MEMORY_TABLE, rows)) => decode_memory_table(table_ref, schema, rows),
            Some((&BALLISTA_TABLE, rest)) => self
                .ballista
                .try_decode_table_provider(rest, table_ref, schema, ctx),
            _ => Err(DataFusionError::Internal(format!(
                "table `{table_ref}`: unknown table encoding in the plan"
            ))),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        if let Some(table) = node.downcast_ref::<MemTable>() {
            buf.push(MEMORY_TABLE);
            return encode_memory_table(table_ref, table, buf);
        }
        buf.push(BALLISTA_TABLE);
        self.ballista
            .try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.ballista.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        score_udf_from(name, buf).unwrap_or_else(|| self.ballista.try_decode_udf(name, buf))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        score_udf_bytes(node, buf);
        Ok(())
    }
}

/// The rows of an in-memory table, one IPC stream per partition, each
/// prefixed with its length.
fn encode_memory_table(
    table_ref: &TableReference,
    table: &MemTable,
    buf: &mut Vec<u8>,
) -> Result<()> {
    let failed = |e: &dyn std::fmt::Display| {
        DataFusionError::Internal(format!("in-memory table `{table_ref}` cannot be sent: {e}"))
    };
    for partition in &table.batches {
        let batches = partition.try_read().map_err(|e| failed(&e))?;
        let mut stream = Vec::new();
        let mut writer =
            StreamWriter::try_new(&mut stream, &table.schema()).map_err(|e| failed(&e))?;
        for batch in batches.iter() {
            writer.write(batch).map_err(|e| failed(&e))?;
        }
        writer.finish().map_err(|e| failed(&e))?;
        drop(writer);
        buf.extend((stream.len() as u64).to_le_bytes());
        buf.extend(stream);
    }
    Ok(())
}

fn decode_memory_table(
    table_ref: &TableReference,
    schema: SchemaRef,
    mut rows: &[u8],
) -> Result<Arc<dyn TableProvider>> {
    let failed = |e: &dyn std::fmt::Display| {
        DataFusionError::Internal(format!("in-memory table `{table_ref}` in the plan: {e}"))
    };
    let mut partitions = Vec::new();
    while !rows.is_empty() {
        let (len, rest) = rows
            .split_at_checked(8)
            .ok_or_else(|| failed(&"truncated"))?;
        let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
        let (stream, rest) = rest
            .split_at_checked(len)
            .ok_or_else(|| failed(&"truncated"))?;
        let reader = StreamReader::try_new(stream, None).map_err(|e| failed(&e))?;
        partitions.push(
            reader
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| failed(&e))?,
        );
        rows = rest;
    }
    if partitions.is_empty() {
        partitions.push(Vec::new());
    }
    Ok(Arc::new(MemTable::try_new(schema, partitions)?))
}

/// The physical codec of the scheduler and the executors.
#[derive(Debug, Default)]
pub struct SeglakePhysicalCodec {
    ballista: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for SeglakePhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.ballista.try_decode(buf, inputs, ctx, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        self.ballista.try_encode(node, buf, proto_converter)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        score_udf_from(name, buf).unwrap_or_else(|| self.ballista.try_decode_udf(name, buf))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        score_udf_bytes(node, buf);
        Ok(())
    }
}
