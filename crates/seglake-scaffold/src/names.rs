//! Names: the job's identifiers (lower-case letters, digits, `_`) made from
//! file, column and value names, and SQL quoting of the names as they are
//! in the data.

/// `text` as a job identifier: lower-case, every other character `_`, runs
/// of `_` collapsed, starting with a letter (`prefix_` is put in front of
/// one that does not). An empty result becomes `prefix`.
pub fn identifier(text: &str, prefix: &str) -> String {
    let mut out = String::new();
    // camelCase words become snake_case words: `memberNo` -> `member_no`.
    let mut previous_lower = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && previous_lower {
                out.push('_');
            }
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            out.push(c.to_ascii_lowercase());
        } else {
            previous_lower = false;
            if !out.ends_with('_') {
                out.push('_');
            }
        }
    }
    let trimmed = out.trim_matches('_');
    if trimmed.is_empty() {
        prefix.to_string()
    } else if trimmed.starts_with(|c: char| c.is_ascii_digit()) {
        format!("{prefix}_{trimmed}")
    } else {
        trimmed.to_string()
    }
}

/// A column or table name as the data spells it, quoted when SQL would
/// otherwise lower-case it or read it as a keyword.
pub fn quote(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain && !is_keyword(name) {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A SQL string literal.
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Words that cannot be bare identifiers in DataFusion's SQL dialect, or
/// that read as something else in some position (`date '...'`). Quoting a
/// name that did not need it is harmless; the list errs on that side.
#[rustfmt::skip]
const KEYWORDS: &[&str] = &[
    "all", "and", "any", "array", "as", "asc", "between", "by", "case", "cast", "check",
    "collate", "column", "constraint", "create", "cross", "current", "current_date",
    "current_time", "current_timestamp", "date", "day", "default", "delete", "desc", "distinct",
    "drop", "else", "end", "except", "exists", "extract", "false", "fetch", "filter", "for",
    "foreign", "from", "full", "group", "having", "hour", "in", "inner", "insert", "intersect",
    "interval", "into", "is", "join", "key", "lateral", "left", "like", "limit", "minute",
    "month", "natural", "not", "null", "of", "offset", "on", "or", "order", "outer", "over",
    "partition", "primary", "range", "references", "right", "row", "rows", "second", "select",
    "set", "some", "table", "then", "time", "timestamp", "to", "true", "type", "union",
    "unique", "update", "user", "using", "value", "values", "when", "where", "window", "with",
    "year",
];

fn is_keyword(name: &str) -> bool {
    KEYWORDS.contains(&name)
}

/// Adds `name`, made unique against `taken` with a numeric suffix.
pub fn claim(name: String, taken: &mut Vec<String>) -> String {
    let name = unique_name(&name, taken);
    taken.push(name.clone());
    name
}

/// `name`, or `name_2`, `name_3`, ... when it is taken.
pub(crate) fn unique_name(name: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == name) {
        return name.to_string();
    }
    (2..)
        .map(|i| format!("{name}_{i}"))
        .find(|n| !taken.iter().any(|t| t == n))
        .expect("some suffix is free")
}
