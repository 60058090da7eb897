//! The job file's parsing and validation, case by case.

use super::*;

struct Fixture {
    dir: PathBuf,
}

impl Fixture {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("seglake-spec-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sql")).unwrap();
        std::fs::write(dir.join("sql/a.sql"), "SELECT 1 AS customer_id").unwrap();
        std::fs::write(dir.join("sql/b.sql"), "SELECT * FROM a").unwrap();
        Fixture { dir }
    }

    fn load(&self, body: &str) -> Result<JobSpec> {
        let path = self.dir.join("job.toml");
        std::fs::write(&path, body).unwrap();
        JobSpec::load(&path, &BTreeMap::new())
    }
}

const GOOD: &str = r#"
[job]
name = "t"
seed = 1

[vars]
lake = "lake"

[sources.tx]
uri = "${lake}/raw/tx"
format = "parquet"

[features]
sql_dir = "sql"
views = ["a", "b"]
key = "customer_id"

[output]
root = "${lake}"
"#;

#[test]
fn a_valid_job_resolves_paths_against_the_job_file() {
    let f = Fixture::new("good");
    let spec = f.load(GOOD).unwrap();
    assert_eq!(
        spec.sources[0].location,
        Location::Local(f.dir.join("lake/raw/tx"))
    );
    assert_eq!(spec.output_root, Location::Local(f.dir.join("lake")));
    assert_eq!(
        spec.views
            .iter()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(spec.views[0].sha256, sha256_hex(b"SELECT 1 AS customer_id"));
}

#[test]
fn unknown_key_is_named() {
    let f = Fixture::new("unknown");
    let err = f
        .load(&GOOD.replace("seed = 1", "seed = 1\nsead = 2"))
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("sead") && msg.contains("job.toml"), "{msg}");
}

#[test]
fn a_credential_in_the_job_is_refused_without_echoing_it() {
    let f = Fixture::new("credential");
    for line in [
        "aws_secret_access_key = \"hunter2secret\"",
        "[sources.tx.storage]\naws_session_token = \"hunter2secret\"",
    ] {
        let body = GOOD.replace(
            "format = \"parquet\"",
            &format!("format = \"parquet\"\n{line}"),
        );
        let msg = f.load(&body).unwrap_err().to_string();
        assert!(
            msg.contains("sources.tx.") && msg.contains("environment"),
            "{msg}"
        );
        assert!(!msg.contains("hunter2secret"), "{msg}");
    }
    // Where a secret is kept is not a secret.
    let value: toml::Value =
        toml::from_str("[[rules.webhook]]\nsecret_env = \"X\"\nsecret_file = \"f\"").unwrap();
    assert_eq!(credential_key(&value, ""), None);
    let value: toml::Value = toml::from_str("[[rules.webhook]]\nsecret = \"s\"").unwrap();
    assert_eq!(
        credential_key(&value, "").as_deref(),
        Some("rules.webhook[0].secret")
    );
}

#[test]
fn missing_sql_file_lists_the_available_views() {
    let f = Fixture::new("missing");
    let err = f
        .load(&GOOD.replace(r#""a", "b""#, r#""a", "nope""#))
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("features.views[1]"), "{msg}");
    assert!(msg.contains("nope.sql") && msg.contains("a, b"), "{msg}");
}

#[test]
fn unknown_variable_lists_the_defined_ones() {
    let f = Fixture::new("var");
    let err = f
        .load(&GOOD.replace("${lake}/raw", "${lak}/raw"))
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("sources.tx.uri") && msg.contains("lak") && msg.contains("lake"),
        "{msg}"
    );
}

#[test]
fn unknown_format_lists_the_valid_ones() {
    let f = Fixture::new("format");
    let msg = f
        .load(&GOOD.replace("\"parquet\"", "\"orc\""))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("orc") && msg.contains("parquet") && msg.contains("delta"),
        "{msg}"
    );
}

#[test]
fn version_is_only_for_delta_sources() {
    let f = Fixture::new("version");
    let msg = f
        .load(&GOOD.replace("format = \"parquet\"", "format = \"parquet\"\nversion = 3"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("sources.tx.version"), "{msg}");
}

#[test]
fn a_postgres_source_names_a_table_or_a_query_and_never_a_password() {
    let f = Fixture::new("postgres");
    let pg = |keys: &str| {
        GOOD.replace(
            "uri = \"${lake}/raw/tx\"\nformat = \"parquet\"",
            &format!("uri = \"postgres://bank@db:5432/core\"\nformat = \"postgres\"\n{keys}"),
        )
    };
    let spec = f
        .load(&pg(
            "table = \"public.customers\"\npassword_file = \"secrets/pg\"",
        ))
        .unwrap();
    let source = &spec.sources[0];
    assert_eq!(source.format, SourceFormat::Postgres);
    assert_eq!(source.location.to_string(), "postgres://bank@db:5432/core");
    let settings = source.postgres.as_ref().unwrap();
    assert_eq!(settings.table.as_deref(), Some("public.customers"));
    assert_eq!(settings.partitions, crate::postgres::DEFAULT_PARTITIONS);
    assert_eq!(settings.password_file, Some(f.dir.join("secrets/pg")));
    let snapshot = source.snapshot_at(Location::Local(f.dir.join("snap")));
    assert_eq!(
        (snapshot.format, snapshot.postgres),
        (SourceFormat::Parquet, None)
    );

    for (keys, expected) in [
        ("", "exactly one of `table` and `query`"),
        (
            "table = \"t\"\nquery = \"SELECT 1\"",
            "exactly one of `table` and `query`",
        ),
        ("table = \"t\"\npartitions = 0", "sources.tx.partitions"),
        ("table = \"t\"\nversion = 2", "sources.tx.version"),
    ] {
        let msg = f.load(&pg(keys)).unwrap_err().to_string();
        assert!(msg.contains(expected), "{keys}: {msg}");
    }
    let with_password = pg("table = \"t\"").replace("bank@", "bank:hunter2@");
    let msg = f.load(&with_password).unwrap_err().to_string();
    assert!(
        msg.contains("password") && !msg.contains("hunter2"),
        "{msg}"
    );
    let msg = f
        .load(&GOOD.replace(
            "format = \"parquet\"",
            "format = \"parquet\"\ntable = \"t\"",
        ))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("sources.tx.table") && msg.contains("postgres"),
        "{msg}"
    );
}

#[test]
fn outlier_rule_on_unknown_table_is_named() {
    let f = Fixture::new("outlier");
    let body = format!(
        "{GOOD}\n[[quality.outliers]]\nname = \"big\"\ntable = \"nope\"\ncolumn = \"x\"\nabove = 1.0\n"
    );
    let msg = f.load(&body).unwrap_err().to_string();
    assert!(
        msg.contains("quality.outliers[0].table") && msg.contains("tx, a, b"),
        "{msg}"
    );
}

#[test]
fn materialize_names_must_be_earlier_views() {
    let f = Fixture::new("materialize");
    let spec = f
        .load(&GOOD.replace(
            "key = \"customer_id\"",
            "key = \"customer_id\"\nmaterialize = [\"a\"]",
        ))
        .unwrap();
    assert!(spec.views[0].materialize && !spec.views[1].materialize);
    let msg = f
        .load(&GOOD.replace(
            "key = \"customer_id\"",
            "key = \"customer_id\"\nmaterialize = [\"zz\"]",
        ))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("features.materialize[0]") && msg.contains("a, b"),
        "{msg}"
    );
    let msg = f
        .load(&GOOD.replace(
            "key = \"customer_id\"",
            "key = \"customer_id\"\nmaterialize = [\"b\"]",
        ))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("feature table itself"), "{msg}");
}

#[test]
fn incremental_views_are_earlier_views_over_a_file_source() {
    let f = Fixture::new("incremental");
    let with = |entry: &str| {
        f.load(&GOOD.replace(
            "key = \"customer_id\"",
            &format!("key = \"customer_id\"\n\n[[features.incremental]]\n{entry}"),
        ))
    };
    let spec = with("view = \"a\"\nsource = \"tx\"\ntime_column = \"ts\"\nkeep_days = 30").unwrap();
    assert_eq!(
        spec.views[0].incremental,
        Some(crate::incremental::IncrementalSpec {
            source: "tx".into(),
            time_column: "ts".into(),
            keep_days: 30
        })
    );
    assert!(spec.views[1].incremental.is_none());
    let msg = with("view = \"b\"\nsource = \"nope\"\ntime_column = \"ts\"\nkeep_days = 0")
        .unwrap_err()
        .to_string();
    for expected in [
        "features.incremental[0].view",
        "feature table itself",
        "features.incremental[0].source",
        "`nope` is not one of the sources: tx",
        "features.incremental[0].keep_days",
    ] {
        assert!(msg.contains(expected), "{expected} not in {msg}");
    }
}

#[test]
fn var_overrides_win_over_the_file() {
    let f = Fixture::new("override");
    let path = f.dir.join("job.toml");
    std::fs::write(&path, GOOD).unwrap();
    let vars = BTreeMap::from([("lake".to_string(), "/elsewhere".to_string())]);
    let spec = JobSpec::load(&path, &vars).unwrap();
    assert_eq!(
        spec.output_root,
        Location::Local(PathBuf::from("/elsewhere"))
    );
}

/// `GOOD` with `[segments]` and `[risk]` sections (a label view `l`).
fn with_models(f: &Fixture, segments: &str, risk: &str) -> Result<JobSpec> {
    std::fs::write(
        f.dir.join("sql/l.sql"),
        "SELECT 1 AS customer_id, 1 AS label",
    )
    .unwrap();
    f.load(&format!(
        "{GOOD}\n[segments]\nk = 4\n{segments}\n\n[risk]\nlabels = \"l\"\n{risk}\n"
    ))
}

#[test]
fn model_parameters_land_in_seglake_ml_params_with_the_job_seed() {
    let f = Fixture::new("params");
    let spec = with_models(
        &f,
        "batch_size = 512\ntol = 0",
        "num_trees = 7\nclass_weight = 2",
    )
    .unwrap();
    let segments = spec.segments.unwrap();
    assert_eq!(segments.params.kmeans.batch_size, 512);
    assert_eq!(segments.params.kmeans.tol, 0.0);
    assert_eq!(segments.params.kmeans.seed, 1);
    assert_eq!(
        segments.params.kmeans.max_epochs,
        seglake_ml::KMeansParams::new(4).max_epochs
    );
    let risk = spec.risk.unwrap();
    assert_eq!(risk.booster.num_trees, 7);
    assert_eq!(risk.booster.seed, 1);
    assert_eq!(
        risk.booster.class_weight,
        seglake_ml::ClassWeight::Positive(2.0)
    );
    assert_eq!(
        risk.booster.num_leaves,
        seglake_ml::GbdtParams::default().num_leaves
    );
}

#[test]
fn risk_num_leaves_below_two_is_refused_naming_the_key_value_and_range() {
    let f = Fixture::new("num-leaves");
    let msg = with_models(&f, "", "num_leaves = 1")
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("key `risk.num_leaves`: num_leaves must be at least 2, got 1"),
        "{msg}"
    );
}

#[test]
fn every_parameter_error_of_every_section_is_reported_at_once() {
    let f = Fixture::new("all-errors");
    let msg = with_models(
        &f,
        "batch_size = 0\nn_init = 0",
        "num_leaves = 1\nlearning_rate = -1",
    )
    .unwrap_err()
    .to_string();
    for wanted in [
        "4 invalid values",
        "key `segments.batch_size`: batch_size must be at least 1, got 0",
        "key `segments.n_init`: n_init must be at least 1, got 0",
        "key `risk.num_leaves`: num_leaves must be at least 2, got 1",
        "key `risk.learning_rate`: learning_rate must be a finite number > 0, got -1",
    ] {
        assert!(msg.contains(wanted), "`{wanted}` not in: {msg}");
    }
}

#[test]
fn unknown_model_keys_and_a_model_seed_are_refused() {
    let f = Fixture::new("model-keys");
    let msg = with_models(&f, "", "num_leafs = 8")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("num_leafs"), "{msg}");
    let msg = with_models(&f, "seed = 3", "").unwrap_err().to_string();
    assert!(
        msg.contains("segments.seed") && msg.contains("job.seed"),
        "{msg}"
    );
    let msg = with_models(&f, "", "class_weight = \"heavy\"")
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("`heavy` is neither \"balanced\" nor a number"),
        "{msg}"
    );
}

#[test]
fn outcomes_name_a_source_a_feature_view_or_an_sql_file() {
    let f = Fixture::new("outcomes");
    let spec = with_models(&f, "outcomes = \"tx\"", "").unwrap();
    assert!(spec.outcomes_view.is_none());
    let spec = with_models(&f, "outcomes = \"b\"", "").unwrap();
    assert!(
        spec.outcomes_view.is_none(),
        "a feature view is used as it is"
    );
    std::fs::write(
        f.dir.join("sql/bank_cases.sql"),
        "SELECT 1 AS customer_id, 'B' AS outcome",
    )
    .unwrap();
    let spec = with_models(&f, "outcomes = \"bank_cases\"", "").unwrap();
    let names: Vec<&str> = spec.sql_views().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        ["a", "b", "bank_cases", "l"],
        "planned after the views, before the labels"
    );
    let msg = with_models(&f, "outcomes = \"nowhere\"", "")
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("segments.outcomes")
            && msg.contains("`nowhere` is not a source or feature view (tx, a, b)")
            && msg.contains("nowhere.sql")
            && msg.contains("a, b, bank_cases, l"),
        "{msg}"
    );
    let msg = with_models(&f, "outcomes = \"bank_cases\"", "")
        .and_then(|_| {
            std::fs::write(f.dir.join("sql/l.sql"), "SELECT 1").unwrap();
            f.load(&format!(
                "{GOOD}\n[segments]\nk = 4\noutcomes = \"l\"\n\n[risk]\nlabels = \"l\"\n"
            ))
        })
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("risk.labels") && msg.contains("`l` is already"),
        "{msg}"
    );
    std::fs::write(f.dir.join("sql/cases.sql"), "SELECT 1").unwrap();
    let msg = with_models(&f, "outcomes = \"cases\"", "")
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("`cases` is a table seglake registers itself"),
        "{msg}"
    );
}

#[test]
fn the_outcome_vocabulary_maps_the_banks_codes_and_needs_an_outcome_table() {
    let f = Fixture::new("vocabulary");
    let vocabulary = "\n[outcomes]\nsar_filed = [\"B\", \"D\"]\nno_action = [\"A\", \"C\"]\n";
    let body = format!("{GOOD}\n[segments]\nk = 4\noutcomes = \"tx\"\n{vocabulary}");
    let spec = f.load(&body).unwrap();
    use crate::outcomes::Outcome;
    assert_eq!(
        spec.outcome_vocabulary.outcome("D"),
        Some(Outcome::SarFiled)
    );
    assert_eq!(spec.outcome_vocabulary.outcome("sar_filed"), None);
    let spec = f
        .load(&format!("{GOOD}\n[segments]\nk = 4\noutcomes = \"tx\"\n"))
        .unwrap();
    assert_eq!(
        spec.outcome_vocabulary.outcome("sar_filed"),
        Some(Outcome::SarFiled)
    );
    let msg = f
        .load(&format!("{GOOD}\n[segments]\nk = 4\n{vocabulary}"))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("key `outcomes`") && msg.contains("[segments] outcomes"),
        "{msg}"
    );
    let msg = f
        .load(&format!(
            "{GOOD}\n[segments]\nk = 4\noutcomes = \"tx\"\n\n[outcomes]\nsar_filed = [\"B\"]\nno_action = [\"B\"]\n"
        ))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("outcomes.no_action") && msg.contains("`B` is also listed"),
        "{msg}"
    );
}
