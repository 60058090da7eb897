//! The name score: tokens of the two names paired one to one, the most
//! similar pair first (Jaro-Winkler), and the pairs' similarities averaged
//! with each pair weighted by the characters it covers on both sides.
//!
//! ```text
//! score = sum over pairs (len(q) + len(l)) * jw(q, l)
//!         / (sum of every query token's length + every listed token's)
//! ```
//!
//! A token left without a partner counts as similarity 0, so "Marie Bout"
//! does not match "BOUT, Viktor" because both contain "bout", and one
//! initial ("Viktor A. Bout") costs little. Two tokens less similar than
//! [`TOKEN_FLOOR`] are not paired at all: Jaro-Winkler gives 0.7 to 0.85
//! to unrelated short words ("priya" / "yuriy", "polar" / "polo"), and
//! counting that as partial agreement lets a long shared word carry a
//! name over the threshold. Ties between equally similar
//! pairs go to the earlier query token, then the earlier listed token, so
//! the pairing (and the score, summed in pairing order) is the same in
//! every implementation that follows this rule.

/// The least Jaro-Winkler similarity at which two tokens are paired.
pub const TOKEN_FLOOR: f64 = 0.85;

/// Two tokens paired by [`align`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenPair {
    pub query: usize,
    pub listed: usize,
    pub similarity: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alignment {
    pub score: f64,
    pub pairs: Vec<TokenPair>,
}

/// Pairs `query_lens.len()` query tokens with `listed_lens.len()` listed
/// tokens; `similarity(q, l)` is the Jaro-Winkler similarity of query
/// token `q` and listed token `l`.
pub fn align(
    query_lens: &[usize],
    listed_lens: &[usize],
    mut similarity: impl FnMut(usize, usize) -> f64,
) -> Alignment {
    let mut candidates = Vec::with_capacity(query_lens.len() * listed_lens.len());
    for q in 0..query_lens.len() {
        for l in 0..listed_lens.len() {
            let s = similarity(q, l);
            if s >= TOKEN_FLOOR {
                candidates.push(TokenPair {
                    query: q,
                    listed: l,
                    similarity: s,
                });
            }
        }
    }
    // Stable sort: equal similarities keep (query, listed) order.
    candidates.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    let mut query_used = vec![false; query_lens.len()];
    let mut listed_used = vec![false; listed_lens.len()];
    let mut pairs = Vec::new();
    let mut covered = 0.0;
    for c in candidates {
        if query_used[c.query] || listed_used[c.listed] {
            continue;
        }
        query_used[c.query] = true;
        listed_used[c.listed] = true;
        covered += (query_lens[c.query] + listed_lens[c.listed]) as f64 * c.similarity;
        pairs.push(c);
    }
    let total = (query_lens.iter().sum::<usize>() + listed_lens.iter().sum::<usize>()) as f64;
    Alignment {
        score: if total > 0.0 { covered / total } else { 0.0 },
        pairs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jaro::jaro_winkler;

    fn score(query: &[&str], listed: &[&str]) -> f64 {
        let lens = |t: &[&str]| t.iter().map(|s| s.len()).collect::<Vec<_>>();
        align(&lens(query), &lens(listed), |q, l| {
            jaro_winkler(query[q].as_bytes(), listed[l].as_bytes())
        })
        .score
    }

    #[test]
    fn hand_computed_scores() {
        // Identical names: 1.
        assert_eq!(score(&["bout", "viktor"], &["bout", "viktor"]), 1.0);
        // "but" ~ "bout": jaro = (3/3 + 3/4 + 1)/3 = 0.91667, prefix "b" ->
        // jw = 0.91667 + 0.1 * 0.08333 = 0.925; viktor = viktor.
        // score = (12 * 1 + 7 * 0.925) / 19.
        let expected = (12.0 + 7.0 * 0.925) / 19.0;
        assert!((score(&["but", "viktor"], &["bout", "viktor"]) - expected).abs() < 1e-12);
        // A shared surname alone is not a match: marie / viktor are not
        // paired (below the floor), so only "bout" counts.
        assert!((score(&["bout", "marie"], &["bout", "viktor"]) - 8.0 / 19.0).abs() < 1e-12);
        // An unpaired token counts zero: 8 of 9 characters covered.
        assert!((score(&["a", "bout"], &["bout"]) - 8.0 / 9.0).abs() < 1e-12);
        assert_eq!(score(&[], &[]), 0.0);
    }

    #[test]
    fn each_token_is_used_once() {
        let a = align(&[4, 4], &[4], |_, _| 1.0);
        assert!(align(&[5], &[5], |_, _| 0.84).pairs.is_empty());
        assert_eq!(a.pairs.len(), 1);
        assert_eq!(a.pairs[0].query, 0);
        assert!((a.score - 8.0 / 12.0).abs() < 1e-12);
    }
}
