use thiserror::Error;

/// What can be wrong with a list. Every message names the list (the job's
/// source name) and the column or entry.
#[derive(Debug, Error)]
pub enum ScreeningError {
    #[error("list `{list}` ({format} format) has no column `{column}`; its columns: {found}")]
    MissingColumn {
        list: String,
        format: &'static str,
        column: &'static str,
        found: String,
    },
    #[error("list `{list}`: column `{column}` is {found}, expected {expected}")]
    WrongType {
        list: String,
        column: &'static str,
        found: String,
        expected: &'static str,
    },
    #[error("list `{list}`: row {row} has no {column}")]
    MissingValue {
        list: String,
        column: &'static str,
        row: usize,
    },
    #[error(
        "list `{list}`: entry {id} has type `{value}`; expected one of individual, entity, vessel, aircraft"
    )]
    UnknownEntryType {
        list: String,
        id: i64,
        value: String,
    },
    #[error(
        "list `{list}` has no entries to screen against; screening against an empty list would clear every name, so it is refused"
    )]
    EmptyList { list: String },
    #[error("unknown list format `{0}`; known: ofac_sdn, internal")]
    UnknownFormat(String),
}

pub type Result<T> = std::result::Result<T, ScreeningError>;
