//! [`Moments`]: count, exact sum and exact sum of squares, from which the
//! mean, variance and standard deviation are computed exactly and rounded
//! once.
//!
//! With `n` values, `S1 = Σx` and `S2 = Σx²` held exactly, the sum of
//! squared deviations is `(n·S2 − S1²) / n`, an exact rational: the sample
//! variance is `(n·S2 − S1²) / (n(n−1))`, the population variance
//! `(n·S2 − S1²) / n²`, each rounded to the nearest double, and the
//! standard deviations are the correctly rounded square roots of those
//! exact ratios. These are the values Python's `statistics.variance`,
//! `pvariance`, `stdev` and `pstdev` return for the same doubles.

use num_bigint::{BigInt, BigUint, Sign};

use crate::limbs::decompose;
use crate::round::{round_ratio, round_small_ratio, round_sqrt_ratio};
use crate::spread::{round_deviation, round_variance, squared_deviations};
use crate::sum::ExactSum;

/// Which variance: divided by `n − 1` or by `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Spread {
    Sample,
    Population,
}

/// Count, `Σx` and `Σx²` of the values seen, exactly.
#[derive(Debug, Clone, Default)]
pub struct Moments {
    pub count: u64,
    pub sum: ExactSum,
    pub sum_of_squares: ExactSum,
}

impl Moments {
    #[inline]
    pub fn add(&mut self, x: f64) {
        self.count += 1;
        // The double taken apart once for both sums.
        match decompose(x) {
            Some((negative, significand, exponent)) => {
                self.sum.add_finite(negative, significand, exponent);
                self.sum_of_squares
                    .add_finite_square(false, significand, exponent);
            }
            None => {
                self.sum.add(x);
                self.sum_of_squares.add_square(x);
            }
        }
    }

    pub fn remove(&mut self, x: f64) {
        self.count -= 1;
        self.sum.remove(x);
        self.sum_of_squares.remove_square(x);
    }

    pub fn merge(&mut self, other: &Moments) {
        self.count += other.count;
        self.sum.merge(&other.sum);
        self.sum_of_squares.merge(&other.sum_of_squares);
    }

    /// The variance, `None` without enough values (none for the
    /// population variance, fewer than two for the sample's); NaN when a
    /// value was NaN or infinite, as in IEEE arithmetic.
    pub fn variance(&self, spread: Spread) -> Option<f64> {
        if !self.has_enough(spread) {
            return None;
        }
        if self.sum.non_finite().is_some() {
            return Some(f64::NAN);
        }
        let fixed = self.fixed_deviations().and_then(|(deviations, exponent)| {
            round_variance(&deviations, self.divisor(spread), exponent)
        });
        Some(fixed.unwrap_or_else(|| self.variance_big(spread)))
    }

    /// [`Moments::variance`] in big integers, whatever the sums.
    fn variance_big(&self, spread: Spread) -> f64 {
        let (numerator, denominator, exponent) = self.scaled_squared_deviations(spread);
        round_ratio(
            &BigInt::from_biguint(Sign::Plus, numerator),
            &denominator,
            exponent,
        )
    }

    /// The square root of [`Moments::variance`], correctly rounded from the
    /// exact variance (not from the rounded one).
    pub fn standard_deviation(&self, spread: Spread) -> Option<f64> {
        if !self.has_enough(spread) {
            return None;
        }
        if self.sum.non_finite().is_some() {
            return Some(f64::NAN);
        }
        let fixed = self.fixed_deviations().and_then(|(deviations, exponent)| {
            round_deviation(&deviations, self.divisor(spread), exponent)
        });
        Some(fixed.unwrap_or_else(|| self.standard_deviation_big(spread)))
    }

    /// [`Moments::standard_deviation`] in big integers, whatever the sums.
    fn standard_deviation_big(&self, spread: Spread) -> f64 {
        let (numerator, denominator, exponent) = self.scaled_squared_deviations(spread);
        round_sqrt_ratio(&numerator, &denominator, exponent)
    }

    /// `n·Σx² − (Σx)²` as a 384-bit integer and the exponent of its lowest
    /// bit, when both sums stayed in their windows (see [`crate::spread`]).
    fn fixed_deviations(&self) -> Option<([u64; 6], i32)> {
        let (_, sum, exponent) = self.sum.as_window()?;
        let (negative, squares, squares_exponent) = self.sum_of_squares.as_window()?;
        if negative || squares_exponent != exponent || exponent > 0 {
            return None;
        }
        let deviations = squared_deviations(self.count, sum, squares, exponent.unsigned_abs())?;
        Some((deviations, 2 * exponent))
    }

    /// `n(n − 1)` or `n²`.
    fn divisor(&self, spread: Spread) -> u128 {
        let n = u128::from(self.count);
        match spread {
            Spread::Sample => n * (n - 1),
            Spread::Population => n * n,
        }
    }

    /// Two values for a sample's spread, one for a population's.
    fn has_enough(&self, spread: Spread) -> bool {
        match spread {
            Spread::Sample => self.count >= 2,
            Spread::Population => self.count >= 1,
        }
    }

    /// The variance as `numerator / denominator × 2^exponent`, exactly
    /// (checked first: enough values, all finite).
    fn scaled_squared_deviations(&self, spread: Spread) -> (BigUint, BigUint, i64) {
        let n = self.count;
        let denominator = match spread {
            Spread::Sample => BigUint::from(n) * BigUint::from(n - 1),
            Spread::Population => BigUint::from(n) * BigUint::from(n),
        };
        let (s1, e1) = self.sum.to_big();
        let (s2, e2) = self.sum_of_squares.to_big();
        // n·S2 − S1², on the finer of the two scales.
        let exponent = e2.min(2 * e1);
        let n_s2 = (BigInt::from(n) * s2) << (e2 - exponent) as u64;
        let s1_squared = (&s1 * &s1) << (2 * e1 - exponent) as u64;
        let numerator = n_s2 - s1_squared;
        // Never negative (Cauchy-Schwarz); exact arithmetic keeps it so.
        let numerator = numerator.to_biguint().expect("n·Σx² ≥ (Σx)²");
        (numerator, denominator, exponent)
    }
}

/// The mean `Σx / n`, correctly rounded; `None` for no values.
pub fn mean(count: u64, sum: &ExactSum) -> Option<f64> {
    if count == 0 {
        return None;
    }
    if sum.non_finite().is_some() {
        return Some(sum.value());
    }
    let small = sum.as_small().and_then(|(negative, magnitude, exponent)| {
        round_small_ratio(negative, magnitude, count, exponent)
    });
    if let Some(mean) = small {
        return Some(mean);
    }
    let (value, exponent) = sum.to_big();
    Some(round_ratio(&value, &BigUint::from(count), exponent))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(values: &[f64]) -> Moments {
        let mut m = Moments::default();
        values.iter().for_each(|&v| m.add(v));
        m
    }

    #[test]
    fn hand_computed_cases() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, population variance 4.
        let m = moments(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(mean(m.count, &m.sum), Some(5.0));
        assert_eq!(m.variance(Spread::Population), Some(4.0));
        assert_eq!(m.standard_deviation(Spread::Population), Some(2.0));
        assert_eq!(m.variance(Spread::Sample), Some(32.0 / 7.0));
        assert_eq!(
            m.standard_deviation(Spread::Sample),
            Some((32.0f64 / 7.0).sqrt())
        );
    }

    #[test]
    fn a_large_mean_does_not_cancel_the_spread() {
        // Naive Σx² − (Σx)²/n in doubles gives 0 or garbage here.
        let m = moments(&[1e9 + 1.0, 1e9 + 2.0, 1e9 + 3.0]);
        assert_eq!(m.variance(Spread::Sample), Some(1.0));
        assert_eq!(m.variance(Spread::Population), Some(2.0 / 3.0));
    }

    #[test]
    fn too_few_values_and_non_finite_ones() {
        assert_eq!(moments(&[]).variance(Spread::Population), None);
        assert_eq!(moments(&[3.0]).variance(Spread::Sample), None);
        assert_eq!(moments(&[3.0]).variance(Spread::Population), Some(0.0));
        assert_eq!(mean(0, &ExactSum::default()), None);
        assert!(
            moments(&[1.0, f64::INFINITY])
                .variance(Spread::Sample)
                .unwrap()
                .is_nan()
        );
        assert!(
            moments(&[1.0, f64::NAN])
                .standard_deviation(Spread::Sample)
                .unwrap()
                .is_nan()
        );
        let m = moments(&[1.0, f64::INFINITY]);
        assert_eq!(mean(m.count, &m.sum), Some(f64::INFINITY));
    }

    /// A xorshift stream: the same cases on every run.
    fn stream(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed;
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// Values whose sums (and sums of squares: below 2^63, no bit below
    /// 2^-128) stay in their windows: money amounts, integers, small and
    /// large magnitudes, a constant with a spread far below it.
    fn window_values(next: &mut impl FnMut() -> u64) -> Vec<f64> {
        let kind = next() % 6;
        let count = 2 + (next() % 300) as usize;
        let base = (next() % 1_000_000) as f64 + 0.5;
        (0..count)
            .map(|_| {
                let r = next();
                let unit = (r >> 11) as f64 / (1u64 << 53) as f64;
                let sign = if r & 1 == 0 { 1.0 } else { -1.0 };
                match kind {
                    0 => sign * (unit * 1e7).round() / 100.0,
                    1 => (r % 17) as f64,
                    2 => sign * (unit * 1e6).round() / 1024.0,
                    3 => base + (r % 3) as f64 * 2f64.powi(-20),
                    4 => sign * (unit * 1e8).round(),
                    _ => 7.25,
                }
            })
            .collect()
    }

    #[test]
    fn the_fixed_path_rounds_as_the_big_integer_path() {
        let mut next = stream(0x5eed_0fa1_1ce5);
        let mut fixed = 0;
        for _ in 0..20_000 {
            let m = moments(&window_values(&mut next));
            fixed += usize::from(m.fixed_deviations().is_some());
            for spread in [Spread::Sample, Spread::Population] {
                let big = (m.variance_big(spread), m.standard_deviation_big(spread));
                let (variance, deviation) = (m.variance(spread), m.standard_deviation(spread));
                assert_eq!(variance.map(f64::to_bits), Some(big.0.to_bits()), "{m:?}");
                assert_eq!(deviation.map(f64::to_bits), Some(big.1.to_bits()), "{m:?}");
            }
        }
        // The cases exercise the fixed path, not only the fallback.
        assert!(fixed > 19_000, "{fixed} of 20,000 on the fixed path");
    }

    #[test]
    fn exact_squares_and_tiny_spreads_round_as_the_big_integer_path() {
        // Variance exactly 4 (a perfect square), a spread of 2^-40 around
        // 10^6 (cancellation), two values (the smallest sample), the largest
        // values the window holds squared.
        let cases: [&[f64]; 4] = [
            &[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0],
            &[1e6, 1e6 + 2f64.powi(-30), 1e6, 1e6 + 2f64.powi(-31)],
            &[0.1, 0.3],
            &[2f64.powi(30) + 1.0, -(2f64.powi(30)), 3.0],
        ];
        for values in cases {
            let m = moments(values);
            assert!(m.fixed_deviations().is_some(), "{values:?}");
            for spread in [Spread::Sample, Spread::Population] {
                assert_eq!(
                    m.variance(spread).map(f64::to_bits),
                    Some(m.variance_big(spread).to_bits())
                );
                assert_eq!(
                    m.standard_deviation(spread).map(f64::to_bits),
                    Some(m.standard_deviation_big(spread).to_bits())
                );
            }
        }
    }

    #[test]
    fn removing_values_restores_the_statistics() {
        let mut m = moments(&[1.5, 2.5, 1e12]);
        m.remove(1e12);
        assert_eq!(m.variance(Spread::Sample), Some(0.5));
    }
}
