//! Reads what a folder of tables holds from Parquet footers only: schema,
//! row count and per-column statistics (null counts, integer and time
//! ranges). Two things read data, both bounded: a sample of the first row
//! group's text columns (to see whether they are short codes worth
//! counting per value) and, in `guess`, the key column of a candidate key
//! table (to see whether it is unique).

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Int64Type, SchemaRef, TimeUnit};
use chrono::{DateTime, Utc};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::file::metadata::ParquetMetaData;

use crate::error::{Result, ScaffoldError};
use crate::scan::{TableFiles, TableFormat, scan};

/// Rows of the first row group read to learn a text column's values.
const SAMPLE_ROWS: usize = 100_000;
/// A text column with more distinct values than this in the sample is free
/// text or an identifier, not a code to count per value.
pub const MAX_CATEGORIES: usize = 12;
/// Longer values are not codes.
const MAX_CATEGORY_LEN: usize = 40;

/// Every table found in a folder.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// The inspected folder, as given.
    pub root: PathBuf,
    pub tables: Vec<Table>,
    /// Files and folders that are not tables seglake init reads (CSV, JSON, ...),
    /// relative to `root`.
    pub not_inspected: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Table {
    /// The source name in the job: the file or folder name, made a valid
    /// identifier and unique.
    pub name: String,
    /// The file or folder, relative to the inspected folder, `/`-separated.
    pub path: String,
    pub format: TableFormat,
    pub files: Vec<PathBuf>,
    /// Hive partition names (`year=2024/`): not columns of the source.
    pub partition_columns: Vec<String>,
    /// From the Parquet footers; `None` for Delta tables, whose log says
    /// which files are live.
    pub rows: Option<u64>,
    pub schema: SchemaRef,
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub data_type: DataType,
    /// Sum of the row groups' null counts, when every row group has one.
    pub null_count: Option<u64>,
    /// Smallest and largest value of an integer column, from statistics.
    pub int_range: Option<(i64, i64)>,
    /// Earliest and latest value of a date or timestamp column, from statistics.
    pub time_range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// A text column's distinct values in the sampled rows, most frequent
    /// first, when there are at most [`MAX_CATEGORIES`] short ones.
    pub values: Option<Vec<String>>,
}

/// Lists the tables in `dir` and reads their footers.
pub fn inspect(dir: &Path) -> Result<Inventory> {
    let (located, not_inspected) = scan(dir)?;
    let mut names: Vec<String> = Vec::new();
    let mut tables = Vec::new();
    for files in located {
        let name = crate::names::unique_name(&table_name(&files.path), &names);
        names.push(name.clone());
        tables.push(read_table(name, files)?);
    }
    Ok(Inventory {
        root: dir.to_path_buf(),
        tables,
        not_inspected,
    })
}

fn read_table(name: String, located: TableFiles) -> Result<Table> {
    let mut schema: Option<(SchemaRef, &PathBuf)> = None;
    let mut rows = 0u64;
    let mut stats: Vec<ColumnStats> = Vec::new();
    for file in &located.files {
        let builder = open(file)?;
        let file_schema = builder.schema().clone();
        match &schema {
            None => {
                stats = vec![ColumnStats::default(); file_schema.fields().len()];
                schema = Some((file_schema.clone(), file));
            }
            // A Delta table's log may have dropped files of an older schema:
            // the statistics of the files that agree are still a fair guess.
            Some((first, first_file)) => match check_same_schema(first, &file_schema) {
                Ok(()) => {}
                Err(_) if located.format == TableFormat::Delta => continue,
                Err((column, found, expected)) => {
                    return Err(ScaffoldError::SchemaDrift {
                        table: name,
                        file: file.clone(),
                        first_file: (*first_file).clone(),
                        column,
                        found,
                        expected,
                    });
                }
            },
        }
        let metadata = builder.metadata();
        rows += metadata.file_metadata().num_rows().max(0) as u64;
        for (i, field) in file_schema.fields().iter().enumerate() {
            stats[i].add(field.name(), &file_schema, metadata);
        }
    }
    let (schema, _) = schema.expect("a table has at least one file");
    let mut values = sample_text_values(&located.files[0], &schema)?;
    let columns = schema
        .fields()
        .iter()
        .zip(stats)
        .map(|(field, s)| Column {
            name: field.name().clone(),
            data_type: field.data_type().clone(),
            null_count: s.nulls,
            int_range: s.ints,
            time_range: s.times,
            values: values.remove(field.name()),
        })
        .collect();
    Ok(Table {
        name,
        path: located.path,
        format: located.format,
        partition_columns: located.partition_columns,
        rows: (located.format == TableFormat::Parquet).then_some(rows),
        files: located.files,
        schema,
        columns,
    })
}

pub(crate) fn open(file: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>> {
    let handle = File::open(file).map_err(|source| ScaffoldError::Io {
        path: file.to_path_buf(),
        source,
    })?;
    ParquetRecordBatchReaderBuilder::try_new(handle).map_err(|source| ScaffoldError::Unreadable {
        file: file.to_path_buf(),
        source,
    })
}

/// The first difference between two files' schemas: (column, found, expected).
fn check_same_schema(
    first: &SchemaRef,
    other: &SchemaRef,
) -> std::result::Result<(), (String, String, String)> {
    for field in first.fields() {
        match other.field_with_name(field.name()) {
            Ok(f) if f.data_type() == field.data_type() => {}
            Ok(f) => {
                return Err((
                    field.name().clone(),
                    f.data_type().to_string(),
                    field.data_type().to_string(),
                ));
            }
            Err(_) => {
                return Err((
                    field.name().clone(),
                    "no such column".into(),
                    field.data_type().to_string(),
                ));
            }
        }
    }
    match other
        .fields()
        .iter()
        .find(|f| first.field_with_name(f.name()).is_err())
    {
        Some(extra) => Err((
            extra.name().clone(),
            extra.data_type().to_string(),
            "no such column".into(),
        )),
        None => Ok(()),
    }
}

/// One column's statistics, merged over files and row groups.
#[derive(Debug, Clone, Default)]
struct ColumnStats {
    seen: bool,
    nulls: Option<u64>,
    ints: Option<(i64, i64)>,
    times: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl ColumnStats {
    fn add(&mut self, column: &str, schema: &SchemaRef, metadata: &ParquetMetaData) {
        let first = !self.seen;
        self.seen = true;
        let converter = match StatisticsConverter::try_new(
            column,
            schema,
            metadata.file_metadata().schema_descr(),
        ) {
            Ok(c) => c,
            Err(_) => {
                self.nulls = None;
                return;
            }
        };
        let groups = metadata.row_groups();
        let nulls = converter
            .row_group_null_counts(groups.iter())
            .ok()
            .filter(|n| n.null_count() == 0)
            .map(|n| n.values().iter().sum::<u64>());
        self.nulls = match (first, self.nulls, nulls) {
            (true, _, n) => n,
            (false, Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        let mins = converter.row_group_mins(groups.iter()).ok();
        let maxes = converter.row_group_maxes(groups.iter()).ok();
        let (Some(mins), Some(maxes)) = (mins, maxes) else {
            return;
        };
        let data_type = schema
            .field_with_name(column)
            .map(|f| f.data_type().clone());
        match data_type {
            Ok(t) if t.is_integer() => {
                if let (Some(lo), Some(hi)) = (int_extreme(&mins, false), int_extreme(&maxes, true))
                {
                    self.ints = Some(match self.ints {
                        Some((a, b)) => (a.min(lo), b.max(hi)),
                        None => (lo, hi),
                    });
                }
            }
            Ok(t) if is_time_type(&t) => {
                if let (Some(lo), Some(hi)) =
                    (time_extreme(&mins, false), time_extreme(&maxes, true))
                {
                    self.times = Some(match self.times {
                        Some((a, b)) => (a.min(lo), b.max(hi)),
                        None => (lo, hi),
                    });
                }
            }
            _ => {}
        }
    }
}

pub fn is_time_type(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _)
    )
}

fn int_extreme(values: &ArrayRef, largest: bool) -> Option<i64> {
    let ints = arrow::compute::cast(values, &DataType::Int64).ok()?;
    let ints = ints.as_primitive::<Int64Type>();
    let iter = ints.iter().flatten();
    if largest { iter.max() } else { iter.min() }
}

/// Row-group minima or maxima of a date or timestamp column as instants.
/// Timestamps are stored as UTC instants whatever their time zone, so the
/// raw value is read rather than cast (a cast to a zone-less type would
/// shift it to local time).
fn time_extreme(values: &ArrayRef, largest: bool) -> Option<DateTime<Utc>> {
    let raw = arrow::compute::cast(values, &DataType::Int64).ok()?;
    let raw = raw.as_primitive::<Int64Type>();
    let to_time = |v: i64| match values.data_type() {
        DataType::Date32 => DateTime::from_timestamp(v.checked_mul(86_400)?, 0),
        DataType::Date64 | DataType::Timestamp(TimeUnit::Millisecond, _) => {
            DateTime::from_timestamp_millis(v)
        }
        DataType::Timestamp(TimeUnit::Second, _) => DateTime::from_timestamp(v, 0),
        DataType::Timestamp(TimeUnit::Microsecond, _) => DateTime::from_timestamp_micros(v),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => Some(DateTime::from_timestamp_nanos(v)),
        _ => None,
    };
    let iter = raw.iter().flatten().filter_map(to_time);
    if largest { iter.max() } else { iter.min() }
}

pub fn is_text_type(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => is_text_type(v),
        _ => false,
    }
}

/// The distinct values of each text column in (at most) the first
/// [`SAMPLE_ROWS`] rows of the first row group of `file`, for the columns
/// that hold few short values.
fn sample_text_values(file: &Path, schema: &SchemaRef) -> Result<HashMap<String, Vec<String>>> {
    let text: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| is_text_type(schema.field(i).data_type()))
        .collect();
    let builder = open(file)?;
    if text.is_empty() || builder.metadata().num_row_groups() == 0 {
        return Ok(HashMap::new());
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), text.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_row_groups(vec![0])
        .with_limit(SAMPLE_ROWS)
        .build()
        .map_err(|source| ScaffoldError::Unreadable {
            file: file.to_path_buf(),
            source,
        })?;
    // Per column: value -> (count, first row seen), or None once it is
    // clearly not a short code.
    let mut counts: Vec<Option<HashMap<String, (u64, usize)>>> =
        vec![Some(HashMap::new()); text.len()];
    let mut row = 0usize;
    for batch in reader {
        let batch = batch.map_err(|e| ScaffoldError::Unreadable {
            file: file.to_path_buf(),
            source: e.into(),
        })?;
        for (slot, column) in counts.iter_mut().zip(batch.columns()) {
            count_values(slot, column, row);
        }
        row += batch.num_rows();
    }
    Ok(text
        .iter()
        .zip(counts)
        .filter_map(|(&i, c)| Some((schema.field(i).name().clone(), most_frequent_first(c?))))
        .collect())
}

fn count_values(
    slot: &mut Option<HashMap<String, (u64, usize)>>,
    column: &ArrayRef,
    offset: usize,
) {
    let Some(map) = slot else { return };
    let Ok(strings) = arrow::compute::cast(column, &DataType::Utf8) else {
        *slot = None;
        return;
    };
    for (i, value) in strings.as_string::<i32>().iter().enumerate() {
        let Some(value) = value else { continue };
        if value.len() > MAX_CATEGORY_LEN {
            *slot = None;
            return;
        }
        map.entry(value.to_string()).or_insert((0, offset + i)).0 += 1;
        if map.len() > MAX_CATEGORIES {
            *slot = None;
            return;
        }
    }
}

/// Most frequent first; ties in the order the values first appeared, so the
/// proposal does not depend on hashing.
fn most_frequent_first(counts: HashMap<String, (u64, usize)>) -> Vec<String> {
    let mut values: Vec<(String, (u64, usize))> = counts.into_iter().collect();
    values.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.1.1.cmp(&b.1.1)));
    values.into_iter().map(|(v, _)| v).collect()
}

/// A table's source name from its path: the file stem or folder name,
/// lower-cased, other characters replaced by `_` (the job's names are
/// lower-case letters, digits and `_`).
fn table_name(path: &str) -> String {
    let last = path.rsplit('/').next().unwrap_or(path);
    let stem = last.strip_suffix(".parquet").unwrap_or(last);
    crate::names::identifier(stem, "t")
}
