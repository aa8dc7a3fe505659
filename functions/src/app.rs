//! `app(state) -> Router`: the one application that production, the local runner and tests
//! all drive.

use axum::Router;
use axum::http::{Method, Uri};
use axum::routing::get;
use tower::Layer;

use crate::deadline::{API_DEADLINE, api_deadline};
use crate::error::{ApiError, json_client_errors};
use crate::functions::registry;
use crate::host;
use crate::state::AppState;

/// The whole application: the host's readiness probe, every registered function's routes
/// (under `/api/` each bounded by [`API_DEADLINE`]), a JSON 404 for anything else, JSON bodies for the 4xx axum answers itself (405, 413), and
/// cache validators on the API's answers ([`crate::caching`]).
pub fn app(state: AppState) -> Router {
    let functions =
        registry().into_iter().fold(Router::new(), |router, function| router.merge((function.router)()));
    let routes = functions.route("/", get(host::readiness)).fallback(route_not_found).with_state(state);
    let routes = routes.layer(axum::middleware::from_fn_with_state(API_DEADLINE, api_deadline));
    // Around the whole router, not `Router::layer` (which wraps each route's handlers): the 405's
    // `Allow` header is only set outside them.
    let tagged = axum::middleware::from_fn(crate::caching::validators).layer(routes);
    let answered = axum::middleware::from_fn(json_client_errors).layer(tagged);
    Router::new().fallback_service(axum::middleware::map_response(no_sniffing).layer(answered))
}

/// Every answer is JSON (or empty): browsers must not sniff it as anything else, such as HTML
/// from a description an upload put in it.
async fn no_sniffing(mut response: axum::response::Response) -> axum::response::Response {
    response
        .headers_mut()
        .insert(axum::http::header::X_CONTENT_TYPE_OPTIONS, axum::http::HeaderValue::from_static("nosniff"));
    response
}

async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::RouteNotFound { method: method.to_string(), path: uri.path().to_owned() }
}
