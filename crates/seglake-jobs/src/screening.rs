//! Sanctions screening in a run (`[screening]`): the list source is read
//! into a [`ScreeningIndex`], every party's names are screened against it,
//! and the hits become the `screening_hits` table: registered for the
//! feature views (screening features) and published with the run.
//!
//! The list version a run screened against is its pinned input (files and
//! sizes, or a Delta version, in `runs.inputs`) and the SHA-256 of the
//! list's content, on every hit and in `runs.metrics.screening`.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, SchemaRef};
use chrono::{DateTime, Utc};
use seglake_features::FeatureEngine;
use seglake_screening::{
    Match, NameKind, NormalizedName, SanctionsList, ScreeningIndex, normalize, screen_all,
};
use seglake_spec::{JobSpec, PartySpec, SCREENING_HITS_TABLE, ScreeningSpec};
use serde::Serialize;

use crate::error::{JobError, Result};
use crate::privacy::CustomerIds;
use crate::tables::TableData;

/// The columns of `screening_hits`, in order.
pub fn hits_schema() -> SchemaRef {
    seglake_lake::screening_hits::schema()
}

/// What screening found, for the run's tables and its record.
pub struct Screened {
    pub hits: RecordBatch,
    pub metrics: ScreeningMetrics,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScreeningMetrics {
    pub list_source: String,
    pub list_format: &'static str,
    pub list_sha256: String,
    pub list_entries: usize,
    pub list_names: usize,
    /// Entries of the types screened.
    pub entries_screened_against: usize,
    pub threshold: f64,
    pub parties: Vec<PartyMetrics>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PartyMetrics {
    pub party: String,
    /// Distinct (id, name) pairs read.
    pub names: usize,
    /// Names that were null or normalised to nothing: not screened.
    pub empty_names: usize,
    /// Names cut to the longest a name may be before matching.
    pub truncated_names: usize,
    /// Ids with at least one hit, and hits.
    pub ids_with_hits: usize,
    pub hits: usize,
}

/// What a run knows when it screens.
pub(crate) struct ScreeningRun<'a> {
    pub spec: &'a JobSpec,
    pub run_id: &'a str,
    pub as_of: DateTime<Utc>,
}

fn bad(message: String) -> JobError {
    JobError::Screening { message }
}

/// For `validate`: checks the columns (below) and registers an empty
/// `screening_hits`, so the views can be planned without screening.
pub(crate) async fn check(spec: &JobSpec, engine: &FeatureEngine) -> Result<()> {
    if let Some(screening) = &spec.screening {
        check_columns(screening, engine).await?;
        engine.register_batches(SCREENING_HITS_TABLE, hits_schema(), Vec::new())?;
    }
    Ok(())
}

/// Checks, without reading rows, that the list has its format's columns and
/// every party's table its key and name.
async fn check_columns(screening: &ScreeningSpec, engine: &FeatureEngine) -> Result<()> {
    let schema = engine.table_schema(&screening.list).await?;
    seglake_screening::check_columns(screening.format, &screening.list, &schema)
        .map_err(|e| bad(e.to_string()))?;
    for party in &screening.parties {
        let schema = engine.table_schema(&party.table).await?;
        for column in [&party.key, &party.name] {
            if schema.field_with_name(column).is_err() {
                return Err(bad(format!(
                    "party `{}`: source `{}` has no column `{column}`",
                    party.party, party.table
                )));
            }
        }
    }
    Ok(())
}

/// Screens every party's names and registers the hits as
/// `screening_hits`.
pub(crate) async fn screen(
    run: &ScreeningRun<'_>,
    engine: &FeatureEngine,
) -> Result<Option<Screened>> {
    let Some(screening) = &run.spec.screening else {
        return Ok(None);
    };
    check_columns(screening, engine).await?;
    let list = read_list(screening, engine).await?;
    let index = ScreeningIndex::new(&list, &screening.entry_types);
    let mut metrics = ScreeningMetrics {
        list_source: screening.list.clone(),
        list_format: screening.format.as_str(),
        list_sha256: list.content_sha256(),
        list_entries: list.entries.len(),
        list_names: list.name_count(),
        entries_screened_against: index.entries().len(),
        threshold: screening.threshold,
        parties: Vec::new(),
    };
    let mut rows = HitRows::default();
    for party in &screening.parties {
        let names = read_names(party, engine).await?;
        metrics.parties.push(screen_party(
            party,
            &names,
            &index,
            screening.threshold,
            &mut rows,
        ));
    }
    let hits = rows.finish(&metrics, run)?;
    engine.register_batches(SCREENING_HITS_TABLE, hits_schema(), vec![hits.clone()])?;
    Ok(Some(Screened { hits, metrics }))
}

/// Screens a job's names against its list as both are now, without the
/// views, the models or publishing anything: only the list and the
/// parties' sources are read (`seglake screen`).
pub async fn screen_now(
    spec: &JobSpec,
    options: &seglake_features::EngineOptions,
) -> Result<Screened> {
    let Some(screening) = &spec.screening else {
        return Err(bad(format!(
            "job `{}` ({}) has no [screening] section",
            spec.name,
            spec.path.display()
        )));
    };
    let needed: Vec<&str> = std::iter::once(screening.list.as_str())
        .chain(screening.parties.iter().map(|p| p.table.as_str()))
        .collect();
    let engine = FeatureEngine::new(options)?;
    let mut inputs = Vec::new();
    for source in spec
        .sources
        .iter()
        .filter(|s| needed.contains(&s.name.as_str()))
    {
        inputs.push(seglake_lake::resolve_input(source).await?);
    }
    engine.register_inputs(&inputs).await?;
    let now = ScreeningRun {
        spec,
        run_id: "screen",
        as_of: spec.as_of.unwrap_or_else(Utc::now),
    };
    Ok(screen(&now, &engine).await?.expect("the job screens"))
}

async fn read_list(screening: &ScreeningSpec, engine: &FeatureEngine) -> Result<SanctionsList> {
    let batches = engine
        .query(
            &format!("reading the list `{}`", screening.list),
            &format!("SELECT * FROM \"{}\"", screening.list),
        )
        .await?;
    screening
        .format
        .read(&screening.list, &batches)
        .map_err(|e| bad(e.to_string()))
}

/// Distinct (id, name) pairs of one party, sorted: the order hits are
/// written in does not depend on how the engine returned them.
async fn read_names(
    party: &PartySpec,
    engine: &FeatureEngine,
) -> Result<Vec<(String, Option<String>)>> {
    let sql = format!(
        "SELECT DISTINCT CAST(\"{key}\" AS VARCHAR) AS id, CAST(\"{name}\" AS VARCHAR) AS name \
         FROM \"{table}\" WHERE \"{key}\" IS NOT NULL",
        key = party.key,
        name = party.name,
        table = party.table
    );
    let context = format!(
        "reading the names of party `{}` (columns `{}` and `{}` of `{}`)",
        party.party, party.key, party.name, party.table
    );
    let batches = engine.query(&context, &sql).await?;
    let mut names = Vec::new();
    for batch in &batches {
        let ids = strings(batch, 0);
        let texts = strings(batch, 1);
        for row in 0..batch.num_rows() {
            let name = texts.is_valid(row).then(|| texts.value(row).to_string());
            names.push((ids.value(row).to_string(), name));
        }
    }
    names.sort();
    Ok(names)
}

fn strings(batch: &RecordBatch, column: usize) -> StringArray {
    let cast = arrow::compute::cast(batch.column(column), &DataType::Utf8).expect("cast to text");
    cast.as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8")
        .clone()
}

fn screen_party(
    party: &PartySpec,
    names: &[(String, Option<String>)],
    index: &ScreeningIndex,
    threshold: f64,
    rows: &mut HitRows,
) -> PartyMetrics {
    let normalized: Vec<NormalizedName> = names
        .iter()
        .map(|(_, n)| normalize(n.as_deref().unwrap_or("")))
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let found = screen_all(index, &normalized, threshold, threads);
    let mut metrics = PartyMetrics {
        party: party.party.clone(),
        names: names.len(),
        empty_names: normalized.iter().filter(|n| n.is_empty()).count(),
        truncated_names: normalized.iter().filter(|n| n.truncated).count(),
        ids_with_hits: 0,
        hits: 0,
    };
    let mut last_id_with_hits: Option<&str> = None;
    for ((id, name), matches) in names.iter().zip(&found) {
        for m in matches {
            rows.push(&party.party, id, name.as_deref(), index, m);
            metrics.hits += 1;
        }
        if !matches.is_empty() && last_id_with_hits != Some(id) {
            metrics.ids_with_hits += 1;
            last_id_with_hits = Some(id);
        }
    }
    metrics
}

/// "query~listed similarity" per token pair, most similar first:
/// `bout=bout, but~butt 0.93`.
fn matched_tokens(m: &Match) -> String {
    m.pairs
        .iter()
        .filter(|(_, _, s)| *s > 0.0)
        .map(|(q, l, s)| {
            if q == l {
                format!("{q}={l}")
            } else {
                format!("{q}~{l} {s:.2}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Default)]
struct HitRows {
    party: Vec<String>,
    party_id: Vec<String>,
    name: Vec<Option<String>>,
    entry_id: Vec<i64>,
    entry_type: Vec<&'static str>,
    listed_name: Vec<String>,
    listed_kind: Vec<&'static str>,
    programmes: Vec<String>,
    score: Vec<f64>,
    tokens: Vec<String>,
}

impl HitRows {
    fn push(
        &mut self,
        party: &str,
        id: &str,
        name: Option<&str>,
        index: &ScreeningIndex,
        m: &Match,
    ) {
        let entry = &index.entries()[m.entry];
        let listed = &entry.names[m.name];
        self.party.push(party.to_string());
        self.party_id.push(id.to_string());
        self.name.push(name.map(str::to_string));
        self.entry_id.push(entry.id);
        self.entry_type.push(entry.entry_type.as_str());
        self.listed_name.push(listed.name.clone());
        self.listed_kind.push(match listed.kind {
            NameKind::Primary => "primary",
            NameKind::Alias => "alias",
        });
        self.programmes.push(entry.programmes.join("; "));
        self.score.push(m.score);
        self.tokens.push(matched_tokens(m));
    }

    fn finish(self, metrics: &ScreeningMetrics, run: &ScreeningRun<'_>) -> Result<RecordBatch> {
        let n = self.party.len();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(self.party)),
            Arc::new(StringArray::from(self.party_id)),
            Arc::new(StringArray::from(self.name)),
            Arc::new(Int64Array::from(self.entry_id)),
            Arc::new(StringArray::from(self.entry_type)),
            Arc::new(StringArray::from(self.listed_name)),
            Arc::new(StringArray::from(self.listed_kind)),
            Arc::new(StringArray::from(self.programmes)),
            Arc::new(Float64Array::from(self.score)),
            Arc::new(StringArray::from(self.tokens)),
            Arc::new(StringArray::from(vec![metrics.list_source.as_str(); n])),
            Arc::new(StringArray::from(vec![metrics.list_sha256.as_str(); n])),
            Arc::new(StringArray::from(vec![run.run_id; n])),
            Arc::new(
                TimestampMicrosecondArray::from(vec![run.as_of.timestamp_micros(); n])
                    .with_timezone("UTC"),
            ),
        ];
        RecordBatch::try_new(hits_schema(), columns).map_err(|source| JobError::Output {
            table: SCREENING_HITS_TABLE.to_string(),
            source,
        })
    }
}

/// The hits as `spec`'s runs publish them (customer ids pseudonymised when
/// the job says so), for comparing with a published `screening_hits`.
pub fn as_published(screened: &Screened, spec: &JobSpec) -> Result<RecordBatch> {
    let ids = CustomerIds::for_job(spec)?;
    let (_, batches) = publishable(screened, spec, &ids)?;
    Ok(batches.into_iter().next().expect("one batch"))
}

/// The hits as they may be published: under `[privacy] pseudonymise`, the
/// ids of parties keyed by the customer key are pseudonymised and their
/// names left out (counterparties are not the bank's customers).
pub(crate) fn publishable(
    screened: &Screened,
    spec: &JobSpec,
    ids: &CustomerIds<'_>,
) -> Result<TableData> {
    let Some(screening) = &spec.screening else {
        unreachable!("only a screening job has hits");
    };
    let customer_parties: Vec<&str> = screening
        .parties
        .iter()
        .filter(|p| p.key == spec.key)
        .map(|p| p.party.as_str())
        .collect();
    let batch = &screened.hits;
    let Some(pseudonym) = ids.pseudonymiser() else {
        return Ok((hits_schema(), vec![batch.clone()]));
    };
    let party = strings(batch, 0);
    let party_id = strings(batch, 1);
    let name = strings(batch, 2);
    let is_customer = |row: usize| customer_parties.contains(&party.value(row));
    let new_ids: StringArray = (0..batch.num_rows())
        .map(|row| {
            Some(if is_customer(row) {
                pseudonym.pseudonym(party_id.value(row))
            } else {
                party_id.value(row).to_string()
            })
        })
        .collect();
    let new_names: StringArray = (0..batch.num_rows())
        .map(|row| (!is_customer(row) && name.is_valid(row)).then(|| name.value(row).to_string()))
        .collect();
    let mut columns = batch.columns().to_vec();
    columns[1] = Arc::new(new_ids);
    columns[2] = Arc::new(new_names);
    let batch =
        RecordBatch::try_new(hits_schema(), columns).map_err(|source| JobError::Output {
            table: SCREENING_HITS_TABLE.to_string(),
            source,
        })?;
    Ok((hits_schema(), vec![batch]))
}
