//! Replaces the customer key column of an output table by pseudonyms
//! (HMAC-SHA256 under the job's key) just before it is published, so no raw
//! id is ever written. Rows are re-sorted by pseudonym: the raw ids' order
//! would otherwise leak through the row order.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray, UInt32Array};
use arrow::compute::{cast, concat_batches, take_record_batch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use seglake_spec::PseudonymKey;

/// `(schema, batches)` with `key` replaced by its pseudonym, as one batch
/// sorted by pseudonym.
fn pseudonymise(
    (schema, batches): (SchemaRef, Vec<RecordBatch>),
    key: &str,
    hmac: &PseudonymKey,
) -> Result<(SchemaRef, Vec<RecordBatch>), ArrowError> {
    let index = schema.index_of(key)?;
    let all = concat_batches(&schema, &batches)?;
    let ids = cast(all.column(index), &DataType::Utf8)?;
    let ids = ids
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8");
    if ids.null_count() > 0 {
        return Err(ArrowError::InvalidArgumentError(format!(
            "column `{key}` has null ids, which cannot be pseudonymised"
        )));
    }
    let pseudonyms: Vec<String> = (0..ids.len())
        .map(|i| hmac.pseudonym(ids.value(i)))
        .collect();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[index] = Field::new(key, DataType::Utf8, false);
    let new_schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let mut columns: Vec<ArrayRef> = all.columns().to_vec();
    columns[index] = Arc::new(StringArray::from(pseudonyms.clone()));
    let replaced = RecordBatch::try_new(new_schema.clone(), columns)?;
    let mut order: Vec<u32> = (0..pseudonyms.len() as u32).collect();
    order.sort_by(|a, b| pseudonyms[*a as usize].cmp(&pseudonyms[*b as usize]));
    let sorted = take_record_batch(&replaced, &UInt32Array::from(order))?;
    Ok((new_schema, vec![sorted]))
}

/// How customer ids leave the job: as they are, or pseudonymised under the
/// job's key. The feature table and `segments` are published through here.
pub(crate) struct CustomerIds<'a> {
    key: &'a str,
    pseudonym_key: Option<PseudonymKey>,
}

impl<'a> CustomerIds<'a> {
    /// Reads the `[privacy]` key first: a job that must pseudonymise and
    /// cannot does no work at all.
    pub fn for_job(spec: &'a seglake_spec::JobSpec) -> crate::Result<Self> {
        let pseudonym_key = match &spec.privacy.pseudonymise {
            Some(source) => Some(PseudonymKey::load(source).map_err(crate::JobError::Privacy)?),
            None => None,
        };
        Ok(CustomerIds {
            key: &spec.key,
            pseudonym_key,
        })
    }

    /// The key customer ids are pseudonymised under, when they are.
    pub fn pseudonymiser(&self) -> Option<&PseudonymKey> {
        self.pseudonym_key.as_ref()
    }

    /// `data` (the table `table`) as it may be published.
    pub fn publishable(
        &self,
        table: &str,
        data: (SchemaRef, Vec<RecordBatch>),
    ) -> crate::Result<(SchemaRef, Vec<RecordBatch>)> {
        match &self.pseudonym_key {
            Some(hmac) => {
                pseudonymise(data, self.key, hmac).map_err(|source| crate::JobError::Output {
                    table: table.to_string(),
                    source,
                })
            }
            None => Ok(data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;

    #[test]
    fn ids_become_sorted_pseudonyms_and_other_columns_follow_their_rows() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("customer_id", DataType::Int64, false),
            Field::new("x", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(Int64Array::from(vec![10, 20, 30])),
            ],
        )
        .unwrap();
        let key = PseudonymKey::from_bytes(b"a-test-key-of-16+bytes".to_vec()).unwrap();
        let (s, out) = pseudonymise((schema, vec![batch]), "customer_id", &key).unwrap();
        assert_eq!(s.field(0).data_type(), &DataType::Utf8);
        let ids = out[0]
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let xs = out[0]
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        for i in 0..3 {
            let raw = xs.value(i) / 10;
            assert_eq!(ids.value(i), key.pseudonym(&raw.to_string()));
        }
        assert!(ids.value(0) < ids.value(1) && ids.value(1) < ids.value(2));
    }
}
