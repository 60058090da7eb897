//! Splitting an integer column's [min, max] into ranges read concurrently.
//!
//! Range `i` holds `lower <= col < upper`; the first has no lower bound and
//! the last no upper bound and also holds the rows where the column is
//! NULL. Read in order, ranges ordered by the column (NULLs last, as
//! PostgreSQL sorts ascending) give the same row sequence as one reader.

/// One range of the partition column; `None` bounds are open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRange {
    /// Inclusive lower bound.
    pub lower: Option<i64>,
    /// Exclusive upper bound.
    pub upper: Option<i64>,
}

impl KeyRange {
    /// The whole column, NULLs included.
    pub const ALL: KeyRange = KeyRange {
        lower: None,
        upper: None,
    };

    /// The WHERE clause for `column` (quoted), with its parameters as
    /// `$1::int8`, `$2::int8`; `None` for the whole column. The last range
    /// takes the NULLs.
    pub(crate) fn predicate(&self, column: &str) -> Option<(String, Vec<i64>)> {
        match (self.lower, self.upper) {
            (None, None) => None,
            (None, Some(upper)) => Some((format!("{column} < $1::int8"), vec![upper])),
            (Some(lower), None) => Some((
                format!("({column} >= $1::int8 OR {column} IS NULL)"),
                vec![lower],
            )),
            (Some(lower), Some(upper)) => Some((
                format!("{column} >= $1::int8 AND {column} < $2::int8"),
                vec![lower, upper],
            )),
        }
    }
}

/// At most `partitions` ranges of nearly equal width over [min, max]; one
/// range when the column has no values or one is asked for. Ranges are
/// never empty of keys: a span of 2 values gives at most 2 ranges.
pub(crate) fn plan(min: Option<i64>, max: Option<i64>, partitions: usize) -> Vec<KeyRange> {
    let (Some(min), Some(max)) = (min, max) else {
        return vec![KeyRange::ALL];
    };
    // i128: max - min + 1 overflows i64 for a column spanning all of it.
    let span = max as i128 - min as i128 + 1;
    let count = (partitions as i128).clamp(1, span.max(1));
    if count == 1 {
        return vec![KeyRange::ALL];
    }
    let bound = |i: i128| (min as i128 + span * i / count) as i64;
    (0..count)
        .map(|i| KeyRange {
            lower: (i > 0).then(|| bound(i)),
            upper: (i < count - 1).then(|| bound(i + 1)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_span_without_overlap() {
        let ranges = plan(Some(1), Some(10), 3);
        let bounds: Vec<_> = ranges.iter().map(|r| (r.lower, r.upper)).collect();
        assert_eq!(
            bounds,
            vec![(None, Some(4)), (Some(4), Some(7)), (Some(7), None)]
        );
    }

    #[test]
    fn few_keys_give_few_ranges() {
        assert_eq!(plan(Some(5), Some(6), 8).len(), 2);
        assert_eq!(plan(Some(5), Some(5), 8), vec![KeyRange::ALL]);
        assert_eq!(plan(None, None, 8), vec![KeyRange::ALL]);
        assert_eq!(plan(Some(1), Some(100), 1), vec![KeyRange::ALL]);
    }

    #[test]
    fn the_whole_i64_span_does_not_overflow() {
        let ranges = plan(Some(i64::MIN), Some(i64::MAX), 4);
        assert_eq!(ranges.len(), 4);
        assert_eq!(ranges[1].lower, Some(i64::MIN / 2));
        assert_eq!(ranges[2].lower, Some(0));
    }

    #[test]
    fn the_last_range_takes_the_nulls() {
        let (sql, params) = KeyRange {
            lower: Some(7),
            upper: None,
        }
        .predicate("\"id\"")
        .unwrap();
        assert_eq!(sql, "(\"id\" >= $1::int8 OR \"id\" IS NULL)");
        assert_eq!(params, vec![7]);
        assert_eq!(KeyRange::ALL.predicate("\"id\""), None);
    }
}
