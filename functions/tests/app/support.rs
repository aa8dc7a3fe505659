//! Helpers shared by the handler tests.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use shopsense::settings::Settings;
use shopsense_functions::app::app;
use shopsense_functions::state::AppState;
use tower::ServiceExt;

/// An app on the local backends in a fresh temporary home (kept alive by the returned guard).
pub async fn local_app() -> (tempfile::TempDir, AppState, Router) {
    let home = tempfile::tempdir().unwrap();
    let values = [("SHOPSENSE_HOME".to_owned(), home.path().display().to_string())].into();
    let state = AppState::open(Settings::from_values(values, None).unwrap()).await.unwrap();
    let router = app(state.clone());
    (home, state, router)
}

/// Sends one request through the router and returns the status and the JSON body (or the
/// body as a JSON string when it is not JSON).
pub async fn send(router: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, body)
}

/// A POST with a raw body, as the host sends invocations.
pub fn post(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path).header("content-type", "application/json").body(body.into()).unwrap()
}

/// A GET.
pub fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

/// The crate's folder.
pub fn crate_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// A recorded host payload from `tests/fixtures/`.
pub fn fixture(name: &str) -> Value {
    let path = crate_dir().join("tests/fixtures").join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}
