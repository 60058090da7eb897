//! The README's "Bring your own data" walkthrough, step by step, on the
//! credit union: inspect, propose, write, and what the files say.

use std::path::Path;

use seglake_scaffold::{ProposeOptions, Role, inspect, propose, write};

use crate::fixtures::credit_union;

fn proposal_for(root: &Path) -> seglake_scaffold::Proposal {
    credit_union(&root.join("credit_union"));
    let inventory = inspect(&root.join("credit_union")).unwrap();
    propose(&inventory, &ProposeOptions::new(root.join("job"))).unwrap()
}

#[test]
fn inspect_reads_tables_rows_and_time_ranges_from_footers() {
    let dir = tempfile::tempdir().unwrap();
    credit_union(&dir.path().join("cu"));
    let inv = inspect(&dir.path().join("cu")).unwrap();
    let names: Vec<&str> = inv.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["branches", "members", "payments"]);
    let payments = &inv.tables[2];
    assert_eq!(payments.path, "payments");
    assert_eq!(payments.files.len(), 2);
    assert_eq!(payments.rows, Some(3000));
    assert_eq!(payments.partition_columns, ["year"]);
    let paid_at = payments
        .columns
        .iter()
        .find(|c| c.name == "paid_at")
        .unwrap();
    let (_, latest) = paid_at.time_range.unwrap();
    assert_eq!(latest.to_rfc3339(), "2025-06-30T12:00:00+00:00");
    let channel = payments
        .columns
        .iter()
        .find(|c| c.name == "channel")
        .unwrap();
    assert_eq!(
        channel.values.as_deref().unwrap(),
        ["card", "transfer", "cash"]
    );
    // 300 distinct names: free text, not a code.
    let members = &inv.tables[1];
    let name = members
        .columns
        .iter()
        .find(|c| c.name == "full_name")
        .unwrap();
    assert!(name.values.is_none());
}

#[test]
fn key_is_the_shared_id_unique_in_members() {
    let dir = tempfile::tempdir().unwrap();
    let p = proposal_for(dir.path());
    assert_eq!(p.key.key, "member_no");
    assert_eq!(
        p.notes[0],
        "key guessed: member_no (in 2 of 3 tables; unique in members.parquet); the feature \
         table has one row per member_no of `members`; other candidates: payment_ref (1 table). \
         To choose another: seglake init --key COLUMN."
    );
    assert!(
        p.job_toml
            .contains("# key guessed: member_no (in 2 of 3 tables; unique in")
    );
}

#[test]
fn job_file_parses_and_names_every_source_and_the_views() {
    let dir = tempfile::tempdir().unwrap();
    let p = proposal_for(dir.path());
    let job: toml::Value = toml::from_str(&p.job_toml).unwrap();
    assert_eq!(job["job"]["name"].as_str(), Some("credit_union"));
    assert_eq!(job["job"]["as_of"].as_str(), Some("2025-07-01T00:00:00Z"));
    assert_eq!(job["vars"]["data"].as_str(), Some("../credit_union"));
    let sources = job["sources"].as_table().unwrap();
    let uris: Vec<(&str, &str, &str)> = sources
        .iter()
        .map(|(k, v)| {
            (
                k.as_str(),
                v["uri"].as_str().unwrap(),
                v["format"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        uris,
        [
            ("branches", "${data}/branches.parquet", "parquet"),
            ("members", "${data}/members.parquet", "parquet"),
            ("payments", "${data}/payments", "parquet"),
        ]
    );
    let features = &job["features"];
    assert_eq!(features["key"].as_str(), Some("member_no"));
    assert_eq!(features["sql_dir"].as_str(), Some("sql/credit_union"));
    assert_eq!(features["output_table"].as_str(), Some("customer_features"));
    let views: Vec<&str> = features["views"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(views, ["payments_features", "customer_features"]);
    assert_eq!(job["segments"]["k"].as_str(), Some("auto"));
    assert!(
        job.get("risk").is_none(),
        "risk stays commented out without labels"
    );
    assert_eq!(job["output"]["root"].as_str(), Some("${lake}"));
    let files: Vec<&str> = p.views.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(files, ["payments_features.sql", "customer_features.sql"]);
}

#[test]
fn payments_view_aggregates_amounts_times_and_codes_per_member() {
    let dir = tempfile::tempdir().unwrap();
    let p = proposal_for(dir.path());
    let sql = &p.views[0].1;
    for expected in [
        "CROSS JOIN payments t",
        "WHERE t.paid_at < r.as_of",
        "GROUP BY member_no",
        "COUNT(*) AS payments_count",
        // `value` is a SQL keyword: quoted.
        "SUM(CAST(\"value\" AS DOUBLE)) AS payments_value_sum",
        "AVG(CAST(\"value\" AS DOUBLE)) AS payments_value_avg",
        "STDDEV_SAMP(CAST(\"value\" AS DOUBLE)) AS payments_value_std",
        "MAX(CAST(\"value\" AS DOUBLE)) AS payments_value_max",
        "SUM(CASE WHEN channel = 'card' THEN 1 ELSE 0 END) AS payments_channel_card_count",
        "SUM(CASE WHEN channel = 'cash' THEN 1 ELSE 0 END) AS payments_channel_cash_count",
        "COUNT(DISTINCT CAST(paid_at AS DATE)) AS payments_active_days",
        "CAST((EXTRACT(EPOCH FROM r.as_of) - EXTRACT(EPOCH FROM p.first_at)) / 86400 AS DOUBLE) AS payments_first_days_ago",
        "p.member_no AS member_no",
    ] {
        assert!(sql.contains(expected), "`{expected}` missing from:\n{sql}");
    }
    // An id is never a feature.
    assert!(!sql.contains("payment_ref_"), "{sql}");
}

#[test]
fn feature_view_joins_onto_members_and_zeroes_only_counts_and_sums() {
    let dir = tempfile::tempdir().unwrap();
    let p = proposal_for(dir.path());
    let sql = &p.views[1].1;
    for expected in [
        "k.member_no AS member_no",
        "CROSS JOIN members k",
        "LEFT JOIN payments_features v1 ON v1.member_no = k.member_no",
        "COALESCE(v1.payments_count, 0) AS payments_count",
        "COALESCE(v1.payments_value_sum, 0) AS payments_value_sum",
        "COALESCE(v1.payments_channel_card_count, 0) AS payments_channel_card_count",
        "COALESCE(v1.payments_active_days, 0) AS payments_active_days",
        "    v1.payments_value_avg AS payments_value_avg",
        "    v1.payments_last_days_ago AS payments_last_days_ago",
        "CASE WHEN k.tier = 'gold' THEN 1 ELSE 0 END AS members_tier_gold",
        "CASE WHEN k.is_staff THEN 1 ELSE 0 END AS members_is_staff",
        "AS members_joined_on_days_ago",
        "WHERE k.joined_on IS NULL OR k.joined_on < CAST(r.as_of AS DATE)",
    ] {
        assert!(sql.contains(expected), "`{expected}` missing from:\n{sql}");
    }
    assert!(!sql.contains("COALESCE(v1.payments_value_avg"), "{sql}");
    assert!(!sql.contains("full_name"), "free text is left out:\n{sql}");
}

#[test]
fn notes_state_the_roles_the_as_of_and_what_is_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let p = proposal_for(dir.path());
    // Comments are wrapped: read them as one text.
    let comments = p
        .job_toml
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .collect::<Vec<_>>()
        .join(" ");
    for expected in [
        "payments: 3,000 rows, 2 files; grouped by member_no; identifier: payment_ref; time: paid_at; amount: value; category: channel (3 values); partition folders year are not columns",
        "members.parquet: 300 rows, 1 file; one row per member_no: the feature table starts here; time: joined_on; category: tier (3 values); flag: is_staff; not used: full_name",
        "TODO set as_of",
        "payments.paid_at, 2025-06-30 12:00:00",
    ] {
        assert!(
            comments.contains(expected),
            "`{expected}` missing from:\n{}",
            p.job_toml
        );
    }
    assert!(
        p.notes
            .iter()
            .any(|n| n == "branches.parquet has no member_no: not used by the starter views"),
        "{:?}",
        p.notes
    );
    assert_eq!(p.as_of.as_deref(), Some("2025-07-01T00:00:00Z"));
}

#[test]
fn explicit_key_is_matched_whatever_its_spelling() {
    let dir = tempfile::tempdir().unwrap();
    credit_union(&dir.path().join("cu"));
    let inv = inspect(&dir.path().join("cu")).unwrap();
    let mut opts = ProposeOptions::new(dir.path());
    opts.key = Some("MemberNo".into());
    let p = propose(&inv, &opts).unwrap();
    assert_eq!(p.key.key, "member_no");
    assert!(p.key.explicit);
    assert!(
        p.notes[0].starts_with("key (--key): member_no (in 2 of 3 tables"),
        "{}",
        p.notes[0]
    );
}

#[test]
fn written_files_are_the_proposal() {
    let dir = tempfile::tempdir().unwrap();
    let p = proposal_for(dir.path());
    let out = dir.path().join("job");
    let written = write(&p, &out, false).unwrap();
    assert_eq!(written[0], out.join("credit_union.toml"));
    assert_eq!(std::fs::read_to_string(&written[0]).unwrap(), p.job_toml);
    let sql = std::fs::read_to_string(out.join("sql/credit_union/customer_features.sql")).unwrap();
    assert_eq!(sql, p.views[1].1);
    assert!(p.summary(&written).contains("seglake validate "));
}

#[test]
fn roles_follow_types_and_names() {
    let dir = tempfile::tempdir().unwrap();
    credit_union(&dir.path().join("cu"));
    let inv = inspect(&dir.path().join("cu")).unwrap();
    let role = |table: usize, column: &str| {
        let c = inv.tables[table]
            .columns
            .iter()
            .find(|c| c.name == column)
            .unwrap();
        seglake_scaffold::classify(c)
    };
    assert_eq!(role(2, "member_no"), Role::Id);
    assert_eq!(role(2, "paid_at"), Role::Time);
    assert_eq!(role(2, "value"), Role::Amount);
    assert_eq!(role(1, "is_staff"), Role::Flag);
    assert_eq!(role(1, "joined_on"), Role::Time);
    assert_eq!(role(1, "full_name"), Role::Other);
}
