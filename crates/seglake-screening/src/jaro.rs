//! Jaro and Jaro-Winkler similarity of two ASCII tokens, exactly as
//! `rapidfuzz.distance.JaroWinkler.normalized_similarity` computes them
//! (prefix weight 0.1, prefix of at most four characters, the bonus only
//! above a Jaro similarity of 0.7), so a Python peer gets the same numbers.

/// Jaro similarity of `a` and `b`, in [0, 1].
pub fn jaro(a: &[u8], b: &[u8]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let window = (a.len().max(b.len()) / 2).saturating_sub(1);
    // Tokens are short; 64 bits of "already matched" covers the common case
    // and a vector the rest.
    let mut b_used = vec![false; b.len()];
    let mut a_matched = Vec::with_capacity(a.len().min(b.len()));
    for (i, &ca) in a.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(b.len());
        for j in lo..hi {
            if !b_used[j] && b[j] == ca {
                b_used[j] = true;
                a_matched.push(ca);
                break;
            }
        }
    }
    let matches = a_matched.len();
    if matches == 0 {
        return 0.0;
    }
    let b_matched = b
        .iter()
        .zip(&b_used)
        .filter(|(_, used)| **used)
        .map(|(c, _)| *c);
    let half_transpositions = a_matched
        .iter()
        .zip(b_matched)
        .filter(|(x, y)| **x != *y)
        .count();
    let m = matches as f64;
    let t = (half_transpositions / 2) as f64;
    (m / a.len() as f64 + m / b.len() as f64 + (m - t) / m) / 3.0
}

/// Jaro-Winkler similarity of `a` and `b`, in [0, 1].
pub fn jaro_winkler(a: &[u8], b: &[u8]) -> f64 {
    let sim = jaro(a, b);
    if sim <= 0.7 {
        return sim;
    }
    let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count();
    sim + prefix as f64 * 0.1 * (1.0 - sim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jw(a: &str, b: &str) -> f64 {
        jaro_winkler(a.as_bytes(), b.as_bytes())
    }

    /// The textbook cases (Winkler 1990; the values every implementation
    /// reproduces).
    #[test]
    fn textbook_values() {
        assert!((jaro(b"martha", b"marhta") - 0.944_444_444_444_444_4).abs() < 1e-12);
        assert!((jw("martha", "marhta") - 0.961_111_111_111_111_1).abs() < 1e-12);
        assert!((jw("dwayne", "duane") - 0.84).abs() < 1e-12);
        assert!((jw("dixon", "dicksonx") - 0.813_333_333_333_333_3).abs() < 1e-12);
        assert_eq!(jw("abc", "abc"), 1.0);
        assert_eq!(jw("abc", "xyz"), 0.0);
        assert_eq!(jw("", ""), 1.0);
        assert_eq!(jw("a", ""), 0.0);
    }

    #[test]
    fn symmetric() {
        for (a, b) in [
            ("viktor", "victor"),
            ("bout", "but"),
            ("kadyrov", "kadirov"),
        ] {
            assert_eq!(jw(a, b), jw(b, a));
        }
    }
}
