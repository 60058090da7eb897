//! Categorical features in the preparation: a case computed by hand, the
//! errors a job author sees, models stored before categorical features
//! existed, and bit-identity across thread counts.

use seglake_ml::{
    CategoricalColumn, Encoding, Level, LogMode, MISSING_LEVEL, MlError, OTHER_LEVEL, Preparation,
    PrepareOptions,
};

fn plain() -> PrepareOptions {
    PrepareOptions {
        clip: None,
        log: LogMode::Never,
        standardise: true,
    }
}

/// Three levels with a tie (p and NULL, 2 rows each; by name `missing`
/// comes first) and one rare level.
const VALUES: [Option<&str>; 8] = [
    Some("a"),
    Some("p"),
    Some("a"),
    None,
    Some("c"),
    Some("a"),
    Some("p"),
    None,
];

/// `n` (numeric), `x` (one-hot) and `y` (frequency), all fitted on 8 rows.
fn fitted() -> Preparation {
    let n: Vec<f64> = (1..=8).map(f64::from).collect();
    Preparation::fit_mixed(
        &["n".to_string()],
        &[&n],
        &[plain()],
        &[
            CategoricalColumn::new("x", &VALUES),
            CategoricalColumn::new("y", &VALUES).encoding(Encoding::Frequency),
        ],
    )
    .unwrap()
}

#[test]
fn three_levels_null_and_an_unseen_value_by_hand() {
    let prep = fitted();
    // Levels by descending count, the tie p / missing broken by name.
    assert_eq!(
        prep.names(),
        ["n", "x=a", "x=missing", "x=p", "x=c", "x=other", "y"]
    );
    assert_eq!(prep.width(), 7);
    let level = |value: Option<&str>, count| Level {
        value: value.map(str::to_string),
        count,
    };
    let x = &prep.categorical[0];
    assert_eq!(
        x.levels,
        [
            level(Some("a"), 3),
            level(None, 2),
            level(Some("p"), 2),
            level(Some("c"), 1)
        ]
    );
    assert_eq!(x.levels[1].name(), MISSING_LEVEL);

    // n: 1..8 has mean 4.5 and population variance 5.25; its missing value
    // takes the median, 4.5. y: frequencies 3/8, 2/8, 2/8, 1/8 over the rows
    // have mean 18/64 and variance 44/512 - (18/64)^2.
    let n_std = 5.25f64.sqrt();
    let y_mean = 18.0 / 64.0;
    let y_std = (44.0f64 / 512.0 - y_mean * y_mean).sqrt();
    let y = |share: f64| ((share - y_mean) / y_std) as f32;
    let h = std::f32::consts::FRAC_1_SQRT_2;
    let n = [f64::NAN, 2.0, 3.0, 8.0];
    let values = [Some("a"), Some("zzz"), None, Some("c")];
    let m = prep.transform_mixed(&[&n], &[&values, &values]).unwrap();
    let want = [
        [0.0, h, 0.0, 0.0, 0.0, 0.0, y(3.0 / 8.0)],
        [(-2.5 / n_std) as f32, 0.0, 0.0, 0.0, 0.0, h, y(0.0)],
        [(-1.5 / n_std) as f32, 0.0, h, 0.0, 0.0, 0.0, y(2.0 / 8.0)],
        [(3.5 / n_std) as f32, 0.0, 0.0, 0.0, h, 0.0, y(1.0 / 8.0)],
    ];
    for (i, row) in want.iter().enumerate() {
        assert_eq!(m.row(i).to_vec(), row, "row {i}");
    }
}

#[test]
fn a_served_row_is_the_batch_row_to_the_bit() {
    let prep = fitted();
    let n = [f64::NAN, 2.0, 3.0, 8.0];
    let values = [Some("a"), Some("zzz"), None, Some("c")];
    let m = prep.transform_mixed(&[&n], &[&values, &values]).unwrap();
    for i in 0..n.len() {
        let row = prep
            .transform_row(&[n[i]], &[values[i], values[i]])
            .unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&row), bits(&m.row(i).to_vec()), "row {i}");
    }
}

#[test]
fn a_centre_in_original_units_is_the_share_in_each_level() {
    let prep = fitted();
    let n: Vec<f64> = (1..=8).map(f64::from).collect();
    let m = prep.transform_mixed(&[&n], &[&VALUES, &VALUES]).unwrap();
    // The centre of the first four customers: n 1..4, x = a, p, a, NULL.
    let centre: Vec<f64> = (0..prep.width())
        .map(|j| (0..4).map(|i| m[[i, j]] as f64).sum::<f64>() / 4.0)
        .collect();
    let original = prep.original_units(&centre).unwrap();
    let want = [
        2.5,
        0.5,
        0.25,
        0.25,
        0.0,
        0.0,
        (3.0 + 2.0 + 3.0 + 2.0) / 32.0,
    ];
    for (j, (got, want)) in original.iter().zip(want).enumerate() {
        assert!((got - want).abs() < 1e-6, "column {j}: {got} != {want}");
    }
    assert!(prep.original_units(&centre[1..]).is_err());
}

#[test]
fn too_many_levels_names_the_feature_the_limit_and_the_count() {
    let values: Vec<Option<&str>> = ["a", "b", "c", "d", "e"].map(Some).to_vec();
    let n = [1.0, 2.0, 3.0, 4.0, 5.0];
    let err = Preparation::fit_mixed(
        &["n".to_string()],
        &[&n],
        &[plain()],
        &[CategoricalColumn::new("merchant", &values).max_levels(4)],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "categorical feature `merchant` has 5 distinct values, more than max_levels = 4; \
         raise max_levels or group rare values in the feature view"
    );
    // NULL is a level but not a value: four values and NULLs fit a limit of 4.
    let with_nulls = [Some("a"), Some("b"), None, Some("c"), Some("d")];
    let prep = Preparation::fit_mixed(
        &[],
        &[],
        &[],
        &[CategoricalColumn::new("merchant", &with_nulls).max_levels(4)],
    )
    .unwrap();
    assert_eq!(prep.categorical[0].levels.len(), 5);
}

#[test]
fn the_default_limit_is_fifty_values() {
    let names: Vec<String> = (0..51).map(|i| format!("v{i}")).collect();
    let values: Vec<Option<&str>> = names.iter().map(|s| Some(s.as_str())).collect();
    let fit = |values: &[Option<&str>]| {
        Preparation::fit_mixed(&[], &[], &[], &[CategoricalColumn::new("m", values)])
    };
    assert!(fit(&values[..50]).is_ok());
    assert_eq!(
        fit(&values).unwrap_err(),
        MlError::Cardinality {
            feature: "m".into(),
            limit: 50,
            count: 51
        }
    );
}

#[test]
fn reserved_level_names_are_refused_as_values() {
    for reserved in [MISSING_LEVEL, OTHER_LEVEL] {
        let values = [Some("a"), Some(reserved)];
        let err = Preparation::fit_mixed(&[], &[], &[], &[CategoricalColumn::new("job", &values)])
            .unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "categorical feature `job` has the value `{reserved}`"
            )),
            "{err}"
        );
    }
}

#[test]
fn a_zero_level_limit_is_a_parameter_error() {
    let values = [Some("a")];
    let err = Preparation::fit_mixed(
        &[],
        &[],
        &[],
        &[CategoricalColumn::new("m", &values).max_levels(0)],
    )
    .unwrap_err();
    assert_eq!(err.parameter(), Some("max_levels"));
    assert_eq!(err.to_string(), "max_levels must be at least 1, got 0");
}

#[test]
fn inputs_that_do_not_fit_the_preparation_are_named() {
    let prep = fitted();
    assert_eq!(
        prep.transform(&[&[1.0]]).unwrap_err().to_string(),
        "the preparation has 2 categorical features, got 0 categorical columns"
    );
    let short = [Some("a")];
    let err = prep
        .transform_mixed(&[&[1.0, 2.0]], &[&[Some("a"), None], &short])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "feature `y` has 1 values, expected 2 (one per row)"
    );
    let n = [1.0, 2.0];
    let err = Preparation::fit_mixed(
        &["x=a".to_string()],
        &[&n],
        &[plain()],
        &[CategoricalColumn::new("x", &[Some("a"), Some("b")])],
    )
    .unwrap_err();
    assert_eq!(err, MlError::DuplicateColumn("x=a".into()));
}

/// A preparation as stored in a model before categorical features existed
/// (written by the code of that time from columns `amount` =
/// [0, 1, 3, NaN, 1000] and `count` = [2, 2, 5, 7, 1]).
const OLD_PREPARATION: &str = r#"{"features":[{"name":"amount","missing":1,"median":2.0,"clip_low":0.0,"clip_high":3.0,"clipped":1,"log":true,"mean":0.9128696382935673,"std":0.5223736600337451},{"name":"count","missing":0,"median":2.0,"clip_low":null,"clip_high":null,"clipped":0,"log":false,"mean":3.4,"std":2.244994432064365}]}"#;

/// That code's matrix of the same columns, as f32 bits, row-major.
const OLD_MATRIX_BITS: [u32; 10] = [
    3219107696, 3206522080, 3201784811, 3206522080, 1063781110, 1060533066, 1052118486, 1070416307,
    1063781110, 3213416055,
];

#[test]
fn a_model_stored_before_categorical_features_reads_and_prepares_the_same() {
    let prep: Preparation = serde_json::from_str(OLD_PREPARATION).unwrap();
    assert!(prep.categorical.is_empty());
    assert_eq!(prep.names(), ["amount", "count"]);
    // Written back unchanged: a numeric-only model's JSON does not change.
    assert_eq!(serde_json::to_string(&prep).unwrap(), OLD_PREPARATION);
    let amount = [0.0, 1.0, 3.0, f64::NAN, 1000.0];
    let count = [2.0, 2.0, 5.0, 7.0, 1.0];
    let m = prep.transform(&[&amount, &count]).unwrap();
    let bits: Vec<u32> = m.iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits, OLD_MATRIX_BITS);
}

#[test]
fn a_mixed_preparation_round_trips_through_json() {
    let prep = fitted();
    let json = serde_json::to_string(&prep).unwrap();
    assert!(json.contains(r#""encoding":"one_hot""#), "{json}");
    assert!(json.contains(r#""encoding":"frequency""#), "{json}");
    assert!(json.contains(r#"{"value":null,"count":2}"#), "{json}");
    let back: Preparation = serde_json::from_str(&json).unwrap();
    assert_eq!(back, prep);
}

/// A pseudo-random table big enough for several transform chunks.
fn big_table(rows: usize) -> (Vec<f64>, Vec<String>, Vec<Option<usize>>) {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    let levels: Vec<String> = (0..40).map(|i| format!("L{i:02}")).collect();
    let numeric = (0..rows).map(|_| (next() % 10_000) as f64 / 7.0).collect();
    // Skewed codes, so counts differ and the level order matters; 1 in 16 NULL.
    let codes = (0..rows)
        .map(|_| {
            let r = next();
            (r % 16 != 0).then(|| ((r % 40) * (r % 40) / 40) as usize)
        })
        .collect();
    (numeric, levels, codes)
}

#[test]
fn bit_identical_with_one_and_four_threads() {
    let (numeric, levels, codes) = big_table(30_000);
    let values: Vec<Option<&str>> = codes
        .iter()
        .map(|c| c.map(|c| levels[c].as_str()))
        .collect();
    let run = || {
        let columns = [
            CategoricalColumn::new("a", &values),
            CategoricalColumn::new("b", &values).encoding(Encoding::Frequency),
        ];
        let prep =
            Preparation::fit_mixed(&["n".to_string()], &[&numeric], &[plain()], &columns).unwrap();
        let m = prep
            .transform_mixed(&[&numeric], &[&values, &values])
            .unwrap();
        let bits: Vec<u32> = m.iter().map(|v| v.to_bits()).collect();
        (serde_json::to_string(&prep).unwrap(), bits)
    };
    let with = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(run)
    };
    let (one, four) = (with(1), with(4));
    assert_eq!(one.0, four.0, "fitted preparation");
    assert!(one.1 == four.1, "prepared matrix differs");
    // n, then x's values, `missing` and `other`, then y.
    let distinct = codes
        .iter()
        .flatten()
        .collect::<std::collections::BTreeSet<_>>();
    assert!(distinct.len() > 20, "the table exercises many levels");
    assert_eq!(one.1.len(), 30_000 * (1 + distinct.len() + 2 + 1));
}
