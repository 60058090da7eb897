//! The sentences that state each guess: for the job file's comments and for
//! what `seglake init` prints.

use chrono::{DateTime, Days, Utc};

use crate::classify::{Role, classify};
use crate::guess::KeyGuess;
use crate::inspect::Inventory;

/// `key guessed: account_id (in 5 of 8 tables; unique in account.parquet);
/// other candidates: ...`.
pub fn key_note(inv: &Inventory, guess: &KeyGuess) -> String {
    let n = inv.tables.len();
    let found = if guess.explicit {
        "key (--key)"
    } else {
        "key guessed"
    };
    let unique = if guess.unique_in.is_empty() {
        "unique in no table".to_string()
    } else {
        let paths: Vec<&str> = guess
            .unique_in
            .iter()
            .map(|&i| inv.tables[i].path.as_str())
            .collect();
        format!("unique in {}", paths.join(", "))
    };
    let mut note = format!(
        "{found}: {} (in {} of {n} tables; {unique})",
        guess.key,
        guess.tables.len()
    );
    match guess.key_table {
        Some(i) => note.push_str(&format!(
            "; the feature table has one row per {} of `{}`",
            guess.key, inv.tables[i].name
        )),
        None => note.push_str(&format!(
            "; no table lists each {} once, so the feature table has every {} seen in any table",
            guess.key, guess.key
        )),
    }
    if !guess.alternatives.is_empty() {
        let others: Vec<String> = guess
            .alternatives
            .iter()
            .map(|(name, count)| {
                format!(
                    "{name} ({count} {})",
                    if *count == 1 { "table" } else { "tables" }
                )
            })
            .collect();
        note.push_str(&format!("; other candidates: {}", others.join(", ")));
    }
    note.push_str(". To choose another: seglake init --key COLUMN.");
    note
}

/// One table: its file, rows, and what each column was taken for.
pub fn table_note(inv: &Inventory, index: usize, guess: &KeyGuess) -> String {
    let table = &inv.tables[index];
    let rows = table
        .rows
        .map(|r| format!("{} rows", crate::thousands(r)))
        .unwrap_or_else(|| "rows not counted (Delta)".into());
    let files = if table.files.len() == 1 {
        "1 file".to_string()
    } else {
        format!("{} files", table.files.len())
    };
    let role = match (guess.column_in(index), guess.key_table == Some(index)) {
        (Some(_), true) => format!("one row per {}: the feature table starts here", guess.key),
        (Some(_), false) => format!("grouped by {}", guess.key),
        (None, _) => format!("no {}: not used by the starter views", guess.key),
    };
    let mut note = format!("{}: {rows}, {files}; {role}", table.path);
    let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
    for column in &table.columns {
        if Some(column.name.as_str()) == guess.column_in(index) {
            continue;
        }
        let role = classify(column);
        let label = match &role {
            Role::Category(v) => format!("{} ({} values)", column.name, v.len()),
            _ => column.name.clone(),
        };
        match groups.iter_mut().find(|(d, _)| *d == role.describe()) {
            Some((_, names)) => names.push(label),
            None => groups.push((role.describe(), vec![label])),
        }
    }
    for (what, names) in groups {
        note.push_str(&format!("; {what}: {}", names.join(", ")));
    }
    if !table.partition_columns.is_empty() {
        note.push_str(&format!(
            "; partition folders {} are not columns",
            table.partition_columns.join(", ")
        ));
    }
    note
}

/// The proposed as_of: the day after the latest date or time in the
/// statistics, with where it was found.
pub fn as_of_guess(inv: &Inventory) -> Option<(String, String)> {
    let mut latest: Option<(DateTime<Utc>, String)> = None;
    for table in &inv.tables {
        for column in &table.columns {
            if let Some((_, max)) = column.time_range {
                if latest.as_ref().is_none_or(|(t, _)| max > *t) {
                    latest = Some((max, format!("{}.{}", table.name, column.name)));
                }
            }
        }
    }
    let (max, place) = latest?;
    let next_day = max.date_naive().checked_add_days(Days::new(1))?;
    let as_of = next_day.and_hms_opt(0, 0, 0)?.and_utc();
    Some((
        as_of.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        format!("{place}, {}", max.format("%Y-%m-%d %H:%M:%S")),
    ))
}

/// `table.column (values ...)` of columns named like outcomes.
pub fn label_columns(inv: &Inventory) -> Vec<String> {
    inv.tables
        .iter()
        .flat_map(|t| {
            t.columns
                .iter()
                .filter(|c| classify(c) == Role::Label)
                .map(move |c| match &c.values {
                    Some(v) => format!("{}.{} (values {})", t.name, c.name, v.join(", ")),
                    None => format!("{}.{}", t.name, c.name),
                })
        })
        .collect()
}

/// Everything else the user should know: as_of, unused tables and how they
/// could be joined, labels, text dates, files not inspected.
pub fn other_notes(
    inv: &Inventory,
    guess: &KeyGuess,
    as_of: Option<&(String, String)>,
    labels: &[String],
) -> Vec<String> {
    let mut notes = Vec::new();
    match as_of {
        Some((value, why)) => notes.push(format!(
            "as_of guessed: {value}, the day after the latest date found ({why}); set it in the job file"
        )),
        None => notes.push("no date or timestamp column found: set as_of in the job file".into()),
    }
    for (i, table) in inv.tables.iter().enumerate() {
        if guess.column_in(i).is_none() {
            notes.push(unused_table_note(inv, i, guess));
        }
        for column in &table.columns {
            if classify(column) == Role::TextTime {
                notes.push(format!(
                    "{}.{} looks like a date stored as text: not used; CAST it in a view if it holds ISO dates",
                    table.name, column.name
                ));
            }
        }
    }
    if !labels.is_empty() {
        notes.push(format!(
            "possible risk labels (kept out of the features): {}; see the commented [risk] section",
            labels.join(", ")
        ));
    }
    if !inv.not_inspected.is_empty() {
        notes.push(format!(
            "not inspected (not Parquet or Delta): {}; add CSV files as sources by hand (format = \"csv\")",
            inv.not_inspected.join(", ")
        ));
    }
    notes
}

/// A table without the key, and a table that has the key and shares an
/// identifier with it (a join the user can write).
fn unused_table_note(inv: &Inventory, index: usize, guess: &KeyGuess) -> String {
    let table = &inv.tables[index];
    let mut note = format!(
        "{} has no {}: not used by the starter views",
        table.path, guess.key
    );
    let ids: Vec<&str> = table
        .columns
        .iter()
        .filter(|c| classify(c) == Role::Id)
        .map(|c| c.name.as_str())
        .collect();
    // The table's own identifiers in column order (`client_id` before
    // `district_id`), each looked up among the tables that have the key.
    let bridge = ids.iter().find_map(|id| {
        guess
            .tables
            .iter()
            .map(|(j, _)| &inv.tables[*j])
            .find(|other| other.columns.iter().any(|c| c.name == *id))
            .map(|other| (other.name.as_str(), *id))
    });
    if let Some((other, id)) = bridge {
        note.push_str(&format!(
            " (it shares {id} with {other}, which has {}: join through it)",
            guess.key
        ));
    }
    note
}
