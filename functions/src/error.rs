//! The one place errors become HTTP: 4xx bodies are JSON naming the problem; 5xx bodies are
//! opaque and their cause goes to the log.

use axum::Json;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use shopsense::registry::{TrainingFailure, VersionRecord, VersionStatus};
use shopsense::store::StoreError;

/// What to do when no version of a kind is live, given its versions newest first: train one,
/// or, when the newest was rejected by its gate, what the gate said and how to serve it anyway.
#[must_use]
pub fn no_model_advice(versions: &[VersionRecord], failure: Option<&TrainingFailure>) -> String {
    match versions.first() {
        // Never trained: what stopped the last try says what to do (more history, say).
        None if let Some(failure) = failure => format!(
            "its last training, at {}, failed: {}; the nightly retrain tries again (`shopsense train` now)",
            failure.failed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            failure.error
        ),
        // Taken out of serving (its sales were withdrawn): the reason says what brings one back.
        Some(newest) if newest.status == VersionStatus::Retired => format!(
            "its last live version {} is {}",
            newest.version,
            newest.reason.as_deref().unwrap_or("retired")
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
