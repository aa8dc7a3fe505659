//! `app(state) -> Router`: the one application that production, the local runner and tests
//! all drive.

use axum::Router;
use axum::http::{Method, Uri};
use axum::routing::get;

use crate::error::ApiError;
use crate::functions::registry;
use crate::host;
use crate::state::AppState;

/// The whole application: the host's readiness probe, every registered function's routes,
/// and a JSON 404 for anything else.
pub fn app(state: AppState) -> Router {
    let functions =
        registry().into_iter().fold(Router::new(), |router, function| router.merge((function.router)()));
    functions.route("/", get(host::readiness)).fallback(route_not_found).with_state(state)
}

async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::RouteNotFound { method: method.to_string(), path: uri.path().to_owned() }
}
