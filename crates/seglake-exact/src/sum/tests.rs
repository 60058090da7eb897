use num_traits::Zero;

use super::*;

fn sum(values: &[f64]) -> f64 {
    let mut s = ExactSum::default();
    values.iter().for_each(|&v| s.add(v));
    s.value()
}

/// `value × 2^exponent` with the trailing zero bits moved into the
/// exponent, so two representations of one number compare equal.
fn normalised((mut value, mut exponent): (BigInt, i64)) -> (BigInt, i64) {
    if value.is_zero() {
        return (value, 0);
    }
    let zeros = value.trailing_zeros().expect("non-zero");
    value >>= zeros;
    exponent += zeros as i64;
    (value, exponent)
}

/// Doubles of every kind a sum meets: money amounts, tiny and huge
/// magnitudes (outside the window), subnormals, zeros, both signs.
fn mixed_values(count: usize, seed: u64) -> Vec<f64> {
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count)
        .map(|_| {
            let r = next();
            let sign = if r & 1 == 0 { 1.0 } else { -1.0 };
            let unit = (r >> 11) as f64 / (1u64 << 53) as f64;
            sign * match r % 7 {
                0 => (unit * 1e7).round() / 100.0,
                1 => unit * 2f64.powi((r >> 3) as i32 % 120 - 60),
                2 => unit * 1e-30,
                3 => unit * 1e25,
                4 => f64::from_bits(r >> 13), // subnormal or tiny
                5 => 0.0,
                _ => unit * 2f64.powi((r >> 3) as i32 % 2000 - 1000),
            }
        })
        .collect()
}

#[test]
fn equals_the_growing_limb_sum_on_every_kind_of_value() {
    for seed in [1, 2, 3, 99] {
        let values = mixed_values(20_000, seed);
        let (mut fast, mut reference) = (ExactSum::default(), LimbSum::default());
        let (mut fast_squares, mut reference_squares) = (ExactSum::default(), LimbSum::default());
        for &v in &values {
            fast.add(v);
            reference.add(v);
            fast_squares.add_square(v);
            reference_squares.add_square(v);
        }
        assert_eq!(normalised(fast.to_big()), normalised(reference.to_big()));
        assert_eq!(
            normalised(fast_squares.to_big()),
            normalised(reference_squares.to_big())
        );
        assert!(fast.spill.is_some(), "these values reach the spill");
    }
}

#[test]
fn money_amounts_and_their_squares_stay_in_the_window() {
    let mut s = ExactSum::default();
    let mut squares = ExactSum::default();
    for cents in 1..100_000u32 {
        let amount = f64::from(cents * 7 % 10_000_000) / 100.0;
        s.add(amount);
        squares.add_square(amount);
    }
    assert!(s.spill.is_none() && squares.spill.is_none());
    assert_eq!(s.heap_bytes(), 0);
}

#[test]
fn a_window_overflow_spills_and_stays_exact() {
    // The window holds totals below 2^63 (about 9.2e18).
    let mut s = ExactSum::default();
    for _ in 0..5 {
        s.add(4e18);
    }
    s.add(-1.0);
    assert!(s.spill.is_some());
    assert_eq!(s.value(), 2e19 - 1.0);
    let mut negative = ExactSum::default();
    (0..5).for_each(|_| negative.add(-4e18));
    assert_eq!(negative.value(), -2e19);
    // Two windows that overflow when merged.
    let (mut a, mut b) = (ExactSum::default(), ExactSum::default());
    (0..2).for_each(|_| a.add(4e18));
    (0..2).for_each(|_| b.add(4e18));
    b.add(0.5);
    a.merge(&b);
    let expected = (BigInt::from(16_000_000_000_000_000_000u128) * 2 + 1, -1);
    assert_eq!(normalised(a.to_big()), normalised(expected));
}

/// The limb sum alone (the reference of these tests), rounded.
fn limb_sum(values: &[f64]) -> f64 {
    let mut s = LimbSum::default();
    values.iter().for_each(|&v| s.add(v));
    let (value, exponent) = s.to_big();
    crate::round::round_big(&value, exponent)
}

#[test]
fn cancellation_that_naive_summation_loses() {
    let tiny = f64::from_bits(1);
    let cases: [(&[f64], f64); 6] = [
        (&[1e100, 1.0, -1e100], 1.0),
        (&[0.1, 0.2, 0.3, -0.6], 2f64.powi(-55)),
        (&[f64::MAX, f64::MAX, -f64::MAX], f64::MAX),
        (&[f64::MAX, f64::MAX], f64::INFINITY),
        (&[tiny, tiny], f64::from_bits(2)),
        (&[], 0.0),
    ];
    for (values, expected) in cases {
        assert_eq!(sum(values), expected, "{values:?}");
        assert_eq!(limb_sum(values), expected, "limb sum of {values:?}");
    }
}

#[test]
fn non_finite_values_follow_ieee() {
    assert!(sum(&[1.0, f64::NAN]).is_nan());
    assert!(sum(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
    assert_eq!(sum(&[f64::INFINITY, 5.0]), f64::INFINITY);
    assert_eq!(sum(&[f64::NEG_INFINITY, 5.0]), f64::NEG_INFINITY);
    let mut s = ExactSum::default();
    s.add(2.0);
    s.add(f64::NAN);
    s.remove(f64::NAN);
    assert_eq!(s.value(), 2.0);
}

#[test]
fn order_and_merging_do_not_change_the_bits() {
    let mut values: Vec<f64> = (0..5000)
        .map(|i| ((i * 7919 % 1000) as f64 - 500.0) * 1.1f64.powi(i % 300 - 150))
        .collect();
    values.extend(mixed_values(5000, 7));
    let forward = sum(&values);
    let mut reversed = values.clone();
    reversed.reverse();
    assert_eq!(sum(&reversed).to_bits(), forward.to_bits());
    for split in [0, 1234, 7000] {
        let (a, b) = values.split_at(split);
        let mut left = ExactSum::default();
        a.iter().for_each(|&v| left.add(v));
        let mut right = ExactSum::default();
        b.iter().for_each(|&v| right.add(v));
        let right = ExactSum::from_bytes(&right.to_bytes()).unwrap();
        left.merge(&right);
        assert_eq!(left.value().to_bits(), forward.to_bits());
    }
}

#[test]
fn bytes_round_trip_into_the_window_when_it_holds_the_total() {
    let mut money = ExactSum::default();
    [12.34, 0.01, -99_999.99, 5e6]
        .iter()
        .for_each(|&v| money.add(v));
    let read = ExactSum::from_bytes(&money.to_bytes()).unwrap();
    assert!(read.spill.is_none());
    assert_eq!(read.window, money.window);
    let mut tiny = ExactSum::default();
    tiny.add(1e-300);
    tiny.add(3.0);
    let read = ExactSum::from_bytes(&tiny.to_bytes()).unwrap();
    assert_eq!(normalised(read.to_big()), normalised(tiny.to_big()));
    let mut nan = ExactSum::default();
    nan.add(f64::NAN);
    assert!(
        ExactSum::from_bytes(&nan.to_bytes())
            .unwrap()
            .value()
            .is_nan()
    );
}

#[test]
fn removing_every_value_leaves_zero() {
    let mut s = ExactSum::default();
    let values = [1e-300, 3.5, -7e200, 0.1];
    values.iter().for_each(|&v| s.add(v));
    values.iter().for_each(|&v| s.remove(v));
    assert_eq!(s.value(), 0.0);
    assert!(s.to_big().0 == BigInt::default());
}

#[test]
fn squares_are_exact() {
    let mut s = ExactSum::default();
    s.add_square(1e200);
    s.add_square(-3.0);
    s.remove_square(1e200);
    assert_eq!(s.value(), 9.0);
    let mut tiny = ExactSum::default();
    tiny.add_square(1e-200);
    let (value, exponent) = tiny.to_big();
    assert!(value > BigInt::default() && exponent < -1074);
}

#[test]
fn the_small_form_is_the_total() {
    let mut checked = 0;
    for seed in [5, 6, 7] {
        let values: Vec<f64> = mixed_values(20_000, seed)
            .into_iter()
            .filter(|v| (1e-3..1e6).contains(&v.abs()))
            .collect();
        for chunk in values.chunks(5) {
            let mut s = ExactSum::default();
            chunk.iter().for_each(|&v| s.add(v));
            let Some((negative, magnitude, exponent)) = s.as_small() else {
                continue;
            };
            let signed = BigInt::from(magnitude) * if negative { -1 } else { 1 };
            let small = (signed, i64::from(exponent));
            assert_eq!(normalised(small), normalised(s.to_big()));
            let (value, exponent) = s.to_big();
            let general = crate::round::round_big(&value, exponent);
            assert_eq!(s.value().to_bits(), general.to_bits());
            checked += 1;
        }
    }
    assert!(checked > 500, "{checked} small sums");
}
