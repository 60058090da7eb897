//! The variance and standard deviation of sums that stayed in their fixed
//! windows, rounded in fixed-width integers: the fast path of
//! [`crate::Moments::variance`] and [`crate::Moments::standard_deviation`].
//!
//! With `Σx = ±A·2^e` and `Σx² = B·2^e` (`A`, `B` the windows' 192-bit
//! magnitudes, `e` their common exponent), the sum of squared deviations
//! times `n` is `n·Σx² − (Σx)² = (n·B·2^-e − A²)·2^2e`, an integer of at
//! most 384 bits here, computed exactly in six words. The variance is that
//! over `n(n−1)` or `n²`; with fewer than 2^32 values the divisor fits 64
//! bits, so one long division of (at most) three words gives a quotient of
//! 127 or 128 bits and a remainder; the standard deviation is the integer
//! square root of such a quotient (scaled by an even power of two). A
//! truncated quotient or root then carries a "sticky" lowest bit, far below
//! the double's last one, and rounds as the exact value does (the method of
//! `round_small_ratio`). Anything else (spilled sums, more values) takes the
//! big-integer path, which the tests compare this one with.

use crate::round::round_small;

/// A 384-bit unsigned integer, least significant word first.
type Wide = [u64; 6];

/// `n·B·2^shift − A²`, exactly (`None` when it would not fit, or the
/// subtraction would go below zero: never for real sums, by
/// Cauchy-Schwarz).
pub(crate) fn squared_deviations(n: u64, a: [u64; 3], b: [u64; 3], shift: u32) -> Option<Wide> {
    if shift % 64 != 0 || shift > 128 {
        return None;
    }
    let mut scaled = [0u64; 6];
    let offset = (shift / 64) as usize;
    let mut carry = 0u128;
    for (i, &word) in b.iter().enumerate() {
        let product = u128::from(word) * u128::from(n) + carry;
        scaled[i + offset] = product as u64;
        carry = product >> 64;
    }
    if offset + 3 >= 6 && carry != 0 {
        return None;
    }
    if offset + 3 < 6 {
        scaled[offset + 3] = carry as u64;
    }
    subtract(scaled, square(a))
}

/// `a²`, schoolbook.
fn square(a: [u64; 3]) -> Wide {
    let mut result = [0u64; 6];
    for i in 0..3 {
        let mut carry = 0u128;
        for j in 0..3 {
            let sum = u128::from(a[i]) * u128::from(a[j]) + u128::from(result[i + j]) + carry;
            result[i + j] = sum as u64;
            carry = sum >> 64;
        }
        result[i + 3] = carry as u64;
    }
    result
}

fn subtract(x: Wide, y: Wide) -> Option<Wide> {
    let mut result = [0u64; 6];
    let mut borrow = false;
    for i in 0..6 {
        let (difference, b1) = x[i].overflowing_sub(y[i]);
        let (difference, b2) = difference.overflowing_sub(u64::from(borrow));
        result[i] = difference;
        borrow = b1 || b2;
    }
    (!borrow).then_some(result)
}

fn bit_length(x: &Wide) -> u32 {
    (0..6)
        .rev()
        .find(|&i| x[i] != 0)
        .map_or(0, |i| 64 * i as u32 + 64 - x[i].leading_zeros())
}

/// Bits `k..k + 64` of `x` (zeros outside it), for any `k`.
fn word_at(x: &Wide, k: i64) -> u64 {
    let word = |i: i64| {
        if (0..6).contains(&i) {
            x[i as usize]
        } else {
            0
        }
    };
    let (index, offset) = (k.div_euclid(64), k.rem_euclid(64) as u32);
    if offset == 0 {
        return word(index);
    }
    (word(index) >> offset) | (word(index + 1) << (64 - offset))
}

/// `x·2^shift` in three words (the caller arranges that it fits), and
/// whether a shift to the right dropped non-zero bits.
fn shifted(x: &Wide, shift: i32) -> ([u64; 3], bool) {
    let shift = i64::from(shift);
    let result = [0, 1, 2].map(|i| word_at(x, 64 * i - shift));
    let dropped = shift < 0 && {
        let below = -shift;
        let whole = (below / 64) as usize;
        let partial = x.get(whole).map_or(0, |w| w & ((1u64 << (below % 64)) - 1));
        x[..whole.min(6)].iter().any(|&w| w != 0) || partial != 0
    };
    (result, dropped)
}

/// `floor(x / d)` (which the caller arranges to fit 128 bits) and whether
/// the division left a remainder.
fn divide(x: [u64; 3], d: u64) -> (u128, bool) {
    let d = u128::from(d);
    let mut remainder = 0u128;
    let mut quotient = [0u64; 3];
    for i in (0..3).rev() {
        let current = (remainder << 64) | u128::from(x[i]);
        quotient[i] = (current / d) as u64;
        remainder = current % d;
    }
    debug_assert_eq!(quotient[2], 0, "the quotient fits 128 bits");
    (
        u128::from(quotient[0]) | (u128::from(quotient[1]) << 64),
        remainder != 0,
    )
}

/// `floor(sqrt(q))`. The double's square root is within about 2^-52 of
/// the root, so up to some thousand units off for a 64-bit root; one
/// integer Newton step brings that under one, and the loops end it.
fn integer_sqrt(q: u128) -> u128 {
    let mut root = (q as f64).sqrt() as u128;
    if root > 0 {
        root = (root + q / root) / 2;
    }
    while root.checked_mul(root).is_none_or(|square| square > q) {
        root -= 1;
    }
    while (root + 1).checked_mul(root + 1).is_some_and(|s| s <= q) {
        root += 1;
    }
    root
}

/// `deviations / divisor × 2^exponent`, correctly rounded, if the divisor
/// fits 64 bits.
pub(crate) fn round_variance(deviations: &Wide, divisor: u128, exponent: i32) -> Option<f64> {
    let divisor = u64::try_from(divisor).ok()?;
    let bits = bit_length(deviations) as i32;
    if bits == 0 {
        return Some(0.0);
    }
    // A shifted numerator of bits(divisor) + 127 bits: a quotient of 127
    // or 128 bits.
    let shift = (64 - divisor.leading_zeros()) as i32 + 127 - bits;
    let (numerator, dropped) = shifted(deviations, shift);
    let (quotient, remainder) = divide(numerator, divisor);
    let sticky = u128::from(dropped || remainder);
    Some(round_small(false, quotient | sticky, exponent - shift))
}

/// The square root of `deviations / divisor × 2^exponent`, correctly
/// rounded, if the divisor fits 64 bits.
pub(crate) fn round_deviation(deviations: &Wide, divisor: u128, exponent: i32) -> Option<f64> {
    let divisor = u64::try_from(divisor).ok()?;
    let bits = bit_length(deviations) as i32;
    if bits == 0 {
        return Some(0.0);
    }
    // A quotient of 124 to 127 bits, scaled by an even power of two overall
    // so that the root's exponent is whole: a root of at least 62 bits.
    let mut shift = (64 - divisor.leading_zeros()) as i32 + 126 - bits;
    if (exponent - shift) % 2 != 0 {
        shift -= 1;
    }
    let (numerator, dropped) = shifted(deviations, shift);
    let (quotient, remainder) = divide(numerator, divisor);
    let root = integer_sqrt(quotient);
    let inexact = dropped || remainder || root * root != quotient;
    Some(round_small(
        false,
        root | u128::from(inexact),
        (exponent - shift) / 2,
    ))
}

#[cfg(test)]
mod tests {
    use num_bigint::{BigInt, BigUint};

    use super::*;
    use crate::round::{round_ratio, round_sqrt_ratio};

    fn wide(value: &BigUint) -> Wide {
        let mut words = value.to_u64_digits();
        words.resize(6, 0);
        words.try_into().unwrap()
    }

    /// Quotients exactly on a tie between two doubles, and a remainder
    /// just above or none: only the sticky bit tells them apart.
    #[test]
    fn ties_and_near_ties_round_as_the_big_integer_path() {
        let odd_54_bits = (BigUint::from(1u64) << 53u32) + 1u32;
        for divisor in [3u64, 1_000_003, u64::MAX / 5] {
            for scale in [0u32, 40, 74, 120] {
                for extra in [0u32, 1, 2] {
                    let exact = (&odd_54_bits << scale) * divisor;
                    let deviations = exact + extra;
                    let expected = round_ratio(
                        &BigInt::from(deviations.clone()),
                        &BigUint::from(divisor),
                        -256,
                    );
                    let got = round_variance(&wide(&deviations), u128::from(divisor), -256);
                    assert_eq!(got.map(f64::to_bits), Some(expected.to_bits()));
                }
            }
        }
    }

    /// Square roots exactly on a tie, just above it, and perfect squares.
    #[test]
    fn root_ties_and_perfect_squares_round_as_the_big_integer_path() {
        let odd_54_bits = (BigUint::from(1u64) << 53u32) + 1u32;
        for divisor in [1u64, 7, 999_983] {
            for scale in [0u32, 10, 40] {
                let root = &odd_54_bits << scale;
                for extra in [0u32, 1] {
                    let deviations = &root * &root * divisor + extra;
                    for exponent in [-256, -255] {
                        let expected =
                            round_sqrt_ratio(&deviations, &BigUint::from(divisor), exponent);
                        let got = round_deviation(
                            &wide(&deviations),
                            u128::from(divisor),
                            i32::try_from(exponent).unwrap(),
                        );
                        assert_eq!(got.map(f64::to_bits), Some(expected.to_bits()));
                    }
                }
            }
        }
    }

    #[test]
    fn integer_square_roots_are_floors() {
        let mut x = 0x9e37_79b9_7f4a_7c15u128;
        for _ in 0..10_000 {
            x = x
                .wrapping_mul(0x2545_f491_4f6c_dd1d_0000_0001)
                .wrapping_add(1);
            for q in [
                x,
                x >> (x % 128),
                (x >> 64) * (x >> 64),
                ((x >> 64) * (x >> 64)).saturating_sub(1),
            ] {
                let root = integer_sqrt(q);
                assert!(root * root <= q, "{q}");
                assert!(
                    (root + 1).checked_mul(root + 1).is_none_or(|s| s > q),
                    "{q}"
                );
            }
        }
        assert_eq!(integer_sqrt(u128::MAX), u128::from(u64::MAX));
        assert_eq!(integer_sqrt(0), 0);
    }

    #[test]
    fn squared_deviations_of_small_sums_by_hand() {
        // 1, 2, 3 in units of 2^-128: A = 6, B = 14, n = 3:
        // 3·14·2^128 − 36.
        let deviations = squared_deviations(3, [6, 0, 0], [14, 0, 0], 128).unwrap();
        assert_eq!(deviations, [u64::MAX - 35, u64::MAX, 41, 0, 0, 0]);
        // (Σx)² > n·Σx² cannot come from real sums: refused.
        assert_eq!(squared_deviations(1, [0, 0, 1], [0, 0, 0], 128), None);
    }
}
