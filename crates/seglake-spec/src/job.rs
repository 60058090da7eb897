use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::error::{Problem, Problems, Result, SpecError};
use crate::location::Location;
use crate::outcomes::OutcomeVocabulary;
use crate::raw::{RawFormat, RawJob, RawOutlierRule};
use crate::risk::RiskSpec;
use crate::rules::{
    ALERTS_TABLE, CASES_TABLE, PREVIOUS_SEGMENTS_TABLE, RulesSpec, THRESHOLDS_TABLE,
};
use crate::screening::SCREENING_HITS_TABLE;
use crate::segments::SegmentsSpec;
use crate::view::ViewSpec;

/// The segmentation a run publishes: one row per customer.
pub const SEGMENTS_TABLE: &str = "segments";
/// One row per segment: size, outcome rates, centres, z-scores.
pub const PROFILES_TABLE: &str = "segment_profiles";
/// The run's serialised models, one row each.
pub const MODELS_TABLE: &str = "models";

/// Tables every run may publish under the output root.
pub const RESERVED_TABLES: [&str; 11] = [
    "runs",
    "monitoring",
    SEGMENTS_TABLE,
    PROFILES_TABLE,
    MODELS_TABLE,
    SCREENING_HITS_TABLE,
    ALERTS_TABLE,
    CASES_TABLE,
    "segment_migrations",
    "erasures",
    FEEDBACK_SOURCE,
];

/// The lake's `feedback` table (written by `seglake serve`): every run
/// registers it under this name for its SQL, so a job cannot name a
/// source or view so.
pub const FEEDBACK_SOURCE: &str = "feedback";

/// A validated job: every path resolved, every SQL file read and hashed.
#[derive(Debug, Clone)]
pub struct JobSpec {
    /// The job file, absolute.
    pub path: PathBuf,
    /// The job file's text, as recorded in lineage.
    pub text: String,
    pub sha256: String,
    pub name: String,
    pub description: Option<String>,
    pub seed: u64,
    pub as_of: Option<DateTime<Utc>>,
    /// Sources in name order.
    pub sources: Vec<SourceSpec>,
    /// Feature views in the order they run.
    pub views: Vec<ViewSpec>,
    pub key: String,
    pub output_table: String,
    /// `[features] strict_determinism`: order-dependent SQL in a view is an
    /// error rather than a warning.
    pub strict_determinism: bool,
    /// `[features] categorical` and `max_categories`: the text columns
    /// both models read as categories.
    pub categorical: crate::categorical::CategoricalSpec,
    pub quality: QualitySpec,
    /// The `[segments]` section, when the job segments customers.
    pub segments: Option<crate::segments::SegmentsSpec>,
    /// The `[risk]` section, when the job scores risk.
    pub risk: Option<crate::risk::RiskSpec>,
    /// `[segments] outcomes` when it names an SQL file rather than a source
    /// or feature view: a view of its own, planned after the feature views.
    pub outcomes_view: Option<ViewSpec>,
    /// The `[outcomes]` section: which of the outcome table's codes stand
    /// for which outcome (seglake's own words without the section).
    pub outcome_vocabulary: OutcomeVocabulary,
    /// The `[privacy]` section: pseudonymised customer ids.
    pub privacy: crate::privacy::PrivacySpec,
    /// The `[screening]` section, when the job screens names against a
    /// sanctions list.
    pub screening: Option<crate::screening::ScreeningSpec>,
    /// The `[rules]` section, when the job raises alerts.
    pub rules: Option<RulesSpec>,
    /// The `[monitoring]` limits (none when the section is absent).
    pub monitoring: crate::monitoring::MonitoringSpec,
    pub output_root: Location,
}

impl JobSpec {
    /// Every SQL file the run executes: the feature views, the outcomes
    /// view, then the label view (which may read the outcomes view).
    pub fn sql_views(&self) -> impl Iterator<Item = &ViewSpec> {
        self.views
            .iter()
            .chain(self.outcomes_view.as_ref())
            .chain(self.risk.as_ref().map(|r| &r.labels))
    }

    /// Every SQL file the run reads, as its lineage records them: the
    /// views, the label view, then the rules.
    pub fn sql_files(&self) -> impl Iterator<Item = &ViewSpec> {
        self.sql_views().chain(
            self.rules
                .iter()
                .flat_map(|r| r.rules.iter().map(|rule| &rule.sql)),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    Parquet,
    Delta,
    Csv,
    /// A PostgreSQL table or query, snapshotted into the lake as Parquet
    /// at run start (the run reads the snapshot).
    Postgres,
}

impl SourceFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::Parquet => "parquet",
            SourceFormat::Delta => "delta",
            SourceFormat::Csv => "csv",
            SourceFormat::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub name: String,
    pub location: Location,
    pub format: SourceFormat,
    /// Delta only: the pinned version; the latest at run start when absent.
    pub version: Option<i64>,
    pub dedupe_on: Vec<String>,
    /// `format = "postgres"`: the database, table or query; `location` is
    /// then the database URI.
    pub postgres: Option<crate::postgres::PostgresSettings>,
}

impl SourceSpec {
    /// The source as the run reads a snapshot of it: Parquet files at
    /// `location`, under the same name, with the same deduplication.
    pub fn snapshot_at(&self, location: Location) -> SourceSpec {
        SourceSpec {
            location,
            format: SourceFormat::Parquet,
            version: None,
            postgres: None,
            ..self.clone()
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct QualitySpec {
    pub outliers: Vec<OutlierRule>,
}

/// Rows of `table` whose `column` lies outside `[below, above]` are flagged
/// (counted in lineage), not removed: the analyst decides what an outlier is.
#[derive(Debug, Clone)]
pub struct OutlierRule {
    pub name: String,
    pub table: String,
    pub column: String,
    pub above: Option<f64>,
    pub below: Option<f64>,
}

impl OutlierRule {
    /// The rule as a SQL predicate over its column, also shown in lineage.
    pub fn condition(&self) -> String {
        let col = format!("\"{}\"", self.column);
        match (self.below, self.above) {
            (Some(b), Some(a)) => format!("{col} < {b:?} OR {col} > {a:?}"),
            (Some(b), None) => format!("{col} < {b:?}"),
            (None, Some(a)) => format!("{col} > {a:?}"),
            (None, None) => unreachable!("validated: at least one bound"),
        }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl JobSpec {
    /// Reads and validates a job file. `vars` override the file's `[vars]`.
    pub fn load(path: &Path, vars: &BTreeMap<String, String>) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::ReadJob {
            path: path.to_path_buf(),
            source,
        })?;
        let abs = std::path::absolute(path).map_err(|source| SpecError::ReadJob {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_text(&abs, text, vars)
    }

    /// Validates job text as if it were read from `path` (absolute).
    pub fn from_text(path: &Path, text: String, vars: &BTreeMap<String, String>) -> Result<Self> {
        Self::parse(path, text, vars, None)
    }

    /// Rebuilds the spec of a past run from its lineage: the job text and
    /// every SQL file's text as recorded (keyed by the recorded path), so
    /// the run can be repeated even after the files on disk have changed.
    /// A SQL file the record lacks is an error naming it. Variables the
    /// job file does not define are left unresolved: the caller replaces
    /// the sources and output root with the recorded ones.
    pub fn from_recorded(
        path: &Path,
        text: String,
        sql_files: &BTreeMap<PathBuf, String>,
    ) -> Result<Self> {
        Self::parse(path, text, &BTreeMap::new(), Some(sql_files))
    }

    /// The spec a recorded run ran with, from its lineage alone. The
    /// recorded hashes are checked against the recorded texts, so a
    /// `runs` row edited after the fact is detected.
    pub fn from_run_record(record: &crate::lineage::RunRecord) -> Result<Self> {
        let path = PathBuf::from(&record.spec_path);
        let tampered = |what: String| SpecError::InvalidValue {
            path: path.clone(),
            key: "runs".into(),
            message: format!(
                "run {}: the recorded {what} does not match its recorded sha256",
                record.run_id
            ),
        };
        if sha256_hex(record.spec_text.as_bytes()) != record.spec_sha256 {
            return Err(tampered("job file".into()));
        }
        let mut sql = BTreeMap::new();
        for file in &record.sql_files {
            if sha256_hex(file.text.as_bytes()) != file.sha256 {
                return Err(tampered(format!("SQL file {}", file.path)));
            }
            sql.insert(PathBuf::from(&file.path), file.text.clone());
        }
        Self::from_recorded(&path, record.spec_text.clone(), &sql)
    }

    fn parse(
        path: &Path,
        text: String,
        vars: &BTreeMap<String, String>,
        recorded_sql: Option<&BTreeMap<PathBuf, String>>,
    ) -> Result<Self> {
        // Looked for before the typed parse: its error for an unknown key
        // quotes the line, which would print the secret.
        if let Ok(value) = toml::from_str::<toml::Value>(&text)
            && let Some(key) = credential_key(&value, "")
        {
            return Err(SpecError::InvalidValue {
                path: path.to_path_buf(),
                key,
                message: "credentials never go in a job file (it is stored in lineage and \
                          shown to every reader of `runs`): keep them in the environment or \
                          a file (S3: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or \
                          AWS_PROFILE; a webhook's signing secret: secret_env or secret_file)"
                    .to_string(),
            });
        }
        let raw: RawJob = toml::from_str(&text).map_err(|e| SpecError::Toml {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let v = Validator {
            path,
            base: path.parent().unwrap_or(Path::new("/")),
            recorded_sql,
        };
        v.validate(raw, text, vars)
    }
}

/// The dotted key of the first entry whose name says it holds a
/// credential, searching tables and arrays of tables. A key ending in
/// `_env` or `_file` names where a secret is kept (a variable, a path),
/// not the secret.
fn credential_key(value: &toml::Value, prefix: &str) -> Option<String> {
    const MARKERS: [&str; 9] = [
        "secret",
        "password",
        "passwd",
        "token",
        "access_key",
        "credential",
        "session",
        "api_key",
        "apikey",
    ];
    match value {
        toml::Value::Table(table) => table.iter().find_map(|(k, v)| {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            let lower = k.to_ascii_lowercase();
            let names_a_place = lower.ends_with("_env") || lower.ends_with("_file");
            if !names_a_place && MARKERS.iter().any(|m| lower.contains(m)) {
                Some(key)
            } else {
                credential_key(v, &key)
            }
        }),
        toml::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| credential_key(v, &format!("{prefix}[{i}]"))),
        _ => None,
    }
}

struct Validator<'a> {
    path: &'a Path,
    base: &'a Path,
    /// SQL texts from a run's lineage, used instead of the files on disk.
    recorded_sql: Option<&'a BTreeMap<PathBuf, String>>,
}

impl Validator<'_> {
    fn invalid(&self, key: impl Into<String>, message: impl Into<String>) -> SpecError {
        SpecError::InvalidValue {
            path: self.path.to_path_buf(),
            key: key.into(),
            message: message.into(),
        }
    }

    fn invalid_all(&self, problems: Vec<Problem>) -> SpecError {
        SpecError::InvalidValues {
            path: self.path.to_path_buf(),
            problems: Problems(problems),
        }
    }

    fn validate(
        &self,
        raw: RawJob,
        text: String,
        overrides: &BTreeMap<String, String>,
    ) -> Result<JobSpec> {
        let mut vars = raw.vars.clone();
        vars.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.check_name("job.name", &raw.job.name)?;
        let as_of = self.as_of(raw.job.as_of.as_deref())?;
        let sources = self.sources(&raw, &vars)?;
        let views = self.views(&raw)?;
        let tables: Vec<&str> = raw
            .sources
            .keys()
            .map(String::as_str)
            .chain(views.iter().map(|v| v.name.as_str()))
            .collect();
        let outliers = raw
            .quality
            .outliers
            .iter()
            .enumerate()
            .map(|(i, r)| self.outlier_rule(i, r, &tables))
            .collect::<Result<Vec<_>>>()?;
        let categorical = crate::categorical::validate(
            raw.features.categorical.as_ref(),
            raw.features.max_categories,
            &raw.features.key,
        )
        .map_err(|p| self.invalid(p.key, p.message))?;
        let outcomes_view = self.outcomes_view(&raw, &tables)?;
        let outcome_vocabulary = self.outcome_vocabulary(&raw)?;
        let mut model_tables = tables.clone();
        model_tables.extend(outcomes_view.as_ref().map(|v| v.name.as_str()));
        let (segments, risk) = self.models(&raw, &model_tables)?;
        let privacy = crate::privacy::validate(raw.privacy.as_ref(), self.base)
            .map_err(|(key, message)| self.invalid(key, message))?;
        let screening = match &raw.screening {
            None => None,
            Some(r) => {
                let names: Vec<&str> = raw.sources.keys().map(String::as_str).collect();
                let screening = crate::screening::validate(r, &names, &tables)
                    .map_err(|p| self.invalid_all(p))?;
                Some(screening)
            }
        };
        let rules = self.rules(&raw, &tables)?;
        let monitoring = match &raw.monitoring {
            None => Default::default(),
            Some(section) => {
                crate::monitoring::validate(section).map_err(|p| self.invalid_all(p))?
            }
        };
        let root = self.substitute("output.root", &raw.output.root, &vars)?;
        let output_root =
            Location::parse(&root, self.base).map_err(|m| self.invalid("output.root", m))?;
        Ok(JobSpec {
            path: self.path.to_path_buf(),
            sha256: sha256_hex(text.as_bytes()),
            text,
            name: raw.job.name,
            description: raw.job.description,
            seed: raw.job.seed,
            as_of,
            sources,
            views,
            key: raw.features.key,
            output_table: raw.features.output_table,
            strict_determinism: raw.features.strict_determinism,
            categorical,
            quality: QualitySpec { outliers },
            segments,
            risk,
            outcomes_view,
            outcome_vocabulary,
            privacy,
            screening,
            rules,
            monitoring,
            output_root,
        })
    }

    /// `[segments] outcomes`: a source or feature view as it is, or else the
    /// SQL file of that name in the views' folder, read as a view of its own
    /// (so a bank derives outcomes from its case or loan tables in SQL).
    fn outcomes_view(&self, raw: &RawJob, tables: &[&str]) -> Result<Option<ViewSpec>> {
        let Some(name) = raw.segments.as_ref().and_then(|s| s.outcomes.as_deref()) else {
            return Ok(None);
        };
        if tables.contains(&name) {
            return Ok(None);
        }
        let dir = self.base.join(&raw.features.sql_dir);
        let file = dir.join(format!("{}.sql", name.strip_suffix(".sql").unwrap_or(name)));
        if self.recorded_sql.is_none() && !file.is_file() {
            return Err(self.invalid(
                "segments.outcomes",
                format!(
                    "`{name}` is not a source or feature view ({}), and there is no SQL file {}; \
                     SQL files in {}: {}",
                    tables.join(", "),
                    file.display(),
                    dir.display(),
                    list_sql_files(&dir)
                ),
            ));
        }
        let view = self.read_view(&dir, "segments.outcomes".into(), name)?;
        if RESERVED_TABLES.contains(&view.name.as_str()) || view.name == FEEDBACK_SOURCE {
            return Err(self.invalid(
                "segments.outcomes",
                format!(
                    "`{}` is a table seglake registers itself; rename the view",
                    view.name
                ),
            ));
        }
        Ok(Some(view))
    }

    /// The `[outcomes]` section, which only means something beside the
    /// outcome table it describes.
    fn outcome_vocabulary(&self, raw: &RawJob) -> Result<OutcomeVocabulary> {
        let Some(section) = &raw.outcomes else {
            return Ok(OutcomeVocabulary::default());
        };
        if raw
            .segments
            .as_ref()
            .and_then(|s| s.outcomes.as_ref())
            .is_none()
        {
            return Err(self.invalid(
                "outcomes",
                "maps the codes of the outcome table, which `[segments] outcomes` names; \
                 name it there",
            ));
        }
        crate::outcomes::validate(section).map_err(|p| self.invalid_all(p))
    }

    /// The `[rules]` section: every rule's SQL file read, every problem
    /// reported at once.
    fn rules(&self, raw: &RawJob, tables: &[&str]) -> Result<Option<RulesSpec>> {
        let Some(rules) = &raw.rules else {
            return Ok(None);
        };
        if raw.segments.is_none() {
            return Err(self.invalid(
                "rules",
                "rules read the run's `segments`: add a [segments] section",
            ));
        }
        for name in [THRESHOLDS_TABLE, PREVIOUS_SEGMENTS_TABLE] {
            if tables.contains(&name) {
                return Err(self.invalid(
                    "rules",
                    format!("a source or view is named `{name}`, a table the rules read"),
                ));
            }
        }
        let dir = self.base.join(&rules.sql_dir);
        if self.recorded_sql.is_none() && !dir.is_dir() {
            return Err(self.invalid(
                "rules.sql_dir",
                format!("{} is not a folder", dir.display()),
            ));
        }
        let mut checked = Vec::new();
        for (i, rule) in rules.rules.iter().enumerate() {
            let sql = self.read_view(&dir, format!("rules.rule[{i}].name"), &rule.name)?;
            checked.push(crate::rules::CheckedRule { raw: rule, sql });
        }
        crate::rules::validate(rules, checked, self.base)
            .map(Some)
            .map_err(|p| self.invalid_all(p))
    }

    /// `job.as_of`, an RFC 3339 time, when the job fixes one.
    fn as_of(&self, text: Option<&str>) -> Result<Option<DateTime<Utc>>> {
        let Some(s) = text else {
            return Ok(None);
        };
        let time = DateTime::parse_from_rfc3339(s).map_err(|e| {
            self.invalid(
                "job.as_of",
                format!("`{s}` is not an RFC 3339 time such as 2026-01-01T00:00:00Z: {e}"),
            )
        })?;
        Ok(Some(time.with_timezone(&Utc)))
    }

    /// Every `[sources.NAME]`, in name order.
    fn sources(&self, raw: &RawJob, vars: &BTreeMap<String, String>) -> Result<Vec<SourceSpec>> {
        if raw.sources.is_empty() {
            return Err(self.invalid("sources", "a job needs at least one source"));
        }
        raw.sources
            .iter()
            .map(|(name, s)| self.source(name, s, vars))
            .collect()
    }

    fn source(
        &self,
        name: &str,
        s: &crate::raw::RawSource,
        vars: &BTreeMap<String, String>,
    ) -> Result<SourceSpec> {
        let key = format!("sources.{name}");
        self.check_name(&key, name)?;
        if name == FEEDBACK_SOURCE {
            return Err(self.invalid(
                key,
                "every run reads the lake's own `feedback` table under this name; \
                 choose another source name",
            ));
        }
        let uri = self.substitute(&format!("{key}.uri"), &s.uri, vars)?;
        if s.format == RawFormat::Postgres {
            return self.postgres_source(name, &key, s, &uri);
        }
        let misplaced = crate::postgres::misplaced_keys(s);
        if let Some(first) = misplaced.first() {
            return Err(self.invalid(
                format!("{key}.{first}"),
                format!(
                    "{} only apply to postgres sources",
                    misplaced
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let location =
            Location::parse(&uri, self.base).map_err(|m| self.invalid(format!("{key}.uri"), m))?;
        let format = match s.format {
            RawFormat::Parquet => SourceFormat::Parquet,
            RawFormat::Delta => SourceFormat::Delta,
            RawFormat::Csv => SourceFormat::Csv,
            RawFormat::Postgres => unreachable!("handled above"),
        };
        if let Some(v) = s.version {
            if format != SourceFormat::Delta {
                return Err(self.invalid(
                    format!("{key}.version"),
                    format!(
                        "only Delta sources have versions; this source is {}",
                        format.as_str()
                    ),
                ));
            }
            if v < 0 {
                return Err(self.invalid(format!("{key}.version"), format!("{v} is negative")));
            }
        }
        Ok(SourceSpec {
            name: name.to_string(),
            location,
            format,
            version: s.version,
            dedupe_on: s.dedupe_on.clone(),
            postgres: None,
        })
    }

    /// A `format = "postgres"` source: its location is the database URI
    /// (checked to carry no password), its settings checked offline.
    fn postgres_source(
        &self,
        name: &str,
        key: &str,
        s: &crate::raw::RawSource,
        uri: &str,
    ) -> Result<SourceSpec> {
        let settings = crate::postgres::settings(key, s, uri, self.base)
            .map_err(|problems| self.invalid_all(problems))?;
        let url =
            url::Url::parse(uri).map_err(|e| self.invalid(format!("{key}.uri"), e.to_string()))?;
        Ok(SourceSpec {
            name: name.to_string(),
            location: Location::Url(url),
            format: SourceFormat::Postgres,
            version: None,
            dedupe_on: s.dedupe_on.clone(),
            postgres: Some(settings),
        })
    }

    /// The feature views, and the names the feature table may not take.
    fn views(&self, raw: &RawJob) -> Result<Vec<ViewSpec>> {
        let views = self.read_views(raw)?;
        for view in &views {
            if view.name == FEEDBACK_SOURCE {
                return Err(self.invalid(
                    "features.views",
                    "a view cannot be called `feedback`: every run registers the lake's \
                     feedback table under that name",
                ));
            }
            if raw.sources.contains_key(&view.name) {
                return Err(self.invalid(
                    "features.views",
                    format!("view `{}` has the same name as a source", view.name),
                ));
            }
        }
        self.check_name("features.key", &raw.features.key)?;
        self.check_name("features.output_table", &raw.features.output_table)?;
        if RESERVED_TABLES.contains(&raw.features.output_table.as_str()) {
            return Err(self.invalid(
                "features.output_table",
                format!(
                    "`{}` is a table seglake publishes itself ({}); choose another",
                    raw.features.output_table,
                    RESERVED_TABLES.join(", ")
                ),
            ));
        }
        Ok(views)
    }

    /// The `[segments]` and `[risk]` sections; every bad parameter of both
    /// is reported at once. `tables` are the sources and views, which the
    /// label view may not be named after.
    fn models(
        &self,
        raw: &RawJob,
        tables: &[&str],
    ) -> Result<(Option<SegmentsSpec>, Option<RiskSpec>)> {
        let mut problems = Vec::new();
        let segments = raw.segments.as_ref().and_then(|r| {
            crate::segments::validate(r, raw.job.seed)
                .map_err(|p| problems.extend(p))
                .ok()
        });
        let risk = match &raw.risk {
            None => None,
            Some(r) => {
                let dir = self.base.join(&raw.features.sql_dir);
                let labels = self.read_view(&dir, "risk.labels".into(), &r.labels)?;
                if tables.contains(&labels.name.as_str()) {
                    return Err(self.invalid(
                        "risk.labels",
                        format!("`{}` is already a source or feature view", labels.name),
                    ));
                }
                crate::risk::validate(r, labels, raw.segments.is_some(), raw.job.seed)
                    .map_err(|p| problems.extend(p))
                    .ok()
            }
        };
        if !problems.is_empty() {
            return Err(self.invalid_all(problems));
        }
        Ok((segments, risk))
    }

    /// Reads the SQL file of view `name` (`.sql` optional) from `dir`.
    fn read_view(&self, dir: &Path, key: String, name: &str) -> Result<ViewSpec> {
        let name = name.strip_suffix(".sql").unwrap_or(name);
        self.check_name(&key, name)?;
        let file = dir.join(format!("{name}.sql"));
        if let Some(recorded) = self.recorded_sql {
            let sql = recorded.get(&file).ok_or_else(|| {
                self.invalid(
                    key.clone(),
                    format!("the run's lineage records no SQL file {}", file.display()),
                )
            })?;
            return Ok(ViewSpec {
                name: name.to_string(),
                sha256: sha256_hex(sql.as_bytes()),
                path: file,
                sql: sql.clone(),
                materialize: false,
                incremental: None,
            });
        }
        if !file.is_file() {
            return Err(SpecError::MissingSqlFile {
                path: self.path.to_path_buf(),
                key,
                file,
                available: list_sql_files(dir),
                dir: dir.to_path_buf(),
            });
        }
        let sql = std::fs::read_to_string(&file).map_err(|source| SpecError::ReadSql {
            path: self.path.to_path_buf(),
            key: key.clone(),
            file: file.clone(),
            source,
        })?;
        Ok(ViewSpec {
            name: name.to_string(),
            sha256: sha256_hex(sql.as_bytes()),
            path: file,
            sql,
            materialize: false,
            incremental: None,
        })
    }

    fn read_views(&self, raw: &RawJob) -> Result<Vec<ViewSpec>> {
        let dir = self.base.join(&raw.features.sql_dir);
        if self.recorded_sql.is_none() && !dir.is_dir() {
            return Err(self.invalid(
                "features.sql_dir",
                format!("{} is not a folder", dir.display()),
            ));
        }
        if raw.features.views.is_empty() {
            return Err(self.invalid("features.views", "list at least one view"));
        }
        let mut views: Vec<ViewSpec> = Vec::new();
        for (i, name) in raw.features.views.iter().enumerate() {
            let key = format!("features.views[{i}]");
            let view = self.read_view(&dir, key.clone(), name)?;
            if views.iter().any(|v| v.name == view.name) {
                return Err(self.invalid(key, format!("view `{}` is listed twice", view.name)));
            }
            views.push(view);
        }
        let last = views.len() - 1;
        for (i, name) in raw.features.materialize.iter().enumerate() {
            let key = format!("features.materialize[{i}]");
            match views.iter().position(|v| &v.name == name) {
                Some(p) if p == last => {
                    return Err(self.invalid(
                        key,
                        format!("`{name}` is the feature table itself; list only views that later views read"),
                    ));
                }
                Some(p) => views[p].materialize = true,
                None => {
                    let names: Vec<&str> = views.iter().map(|v| v.name.as_str()).collect();
                    return Err(self.invalid(
                        key,
                        format!("`{name}` is not one of the views: {}", names.join(", ")),
                    ));
                }
            }
        }
        self.mark_incremental(raw, &mut views)?;
        Ok(views)
    }

    /// Marks the views `[[features.incremental]]` lists.
    fn mark_incremental(&self, raw: &RawJob, views: &mut [ViewSpec]) -> Result<()> {
        let sources: Vec<(&str, &str)> = raw
            .sources
            .iter()
            .map(|(name, s)| {
                let format = match s.format {
                    crate::raw::RawFormat::Parquet => "parquet",
                    crate::raw::RawFormat::Delta => "delta",
                    crate::raw::RawFormat::Csv => "csv",
                    crate::raw::RawFormat::Postgres => "postgres",
                };
                (name.as_str(), format)
            })
            .collect();
        let mut problems = Vec::new();
        for (i, entry) in raw.features.incremental.iter().enumerate() {
            let listed: Vec<(&str, bool)> = views
                .iter()
                .map(|v| (v.name.as_str(), v.materialize))
                .collect();
            match crate::incremental::validate(i, entry, &listed, &sources) {
                Ok(spec) => {
                    let view = views
                        .iter_mut()
                        .find(|v| v.name == entry.view)
                        .expect("validated: a listed view");
                    if view.incremental.is_some() {
                        problems.push(Problem {
                            key: format!("features.incremental[{i}].view"),
                            message: format!("`{}` is listed twice", entry.view),
                        });
                    }
                    view.incremental = Some(spec);
                }
                Err(found) => problems.extend(found),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(self.invalid_all(problems))
        }
    }

    fn outlier_rule(&self, i: usize, r: &RawOutlierRule, tables: &[&str]) -> Result<OutlierRule> {
        let key = format!("quality.outliers[{i}]");
        self.check_name(&format!("{key}.name"), &r.name)?;
        if !tables.contains(&r.table.as_str()) {
            return Err(self.invalid(
                format!("{key}.table"),
                format!(
                    "unknown table `{}`; sources and views: {}",
                    r.table,
                    tables.join(", ")
                ),
            ));
        }
        if r.above.is_none() && r.below.is_none() {
            return Err(self.invalid(key, "give `above`, `below` or both"));
        }
        for (k, v) in [("above", r.above), ("below", r.below)] {
            if let Some(v) = v
                && !v.is_finite()
            {
                return Err(
                    self.invalid(format!("{key}.{k}"), format!("{v} is not a finite number"))
                );
            }
        }
        Ok(OutlierRule {
            name: r.name.clone(),
            table: r.table.clone(),
            column: r.column.clone(),
            above: r.above,
            below: r.below,
        })
    }

    /// Names become SQL identifiers and folder names, so they are kept to
    /// lower-case letters, digits and underscores.
    fn check_name(&self, key: &str, name: &str) -> Result<()> {
        let ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if ok {
            Ok(())
        } else {
            Err(self.invalid(
                key,
                format!("`{name}` must be lower-case letters, digits and underscores, starting with a letter"),
            ))
        }
    }

    fn substitute(&self, key: &str, text: &str, vars: &BTreeMap<String, String>) -> Result<String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| self.invalid(key, format!("unclosed `${{` in `{text}`")))?;
            let name = &after[..end];
            // A recorded run's sources and output root are replaced by
            // what its lineage recorded, so a variable it was given on the
            // command line is not needed again.
            if self.recorded_sql.is_some() && !vars.contains_key(name) {
                out.push_str(&format!("unset-variable-{name}"));
                rest = &after[end + 1..];
                continue;
            }
            let value = vars.get(name).ok_or_else(|| {
                let known: Vec<&str> = vars.keys().map(String::as_str).collect();
                self.invalid(
                    key,
                    format!(
                        "unknown variable `{name}`; defined: {} (set one with [vars] or --var {name}=VALUE)",
                        if known.is_empty() { "none".to_string() } else { known.join(", ") }
                    ),
                )
            })?;
            out.push_str(value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn list_sql_files(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.strip_suffix(".sql").map(str::to_string)
        })
        .collect();
    names.sort();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests;
