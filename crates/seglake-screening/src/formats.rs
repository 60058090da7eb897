//! List layouts: how a table of rows becomes [`ListEntry`]s.
//!
//! - `ofac_sdn`: OFAC's `sdn.csv` columns (`ent_num`, `SDN_Name`,
//!   `SDN_Type`, `Program`, `Remarks`): aliases are read from the remarks'
//!   `a.k.a.` / `f.k.a.` / `n.k.a.` quotes, programmes from `A] [B`.
//! - `internal`: a bank's own list, one row per name (`entry_id`, `name`,
//!   and optionally `entry_type`, `programme`); the first row of an id is
//!   its primary name, later rows its aliases.
//!
//! The EU, UN and UK consolidated lists would be further variants of
//! [`ListFormat`], each a function from rows to entries.

use std::collections::BTreeMap;

use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;

use crate::error::{Result, ScreeningError};
use crate::list::{EntryType, ListEntry, ListedName, NameKind, SanctionsList};
use crate::normalize::normalize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    OfacSdn,
    Internal,
}

impl ListFormat {
    pub const ALL: [ListFormat; 2] = [ListFormat::OfacSdn, ListFormat::Internal];

    pub fn as_str(self) -> &'static str {
        match self {
            ListFormat::OfacSdn => "ofac_sdn",
            ListFormat::Internal => "internal",
        }
    }

    pub fn parse(text: &str) -> Result<ListFormat> {
        ListFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == text)
            .ok_or_else(|| ScreeningError::UnknownFormat(text.to_string()))
    }

    /// The columns a table must have to be read in this format.
    pub fn required_columns(self) -> &'static [&'static str] {
        match self {
            ListFormat::OfacSdn => &["ent_num", "SDN_Name", "SDN_Type", "Program", "Remarks"],
            ListFormat::Internal => &["entry_id", "name"],
        }
    }

    /// Reads `batches` (the rows of list `list`) into a list. An empty list
    /// is an error.
    pub fn read(self, list: &str, batches: &[RecordBatch]) -> Result<SanctionsList> {
        let entries = match self {
            ListFormat::OfacSdn => read_ofac(list, batches)?,
            ListFormat::Internal => read_internal(list, batches)?,
        };
        let empty_names = entries
            .iter()
            .flat_map(|e| &e.names)
            .filter(|n| normalize(&n.name).is_empty())
            .count() as u64;
        if entries.is_empty() {
            return Err(ScreeningError::EmptyList {
                list: list.to_string(),
            });
        }
        Ok(SanctionsList {
            entries,
            empty_names,
        })
    }
}

/// Checks the columns of a list's schema without reading rows (for
/// `seglake validate`).
pub fn check_columns(
    format: ListFormat,
    list: &str,
    schema: &arrow::datatypes::Schema,
) -> Result<()> {
    for column in format.required_columns() {
        if schema.field_with_name(column).is_err() {
            return Err(missing(format, list, column, schema));
        }
    }
    Ok(())
}

fn missing(
    format: ListFormat,
    list: &str,
    column: &'static str,
    schema: &arrow::datatypes::Schema,
) -> ScreeningError {
    ScreeningError::MissingColumn {
        list: list.to_string(),
        format: format.as_str(),
        column,
        found: schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// One column of a batch as text or integers, whatever width the file
/// stored it in.
struct Columns<'a> {
    list: &'a str,
    format: ListFormat,
    batch: &'a RecordBatch,
}

impl Columns<'_> {
    fn optional(&self, name: &'static str, to: &DataType) -> Result<Option<ArrayRef>> {
        let Some(column) = self.batch.column_by_name(name) else {
            return Ok(None);
        };
        cast(column, to)
            .map(Some)
            .map_err(|_| ScreeningError::WrongType {
                list: self.list.to_string(),
                column: name,
                found: column.data_type().to_string(),
                expected: if to == &DataType::Int64 {
                    "an integer"
                } else {
                    "text"
                },
            })
    }

    fn required(&self, name: &'static str, to: &DataType) -> Result<ArrayRef> {
        self.optional(name, to)?
            .ok_or_else(|| missing(self.format, self.list, name, &self.batch.schema()))
    }

    fn text(&self, name: &'static str) -> Result<Option<StringArray>> {
        Ok(self.optional(name, &DataType::Utf8)?.map(|a| {
            a.as_any()
                .downcast_ref::<StringArray>()
                .expect("cast to Utf8")
                .clone()
        }))
    }

    fn required_text(&self, name: &'static str) -> Result<StringArray> {
        self.text(name)?
            .ok_or_else(|| missing(self.format, self.list, name, &self.batch.schema()))
    }

    fn ids(&self, name: &'static str) -> Result<Int64Array> {
        let ids = self.required(name, &DataType::Int64)?;
        Ok(ids
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("cast to Int64")
            .clone())
    }
}

fn value(array: &StringArray, row: usize) -> Option<&str> {
    array.is_valid(row).then(|| array.value(row))
}

/// One row of a list (numbered from 1), for the errors that name it.
struct Row<'a> {
    list: &'a str,
    number: usize,
}

impl Row<'_> {
    fn required<T>(&self, value: Option<T>, column: &'static str) -> Result<T> {
        value.ok_or_else(|| ScreeningError::MissingValue {
            list: self.list.to_string(),
            column,
            row: self.number,
        })
    }

    /// An empty type is an entity (as OFAC writes them).
    fn entry_type(&self, id: i64, text: Option<&str>) -> Result<EntryType> {
        match text.map(str::trim) {
            None | Some("") => Ok(EntryType::Entity),
            Some(text) => EntryType::parse(text).ok_or_else(|| ScreeningError::UnknownEntryType {
                list: self.list.to_string(),
                id,
                value: text.to_string(),
            }),
        }
    }
}

fn read_ofac(list: &str, batches: &[RecordBatch]) -> Result<Vec<ListEntry>> {
    let mut entries = Vec::new();
    let mut row_base = 0;
    for batch in batches {
        let columns = Columns {
            list,
            format: ListFormat::OfacSdn,
            batch,
        };
        let ids = columns.ids("ent_num")?;
        let names = columns.required_text("SDN_Name")?;
        let types = columns.required_text("SDN_Type")?;
        let programmes = columns.required_text("Program")?;
        let remarks = columns.required_text("Remarks")?;
        for row in 0..batch.num_rows() {
            let at = Row {
                list,
                number: row_base + row + 1,
            };
            let id = at.required(ids.is_valid(row).then(|| ids.value(row)), "ent_num")?;
            let name = at.required(value(&names, row), "SDN_Name")?;
            // OFAC leaves the type empty for entities.
            let entry_type = at.entry_type(id, value(&types, row))?;
            let mut listed = vec![ListedName {
                name: name.to_string(),
                kind: NameKind::Primary,
            }];
            listed.extend(
                ofac_aliases(value(&remarks, row).unwrap_or("")).map(|alias| ListedName {
                    name: alias.to_string(),
                    kind: NameKind::Alias,
                }),
            );
            entries.push(ListEntry {
                id,
                entry_type,
                programmes: ofac_programmes(value(&programmes, row).unwrap_or("")),
                names: listed,
            });
        }
        row_base += batch.num_rows();
    }
    Ok(entries)
}

/// `IRAN] [NPWMD] [IFSR` -> `IRAN`, `NPWMD`, `IFSR`.
fn ofac_programmes(text: &str) -> Vec<String> {
    text.split("] [")
        .map(|p| p.trim_matches(|c: char| c == '[' || c == ']' || c.is_whitespace()))
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// The quoted names after `a.k.a.`, `f.k.a.` and `n.k.a.` in OFAC remarks.
fn ofac_aliases(remarks: &str) -> impl Iterator<Item = &str> {
    const MARKERS: [&str; 3] = ["a.k.a. '", "f.k.a. '", "n.k.a. '"];
    let mut rest = remarks;
    std::iter::from_fn(move || {
        loop {
            let (at, marker) = MARKERS
                .iter()
                .filter_map(|m| rest.find(m).map(|at| (at, m)))
                .min_by_key(|(at, _)| *at)?;
            let start = at + marker.len();
            let end = start + rest[start..].find('\'')?;
            let alias = rest[start..end].trim();
            rest = &rest[end + 1..];
            if !alias.is_empty() {
                return Some(alias);
            }
        }
    })
}

fn read_internal(list: &str, batches: &[RecordBatch]) -> Result<Vec<ListEntry>> {
    let mut by_id: BTreeMap<i64, ListEntry> = BTreeMap::new();
    let mut row_base = 0;
    for batch in batches {
        let columns = Columns {
            list,
            format: ListFormat::Internal,
            batch,
        };
        let ids = columns.ids("entry_id")?;
        let names = columns.required_text("name")?;
        let types = columns.text("entry_type")?;
        let programmes = columns.text("programme")?;
        for row in 0..batch.num_rows() {
            let at = Row {
                list,
                number: row_base + row + 1,
            };
            let id = at.required(ids.is_valid(row).then(|| ids.value(row)), "entry_id")?;
            let name = at.required(value(&names, row), "name")?;
            let entry_type = at.entry_type(id, types.as_ref().and_then(|t| value(t, row)))?;
            let entry = by_id.entry(id).or_insert_with(|| ListEntry {
                id,
                entry_type,
                programmes: Vec::new(),
                names: Vec::new(),
            });
            let kind = if entry.names.is_empty() {
                NameKind::Primary
            } else {
                NameKind::Alias
            };
            entry.names.push(ListedName {
                name: name.to_string(),
                kind,
            });
            if let Some(p) = programmes.as_ref().and_then(|p| value(p, row))
                && !entry.programmes.iter().any(|q| q == p)
            {
                entry.programmes.push(p.to_string());
            }
        }
        row_base += batch.num_rows();
    }
    Ok(by_id.into_values().collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int32Array;
    use arrow::datatypes::{Field, Schema};

    use super::*;

    fn ofac_batch(rows: &[(i32, &str, Option<&str>, &str, Option<&str>)]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("ent_num", DataType::Int32, false),
            Field::new("SDN_Name", DataType::Utf8, false),
            Field::new("SDN_Type", DataType::Utf8, true),
            Field::new("Program", DataType::Utf8, false),
            Field::new("Remarks", DataType::Utf8, true),
        ]));
        let col = |f: fn(&(i32, &str, Option<&str>, &str, Option<&str>)) -> Option<String>| {
            Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>())) as ArrayRef
        };
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                )),
                col(|r| Some(r.1.to_string())),
                col(|r| r.2.map(str::to_string)),
                col(|r| Some(r.3.to_string())),
                col(|r| r.4.map(str::to_string)),
            ],
        )
        .unwrap()
    }

    #[test]
    fn ofac_rows_become_entries_with_aliases_and_programmes() {
        let batch = ofac_batch(&[
            (
                306,
                "BANCO NACIONAL DE CUBA",
                None,
                "CUBA",
                Some("a.k.a. 'BNC'."),
            ),
            (
                8279,
                "BOUT, Viktor Anatolijevitch",
                Some("individual"),
                "DRCONGO] [SDGT",
                Some(
                    "DOB 13 Jan 1967; a.k.a. 'BUTT, Victor'; f.k.a. 'BOUTOV, Viktor'; nationality Russia.",
                ),
            ),
        ]);
        let list = ListFormat::OfacSdn.read("sdn", &[batch]).unwrap();
        assert_eq!(list.entries.len(), 2);
        let bout = &list.entries[1];
        assert_eq!(bout.id, 8279);
        assert_eq!(bout.entry_type, EntryType::Individual);
        assert_eq!(bout.programmes, ["DRCONGO", "SDGT"]);
        let names: Vec<(&str, NameKind)> = bout
            .names
            .iter()
            .map(|n| (n.name.as_str(), n.kind))
            .collect();
        assert_eq!(
            names,
            [
                ("BOUT, Viktor Anatolijevitch", NameKind::Primary),
                ("BUTT, Victor", NameKind::Alias),
                ("BOUTOV, Viktor", NameKind::Alias),
            ]
        );
        assert_eq!(list.entries[0].entry_type, EntryType::Entity);
        assert_eq!(list.entries[0].names[1].name, "BNC");
    }

    #[test]
    fn bad_lists_are_named_errors() {
        let empty = ofac_batch(&[]);
        let err = ListFormat::OfacSdn.read("sdn", &[empty]).unwrap_err();
        assert!(
            err.to_string().contains("list `sdn` has no entries"),
            "{err}"
        );

        let typed = ofac_batch(&[(1, "X", Some("ship"), "CUBA", None)]);
        let err = ListFormat::OfacSdn.read("sdn", &[typed]).unwrap_err();
        assert!(err.to_string().contains("entry 1 has type `ship`"), "{err}");

        let schema = Arc::new(Schema::new(vec![Field::new(
            "entry_id",
            DataType::Int64,
            false,
        )]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1]))])
            .unwrap();
        let err = ListFormat::Internal.read("own", &[batch]).unwrap_err();
        assert!(
            err.to_string().contains(
                "list `own` (internal format) has no column `name`; its columns: entry_id"
            ),
            "{err}"
        );
        assert!(check_columns(ListFormat::OfacSdn, "sdn", &schema).is_err());
        assert!(ListFormat::parse("eu_fsf").is_err());
    }

    #[test]
    fn internal_rows_group_by_id() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("entry_id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, false),
            Field::new("programme", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![7, 7, 3])),
                Arc::new(StringArray::from(vec![
                    "Acme Trading",
                    "Acme Intl",
                    "Jon Doe",
                ])),
                Arc::new(StringArray::from(vec![Some("internal"), None, None])),
            ],
        )
        .unwrap();
        let list = ListFormat::Internal.read("own", &[batch]).unwrap();
        assert_eq!(list.entries.len(), 2);
        assert_eq!(list.entries[0].id, 3);
        assert_eq!(list.entries[1].names[1].kind, NameKind::Alias);
        assert_eq!(list.entries[1].programmes, ["internal"]);
    }
}
