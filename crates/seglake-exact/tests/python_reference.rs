//! seglake-exact against Python's exact routines (`math.fsum`,
//! `statistics.mean/variance/pvariance/stdev/pstdev`), on the cases that
//! `fixtures/make_reference.py` wrote: every result must be the same
//! double, bit for bit, whatever order the values are added in.

use seglake_exact::{ExactSum, Moments, Spread, mean};

fn number(case: &serde_json::Value, field: &str) -> f64 {
    case[field].as_str().unwrap().parse().unwrap()
}

fn check(name: &str, what: &str, got: Option<f64>, want: f64) {
    let got = got.unwrap_or_else(|| panic!("{name}: no {what}"));
    assert_eq!(
        got.to_bits(),
        want.to_bits(),
        "{name}: {what} {got:e} != {want:e}"
    );
}

#[test]
fn every_statistic_is_the_correctly_rounded_one() {
    let text = include_str!("fixtures/reference.json");
    let reference: serde_json::Value = serde_json::from_str(text).unwrap();
    let cases = reference["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let mut values: Vec<f64> = case["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().parse().unwrap())
            .collect();
        for order in 0..3 {
            // Forward, reversed, and split in two partial states merged.
            let mut moments = Moments::default();
            if order == 2 {
                let (left, right) = values.split_at(values.len() / 3);
                let mut other = Moments::default();
                left.iter().for_each(|&v| moments.add(v));
                right.iter().for_each(|&v| other.add(v));
                moments.merge(&other);
            } else {
                values.iter().for_each(|&v| moments.add(v));
            }
            check(name, "sum", Some(moments.sum.value()), number(case, "sum"));
            check(
                name,
                "mean",
                mean(moments.count, &moments.sum),
                number(case, "mean"),
            );
            for (spread, var, stddev) in [
                (Spread::Sample, "var_samp", "stddev_samp"),
                (Spread::Population, "var_pop", "stddev_pop"),
            ] {
                check(name, var, moments.variance(spread), number(case, var));
                check(
                    name,
                    stddev,
                    moments.standard_deviation(spread),
                    number(case, stddev),
                );
            }
            values.reverse();
        }
    }
}

#[test]
fn a_sum_survives_its_byte_form() {
    let mut sum = ExactSum::default();
    for v in [1e300, -2.5e-310, 7.0, f64::INFINITY] {
        sum.add(v);
    }
    let back = ExactSum::from_bytes(&sum.to_bytes()).unwrap();
    assert_eq!(back.to_big(), sum.to_big());
    assert_eq!(back.non_finite(), sum.non_finite());
    assert!(ExactSum::from_bytes(&[1, 2, 3]).is_none());
}
