//! Sanctions-screening functions for any view, on the local engine and on
//! cluster executors alike (registered by name on both):
//!
//! | function | returns |
//! |---|---|
//! | `screen_normalize(name)` | the name as screening compares it: ASCII, lower case, legal forms and honorifics dropped, tokens sorted |
//! | `screen_similarity(a, b)` | the screening score of two names, 0 to 1 |
//! | `screen_keys(name)` | the blocking keys of the name's tokens: two names are compared only when they share one |
//!
//! A view can screen names against any table of names with them, e.g.
//! `... JOIN ... ON k1.key = k2.key WHERE screen_similarity(a.name, b.name) >= 0.9`
//! after unnesting `screen_keys` on both sides. Null in, null out.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, ListBuilder, StringArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field};
use datafusion::common::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum NameFunctionKind {
    Normalize,
    Similarity,
    Keys,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct NameFunction {
    kind: NameFunctionKind,
    signature: Signature,
}

impl NameFunction {
    fn new(kind: NameFunctionKind) -> Self {
        let arity = if kind == NameFunctionKind::Similarity {
            2
        } else {
            1
        };
        NameFunction {
            kind,
            signature: Signature::any(arity, Volatility::Immutable),
        }
    }
}

fn texts(args: &ScalarFunctionArgs, i: usize) -> DfResult<StringArray> {
    let array = args.args[i].to_array(args.number_rows)?;
    let array = cast(&array, &DataType::Utf8)?;
    Ok(array
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8")
        .clone())
}

fn keys_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

impl ScalarUDFImpl for NameFunction {
    fn name(&self) -> &str {
        match self.kind {
            NameFunctionKind::Normalize => "screen_normalize",
            NameFunctionKind::Similarity => "screen_similarity",
            NameFunctionKind::Keys => "screen_keys",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(match self.kind {
            NameFunctionKind::Normalize => DataType::Utf8,
            NameFunctionKind::Similarity => DataType::Float64,
            NameFunctionKind::Keys => keys_type(),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let a = texts(&args, 0)?;
        let rows = 0..a.len();
        let value = |i: usize| a.is_valid(i).then(|| a.value(i));
        let array: ArrayRef = match self.kind {
            NameFunctionKind::Normalize => Arc::new(
                rows.map(|i| value(i).map(|n| seglake_screening::normalize(n).text()))
                    .collect::<StringArray>(),
            ),
            NameFunctionKind::Similarity => {
                let b = texts(&args, 1)?;
                Arc::new(
                    rows.map(|i| {
                        let other = b.is_valid(i).then(|| b.value(i));
                        Some(seglake_screening::name_similarity(value(i)?, other?))
                    })
                    .collect::<Float64Array>(),
                )
            }
            NameFunctionKind::Keys => {
                let mut builder = ListBuilder::new(StringBuilder::new());
                for i in rows {
                    match value(i) {
                        None => builder.append_null(),
                        Some(name) => {
                            let mut keys: Vec<String> = seglake_screening::normalize(name)
                                .tokens
                                .iter()
                                .flat_map(|t| seglake_screening::block_keys(t))
                                .collect();
                            keys.sort();
                            keys.dedup();
                            for key in keys {
                                builder.values().append_value(key);
                            }
                            builder.append(true);
                        }
                    }
                }
                Arc::new(builder.finish())
            }
        };
        Ok(ColumnarValue::Array(array))
    }
}

/// `screen_normalize`, `screen_similarity` and `screen_keys`.
pub fn name_functions() -> Vec<ScalarUDF> {
    [
        NameFunctionKind::Normalize,
        NameFunctionKind::Similarity,
        NameFunctionKind::Keys,
    ]
    .into_iter()
    .map(|kind| ScalarUDF::new_from_impl(NameFunction::new(kind)))
    .collect()
}

#[cfg(test)]
mod tests {
    use arrow::array::{AsArray, Float64Array};
    use datafusion::prelude::SessionContext;

    use super::*;

    #[tokio::test]
    async fn the_functions_answer_in_sql_with_nulls_passed_through() {
        let ctx = SessionContext::new();
        for f in name_functions() {
            ctx.register_udf(f);
        }
        let batches = ctx
            .sql(
                "SELECT screen_normalize(n) AS norm, \
                        screen_similarity(n, 'BOUT, Viktor') AS sim, \
                        screen_keys(n) AS keys \
                 FROM (VALUES ('Виктор Бут'), (NULL), ('Ltd.')) AS t(n)",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let b = &batches[0];
        let norm = b.column(0).as_string::<i32>();
        assert_eq!(norm.value(0), "but viktor");
        assert!(norm.is_null(1));
        assert_eq!(norm.value(2), "");
        let sim = b.column(1).as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!(
            sim.value(0),
            seglake_screening::name_similarity("Виктор Бут", "BOUT, Viktor")
        );
        assert!(sim.value(0) > 0.9);
        assert!(sim.is_null(1));
        let keys = b.column(2).as_list::<i32>();
        let first: Vec<String> = keys
            .value(0)
            .as_string::<i32>()
            .iter()
            .map(|k| k.unwrap().to_string())
            .collect();
        assert_eq!(first, ["p:vik", "s:tor", "w:but"]);
        assert!(keys.is_null(1));
    }
}
