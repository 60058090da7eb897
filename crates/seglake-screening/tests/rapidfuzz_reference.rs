//! Jaro-Winkler against rapidfuzz's (fixture made by
//! `fixtures/make_rapidfuzz_reference.py`): the Python peer of the
//! screening benchmark scores with rapidfuzz, and the two must agree to
//! the last bit for their matches to be the same.

use seglake_screening::jaro::jaro_winkler;

#[test]
fn jaro_winkler_equals_rapidfuzz() {
    let text = include_str!("fixtures/jaro_winkler_rapidfuzz.json");
    let fixture: serde_json::Value = serde_json::from_str(text).unwrap();
    let pairs = fixture["pairs"].as_array().unwrap();
    assert!(pairs.len() > 2000);
    for pair in pairs {
        let (a, b) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        let expected = pair[2].as_f64().unwrap();
        let got = jaro_winkler(a.as_bytes(), b.as_bytes());
        assert!(
            (got - expected).abs() <= 1e-15,
            "jw({a:?}, {b:?}) = {got}, rapidfuzz {expected}"
        );
    }
}
