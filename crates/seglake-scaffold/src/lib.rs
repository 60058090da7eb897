//! `seglake init`: from a folder of Parquet files to a proposed job.
//!
//! [`inspect`] lists the tables in a folder (a Parquet file, a folder of
//! Parquet files, hive-partitioned folders included, or a Delta table) and
//! reads their schemas, row counts and statistics from the Parquet footers,
//! without scanning the data. [`propose`] guesses the customer key (the
//! identifier the most tables share, and the table where it is unique),
//! recognises times, amounts, flags and short codes, and writes a job file
//! and starter feature views as text: one view per table that has the key,
//! grouped by it, and a feature table that left-joins them onto the key
//! table. [`write`] puts them on disk, refusing to overwrite files unless
//! forced, and writing nothing when it cannot write everything.
//!
//! ```text
//! folder/                      proposal
//!   members.parquet   ──┐        members.toml          [sources.*], [features], [segments]
//!   payments/           ├─►      sql/members/payments_features.sql
//!     part-0.parquet    │        sql/members/customer_features.sql
//!     part-1.parquet  ──┘
//! ```
//!
//! Every guess is stated: in [`Proposal::notes`], and as comments in the job
//! file next to what it decided (`key guessed: account_id (in 5 of 8 tables;
//! unique in account.parquet)`). `seglake validate` then says what to fix.

mod classify;
mod error;
mod guess;
mod inspect;
mod job;
mod names;
mod notes;
mod scan;
mod sql;
mod write;

pub use classify::{Role, classify};
pub use error::{Result, ScaffoldError};
pub use guess::KeyGuess;
pub use inspect::{Column, Inventory, Table, inspect};
pub use scan::TableFormat;
pub use write::write;

use std::path::{Path, PathBuf};

/// How to propose: all optional but where the job will be written.
#[derive(Debug, Clone)]
pub struct ProposeOptions {
    /// The folder the job file will be written to: source paths in the job
    /// are relative to it.
    pub out_dir: PathBuf,
    /// The key column (`--key`), instead of a guess.
    pub key: Option<String>,
    /// The job's name; the inspected folder's name when absent.
    pub name: Option<String>,
    pub seed: u64,
}

impl ProposeOptions {
    pub fn new(out_dir: impl Into<PathBuf>) -> Self {
        ProposeOptions {
            out_dir: out_dir.into(),
            key: None,
            name: None,
            seed: 42,
        }
    }
}

/// A proposed job: its file and its views, as text, and what was guessed.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub job_name: String,
    /// The job file's name, relative to the output folder (`berka.toml`).
    pub job_file: PathBuf,
    pub job_toml: String,
    /// The views' folder, relative to the output folder (`sql/berka`).
    pub sql_dir: PathBuf,
    /// (file name, SQL) in the order the job runs them.
    pub views: Vec<(String, String)>,
    /// What was guessed and what was left out, one sentence each.
    pub notes: Vec<String>,
    pub key: KeyGuess,
    /// The proposed as_of (RFC 3339), when a date or time was found.
    pub as_of: Option<String>,
}

/// Proposes a job for the tables of `inv`. Fails only when there is no
/// key: no identifier column (pass `--key`), or `--key` names no column.
pub fn propose(inv: &Inventory, opts: &ProposeOptions) -> Result<Proposal> {
    let guess = guess::guess_key(inv, opts.key.as_deref())?;
    let folder = folder_name(&inv.root);
    let job_name = names::identifier(opts.name.as_deref().unwrap_or(&folder), "job");
    let sql_dir = PathBuf::from("sql").join(&job_name);
    let mut taken: Vec<String> = inv.tables.iter().map(|t| t.name.clone()).collect();
    taken.push(guess.key.clone());
    let mut views = Vec::new();
    for (index, _) in &guess.tables {
        if Some(*index) != guess.key_table {
            let name = names::claim(format!("{}_features", inv.tables[*index].name), &mut taken);
            views.push(sql::table_view(inv, *index, &guess, &name, &mut taken));
        }
    }
    let output_table = names::claim("customer_features".into(), &mut taken);
    let final_view = sql::feature_view(inv, &guess, &views, &output_table, &mut taken);
    views.push(final_view);

    let as_of = notes::as_of_guess(inv);
    let view_names: Vec<String> = views.iter().map(|v| v.name.clone()).collect();
    let key_comment = notes::key_note(inv, &guess);
    let table_comments: Vec<String> = (0..inv.tables.len())
        .map(|i| notes::table_note(inv, i, &guess))
        .collect();
    let labels = notes::label_columns(inv);
    let data_path = relative_path(&opts.out_dir, &inv.root);
    let job_toml = job::job_toml(&job::JobText {
        name: &job_name,
        seed: opts.seed,
        folder: &folder,
        inv,
        guess: &guess,
        key_comment: &key_comment,
        as_of: as_of.clone(),
        data_path: &data_path,
        sql_dir: &sql_dir.to_string_lossy().replace('\\', "/"),
        views: &view_names,
        output_table: &output_table,
        table_comments: &table_comments,
        labels: &labels,
    });
    let mut all_notes = vec![key_comment];
    all_notes.extend(notes::other_notes(inv, &guess, as_of.as_ref(), &labels));
    Ok(Proposal {
        job_file: PathBuf::from(format!("{job_name}.toml")),
        job_name,
        job_toml,
        sql_dir,
        views: views
            .into_iter()
            .map(|v| (format!("{}.sql", v.name), v.sql))
            .collect(),
        notes: all_notes,
        key: guess,
        as_of: as_of.map(|(value, _)| value),
    })
}

fn folder_name(root: &Path) -> String {
    let absolute = absolute(root);
    absolute
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into())
}

/// `to` as seen from the folder `from`, `/`-separated (`../data`). Both
/// may not exist yet; the parts that do are resolved (symbolic links), so
/// the path is right from where the job file will be.
fn relative_path(from: &Path, to: &Path) -> String {
    let (from, to) = (absolute(from), absolute(to));
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// The absolute form of `path`: its longest existing ancestor canonicalised,
/// the rest appended.
fn absolute(path: &Path) -> PathBuf {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut rest = Vec::new();
    let mut existing = path.as_path();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            return rest.iter().rev().fold(canonical, |p, part| p.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return path,
        }
    }
}

/// `46997` as `46,997`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Proposal {
    /// What `seglake init` prints after writing: the files, every note, and
    /// the commands to run next.
    pub fn summary(&self, written: &[PathBuf]) -> String {
        let mut out = String::from("wrote\n");
        for path in written {
            out.push_str(&format!("  {}\n", path.display()));
        }
        out.push_str("guesses (each is a comment in the job file too)\n");
        for note in &self.notes {
            for (i, line) in job::wrap(note, 78).iter().enumerate() {
                out.push_str(if i == 0 { "  - " } else { "    " });
                out.push_str(line);
                out.push('\n');
            }
        }
        let job = written
            .first()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        out.push_str(&format!(
            "next\n  seglake validate {job}\n  seglake run {job} --var lake=$PWD/lake\n"
        ));
        out
    }
}
