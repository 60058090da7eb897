//! `seglake compare`: a champion and a challenger run of one job side by
//! side, so that a promotion is decided on evidence rather than on the
//! `[monitoring]` limit that made the challenger one:
//!
//! - band agreement: on the customers both runs segmented, a matrix of
//!   champion band x challenger band and the share in the same band;
//! - alert volume: the customers each model puts in an alerting band (every
//!   band but the default one) and, when the lake has `alerts`, the alerts
//!   each run raised;
//! - hit rates, once outcomes arrive: of the customers each model puts in
//!   an alerting band and whose suspicion has been decided (a closed case,
//!   an analyst's disposition), the share confirmed.
//!
//! The runs default to the job's champion now and its latest challenger
//! (see [`crate::champion`]); each is read as it published `segments`
//! (following erasures). Outcomes are the ones the lake knows now, from
//! the latest `cases` and `feedback`, whatever the runs' `as_of`: a
//! promotion is judged on everything decided so far.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use chrono::{DateTime, NaiveTime, SecondsFormat, Utc};
use seglake_lake::cases::{CONFIRMING_OUTCOMES, CaseState, decode_cases, plain_strings};
use seglake_lake::feedback::{CUSTOMER_COLUMN, FEEDBACK_TABLE, KIND_DISPOSITION, OUTCOMES};
use seglake_spec::lineage::{RunRecord, RunStatus};
use seglake_spec::{ALERTS_TABLE, CASES_TABLE, JobSpec, RiskSpec};
use serde::{Deserialize, Serialize};

use crate::champion::{CHALLENGER, champion, latest_challenger, promotion_of, role_when_published};
use crate::error::{AuditError, Result};
use crate::lake::{Lake, SEGMENTS, decode_rows};

/// Which runs to compare; `None` takes the default.
#[derive(Debug, Clone, Default)]
pub struct CompareOptions {
    /// By default the job of the runs named, or the lake's only job.
    pub job: Option<String>,
    /// By default the job's champion now.
    pub champion: Option<String>,
    /// By default the job's latest challenger.
    pub challenger: Option<String>,
}

/// The two runs side by side.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub job: String,
    pub champion: ComparedRun,
    pub challenger: ComparedRun,
    /// `None` when a run has no risk bands; `no_band_agreement` says which.
    pub band_agreement: Option<BandAgreement>,
    pub no_band_agreement: Option<String>,
    pub alert_volume: Pair<AlertVolume>,
    pub hit_rates: HitRates,
}

/// One figure for each model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pair<T> {
    pub champion: T,
    pub challenger: T,
}

/// One of the two runs, as read.
#[derive(Debug, Clone, Serialize)]
pub struct ComparedRun {
    pub run_id: String,
    pub as_of: DateTime<Utc>,
    /// `champion` or `challenger`: what its `[monitoring]` limits made it.
    pub role_when_published: String,
    /// Whether its models are the job's champion now.
    pub champion_now: bool,
    /// The `segments` version read (after following erasures).
    pub segments_version: i64,
    pub customers: usize,
    /// Its risk bands, riskiest first, the default band last; empty when
    /// the run's job had no `[risk]` section.
    pub bands: Vec<String>,
    /// Every band but the default one.
    pub alerting_bands: Vec<String>,
}

/// How far the two models' bands agree on the customers both segmented.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BandAgreement {
    /// The rows and columns of `matrix`, riskiest first: the champion's
    /// alerting bands with the challenger's own placed where it ranks
    /// them, then the default bands.
    pub bands: Vec<String>,
    /// `matrix[i][j]`: customers in `bands[i]` under the champion and in
    /// `bands[j]` under the challenger.
    pub matrix: Vec<Vec<usize>>,
    /// Customers in both segmentations with a band in each.
    pub compared: usize,
    pub same_band: usize,
    /// `same_band / compared`; `None` when none were compared.
    pub agreement: Option<f64>,
    /// Compared customers the challenger puts in a riskier band.
    pub challenger_riskier: usize,
    pub challenger_less_risky: usize,
    /// Customers only one of the two segmented.
    pub only_champion: usize,
    pub only_challenger: usize,
    /// Customers in both without a band in one of them.
    pub without_band: usize,
}

/// How many customers a model would put in front of analysts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertVolume {
    pub customers: usize,
    /// Customers in an alerting band; `None` without risk bands.
    pub in_alerting_band: Option<usize>,
    pub share: Option<f64>,
    /// Rows of `alerts` with the run's id, and the customers they name;
    /// `None` when the lake has no `alerts` table.
    pub alerts_raised: Option<usize>,
    pub customers_alerted: Option<usize>,
}

/// Of a group of customers a model alerts on, those decided and confirmed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HitRate {
    pub alerted: usize,
    /// Of `alerted`, those with a decided outcome.
    pub decided: usize,
    /// Of `decided`, those whose suspicion was confirmed.
    pub confirmed: usize,
    /// `confirmed / decided`; `None` when none is decided.
    pub hit_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HitRates {
    /// The tables outcomes were read from (`cases`, `feedback`).
    pub sources: Vec<String>,
    /// Customers with a decided outcome, and those of them confirmed.
    pub decided: usize,
    pub confirmed: usize,
    /// Over each model's alerting bands; `None` for a model without bands.
    pub models: Pair<Option<HitRate>>,
    /// Over the customers one model alerts on and the other does not:
    /// where the two differ. `None` unless both have bands.
    pub alerted_by_one_only: Option<Pair<HitRate>>,
}

/// A customer (the published key) and their band (`None`: no band).
type Banded = (String, Option<String>);

/// Compares the champion and the challenger `options` name or imply.
pub async fn compare(lake: &Lake, options: &CompareOptions) -> Result<Comparison> {
    let rows = lake.runs_and_promotions().await?;
    let (champion_run, challenger_run) = resolve(lake, &rows, options)?;
    let job = champion_run.job_name.clone();
    let now = champion(&rows, Some(&job)).map(|r| r.run_id.as_str());
    let alerts = read_alerts(lake).await?;
    let a = read_side(lake, champion_run, now, alerts.as_deref()).await?;
    let b = read_side(lake, challenger_run, now, alerts.as_deref()).await?;
    let (outcomes, sources) = read_outcomes(lake).await?;
    Ok(assemble(job, a, b, &outcomes, sources))
}

// ---------------------------------------------------------------------------
// Which runs

/// A run that can be compared: it succeeded and published `segments` (a
/// failed run may have published some tables, but no models).
fn has_models(run: &RunRecord) -> bool {
    run.status == RunStatus::Succeeded && run.outputs.iter().any(|o| o.table == SEGMENTS)
}

/// The champion and the challenger: named, or the job's defaults; both of
/// one job, and not the same run.
fn resolve<'a>(
    lake: &Lake,
    rows: &'a [RunRecord],
    o: &CompareOptions,
) -> Result<(&'a RunRecord, &'a RunRecord)> {
    let named = |id: &Option<String>, flag: &str| {
        id.as_deref()
            .map(|id| named_run(lake, rows, id, flag))
            .transpose()
    };
    let named_champion = named(&o.champion, "--champion")?;
    let named_challenger = named(&o.challenger, "--challenger")?;
    let job = match (&o.job, named_champion.or(named_challenger)) {
        (Some(job), _) => known_job(lake, rows, job)?,
        (None, Some(run)) => run.job_name.clone(),
        (None, None) => only_job(lake, rows)?,
    };
    let champion_run = match named_champion {
        Some(run) => run,
        None => default_champion(rows, &job)?,
    };
    let challenger_run = match named_challenger {
        Some(run) => run,
        None => default_challenger(rows, &job)?,
    };
    check_pair(&job, champion_run, challenger_run)?;
    Ok((champion_run, challenger_run))
}

/// The run `id` passed as `flag`; an unknown id, a promotion, a failed run
/// or one without `segments` is an error naming it.
fn named_run<'a>(
    lake: &Lake,
    rows: &'a [RunRecord],
    id: &str,
    flag: &str,
) -> Result<&'a RunRecord> {
    let Some(run) = rows.iter().find(|r| r.run_id == id) else {
        let latest: Vec<&str> = rows
            .iter()
            .rev()
            .filter(|r| has_models(r))
            .take(5)
            .map(|r| r.run_id.as_str())
            .collect();
        return Err(AuditError::NotFound(format!(
            "{flag} {id}: no run `{id}` in {}/runs; the latest runs with models are: {}",
            lake.root.display(),
            list_or_none(&latest)
        )));
    };
    if run.status == RunStatus::Promotion {
        let promoted = promotion_of(run).map_or_else(|| "the promoted run".into(), |p| p.run_id);
        return Err(AuditError::Invalid(format!(
            "{flag} {id} is a promotion, not a run: pass the id of {promoted}"
        )));
    }
    if !has_models(run) {
        let why = match run.status {
            RunStatus::Failed => "failed".to_string(),
            _ => "published no `segments`".to_string(),
        };
        return Err(AuditError::Invalid(format!(
            "{flag} {id}: run {id} {why}; only a succeeded run that published `{SEGMENTS}` \
             has models to compare"
        )));
    }
    Ok(run)
}

/// `job`, if `runs` knows it; else an error listing the jobs there.
fn known_job(lake: &Lake, rows: &[RunRecord], job: &str) -> Result<String> {
    if rows.iter().any(|r| r.job_name == job) {
        return Ok(job.to_string());
    }
    let jobs: BTreeSet<String> = rows.iter().map(|r| format!("`{}`", r.job_name)).collect();
    Err(AuditError::NotFound(format!(
        "no job `{job}` in {}/runs; jobs there: {}",
        lake.root.display(),
        list_or_none(&jobs.into_iter().collect::<Vec<_>>())
    )))
}

fn list_or_none<T: AsRef<str>>(items: &[T]) -> String {
    if items.is_empty() {
        return "none".into();
    }
    let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    items.join(", ")
}

/// With neither `--job` nor a run named, the only job that has models: a
/// lake of several jobs must say which, rather than have one picked.
fn only_job(lake: &Lake, rows: &[RunRecord]) -> Result<String> {
    let jobs: BTreeSet<&str> = rows
        .iter()
        .filter(|r| has_models(r))
        .map(|r| r.job_name.as_str())
        .collect();
    match jobs.len() {
        1 => Ok(jobs.into_iter().next().expect("one job").to_string()),
        0 => Err(AuditError::NotFound(format!(
            "no run in {} has published `{SEGMENTS}` yet: there are no models to compare",
            lake.root.display()
        ))),
        _ => {
            let names: Vec<String> = jobs.iter().map(|j| format!("`{j}`")).collect();
            Err(AuditError::Invalid(format!(
                "the lake holds runs of several jobs ({}): pass --job NAME",
                names.join(", ")
            )))
        }
    }
}

fn default_champion<'a>(rows: &'a [RunRecord], job: &str) -> Result<&'a RunRecord> {
    champion(rows, Some(job)).ok_or_else(|| {
        AuditError::NotFound(format!(
            "no champion for job `{job}`: none of its runs published `{SEGMENTS}` within its \
             [monitoring] limits and none was promoted; pass --champion RUN_ID"
        ))
    })
}

/// The latest challenger; when there is none, the error tells a job that
/// never had one from one whose challengers were promoted or overtaken.
fn default_challenger<'a>(rows: &'a [RunRecord], job: &str) -> Result<&'a RunRecord> {
    latest_challenger(rows, Some(job)).ok_or_else(|| {
        let ever = rows
            .iter()
            .any(|r| r.job_name == job && has_models(r) && role_when_published(r) == CHALLENGER);
        AuditError::NotFound(if ever {
            format!(
                "no challenger for job `{job}`: its challengers were promoted or a newer \
                 champion replaced them; pass --challenger RUN_ID to compare with another run"
            )
        } else {
            format!(
                "no challenger: every run of job `{job}` stayed within its [monitoring] limits; \
                 pass --challenger RUN_ID to compare with another run"
            )
        })
    })
}

fn check_pair(job: &str, a: &RunRecord, b: &RunRecord) -> Result<()> {
    for run in [a, b] {
        if run.job_name != job {
            return Err(AuditError::Invalid(format!(
                "run {} is of job `{}`, not `{job}`: compare two runs of the same job",
                run.run_id, run.job_name
            )));
        }
    }
    if a.run_id == b.run_id {
        return Err(AuditError::Invalid(format!(
            "the champion and the challenger are both run {}: pass --champion or --challenger \
             RUN_ID to compare it with another run of job `{job}`",
            a.run_id
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Reading the lake

/// A column to keep: by position (a key column, named by the job) or by name.
enum Column<'a> {
    At(usize),
    Named(&'a str),
}

/// `batches` with only `columns`, renamed, strings plain: rows then decode
/// into a small struct whatever the job calls its key, without decoding
/// the columns not needed. A missing named column is left out (an
/// `Option` field then reads `None`).
fn project(
    batches: &[RecordBatch],
    columns: &[(Column<'_>, &str)],
    table: &str,
) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    for batch in batches {
        let schema = batch.schema();
        let mut fields: Vec<Field> = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::new();
        for (column, name) in columns {
            let index = match column {
                Column::At(i) => Some(*i).filter(|i| *i < schema.fields().len()),
                Column::Named(n) => schema.index_of(n).ok(),
            };
            if let Some(i) = index {
                fields.push(schema.field(i).clone().with_name(*name));
                arrays.push(batch.column(i).clone());
            }
        }
        // The row count is explicit: a batch may keep no column at all.
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        let kept =
            RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &options)
                .map_err(|error| AuditError::Arrow {
                    context: format!("reading `{table}`"),
                    error,
                })?;
        out.push(plain_strings(&kept));
    }
    Ok(out)
}

#[derive(Deserialize)]
struct SegmentRow {
    key: String,
    risk_band: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AlertRow {
    key: String,
    run_id: String,
}

#[derive(Deserialize)]
struct FeedbackRow {
    key: String,
    kind: String,
    outcome: Option<String>,
}

/// One run as read: what the report says of it, its customers' bands, and
/// (alerts raised, customers alerted) when the lake has `alerts`.
#[derive(Debug)]
struct Side {
    run: ComparedRun,
    rows: Vec<Banded>,
    alerts: Option<(usize, usize)>,
}

async fn read_side(
    lake: &Lake,
    run: &RunRecord,
    champion_now: Option<&str>,
    alerts: Option<&[AlertRow]>,
) -> Result<Side> {
    // The bands and their order are the run's own: a challenger may have
    // been trained from a job file that changed them.
    let spec = JobSpec::from_run_record(run).map_err(|source| AuditError::RecordedSpec {
        run_id: run.run_id.clone(),
        source,
    })?;
    let bands = spec.risk.as_ref().map(band_names).unwrap_or_default();
    let (_, version) = lake.version_of(run, SEGMENTS).await?;
    let batches = lake.read(SEGMENTS, Some(version)).await?;
    // The key is the first column of `segments`, as `diff` reads it.
    let columns = [
        (Column::At(0), "key"),
        (Column::Named("risk_band"), "risk_band"),
    ];
    let batches = project(&batches, &columns, SEGMENTS)?;
    let decoded: Vec<SegmentRow> =
        decode_rows(&batches, &format!("`{SEGMENTS}` version {version}"))?;
    let rows: Vec<Banded> = decoded.into_iter().map(|r| (r.key, r.risk_band)).collect();
    let alerting_bands = bands
        .split_last()
        .map(|(_, a)| a.to_vec())
        .unwrap_or_default();
    Ok(Side {
        run: ComparedRun {
            run_id: run.run_id.clone(),
            as_of: run.as_of,
            role_when_published: role_when_published(run).to_string(),
            champion_now: champion_now == Some(run.run_id.as_str()),
            segments_version: version,
            customers: rows.len(),
            bands,
            alerting_bands,
        },
        rows,
        alerts: alerts.map(|a| alerts_of(a, &run.run_id)),
    })
}

/// The bands of `risk`, riskiest first, the default band last.
fn band_names(risk: &RiskSpec) -> Vec<String> {
    let mut names: Vec<String> = risk.bands.iter().map(|b| b.name.clone()).collect();
    names.push(risk.default_band.clone());
    names
}

/// Every alert in the lake (the latest `alerts` holds every alert raised
/// so far); `None` when no run has published `alerts`.
async fn read_alerts(lake: &Lake) -> Result<Option<Vec<AlertRow>>> {
    if !lake.has_table(ALERTS_TABLE) {
        return Ok(None);
    }
    let batches = lake.read(ALERTS_TABLE, None).await?;
    // The key column follows `alert_id` and is named by the job.
    let columns = [(Column::At(1), "key"), (Column::Named("run_id"), "run_id")];
    let batches = project(&batches, &columns, ALERTS_TABLE)?;
    Ok(Some(decode_rows(
        &batches,
        &format!("the `{ALERTS_TABLE}` table"),
    )?))
}

/// The decided outcomes (customer -> confirmed) from the latest `cases`
/// and `feedback`, with the tables they came from.
async fn read_outcomes(lake: &Lake) -> Result<(BTreeMap<String, bool>, Vec<String>)> {
    let mut sources = Vec::new();
    let mut cases = Vec::new();
    if lake.has_table(CASES_TABLE) {
        let batches = lake.read(CASES_TABLE, None).await?;
        let rows = decode_cases(&batches)
            .map_err(|m| AuditError::Invalid(format!("`{CASES_TABLE}` (latest version): {m}")))?;
        cases = rows.into_iter().map(|c| (c.key, c.state)).collect();
        sources.push(CASES_TABLE.to_string());
    }
    let mut dispositions = Vec::new();
    if lake.has_table(FEEDBACK_TABLE) {
        let batches = lake.read(FEEDBACK_TABLE, None).await?;
        let columns = [
            (Column::Named(CUSTOMER_COLUMN), "key"),
            (Column::Named("kind"), "kind"),
            (Column::Named("outcome"), "outcome"),
        ];
        let batches = project(&batches, &columns, FEEDBACK_TABLE)?;
        let rows: Vec<FeedbackRow> =
            decode_rows(&batches, &format!("the `{FEEDBACK_TABLE}` table"))?;
        dispositions = rows
            .into_iter()
            .filter(|r| r.kind == KIND_DISPOSITION)
            .filter_map(|r| Some((r.key, r.outcome?)))
            .collect();
        sources.push(FEEDBACK_TABLE.to_string());
    }
    Ok((decided_outcomes(&cases, &dispositions), sources))
}

// ---------------------------------------------------------------------------
// The figures (pure)

/// The report from the two runs as read and the outcomes known.
fn assemble(
    job: String,
    a: Side,
    b: Side,
    outcomes: &BTreeMap<String, bool>,
    sources: Vec<String>,
) -> Comparison {
    let banded = !a.run.bands.is_empty() && !b.run.bands.is_empty();
    let (band_agreement, no_band_agreement) = if banded {
        let seen = a.rows.iter().chain(&b.rows).filter_map(|r| r.1.as_deref());
        let order = band_order(&a.run.bands, &b.run.bands, seen);
        (Some(band_agreement(&a.rows, &b.rows, &order)), None)
    } else {
        (None, Some(no_bands_reason(&a.run, &b.run)))
    };
    let (alerted_a, alerted_b) = (alerted_by(&a), alerted_by(&b));
    let alert_volume = Pair {
        champion: volume(&a, alerted_a.as_ref()),
        challenger: volume(&b, alerted_b.as_ref()),
    };
    let hit_rates = hit_rates(alerted_a.as_ref(), alerted_b.as_ref(), outcomes, sources);
    Comparison {
        job,
        champion: a.run,
        challenger: b.run,
        band_agreement,
        no_band_agreement,
        alert_volume,
        hit_rates,
    }
}

fn no_bands_reason(a: &ComparedRun, b: &ComparedRun) -> String {
    match (a.bands.is_empty(), b.bands.is_empty()) {
        (true, true) => "neither run has risk bands (their job had no [risk] section)".into(),
        (true, false) => format!(
            "the champion run {} has no risk bands (its job had no [risk] section)",
            a.run_id
        ),
        _ => format!(
            "the challenger run {} has no risk bands (its job had no [risk] section)",
            b.run_id
        ),
    }
}

/// One order for both models' bands, riskiest first, so that "riskier"
/// means "earlier": the champion's alerting bands, each band only the
/// challenger has placed after the challenger band ranked just above it,
/// then the default bands, then bands the runs' specs do not name (sorted).
fn band_order<'a>(
    champion: &[String],
    challenger: &[String],
    seen: impl Iterator<Item = &'a str>,
) -> Vec<String> {
    let split = |bands: &[String]| -> (Vec<String>, Option<String>) {
        match bands.split_last() {
            Some((default, alerting)) => (alerting.to_vec(), Some(default.clone())),
            None => (Vec::new(), None),
        }
    };
    let (mut order, champion_default) = split(champion);
    let (theirs, challenger_default) = split(challenger);
    let mut after = 0;
    for band in theirs {
        let found = order.iter().position(|o| *o == band);
        match found {
            Some(i) => after = i + 1,
            None => {
                order.insert(after, band);
                after += 1;
            }
        }
    }
    let rest: BTreeSet<&str> = seen.collect();
    let tail = champion_default.into_iter().chain(challenger_default);
    for band in tail.chain(rest.into_iter().map(str::to_string)) {
        if !order.contains(&band) {
            order.push(band);
        }
    }
    order
}

/// The confusion matrix of the two models' bands over the customers both
/// segmented, with `bands` (riskiest first) as rows and columns.
fn band_agreement(champion: &[Banded], challenger: &[Banded], bands: &[String]) -> BandAgreement {
    let index = |band: Option<&str>| band.and_then(|b| bands.iter().position(|x| x == b));
    let theirs: BTreeMap<&str, Option<&str>> = challenger
        .iter()
        .map(|(k, b)| (k.as_str(), b.as_deref()))
        .collect();
    let mut matrix = vec![vec![0; bands.len()]; bands.len()];
    let (mut same, mut riskier, mut less_risky, mut only, mut unbanded) = (0, 0, 0, 0, 0);
    let mut both = BTreeSet::new();
    for (key, band) in champion {
        let Some(other) = theirs.get(key.as_str()) else {
            only += 1;
            continue;
        };
        both.insert(key.as_str());
        let (Some(i), Some(j)) = (index(band.as_deref()), index(*other)) else {
            unbanded += 1;
            continue;
        };
        matrix[i][j] += 1;
        match j.cmp(&i) {
            std::cmp::Ordering::Equal => same += 1,
            std::cmp::Ordering::Less => riskier += 1,
            std::cmp::Ordering::Greater => less_risky += 1,
        }
    }
    let compared = same + riskier + less_risky;
    BandAgreement {
        bands: bands.to_vec(),
        matrix,
        compared,
        same_band: same,
        agreement: (compared > 0).then(|| same as f64 / compared as f64),
        challenger_riskier: riskier,
        challenger_less_risky: less_risky,
        only_champion: only,
        only_challenger: theirs.keys().filter(|k| !both.contains(*k)).count(),
        without_band: unbanded,
    }
}

/// The customers `side` puts in an alerting band; `None` for a model
/// without bands, which alerts on no one by band: no figure at all.
fn alerted_by(side: &Side) -> Option<BTreeSet<&str>> {
    (!side.run.bands.is_empty()).then(|| alerted(&side.rows, &side.run.alerting_bands))
}

/// The customers `rows` puts in one of `alerting` bands.
fn alerted<'a>(rows: &'a [Banded], alerting: &[String]) -> BTreeSet<&'a str> {
    rows.iter()
        .filter(|(_, band)| band.as_ref().is_some_and(|b| alerting.contains(b)))
        .map(|(key, _)| key.as_str())
        .collect()
}

fn volume(side: &Side, alerted: Option<&BTreeSet<&str>>) -> AlertVolume {
    let customers = side.rows.len();
    let in_band = alerted.map(BTreeSet::len);
    AlertVolume {
        customers,
        in_alerting_band: in_band,
        share: in_band
            .filter(|_| customers > 0)
            .map(|n| n as f64 / customers as f64),
        alerts_raised: side.alerts.map(|a| a.0),
        customers_alerted: side.alerts.map(|a| a.1),
    }
}

/// (alerts, distinct customers) among `alerts` raised by run `run_id`.
fn alerts_of(alerts: &[AlertRow], run_id: &str) -> (usize, usize) {
    let mine: Vec<&AlertRow> = alerts.iter().filter(|a| a.run_id == run_id).collect();
    let customers: BTreeSet<&str> = mine.iter().map(|a| a.key.as_str()).collect();
    (mine.len(), customers.len())
}

/// Customer -> confirmed, for every customer with a decided outcome: a case
/// closed as `closed_sar` or `closed_false_positive`, or an analyst's
/// disposition. A customer confirmed once stays confirmed (as backtests
/// count them), even if a later case on them closed as a false positive.
fn decided_outcomes(
    cases: &[(String, CaseState)],
    dispositions: &[(String, String)],
) -> BTreeMap<String, bool> {
    let from_cases = cases.iter().filter_map(|(key, state)| match state {
        CaseState::ClosedSar => Some((key, true)),
        CaseState::ClosedFalsePositive => Some((key, false)),
        _ => None,
    });
    // A disposition outside the known outcomes decides nothing.
    let from_dispositions = dispositions
        .iter()
        .filter(|(_, outcome)| OUTCOMES.contains(&outcome.as_str()))
        .map(|(key, outcome)| (key, CONFIRMING_OUTCOMES.contains(&outcome.as_str())));
    let mut out: BTreeMap<String, bool> = BTreeMap::new();
    for (key, confirmed) in from_cases.chain(from_dispositions) {
        *out.entry(key.clone()).or_default() |= confirmed;
    }
    out
}

/// The hit rate over the customers `alerted`.
fn hit_rate<'a>(
    alerted: impl Iterator<Item = &'a str>,
    outcomes: &BTreeMap<String, bool>,
) -> HitRate {
    let (mut n, mut decided, mut confirmed) = (0, 0, 0);
    for key in alerted {
        n += 1;
        if let Some(&c) = outcomes.get(key) {
            decided += 1;
            confirmed += usize::from(c);
        }
    }
    HitRate {
        alerted: n,
        decided,
        confirmed,
        hit_rate: (decided > 0).then(|| confirmed as f64 / decided as f64),
    }
}

fn hit_rates(
    a: Option<&BTreeSet<&str>>,
    b: Option<&BTreeSet<&str>>,
    outcomes: &BTreeMap<String, bool>,
    sources: Vec<String>,
) -> HitRates {
    let of = |set: Option<&BTreeSet<&str>>| set.map(|s| hit_rate(s.iter().copied(), outcomes));
    let alerted_by_one_only = match (a, b) {
        (Some(a), Some(b)) => Some(Pair {
            champion: hit_rate(a.difference(b).copied(), outcomes),
            challenger: hit_rate(b.difference(a).copied(), outcomes),
        }),
        _ => None,
    };
    HitRates {
        sources,
        decided: outcomes.len(),
        confirmed: outcomes.values().filter(|c| **c).count(),
        models: Pair {
            champion: of(a),
            challenger: of(b),
        },
        alerted_by_one_only,
    }
}

// ---------------------------------------------------------------------------
// Text

impl Comparison {
    /// The report as text: the two runs, band agreement, alert volume and
    /// hit rates, each model in its own column.
    pub fn render(&self) -> String {
        let mut s = String::new();
        self.header_lines(&mut s);
        self.agreement_lines(&mut s);
        self.volume_lines(&mut s);
        self.hit_rate_lines(&mut s);
        s
    }

    fn header_lines(&self, s: &mut String) {
        let _ = writeln!(s, "job `{}`: champion against challenger", self.job);
        let mut rows = vec![cells(&["", "run", "as_of", "role", "segments"])];
        for (side, run) in [
            ("champion", &self.champion),
            ("challenger", &self.challenger),
        ] {
            rows.push(vec![
                side.to_string(),
                run.run_id.clone(),
                as_of_text(run.as_of),
                role_text(run),
                format!(
                    "version {}, {} customers",
                    run.segments_version, run.customers
                ),
            ]);
        }
        grid(s, &rows, 5);
    }

    fn agreement_lines(&self, s: &mut String) {
        let Some(a) = &self.band_agreement else {
            let why = self.no_band_agreement.as_deref().unwrap_or("no risk bands");
            let _ = writeln!(s, "\nband agreement: not compared: {why}");
            return;
        };
        let _ = match a.agreement {
            Some(share) => writeln!(
                s,
                "\nband agreement: {} of the {} customers both banded are in the same band; \
                 the challenger puts {} in a riskier band, {} in a less risky one",
                percent(share),
                a.compared,
                a.challenger_riskier,
                a.challenger_less_risky
            ),
            None => writeln!(s, "\nband agreement: no customer has a band in both runs"),
        };
        grid(s, &matrix_rows(a), 1);
        if a.only_champion + a.only_challenger + a.without_band > 0 {
            let _ = writeln!(
                s,
                "  not compared: {} only in the champion's segmentation, {} only in the \
                 challenger's, {} without a band in one of them",
                a.only_champion, a.only_challenger, a.without_band
            );
        }
    }

    fn volume_lines(&self, s: &mut String) {
        let v = &self.alert_volume;
        let mut rows = vec![self.model_header("alert volume")];
        rows.push(pair_row("customers", &v.map(|x| x.customers.to_string())));
        rows.push(pair_row(
            "in an alerting band",
            &v.map(|x| match (x.in_alerting_band, x.share) {
                (Some(n), Some(share)) => format!("{n} ({})", percent(share)),
                (Some(n), None) => n.to_string(),
                _ => "-".into(),
            }),
        ));
        let bands = Pair {
            champion: bands_text(&self.champion.alerting_bands),
            challenger: bands_text(&self.challenger.alerting_bands),
        };
        rows.push(pair_row("alerting bands", &bands));
        // Without an `alerts` table there is nothing to count, not zero.
        if v.champion.alerts_raised.is_some() || v.challenger.alerts_raised.is_some() {
            rows.push(pair_row(
                "alerts raised",
                &v.map(|x| or_dash(x.alerts_raised)),
            ));
            rows.push(pair_row(
                "customers alerted",
                &v.map(|x| or_dash(x.customers_alerted)),
            ));
        }
        s.push('\n');
        grid(s, &rows, 1);
    }

    fn hit_rate_lines(&self, s: &mut String) {
        let h = &self.hit_rates;
        if h.decided == 0 {
            let from = if h.sources.is_empty() {
                format!(" (the lake has no `{CASES_TABLE}` or `{FEEDBACK_TABLE}` table)")
            } else {
                format!(" (read from {})", h.sources.join(", "))
            };
            let _ = writeln!(s, "\nhit rates: no outcomes decided yet{from}");
            return;
        }
        let _ = writeln!(
            s,
            "\nhit rates: confirmed of the decided in each model's alerting bands \
             ({} customers decided so far, {} confirmed; from {})",
            h.decided,
            h.confirmed,
            h.sources.join(", ")
        );
        let mut rows = vec![self.model_header("")];
        rows.push(pair_row(
            "alerting bands",
            &h.models.map(|r| rate_text(r.as_ref())),
        ));
        if let Some(only) = &h.alerted_by_one_only {
            rows.push(pair_row(
                "alerted by this model only",
                &only.map(|r| rate_text(Some(r))),
            ));
        }
        grid(s, &rows, 1);
        // Cases are opened by the champion's alerts, so the challenger's
        // own alerts have few outcomes yet: a rate is as good as its count.
        let _ = writeln!(
            s,
            "  outcomes come mostly from the champion's alerts: weigh each rate by its count"
        );
    }

    fn model_header(&self, title: &str) -> Vec<String> {
        vec![
            title.to_string(),
            format!("champion {}", self.champion.run_id),
            format!("challenger {}", self.challenger.run_id),
        ]
    }
}

impl<T> Pair<T> {
    fn map<U>(&self, f: impl Fn(&T) -> U) -> Pair<U> {
        Pair {
            champion: f(&self.champion),
            challenger: f(&self.challenger),
        }
    }
}

/// The matrix with a total column and row: the totals are the customers in
/// each band under each model.
fn matrix_rows(a: &BandAgreement) -> Vec<Vec<String>> {
    let mut header = vec!["champion \\ challenger".to_string()];
    header.extend(a.bands.iter().cloned());
    header.push("total".into());
    let mut rows = vec![header];
    let mut totals = vec![0usize; a.bands.len()];
    for (band, counts) in a.bands.iter().zip(&a.matrix) {
        let mut row = vec![band.clone()];
        row.extend(counts.iter().map(usize::to_string));
        row.push(counts.iter().sum::<usize>().to_string());
        for (total, n) in totals.iter_mut().zip(counts) {
            *total += *n;
        }
        rows.push(row);
    }
    let mut last = vec!["total".to_string()];
    last.extend(totals.iter().map(usize::to_string));
    last.push(a.compared.to_string());
    rows.push(last);
    rows
}

fn pair_row(label: &str, values: &Pair<String>) -> Vec<String> {
    vec![
        label.to_string(),
        values.champion.clone(),
        values.challenger.clone(),
    ]
}

fn cells(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| t.to_string()).collect()
}

/// `rows` aligned, indented by two: the first `left` columns left-aligned,
/// the others (numbers) right-aligned.
fn grid(s: &mut String, rows: &[Vec<String>], left: usize) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    // Band names and run ids may hold any character: count chars, not bytes.
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let padded: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, &width))| pad(cell, width, c >= left))
            .collect();
        let _ = writeln!(s, "  {}", padded.join("  ").trim_end());
    }
}

fn pad(cell: &str, width: usize, right: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(cell.chars().count()));
    if right {
        format!("{fill}{cell}")
    } else {
        format!("{cell}{fill}")
    }
}

fn role_text(run: &ComparedRun) -> String {
    match (run.champion_now, run.role_when_published == CHALLENGER) {
        (true, true) => "champion now (promoted)".into(),
        (true, false) => "champion now".into(),
        (false, _) => format!("published as {}", run.role_when_published),
    }
}

fn rate_text(rate: Option<&HitRate>) -> String {
    match rate {
        None => "-".into(),
        Some(HitRate {
            hit_rate: Some(r),
            decided,
            confirmed,
            ..
        }) => format!("{} ({confirmed} of {decided})", percent(*r)),
        Some(_) => "none decided".into(),
    }
}

fn bands_text(bands: &[String]) -> String {
    if bands.is_empty() {
        "-".into()
    } else {
        bands.join(", ")
    }
}

fn or_dash(value: Option<usize>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn percent(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// Daily runs are dated midnight UTC: the date alone says it.
fn as_of_text(t: DateTime<Utc>) -> String {
    if t.time() == NaiveTime::MIN {
        t.format("%Y-%m-%d").to_string()
    } else {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn banded(rows: &[(&str, Option<&str>)]) -> Vec<Banded> {
        rows.iter()
            .map(|(k, b)| (k.to_string(), b.map(str::to_string)))
            .collect()
    }

    fn names(bands: &[&str]) -> Vec<String> {
        bands.iter().map(|b| b.to_string()).collect()
    }

    fn side(id: &str, bands: &[&str], rows: Vec<Banded>, alerts: Option<(usize, usize)>) -> Side {
        let bands = names(bands);
        Side {
            run: ComparedRun {
                run_id: id.into(),
                as_of: "2026-01-01T00:00:00Z".parse().unwrap(),
                role_when_published: (if id == "run-b" {
                    CHALLENGER
                } else {
                    "champion"
                })
                .into(),
                champion_now: id == "run-a",
                segments_version: 3,
                customers: rows.len(),
                alerting_bands: bands
                    .split_last()
                    .map(|(_, a)| a.to_vec())
                    .unwrap_or_default(),
                bands,
            },
            rows,
            alerts,
        }
    }

    // a: same band; b: challenger less risky; c: riskier; d: same;
    // e: no champion band; x only champion's, y only challenger's.
    fn champion_rows() -> Vec<Banded> {
        banded(&[
            ("a", Some("high")),
            ("b", Some("medium")),
            ("c", Some("low")),
            ("d", Some("low")),
            ("e", None),
            ("x", Some("high")),
        ])
    }

    fn challenger_rows() -> Vec<Banded> {
        banded(&[
            ("a", Some("high")),
            ("b", Some("low")),
            ("c", Some("medium")),
            ("d", Some("low")),
            ("e", Some("low")),
            ("y", Some("low")),
        ])
    }

    #[test]
    fn band_agreement_counts_the_matrix_and_directions() {
        let order = names(&["high", "medium", "low"]);
        let a = band_agreement(&champion_rows(), &challenger_rows(), &order);
        assert_eq!(a.matrix, vec![vec![1, 0, 0], vec![0, 0, 1], vec![0, 1, 1]]);
        assert_eq!((a.compared, a.same_band), (4, 2));
        assert_eq!(a.agreement, Some(0.5));
        assert_eq!((a.challenger_riskier, a.challenger_less_risky), (1, 1));
        assert_eq!(
            (a.only_champion, a.only_challenger, a.without_band),
            (1, 1, 1)
        );
        let none = band_agreement(&[], &challenger_rows(), &order);
        assert_eq!((none.agreement, none.only_challenger), (None, 6));
    }

    #[test]
    fn bands_only_the_challenger_has_go_where_it_ranks_them() {
        let order = band_order(
            &names(&["high", "medium", "low"]),
            &names(&["critical", "high", "elevated", "medium", "normal"]),
            ["weird", "low", "high"].into_iter(),
        );
        assert_eq!(
            order,
            names(&[
                "critical", "high", "elevated", "medium", "low", "normal", "weird"
            ])
        );
        assert!(band_order(&[], &[], std::iter::empty()).is_empty());
    }

    #[test]
    fn outcomes_come_from_closed_cases_and_dispositions_and_confirmation_wins() {
        let cases = vec![
            ("a".to_string(), CaseState::ClosedSar),
            ("b".to_string(), CaseState::ClosedFalsePositive),
            ("c".to_string(), CaseState::Open),
        ];
        let dispositions: Vec<(String, String)> = [
            ("d", "false_positive"),
            ("b", "sar_filed"),
            ("e", "no_action"),
            ("f", "maybe"),
            ("g", "true_positive"),
        ]
        .iter()
        .map(|(k, o)| (k.to_string(), o.to_string()))
        .collect();
        let decided = decided_outcomes(&cases, &dispositions);
        let expected: BTreeMap<String, bool> = [
            ("a", true),
            ("b", true),
            ("d", false),
            ("e", false),
            ("g", true),
        ]
        .iter()
        .map(|(k, c)| (k.to_string(), *c))
        .collect();
        assert_eq!(decided, expected);
    }

    #[test]
    fn a_hit_rate_is_confirmed_of_decided_among_the_alerted() {
        let outcomes: BTreeMap<String, bool> =
            [("a", true), ("b", true), ("d", false), ("q", true)]
                .iter()
                .map(|(k, c)| (k.to_string(), *c))
                .collect();
        let rate = hit_rate(["a", "b", "c", "d", "z"].into_iter(), &outcomes);
        assert_eq!((rate.alerted, rate.decided, rate.confirmed), (5, 3, 2));
        assert_eq!(rate.hit_rate, Some(2.0 / 3.0));
        assert_eq!(hit_rate(["c"].into_iter(), &outcomes).hit_rate, None);
    }

    #[test]
    fn alerts_are_counted_per_run_with_their_customers() {
        let row = |key: &str, run: &str| AlertRow {
            key: key.into(),
            run_id: run.into(),
        };
        let alerts = [
            row("k1", "r1"),
            row("k1", "r1"),
            row("k2", "r1"),
            row("k3", "r2"),
        ];
        assert_eq!(alerts_of(&alerts, "r1"), (3, 2));
        assert_eq!(alerts_of(&alerts, "r3"), (0, 0));
    }

    fn outcomes() -> BTreeMap<String, bool> {
        // c: challenger only, confirmed; x: champion only, a false positive.
        [("a", true), ("c", true), ("x", false)]
            .iter()
            .map(|(k, c)| (k.to_string(), *c))
            .collect()
    }

    #[test]
    fn the_report_puts_both_models_side_by_side() {
        let bands = ["high", "medium", "low"];
        let a = side("run-a", &bands, champion_rows(), Some((4, 3)));
        let b = side("run-b", &bands, challenger_rows(), Some((0, 0)));
        let report = assemble("demo".into(), a, b, &outcomes(), names(&["cases"]));
        // Alerting: champion a, b, x; challenger a, c.
        assert_eq!(report.alert_volume.champion.in_alerting_band, Some(3));
        assert_eq!(report.alert_volume.challenger.share, Some(2.0 / 6.0));
        let models = &report.hit_rates.models;
        assert_eq!(models.champion.as_ref().unwrap().hit_rate, Some(0.5));
        assert_eq!(models.challenger.as_ref().unwrap().hit_rate, Some(1.0));
        let only = report.hit_rates.alerted_by_one_only.as_ref().unwrap();
        assert_eq!((only.champion.decided, only.champion.confirmed), (1, 0));
        assert_eq!((only.challenger.decided, only.challenger.confirmed), (1, 1));
        let text = report.render();
        assert!(text.contains("champion now"), "{text}");
        assert!(text.contains("published as challenger"), "{text}");
        assert!(
            text.contains("band agreement: 50.0% of the 4 customers"),
            "{text}"
        );
        assert!(
            text.contains("3 (50.0%)") && text.contains("2 (33.3%)"),
            "{text}"
        );
        assert!(
            text.contains("50.0% (1 of 2)") && text.contains("100.0% (2 of 2)"),
            "{text}"
        );
        assert!(
            text.contains("3 customers decided so far, 2 confirmed"),
            "{text}"
        );
    }

    #[test]
    fn without_bands_or_outcomes_the_report_says_so() {
        let a = side("run-a", &["high", "low"], champion_rows(), None);
        let b = side("run-b", &[], challenger_rows(), None);
        let report = assemble("demo".into(), a, b, &BTreeMap::new(), Vec::new());
        assert!(report.band_agreement.is_none());
        assert!(report.hit_rates.models.challenger.is_none());
        let text = report.render();
        assert!(
            text.contains("not compared: the challenger run run-b has no risk bands"),
            "{text}"
        );
        assert!(!text.contains("alerts raised"), "{text}");
        assert!(
            text.contains("no outcomes decided yet (the lake has no"),
            "{text}"
        );
    }
}
