//! `GET /api/health`: liveness plus what this instance runs on, for operators and smoke tests;
//! `?check=stores` also reads from each store and answers 503 when one fails.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use shopsense::registry::REGISTRY_CONTAINER;
use shopsense::settings::Backend;
use shopsense::store::StoresProbe;
use shopsense::tables::SILVER_CONTAINER;

use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::functions::registry;
use crate::state::AppState;

/// How long each store has to answer a probe. A monitor's own timeout is usually 30 s or more,
/// and a store slower than this is not serving requests well either.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(5);

/// How long a probe's answer is reused. The route takes no key, so without this anyone could
/// turn requests into store traffic; callers within the window share one probe.
pub const PROBE_REUSE: Duration = Duration::from_secs(10);

/// The last probe and when it finished. The lock is held across a probe, so concurrent callers
/// wait for one probe instead of each making their own.
#[derive(Debug, Default)]
pub struct ProbeCache(tokio::sync::Mutex<Option<(Instant, StoresProbe)>>);

impl ProbeCache {
    async fn probe(&self, state: &AppState) -> (StoresProbe, Duration) {
        let mut last = self.0.lock().await;
        if let Some((at, probe)) = last.as_ref()
            && at.elapsed() < PROBE_REUSE
        {
            return (probe.clone(), at.elapsed());
        }
        let probe = state.stores.probe(SILVER_CONTAINER, REGISTRY_CONTAINER, PROBE_DEADLINE).await;
        *last = Some((Instant::now(), probe.clone()));
        (probe, Duration::ZERO)
    }
}

/// The function's routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/health", get(health))
}

async fn health(
    State(state): State<AppState>,
    params: QueryParams,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    // Other parameters are let through: monitors add cache-busters (`?_=1732`) to a health URL.
    let check_stores = match params.get("check") {
        None => false,
        Some("stores") => true,
        Some(other) => {
            return Err(ApiError::BadRequest {
                message: format!("check must be \"stores\" (or left out for liveness only), got {other:?}"),
            });
        }
    };
    let backend = match &state.settings.backend {
        Backend::Local => "local",
        Backend::Azure { .. } => "azure",
    };
    let functions: Vec<&str> = registry().iter().map(|f| f.name).collect();
    let mut body = json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "backend": backend,
        "functions": functions,
    });
    if !check_stores {
        return Ok((StatusCode::OK, Json(body)));
    }
    let (probe, age) = state.store_probe.probe(&state).await;
    let status = if probe.ok() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    body["status"] = json!(if probe.ok() { "ok" } else { "degraded" });
    body["stores"] = json!(probe);
    body["checked_seconds_ago"] = json!(age.as_secs());
    Ok((status, Json(body)))
}
