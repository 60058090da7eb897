//! The HTTP routes: scoring, a customer's published segment at a time,
//! feedback (API and survey webhook), health, metrics and the OpenAPI
//! description.
//!
//! Bodies are read as bytes and parsed here, not by an extractor, so every
//! 400 names the JSON field at fault. Logs carry the route template, status
//! and time: never a body, a path's customer id or a query string.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::feedback::{self, FeedbackItem, kind, object, only_fields};
use crate::metrics::Metrics;
use crate::model::{Loaded, Models};
use crate::wal::Wal;
use seglake_features::live::LiveError;
use seglake_model::Row;

/// At most this many customers in one `/v1/score/batch` request.
pub const MAX_BATCH: usize = 10_000;
/// Body limits: one customer or feedback item, and a batch.
pub const MAX_BODY: usize = 64 * 1024;
pub const MAX_BATCH_BODY: usize = 16 * 1024 * 1024;

/// The bearer token every route but `/healthz` requires.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// A token must be long enough not to be guessed.
    pub fn new(token: String) -> Result<Token, String> {
        let token = token.trim().to_string();
        if token.len() < 16 {
            return Err("the API token must be at least 16 characters".into());
        }
        Ok(Token(token))
    }

    /// Compares in time independent of where the strings differ.
    fn matches(&self, given: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), given.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

pub struct AppState {
    pub models: Arc<Models>,
    /// The published cases, for dispositions that name one.
    pub cases: crate::cases::CaseBook,
    pub wal: Wal,
    /// Shadow scores waiting for their commit (`serve --shadow`).
    pub shadow: crate::shadow::ShadowLog,
    pub metrics: Arc<Metrics>,
    pub token: Token,
    /// With `--follow`: the rows streamed since the run, by customer.
    pub follower: Option<Arc<crate::follow::Follower>>,
}

type Shared = State<Arc<AppState>>;

pub fn router(state: Arc<AppState>) -> Router {
    let protected = Router::new()
        .route(
            "/v1/score",
            post(score).layer(DefaultBodyLimit::max(MAX_BODY)),
        )
        .route(
            "/v1/score/batch",
            post(score_batch).layer(DefaultBodyLimit::max(MAX_BATCH_BODY)),
        )
        .route("/v1/customers/{id}/segment", get(customer_segment))
        .route("/report/{run_id}", get(run_report))
        .route(
            "/v1/feedback",
            post(post_feedback).layer(DefaultBodyLimit::max(MAX_BODY)),
        )
        .route(
            "/v1/feedback/webhook",
            post(post_webhook).layer(DefaultBodyLimit::max(MAX_BODY)),
        )
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(protected)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn require_token(State(state): Shared, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(t) if state.token.matches(t) => next.run(request).await,
        _ => ApiError::Unauthorized.into_response(),
    }
}

/// Counts and times every request by route template (`/v1/customers/{id}/segment`,
/// never the id itself).
async fn observe(State(state): Shared, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state.metrics.request(&route, status, elapsed);
    tracing::debug!(%method, %route, status, micros = elapsed.as_micros() as u64, "request");
    response
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::field(
            "body",
            format!("not valid JSON (line {}, column {})", e.line(), e.column()),
        )
    })
}

/// One customer's feature values in the scorer's order: numbers for its
/// numeric inputs, text for its categorical ones (`null` for a value that
/// is not known); `at` prefixes field names in errors.
fn feature_row(value: &Value, loaded: &Loaded, at: &str) -> Result<Row, ApiError> {
    let features = object(value, at)?;
    let (inputs, texts) = (loaded.scorer.inputs(), loaded.scorer.text_inputs());
    let known = |k: &String| inputs.contains(k) || texts.contains(k);
    if let Some(unknown) = features.keys().find(|k| !known(k)) {
        return Err(ApiError::field(
            format!("{at}.{unknown}"),
            format!(
                "not a feature of run {}'s models; they read: {}",
                loaded.run_id,
                [inputs, texts].concat().join(", ")
            ),
        ));
    }
    let given = |name: &String| {
        features.get(name).ok_or_else(|| {
            ApiError::field(
                format!("{at}.{name}"),
                "missing (send null for a value that is not known)",
            )
        })
    };
    let numbers = inputs
        .iter()
        .map(|name| match given(name)? {
            Value::Null => Ok(f64::NAN),
            Value::Number(n) => n
                .as_f64()
                .filter(|v| v.is_finite())
                .ok_or_else(|| ApiError::field(format!("{at}.{name}"), "must be a finite number")),
            other => Err(ApiError::field(
                format!("{at}.{name}"),
                format!("must be a number or null, got {}", kind(other)),
            )),
        })
        .collect::<Result<_, _>>()?;
    let texts = texts
        .iter()
        .map(|name| match given(name)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => Err(ApiError::field(
                format!("{at}.{name}"),
                format!(
                    "a categorical feature: must be text or null, got {}",
                    kind(other)
                ),
            )),
        })
        .collect::<Result<_, _>>()?;
    Ok(Row { numbers, texts })
}

/// A request's `customer_id`, if it gives one (echoed back, never logged).
fn customer_of(
    request: &serde_json::Map<String, Value>,
    at: &str,
) -> Result<Option<String>, ApiError> {
    match request.get("customer_id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(ApiError::field(
            format!("{at}customer_id"),
            format!("must be a string, got {}", kind(other)),
        )),
    }
}

fn score_json(loaded: &Loaded, customer: Option<String>, score: seglake_model::Score) -> Value {
    let mut out = json!({
        "segment_id": score.segment_id,
        "segment_label": score.segment_label,
        "distance": score.distance,
        "model_version": loaded.model_version,
        "run_id": loaded.run_id,
    });
    if let Some(c) = customer {
        out["customer_id"] = Value::String(c);
    }
    if let Some(risk) = score.risk {
        out["risk_score"] = json!(risk.score);
        out["risk_band"] = json!(risk.band);
        out["reasons"] = json!(risk.reasons);
    }
    out
}

fn score_rows(loaded: &Loaded, rows: Vec<Row>) -> Result<Vec<seglake_model::Score>, ApiError> {
    loaded
        .scorer
        .score(&rows)
        .map_err(|e| ApiError::Unavailable(format!("scoring failed: {e}")))
}

/// One customer's model inputs from a score request: its `features`; its
/// raw rows (`raw`: source -> rows) through the run's feature SQL at
/// `as_of` (now by default); or, following a topic, only `customer_id`:
/// the run's state and the customer's rows streamed since, at `as_of`.
/// `at` prefixes field names (`customers[3].`).
async fn request_row(
    request: &serde_json::Map<String, Value>,
    loaded: &Loaded,
    follower: Option<&crate::follow::Follower>,
    at: &str,
) -> Result<Row, ApiError> {
    only_fields(request, at, &["customer_id", "features", "raw", "as_of"])?;
    match (request.get("features"), request.get("raw")) {
        (Some(features), None) => {
            if request.contains_key("as_of") {
                return Err(ApiError::field(
                    format!("{at}as_of"),
                    "only with `raw` or a customer id alone: feature values are already at a \
                     point in time",
                ));
            }
            feature_row(features, loaded, &format!("{at}features"))
        }
        (None, Some(raw)) => {
            let live = loaded.live.as_ref().map_err(|e| {
                ApiError::Unavailable(format!("scoring from raw rows is unavailable: {e}"))
            })?;
            let customer = customer_of(request, at)?.ok_or_else(|| {
                ApiError::field(format!("{at}customer_id"), "required with `raw`")
            })?;
            let as_of = as_of_of(request, at)?;
            let raw = object(raw, &format!("{at}raw"))?;
            let inputs = (loaded.scorer.inputs(), loaded.scorer.text_inputs());
            // Its errors name fields under `raw`; `row_from` prefixes `at`.
            let result = live.features(&customer, raw, as_of, inputs, "raw").await;
            row_from(result, at)
        }
        (Some(_), Some(_)) => Err(ApiError::field(
            format!("{at}raw"),
            "give either `features` or `raw`, not both",
        )),
        (None, None) => live_row(request, loaded, follower, at).await,
    }
}

/// With `--follow`: `customer_id`'s inputs from the run's state and the
/// customer's rows streamed since, at the request's `as_of`.
async fn live_row(
    request: &serde_json::Map<String, Value>,
    loaded: &Loaded,
    follower: Option<&crate::follow::Follower>,
    at: &str,
) -> Result<Row, ApiError> {
    let (Some(follower), Some(state)) = (follower, &loaded.follow) else {
        return Err(ApiError::field(
            format!("{at}features"),
            "required: an object of feature values (or `raw`: the customer's rows per \
             source; a customer id alone needs `seglake serve --follow`)",
        ));
    };
    let customer = customer_of(request, at)?.ok_or_else(|| {
        ApiError::field(
            format!("{at}customer_id"),
            "required: the customer to score from the state (or give `features` or `raw`)",
        )
    })?;
    let live = loaded
        .live
        .as_ref()
        .map_err(|e| ApiError::Unavailable(format!("live scoring is unavailable: {e}")))?;
    let as_of = as_of_of(request, at)?;
    let streamed = follower.rows_of(&customer, &state.held);
    let inputs = (loaded.scorer.inputs(), loaded.scorer.text_inputs());
    let result = live
        .features_now(&state.rolling, &customer, as_of, streamed, inputs)
        .await
        .and_then(|row| {
            row.ok_or_else(|| LiveError::Request {
                field: "customer_id".into(),
                message: "the run's feature SQL gives no row for this customer (no state and \
                          no streamed rows for it)"
                    .into(),
            })
        });
    row_from(result, at)
}

/// Features computed by the run's SQL, as a model row; errors name the
/// request's field (prefixed with `at`) or say the SQL failed.
fn row_from(
    result: Result<(Vec<f64>, Vec<Option<String>>), LiveError>,
    at: &str,
) -> Result<Row, ApiError> {
    result
        .map(|(numbers, texts)| Row { numbers, texts })
        .map_err(|e| match e {
            LiveError::Request { field, message } => {
                ApiError::field(format!("{at}{field}"), message)
            }
            LiveError::Failed(m) => {
                ApiError::Unavailable(format!("the run's feature SQL failed: {m}"))
            }
        })
}

/// The request's `as_of` (RFC 3339 or a date); now when absent.
fn as_of_of(
    request: &serde_json::Map<String, Value>,
    at: &str,
) -> Result<chrono::DateTime<Utc>, ApiError> {
    match request.get("as_of") {
        None | Some(Value::Null) => Ok(Utc::now()),
        Some(Value::String(t)) => seglake_audit::parse_point_in_time(t)
            .map_err(|m| ApiError::field(format!("{at}as_of"), m)),
        Some(other) => Err(ApiError::field(
            format!("{at}as_of"),
            format!("must be a time, got {}", kind(other)),
        )),
    }
}

async fn score(State(state): Shared, body: Bytes) -> Result<Json<Value>, ApiError> {
    let body = parse_body(&body)?;
    let request = object(&body, "body")?;
    let loaded = state.models.current();
    let row = request_row(request, &loaded, state.follower.as_deref(), "").await?;
    let customer = customer_of(request, "")?;
    // The row is kept only when a challenger will score it too.
    let challenger = state.models.challenger();
    let kept = challenger.as_ref().map(|_| vec![row.clone()]);
    let score = score_rows(&loaded, vec![row])?.pop().expect("one row");
    if let (Some(challenger), Some(rows)) = (challenger, kept) {
        shadow_score(
            &state,
            &loaded,
            &challenger,
            rows,
            std::slice::from_ref(&customer),
            std::slice::from_ref(&score),
        );
    }
    Ok(Json(score_json(&loaded, customer, score)))
}

/// With `--shadow`: scores `rows` with the challenger too and keeps both
/// answers for `shadow_scores`. Only when the two models read the
/// same features (the request's values mean the same to both); a
/// challenger that cannot score leaves the champion's answer untouched.
fn shadow_score(
    state: &AppState,
    champion: &Loaded,
    challenger: &Loaded,
    rows: Vec<Row>,
    customers: &[Option<String>],
    scores: &[seglake_model::Score],
) {
    if challenger.scorer.inputs() != champion.scorer.inputs()
        || challenger.scorer.text_inputs() != champion.scorer.text_inputs()
    {
        return;
    }
    let shadowed = match challenger.scorer.score(&rows) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(run_id = %challenger.run_id, "shadow scoring failed: {e}");
            return;
        }
    };
    let now = Utc::now();
    let answer = |loaded: &Loaded, s: &seglake_model::Score| crate::shadow::ModelScore {
        run_id: loaded.run_id.clone(),
        segment_id: s.segment_id,
        segment_label: s.segment_label.clone(),
        risk_score: s.risk.as_ref().map(|r| r.score),
        risk_band: s.risk.as_ref().map(|r| r.band.clone()),
    };
    state.shadow.push(
        customers
            .iter()
            .zip(scores)
            .zip(&shadowed)
            .map(|((c, ours), theirs)| crate::shadow::ShadowRow {
                scored_at: now,
                customer_id: c.clone(),
                champion: answer(champion, ours),
                challenger: answer(challenger, theirs),
            }),
    );
}

async fn score_batch(State(state): Shared, body: Bytes) -> Result<Json<Value>, ApiError> {
    let body = parse_body(&body)?;
    let request = object(&body, "body")?;
    let customers = match request.get("customers") {
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(ApiError::field(
                "customers",
                format!("must be an array, got {}", kind(other)),
            ));
        }
        None => {
            return Err(ApiError::field(
                "customers",
                "required: an array of {customer_id, features}",
            ));
        }
    };
    if customers.len() > MAX_BATCH {
        return Err(ApiError::field(
            "customers",
            format!(
                "{} customers; at most {MAX_BATCH} per request",
                customers.len()
            ),
        ));
    }
    let loaded = state.models.current();
    let mut rows = Vec::with_capacity(customers.len());
    let mut ids = Vec::with_capacity(customers.len());
    for (i, c) in customers.iter().enumerate() {
        let at = format!("customers[{i}]");
        let one = object(c, &at)?;
        rows.push(request_row(one, &loaded, state.follower.as_deref(), &format!("{at}.")).await?);
        ids.push(customer_of(one, &format!("{at}."))?);
    }
    // The rows are kept only when a challenger will score them too.
    let challenger = state.models.challenger();
    let kept = challenger.as_ref().map(|_| rows.clone());
    // Large batches are CPU work: keep it off the request threads.
    let scored = {
        let loaded = loaded.clone();
        tokio::task::spawn_blocking(move || score_rows(&loaded, rows))
            .await
            .map_err(|_| ApiError::Unavailable("scoring stopped".into()))??
    };
    if let (Some(challenger), Some(rows)) = (challenger, kept) {
        shadow_score(&state, &loaded, &challenger, rows, &ids, &scored);
    }
    let scores: Vec<Value> = ids
        .into_iter()
        .zip(scored)
        .map(|(id, s)| score_json(&loaded, id, s))
        .collect();
    Ok(Json(json!({"scores": scores})))
}

#[derive(serde::Deserialize)]
struct AsOfQuery {
    as_of: Option<String>,
}

async fn customer_segment(
    State(state): Shared,
    Path(id): Path<String>,
    query: Result<Query<AsOfQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|_| ApiError::field("as_of", "unreadable query string"))?;
    let at = match query.as_of.as_deref() {
        Some(text) => {
            seglake_audit::parse_point_in_time(text).map_err(|m| ApiError::field("as_of", m))?
        }
        None => Utc::now(),
    };
    let audit =
        seglake_audit::audit_customer(state.models.lake(), &id, &seglake_audit::Selector::AsOf(at))
            .await
            .map_err(|e| match e {
                seglake_audit::AuditError::NotFound(m) => ApiError::NotFound(m),
                other => ApiError::Unavailable(other.to_string()),
            })?;
    Ok(Json(json!({
        "customer_id": id,
        "as_of": at,
        "run_id": audit.run.run_id,
        "run_finished_at": audit.run.finished_at,
        "segments_version": audit.segments_version_now,
        "assignment": audit.assignment,
    })))
}

/// What a served report may load: nothing beyond itself (its scripts and
/// styles are inline; Vega compiles its expressions with `Function`).
const REPORT_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; \
     style-src 'unsafe-inline'; img-src data:";

/// The page `seglake report RUN_ID` writes, for the lake this service
/// serves. It names customers (the highest-scored), so it takes the token.
async fn run_report(
    State(state): Shared,
    Path(run_id): Path<String>,
) -> Result<Response, ApiError> {
    let html = seglake_report::report_html(state.models.lake(), &run_id)
        .await
        .map_err(|e| match e {
            e if e.is_invalid_input() => ApiError::NotFound(e.to_string()),
            other => ApiError::Unavailable(seglake_spec::error_chain(&other)),
        })?;
    let headers = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CONTENT_SECURITY_POLICY, REPORT_POLICY),
    ];
    Ok((headers, html).into_response())
}

async fn accept(
    state: &AppState,
    item: Result<FeedbackItem, ApiError>,
) -> Result<Response, ApiError> {
    let mut item = item?;
    let id = item.feedback_id.clone();
    let held = state.cases.hold(&mut item).await?;
    state
        .wal
        .append(item)
        .await
        .map_err(ApiError::Unavailable)?;
    if let Some(held) = held {
        held.record();
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"feedback_id": id, "durable": true})),
    )
        .into_response())
}

async fn post_feedback(State(state): Shared, body: Bytes) -> Result<Response, ApiError> {
    let body = parse_body(&body)?;
    accept(&state, feedback::from_api(&body, Utc::now())).await
}

async fn post_webhook(State(state): Shared, body: Bytes) -> Result<Response, ApiError> {
    let body = parse_body(&body)?;
    accept(&state, feedback::from_webhook(&body, Utc::now())).await
}

async fn healthz(State(state): Shared) -> Json<Value> {
    let loaded = state.models.current();
    Json(json!({
        "status": "ok",
        "run_id": loaded.run_id,
        "job": loaded.job_name,
        "feedback_waiting": state.metrics.feedback_waiting(),
        "following": state.follower.as_ref().map(|f| f.status()),
    }))
}

async fn metrics(State(state): Shared) -> Response {
    let served = state.models.current();
    let mut text = state
        .metrics
        .render(&served.run_id, &served.job_name, served.model_version);
    if let Some(follower) = &state.follower {
        text.push_str(&follower.render());
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}
