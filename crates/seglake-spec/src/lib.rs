//! Job specs for seglake: what a job reads, which SQL feature views it runs,
//! where it publishes, and the lineage record every run leaves behind.
//!
//! A job file (`jobs/<name>.toml`) is parsed into [`raw::RawJob`], a plain
//! serde mirror of the TOML that rejects unknown keys, and then validated into
//! a [`JobSpec`]: variables substituted, paths resolved, SQL files read and
//! hashed, names checked. Only a `JobSpec` is ever run, so every later stage
//! can trust it.
//!
//! ```
//! # let dir = tempfile_dir();
//! # std::fs::create_dir_all(dir.join("sql")).unwrap();
//! # std::fs::write(dir.join("sql/features.sql"), "SELECT 1 AS customer_id").unwrap();
//! # std::fs::write(dir.join("job.toml"), r#"
//! [job]
//! name = "example"
//! seed = 7
//!
//! [sources.transactions]
//! uri = "data/transactions"
//! format = "parquet"
//!
//! [features]
//! sql_dir = "sql"
//! views = ["features"]
//! key = "customer_id"
//!
//! [output]
//! root = "lake"
//! # "#).unwrap();
//! let spec = seglake_spec::JobSpec::load(&dir.join("job.toml"), &Default::default()).unwrap();
//! assert_eq!(spec.name, "example");
//! assert_eq!(spec.views[0].name, "features");
//! # fn tempfile_dir() -> std::path::PathBuf {
//! #     let d = std::env::temp_dir().join(format!("seglake-spec-doc-{}", std::process::id()));
//! #     std::fs::create_dir_all(&d).unwrap(); d }
//! ```

pub mod categorical;
mod error;
pub mod incremental;
mod job;
pub mod lineage;
mod location;
pub mod monitoring;
pub mod outcomes;
pub mod postgres;
pub mod privacy;
pub mod raw;
pub mod risk;
pub mod rules;
mod run_id;
pub mod screening;
pub mod segments;
mod view;

pub use categorical::{CategoricalColumns, CategoricalSpec};
pub use error::{Problem, Problems, Result, SpecError, error_chain};
pub use job::{
    FEEDBACK_SOURCE, JobSpec, MODELS_TABLE, OutlierRule, PROFILES_TABLE, QualitySpec,
    RESERVED_TABLES, SEGMENTS_TABLE, SourceFormat, SourceSpec, sha256_hex,
};
pub use location::Location;
pub use privacy::{KeySource, PrivacySpec, PseudonymKey};
pub use risk::{BandSpec, BandTarget, RiskSpec};
pub use rules::{
    ALERTS_TABLE, Action, CASES_TABLE, DEFAULT_WEBHOOK_SECRET_ENV, PREVIOUS_SEGMENTS_TABLE,
    RuleSpec, RulesSpec, SegmentSelector, Severity, THRESHOLDS_TABLE, Thresholds, WebhookSpec,
};
pub use run_id::RunId;
pub use screening::{PartySpec, SCREENING_HITS_TABLE, ScreeningSpec};
pub use segments::SegmentsSpec;
pub use view::ViewSpec;
