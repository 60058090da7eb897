//! A sanctions list as the matcher holds it: entries, each with the names
//! it is listed under, and a checksum of its content that says which
//! version of the list a run screened against.

use sha2::{Digest, Sha256};

use crate::normalize::{NormalizedName, normalize};

/// What a list entry is. Screening usually covers individuals and
/// entities; vessels and aircraft are listed by registration, not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntryType {
    Individual,
    Entity,
    Vessel,
    Aircraft,
}

impl EntryType {
    pub const ALL: [EntryType; 4] = [
        EntryType::Individual,
        EntryType::Entity,
        EntryType::Vessel,
        EntryType::Aircraft,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryType::Individual => "individual",
            EntryType::Entity => "entity",
            EntryType::Vessel => "vessel",
            EntryType::Aircraft => "aircraft",
        }
    }

    pub fn parse(text: &str) -> Option<EntryType> {
        EntryType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// How a name stands on the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// The entry's name.
    Primary,
    /// A name the entry is also or formerly known as.
    Alias,
}

/// One name of an entry, as the list writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedName {
    pub name: String,
    pub kind: NameKind,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListEntry {
    /// The list's own id (OFAC's `ent_num`).
    pub id: i64,
    pub entry_type: EntryType,
    /// Sanctions programmes, as the list names them.
    pub programmes: Vec<String>,
    /// The primary name first, then aliases.
    pub names: Vec<ListedName>,
}

/// A whole list, entries in the order read.
#[derive(Debug, Clone)]
pub struct SanctionsList {
    pub entries: Vec<ListEntry>,
    /// Names that normalised to nothing (skipped, counted).
    pub empty_names: u64,
}

impl SanctionsList {
    /// SHA-256 over every entry's id, type, programmes and names in id
    /// order: the same list content gives the same checksum whatever file
    /// layout or row order carried it.
    pub fn content_sha256(&self) -> String {
        let mut order: Vec<&ListEntry> = self.entries.iter().collect();
        order.sort_by_key(|e| e.id);
        let mut hash = Sha256::new();
        for entry in order {
            hash.update(entry.id.to_le_bytes());
            hash.update(entry.entry_type.as_str().as_bytes());
            for programme in &entry.programmes {
                hash.update([0x1f]);
                hash.update(programme.as_bytes());
            }
            for name in &entry.names {
                hash.update([0x1e, name.kind as u8]);
                hash.update(name.name.as_bytes());
            }
            hash.update([0x1d]);
        }
        hex::encode(hash.finalize())
    }

    pub fn name_count(&self) -> usize {
        self.entries.iter().map(|e| e.names.len()).sum()
    }
}

/// The forms a listed name is matched under. Lists write individuals as
/// "SURNAME, Given Middle Patronymic"; banks often hold only the given name
/// and surname, so an individual's name is also matched without the names
/// after its first given name, and, for a surname of several words
/// (Spanish and Portuguese double surnames: "GUZMAN LOERA, Joaquin"), with
/// its first word only ("Joaquin Guzman").
pub fn matching_forms(name: &str, entry_type: EntryType) -> Vec<NormalizedName> {
    let mut forms = vec![normalize(name)];
    if entry_type == EntryType::Individual
        && let Some((surname, given)) = name.split_once(',')
    {
        let first_given = given.split_whitespace().next().unwrap_or("");
        let first_surname = surname.split_whitespace().next().unwrap_or("");
        for short in [
            format!("{surname} {first_given}"),
            format!("{first_surname} {first_given}"),
        ] {
            let short = normalize(&short);
            if !forms.contains(&short) {
                forms.push(short);
            }
        }
    }
    forms.retain(|f| !f.is_empty());
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn individuals_are_also_matched_by_surname_and_first_given_name() {
        let forms = matching_forms("BOUT, Viktor Anatolijevitch", EntryType::Individual);
        let texts: Vec<String> = forms.iter().map(|f| f.text()).collect();
        assert_eq!(texts, ["anatolijevitch bout viktor", "bout viktor"]);
        let double = matching_forms("GUZMAN LOERA, Joaquin", EntryType::Individual);
        let texts: Vec<String> = double.iter().map(|f| f.text()).collect();
        assert_eq!(texts, ["guzman joaquin loera", "guzman joaquin"]);
        let entity = matching_forms("MAHAN AIR, LTD", EntryType::Entity);
        assert_eq!(entity.len(), 1);
        assert!(matching_forms("LTD.", EntryType::Entity).is_empty());
    }

    #[test]
    fn checksum_ignores_row_order_and_sees_content() {
        let entry = |id, name: &str| ListEntry {
            id,
            entry_type: EntryType::Entity,
            programmes: vec!["SDGT".into()],
            names: vec![ListedName {
                name: name.into(),
                kind: NameKind::Primary,
            }],
        };
        let list = |entries| SanctionsList {
            entries,
            empty_names: 0,
        };
        let a = list(vec![entry(1, "A"), entry(2, "B")]).content_sha256();
        let b = list(vec![entry(2, "B"), entry(1, "A")]).content_sha256();
        let c = list(vec![entry(1, "A"), entry(2, "C")]).content_sha256();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
