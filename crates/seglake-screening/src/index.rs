//! The blocking index: each listed name form under the keys of its tokens,
//! so a name is scored only against the forms that share a key with it,
//! not against the whole list.
//!
//! A token's keys are its first three and its last three characters (a
//! token of three characters or fewer is its own key): a typo, a
//! transliteration or a dropped letter rarely changes both ends of every
//! token of a name. Names that share no key are never compared; the
//! benchmark reports how many brute-force matches that loses (none on
//! its data).

use std::collections::HashMap;

use crate::align::{Alignment, align};
use crate::jaro::jaro_winkler;
use crate::list::{EntryType, ListEntry, SanctionsList, matching_forms};
use crate::normalize::NormalizedName;

/// A token's blocking keys: the tag says which kind, the bytes which
/// characters.
pub fn block_keys(token: &str) -> Vec<String> {
    let bytes = token.as_bytes();
    if bytes.len() <= 3 {
        return vec![format!("w:{token}")];
    }
    let head = &token[..3];
    let tail = &token[token.len() - 3..];
    vec![format!("p:{head}"), format!("s:{tail}")]
}

/// One normalised form of one listed name.
#[derive(Debug, Clone)]
pub struct Form {
    /// Index into the index's entries.
    pub entry: u32,
    /// Index into the entry's names.
    pub name: u32,
    /// Interned token ids, in the form's (sorted) order.
    pub tokens: Vec<u32>,
}

/// One listed entry a name matched, with its best-scoring name.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// Index into [`ScreeningIndex::entries`].
    pub entry: usize,
    /// Index into that entry's names.
    pub name: usize,
    pub score: f64,
    /// (query token, listed token, similarity), most similar first.
    pub pairs: Vec<(String, String, f64)>,
}

/// A list ready for screening.
pub struct ScreeningIndex {
    entries: Vec<ListEntry>,
    forms: Vec<Form>,
    vocabulary: Vec<String>,
    blocks: HashMap<String, Vec<u32>>,
}

impl ScreeningIndex {
    /// Indexes the entries of `list` whose type is in `types`.
    pub fn new(list: &SanctionsList, types: &[EntryType]) -> ScreeningIndex {
        let entries: Vec<ListEntry> = list
            .entries
            .iter()
            .filter(|e| types.contains(&e.entry_type))
            .cloned()
            .collect();
        let mut index = ScreeningIndex {
            entries: Vec::new(),
            forms: Vec::new(),
            vocabulary: Vec::new(),
            blocks: HashMap::new(),
        };
        let mut interned: HashMap<String, u32> = HashMap::new();
        for (e, entry) in entries.iter().enumerate() {
            for (n, listed) in entry.names.iter().enumerate() {
                for form in matching_forms(&listed.name, entry.entry_type) {
                    index.add_form(e as u32, n as u32, form, &mut interned);
                }
            }
        }
        for forms in index.blocks.values_mut() {
            forms.dedup();
        }
        index.entries = entries;
        index
    }

    fn add_form(
        &mut self,
        entry: u32,
        name: u32,
        form: NormalizedName,
        interned: &mut HashMap<String, u32>,
    ) {
        let id = self.forms.len() as u32;
        let mut tokens = Vec::with_capacity(form.tokens.len());
        for token in form.tokens {
            for key in block_keys(&token) {
                self.blocks.entry(key).or_default().push(id);
            }
            let next = self.vocabulary.len() as u32;
            let t = *interned.entry(token.clone()).or_insert(next);
            if t == next {
                self.vocabulary.push(token);
            }
            tokens.push(t);
        }
        self.forms.push(Form {
            entry,
            name,
            tokens,
        });
    }

    pub fn entries(&self) -> &[ListEntry] {
        &self.entries
    }

    pub fn forms(&self) -> &[Form] {
        &self.forms
    }

    pub fn token(&self, id: u32) -> &str {
        &self.vocabulary[id as usize]
    }

    /// The forms sharing a blocking key with `query`, each once, in id
    /// order.
    pub fn candidates(&self, query: &NormalizedName) -> Vec<u32> {
        let mut found: Vec<u32> = query
            .tokens
            .iter()
            .flat_map(|t| block_keys(t))
            .filter_map(|k| self.blocks.get(&k))
            .flatten()
            .copied()
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }

    /// The entries `query` matches at `threshold` or above, best first
    /// (ties by entry order); one match per entry, under its best name.
    pub fn screen(&self, query: &NormalizedName, threshold: f64) -> Vec<Match> {
        let query_lens: Vec<usize> = query.tokens.iter().map(String::len).collect();
        // Similarities of each query token with each listed token seen,
        // computed once per query: common tokens recur across forms.
        let mut memo: HashMap<u32, Vec<f64>> = HashMap::new();
        let mut best: HashMap<u32, (Alignment, u32)> = HashMap::new();
        for form_id in self.candidates(query) {
            let form = &self.forms[form_id as usize];
            let listed_lens: Vec<usize> = form
                .tokens
                .iter()
                .map(|t| self.vocabulary[*t as usize].len())
                .collect();
            let alignment = align(&query_lens, &listed_lens, |q, l| {
                let token = form.tokens[l];
                memo.entry(token).or_insert_with(|| {
                    let listed = self.vocabulary[token as usize].as_bytes();
                    query
                        .tokens
                        .iter()
                        .map(|t| jaro_winkler(t.as_bytes(), listed))
                        .collect()
                })[q]
            });
            if alignment.score < threshold {
                continue;
            }
            let keep = match best.get(&form.entry) {
                Some((held, _)) => alignment.score > held.score,
                None => true,
            };
            if keep {
                best.insert(form.entry, (alignment, form_id));
            }
        }
        let mut matches: Vec<Match> = best
            .into_iter()
            .map(|(entry, (alignment, form_id))| self.explain(query, entry, form_id, alignment))
            .collect();
        matches.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.entry.cmp(&b.entry)));
        matches
    }

    fn explain(&self, query: &NormalizedName, entry: u32, form_id: u32, a: Alignment) -> Match {
        let form = &self.forms[form_id as usize];
        Match {
            entry: entry as usize,
            name: form.name as usize,
            score: a.score,
            pairs: a
                .pairs
                .iter()
                .map(|p| {
                    (
                        query.tokens[p.query].clone(),
                        self.token(form.tokens[p.listed]).to_string(),
                        p.similarity,
                    )
                })
                .collect(),
        }
    }
}

/// Screens every name in `queries` on `threads` threads; the result is in
/// the order of `queries` and the same whatever the thread count. Names
/// that normalise alike are scored once.
pub fn screen_all(
    index: &ScreeningIndex,
    queries: &[NormalizedName],
    threshold: f64,
    threads: usize,
) -> Vec<Vec<Match>> {
    let mut first_of: HashMap<&NormalizedName, usize> = HashMap::new();
    let mut distinct: Vec<&NormalizedName> = Vec::new();
    let slots: Vec<usize> = queries
        .iter()
        .map(|q| {
            *first_of.entry(q).or_insert_with(|| {
                distinct.push(q);
                distinct.len() - 1
            })
        })
        .collect();
    let chunk = distinct.len().div_ceil(threads.max(1)).max(1);
    let results: Vec<Vec<Match>> = std::thread::scope(|scope| {
        let handles: Vec<_> = distinct
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|q| index.screen(q, threshold))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("screening threads do not panic"))
            .collect()
    });
    slots.into_iter().map(|s| results[s].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::{ListedName, NameKind};
    use crate::normalize::normalize;

    fn entry(id: i64, entry_type: EntryType, names: &[&str]) -> ListEntry {
        ListEntry {
            id,
            entry_type,
            programmes: vec!["TEST".into()],
            names: names
                .iter()
                .enumerate()
                .map(|(i, n)| ListedName {
                    name: n.to_string(),
                    kind: if i == 0 {
                        NameKind::Primary
                    } else {
                        NameKind::Alias
                    },
                })
                .collect(),
        }
    }

    fn index() -> ScreeningIndex {
        let list = SanctionsList {
            entries: vec![
                entry(
                    8279,
                    EntryType::Individual,
                    &["BOUT, Viktor Anatolijevitch", "BUTT, Victor"],
                ),
                entry(12735, EntryType::Individual, &["AL-ASSAD, Bashar"]),
                entry(4695, EntryType::Entity, &["HAMAS"]),
                entry(9, EntryType::Vessel, &["VIKTOR BOUT"]),
            ],
            empty_names: 0,
        };
        ScreeningIndex::new(&list, &[EntryType::Individual, EntryType::Entity])
    }

    fn hits(index: &ScreeningIndex, name: &str) -> Vec<(i64, usize, f64)> {
        index
            .screen(&normalize(name), 0.9)
            .into_iter()
            .map(|m| (index.entries()[m.entry].id, m.name, m.score))
            .collect()
    }

    #[test]
    fn near_matches_hit_and_look_alikes_do_not() {
        let index = index();
        assert_eq!(hits(&index, "Viktor Bout")[0].0, 8279);
        assert_eq!(hits(&index, "Виктор Бут")[0].0, 8279);
        assert_eq!(hits(&index, "Bout Viktor Anatolievich")[0].0, 8279);
        assert_eq!(hits(&index, "Bashar al Assad")[0].0, 12735);
        assert_eq!(hits(&index, "Bashar Asad")[0].0, 12735);
        assert!(hits(&index, "Marie Bout").is_empty());
        assert!(hits(&index, "Bashir Hassan").is_empty());
        assert!(hits(&index, "").is_empty());
        // Vessels were left out of this index.
        assert_eq!(index.entries().len(), 3);
    }

    #[test]
    fn the_best_name_of_an_entry_is_reported_once() {
        let index = index();
        let found = index.screen(&normalize("Victor Butt"), 0.85);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, 1, "the alias matched exactly");
        assert_eq!(found[0].score, 1.0);
        assert_eq!(found[0].pairs[0].0, found[0].pairs[0].1);
    }

    #[test]
    fn blocking_finds_what_brute_force_finds_here() {
        let index = index();
        for name in [
            "Viktor Bout",
            "Bashar Asad",
            "Hamas",
            "Victor Butt",
            "Wiktor Boutt",
        ] {
            let query = normalize(name);
            let candidates = index.candidates(&query);
            for (f, form) in index.forms().iter().enumerate() {
                let lens: Vec<usize> = form.tokens.iter().map(|t| index.token(*t).len()).collect();
                let qlens: Vec<usize> = query.tokens.iter().map(String::len).collect();
                let a = align(&qlens, &lens, |q, l| {
                    jaro_winkler(
                        query.tokens[q].as_bytes(),
                        index.token(form.tokens[l]).as_bytes(),
                    )
                });
                if a.score >= 0.85 {
                    assert!(candidates.contains(&(f as u32)), "{name} lost form {f}");
                }
            }
        }
    }

    #[test]
    fn thread_count_does_not_change_results() {
        let index = index();
        let names: Vec<NormalizedName> =
            ["Viktor Bout", "Hamas", "Anna", "Viktor Bout", "Bashar Asad"]
                .iter()
                .map(|n| normalize(n))
                .collect();
        let one = screen_all(&index, &names, 0.85, 1);
        let three = screen_all(&index, &names, 0.85, 3);
        assert_eq!(one, three);
        assert_eq!(one[0], one[3]);
        assert!(one[2].is_empty());
    }
}
