//! The mixed preparation against scikit-learn (`SimpleImputer` +
//! `StandardScaler`, `OneHotEncoder(handle_unknown="ignore")` scaled by
//! `1/sqrt(2)`, standardised frequencies), on the fixture written by
//! `fixtures/make_categorical_reference.py` (committed beside it).

use std::collections::HashMap;

use seglake_ml::{CategoricalColumn, Encoding, LogMode, Preparation, PrepareOptions};
use serde::Deserialize;

#[derive(Deserialize)]
struct Table {
    amount: Vec<Option<f64>>,
    country: Vec<Option<String>>,
    channel: Vec<Option<String>>,
}

#[derive(Deserialize)]
struct Reference {
    train: Table,
    score: Table,
    columns: Vec<String>,
    seglake_order: Vec<String>,
    expected_train: Vec<Vec<f64>>,
    expected_score: Vec<Vec<f64>>,
}

fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/categorical_reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn amounts(t: &Table) -> Vec<f64> {
    t.amount.iter().map(|v| v.unwrap_or(f64::NAN)).collect()
}

fn strings(values: &[Option<String>]) -> Vec<Option<&str>> {
    values.iter().map(Option::as_deref).collect()
}

fn fit(r: &Reference) -> Preparation {
    let options = PrepareOptions {
        clip: None,
        log: LogMode::Never,
        standardise: true,
    };
    let (country, channel) = (strings(&r.train.country), strings(&r.train.channel));
    Preparation::fit_mixed(
        &["amount".to_string()],
        &[&amounts(&r.train)],
        &[options],
        &[
            CategoricalColumn::new("country", &country),
            CategoricalColumn::new("channel", &channel).encoding(Encoding::Frequency),
        ],
    )
    .unwrap()
}

/// Compares seglake's matrix of `table` with scikit-learn's, column by name.
fn compare(prep: &Preparation, r: &Reference, table: &Table, expected: &[Vec<f64>], what: &str) {
    let (country, channel) = (strings(&table.country), strings(&table.channel));
    let m = prep
        .transform_mixed(&[&amounts(table)], &[&country, &channel])
        .unwrap();
    assert_eq!(m.nrows(), expected.len());
    let at: HashMap<String, usize> = prep
        .names()
        .into_iter()
        .enumerate()
        .map(|(j, n)| (n, j))
        .collect();
    for (k, name) in r.columns.iter().enumerate() {
        let j = at[name];
        for (i, row) in expected.iter().enumerate() {
            let (got, want) = (m[[i, j]] as f64, row[k]);
            // Scaled indicators are the same f32; standardised columns
            // differ only by summation order and the f32 rounding.
            assert!(
                (got - want).abs() <= 1e-6 * want.abs().max(1.0),
                "{what} row {i}, `{name}`: {got} != {want}"
            );
        }
    }
}

#[test]
fn columns_are_scikit_learns_in_frequency_order() {
    let r = reference();
    let prep = fit(&r);
    assert_eq!(prep.names(), r.seglake_order);
    let mut sorted = r.columns.clone();
    sorted.sort();
    let mut ours = prep.names();
    ours.sort();
    assert_eq!(ours, sorted);
}

#[test]
fn training_matrix_matches_scikit_learn() {
    let r = reference();
    let prep = fit(&r);
    compare(&prep, &r, &r.train, &r.expected_train, "train");
}

#[test]
fn scored_batch_with_unseen_values_matches_scikit_learn() {
    let r = reference();
    // The fixture must exercise what it claims to: unseen values and NULLs
    // in both categorical features of the scored batch.
    for (values, unseen) in [(&r.score.country, "XX"), (&r.score.channel, "fax")] {
        assert!(values.iter().any(Option::is_none));
        assert!(values.iter().any(|v| v.as_deref() == Some(unseen)));
    }
    let prep = fit(&r);
    compare(&prep, &r, &r.score, &r.expected_score, "score");
}
