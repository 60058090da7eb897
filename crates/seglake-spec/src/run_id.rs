use std::fmt;

use chrono::{DateTime, Utc};

/// Identifies one run of one job. It is written into every table's commit
/// metadata and the `runs` table, so it must be unique across machines and
/// sort by start time: `run-<UTC start>-<8 random hex digits>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(String);

impl RunId {
    pub fn new(started_at: DateTime<Utc>) -> Self {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).expect("the OS random source is available");
        RunId(format!(
            "run-{}-{}",
            started_at.format("%Y%m%dT%H%M%SZ"),
            hex::encode(bytes)
        ))
    }

    /// Accepts a caller-chosen id (for example from a scheduler), as long as
    /// it is safe in file names and SQL literals.
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok = !text.is_empty()
            && text.len() <= 128
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if ok {
            Ok(RunId(text.to_string()))
        } else {
            Err(format!(
                "run id `{text}` must be 1-128 characters of letters, digits, '-', '_' or '.'"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_unique_and_parse_back() {
        let t = Utc::now();
        let a = RunId::new(t);
        let b = RunId::new(t);
        assert_ne!(a, b);
        assert_eq!(RunId::parse(a.as_str()).unwrap(), a);
    }

    #[test]
    fn run_id_rejects_quotes_and_slashes() {
        assert!(RunId::parse("a'b").is_err());
        assert!(RunId::parse("a/b").is_err());
        assert!(RunId::parse("").is_err());
    }
}
