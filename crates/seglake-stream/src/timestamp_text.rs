//! Timestamps as message text: RFC 3339 (`2026-11-29T10:15:00Z`,
//! `...+01:00`), or a date-time without offset, read as UTC. Shared by the
//! JSON rows (`decode.rs`) and the Avro writer (`avro.rs`).

use chrono::{DateTime, NaiveDateTime, Utc};

/// `text` as a UTC time, if it is one.
pub(crate) fn parse(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|naive| naive.and_utc())
}
