//! The `[screening]` section: which list the run screens names against, at
//! what score, and which names.
//!
//! ```toml
//! [screening]
//! list = "sdn"              # a source holding the list
//! format = "ofac_sdn"       # or "internal" (a bank's own list)
//! threshold = 0.9           # a name matches an entry at this score or above
//! entry_types = ["individual", "entity"]
//!
//! [[screening.parties]]
//! party = "customer"        # how hits of these names are labelled
//! table = "customers"       # a source
//! key = "customer_id"       # the id a name belongs to
//! name = "full_name"        # the name screened
//! ```

use seglake_screening::{EntryType, ListFormat};

use crate::Problem;
use crate::raw::RawScreening;

/// One row per screened name and list entry it may be: registered for the
/// views and published with the run.
pub const SCREENING_HITS_TABLE: &str = "screening_hits";

/// The score at or above which a name matches when the job sets none:
/// chosen on the demo bank's planted near-matches and look-alikes (README,
/// "Sanctions screening").
pub const DEFAULT_THRESHOLD: f64 = 0.9;

/// Entry types screened when the job names none: vessels and aircraft are
/// listed by name and registration, which people and companies do not
/// share.
pub const DEFAULT_ENTRY_TYPES: [EntryType; 2] = [EntryType::Individual, EntryType::Entity];

#[derive(Debug, Clone, PartialEq)]
pub struct ScreeningSpec {
    /// The source holding the list.
    pub list: String,
    pub format: ListFormat,
    pub threshold: f64,
    pub entry_types: Vec<EntryType>,
    pub parties: Vec<PartySpec>,
}

/// One kind of name screened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartySpec {
    /// The label hits carry (`customer`, `counterparty`).
    pub party: String,
    /// The source the names are read from.
    pub table: String,
    pub key: String,
    pub name: String,
}

pub(crate) fn validate(
    raw: &RawScreening,
    sources: &[&str],
    tables: &[&str],
) -> Result<ScreeningSpec, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut problem = |key: &str, message: String| problems.push(Problem::new(key, message));
    if !sources.contains(&raw.list.as_str()) {
        problem(
            "screening.list",
            format!(
                "`{}` is not a source; sources: {}",
                raw.list,
                sources.join(", ")
            ),
        );
    }
    if tables.contains(&SCREENING_HITS_TABLE) {
        problem(
            "screening",
            format!(
                "a source or view is named `{SCREENING_HITS_TABLE}`, the table screening registers"
            ),
        );
    }
    let format = ListFormat::parse(&raw.format)
        .map_err(|e| problem("screening.format", e.to_string()))
        .ok();
    let threshold = raw.threshold.unwrap_or(DEFAULT_THRESHOLD);
    if !(threshold > 0.0 && threshold <= 1.0) {
        problem(
            "screening.threshold",
            format!("{threshold} is outside (0, 1]: a score is a similarity between 0 and 1"),
        );
    }
    let entry_types = match &raw.entry_types {
        None => DEFAULT_ENTRY_TYPES.to_vec(),
        Some(types) => types
            .iter()
            .filter_map(|t| {
                let parsed = EntryType::parse(t);
                if parsed.is_none() {
                    problem(
                        "screening.entry_types",
                        format!("`{t}` is not an entry type; types: individual, entity, vessel, aircraft"),
                    );
                }
                parsed
            })
            .collect(),
    };
    if raw.parties.is_empty() {
        problem(
            "screening.parties",
            "name at least one party: [[screening.parties]] with party, table, key and name".into(),
        );
    }
    let mut parties: Vec<PartySpec> = Vec::new();
    for (i, p) in raw.parties.iter().enumerate() {
        let key = format!("screening.parties[{i}]");
        if p.party.is_empty() || parties.iter().any(|q| q.party == p.party) {
            problem(
                &format!("{key}.party"),
                format!(
                    "`{}` is empty or used twice; each party needs its own label",
                    p.party
                ),
            );
        }
        if !sources.contains(&p.table.as_str()) {
            problem(
                &format!("{key}.table"),
                format!(
                    "`{}` is not a source (names are screened before the views run); sources: {}",
                    p.table,
                    sources.join(", ")
                ),
            );
        }
        parties.push(PartySpec {
            party: p.party.clone(),
            table: p.table.clone(),
            key: p.key.clone(),
            name: p.name.clone(),
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(ScreeningSpec {
        list: raw.list.clone(),
        format: format.expect("no problems"),
        threshold,
        entry_types,
        parties,
    })
}
