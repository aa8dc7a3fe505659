//! The one place errors become HTTP: 4xx bodies are JSON naming the problem; 5xx bodies are
//! opaque and their cause goes to the log.

use axum::Json;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use shopsense::registry::{RetiredBy, TrainingFailure, VersionRecord, VersionStatus};
use shopsense::store::StoreError;

/// What to do when no version of a kind is live, given its versions newest first: train one,
/// or, when the newest was rejected by its gate, what the gate said and how to serve it anyway.
#[must_use]
pub fn no_model_advice(versions: &[VersionRecord], failure: Option<&TrainingFailure>) -> String {
    // Taken out of serving (its sales were withdrawn), and nothing trained since: its reason says
    // what is left (no sales, so every version kept was trained on the withdrawn ones; or a
    // version of the sales that count, rejected, which it names with how to serve it anyway).
    if let Some(taken) =
        versions.iter().filter(|r| r.retired_by == Some(RetiredBy::TakenOut)).max_by_key(|r| r.updated_at)
        && versions.first().is_some_and(|newest| newest.created_at <= taken.updated_at)
    {
        return format!(
            "its last live version {} is {}",
            taken.version,
            taken.reason.as_deref().unwrap_or("retired: nothing is left to train it on")
        );
    }
    match versions.first() {
        // Never trained: what stopped the last try says what to do (more history, say).
        None if let Some(failure) = failure => format!(
            "its last training, at {}, failed: {}; the nightly retrain tries again (`shopsense train` now)",
            failure.failed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            failure.error
        ),
        // Interrupted or failed to publish: not a verdict on the model (the reason says what to do).
        Some(newest)
            if newest.status == VersionStatus::Rejected && newest.gate.as_ref().is_none_or(|g| g.passed) =>
        {
            format!(
                "its newest version {} did not go live ({}); the next retrain tries again",
                newest.version,
                newest.reason.as_deref().unwrap_or("no reason recorded")
            )
        }
        Some(newest) if newest.status == VersionStatus::Rejected => format!(
            "its newest version {} was rejected ({}); fix the data and retrain, or `shopsense models promote {}` \
             serves it anyway",
            newest.version,
            newest.reason.as_deref().unwrap_or("no reason recorded"),
            newest.version
        ),
        Some(newest) if newest.status == VersionStatus::Candidate => format!(
            "version {} is being trained or published (or its run stopped: the next retrain says so); try again \
             in a few minutes",
            newest.version
        ),
        _ => "ingest transactions and run `shopsense train` (or wait for the nightly retrain)".to_owned(),
    }
}

/// Every error a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The host's invoke payload is not what the protocol says.
    #[error("invalid invoke payload: {message}")]
    InvalidInvokePayload {
        /// What is wrong, naming the field.
        message: String,
    },
    /// A request parameter or body is invalid.
    #[error("invalid request: {message}")]
    BadRequest {
        /// What is wrong, naming the parameter.
        message: String,
    },
    /// The body is in an encoding the route does not read (a form where JSON is taken).
    #[error("unsupported media type: {message}")]
    UnsupportedMediaType {
        /// What was sent and what to send.
        message: String,
    },
    /// The path matches no route.
    #[error("no route for {method} {path}")]
    RouteNotFound {
        /// The method.
        method: String,
        /// The path.
        path: String,
    },
    /// The thing asked for does not exist.
    #[error("{what} was not found")]
    NotFound {
        /// What was asked for.
        what: String,
    },
    /// No version of the model that answers this is live yet.
    #[error("no {kind} model is live yet: {advice}")]
    NoModel {
        /// The model kind.
        kind: shopsense::registry::ModelKind,
        /// What to do about it ([`no_model_advice`]).
        advice: String,
    },
    /// A request outlasted its deadline ([`crate::deadline`]).
    #[error("{path} took longer than {} s: a store is slow or unreachable; try again", after.as_secs_f64())]
    TimedOut {
        /// The request's path.
        path: String,
        /// The deadline.
        after: std::time::Duration,
    },
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something that is our fault, described for the log.
    #[error("{message}")]
    Internal {
        /// What went wrong.
        message: String,
    },
}

impl From<shopsense::serving::ReaderError> for ApiError {
    fn from(e: shopsense::serving::ReaderError) -> Self {
        match e {
            shopsense::serving::ReaderError::Store(store) => Self::Store(store),
            other => Self::Internal { message: other.to_string() },
        }
    }
}

impl ApiError {
    /// The status and machine-readable code of this error.
    #[must_use]
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::InvalidInvokePayload { .. } => (StatusCode::BAD_REQUEST, "invalid_invoke_payload"),
            Self::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::UnsupportedMediaType { .. } => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::RouteNotFound { .. } => (StatusCode::NOT_FOUND, "route_not_found"),
            Self::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            Self::NoModel { .. } => (StatusCode::SERVICE_UNAVAILABLE, "no_model"),
            Self::TimedOut { .. } => (StatusCode::SERVICE_UNAVAILABLE, "timed_out"),
            Self::Internal { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            Self::Store(StoreError::Invalid { .. }) => (StatusCode::BAD_REQUEST, "invalid"),
            Self::Store(StoreError::NotFound { .. }) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Store(StoreError::AlreadyExists { .. } | StoreError::Precondition { .. }) => {
                (StatusCode::CONFLICT, "conflict")
            }
            Self::Store(StoreError::Backend { transient: true, .. }) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            Self::Store(StoreError::Backend { .. } | StoreError::Config(_)) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message =
            if status.is_server_error() && !matches!(self, Self::NoModel { .. } | Self::TimedOut { .. }) {
                tracing::error!(error = %self, source = ?std::error::Error::source(&self), "request failed");
                "the server could not complete the request; the cause is in the server log".to_owned()
            } else {
                self.to_string()
            };
        let mut response = (status, Json(json!({ "error": code, "message": message }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // A slow store may answer the next try; a model comes with a retrain, minutes away
            // at best (one being published) and hours at worst.
            let after = if matches!(self, Self::NoModel { .. }) { "60" } else { "5" };
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static(after));
        }
        response
    }
}

/// The edge's last word on 4xx bodies: a client error that axum or a layer answered itself (a
/// method the route does not take, a body over the size limit) gets the same JSON shape as
/// [`ApiError`], naming the method and path; the `Allow` header stays.
pub async fn json_client_errors(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let response = next.run(request).await;
    let status = response.status();
    let is_json =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
            let media = v.split(';').next().unwrap_or("").trim();
            media == "application/json" || media.ends_with("+json")
        });
    if !status.is_client_error() || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let said = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = parts.headers.get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or("");
            ("method_not_allowed", format!("{path} does not take {method}; allowed: {allowed}"))
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("payload_too_large", format!("the body of {method} {path} is too large: {said}"))
        }
        _ => {
            let code = match status {
                StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
                StatusCode::REQUEST_TIMEOUT => "request_timeout",
                StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
                StatusCode::BAD_REQUEST => "bad_request",
                _ => "client_error",
            };
            let reason = status.canonical_reason().unwrap_or("client error");
            (code, if said.is_empty() { reason.to_owned() } else { said })
        }
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let body = Json(json!({ "error": code, "message": message }));
    (parts, body).into_response()
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};
    use shopsense::registry::{ModelKind, RetiredBy, VersionRecord, VersionStatus};

    use super::no_model_advice;

    fn version(id: &str, status: VersionStatus, minutes_ago: i64) -> VersionRecord {
        let at = Utc::now() - Duration::minutes(minutes_ago);
        VersionRecord {
            kind: ModelKind::Forecast,
            version: id.to_owned(),
            status,
            created_at: at,
            updated_at: at,
            metrics: serde_json::Value::Null,
            gate: None,
            reason: None,
            published: true,
            documents: 1,
            drift: None,
            metric_trend: Vec::new(),
            retired_by: None,
        }
    }

    /// v1 live, v2 rejected by its gate, then every sale withdrawn and v1 taken out: both were
    /// trained on those sales, so the advice names v1's reason and never "promote v2".
    #[test]
    fn a_kind_taken_out_is_advised_by_the_version_taken_out_not_the_newest() {
        let mut taken = version("v1", VersionStatus::Retired, 60);
        taken.retired_by = Some(RetiredBy::TakenOut);
        taken.reason = Some("retired: no sales remain (the uploads it was trained on were withdrawn)".into());
        taken.updated_at = Utc::now();
        let mut rejected = version("v2", VersionStatus::Rejected, 30);
        rejected.gate =
            Some(serde_json::from_value(serde_json::json!({"passed": false, "checks": []})).unwrap());
        rejected.reason = Some("gate failed".into());
        let said = no_model_advice(&[rejected.clone(), taken.clone()], None);
        assert_eq!(
            said,
            "its last live version v1 is retired: no sales remain (the uploads it was trained on were withdrawn)"
        );
        // A version trained after the take-out is on current sales: its own advice stands.
        rejected.created_at = Utc::now() + Duration::minutes(1);
        let said = no_model_advice(&[rejected, taken], None);
        assert!(said.starts_with("its newest version v2 was rejected (gate failed)"), "{said}");
        // A version retired otherwise, with nothing live, is not a take-out.
        let mut replaced = version("v3", VersionStatus::Retired, 10);
        replaced.retired_by = Some(RetiredBy::Retrain);
        assert!(!no_model_advice(&[replaced], None).contains("last live version"));
    }
}
