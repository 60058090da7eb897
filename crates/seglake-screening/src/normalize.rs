//! Names as the matcher compares them: ASCII, lower case, punctuation gone,
//! legal forms and honorifics dropped, tokens in alphabetical order.
//!
//! Transliteration is `deunicode`'s (Cyrillic, Greek, Arabic, Hebrew, CJK
//! and accented Latin to ASCII; dots and apostrophes are removed, so
//! "S.A." and "O'Brien" are single tokens), so "Виктор Бут", "Viktor But" and
//! "BUT, Viktor" normalise alike. Sorting the tokens makes the order a
//! name is written in ("LAST, First" on lists, "First Last" in a bank)
//! irrelevant.

/// Names longer than this (in characters) are cut here before matching and
/// counted: no real name is longer, and a field holding a whole address or
/// a document must not cost the matcher quadratic time.
pub const MAX_NAME_CHARS: usize = 200;

/// Tokens that say what kind of party a name is, not who: legal forms,
/// honorifics and the Arabic article. Matching on them would make every
/// "... LTD" look alike.
const STOP_WORDS: &[&str] = &[
    // legal forms
    "ab",
    "ag",
    "as",
    "bhd",
    "bv",
    "ca",
    "cia",
    "co",
    "company",
    "corp",
    "corporation",
    "cv",
    "de",
    "gmbh",
    "inc",
    "incorporated",
    "jsc",
    "kg",
    "limited",
    "llc",
    "llp",
    "ltd",
    "nv",
    "oao",
    "ojsc",
    "ooo",
    "oy",
    "pao",
    "pjsc",
    "plc",
    "pte",
    "pty",
    "sa",
    "sarl",
    "sas",
    "sdn",
    "spa",
    "srl",
    "zao",
    // the words of multi-word legal forms ("public joint stock company",
    // "limited liability company", "closed joint stock company")
    "closed",
    "joint",
    "liability",
    "public",
    "stock",
    // honorifics and titles
    "dr",
    "haji",
    "hajji",
    "miss",
    "mr",
    "mrs",
    "ms",
    "prof",
    "sheikh",
    "shaykh",
    "sir",
    // articles and particles that lists write inconsistently
    "al",
    "el",
    "the",
];

/// A normalised name: its tokens, sorted, and whether it was cut to
/// [`MAX_NAME_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NormalizedName {
    pub tokens: Vec<String>,
    pub truncated: bool,
}

impl NormalizedName {
    /// The tokens joined by single spaces: the form `screen_normalize`
    /// returns and the key names are deduplicated on.
    pub fn text(&self) -> String {
        self.tokens.join(" ")
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

/// Normalises one name (see the module documentation).
pub fn normalize(name: &str) -> NormalizedName {
    let (kept, truncated) = match name.char_indices().nth(MAX_NAME_CHARS) {
        Some((cut, _)) => (&name[..cut], true),
        None => (name, false),
    };
    // Dots and apostrophes join what they separate: "S.A." is "sa",
    // "O'Brien" is "obrien".
    let ascii: String = deunicode::deunicode(kept)
        .to_ascii_lowercase()
        .chars()
        .filter(|c| *c != '.' && *c != '\'')
        .collect();
    let mut tokens: Vec<String> = ascii
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty() && !STOP_WORDS.contains(t))
        .map(str::to_string)
        .collect();
    tokens.sort_unstable();
    NormalizedName { tokens, truncated }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(name: &str) -> String {
        normalize(name).text()
    }

    #[test]
    fn scripts_case_order_and_punctuation_normalise_alike() {
        assert_eq!(
            text("BOUT, Viktor Anatolijevitch"),
            "anatolijevitch bout viktor"
        );
        assert_eq!(text("Виктор Бут"), "but viktor");
        assert_eq!(text("José  Ñúñez-García"), "garcia jose nunez");
        assert_eq!(text("Ο Αλέξης"), "alexes o");
    }

    #[test]
    fn legal_forms_honorifics_and_articles_are_dropped() {
        assert_eq!(text("ROSNEFT TRADING S.A."), "rosneft trading");
        assert_eq!(text("Joint Stock Company SOVCOMFLOT"), "sovcomflot");
        assert_eq!(text("PUBLIC JOINT STOCK COMPANY ALROSA"), "alrosa");
        assert_eq!(text("AL-ASSAD, Bashar"), "assad bashar");
        assert_eq!(text("Dr. Mr Smith Ltd."), "smith");
    }

    #[test]
    fn empty_and_enormous_names() {
        assert!(normalize("").is_empty());
        assert!(normalize(" -- ., ").is_empty());
        assert!(normalize("LTD").is_empty());
        let long = "a".repeat(5_000);
        let n = normalize(&long);
        assert!(n.truncated);
        assert_eq!(n.tokens, vec!["a".repeat(MAX_NAME_CHARS)]);
        assert!(!normalize("Anna").truncated);
    }
}
