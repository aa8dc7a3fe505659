//! `GET /api/health`: liveness plus what this instance runs on, for operators and smoke tests.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use shopsense::settings::Backend;

use crate::functions::registry;
use crate::state::AppState;

/// The function's routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/health", get(health))
}

async fn health(State(state): State<AppState>) -> Json<Value> {
    let backend = match &state.settings.backend {
        Backend::Local => "local",
        Backend::Azure { .. } => "azure",
    };
    let functions: Vec<&str> = registry().iter().map(|f| f.name).collect();
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "backend": backend,
        "functions": functions,
    }))
}
