//! A deadline on every API request: a store that hangs instead of failing (a Cosmos DB client
//! retries a silent endpoint for 40 s, a blob client for 82 s) answers the caller with a JSON 503
//! after [`API_DEADLINE`] instead of holding the request and its connection that long. Trigger
//! invocations (ingest, retrain, alerts) are the host's and keep their own timeout.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// How long an `/api/` request may take.
pub const API_DEADLINE: Duration = Duration::from_secs(10);

/// The middleware (state: the deadline): bounds requests under `/api/`.
pub async fn api_deadline(State(deadline): State<Duration>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let path = request.uri().path().to_owned();
    match tokio::time::timeout(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::TimedOut { path, after: deadline }.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::{get, post};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_millis(500)).await;
        "late"
    }

    fn app() -> Router {
        Router::new()
            .route("/api/slow", get(slow))
            .route("/retrain", post(slow))
            .layer(axum::middleware::from_fn_with_state(Duration::from_millis(20), api_deadline))
    }

    #[tokio::test]
    async fn an_api_request_past_its_deadline_gets_a_json_503_and_an_invocation_is_left_alone() {
        let answer = app().oneshot(Request::get("/api/slow").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.headers()["retry-after"], "5");
        let body: serde_json::Value =
            serde_json::from_slice(&answer.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert_eq!(body["error"], "timed_out");
        assert_eq!(
            body["message"],
            "/api/slow took longer than 0.02 s: a store is slow or unreachable; try again"
        );

        let invocation = app().oneshot(Request::post("/retrain").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(invocation.status(), StatusCode::OK, "the host's invocations keep the host's timeout");
    }
}
