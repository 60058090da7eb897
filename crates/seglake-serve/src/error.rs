use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why the service could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Config(String),
    /// A run's models cannot be read (another format version, say).
    #[error("run {run_id}")]
    Model {
        run_id: String,
        #[source]
        source: seglake_model::ModelError,
    },
    #[error(transparent)]
    Audit(#[from] seglake_audit::AuditError),
    #[error(transparent)]
    Lake(#[from] seglake_lake::LakeError),
    #[error("the feedback write-ahead log {path}: {message}")]
    Wal { path: String, message: String },
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the HTTP server stopped: {0}")]
    Server(std::io::Error),
}

/// What a request gets back when it cannot be served. Bodies are JSON:
/// `{"error": message, "field": name}` (the field only for 400s).
#[derive(Debug)]
pub enum ApiError {
    /// The request is wrong; `field` names the JSON field (dotted path).
    BadRequest {
        field: String,
        message: String,
    },
    Unauthorized,
    NotFound(String),
    /// The service cannot take the request now (no model, log unwritable).
    Unavailable(String),
}

impl ApiError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::BadRequest { field, message } => (
                StatusCode::BAD_REQUEST,
                json!({"error": format!("{field}: {message}"), "field": field}),
            ),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                json!({"error": "a valid bearer token is required (Authorization: Bearer ...)"}),
            ),
            ApiError::NotFound(message) => (StatusCode::NOT_FOUND, json!({"error": message})),
            ApiError::Unavailable(message) => {
                (StatusCode::SERVICE_UNAVAILABLE, json!({"error": message}))
            }
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
