//! The limit and its margin.

pub(crate) const MIB: usize = 1024 * 1024;

/// A memory limit and the margin the process may go past it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// `--memory-limit`: what the query engine may hold before it spills.
    pub limit: usize,
    /// How far past the limit the process may go before it is stopped:
    /// a quarter of the limit, at least [`Budget::MIN_MARGIN`].
    pub margin: usize,
}

impl Budget {
    /// The smallest margin: room for the code, the threads' stacks and the
    /// async runtime, which do not shrink with the limit.
    pub const MIN_MARGIN: usize = 256 * MIB;

    /// The budget for `--memory-limit LIMIT`.
    pub fn for_limit(limit: usize) -> Budget {
        Budget {
            limit,
            margin: (limit / 4).max(Self::MIN_MARGIN),
        }
    }

    /// Past this (heap or resident set) the running stage is cancelled and
    /// the run fails with a named error.
    pub fn stop_at(&self) -> usize {
        self.limit.saturating_add(self.margin / 2)
    }

    /// The most the process may hold: past it the allocator ends the
    /// process itself (exit 2, with the same message), which happens only
    /// when an allocation burst outruns the stop.
    pub fn ceiling(&self) -> usize {
        self.limit.saturating_add(self.margin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_is_a_quarter_of_the_limit_and_at_least_256_mib() {
        let small = Budget::for_limit(512 * MIB);
        assert_eq!(small.margin, 256 * MIB);
        assert_eq!(small.stop_at(), 640 * MIB);
        assert_eq!(small.ceiling(), 768 * MIB);
        let large = Budget::for_limit(8192 * MIB);
        assert_eq!(large.margin, 2048 * MIB);
        assert_eq!(large.ceiling(), 10240 * MIB);
    }
}
