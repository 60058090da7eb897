//! Case outcomes: seglake's four outcome words and the job's `[outcomes]`
//! vocabulary, which maps a bank's own outcome codes onto them.
//!
//! Case-management systems do not agree on codes: one writes `SAR`, another
//! `2`, a loan book `B` for a defaulted loan. The outcome table a job names
//! (`[segments] outcomes`, a source or a view) holds the bank's codes; the
//! vocabulary says which of them count as a SAR filed, a true positive, a
//! false positive or no action. A code the vocabulary does not list is an
//! error naming every code found, never a silently uncounted case. Without
//! an `[outcomes]` section the vocabulary is seglake's own words.
//!
//! ```toml
//! [outcomes]
//! sar_filed = ["SAR", "STR"]
//! true_positive = ["CONFIRMED"]
//! false_positive = ["FP", "CLOSED_NO_ISSUE"]
//! no_action = ["NFA"]
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::Problem;

/// Seglake's outcome words, as the `feedback` table, serve's dispositions
/// and the case state machine write them.
pub const OUTCOMES: [&str; 4] = ["sar_filed", "true_positive", "false_positive", "no_action"];

/// One of seglake's four outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    SarFiled,
    TruePositive,
    FalsePositive,
    NoAction,
}

impl Outcome {
    /// In the order of [`OUTCOMES`].
    pub const ALL: [Outcome; 4] = [
        Outcome::SarFiled,
        Outcome::TruePositive,
        Outcome::FalsePositive,
        Outcome::NoAction,
    ];

    /// Seglake's word for it (an entry of [`OUTCOMES`]).
    pub fn as_str(self) -> &'static str {
        OUTCOMES[self as usize]
    }

    /// Whether the case confirmed suspicion (a SAR filed or a true
    /// positive): the outcomes that close a case as `closed_sar`.
    pub fn confirms(self) -> bool {
        matches!(self, Outcome::SarFiled | Outcome::TruePositive)
    }
}

/// The `[outcomes]` section as written: the bank's codes per outcome.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutcomes {
    #[serde(default)]
    pub sar_filed: Vec<String>,
    #[serde(default)]
    pub true_positive: Vec<String>,
    #[serde(default)]
    pub false_positive: Vec<String>,
    #[serde(default)]
    pub no_action: Vec<String>,
}

impl RawOutcomes {
    fn lists(&self) -> [(Outcome, &Vec<String>); 4] {
        [
            (Outcome::SarFiled, &self.sar_filed),
            (Outcome::TruePositive, &self.true_positive),
            (Outcome::FalsePositive, &self.false_positive),
            (Outcome::NoAction, &self.no_action),
        ]
    }
}

/// Which outcome each code of the job's outcome table stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeVocabulary {
    codes: BTreeMap<String, Outcome>,
}

impl Default for OutcomeVocabulary {
    /// Seglake's own words, each standing for itself.
    fn default() -> Self {
        OutcomeVocabulary {
            codes: Outcome::ALL
                .iter()
                .map(|o| (o.as_str().to_string(), *o))
                .collect(),
        }
    }
}

impl OutcomeVocabulary {
    /// The outcome `code` stands for, `None` when the vocabulary does not
    /// list it.
    pub fn outcome(&self, code: &str) -> Option<Outcome> {
        self.codes.get(code).copied()
    }

    /// Every code, in code order, with its outcome (for lineage and
    /// error messages).
    pub fn codes(&self) -> impl Iterator<Item = (&str, Outcome)> {
        self.codes.iter().map(|(c, o)| (c.as_str(), *o))
    }

    /// The vocabulary as `outcome: code, code; ...`, for error messages.
    pub fn describe(&self) -> String {
        Outcome::ALL
            .iter()
            .map(|o| {
                let codes: Vec<&str> = self
                    .codes()
                    .filter(|(_, of)| of == o)
                    .map(|(c, _)| c)
                    .collect();
                format!("{}: {}", o.as_str(), codes.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Validates the section: every code non-empty and listed under one
/// outcome only, and at least one code in all.
pub(crate) fn validate(raw: &RawOutcomes) -> Result<OutcomeVocabulary, Vec<Problem>> {
    let mut codes = BTreeMap::new();
    let mut problems = Vec::new();
    for (outcome, list) in raw.lists() {
        let key = format!("outcomes.{}", outcome.as_str());
        for code in list {
            if code.is_empty() {
                problems.push(Problem::new(key.clone(), "a code cannot be empty"));
            } else if let Some(first) = codes.insert(code.clone(), outcome) {
                problems.push(Problem::new(
                    key.clone(),
                    format!(
                        "code `{code}` is also listed under outcomes.{}; a code stands for one outcome",
                        first.as_str()
                    ),
                ));
            }
        }
    }
    if codes.is_empty() && problems.is_empty() {
        problems.push(Problem::new(
            "outcomes",
            format!(
                "lists no code; give the bank's codes under {} (or remove the section to use those words)",
                OUTCOMES.join(", ")
            ),
        ));
    }
    if problems.is_empty() {
        Ok(OutcomeVocabulary { codes })
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> RawOutcomes {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn the_default_vocabulary_is_seglakes_own_words() {
        let v = OutcomeVocabulary::default();
        for o in Outcome::ALL {
            assert_eq!(v.outcome(o.as_str()), Some(o));
        }
        assert_eq!(v.outcome("SAR"), None);
    }

    #[test]
    fn a_banks_codes_map_to_outcomes() {
        let v = validate(&raw(
            "sar_filed = [\"B\", \"D\"]\nno_action = [\"A\", \"C\"]",
        ))
        .unwrap();
        assert_eq!(v.outcome("D"), Some(Outcome::SarFiled));
        assert_eq!(v.outcome("C"), Some(Outcome::NoAction));
        assert_eq!(
            v.outcome("sar_filed"),
            None,
            "only the listed codes are known"
        );
        assert_eq!(
            v.describe(),
            "sar_filed: B, D; true_positive: ; false_positive: ; no_action: A, C"
        );
        assert!(Outcome::TruePositive.confirms() && !Outcome::NoAction.confirms());
    }

    #[test]
    fn a_code_under_two_outcomes_an_empty_code_or_no_code_is_refused() {
        let p = validate(&raw("sar_filed = [\"X\"]\nno_action = [\"X\", \"\"]")).unwrap_err();
        let text: Vec<&str> = p.iter().map(|p| p.message.as_str()).collect();
        assert!(
            text[0].contains("`X` is also listed under outcomes.sar_filed"),
            "{text:?}"
        );
        assert!(text[1].contains("cannot be empty"), "{text:?}");
        let p = validate(&raw("")).unwrap_err();
        assert!(p[0].message.contains("lists no code"), "{p:?}");
        assert!(toml::from_str::<RawOutcomes>("sar = [\"X\"]").is_err());
    }
}
