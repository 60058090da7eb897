//! `write` never replaces a file unless forced, and writes all or nothing.

use seglake_scaffold::{ProposeOptions, ScaffoldError, inspect, propose, write};

use crate::fixtures::credit_union;

fn proposal(root: &std::path::Path) -> seglake_scaffold::Proposal {
    credit_union(&root.join("data"));
    let inv = inspect(&root.join("data")).unwrap();
    propose(&inv, &ProposeOptions::new(root.join("out"))).unwrap()
}

#[test]
fn existing_files_are_not_overwritten_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let p = proposal(dir.path());
    let out = dir.path().join("out");
    write(&p, &out, false).unwrap();
    let job = out.join("data.toml");
    std::fs::write(&job, "# my edits\n").unwrap();

    let err = write(&p, &out, false).unwrap_err();
    assert!(matches!(err, ScaffoldError::OutputExists(_)));
    let message = err.to_string();
    assert!(message.contains("refusing to overwrite"), "{message}");
    assert!(message.contains("data.toml"), "{message}");
    assert!(message.contains("customer_features.sql"), "{message}");
    assert!(message.contains("--force"), "{message}");
    assert_eq!(std::fs::read_to_string(&job).unwrap(), "# my edits\n");

    write(&p, &out, true).unwrap();
    assert_eq!(std::fs::read_to_string(&job).unwrap(), p.job_toml);
}

#[test]
fn one_existing_view_stops_everything() {
    let dir = tempfile::tempdir().unwrap();
    let p = proposal(dir.path());
    let out = dir.path().join("out");
    let view = out.join("sql/data/payments_features.sql");
    std::fs::create_dir_all(view.parent().unwrap()).unwrap();
    std::fs::write(&view, "SELECT 1").unwrap();
    let err = write(&p, &out, false).unwrap_err();
    assert!(err.to_string().contains("payments_features.sql"), "{err}");
    assert!(!out.join("data.toml").exists(), "nothing may be written");
    assert!(!out.join("sql/data/customer_features.sql").exists());
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let p = proposal(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    // The views' folder cannot be created: a file is in the way.
    std::fs::write(out.join("sql"), "in the way").unwrap();
    let err = write(&p, &out, true).unwrap_err();
    assert!(matches!(err, ScaffoldError::Write { .. }), "{err}");
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [std::ffi::OsString::from("sql")]);
}
