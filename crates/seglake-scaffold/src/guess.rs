//! The key guess: the identifier column that the most tables share, and the
//! table with one row per key that the feature table starts from.

use std::collections::{BTreeMap, HashSet};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int64Type};
use parquet::arrow::ProjectionMask;

use crate::classify::{ENTITY_WORDS, Role, classify, is_id_name};
use crate::error::{Result, ScaffoldError};
use crate::inspect::{Inventory, Table, is_text_type, open};
use crate::scan::TableFormat;

/// Tables larger than this are not read to check the key's uniqueness.
const MAX_UNIQUENESS_ROWS: u64 = 20_000_000;

#[derive(Debug, Clone)]
pub struct KeyGuess {
    /// The key as the job and the feature table name it (a job identifier).
    pub key: String,
    /// Every table that has the key: (index into the inventory, the
    /// column's name as the data spells it).
    pub tables: Vec<(usize, String)>,
    /// The table with one row per key the feature table starts from; `None`
    /// when no table has the key unique (the keys are then every key seen).
    pub key_table: Option<usize>,
    /// Tables where the key was checked and found unique, without nulls.
    pub unique_in: Vec<usize>,
    /// Given with `--key`, not guessed.
    pub explicit: bool,
    /// The other candidates, best first: (name, number of tables).
    pub alternatives: Vec<(String, usize)>,
}

impl KeyGuess {
    /// Whether table `index` has the key, and under which column name.
    pub fn column_in(&self, index: usize) -> Option<&str> {
        self.tables
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, c)| c.as_str())
    }
}

/// A column name shared by tables, with the tables (index, name as spelt).
struct Candidate {
    key: String,
    tables: Vec<(usize, String)>,
}

/// Guesses the key, or takes `explicit` (matched against column names
/// without regard to case or spelling: `memberNo` is `member_no`).
pub fn guess_key(inv: &Inventory, explicit: Option<&str>) -> Result<KeyGuess> {
    let mut candidates = candidates(inv, explicit.is_some());
    if candidates.is_empty() && explicit.is_none() {
        return Err(ScaffoldError::NoKey {
            columns: all_columns(inv),
        });
    }
    rank(&mut candidates, inv);
    let chosen = match explicit {
        Some(key) => {
            let wanted = crate::names::identifier(key, "c");
            let position = candidates.iter().position(|c| c.key == wanted);
            let Some(position) = position else {
                return Err(ScaffoldError::KeyNotFound {
                    key: key.to_string(),
                    columns: id_columns(inv),
                });
            };
            check_key_type(inv, key, &candidates[position])?;
            candidates.remove(position)
        }
        None => candidates.remove(0),
    };
    let alternatives = candidates
        .iter()
        .filter(|c| explicit.is_some() || c.tables.iter().any(|(i, n)| is_id(inv, *i, n)))
        .map(|c| (c.key.clone(), c.tables.len()))
        .take(5)
        .collect();
    let (key_table, unique_in) = find_key_table(inv, &chosen)?;
    Ok(KeyGuess {
        key: chosen.key,
        tables: chosen.tables,
        key_table,
        unique_in,
        explicit: explicit.is_some(),
        alternatives,
    })
}

fn is_id(inv: &Inventory, table: usize, column: &str) -> bool {
    inv.tables[table]
        .columns
        .iter()
        .any(|c| c.name == column && classify(c) == Role::Id)
}

/// Identifier columns grouped by their job name; with `any_column`, every
/// column (an explicit key need not be named like an id).
fn candidates(inv: &Inventory, any_column: bool) -> Vec<Candidate> {
    let mut by_name: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    for (i, table) in inv.tables.iter().enumerate() {
        for column in &table.columns {
            if any_column || classify(column) == Role::Id {
                by_name
                    .entry(crate::names::identifier(&column.name, "c"))
                    .or_default()
                    .push((i, column.name.clone()));
            }
        }
    }
    by_name
        .into_iter()
        .map(|(key, tables)| Candidate {
            key,
            tables: same_family(inv, tables),
        })
        .collect()
}

/// Tables whose column is of the type family (integer or text) most of
/// them share: a join of integers to text would not match.
fn same_family(inv: &Inventory, tables: Vec<(usize, String)>) -> Vec<(usize, String)> {
    let is_text = |(i, name): &(usize, String)| {
        let t = inv.tables[*i]
            .schema
            .field_with_name(name)
            .map(|f| f.data_type().clone());
        t.is_ok_and(|t| is_text_type(&t))
    };
    let texts = tables.iter().filter(|t| is_text(t)).count();
    let text_wins = texts * 2 > tables.len();
    tables
        .into_iter()
        .filter(|t| is_text(t) == text_wins)
        .collect()
}

/// Best first: shared by more tables; then named after a party
/// (customer, client, account, ...); then not merely the row id of the one
/// table it is in (`trans_id` in `trans`); then by name.
fn rank(candidates: &mut [Candidate], inv: &Inventory) {
    let entity = |c: &Candidate| c.key.split('_').any(|w| ENTITY_WORDS.contains(&w));
    let own_row_id =
        |c: &Candidate| c.tables.len() == 1 && names_table(&c.key, &inv.tables[c.tables[0].0]);
    candidates.sort_by(|a, b| {
        b.tables
            .len()
            .cmp(&a.tables.len())
            .then(entity(b).cmp(&entity(a)))
            .then(own_row_id(a).cmp(&own_row_id(b)))
            .then(a.key.cmp(&b.key))
    });
}

/// Whether `table` is named after the key's noun: `account` or `accounts`
/// for `account_id`.
fn names_table(key: &str, table: &Table) -> bool {
    let stem = key_stem(key);
    let name = table.name.as_str();
    !stem.is_empty() && (name == stem || name == format!("{stem}s") || name == format!("{stem}es"))
}

fn key_stem(key: &str) -> &str {
    ["_id", "_no", "_nr", "_num", "_number", "_key", "_ref", "id"]
        .iter()
        .find_map(|s| key.strip_suffix(s))
        .unwrap_or(key)
}

fn check_key_type(inv: &Inventory, key: &str, candidate: &Candidate) -> Result<()> {
    for (i, name) in &candidate.tables {
        let t = inv.tables[*i]
            .schema
            .field_with_name(name)
            .map(|f| f.data_type().clone());
        if let Ok(t) = t {
            if !(t.is_integer() || is_text_type(&t)) {
                return Err(ScaffoldError::KeyType {
                    key: key.to_string(),
                    table: inv.tables[*i].name.clone(),
                    column: name.clone(),
                    data_type: t.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// The table the feature table starts from: one named after the key if the
/// key is unique there, else the largest table where it is unique.
fn find_key_table(inv: &Inventory, key: &Candidate) -> Result<(Option<usize>, Vec<usize>)> {
    let mut unique_in = Vec::new();
    for (i, column) in &key.tables {
        if is_unique(&inv.tables[*i], column)? {
            unique_in.push(*i);
        }
    }
    let named = unique_in
        .iter()
        .copied()
        .find(|&i| names_table(&key.key, &inv.tables[i]));
    let largest = unique_in
        .iter()
        .copied()
        .max_by_key(|&i| (inv.tables[i].rows, std::cmp::Reverse(i)));
    Ok((named.or(largest), unique_in))
}

/// Whether `column` has no nulls and no repeated value. Statistics answer
/// first (a null count, or an integer range narrower than the row count);
/// otherwise the column alone is read, stopping at the first repeat.
fn is_unique(table: &Table, column: &str) -> Result<bool> {
    let Some(rows) = table.rows else {
        return Ok(false); // a Delta table: its live files are not known here
    };
    let stats = table.columns.iter().find(|c| c.name == column);
    if let Some(stats) = stats {
        if stats.null_count.is_some_and(|n| n > 0) {
            return Ok(false);
        }
        if let Some((lo, hi)) = stats.int_range {
            if (hi as i128 - lo as i128 + 1) < rows as i128 {
                return Ok(false);
            }
        }
    }
    if rows > MAX_UNIQUENESS_ROWS || table.format != TableFormat::Parquet {
        return Ok(false);
    }
    read_unique(table, column)
}

fn read_unique(table: &Table, column: &str) -> Result<bool> {
    let mut ints: HashSet<i64> = HashSet::new();
    let mut texts: HashSet<String> = HashSet::new();
    for file in &table.files {
        let builder = open(file)?;
        let Ok(index) = builder.schema().index_of(column) else {
            return Ok(false);
        };
        let mask = ProjectionMask::roots(builder.parquet_schema(), [index]);
        let unreadable = |source| ScaffoldError::Unreadable {
            file: file.clone(),
            source,
        };
        let reader = builder.with_projection(mask).build().map_err(unreadable)?;
        for batch in reader {
            let batch = batch.map_err(|e| unreadable(e.into()))?;
            let values = batch.column(0);
            if values.null_count() > 0 {
                return Ok(false);
            }
            let fresh = if values.data_type().is_integer() {
                let v = arrow::compute::cast(values, &DataType::Int64)
                    .map_err(|e| unreadable(e.into()))?;
                v.as_primitive::<Int64Type>()
                    .values()
                    .iter()
                    .all(|x| ints.insert(*x))
            } else {
                let v = arrow::compute::cast(values, &DataType::Utf8)
                    .map_err(|e| unreadable(e.into()))?;
                v.as_string::<i32>()
                    .iter()
                    .flatten()
                    .all(|x| texts.insert(x.to_string()))
            };
            if !fresh {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Every `table.column`, for the error that asks for `--key`.
fn all_columns(inv: &Inventory) -> Vec<String> {
    inv.tables
        .iter()
        .flat_map(|t| {
            t.columns
                .iter()
                .map(move |c| format!("{}.{}", t.name, c.name))
        })
        .take(40)
        .collect()
}

/// The identifier-like columns, for the error of a `--key` not found.
fn id_columns(inv: &Inventory) -> Vec<String> {
    let ids: Vec<String> = inv
        .tables
        .iter()
        .flat_map(|t| {
            t.columns
                .iter()
                .filter(|c| is_id_name(&c.name))
                .map(move |c| format!("{}.{}", t.name, c.name))
        })
        .collect();
    if ids.is_empty() {
        all_columns(inv)
    } else {
        ids
    }
}
