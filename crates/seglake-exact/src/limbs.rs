//! [`LimbSum`]: a fixed-point accumulator that grows to hold any sum of
//! doubles (or of their exact squares) without rounding: what an
//! [`crate::LimbSum`] spills to when a value falls outside its fixed
//! window, and the reference it is tested against.
//!
//! Every finite double is an integer times a power of two (`m × 2^e`,
//! `m < 2^53`). The accumulator keeps the running total as 32-bit digits
//! ("limbs") in `i64`s, over a window of positions that grows to cover
//! whatever has been added. Adding a value adds its digits into the limbs
//! it covers; carries are propagated only every so often, since an `i64`
//! limb has room for 2^28 additions of 33-bit digits. Integer addition is
//! associative, so the total does not depend on the order of the values or
//! on how they were split between partial sums that are then merged.

use num_bigint::BigInt;
use smallvec::SmallVec;

const LIMB_BITS: i32 = 32;
const DIGIT_MASK: u128 = (1 << LIMB_BITS) - 1;
/// Additions between carry passes: each adds less than 2^33 to a limb, so
/// after this many a limb is still below 2^62 in magnitude.
const ADDS_BETWEEN_CARRIES: u32 = 1 << 28;
const INLINE_LIMBS: usize = 6;

/// Counts of the values that are not numbers an integer can hold. Counts,
/// not flags, so a sliding window can take a value back out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NonFinite {
    pub nan: u64,
    pub positive_infinity: u64,
    pub negative_infinity: u64,
}

impl NonFinite {
    /// What IEEE arithmetic makes of the total: NaN if any value was NaN
    /// or both infinities were added, else the infinity that was added.
    pub(crate) fn total(&self) -> Option<f64> {
        if self.nan > 0 || (self.positive_infinity > 0 && self.negative_infinity > 0) {
            Some(f64::NAN)
        } else if self.positive_infinity > 0 {
            Some(f64::INFINITY)
        } else if self.negative_infinity > 0 {
            Some(f64::NEG_INFINITY)
        } else {
            None
        }
    }

    fn is_empty(&self) -> bool {
        self == &NonFinite::default()
    }
}

/// A growing exact sum of doubles. See the module documentation.
#[derive(Debug, Clone, Default)]
pub(crate) struct LimbSum {
    /// Limb `i` has weight `2^(32 × (base + i))`. Six inline: enough for
    /// the sums of money amounts (four limbs) and of their squares (five or
    /// six), so a group's state needs no allocation and no pointer chase.
    limbs: SmallVec<[i64; INLINE_LIMBS]>,
    base: i32,
    /// Additions since the last carry pass.
    pending: u32,
    /// Boxed: most sums never see one.
    non_finite: Option<Box<NonFinite>>,
}

/// A double as sign, integer significand and binary exponent, or `None`
/// for NaN and the infinities.
#[inline]
pub(crate) fn decompose(x: f64) -> Option<(bool, u64, i32)> {
    let bits = x.to_bits();
    let negative = bits >> 63 == 1;
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    match biased {
        0x7ff => None,
        0 => Some((negative, fraction, -1074)),
        _ => Some((negative, fraction | (1 << 52), biased - 1075)),
    }
}

impl LimbSum {
    /// Adds `x`. NaN and infinities are counted apart.
    #[cfg(test)]
    pub(crate) fn add(&mut self, x: f64) {
        match decompose(x) {
            Some((negative, significand, exponent)) => {
                self.add_double(negative, significand, exponent)
            }
            None => self.count_non_finite(x, 1),
        }
    }

    /// [`LimbSum::add_scaled`] for a double's significand (`< 2^53`): it
    /// spans three limbs at most, always added as three (the hot path of
    /// every `SUM` and `AVG`).
    #[inline]
    pub(crate) fn add_double(&mut self, negative: bool, significand: u64, exponent: i32) {
        if significand == 0 {
            return;
        }
        let first_limb = exponent.div_euclid(LIMB_BITS);
        let shift = exponent.rem_euclid(LIMB_BITS) as u32;
        let wide = u128::from(significand) << shift;
        let digits = [
            (wide & DIGIT_MASK) as i64,
            ((wide >> 32) & DIGIT_MASK) as i64,
            (wide >> 64) as i64,
        ];
        self.cover(first_limb, first_limb + 2);
        let offset = (first_limb - self.base) as usize;
        let limbs = &mut self.limbs[offset..offset + 3];
        if negative {
            limbs.iter_mut().zip(digits).for_each(|(l, d)| *l -= d);
        } else {
            limbs.iter_mut().zip(digits).for_each(|(l, d)| *l += d);
        }
        self.count_addition(1);
    }

    /// Adds `x²`, exactly (a 106-bit product; no overflow or underflow).
    #[cfg(test)]
    pub(crate) fn add_square(&mut self, x: f64) {
        match decompose(x) {
            Some((_, significand, exponent)) => {
                let significand = u128::from(significand);
                self.add_scaled(false, significand * significand, 2 * exponent)
            }
            None => self.count_non_finite(x.abs(), 1),
        }
    }

    pub(crate) fn count_non_finite(&mut self, x: f64, by: i64) {
        let counts = self.non_finite.get_or_insert_with(Box::default);
        let count = if x.is_nan() {
            &mut counts.nan
        } else if x > 0.0 {
            &mut counts.positive_infinity
        } else {
            &mut counts.negative_infinity
        };
        *count = count.wrapping_add_signed(by);
        if counts.is_empty() {
            self.non_finite = None;
        }
    }

    /// Adds `±significand × 2^exponent` (`significand < 2^106`, a square
    /// of a double's significand): five limbs at most, always added as five.
    #[inline]
    pub(crate) fn add_scaled(&mut self, negative: bool, significand: u128, exponent: i32) {
        if significand == 0 {
            return;
        }
        let first_limb = exponent.div_euclid(LIMB_BITS);
        let shift = exponent.rem_euclid(LIMB_BITS) as u32;
        // The shifted significand has up to 106 + 31 bits: in two halves.
        let low = (significand & u128::from(u64::MAX)) << shift;
        let high = (significand >> 64) << shift;
        let digits = [
            (low & DIGIT_MASK) as i64,
            ((low >> 32) & DIGIT_MASK) as i64,
            ((low >> 64) + (high & DIGIT_MASK)) as i64,
            ((high >> 32) & DIGIT_MASK) as i64,
            (high >> 64) as i64,
        ];
        self.cover(first_limb, first_limb + 4);
        let offset = (first_limb - self.base) as usize;
        let limbs = &mut self.limbs[offset..offset + 5];
        if negative {
            limbs.iter_mut().zip(digits).for_each(|(l, d)| *l -= d);
        } else {
            limbs.iter_mut().zip(digits).for_each(|(l, d)| *l += d);
        }
        self.count_addition(1);
    }

    #[inline]
    fn count_addition(&mut self, additions: u32) {
        self.pending += additions;
        if self.pending >= ADDS_BETWEEN_CARRIES {
            self.carry();
        }
    }

    /// Grows the window to cover limbs `from..=to` (absolute positions).
    #[inline]
    fn cover(&mut self, from: i32, to: i32) {
        if self.limbs.is_empty() {
            self.base = from;
            self.limbs.resize((to - from + 1) as usize, 0);
            return;
        }
        if from < self.base {
            let grow = (self.base - from) as usize;
            self.limbs.insert_many(0, std::iter::repeat_n(0, grow));
            self.base = from;
        }
        let end = self.base + self.limbs.len() as i32;
        if to >= end {
            self.limbs.resize((to - self.base + 1) as usize, 0);
        }
    }

    /// Propagates carries so every limb but the top one is a digit in
    /// `0..2^32` and the top one is in `-2^31..2^31`; drops limbs that
    /// hold nothing.
    fn carry(&mut self) {
        self.pending = 0;
        let mut i = 0;
        while i < self.limbs.len() {
            let is_top = i + 1 == self.limbs.len();
            let limb = self.limbs[i];
            if is_top && (-(1i64 << 31)..(1i64 << 31)).contains(&limb) {
                break;
            }
            let carry = limb >> LIMB_BITS;
            self.limbs[i] = limb - (carry << LIMB_BITS);
            if is_top {
                self.limbs.push(0);
            }
            self.limbs[i + 1] += carry;
            i += 1;
        }
        self.trim();
    }

    fn trim(&mut self) {
        while self.limbs.len() > 1 {
            let top = self.limbs[self.limbs.len() - 1];
            let below = self.limbs[self.limbs.len() - 2];
            let fits_below = (top == 0 && below < 1 << 31) || (top == -1 && below >= 1 << 31);
            if !fits_below {
                break;
            }
            self.limbs.pop();
            let last = self.limbs.len() - 1;
            self.limbs[last] = below + (top << LIMB_BITS);
        }
        let zeros = self.limbs.iter().take_while(|&&l| l == 0).count();
        if zeros == self.limbs.len() {
            self.limbs.clear();
        } else if zeros > 0 {
            self.limbs.drain(..zeros);
            self.base += zeros as i32;
        }
    }

    /// Adds another sum into this one, exactly.
    pub(crate) fn merge(&mut self, other: &LimbSum) {
        if let Some(theirs) = &other.non_finite {
            let ours = self.non_finite.get_or_insert_with(Box::default);
            ours.nan += theirs.nan;
            ours.positive_infinity += theirs.positive_infinity;
            ours.negative_infinity += theirs.negative_infinity;
        }
        if other.pending > 0 {
            // Its limbs may be far from digits: carry a copy first.
            let mut carried = other.clone();
            carried.carry();
            return self.merge_carried(&carried);
        }
        self.merge_carried(other);
    }

    /// Adds a sum whose limbs are carried (digits, as
    /// [`LimbSum::from_bytes`] gives).
    fn merge_carried(&mut self, other: &LimbSum) {
        self.add_digits(other.base, &other.limbs);
    }

    /// Adds 32-bit limbs whose lowest is at limb position `base`, each
    /// below 2^32 in magnitude (a carried sum's, or a window's).
    pub(crate) fn add_digits(&mut self, base: i32, digits: &[i64]) {
        if digits.is_empty() {
            return;
        }
        self.cover(base, base + digits.len() as i32 - 1);
        let offset = (base - self.base) as usize;
        for (limb, digit) in self.limbs[offset..].iter_mut().zip(digits) {
            *limb += digit;
        }
        self.count_addition(1);
    }

    /// The position of the lowest limb and the limbs, if they are carried
    /// (digits below 2^32 in magnitude, as [`LimbSum::from_bytes`] gives).
    pub(crate) fn carried_limbs(&self) -> Option<(i32, &[i64])> {
        (self.pending == 0).then_some((self.base, &self.limbs[..]))
    }

    /// The NaN and infinity counts, if any were added.
    pub(crate) fn non_finite(&self) -> Option<&NonFinite> {
        self.non_finite.as_deref()
    }

    /// The exact finite total as `value × 2^exponent`.
    pub(crate) fn to_big(&self) -> (BigInt, i64) {
        let mut value = BigInt::default();
        for &limb in self.limbs.iter().rev() {
            value = (value << LIMB_BITS as u32) + limb;
        }
        (value, i64::from(self.base) * i64::from(LIMB_BITS))
    }

    /// Heap bytes held beyond `size_of::<LimbSum>()` (for memory
    /// accounting).
    pub(crate) fn heap_bytes(&self) -> usize {
        let limbs = if self.limbs.spilled() {
            self.limbs.capacity() * 8
        } else {
            0
        };
        limbs
            + self
                .non_finite
                .as_ref()
                .map_or(0, |_| size_of::<NonFinite>())
    }

    /// The sum as bytes, for the partial states a query moves between
    /// partitions and processes: the non-finite counts, the window's
    /// position and its limbs after carrying.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut carried = self.clone();
        carried.carry();
        let counts = carried.non_finite.as_deref().cloned().unwrap_or_default();
        let mut bytes = Vec::with_capacity(28 + 8 * carried.limbs.len());
        for count in [
            counts.nan,
            counts.positive_infinity,
            counts.negative_infinity,
        ] {
            bytes.extend_from_slice(&count.to_le_bytes());
        }
        bytes.extend_from_slice(&carried.base.to_le_bytes());
        for limb in &carried.limbs {
            bytes.extend_from_slice(&limb.to_le_bytes());
        }
        bytes
    }

    /// Reads what [`LimbSum::to_bytes`] wrote; `None` if the bytes are not
    /// such a sum.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<LimbSum> {
        if bytes.len() < 28 || (bytes.len() - 28) % 8 != 0 {
            return None;
        }
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8"));
        let counts = NonFinite {
            nan: u64_at(0),
            positive_infinity: u64_at(8),
            negative_infinity: u64_at(16),
        };
        let base = i32::from_le_bytes(bytes[24..28].try_into().expect("4"));
        let limbs = bytes[28..]
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8")))
            .collect();
        Some(LimbSum {
            limbs,
            base,
            pending: 0,
            non_finite: (!counts.is_empty()).then(|| Box::new(counts)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_additions_carry_without_overflow() {
        let mut s = LimbSum::default();
        s.pending = ADDS_BETWEEN_CARRIES - 10;
        for _ in 0..100 {
            s.add(f64::from_bits(0x000f_ffff_ffff_ffff)); // every digit set
        }
        let mut expected = LimbSum::default();
        for _ in 0..100 {
            expected.add(f64::from_bits(0x000f_ffff_ffff_ffff));
        }
        assert_eq!(s.to_big(), expected.to_big());
    }
}
