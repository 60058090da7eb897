//! Turning an exact value (a big integer times a power of two, or a ratio,
//! or the square root of one) into the nearest double, rounding once.
//!
//! All three round to nearest, ties to even, as IEEE 754 arithmetic does,
//! with subnormal results and overflow to infinity handled: the result is
//! the double closest to the exact value (the "correctly rounded" one), the
//! same one Python's `math.fsum`, `fractions` and `statistics` give.

use num_bigint::{BigInt, BigUint, Sign};
use num_integer::Integer;
use num_traits::{ToPrimitive, Zero};

/// Bits of a double's significand, counting the implicit leading one.
const SIGNIFICAND_BITS: i64 = 53;
/// The exponent of the smallest subnormal double, 2^-1074.
const MIN_EXPONENT: i64 = -1074;
/// Bits kept above the significand before the final rounding, so that a
/// truncated quotient or square root plus a "something was left" flag
/// rounds exactly as the infinitely precise value would.
const GUARD_BITS: u64 = 3;

/// `magnitude × 2^exponent`, plus a tiny positive amount when `inexact`
/// (the magnitude was truncated), negated when `negative`: the nearest
/// double. `inexact` is only allowed when more bits than a double holds are
/// given, which every caller here arranges.
pub(crate) fn round_scaled(
    negative: bool,
    magnitude: &BigUint,
    exponent: i64,
    inexact: bool,
) -> f64 {
    let signed = |x: f64| if negative { -x } else { x };
    if magnitude.is_zero() {
        return 0.0;
    }
    let bits = magnitude.bits() as i64;
    let top = bits - 1 + exponent;
    if top > 1024 {
        return signed(f64::INFINITY);
    }
    let mut lsb = (top - (SIGNIFICAND_BITS - 1)).max(MIN_EXPONENT);
    let dropped = lsb - exponent;
    let mut q = if dropped <= 0 {
        debug_assert!(
            !inexact,
            "an inexact value needs bits below the last kept one"
        );
        (magnitude << (-dropped) as u64)
            .to_u64()
            .expect("at most 53 bits")
    } else {
        let dropped = dropped as u64;
        let kept = (magnitude >> dropped).to_u64().expect("at most 53 bits");
        let half = magnitude.bit(dropped - 1);
        let below_half = inexact
            || magnitude
                .trailing_zeros()
                .is_some_and(|zeros| zeros < dropped - 1);
        kept + u64::from(half && (below_half || kept & 1 == 1))
    };
    if q == 1 << SIGNIFICAND_BITS {
        q >>= 1;
        lsb += 1;
    }
    let bits = if q >= 1 << (SIGNIFICAND_BITS - 1) {
        let biased = lsb + 1075;
        if biased >= 2047 {
            return signed(f64::INFINITY);
        }
        ((biased as u64) << 52) | (q - (1 << 52))
    } else {
        // Subnormal: the exponent is the smallest and q is the bit pattern.
        q
    };
    signed(f64::from_bits(bits))
}

/// `±magnitude × 2^exponent`, correctly rounded: the fast path of
/// [`round_big`] for a magnitude of at most 128 bits. An integer converts
/// to the nearest double (ties to even) with `as`, and scaling by a power
/// of two is exact while the result stays normal; otherwise the general
/// path.
pub(crate) fn round_small(negative: bool, magnitude: u128, exponent: i32) -> f64 {
    let top = exponent + 128;
    if magnitude == 0 || exponent < -1022 || top > 1023 {
        let value = BigInt::from_biguint(
            if negative { Sign::Minus } else { Sign::Plus },
            BigUint::from(magnitude),
        );
        return round_big(&value, i64::from(exponent));
    }
    let scale = f64::from_bits(((exponent + 1023) as u64) << 52);
    let value = magnitude as f64 * scale;
    if negative { -value } else { value }
}

/// `±magnitude / count × 2^exponent`, correctly rounded, if it can be done
/// in 128-bit integers (`None` otherwise): the fast path of a mean. The
/// magnitude is first shifted so that the quotient has at least 55 bits;
/// then a non-zero remainder only decides ties and the direction of the
/// rounding below the double's last bit, which setting the quotient's
/// lowest bit (a "sticky" bit, two or more places below that last bit)
/// conveys exactly.
pub(crate) fn round_small_ratio(
    negative: bool,
    magnitude: u128,
    count: u64,
    exponent: i32,
) -> Option<f64> {
    if magnitude == 0 || count == 0 {
        return None;
    }
    let count_bits = 64 - count.leading_zeros();
    let magnitude_bits = 128 - magnitude.leading_zeros();
    let shift = (56 + count_bits).saturating_sub(magnitude_bits);
    if magnitude_bits + shift > 128 {
        return None;
    }
    let shifted = magnitude << shift;
    let count = u128::from(count);
    let quotient = shifted / count | u128::from(shifted % count != 0);
    Some(round_small(negative, quotient, exponent - shift as i32))
}

/// `value × 2^exponent`, correctly rounded.
pub(crate) fn round_big(value: &BigInt, exponent: i64) -> f64 {
    round_scaled(
        value.sign() == Sign::Minus,
        value.magnitude(),
        exponent,
        false,
    )
}

/// `numerator / denominator × 2^exponent`, correctly rounded.
pub(crate) fn round_ratio(numerator: &BigInt, denominator: &BigUint, exponent: i64) -> f64 {
    let magnitude = numerator.magnitude();
    if magnitude.is_zero() {
        return 0.0;
    }
    // Enough quotient bits for a double plus guard bits; the remainder
    // says whether the quotient was truncated.
    let want = denominator.bits() + SIGNIFICAND_BITS as u64 + GUARD_BITS;
    let shift = want.saturating_sub(magnitude.bits());
    let (quotient, remainder) = (magnitude << shift).div_rem(denominator);
    round_scaled(
        numerator.sign() == Sign::Minus,
        &quotient,
        exponent - shift as i64,
        !remainder.is_zero(),
    )
}

/// The square root of `numerator / denominator × 2^exponent`, correctly
/// rounded (the method of Python's `statistics._float_sqrt_of_frac`: an
/// integer square root of the ratio scaled by an even power of two, with
/// more bits than a double holds, and a flag for whatever was truncated).
pub(crate) fn round_sqrt_ratio(numerator: &BigUint, denominator: &BigUint, exponent: i64) -> f64 {
    if numerator.is_zero() {
        return 0.0;
    }
    let (numerator, exponent) = if exponent.is_odd() {
        (numerator << 1u32, exponent - 1)
    } else {
        (numerator.clone(), exponent)
    };
    // Scale by 4^k so the integer square root has a double's bits plus
    // guard bits.
    let want = denominator.bits() + 2 * (SIGNIFICAND_BITS as u64 + GUARD_BITS);
    let k = want.saturating_sub(numerator.bits()).div_ceil(2);
    let (scaled, remainder) = (numerator << (2 * k)).div_rem(denominator);
    let root = scaled.sqrt();
    let inexact = !remainder.is_zero() || &root * &root != scaled;
    round_scaled(false, &root, exponent / 2 - k as i64, inexact)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big(v: i64) -> BigInt {
        BigInt::from(v)
    }

    #[test]
    fn integers_and_powers_of_two_are_exact() {
        assert_eq!(round_big(&big(3), 0), 3.0);
        assert_eq!(round_big(&big(-3), -1), -1.5);
        assert_eq!(round_big(&big(1), -1074), f64::from_bits(1));
        assert_eq!(round_big(&big(1), 1023), 2f64.powi(1023));
        assert_eq!(round_big(&big(1), 1024), f64::INFINITY);
        assert_eq!(round_big(&big(-1), 2000), f64::NEG_INFINITY);
    }

    #[test]
    fn ties_go_to_even() {
        // 2^53 + 1 is halfway between 2^53 and 2^53 + 2: even is 2^53.
        let halfway = BigInt::from((1u64 << 53) + 1);
        assert_eq!(round_big(&halfway, 0), 9007199254740992.0);
        // 2^53 + 3 is halfway between 2^53 + 2 and 2^53 + 4: even is + 4.
        let halfway = BigInt::from((1u64 << 53) + 3);
        assert_eq!(round_big(&halfway, 0), 9007199254740996.0);
        // Just above halfway rounds up.
        let above = (BigInt::from((1u64 << 53) + 1) << 10u32) + 1;
        assert_eq!(round_big(&above, -10), 9007199254740994.0);
    }

    #[test]
    fn ratios_round_like_division_of_doubles() {
        let one_third = round_ratio(&big(1), &BigUint::from(3u32), 0);
        assert_eq!(one_third, 1.0 / 3.0);
        let r = round_ratio(&big(-22), &BigUint::from(7u32), -3);
        assert_eq!(r, -22.0 / 7.0 / 8.0);
        // Subnormal quotient.
        let tiny = round_ratio(&big(1), &BigUint::from(3u32), -1070);
        assert_eq!(tiny, f64::from_bits(5)); // 16/3 = 5.33 -> 5
    }

    #[test]
    fn square_roots_are_correctly_rounded() {
        let two = round_sqrt_ratio(&BigUint::from(2u32), &BigUint::from(1u32), 0);
        assert_eq!(two, 2f64.sqrt());
        let quarter = round_sqrt_ratio(&BigUint::from(1u32), &BigUint::from(1u32), -2);
        assert_eq!(quarter, 0.5);
        let odd = round_sqrt_ratio(&BigUint::from(1u32), &BigUint::from(1u32), -3);
        assert_eq!(odd, 0.125f64.sqrt());
        let third = round_sqrt_ratio(&BigUint::from(1u32), &BigUint::from(3u32), 0);
        assert_eq!(third, (1.0f64 / 3.0).sqrt());
    }

    #[test]
    fn the_128_bit_fast_paths_round_as_the_general_ones() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for case in 0..200_000u32 {
            let width = next() % 129;
            let raw = u128::from(next()) << 64 | u128::from(next());
            let mut magnitude = raw.checked_shr(128 - width as u32).unwrap_or(0);
            if case % 3 == 0 {
                // Ties and near-ties: a 54-bit odd-ended value, shifted up.
                magnitude = (u128::from(next() >> 10) | 1) << (next() % 70);
            }
            let negative = next() % 2 == 0;
            let exponent = (next() % 400) as i32 - 250;
            let signed = BigInt::from_biguint(
                if negative { Sign::Minus } else { Sign::Plus },
                BigUint::from(magnitude),
            );
            let expected = round_big(&signed, i64::from(exponent));
            let got = round_small(negative, magnitude, exponent);
            assert_eq!(
                got.to_bits(),
                expected.to_bits(),
                "{magnitude} 2^{exponent}"
            );
            let count = match case % 4 {
                0 => next() % 10 + 1,
                1 => next() % 100_000 + 1,
                2 => next() >> (next() % 64),
                _ => 3,
            }
            .max(1);
            let expected = round_ratio(&signed, &BigUint::from(count), i64::from(exponent));
            if let Some(got) = round_small_ratio(negative, magnitude, count, exponent) {
                assert_eq!(
                    got.to_bits(),
                    expected.to_bits(),
                    "{magnitude} / {count} 2^{exponent}"
                );
            }
        }
    }
}
