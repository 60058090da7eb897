//! The OpenAPI 3.1 description of every route (`GET /openapi.json`).

use serde_json::{Value, json};

pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "seglake serve",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Segment and risk scores from the latest published seglake run, the published segmentation at a time, and feedback (surveys, analyst dispositions) into the lake's `feedback` table."
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas()
        },
        "security": [{"bearer": []}],
        "paths": paths()
    })
}

/// The request and response bodies, by name.
fn schemas() -> Value {
    let score_request = json!({
        "type": "object",
        "description": "either `features`; or `raw` with `customer_id` (and optionally `as_of`); or, when the service follows a topic (`seglake serve --follow`), `customer_id` alone (and optionally `as_of`): the run's incremental state and the customer's rows streamed since",
        "additionalProperties": false,
        "properties": {
            "customer_id": {"type": "string", "description": "echoed back; with `raw`, the customer whose rows they are; alone (with `--follow`), the customer to score from the state"},
            "features": {
                "type": "object",
                "description": "every feature the run's models read (see a 400's message for the list), by name: a number, or text for a categorical feature (a value unseen in training is the level `other`), or null when not known (imputed as in training; the level `missing` for a categorical feature)",
                "additionalProperties": {"type": ["number", "string", "null"]}
            },
            "raw": {
                "type": "object",
                "description": "the customer's rows per source of the run that has the key column (the demo: customers, transactions, events, case_outcomes), with the source's columns; the run's feature SQL computes the features",
                "additionalProperties": {"type": "array", "items": {"type": "object"}}
            },
            "as_of": {"type": "string", "description": "with `raw` or a customer id alone: the point in time the features describe (RFC 3339 or a date; alone, not before the run's as_of); now by default"}
        }
    });
    json!({
        "Error": {"type": "object", "properties": {"error": {"type": "string"}, "field": {"type": "string"}}},
        "ScoreRequest": score_request,
        "Score": {
            "type": "object",
            "properties": {
                "customer_id": {"type": "string"},
                "segment_id": {"type": "integer"},
                "segment_label": {"type": "string"},
                "distance": {"type": "number"},
                "risk_score": {"type": "number", "description": "calibrated probability (runs with a [risk] section)"},
                "risk_band": {"type": "string"},
                "reasons": {"type": "array", "items": {"type": "object", "properties": {
                    "feature": {"type": "string"}, "value": {"type": ["number", "null"]}, "contribution": {"type": "number"}}}},
                "model_version": {"type": "integer"},
                "run_id": {"type": "string"}
            }
        },
        "Feedback": {
            "oneOf": [
                {"type": "object", "required": ["type", "customer_id", "survey", "score"], "additionalProperties": false, "properties": {
                    "type": {"const": "survey"}, "customer_id": {"type": "string"},
                    "survey": {"enum": ["nps", "csat"]}, "score": {"type": "integer", "description": "nps 0-10, csat 1-5"},
                    "topic": {"type": "string", "description": "`compliance_contact` for a response about a compliance contact"},
                    "comment": {"type": "string"}, "time": {"type": "string", "format": "date-time"}}},
                {"type": "object", "required": ["type", "customer_id", "outcome"], "additionalProperties": false, "properties": {
                    "type": {"const": "disposition"}, "customer_id": {"type": "string"}, "alert_id": {"type": "string"}, "case_id": {"type": "string"},
                    "outcome": {"enum": ["sar_filed", "true_positive", "false_positive", "no_action"]},
                    "comment": {"type": "string"}, "time": {"type": "string", "format": "date-time"}}}
            ]
        }
    })
}

/// Every route with its parameters and responses.
fn paths() -> Value {
    let error = json!({"$ref": "#/components/schemas/Error"});
    let bad = json!({"description": "invalid request; `field` names the JSON field", "content": {"application/json": {"schema": error}}});
    let unauthorized = json!({"description": "missing or wrong bearer token"});
    let too_large = json!({"description": "body over the size limit"});
    json!({
        "/v1/score": {"post": {
            "summary": "Score one customer from feature values",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ScoreRequest"}}}},
            "responses": {"200": {"description": "the score", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Score"}}}},
                          "400": bad, "401": unauthorized, "413": too_large}
        }},
        "/v1/score/batch": {"post": {
            "summary": "Score up to 10,000 customers",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["customers"], "properties": {
                "customers": {"type": "array", "maxItems": 10000, "items": {"$ref": "#/components/schemas/ScoreRequest"}}}}}}},
            "responses": {"200": {"description": "scores in request order", "content": {"application/json": {"schema": {"type": "object", "properties": {
                "scores": {"type": "array", "items": {"$ref": "#/components/schemas/Score"}}}}}}},
                          "400": bad, "401": unauthorized, "413": too_large}
        }},
        "/v1/customers/{id}/segment": {"get": {
            "summary": "The published assignment in force at a time",
            "parameters": [
                {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                {"name": "as_of", "in": "query", "required": false, "description": "RFC 3339 time or a date (end of that day, UTC); now when absent", "schema": {"type": "string"}}
            ],
            "responses": {"200": {"description": "the run in force and the customer's `segments` row"}, "400": bad, "401": unauthorized,
                          "404": {"description": "no segmentation in force then, or the customer is not in it"}}
        }},
        "/v1/feedback": {"post": {
            "summary": "A survey response or an analyst disposition; acknowledged once durable",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Feedback"}}}},
            "responses": {"202": {"description": "durable: `{feedback_id, durable: true}`"}, "400": bad, "401": unauthorized, "413": too_large,
                          "503": {"description": "the write-ahead log could not be written; not stored"}}
        }},
        "/v1/feedback/webhook": {"post": {
            "summary": "A survey platform's response webhook (event_data.score, survey_type, comment, created_at, person_properties.customer_id / topic)",
            "responses": {"202": {"description": "durable"}, "400": bad, "401": unauthorized, "413": too_large}
        }},
        "/healthz": {"get": {"summary": "Liveness, the run in use and feedback waiting to be committed (no token needed)", "security": [],
                             "responses": {"200": {"description": "ok"}}}},
        "/report/{run_id}": {"get": {
            "summary": "The run's report: one self-contained HTML page, as `seglake report` writes it",
            "parameters": [{"name": "run_id", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "text/html", "content": {"text/html": {"schema": {"type": "string"}}}},
                          "401": unauthorized, "404": {"description": "no such run in the lake"}}
        }},
        "/metrics": {"get": {"summary": "Prometheus text format", "responses": {"200": {"description": "metrics"}, "401": unauthorized}}},
        "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}, "401": unauthorized}}}
    })
}
